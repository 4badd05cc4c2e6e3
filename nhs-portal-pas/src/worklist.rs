//! The trust staff worklist: patients' cancel and reschedule requests to a request-only trust,
//! and how they are resolved.
//!
//! A request-only trust's PAS does not change when a patient asks to cancel or reschedule: the
//! portal stores a pending [`PatientRequest`] (which shows as the appointment's request status)
//! and the trust's staff act on it. [`Worklist`] is the service behind the staff's screen:
//!
//! - [`Worklist::pending`] lists a trust's pending requests with their appointments;
//! - [`Worklist::fulfil`] records that staff did what was asked: with an [`OutcomeApplier`] (the
//!   [`SimulatedPas`] is one) the change is made in the PAS through it; without one (a real PAS)
//!   staff made it in the PAS already, and the worklist checks the PAS shows it before it clears
//!   the request;
//! - [`Worklist::reject`] declines a request: the appointment stays booked, the request status
//!   clears;
//! - [`Worklist::sync_from_pas`] reads [`PasBackend::poll_events`] and resolves the pending
//!   requests the trust has acted on in its PAS, so a request also resolves when staff never
//!   touch the worklist.
//!
//! Every resolution is one [`RequestStore::resolve_request`] call carrying its audit record
//! (actor `staff:{name}`, or `pas:{ODS code}` for [`Worklist::sync_from_pas`]) and its reporting
//! events (an `APPT-CANC` or `APPT-RESCH` with reason "patient" for a fulfilled request, and an
//! `APPT` update in every case).
//!
//! The HTTP layer (the staff page or API and the staff credential check) lives in the web crate;
//! it only has to call these methods with the signed-in staff member's name and trust.
//!
//! [`PatientRequest`]: nhs_portal_core::store::PatientRequest
//! [`RequestStore::resolve_request`]: nhs_portal_core::store::RequestStore::resolve_request
//! [`SimulatedPas`]: crate::simulated::SimulatedPas

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::{RequestKind, RequestOutcome, apply_outcome};
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, Resolution as StoreResolution, Resolve,
    Store, StoreError,
};
use nhs_portal_core::{Appointment, AppointmentId, OdsCode, ReportingEvent};

#[cfg(feature = "simulated")]
use crate::simulated::{SimulatedPas, SimulationError};
use crate::{PasBackend, PasError, PasEvent};

/// Makes a staff decision happen in the PAS. Only simulations implement this: with a real PAS,
/// staff make the change in the PAS themselves.
#[async_trait]
pub trait OutcomeApplier: Send + Sync {
    /// Applies `outcome` to the appointment in the PAS and returns it as the PAS now holds it.
    async fn apply_outcome(
        &self,
        appointment: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<Appointment, PasError>;
}

#[cfg(feature = "simulated")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulated")))]
#[async_trait]
impl OutcomeApplier for SimulatedPas {
    async fn apply_outcome(
        &self,
        appointment: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<Appointment, PasError> {
        self.staff_acted(appointment, outcome).map_err(|e| match e {
            SimulationError::UnknownAppointment | SimulationError::UnknownTrust => {
                PasError::NotFound
            }
            SimulationError::NotApplicable(why) => PasError::InvalidState(why),
        })
    }
}

/// Why a worklist action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorklistError {
    /// No such request for this trust (another trust's requests are reported the same way).
    #[error("no such request for this trust")]
    NotFound,
    /// The request was already resolved (perhaps by a colleague, or from the PAS).
    #[error("the request is no longer pending")]
    NotPending,
    /// The outcome does not answer the request (for example a reschedule for a cancellation
    /// request, or `Rejected`, which goes through [`Worklist::reject`]).
    #[error("the outcome does not answer this request")]
    Mismatch,
    /// The staff name is empty, too long or has control characters.
    #[error("the staff name is not acceptable")]
    BadStaffName,
    /// The PAS does not show the change yet: make it in the PAS first, then fulfil.
    #[error("the PAS does not show this change yet; make it in the PAS first")]
    PasNotUpdated,
    /// The appointment is no longer in the PAS.
    #[error("the appointment is not in the PAS")]
    AppointmentMissing,
    /// The PAS failed.
    #[error("the PAS failed")]
    Pas(#[from] PasError),
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// One pending request with its appointment as the patient sees it (request status applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistItem {
    /// The request.
    pub request: PatientRequest,
    /// The appointment, or `None` when the PAS could not give it just now.
    pub appointment: Option<Appointment>,
}

/// A resolved request and what was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The request, now fulfilled or rejected.
    pub request: PatientRequest,
    /// The appointment after the outcome.
    pub appointment: Appointment,
    /// The reporting events written with it.
    pub events: Vec<ReportingEvent>,
}

/// What [`Worklist::sync_from_pas`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Requests resolved from PAS events.
    pub resolved: Vec<PatientRequest>,
    /// Events about appointments with no pending request (PAS-side changes, or requests already
    /// resolved through the worklist).
    pub without_request: usize,
    /// Events that do not answer the pending request (for example the hospital moved an
    /// appointment the patient asked to cancel), or whose appointment the PAS no longer gives:
    /// the request stays pending for staff.
    pub left_pending: usize,
    /// Where the next sync should start (the latest event time seen, or the `since` given).
    /// Polling is inclusive, so an event may be seen twice; resolving is idempotent.
    pub next_since: DateTime<Utc>,
}

