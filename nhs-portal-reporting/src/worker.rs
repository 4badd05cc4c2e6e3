//! The outbox worker: moves reporting events from the store's [`Outbox`] to a [`ReportingSink`].
//!
//! One pass ([`OutboxWorker::run_once`]):
//! 1. claim up to `batch_size` due events with a lease (other workers, also in other portal
//!    instances, skip them until the lease runs out);
//! 2. map each to its Wayfinder event; one that cannot be mapped (an id over 100 characters) is
//!    quarantined at once, since no retry can fix it;
//! 3. split the rest into batches of at most 2 MB of JSON (WF-NFR-MI-05) and deliver each;
//! 4. act on the answer:
//!    - delivered → mark delivered;
//!    - refused (400) naming an index → quarantine that one event and send the rest again as a
//!      new request (repeated until the rest is accepted or nothing is left);
//!    - refused without an index → quarantine the whole batch;
//!    - too large for the sink → halve the batch and try the halves;
//!    - anything retryable (401, 429, 5xx, timeout, connection) → release this batch *and every
//!      batch not yet tried in this pass* with a `retry_at` from exponential back-off on the
//!      event's attempt count (30 s doubling, capped at 30 minutes so that a recovered service
//!      gets everything well within WF-NFR-MI-04's 12 hours); a 429's `Retry-After` is honoured
//!      when longer. The pass then stops: there is no point hammering a service that is down.
//!
//! **Decision (spec silent):** the spec says "do not retry" a request refused with 400. Sending
//! the *other* events of that request again, without the invalid one, is a different request, and
//! is what "the index of the first error will be returned" invites; the invalid event itself is
//! never resent.
//!
//! Logs carry counts, event codes and error kinds only, never event content (NHS numbers live in
//! `SESSION` and `APPT` events).

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::{Outbox, OutboxStats, StoreError};

use crate::sink::{DeliveryError, ReportingSink};
use crate::wayfinder::MAX_BATCH_BYTES;
use crate::wire::{WayfinderEvent, split_by_size};

/// Why a worker pass stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The store failed; leased events become due again when their lease runs out.
    #[error("the outbox store failed")]
    Store(#[from] StoreError),
}

/// Settings for [`OutboxWorker`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutboxWorkerConfig {
    /// This worker's name in the claims (unique per process).
    pub worker_id: String,
    /// Events claimed per pass.
    pub batch_size: usize,
    /// How long claimed events stay ours. Must exceed a pass's longest run: two 20 s attempts
    /// per batch, several batches.
    pub lease: chrono::Duration,
    /// Largest batch in bytes of JSON (also capped by the sink's own limit).
    pub max_batch_bytes: usize,
    /// First retry delay.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Add random jitter to retry delays (off in tests that check exact times).
    pub jitter: bool,
    /// How long [`OutboxWorker::run`] sleeps when the outbox has nothing due.
    pub idle_poll: Duration,
}

impl Default for OutboxWorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("reporting-{}", uuid::Uuid::new_v4()),
            batch_size: 500,
            lease: chrono::Duration::minutes(5),
            max_batch_bytes: MAX_BATCH_BYTES,
            retry_min: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            jitter: true,
            idle_poll: Duration::from_secs(5),
        }
    }
}

/// What one pass did (or, from [`OutboxWorker::stats`], all passes so far).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events claimed.
    pub claimed: u64,
    /// Events delivered.
    pub delivered: u64,
    /// Events quarantined (refused, or not mappable).
    pub quarantined: u64,
    /// Events released for a later retry.
    pub deferred: u64,
    /// Requests made to the sink.
    pub requests: u64,
}

impl RunStats {
    fn add(&mut self, other: &RunStats) {
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.quarantined += other.quarantined;
        self.deferred += other.deferred;
        self.requests += other.requests;
    }
}

struct Pending {
    id: i64,
    attempts: u32,
    event: WayfinderEvent,
}

