//! [`RecordSender`]: drains the store's record queue into the Record Service. See the
//! [module docs](super).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::{RecordQueue, StoreError};

use super::{Eligibility, PatientEligibility, RecordServiceClient, RecordServiceError};

/// Settings for [`RecordSender`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordSenderConfig {
    /// This sender's name in claims.
    pub worker_id: String,
    /// How long claimed numbers stay ours; must exceed a send with its retries.
    pub lease: chrono::Duration,
    /// First delay before a failed batch is tried again.
    pub retry_min: Duration,
    /// Longest such delay (also the hold-back for numbers a 400 names).
    pub retry_max: Duration,
    /// When to look again at a restricted patient.
    pub restricted_recheck: chrono::Duration,
    /// When to look again at a patient with no known date of birth.
    pub unknown_recheck: chrono::Duration,
}

impl Default for RecordSenderConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("records-{}", uuid::Uuid::new_v4()),
            lease: chrono::Duration::minutes(10),
            retry_min: Duration::from_secs(60),
            retry_max: Duration::from_secs(60 * 60),
            restricted_recheck: chrono::Duration::days(30),
            unknown_recheck: chrono::Duration::days(1),
        }
    }
}

/// Why a sender pass stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordSenderError {
    /// The store failed.
    #[error("the record queue store failed")]
    Store(#[from] StoreError),
}

/// What a pass did (or, from [`RecordSender::stats`], all passes so far).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Queue rows claimed.
    pub claimed: u64,
    /// Rows marked sent.
    pub sent: u64,
    /// Left out: under 16.
    pub under_16: u64,
    /// Left out: restricted.
    pub restricted: u64,
    /// Left out: unknown patient or age.
    pub unknown: u64,
    /// Released for a retry (send failed, eligibility unavailable, or named in a 400).
    pub deferred: u64,
    /// Requests made (each possibly retried inside the client).
    pub requests: u64,
}

impl RecordStats {
    fn add(&mut self, o: &RecordStats) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.under_16 += o.under_16;
        self.restricted += o.restricted;
        self.unknown += o.unknown;
        self.deferred += o.deferred;
        self.requests += o.requests;
    }
}

/// Drains the store's [`RecordQueue`] into the Record Service. See the module docs.
pub struct RecordSender {
    queue: Arc<dyn RecordQueue>,
    client: RecordServiceClient,
    eligibility: Arc<dyn PatientEligibility>,
    clock: Arc<dyn Clock>,
    config: RecordSenderConfig,
    state: Mutex<(RecordStats, u32)>,
}