/// The trust staff worklist service. See the [module documentation](self).
#[derive(Clone)]
pub struct Worklist {
    store: Arc<dyn Store>,
    pas: Arc<dyn PasBackend>,
    applier: Option<Arc<dyn OutcomeApplier>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Worklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worklist")
            .field("applier", &self.applier.is_some())
            .finish_non_exhaustive()
    }
}

const MAX_STAFF_NAME: usize = 100;

fn actor(staff: &str) -> Result<String, WorklistError> {
    let name = staff.trim();
    if name.is_empty()
        || name.chars().count() > MAX_STAFF_NAME
        || name.chars().any(char::is_control)
    {
        return Err(WorklistError::BadStaffName);
    }
    Ok(format!("staff:{name}"))
}

fn answers(kind: RequestKind, outcome: &RequestOutcome) -> bool {
    matches!(
        (kind, outcome),
        (RequestKind::Cancel, RequestOutcome::Cancelled)
            | (RequestKind::Reschedule, RequestOutcome::Rescheduled { .. })
    )
}

impl Worklist {
    /// A worklist for a real PAS: staff make changes in the PAS, then record them here.
    pub fn new(store: Arc<dyn Store>, pas: Arc<dyn PasBackend>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            pas,
            applier: None,
            clock,
        }
    }

    /// Makes fulfilments happen in the PAS through `applier` (for the simulated PAS).
    pub fn with_applier(mut self, applier: Arc<dyn OutcomeApplier>) -> Self {
        self.applier = Some(applier);
        self
    }

    /// A trust's pending requests, oldest first, each with its appointment.
    pub async fn pending(&self, ods: &OdsCode) -> Result<Vec<WorklistItem>, WorklistError> {
        let requests = self
            .store
            .list_requests(Some(ods.clone()), Some(RequestState::Pending))
            .await?;
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            let appointment = match self
                .pas
                .get_appointment(&request.patient, &request.appointment)
                .await
            {
                Ok(a) => a.map(|mut a| {
                    a.request_status = request.request_status();
                    a
                }),
                Err(e) => {
                    tracing::warn!(request = %request.id, error = %e, "worklist: PAS lookup failed");
                    None
                }
            };
            out.push(WorklistItem {
                request,
                appointment,
            });
        }
        Ok(out)
    }

    async fn pending_request(
        &self,
        ods: &OdsCode,
        id: uuid::Uuid,
    ) -> Result<PatientRequest, WorklistError> {
        let request = self
            .store
            .get_request(id)
            .await?
            .filter(|r| &r.ods_code == ods)
            .ok_or(WorklistError::NotFound)?;
        if request.state != RequestState::Pending {
            return Err(WorklistError::NotPending);
        }
        Ok(request)
    }

    async fn pas_appointment(
        &self,
        request: &PatientRequest,
    ) -> Result<Appointment, WorklistError> {
        self.pas
            .get_appointment(&request.patient, &request.appointment)
            .await?
            .ok_or(WorklistError::AppointmentMissing)
    }

    /// Records that staff did what the request asked. `outcome` is
    /// [`RequestOutcome::Cancelled`] for a cancellation request and
    /// [`RequestOutcome::Rescheduled`] for a reschedule request.
    ///
    /// With an [`OutcomeApplier`], the change is made through it first. Without one, the PAS must
    /// already show the change (cancelled; or moved to `new_start`; or cancelled and replaced),
    /// else [`WorklistError::PasNotUpdated`] and nothing is recorded.
    pub async fn fulfil(
        &self,
        ods: &OdsCode,
        request_id: uuid::Uuid,
        staff: &str,
        outcome: &RequestOutcome,
        note: Option<String>,
    ) -> Result<Resolution, WorklistError> {
        let actor = actor(staff)?;
        let request = self.pending_request(ods, request_id).await?;
        if !answers(request.kind, outcome) {
            return Err(WorklistError::Mismatch);
        }
        let mut before = self.pas_appointment(&request).await?;
        before.request_status = Some(request.kind.pending_status());
        let after = match &self.applier {
            Some(applier) => {
                // The simulated PAS holds the appointment as booked; check first that the
                // outcome applies, so a refused outcome changes nothing.
                apply_outcome(&before, outcome).map_err(|_| WorklistError::Mismatch)?;
                applier.apply_outcome(&request.appointment, outcome).await?
            }
            None => {
                // `before` is the PAS's current state; staff changed it already.
                let now_in_pas = before.clone();
                if !pas_shows(&now_in_pas, outcome) {
                    return Err(WorklistError::PasNotUpdated);
                }
                let mut a = now_in_pas;
                a.request_status = None;
                a
            }
        };
        let at = self.clock.now();
        let events = self.fulfilment_events(&request, outcome, &after, at).await;
        let audit = AuditRecord {
            at,
            patient: request.patient.clone(),
            actor,
            session: None,
            action: AuditAction::RequestFulfilled,
            appointment: Some(request.appointment.clone()),
            detail: Some(outcome_detail(outcome).into()),
        };
        let resolved = self
            .store
            .resolve_request(
                request.id,
                &Resolve {
                    resolution: StoreResolution::Fulfilled,
                    note,
                    at,
                },
                &audit,
                &events,
            )
            .await
            .map_err(conflict_is_not_pending)?;
        Ok(Resolution {
            request: resolved,
            appointment: after,
            events,
        })
    }

    /// Declines a request: the appointment stays as it is in the PAS and its request status
    /// clears.
    pub async fn reject(
        &self,
        ods: &OdsCode,
        request_id: uuid::Uuid,
        staff: &str,
        note: Option<String>,
    ) -> Result<Resolution, WorklistError> {
        let actor = actor(staff)?;
        let request = self.pending_request(ods, request_id).await?;
        let appointment = match &self.applier {
            Some(applier) => {
                applier
                    .apply_outcome(&request.appointment, &RequestOutcome::Rejected)
                    .await?
            }
            None => self.pas_appointment(&request).await?,
        };
        let at = self.clock.now();
        let events = vec![appointment_event(&appointment, at)];
        let audit = AuditRecord {
            at,
            patient: request.patient.clone(),
            actor,
            session: None,
            action: AuditAction::RequestRejected,
            appointment: Some(request.appointment.clone()),
            detail: Some("rejected".into()),
        };
        let resolved = self
            .store
            .resolve_request(
                request.id,
                &Resolve {
                    resolution: StoreResolution::Rejected,
                    note,
                    at,
                },
                &audit,
                &events,
            )
            .await
            .map_err(conflict_is_not_pending)?;
        Ok(Resolution {
            request: resolved,
            appointment,
            events,
        })
    }

    /// A trust's requests in any state, newest first, at most `limit` (for a "recently
    /// resolved" list on the staff page).
    pub async fn recent(
        &self,
        ods: &OdsCode,
        limit: usize,
    ) -> Result<Vec<PatientRequest>, WorklistError> {
        let mut all = self.store.list_requests(Some(ods.clone()), None).await?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }

    /// Runs [`Worklist::sync_from_pas`] every `every`, starting from `since`, until the future
    /// is dropped (spawn it, and abort the task on shutdown). Failures are logged (without
    /// patient data) and retried on the next tick; the cursor only moves on after a success.
    pub async fn sync_loop(self, mut since: DateTime<Utc>, every: std::time::Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.sync_from_pas(since).await {
                Ok(report) => {
                    if !report.resolved.is_empty() {
                        tracing::info!(
                            resolved = report.resolved.len(),
                            left_pending = report.left_pending,
                            "worklist: requests resolved from the PAS"
                        );
                    }
                    since = report.next_since;
                }
                Err(e) => tracing::warn!(error = %e, "worklist: sync from the PAS failed"),
            }
        }
    }

    /// Resolves pending requests the trust acted on in its PAS, from
    /// [`PasBackend::poll_events`] since `since` (inclusive). Run it on a timer (the PCA wants
    /// PAS-side changes visible within 3 minutes); keep [`SyncReport::next_since`] for the next
    /// run.
    pub async fn sync_from_pas(&self, since: DateTime<Utc>) -> Result<SyncReport, WorklistError> {
        let events = self.pas.poll_events(since).await?;
        let mut report = SyncReport {
            next_since: since,
            ..SyncReport::default()
        };
        for event in events {
            report.next_since = report.next_since.max(event.at);
            let Some(request) = self.store.pending_request_for(&event.appointment).await? else {
                report.without_request += 1;
                continue;
            };
            match self.resolve_from_event(&request, &event).await? {
                Some(r) => report.resolved.push(r),
                None => report.left_pending += 1,
            }
        }
        Ok(report)
    }

    async fn resolve_from_event(
        &self,
        request: &PatientRequest,
        event: &PasEvent,
    ) -> Result<Option<PatientRequest>, WorklistError> {
        let state = match &event.outcome {
            RequestOutcome::Rejected => StoreResolution::Rejected,
            o if answers(request.kind, o) => StoreResolution::Fulfilled,
            _ => return Ok(None),
        };
        let at = self.clock.now();
        let appointment = match self
            .pas
            .get_appointment(&request.patient, &request.appointment)
            .await?
        {
            Some(a) => a,
            // Gone from the PAS (or unreadable): leave the request for staff rather than stop
            // every later sync on it.
            None => {
                tracing::warn!(request = %request.id, "worklist: the PAS event's appointment is missing");
                return Ok(None);
            }
        };
        let events = if state == StoreResolution::Fulfilled {
            self.fulfilment_events(request, &event.outcome, &appointment, at)
                .await
        } else {
            vec![appointment_event(&appointment, at)]
        };
        let audit = AuditRecord {
            at,
            patient: request.patient.clone(),
            actor: format!("pas:{}", request.ods_code),
            session: None,
            action: if state == StoreResolution::Fulfilled {
                AuditAction::RequestFulfilled
            } else {
                AuditAction::RequestRejected
            },
            appointment: Some(request.appointment.clone()),
            detail: Some(outcome_detail(&event.outcome).into()),
        };
        match self
            .store
            .resolve_request(
                request.id,
                &Resolve {
                    resolution: state,
                    note: Some("resolved from the PAS".into()),
                    at,
                },
                &audit,
                &events,
            )
            .await
        {
            Ok(r) => Ok(Some(r)),
            // Resolved meanwhile (by staff, or another portal instance's sync): nothing to do.
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn fulfilment_events(
        &self,
        request: &PatientRequest,
        outcome: &RequestOutcome,
        after: &Appointment,
        at: DateTime<Utc>,
    ) -> Vec<ReportingEvent> {
        let mut events = Vec::new();
        match outcome {
            RequestOutcome::Cancelled => events.push(ReportingEvent::Cancelled {
                at,
                appointment: request.appointment.clone(),
                reason: ChangeReason::Patient,
            }),
            RequestOutcome::Rescheduled { replaced_by, .. } => {
                events.push(ReportingEvent::Rescheduled {
                    at,
                    appointment: request.appointment.clone(),
                    new_appointment: replaced_by.clone(),
                    reason: ChangeReason::Patient,
                })
            }
            RequestOutcome::Rejected => {}
        }
        events.push(appointment_event(after, at));
        if let RequestOutcome::Rescheduled {
            replaced_by: Some(new_id),
            ..
        } = outcome
        {
            match self.pas.get_appointment(&request.patient, new_id).await {
                Ok(Some(new)) => events.push(appointment_event(&new, at)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "worklist: replacement appointment lookup failed")
                }
            }
        }
        events
    }
}

