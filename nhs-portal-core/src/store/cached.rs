//! [`CachedStore`]: any [`Store`] with patient sessions and pending requests kept in process
//! memory, so a page view reads neither from the database.
//! (Over 400 lines: the one forwarding impl of every store sub-trait, most of it one-line
//! delegations, beside the cache they share; its tests are in `cached/tests.rs`.)
//!
//! - **Read-through**: [`SessionStore::get_session`], [`RequestStore::pending_request_for`] and
//!   [`RequestStore::pending_requests_for_patient`] answer from memory when they can, else ask
//!   the store and keep its answer (a missing session is not kept; a missing pending request
//!   is).
//! - **Write-through**: every write goes to the store first. A new session is kept as written;
//!   every other write that can change a kept answer drops it (a session's touch or deletion
//!   drops that session; a submitted or resolved request drops its appointment's and its
//!   patient's answers; deleting expired sessions and housekeeping drop everything). The drop
//!   happens when the write ends, also when its caller stops waiting (the future is dropped), and
//!   an answer read while a write was under way is not kept.
//! - **Bounded**: at most [`CacheConfig::capacity`] answers of each kind (when full, that kind
//!   starts again empty), each kept at most [`CacheConfig::max_age`] (a backstop: a write still
//!   finishing in the database after its caller went away is seen within that time).
//!
//! **Only for one instance.** Invalidation happens in this process only: another process
//! writing to the same database (a second portal instance, a staff tool on the same file) would
//! not drop what this one keeps, and it would serve a session that was signed out or a request
//! status that changed, for up to `max_age`. So the reference portal uses it only on SQLite
//! with `NHS_PORTAL_INSTANCES=1`, never on PostgreSQL (where several instances are the point).
//!
//! No IO: a mutex-guarded map per kind of answer, and `std::time::Instant` for the age.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};

/// How much a [`CachedStore`] keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The most answers of each kind kept (sessions, pending requests by appointment, pending
    /// requests by patient). Default 10,000.
    pub capacity: usize,
    /// The longest an answer is kept. Default 2 s.
    pub max_age: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_age: Duration::from_secs(2),
        }
    }
}

/// One kind of kept answer, by key.
struct Kept<V> {
    config: CacheConfig,
    state: Mutex<KeptState<V>>,
}

struct KeptState<V> {
    answers: HashMap<String, (Instant, V)>,
    /// Moves on at the start and the end of every write, so an answer read across a write is
    /// not kept.
    generation: u64,
}

impl<V: Clone> Kept<V> {
    fn new(config: CacheConfig) -> Self {
        Self {
            config,
            state: Mutex::new(KeptState {
                answers: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, KeptState<V>> {
        // A panic elsewhere while holding the lock leaves only a map of copies: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept answer, if young enough; and the generation to pass to [`Kept::keep`].
    fn get(&self, key: &str) -> (Option<V>, u64) {
        let state = self.lock();
        let found = state
            .answers
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.config.max_age)
            .map(|(_, v)| v.clone());
        (found, state.generation)
    }

    /// Keeps `value`, read from the store at `generation`, unless a write began since.
    fn keep(&self, key: &str, value: V, generation: u64) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        Self::insert(&mut state, self.config.capacity, key, value);
    }

    fn insert(state: &mut KeptState<V>, capacity: usize, key: &str, value: V) {
        if state.answers.len() >= capacity && !state.answers.contains_key(key) {
            state.answers.clear();
        }
        state
            .answers
            .insert(key.to_owned(), (Instant::now(), value));
    }

    fn begin_write(&self) {
        self.lock().generation += 1;
    }

    /// The end of a write: drops `keys` (all, for `None`), or keeps `put` as written.
    fn end_write(&self, keys: Option<&[String]>, put: Option<(&str, V)>) {
        let mut state = self.lock();
        state.generation += 1;
        match keys {
            Some(keys) => {
                for key in keys {
                    state.answers.remove(key);
                }
            }
            None => state.answers.clear(),
        }
        if let Some((key, value)) = put {
            Self::insert(&mut state, self.config.capacity, key, value);
        }
    }
}

/// A write under way: what it drops when it ends (at its drop, so also when cancelled).
struct Writing<'a, V: Clone> {
    kept: &'a Kept<V>,
    /// The keys to drop; `None` drops all (a write whose keys are known only from its answer,
    /// until it answers).
    keys: Option<Vec<String>>,
    put: Option<(String, V)>,
}

impl<'a, V: Clone> Writing<'a, V> {
    fn new(kept: &'a Kept<V>, keys: Option<Vec<String>>) -> Self {
        kept.begin_write();
        Self {
            kept,
            keys,
            put: None,
        }
    }
}

impl<V: Clone> Drop for Writing<'_, V> {
    fn drop(&mut self) {
        let put = self.put.take();
        self.kept.end_write(
            self.keys.as_deref(),
            put.as_ref().map(|(k, v)| (k.as_str(), v.clone())),
        );
    }
}

/// A [`Store`] with sessions and pending requests kept in memory. See the [module
/// documentation](self), above all for why it suits one instance only.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    sessions: Kept<PatientSession>,
    by_appointment: Kept<Option<PatientRequest>>,
    by_patient: Kept<Vec<PatientRequest>>,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("config", &self.sessions.config)
            .finish_non_exhaustive()
    }
}

