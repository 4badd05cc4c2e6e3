//! An in-memory [`Store`], for tests and examples. Nothing survives a restart.
//!
//! (Over 400 lines: one implementation of every store sub-trait over one locked state, kept
//! together so the whole store's locking can be read in one place; the queues' lease logic is
//! in `leased`.)

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};

mod leased;

use leased::{LeasedQueue, RowState};

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionId, PatientSession>,
    logins: HashMap<String, PendingLogin>,
    requests: Vec<PatientRequest>,
    audit: Vec<AuditRecord>,
    outbox: LeasedQueue<ReportingEvent>,
    records: LeasedQueue<NhsNumber>,
    actions: HashMap<String, CompletedAction>,
    last_seen: HashMap<AppointmentId, SeenAppointment>,
    next_id: i64,
}

impl Inner {
    fn next(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// The audit record and events of one action, together (the lock makes it one transaction).
    fn record(&mut self, audit: &AuditRecord, events: &[ReportingEvent]) {
        self.audit.push(audit.clone());
        for e in events {
            let id = self.next();
            self.outbox.push(id, e.clone());
        }
    }
}

/// A store that keeps everything in memory behind one mutex.
///
/// ```
/// use std::sync::Arc;
/// use nhs_portal_core::store::{Store, memory::MemoryStore};
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &PatientSession) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.sessions.contains_key(&session.id) {
            return Err(StoreError::Conflict("session id already in use"));
        }
        g.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<PatientSession>, StoreError> {
        Ok(self.lock().sessions.get(id).cloned())
    }

    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(match self.lock().sessions.get_mut(id) {
            Some(s) => {
                s.last_seen_at = at;
                true
            }
            None => false,
        })
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        self.lock().sessions.remove(id);
        Ok(())
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let before = g.sessions.len();
        g.sessions
            .retain(|_, s| s.last_seen_at >= idle_before && s.absolute_expiry > now);
        Ok((before - g.sessions.len()) as u64)
    }

    async fn put_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.lock()
            .logins
            .insert(login.state.clone(), login.clone());
        Ok(())
    }

    async fn take_pending_login(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self.lock().logins.remove(state))
    }
}

#[async_trait]
impl RequestStore for MemoryStore {
    async fn submit_request(
        &self,
        request: &NewRequest,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Submitted, StoreError> {
        let mut g = self.lock();
        let same_key = g
            .requests
            .iter()
            .find(|r| r.idempotency_key == request.idempotency_key);
        let pending = g
            .requests
            .iter()
            .find(|r| r.appointment == request.appointment && r.state == RequestState::Pending);
        if let Some(refused) = Submitted::refusal(same_key.cloned(), pending.cloned()) {
            return Ok(refused);
        }
        if g.requests.iter().any(|r| r.id == request.id) {
            return Err(StoreError::Conflict("a request with this id exists"));
        }
        let stored = request.pending();
        g.requests.push(stored.clone());
        g.record(audit, events);
        Ok(Submitted::Created(stored))
    }

    async fn get_request(&self, id: uuid::Uuid) -> Result<Option<PatientRequest>, StoreError> {
        Ok(self.lock().requests.iter().find(|r| r.id == id).cloned())
    }

    async fn pending_request_for(
        &self,
        appointment: &AppointmentId,
    ) -> Result<Option<PatientRequest>, StoreError> {
        Ok(self
            .lock()
            .requests
            .iter()
            .find(|r| &r.appointment == appointment && r.state == RequestState::Pending)
            .cloned())
    }

    async fn pending_requests_for_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        self.list(|r| &r.patient == patient && r.state == RequestState::Pending)
    }

    async fn list_requests(
        &self,
        ods_code: Option<OdsCode>,
        state: Option<RequestState>,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        self.list(|r| {
            ods_code.as_ref().is_none_or(|o| &r.ods_code == o) && state.is_none_or(|s| r.state == s)
        })
    }

    async fn resolve_request(
        &self,
        id: uuid::Uuid,
        resolve: &Resolve,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<PatientRequest, StoreError> {
        let mut g = self.lock();
        let r = g
            .requests
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(Resolve::refusal(false))?;
        *r = resolve.apply(r)?;
        let out = r.clone();
        g.record(audit, events);
        Ok(out)
    }
}

impl MemoryStore {
    /// The requests that match, oldest first.
    fn list(
        &self,
        keep: impl Fn(&PatientRequest) -> bool,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        let mut out: Vec<_> = self
            .lock()
            .requests
            .iter()
            .filter(|r| keep(r))
            .cloned()
            .collect();
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(
        &self,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        self.lock().record(audit, events);
        Ok(())
    }

    async fn audit_for_patient(
        &self,
        patient: &NhsNumber,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        // Newest appended first, then a stable sort by time keeps that order among equal times.
        let mut out: Vec<_> = self
            .lock()
            .audit
            .iter()
            .rev()
            .filter(|a| &a.patient == patient)
            .cloned()
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.at));
        out.truncate(limit);
        Ok(out)
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn check_action_key(&self, key: &ActionKey) -> Result<KeyUse, StoreError> {
        Ok(key.check(self.lock().actions.get(&key.key)))
    }