impl fmt::Debug for RecordSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSender")
            .field("client", &self.client)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RecordSender {
    /// A sender over `queue`.
    pub fn new(
        queue: Arc<dyn RecordQueue>,
        client: RecordServiceClient,
        eligibility: Arc<dyn PatientEligibility>,
        clock: Arc<dyn Clock>,
        config: RecordSenderConfig,
    ) -> Self {
        Self {
            queue,
            client,
            eligibility,
            clock,
            config,
            state: Mutex::new((RecordStats::default(), 0)),
        }
    }

    /// Totals over every pass.
    pub fn stats(&self) -> RecordStats {
        self.state.lock().expect("stats lock").0
    }

    /// Queues one patient (a new appointment, or a patient turning 16). Already waiting: no-op.
    pub async fn enqueue(&self, patient: &NhsNumber) -> Result<(), RecordSenderError> {
        Ok(self.queue.enqueue_record(patient).await?)
    }

    /// Re-queues every patient the caller knows (WF-NFR-RS-05/06: bulk load, replay), for
    /// example every patient with an appointment in the PAS. Eligibility is checked when each is
    /// sent, so the caller need not filter. Live sends carry on through the same queue. Returns
    /// how many were queued.
    pub async fn resend_all<I>(&self, patients: I) -> Result<u64, RecordSenderError>
    where
        I: IntoIterator<Item = NhsNumber>,
    {
        let mut n = 0;
        for p in patients {
            self.queue.enqueue_record(&p).await?;
            n += 1;
        }
        tracing::info!(queued = n, "record service replay queued");
        Ok(n)
    }

    /// Distinct NHS numbers successfully sent so far, for reconciliation (WF-NFR-RS-06/09).
    pub async fn sent_record_count(&self) -> Result<u64, RecordSenderError> {
        Ok(self.queue.sent_record_count().await?)
    }

    fn failure_delay(&self, consecutive_failures: u32) -> Duration {
        ExponentialBuilder::default()
            .with_min_delay(self.config.retry_min)
            .with_max_delay(self.config.retry_max)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(consecutive_failures.saturating_sub(1) as usize)
            .unwrap_or(self.config.retry_max)
    }

    fn at(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    }

    /// One pass: claim up to a batch, filter, send, record. Returns what it did.
    pub async fn run_once(&self) -> Result<RecordStats, RecordSenderError> {
        let now = self.clock.now();
        let today = nhs_portal_core::uk_time::uk_date(now);
        let max = self.client.config().max_batch;
        let items = self
            .queue
            .claim_records(&self.config.worker_id, max, now, self.config.lease)
            .await?;
        if items.is_empty() {
            return Ok(RecordStats::default());
        }
        let mut stats = RecordStats {
            claimed: items.len() as u64,
            ..Default::default()
        };
        // Distinct numbers in claim order, with every queue row carrying each.
        let mut order: Vec<NhsNumber> = Vec::new();
        let mut rows: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for item in items {
            let ids = rows.entry(item.patient.as_str().to_owned()).or_default();
            if ids.is_empty() {
                order.push(item.patient.clone());
            }
            ids.push(item.id);
        }

        let mut to_send: Vec<NhsNumber> = Vec::new();
        let verdicts = self.eligibility.eligibility_batch(&order, today).await;
        // Numbers held back, grouped by when to look at them again: one store call per time.
        let mut held: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        let mut unavailable = 0usize;
        for (i, patient) in order.into_iter().enumerate() {
            let ids = &rows[patient.as_str()];
            let verdict = verdicts.get(i).map(|v| v.as_ref().map_err(|_| ()));
            let due = match verdict {
                Some(Ok(Eligibility::Eligible)) => {
                    to_send.push(patient);
                    continue;
                }
                Some(Ok(Eligibility::UnderSixteen { turns_16_on })) => {
                    use nhs_portal_core::uk_time::{UkLocal, from_uk_local};
                    stats.under_16 += ids.len() as u64;
                    // UK midnight is never in a clock change gap; fall back to a day's wait.
                    match from_uk_local(turns_16_on.and_time(chrono::NaiveTime::MIN)) {
                        UkLocal::Exact(t) | UkLocal::Ambiguous { earliest: t, .. } => t,
                        _ => now + chrono::Duration::days(1),
                    }
                }
                Some(Ok(Eligibility::Restricted)) => {
                    stats.restricted += ids.len() as u64;
                    now + self.config.restricted_recheck
                }
                Some(Ok(Eligibility::Unknown)) => {
                    stats.unknown += ids.len() as u64;
                    now + self.config.unknown_recheck
                }
                // An error, or an implementation that answered for fewer patients than asked.
                Some(Err(())) | None => {
                    unavailable += 1;
                    stats.deferred += ids.len() as u64;
                    Self::at(now, self.config.retry_min)
                }
            };
            held.entry(due).or_default().extend(ids.iter().copied());
        }
        if unavailable > 0 {
            tracing::warn!(
                patients = unavailable,
                "record eligibility unavailable; will retry"
            );
        }
        for (due, ids) in held {
            self.queue.mark_records_failed(&ids, due).await?;
        }

        let ids_of = |numbers: &[NhsNumber]| -> Vec<i64> {
            numbers
                .iter()
                .flat_map(|n| rows[n.as_str()].iter().copied())
                .collect()
        };
        let mut batch = to_send;
        let mut failed = false;
        // At most two requests: a 400 naming entries holds those back and sends the rest once.
        for round in 0..2 {
            if batch.is_empty() {
                break;
            }
            stats.requests += 1;
            match self.client.send(&batch).await {
                Ok(()) => {
                    let ids = ids_of(&batch);
                    self.queue.mark_records_sent(&ids).await?;
                    stats.sent += ids.len() as u64;
                    batch.clear();
                }
                Err(RecordServiceError::BadRequest { indices, .. })
                    if round == 0
                        && !indices.is_empty()
                        && indices.iter().all(|i| *i < batch.len()) =>
                {
                    tracing::warn!(
                        ?indices,
                        batch = batch.len(),
                        "record service refused entries; holding them back and resending the rest"
                    );
                    let bad: Vec<NhsNumber> = indices.iter().map(|i| batch[*i].clone()).collect();
                    let bad_ids = ids_of(&bad);
                    self.queue
                        .mark_records_failed(&bad_ids, Self::at(now, self.config.retry_max))
                        .await?;
                    stats.deferred += bad_ids.len() as u64;
                    batch = batch
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !indices.contains(i))
                        .map(|(_, n)| n)
                        .collect();
                }
                Err(e) => {
                    failed = true;
                    let consecutive = {
                        let mut s = self.state.lock().expect("stats lock");
                        s.1 += 1;
                        s.1
                    };
                    let ids = ids_of(&batch);
                    tracing::warn!(
                        error = e.kind(),
                        numbers = batch.len(),
                        consecutive_failures = consecutive,
                        "record service send failed; numbers stay queued"
                    );
                    self.queue
                        .mark_records_failed(&ids, Self::at(now, self.failure_delay(consecutive)))
                        .await?;
                    stats.deferred += ids.len() as u64;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            // A second 400 in the same pass: keep them for a later pass.
            let ids = ids_of(&batch);
            self.queue
                .mark_records_failed(&ids, Self::at(now, self.config.retry_min))
                .await?;
            stats.deferred += ids.len() as u64;
        }

        let mut state = self.state.lock().expect("stats lock");
        if !failed && stats.requests > 0 {
            state.1 = 0;
        }
        state.0.add(&stats);
        Ok(stats)
    }

    /// Runs passes until `shutdown` completes, sleeping `idle` when nothing was due.
    ///
    /// A pass under way when `shutdown` completes is finished first (its batch is sent and
    /// marked), so a graceful stop leaves no number claimed; a killed process leaves its claim
    /// leased, to become due again.
    pub async fn run(&self, idle: Duration, shutdown: impl std::future::Future<Output = ()>) {
        crate::passes::run_passes(
            shutdown,
            || self.run_once(),
            |result| match result {
                Ok(s)
                    if s.claimed as usize >= self.client.config().max_batch && s.deferred == 0 =>
                {
                    None
                }
                Ok(_) => Some(idle),
                Err(e) => {
                    tracing::warn!(error = %e, "record sender pass failed");
                    Some(idle)
                }
            },
        )
        .await
    }
}
