//! An in-memory [`Store`], for tests and examples. Nothing survives a restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionId, PatientSession>,
    logins: HashMap<String, PendingLogin>,
    requests: Vec<PatientRequest>,
    audit: Vec<AuditRecord>,
    outbox: BTreeMap<i64, OutboxRow>,
    records: BTreeMap<i64, RecordRow>,
    next_id: i64,
}

#[derive(Debug, Clone)]
struct OutboxRow {
    event: ReportingEvent,
    attempts: u32,
    due_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    state: RowState,
}

#[derive(Debug, Clone)]
struct RecordRow {
    patient: NhsNumber,
    due_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    state: RowState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowState {
    Waiting,
    Done,
    Quarantined,
}

impl Inner {
    fn next(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn push_events(&mut self, events: &[ReportingEvent]) {
        for e in events {
            let id = self.next();
            self.outbox.insert(
                id,
                OutboxRow {
                    event: e.clone(),
                    attempts: 0,
                    due_at: None,
                    leased_until: None,
                    state: RowState::Waiting,
                },
            );
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

fn due(
    due_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    due_at.is_none_or(|d| d <= now) && leased_until.is_none_or(|l| l <= now)
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
        request: &PatientRequest,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Submitted, StoreError> {
        let mut g = self.lock();
        if let Some(r) = g
            .requests
            .iter()
            .find(|r| r.idempotency_key == request.idempotency_key)
        {
            return Ok(Submitted::Duplicate(r.clone()));
        }
        if let Some(r) = g
            .requests
            .iter()
            .find(|r| r.appointment == request.appointment && r.state == RequestState::Pending)
        {
            return Ok(Submitted::AlreadyPending(r.clone()));
        }
        let mut stored = request.clone();
        stored.state = RequestState::Pending;
        stored.resolved_at = None;
        stored.resolution_note = None;
        g.requests.push(stored.clone());
        g.audit.push(audit.clone());
        g.push_events(events);
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
        let mut out: Vec<_> = self
            .lock()
            .requests
            .iter()
            .filter(|r| &r.patient == patient && r.state == RequestState::Pending)
            .cloned()
            .collect();
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    async fn list_requests(
        &self,
        ods_code: Option<OdsCode>,
        state: Option<RequestState>,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        let mut out: Vec<_> = self
            .lock()
            .requests
            .iter()
            .filter(|r| ods_code.as_ref().is_none_or(|o| &r.ods_code == o))
            .filter(|r| state.is_none_or(|s| r.state == s))
            .cloned()
            .collect();
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    async fn resolve_request(
        &self,
        id: uuid::Uuid,
        state: RequestState,
        note: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<PatientRequest, StoreError> {
        if state == RequestState::Pending {
            return Err(StoreError::Conflict(
                "a request cannot be resolved as pending",
            ));
        }
        let mut g = self.lock();
        let r = g
            .requests
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(StoreError::NotFound)?;
        if r.state != RequestState::Pending {
            return Err(StoreError::Conflict("the request is no longer pending"));
        }
        r.state = state;
        r.resolved_at = Some(at);
        r.resolution_note = note;
        let out = r.clone();
        g.audit.push(audit.clone());
        g.push_events(events);
        Ok(out)
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.lock().audit.push(record.clone());
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
impl Outbox for MemoryStore {
    async fn enqueue_events(&self, events: &[ReportingEvent]) -> Result<(), StoreError> {
        self.lock().push_events(events);
        Ok(())
    }

    async fn claim_events(
        &self,
        _worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut g = self.lock();
        let mut out = Vec::new();
        for (id, row) in g.outbox.iter_mut() {
            if out.len() >= limit {
                break;
            }
            if row.state == RowState::Waiting && due(row.due_at, row.leased_until, now) {
                row.leased_until = Some(now + lease);
                row.attempts += 1;
                out.push(OutboxItem {
                    id: *id,
                    event: row.event.clone(),
                    attempts: row.attempts,
                });
            }
        }
        Ok(out)
    }

    async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut g = self.lock();
        for id in ids {
            if let Some(row) = g
                .outbox
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.state = RowState::Done;
                row.leased_until = None;
            }
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        ids: &[i64],
        _error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        for id in ids {
            if let Some(row) = g
                .outbox
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.due_at = Some(retry_at);
                row.leased_until = None;
            }
        }
        Ok(())
    }

    async fn quarantine(&self, ids: &[i64], _reason: &str) -> Result<(), StoreError> {
        let mut g = self.lock();
        for id in ids {
            if let Some(row) = g
                .outbox
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.state = RowState::Quarantined;
                row.leased_until = None;
            }
        }
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let g = self.lock();
        let mut s = OutboxStats::default();
        for row in g.outbox.values() {
            match row.state {
                RowState::Waiting => s.pending += 1,
                RowState::Done => s.delivered += 1,
                RowState::Quarantined => s.quarantined += 1,
            }
        }
        Ok(s)
    }
}

#[async_trait]
impl RecordQueue for MemoryStore {
    async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.records
            .values()
            .any(|r| &r.patient == patient && r.state == RowState::Waiting)
        {
            return Ok(());
        }
        let id = g.next();
        g.records.insert(
            id,
            RecordRow {
                patient: patient.clone(),
                due_at: None,
                leased_until: None,
                state: RowState::Waiting,
            },
        );
        Ok(())
    }

    async fn claim_records(
        &self,
        _worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<RecordItem>, StoreError> {
        let mut g = self.lock();
        let mut out = Vec::new();
        for (id, row) in g.records.iter_mut() {
            if out.len() >= limit {
                break;
            }
            if row.state == RowState::Waiting && due(row.due_at, row.leased_until, now) {
                row.leased_until = Some(now + lease);
                out.push(RecordItem {
                    id: *id,
                    patient: row.patient.clone(),
                });
            }
        }
        Ok(out)
    }

    async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut g = self.lock();
        for id in ids {
            if let Some(row) = g
                .records
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.state = RowState::Done;
                row.leased_until = None;
            }
        }
        Ok(())
    }

    async fn mark_records_failed(
        &self,
        ids: &[i64],
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        for id in ids {
            if let Some(row) = g
                .records
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.due_at = Some(retry_at);
                row.leased_until = None;
            }
        }
        Ok(())
    }

    async fn sent_record_count(&self) -> Result<u64, StoreError> {
        let g = self.lock();
        let sent: std::collections::HashSet<_> = g
            .records
            .values()
            .filter(|r| r.state == RowState::Done)
            .map(|r| r.patient.as_str())
            .collect();
        Ok(sent.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::contract;

    #[tokio::test]
    async fn memory_store_passes_the_contract() {
        contract::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_submits_for_one_appointment_make_one_request() {
        let store = Arc::new(MemoryStore::new());
        let patient = NhsNumber::parse("9000000009").unwrap();
        let appointment = AppointmentId::parse("appt-1").unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                let patient = patient.clone();
                let appointment = appointment.clone();
                tokio::spawn(async move {
                    let req = PatientRequest {
                        id: uuid::Uuid::new_v4(),
                        idempotency_key: format!("key-{}", i % 4),
                        appointment,
                        patient: patient.clone(),
                        ods_code: OdsCode::parse("RJ1").unwrap(),
                        kind: RequestKind::Cancel,
                        reason: "r".into(),
                        details: None,
                        state: RequestState::Pending,
                        created_at: Utc::now(),
                        resolved_at: None,
                        resolution_note: None,
                    };
                    let audit = AuditRecord {
                        at: req.created_at,
                        patient,
                        actor: "patient".into(),
                        session: None,
                        action: AuditAction::CancelRequested,
                        appointment: None,
                        detail: None,
                    };
                    store.submit_request(&req, &audit, &[]).await.unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Submitted::Created(_)) {
                created += 1;
            }
        }
        assert_eq!(created, 1);
        assert_eq!(store.list_requests(None, None).await.unwrap().len(), 1);
    }
}