/// Whether the PAS's appointment shows `outcome` was carried out.
fn pas_shows(in_pas: &Appointment, outcome: &RequestOutcome) -> bool {
    use nhs_portal_core::AppointmentStatus::{Booked, Cancelled};
    match outcome {
        RequestOutcome::Cancelled => in_pas.status == Cancelled,
        RequestOutcome::Rescheduled {
            replaced_by: Some(_),
            ..
        } => in_pas.status == Cancelled,
        RequestOutcome::Rescheduled {
            replaced_by: None,
            new_start: Some(start),
        } => in_pas.status == Booked && in_pas.start == *start,
        RequestOutcome::Rescheduled {
            replaced_by: None,
            new_start: None,
        } => false,
        RequestOutcome::Rejected => true,
    }
}

fn outcome_detail(outcome: &RequestOutcome) -> &'static str {
    match outcome {
        RequestOutcome::Cancelled => "cancelled",
        RequestOutcome::Rescheduled { .. } => "rescheduled",
        RequestOutcome::Rejected => "rejected",
    }
}

fn appointment_event(a: &Appointment, at: DateTime<Utc>) -> ReportingEvent {
    ReportingEvent::Appointment {
        at,
        patient: a.patient.clone(),
        appointment: a.id.clone(),
        appointment_date: a.start,
        ods_code: a.organisation.ods_code.clone(),
        status: a.status,
    }
}