/// Delivers the outbox to a sink. See the module docs.
pub struct OutboxWorker {
    outbox: Arc<dyn Outbox>,
    sink: Arc<dyn ReportingSink>,
    clock: Arc<dyn Clock>,
    config: OutboxWorkerConfig,
    totals: Mutex<RunStats>,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("sink", &self.sink)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker over `outbox`, delivering to `sink`.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sink: Arc<dyn ReportingSink>,
        clock: Arc<dyn Clock>,
        config: OutboxWorkerConfig,
    ) -> Self {
        Self {
            outbox,
            sink,
            clock,
            config,
            totals: Mutex::new(RunStats::default()),
        }
    }

    /// Totals over every pass of this worker.
    pub fn stats(&self) -> RunStats {
        *self.totals.lock().expect("stats lock")
    }

    /// The outbox's own counts (pending, delivered, quarantined), for health checks.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, WorkerError> {
        Ok(self.outbox.outbox_stats().await?)
    }

    /// Delivered / total and the oldest undelivered event's age, now, for metrics.
    pub async fn delivery_ratio(&self) -> Result<crate::DeliveryRatio, WorkerError> {
        Ok(crate::DeliveryRatio::read(self.outbox.as_ref(), self.clock.now()).await?)
    }

    /// The retry delay after `attempts` attempts: `retry_min` doubling, capped at `retry_max`.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.config.retry_min)
            .with_max_delay(self.config.retry_max)
            .with_factor(2.0)
            .without_max_times();
        if self.config.jitter {
            builder = builder.with_jitter();
        }
        builder
            .build()
            .nth(attempts.saturating_sub(1) as usize)
            .unwrap_or(self.config.retry_max)
    }

    /// One pass: claim, deliver, record the outcome. See the module docs.
    pub async fn run_once(&self) -> Result<RunStats, WorkerError> {
        let now = self.clock.now();
        let items = self
            .outbox
            .claim_events(
                &self.config.worker_id,
                self.config.batch_size,
                now,
                self.config.lease,
            )
            .await?;
        let mut stats = RunStats {
            claimed: items.len() as u64,
            ..RunStats::default()
        };
        let mut ready = Vec::with_capacity(items.len());
        for item in items {
            match WayfinderEvent::from_domain(&item.event) {
                Ok(event) => ready.push(Pending {
                    id: item.id,
                    attempts: item.attempts,
                    event,
                }),
                Err(e) => {
                    tracing::warn!(
                        event_code = item.event.event_code(),
                        error = %e,
                        "reporting event cannot be sent; quarantined"
                    );
                    self.outbox
                        .quarantine(&[item.id], &format!("not sendable: {e}"))
                        .await?;
                    stats.quarantined += 1;
                }
            }
        }

        let max = self.config.max_batch_bytes.min(self.sink.max_batch_bytes());
        let sizes: Vec<usize> = ready.iter().map(|p| p.event.json_len()).collect();
        let mut queue: VecDeque<Vec<Pending>> = VecDeque::new();
        let mut rest = ready.into_iter();
        for range in split_by_size(&sizes, max) {
            queue.push_back(rest.by_ref().take(range.len()).collect());
        }

        while let Some(mut batch) = queue.pop_front() {
            if batch.is_empty() {
                continue;
            }
            let events: Vec<WayfinderEvent> = batch.iter().map(|p| p.event.clone()).collect();
            stats.requests += 1;
            match self.sink.deliver(&events).await {
                Ok(()) => {
                    let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
                    self.outbox.mark_delivered(&ids).await?;
                    stats.delivered += ids.len() as u64;
                }
                Err(DeliveryError::Rejected {
                    index: Some(i),
                    message,
                }) if i < batch.len() => {
                    let bad = batch.remove(i);
                    tracing::warn!(
                        event_code = bad.event.event_code(),
                        index = i,
                        batch = events.len(),
                        "reporting event refused as invalid; quarantined, sending the rest again"
                    );
                    self.outbox
                        .quarantine(&[bad.id], &format!("refused: {message}"))
                        .await?;
                    stats.quarantined += 1;
                    queue.push_front(batch);
                }
                Err(DeliveryError::Rejected { message, .. }) => {
                    tracing::warn!(
                        batch = events.len(),
                        "reporting batch refused as invalid; quarantined"
                    );
                    let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
                    self.outbox
                        .quarantine(&ids, &format!("refused: {message}"))
                        .await?;
                    stats.quarantined += ids.len() as u64;
                }
                Err(e @ DeliveryError::TooLarge { .. }) => {
                    if batch.len() == 1 {
                        tracing::warn!(error = %e, "single reporting event too large; quarantined");
                        self.outbox
                            .quarantine(&[batch[0].id], &e.to_string())
                            .await?;
                        stats.quarantined += 1;
                    } else {
                        let second = batch.split_off(batch.len() / 2);
                        queue.push_front(second);
                        queue.push_front(batch);
                    }
                }
                Err(e) => {
                    let retry_after = match &e {
                        DeliveryError::RateLimited { retry_after } => *retry_after,
                        _ => None,
                    };
                    let mut all: Vec<Pending> = batch;
                    all.extend(queue.drain(..).flatten());
                    tracing::warn!(
                        error = e.kind(),
                        deferred = all.len(),
                        "reporting delivery failed; will retry"
                    );
                    stats.deferred += all.len() as u64;
                    self.defer(&all, now, retry_after, e.kind()).await?;
                }
            }
        }

        if stats.claimed > 0 {
            tracing::info!(
                claimed = stats.claimed,
                delivered = stats.delivered,
                quarantined = stats.quarantined,
                deferred = stats.deferred,
                requests = stats.requests,
                "reporting outbox pass"
            );
        }
        self.totals.lock().expect("stats lock").add(&stats);
        Ok(stats)
    }

    async fn defer(
        &self,
        items: &[Pending],
        now: DateTime<Utc>,
        at_least: Option<Duration>,
        reason: &str,
    ) -> Result<(), WorkerError> {
        let mut groups: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        for p in items {
            let mut delay = self.retry_delay(p.attempts);
            if let Some(min) = at_least {
                delay = delay.max(min);
            }
            let at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            groups.entry(at).or_default().push(p.id);
        }
        for (at, ids) in groups {
            self.outbox.mark_failed(&ids, reason, at).await?;
        }
        Ok(())
    }

    /// Runs passes until `shutdown` completes: straight on while full batches keep coming, else
    /// sleeping `idle_poll` between passes. A store error is logged and retried after
    /// `idle_poll`. Shutdown during a pass lets that pass finish (the events it claimed are
    /// delivered or marked failed, none left claimed), then returns; during a pause it returns
    /// at once. A caller that cannot wait drops the future: the claimed events then become due
    /// again when their lease runs out (delivery is idempotent, so a batch that did arrive is
    /// harmless to send again).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        crate::passes::run_passes(
            shutdown,
            || self.run_once(),
            |result| match result {
                Ok(s) if s.claimed as usize >= self.config.batch_size && s.deferred == 0 => None,
                Ok(_) => Some(self.config.idle_poll),
                Err(e) => {
                    tracing::warn!(error = %e, "reporting outbox pass failed");
                    Some(self.config.idle_poll)
                }
            },
        )
        .await
    }
}
