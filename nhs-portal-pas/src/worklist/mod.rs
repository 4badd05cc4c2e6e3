//! The trust staff worklist: patients' cancel and reschedule requests to a request-only trust,
//! and how they are resolved.
//!
//! (Over 400 lines: the worklist's queries and both resolutions, fulfil and reject, with their
//! audit and reporting; the PAS sync is in `sync`, the tests in `tests`.)
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
//!
//! About 420 lines: the service, its types and its three staff actions with their checks belong
//! together. The module holds the service and its staff actions; [`Worklist::sync_from_pas`] is in
//! `sync.rs`, the tests in `tests.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::overlay::overlay;
use nhs_portal_core::request_status::{RequestKind, RequestOutcome, apply_outcome};
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, Resolution as StoreResolution, Resolve,
    Store, StoreError,
};
use nhs_portal_core::{Appointment, AppointmentId, OdsCode, ReportingEvent};

use crate::{PasBackend, PasError};

mod report;
mod sync;
#[cfg(test)]
mod tests;

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
    /// Changes already processed by an earlier sync (the same appointment and version), skipped.
    pub duplicates: usize,
    /// Wayfinder events the PAS-side changes wrote on their own (see `report`).
    pub reported: usize,
}

/// The trust staff worklist service. See the [module documentation](self).
#[derive(Clone)]
pub struct Worklist {
    store: Arc<dyn Store>,
    pas: Arc<dyn PasBackend>,
    applier: Option<Arc<dyn OutcomeApplier>>,
    clock: Arc<dyn Clock>,
    /// Held while a batch of PAS changes is processed (shared by clones).
    feed_lock: Arc<tokio::sync::Mutex<()>>,
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
            feed_lock: Arc::default(),
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
                    overlay(std::slice::from_mut(&mut a), std::slice::from_ref(&request));
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
        let resolve = Resolve {
            resolution: StoreResolution::Fulfilled,
            note,
            at,
        };
        self.record_decision(&request, &resolve, &audit, after, events)
            .await
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
        let resolve = Resolve {
            resolution: StoreResolution::Rejected,
            note,
            at,
        };
        self.record_decision(&request, &resolve, &audit, appointment, events)
            .await
    }

    /// Records a staff decision: one store call with its audit record and reporting events.
    async fn record_decision(
        &self,
        request: &PatientRequest,
        resolve: &Resolve,
        audit: &AuditRecord,
        appointment: Appointment,
        events: Vec<ReportingEvent>,
    ) -> Result<Resolution, WorklistError> {
        let resolved = self
            .store
            .resolve_request(request.id, resolve, audit, &events)
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

/// The parent event (`APPT`, or `ADMISSION` for an admission): the rule is core's.
fn appointment_event(a: &Appointment, at: DateTime<Utc>) -> ReportingEvent {
    nhs_portal_core::reporting::parent_event(a, at)
}

fn conflict_is_not_pending(e: StoreError) -> WorklistError {
    match e {
        StoreError::Conflict(_) => WorklistError::NotPending,
        StoreError::NotFound => WorklistError::NotFound,
        e => WorklistError::Store(e),
    }
}