fn conflict_is_not_pending(e: StoreError) -> WorklistError {
    match e {
        StoreError::Conflict(_) => WorklistError::NotPending,
        StoreError::NotFound => WorklistError::NotFound,
        e => WorklistError::Store(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, DemoData};
    use crate::simulated::{Fault, FaultPlan, FaultRule, PasOperation};
    use chrono::{Duration, TimeZone};
    use nhs_portal_core::clock::ManualClock;
    use nhs_portal_core::store::memory::MemoryStore;
    use nhs_portal_core::store::{AuditLog, Outbox, RequestStore};
    use nhs_portal_core::{AppointmentStatus, RequestStatus};

    struct World {
        clock: Arc<ManualClock>,
        store: Arc<MemoryStore>,
        pas: Arc<SimulatedPas>,
        data: DemoData,
    }

    async fn world() -> World {
        let now = Utc.with_ymd_and_hms(2026, 5, 11, 9, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let data = DemoData::build(now);
        let pas = Arc::new(data.simulated_pas(clock.clone()));
        let store = Arc::new(MemoryStore::new());
        demo::seed_store(store.as_ref(), &data).await.unwrap();
        World {
            clock,
            store,
            pas,
            data,
        }
    }

    impl World {
        fn simulated(&self) -> Worklist {
            Worklist::new(self.store.clone(), self.pas.clone(), self.clock.clone())
                .with_applier(self.pas.clone())
        }
        fn real(&self) -> Worklist {
            Worklist::new(self.store.clone(), self.pas.clone(), self.clock.clone())
        }
        fn request(&self, kind: RequestKind) -> PatientRequest {
            self.data
                .requests
                .iter()
                .find(|r| r.kind == kind)
                .unwrap()
                .clone()
        }
        async fn outbox(&self) -> Vec<ReportingEvent> {
            self.store
                .claim_events("test", 100, self.clock.now(), Duration::minutes(1))
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.event)
                .collect()
        }
    }

    fn ro() -> OdsCode {
        OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap()
    }

    #[tokio::test]
    async fn pending_lists_the_trusts_requests_with_the_overlay() {
        let w = world().await;
        let items = w.simulated().pending(&ro()).await.unwrap();
        assert_eq!(items.len(), 2);
        let statuses: Vec<_> = items
            .iter()
            .map(|i| i.appointment.as_ref().unwrap().request_status)
            .collect();
        assert_eq!(
            statuses,
            [
                Some(RequestStatus::PendingCancellation),
                Some(RequestStatus::PendingReschedule)
            ]
        );
        let rt = OdsCode::parse(demo::REAL_TIME_TRUST_ODS).unwrap();
        assert!(w.simulated().pending(&rt).await.unwrap().is_empty());
        // a PAS outage still lists the requests, without appointments
        w.pas.set_faults(
            FaultPlan::new()
                .rule(FaultRule::new(Fault::Unavailable).on(PasOperation::GetAppointment)),
        );
        let items = w.simulated().pending(&ro()).await.unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| i.appointment.is_none()));
    }

    #[tokio::test]
    async fn staff_fulfil_a_cancellation_end_to_end() {
        let w = world().await;
        let req = w.request(RequestKind::Cancel);
        w.clock.advance(Duration::hours(2));
        let r = w
            .simulated()
            .fulfil(
                &ro(),
                req.id,
                "Jo Bloggs",
                &RequestOutcome::Cancelled,
                Some("done".into()),
            )
            .await
            .unwrap();
        assert_eq!(r.request.state, RequestState::Fulfilled);
        assert_eq!(r.request.resolved_at, Some(w.clock.now()));
        assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
        assert_eq!(
            w.pas.inspect_appointment(&req.appointment).unwrap().status,
            AppointmentStatus::Cancelled
        );
        // the overlay is gone
        let pending = w
            .store
            .pending_requests_for_patient(&req.patient)
            .await
            .unwrap();
        assert_eq!(pending.len(), 1);
        assert!(pending.iter().all(|p| p.id != req.id));
        // outcome recorded: events in the outbox, audit with the staff actor
        let events = w.outbox().await;
        assert_eq!(events.len(), 2);
        assert!(matches!(
            &events[0],
            ReportingEvent::Cancelled { appointment, reason: ChangeReason::Patient, .. } if *appointment == req.appointment
        ));
        assert!(matches!(
            &events[1],
            ReportingEvent::Appointment {
                status: AppointmentStatus::Cancelled,
                ..
            }
        ));
        let audit = w.store.audit_for_patient(&req.patient, 1).await.unwrap();
        assert_eq!(audit[0].actor, "staff:Jo Bloggs");
        assert_eq!(audit[0].action, AuditAction::RequestFulfilled);
        // twice: not pending any more
        assert!(matches!(
            w.simulated()
                .fulfil(&ro(), req.id, "Jo Bloggs", &RequestOutcome::Cancelled, None)
                .await,
            Err(WorklistError::NotPending)
        ));
        // the PAS event it caused resolves nothing further
        let report = w.simulated().sync_from_pas(w.data.now).await.unwrap();
        assert!(report.resolved.is_empty());
        assert_eq!(report.without_request, 1);
    }

    #[tokio::test]
    async fn staff_fulfil_a_reschedule_in_place_and_by_rebooking() {
        let w = world().await;
        let req = w.request(RequestKind::Reschedule);
        let new_start = w.data.now + Duration::days(50);
        let r = w
            .simulated()
            .fulfil(
                &ro(),
                req.id,
                "Jo Bloggs",
                &RequestOutcome::Rescheduled {
                    replaced_by: None,
                    new_start: Some(new_start),
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.appointment.start, new_start);
        assert_eq!(r.appointment.status, AppointmentStatus::Booked);
        let events = w.outbox().await;
        assert!(matches!(
            &events[..],
            [
                ReportingEvent::Rescheduled { new_appointment: None, reason: ChangeReason::Patient, .. },
                ReportingEvent::Appointment { status: AppointmentStatus::Booked, appointment_date, .. }
            ] if *appointment_date == new_start
        ));
    }

    #[tokio::test]
    async fn staff_reject_leaves_the_appointment_booked() {
        let w = world().await;
        let req = w.request(RequestKind::Cancel);
        let r = w
            .simulated()
            .reject(&ro(), req.id, "Sam", Some("Please call us".into()))
            .await
            .unwrap();
        assert_eq!(r.request.state, RequestState::Rejected);
        assert_eq!(r.request.resolution_note.as_deref(), Some("Please call us"));
        assert_eq!(r.appointment.status, AppointmentStatus::Booked);
        assert_eq!(r.appointment.request_status, None);
        assert_eq!(
            w.pas.inspect_appointment(&req.appointment).unwrap().status,
            AppointmentStatus::Booked
        );
        let events = w.outbox().await;
        assert!(matches!(
            &events[..],
            [ReportingEvent::Appointment {
                status: AppointmentStatus::Booked,
                ..
            }]
        ));
        let audit = w.store.audit_for_patient(&req.patient, 1).await.unwrap();
        assert_eq!(audit[0].action, AuditAction::RequestRejected);
        assert_eq!(audit[0].actor, "staff:Sam");
    }

    #[tokio::test]
    async fn refusals_are_typed_and_change_nothing() {
        let w = world().await;
        let cancel = w.request(RequestKind::Cancel);
        let resched = w.request(RequestKind::Reschedule);
        let rt = OdsCode::parse(demo::REAL_TIME_TRUST_ODS).unwrap();
        let moved = RequestOutcome::Rescheduled {
            replaced_by: None,
            new_start: Some(w.data.now + Duration::days(3)),
        };
        let wl = w.simulated();
        let cases: Vec<(Result<Resolution, WorklistError>, &str)> = vec![
            (
                wl.fulfil(&rt, cancel.id, "A", &RequestOutcome::Cancelled, None)
                    .await,
                "not found",
            ),
            (
                wl.fulfil(
                    &ro(),
                    uuid::Uuid::new_v4(),
                    "A",
                    &RequestOutcome::Cancelled,
                    None,
                )
                .await,
                "not found",
            ),
            (
                wl.fulfil(&ro(), cancel.id, "A", &moved, None).await,
                "mismatch",
            ),
            (
                wl.fulfil(&ro(), resched.id, "A", &RequestOutcome::Cancelled, None)
                    .await,
                "mismatch",
            ),
            (
                wl.fulfil(&ro(), cancel.id, "A", &RequestOutcome::Rejected, None)
                    .await,
                "mismatch",
            ),
            (
                wl.fulfil(&ro(), cancel.id, "  ", &RequestOutcome::Cancelled, None)
                    .await,
                "name",
            ),
            (wl.reject(&ro(), cancel.id, "A\nB", None).await, "name"),
        ];
        for (got, want) in cases {
            match (got, want) {
                (Err(WorklistError::NotFound), "not found")
                | (Err(WorklistError::Mismatch), "mismatch")
                | (Err(WorklistError::BadStaffName), "name") => {}
                (g, w) => panic!("{g:?} vs {w}"),
            }
        }
        // a PAS fault during fulfilment leaves the request pending and the PAS unchanged
        w.pas.set_faults(
            FaultPlan::new().rule(FaultRule::new(Fault::Timeout).on(PasOperation::GetAppointment)),
        );
        assert!(matches!(
            wl.fulfil(&ro(), cancel.id, "A", &RequestOutcome::Cancelled, None)
                .await,
            Err(WorklistError::Pas(PasError::Timeout))
        ));
        assert_eq!(
            w.store
                .pending_requests_for_patient(&cancel.patient)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            w.pas
                .inspect_appointment(&cancel.appointment)
                .unwrap()
                .status,
            AppointmentStatus::Booked
        );
        assert!(w.outbox().await.is_empty());
    }

    #[tokio::test]
    async fn with_a_real_pas_the_change_must_be_made_there_first() {
        let w = world().await;
        let req = w.request(RequestKind::Cancel);
        assert!(matches!(
            w.real()
                .fulfil(&ro(), req.id, "A", &RequestOutcome::Cancelled, None)
                .await,
            Err(WorklistError::PasNotUpdated)
        ));
        // staff cancel in "their PAS" (the simulation's staff hook)
        w.pas
            .staff_acted(&req.appointment, &RequestOutcome::Cancelled)
            .unwrap();
        let r = w
            .real()
            .fulfil(&ro(), req.id, "A", &RequestOutcome::Cancelled, None)
            .await
            .unwrap();
        assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sync_loop_resolves_requests_in_the_background() {
        let w = world().await;
        let req = w.request(RequestKind::Cancel);
        let since = w.clock.now();
        // the first sync fails: the loop carries on
        w.pas.set_faults(
            FaultPlan::new().rule(
                FaultRule::new(Fault::Unavailable)
                    .on(PasOperation::PollEvents)
                    .times(1),
            ),
        );
        let task = tokio::spawn(
            w.real()
                .sync_loop(since, std::time::Duration::from_secs(30)),
        );
        w.pas
            .staff_acted(&req.appointment, &RequestOutcome::Cancelled)
            .unwrap();
        for _ in 0..3 {
            tokio::time::sleep(std::time::Duration::from_secs(31)).await;
        }
        task.abort();
        let resolved = w.store.get_request(req.id).await.unwrap().unwrap();
        assert_eq!(resolved.state, RequestState::Fulfilled);
        let recent = w.real().recent(&ro(), 10).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(
            recent[1].id, req.id,
            "newest first: the reschedule request is newer"
        );
    }

    #[tokio::test]
    async fn a_rebooking_in_the_pas_reports_both_appointments() {
        let w = world().await;
        let req = w.request(RequestKind::Reschedule);
        let new_start = w.data.now + Duration::days(40);
        // staff rebook in their PAS as a new appointment, then record it on the worklist
        let new = w.pas.staff_rebooked(&req.appointment, new_start).unwrap();
        let outcome = RequestOutcome::Rescheduled {
            replaced_by: Some(new.id.clone()),
            new_start: Some(new_start),
        };
        let r = w
            .real()
            .fulfil(&ro(), req.id, "Jo", &outcome, None)
            .await
            .unwrap();
        assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
        let events = w.outbox().await;
        assert!(matches!(
            &events[..],
            [
                ReportingEvent::Rescheduled { new_appointment: Some(n), .. },
                ReportingEvent::Appointment { status: AppointmentStatus::Cancelled, .. },
                ReportingEvent::Appointment { status: AppointmentStatus::Booked, appointment, .. },
            ] if *n == new.id && *appointment == new.id
        ));
    }

    #[tokio::test]
    async fn an_event_for_a_vanished_appointment_does_not_stall_the_sync() {
        let w = world().await;
        let req = w.request(RequestKind::Cancel);
        let at = w.clock.now();
        let mut pas = crate::MockPasBackend::new();
        let id = req.appointment.clone();
        pas.expect_poll_events().returning(move |_| {
            Ok(vec![PasEvent {
                appointment: id.clone(),
                outcome: RequestOutcome::Cancelled,
                at,
            }])
        });
        pas.expect_get_appointment().returning(|_, _| Ok(None));
        let wl = Worklist::new(w.store.clone(), Arc::new(pas), w.clock.clone());
        let report = wl.sync_from_pas(at).await.unwrap();
        assert_eq!(report.left_pending, 1);
        assert!(report.resolved.is_empty());
        assert_eq!(report.next_since, at);
        assert_eq!(
            w.store.get_request(req.id).await.unwrap().unwrap().state,
            RequestState::Pending
        );
    }

    #[tokio::test]
    async fn sync_from_pas_resolves_requests_the_trust_acted_on() {
        let w = world().await;
        let since = w.clock.now();
        let cancel = w.request(RequestKind::Cancel);
        let resched = w.request(RequestKind::Reschedule);
        w.clock.advance(Duration::minutes(5));
        // staff act in the PAS only: cancel the first, and cancel (not move) the second
        w.pas
            .staff_acted(&cancel.appointment, &RequestOutcome::Cancelled)
            .unwrap();
        w.clock.advance(Duration::minutes(1));
        w.pas
            .staff_acted(&resched.appointment, &RequestOutcome::Cancelled)
            .unwrap();
        // and an unrelated PAS-side change
        w.pas
            .staff_acted(
                &demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED),
                &RequestOutcome::Cancelled,
            )
            .unwrap();
        let report = w.real().sync_from_pas(since).await.unwrap();
        assert_eq!(report.resolved.len(), 1);
        assert_eq!(report.resolved[0].id, cancel.id);
        assert_eq!(report.resolved[0].state, RequestState::Fulfilled);
        assert_eq!(
            report.left_pending, 1,
            "a cancelled appointment with a pending reschedule"
        );
        assert_eq!(report.without_request, 1);
        assert_eq!(report.next_since, w.clock.now());
        let audit = w.store.audit_for_patient(&cancel.patient, 1).await.unwrap();
        assert_eq!(audit[0].actor, "pas:R9E");
        let events = w.outbox().await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event_code(), "APPT-CANC");
        // syncing again (inclusive cursor) changes nothing
        let again = w.real().sync_from_pas(report.next_since).await.unwrap();
        assert!(again.resolved.is_empty());
        assert!(w.outbox().await.is_empty());

        // a rejection recorded in the PAS clears the reschedule request
        w.clock.advance(Duration::minutes(1));
        w.pas
            .staff_acted(&resched.appointment, &RequestOutcome::Rejected)
            .unwrap();
        let report = w.real().sync_from_pas(again.next_since).await.unwrap();
        assert_eq!(report.resolved.len(), 1);
        assert_eq!(report.resolved[0].state, RequestState::Rejected);
        assert!(
            w.store
                .pending_requests_for_patient(&resched.patient)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