impl CachedStore {
    /// `inner` with the default [`CacheConfig`].
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self::with_config(inner, CacheConfig::default())
    }

    /// `inner` keeping at most what `config` says.
    pub fn with_config(inner: Arc<dyn Store>, config: CacheConfig) -> Self {
        Self {
            inner,
            sessions: Kept::new(config),
            by_appointment: Kept::new(config),
            by_patient: Kept::new(config),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }
}

#[async_trait]
impl SessionStore for CachedStore {
    async fn create_session(&self, session: &PatientSession) -> Result<(), StoreError> {
        let mut writing = Writing::new(&self.sessions, Some(vec![session.id.as_str().into()]));
        self.inner.create_session(session).await?;
        writing.put = Some((session.id.as_str().into(), session.clone()));
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<PatientSession>, StoreError> {
        let (kept, generation) = self.sessions.get(id.as_str());
        if kept.is_some() {
            return Ok(kept);
        }
        let found = self.inner.get_session(id).await?;
        if let Some(session) = &found {
            self.sessions.keep(id.as_str(), session.clone(), generation);
        }
        Ok(found)
    }

    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let _writing = Writing::new(&self.sessions, Some(vec![id.as_str().into()]));
        self.inner.touch_session(id, at).await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        let _writing = Writing::new(&self.sessions, Some(vec![id.as_str().into()]));
        self.inner.delete_session(id).await
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _writing = Writing::new(&self.sessions, None);
        self.inner.delete_expired_sessions(idle_before, now).await
    }

    async fn put_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.inner.put_pending_login(login).await
    }

    async fn take_pending_login(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        self.inner.take_pending_login(state).await
    }
}

#[async_trait]
impl RequestStore for CachedStore {
    async fn submit_request(
        &self,
        request: &NewRequest,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Submitted, StoreError> {
        let _appointment = Writing::new(
            &self.by_appointment,
            Some(vec![request.appointment.as_str().into()]),
        );
        let _patient = Writing::new(
            &self.by_patient,
            Some(vec![request.patient.as_str().into()]),
        );
        self.inner.submit_request(request, audit, events).await
    }

    async fn get_request(&self, id: uuid::Uuid) -> Result<Option<PatientRequest>, StoreError> {
        self.inner.get_request(id).await
    }

    async fn pending_request_for(
        &self,
        appointment: &AppointmentId,
    ) -> Result<Option<PatientRequest>, StoreError> {
        let (kept, generation) = self.by_appointment.get(appointment.as_str());
        if let Some(kept) = kept {
            return Ok(kept);
        }
        let found = self.inner.pending_request_for(appointment).await?;
        self.by_appointment
            .keep(appointment.as_str(), found.clone(), generation);
        Ok(found)
    }

    async fn pending_requests_for_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        let (kept, generation) = self.by_patient.get(patient.as_str());
        if let Some(kept) = kept {
            return Ok(kept);
        }
        let found = self.inner.pending_requests_for_patient(patient).await?;
        self.by_patient
            .keep(patient.as_str(), found.clone(), generation);
        Ok(found)
    }

    async fn list_requests(
        &self,
        ods_code: Option<OdsCode>,
        state: Option<RequestState>,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        self.inner.list_requests(ods_code, state).await
    }

    async fn resolve_request(
        &self,
        id: uuid::Uuid,
        resolve: &Resolve,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<PatientRequest, StoreError> {
        // Whose answers change is known only from the answer: until then, all of them.
        let mut appointment = Writing::new(&self.by_appointment, None);
        let mut patient = Writing::new(&self.by_patient, None);
        let resolved = self
            .inner
            .resolve_request(id, resolve, audit, events)
            .await?;
        appointment.keys = Some(vec![resolved.appointment.as_str().into()]);
        patient.keys = Some(vec![resolved.patient.as_str().into()]);
        Ok(resolved)
    }
}

#[async_trait]
impl AuditLog for CachedStore {
    async fn record(
        &self,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        self.inner.record(audit, events).await
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.inner.append_audit(record).await
    }

    async fn audit_for_patient(
        &self,
        patient: &NhsNumber,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit_for_patient(patient, limit).await
    }
}

#[async_trait]
impl Outbox for CachedStore {
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
        self.inner.mark_delivered(ids).await
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
impl RecordQueue for CachedStore {
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
        self.inner.mark_records_sent(ids).await
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

#[async_trait]
impl IdempotencyStore for CachedStore {
    async fn check_action_key(&self, key: &ActionKey) -> Result<KeyUse, StoreError> {
        self.inner.check_action_key(key).await
    }

    async fn record_action(
        &self,
        action: &CompletedAction,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Recorded, StoreError> {
        self.inner.record_action(action, audit, events).await
    }
}

#[async_trait]
impl PasFeedStore for CachedStore {
    async fn last_seen(
        &self,
        appointments: &[AppointmentId],
    ) -> Result<Vec<SeenAppointment>, StoreError> {
        self.inner.last_seen(appointments).await
    }

    async fn record_seen(&self, seen: &SeenAppointment) -> Result<(), StoreError> {
        self.inner.record_seen(seen).await
    }
}

#[async_trait]
impl Upkeep for CachedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn housekeep(
        &self,
        now: DateTime<Utc>,
        policy: &HousekeepingPolicy,
    ) -> Result<Housekept, StoreError> {
        let _sessions = Writing::new(&self.sessions, None);
        let _appointments = Writing::new(&self.by_appointment, None);
        let _patients = Writing::new(&self.by_patient, None);
        self.inner.housekeep(now, policy).await
    }
}

#[cfg(test)]
mod tests;
