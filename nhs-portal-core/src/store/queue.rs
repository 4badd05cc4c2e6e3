//! The two leased queues: the reporting outbox and the Record Service queue.
//!
//! Both are the same kind of queue (claim with a lease, mark done, mark failed with a retry
//! time, set aside); every store implements them with one leased-queue implementation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::{NhsNumber, ReportingEvent};

/// A reporting event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The outbox row id.
    pub id: i64,
    /// The event.
    pub event: ReportingEvent,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// Outbox counts, for metrics and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Waiting to be delivered (including ones being retried).
    pub pending: u64,
    /// Delivered.
    pub delivered: u64,
    /// Set aside after a permanent refusal (a 400 from Wayfinder), for investigation.
    pub quarantined: u64,
}

/// Reporting events awaiting delivery.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds events that go with no audit record (tests, back-fills). Events of an audited
    /// action go with their audit record through [`AuditLog::record`] (or the request and
    /// idempotency calls), in one transaction.
    ///
    /// [`AuditLog::record`]: super::AuditLog::record
    async fn enqueue_events(&self, events: &[ReportingEvent]) -> Result<(), StoreError>;
    /// Claims up to `limit` due events for `worker` until `now + lease`, oldest first: no other
    /// worker gets them until the lease runs out, also across portal instances. Each claim counts
    /// as one delivery attempt in [`OutboxItem::attempts`].
    async fn claim_events(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError>;
    /// Marks events delivered. Ids that are unknown, delivered or quarantined are left alone.
    async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Releases events after a failed attempt, to be retried from `retry_at`. Only events still
    /// waiting are changed.
    async fn mark_failed(
        &self,
        ids: &[i64],
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Sets events aside for good (a permanent refusal), with the reason. Only events still
    /// waiting are changed.
    async fn quarantine(&self, ids: &[i64], reason: &str) -> Result<(), StoreError>;
    /// Counts.
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
    /// When the oldest event still waiting happened (its own time, not when it was queued):
    /// the delivery lag to hold within WF-NFR-MI-04's twelve hours. `None` when none waits.
    async fn oldest_waiting_event_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Stored events in any state (waiting, delivered or set aside) that happened in
    /// `[from, to)`, with their row ids, in id order after `after_id`, at most `limit`: one page
    /// of a month's events for the monthly report (start with `after_id` 0, then the last id).
    async fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ReportingEvent)>, StoreError>;
}

/// An NHS number waiting to be sent to the PCA Record Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordItem {
    /// The queue row id.
    pub id: i64,
    /// The patient.
    pub patient: NhsNumber,
}

/// The Record Service queue: NHS numbers the PCA must learn we hold appointments for.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RecordQueue: Send + Sync {
    /// Queues an NHS number; one already waiting is not queued twice.
    async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError>;
    /// Claims up to `limit` due numbers for `worker` until `now + lease`, oldest first: no other
    /// worker gets them until the lease runs out, also across portal instances.
    async fn claim_records(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<RecordItem>, StoreError>;
    /// Marks numbers sent. Only numbers still waiting are changed.
    async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Releases numbers after a failed send, to be retried from `retry_at`. Only numbers still
    /// waiting are changed.
    async fn mark_records_failed(
        &self,
        ids: &[i64],
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// How many distinct NHS numbers have been sent (for reconciliation with the PCA).
    async fn sent_record_count(&self) -> Result<u64, StoreError>;
}
