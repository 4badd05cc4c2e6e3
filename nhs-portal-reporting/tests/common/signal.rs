//! A MemoryStore that tells the test when its outbox or Record queue marks something done, so
//! a test of a background loop waits on that event instead of polling against a deadline.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::ReportingEvent;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    Outbox, OutboxItem, OutboxStats, RecordItem, RecordQueue, StoreError,
};
use tokio::sync::watch;

/// Counts what was marked delivered (outbox) or sent (Record queue), after the store did it.
pub struct SignallingStore {
    /// The store doing the work.
    pub inner: Arc<MemoryStore>,
    done: watch::Sender<usize>,
}

impl SignallingStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(MemoryStore::new()),
            done: watch::channel(0).0,
        })
    }

    /// Waits until at least `n` items were marked done in all. The minute is only a bound for
    /// a broken build (so it fails rather than hangs), never a condition of passing.
    pub async fn marked_done(&self, n: usize) {
        let mut rx = self.done.subscribe();
        tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|d| *d >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} items were not marked done within a minute"))
            .expect("the store is alive");
    }

    fn count(&self, n: usize) {
        self.done.send_modify(|d| *d += n);
    }
}

#[async_trait]
impl Outbox for SignallingStore {
    async fn enqueue_events(&self, events: &[ReportingEvent]) -> Result<(), StoreError> {
        self.inner.enqueue_events(events).await
    }
    async fn claim_events(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.claim_events(worker, limit, now, lease).await
    }
    async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.inner.mark_delivered(ids).await?;
        self.count(ids.len());
        Ok(())
    }
    async fn mark_failed(
        &self,
        ids: &[i64],
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.mark_failed(ids, error, retry_at).await
    }
    async fn quarantine(&self, ids: &[i64], reason: &str) -> Result<(), StoreError> {
        self.inner.quarantine(ids, reason).await
    }
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.inner.outbox_stats().await
    }
    async fn oldest_waiting_event_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.oldest_waiting_event_at().await
    }
    async fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ReportingEvent)>, StoreError> {
        self.inner.events_between(from, to, after_id, limit).await
    }
}

#[async_trait]
impl RecordQueue for SignallingStore {
    async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError> {
        self.inner.enqueue_record(patient).await
    }
    async fn claim_records(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<RecordItem>, StoreError> {
        self.inner.claim_records(worker, limit, now, lease).await
    }
    async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.inner.mark_records_sent(ids).await?;
        self.count(ids.len());
        Ok(())
    }
    async fn mark_records_failed(
        &self,
        ids: &[i64],
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.mark_records_failed(ids, retry_at).await
    }
    async fn sent_record_count(&self) -> Result<u64, StoreError> {
        self.inner.sent_record_count().await
    }
}