    async fn record_action(
        &self,
        action: &CompletedAction,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Recorded, StoreError> {
        let mut g = self.lock();
        if let Some(existing) = g.actions.get(&action.key) {
            return Ok(Recorded::refusal(action, existing));
        }
        g.actions.insert(action.key.clone(), action.clone());
        g.record(audit, events);
        Ok(Recorded::Stored)
    }
}

#[async_trait]
impl PasFeedStore for MemoryStore {
    async fn last_seen(
        &self,
        appointments: &[AppointmentId],
    ) -> Result<Vec<SeenAppointment>, StoreError> {
        let g = self.lock();
        Ok(appointments
            .iter()
            .filter_map(|id| g.last_seen.get(id).cloned())
            .collect())
    }

    async fn record_seen(&self, seen: &SeenAppointment) -> Result<(), StoreError> {
        self.lock()
            .last_seen
            .insert(seen.appointment.clone(), seen.clone());
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn enqueue_events(&self, events: &[ReportingEvent]) -> Result<(), StoreError> {
        let mut g = self.lock();
        for e in events {
            let id = g.next();
            g.outbox.push(id, e.clone());
        }
        Ok(())
    }

    async fn claim_events(
        &self,
        _worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let claimed = self.lock().outbox.claim(limit, now, now + lease);
        Ok(claimed
            .into_iter()
            .map(|(id, event, attempts)| OutboxItem {
                id,
                event,
                attempts,
            })
            .collect())
    }

    async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.lock().outbox.mark_done(ids);
        Ok(())
    }

    async fn mark_failed(
        &self,
        ids: &[i64],
        _error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock().outbox.mark_failed(ids, retry_at);
        Ok(())
    }

    async fn quarantine(&self, ids: &[i64], _reason: &str) -> Result<(), StoreError> {
        self.lock().outbox.quarantine(ids);
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let g = self.lock();
        let mut s = OutboxStats::default();
        for row in g.outbox.rows() {
            match row.state {
                RowState::Waiting => s.pending += 1,
                RowState::Done => s.delivered += 1,
                RowState::Quarantined => s.quarantined += 1,
            }
        }
        Ok(s)
    }

    async fn oldest_waiting_event_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let g = self.lock();
        Ok(g.outbox
            .rows()
            .filter(|r| r.state == RowState::Waiting)
            .map(|r| r.item.at())
            .min())
    }

    async fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ReportingEvent)>, StoreError> {
        let g = self.lock();
        Ok(g.outbox
            .rows_with_ids()
            .filter(|(id, r)| *id > after_id && r.item.at() >= from && r.item.at() < to)
            .take(limit)
            .map(|(id, r)| (id, r.item.clone()))
            .collect())
    }
}

#[async_trait]
impl RecordQueue for MemoryStore {
    async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.records
            .rows()
            .any(|r| &r.item == patient && r.state == RowState::Waiting)
        {
            return Ok(());
        }
        let id = g.next();
        g.records.push(id, patient.clone());
        Ok(())
    }

    async fn claim_records(
        &self,
        _worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<RecordItem>, StoreError> {
        let claimed = self.lock().records.claim(limit, now, now + lease);
        Ok(claimed
            .into_iter()
            .map(|(id, patient, _)| RecordItem { id, patient })
            .collect())
    }

    async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.lock().records.mark_done(ids);
        Ok(())
    }

    async fn mark_records_failed(
        &self,
        ids: &[i64],
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock().records.mark_failed(ids, retry_at);
        Ok(())
    }

    async fn sent_record_count(&self) -> Result<u64, StoreError> {
        let g = self.lock();
        let sent: std::collections::HashSet<_> = g
            .records
            .rows()
            .filter(|r| r.state == RowState::Done)
            .map(|r| r.item.as_str())
            .collect();
        Ok(sent.len() as u64)
    }
}

#[cfg(test)]
mod tests;

#[async_trait]
impl Upkeep for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn housekeep(
        &self,
        now: DateTime<Utc>,
        policy: &HousekeepingPolicy,
    ) -> Result<Housekept, StoreError> {
        let mut g = self.lock();
        let idle_before = now - policy.session_idle;
        let sessions = g.sessions.len();
        g.sessions
            .retain(|_, s| s.last_seen_at >= idle_before && s.absolute_expiry > now);
        let logins = g.logins.len();
        let login_before = now - policy.pending_login_max_age;
        g.logins.retain(|_, l| l.created_at >= login_before);
        let actions = g.actions.len();
        let action_before = now - policy.idempotency_max_age;
        g.actions.retain(|_, a| a.at >= action_before);
        let audit = g.audit.len();
        if let Some(retention) = policy.audit_retention {
            let audit_before = now - retention;
            g.audit.retain(|a| a.at >= audit_before);
        }
        Ok(Housekept {
            sessions: (sessions - g.sessions.len()) as u64,
            pending_logins: (logins - g.logins.len()) as u64,
            idempotency_records: (actions - g.actions.len()) as u64,
            audit_records: (audit - g.audit.len()) as u64,
        })
    }
}
