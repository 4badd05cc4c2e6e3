//! The patient journeys as a service, separate from HTTP: view, cancel, reschedule and confirm
//! attendance.
//! (About 670 lines: every journey step with its idempotency and audit handling, and the holding-record rule at view and list; the reschedule,
//! eligibility, stale requests and key locks are in submodules; its tests are
//! in `journeys/tests.rs`.)
//!
//! Every method takes the signed-in [`PatientSession`] and only ever reads or changes that
//! patient's appointments: an id that does not exist and an id that belongs to someone else both
//! give [`JourneyError::CannotView`], so ids cannot be probed.
//!
//! The request-status overlay ([`nhs_portal_core::overlay`]): every appointment read here has the
//! store's pending request (if any) laid over it before the rules in
//! [`nhs_portal_core::request_status`] decide what the patient sees and may do; a request that
//! no longer fits (a request on a finished appointment) is resolved instead (`stale`). The reasons and
//! the check of the patient's answers are [`nhs_portal_core::reasons`].
//!
//! Real-time changes go to the PAS, then an audit record and reporting events are written.
//! Requests go to [`RequestStore::submit_request`](nhs_portal_core::store::RequestStore::submit_request) together with their audit record and
//! reporting events, in one transaction. A double submit (the same idempotency key) never makes
//! a second request or a second PAS change, and shows the first one's success (also when the two
//! arrive at once: `keys`); a key reused on another appointment or action is
//! [`JourneyError::KeyReused`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::holding::{self, Presence};
use nhs_portal_core::reporting::{ChangeReason, jump_off_event, with_parent};
use nhs_portal_core::request_status::{
    AllowedActions, CancelMode, Capabilities, Refusal, RequestKind, RescheduleMode, allowed_actions,
};
use nhs_portal_core::store::{
    ActionKey, ActionOutcome, AuditAction, AuditRecord, CompletedAction, KeyUse, NewRequest,
    PatientRequest, PatientSession, RealTimeAction, Recorded, Store, StoreError, Submitted,
};
use nhs_portal_core::{Appointment, AppointmentId, ReportingEvent};
use nhs_portal_pas::{CancelReason, PasBackend, PasError};

// The rules live in core; re-exported here for the pages that use them with the journeys.
pub use nhs_portal_core::overlay::overlay;
pub use nhs_portal_core::reasons::{
    CANCEL_REASONS, FieldError, MAX_DETAILS_CHARS, RESCHEDULE_REASONS, Reason, ReasonAnswers,
    reason_label, reasons_for,
};

/// How far ahead a real-time reschedule looks for free slots (the PAS's default booking
/// horizon, which the adapters also enforce).
pub const SLOT_SEARCH_DAYS: i64 = nhs_portal_pas::BOOKING_HORIZON_DAYS;

/// Why a journey step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JourneyError {
    /// The appointment does not exist or is not this patient's (the two are never told apart).
    #[error("the patient cannot view this appointment")]
    CannotView,
    /// The action is not allowed for this appointment now.
    #[error("this action is not allowed: {0}")]
    NotAllowed(Refusal),
    /// The chosen slot was taken or withdrawn in the meantime, or was never offered for this
    /// appointment.
    #[error("the chosen time is no longer available")]
    SlotUnavailable,
    /// The form's idempotency key was already used for another appointment or action (a
    /// forged or replayed form): nothing was done.
    #[error("the form's idempotency key was used for another appointment or action")]
    KeyReused,
    /// The answers given are not valid (the web layer shows them as form errors).
    #[error("the answers are not valid")]
    Invalid(Vec<FieldError>),
    /// The hospital's PAS refused the change under its own rules (for example too close to the
    /// appointment, or the record is locked by staff): nothing was changed.
    #[error("the hospital's system refused the change")]
    HospitalRefused {
        /// The PAS's explanation, if it gave one (its own words: never log it).
        text: String,
    },
    /// The PAS failed (timeout, unavailable, refused the portal's credentials, bad data).
    #[error("the PAS failed")]
    Pas(#[source] PasError),
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// The patient may not be served by the portal (the eligibility rule, see
    /// [`Journeys::check_eligible`]).
    #[error("the patient is not eligible: {0}")]
    Ineligible(nhs_portal_core::eligibility::Ineligible),
}

impl From<PasError> for JourneyError {
    fn from(e: PasError) -> Self {
        match e {
            PasError::NotFound => Self::CannotView,
            PasError::SlotUnavailable => Self::SlotUnavailable,
            PasError::NotSupported => Self::NotAllowed(Refusal::NotOffered),
            PasError::InvalidState(_) => Self::NotAllowed(Refusal::NotBooked),
            PasError::BusinessRule { text } => Self::HospitalRefused { text },
            other => Self::Pas(other),
        }
    }
}

/// One appointment as the patient sees it now.
#[derive(Debug, Clone)]
pub struct AppointmentView {
    /// The appointment, with the store's pending request laid over it.
    pub appointment: Appointment,
    /// What the trust's PAS can do with it.
    pub capabilities: Capabilities,
    /// What the patient may do now.
    pub allowed: AllowedActions,
    /// The pending request in the portal's store, if any.
    pub pending: Option<PatientRequest>,
}

/// The patient's appointments as the list page shows them ([`Journeys::appointment_lists`]).
#[derive(Debug, Clone, Default)]
pub struct AppointmentLists {
    /// Booked and in the future, soonest first.
    pub upcoming: Vec<Appointment>,
    /// Everything else, latest first.
    pub past: Vec<Appointment>,
    /// Holding records their trusts show as "On the waiting list" (no date, no actions).
    pub waiting_list: Vec<Appointment>,
}

/// A deep-link jump-off from the NHS App (a view of the appointment page through a deep link,
/// not a click inside the portal): it is reported, with the link's tracking id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JumpOff<'a> {
    /// The deep link's `trackingId`.
    pub tracking_id: Option<&'a str>,
}

/// How a cancellation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The PAS cancelled it (real time).
    Cancelled(Appointment),
    /// A request was stored for the trust's staff (a duplicate submit returns the first one).
    Requested(PatientRequest),
}

/// The journeys service.
#[derive(Clone)]
pub struct Journeys {
    pas: Arc<dyn PasBackend>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    eligibility: nhs_portal_core::eligibility::Eligibility,
    locks: keys::KeyLocks,
}

impl std::fmt::Debug for Journeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journeys").finish_non_exhaustive()
    }
}

fn audit(
    session: &PatientSession,
    at: DateTime<Utc>,
    action: AuditAction,
    appointment: Option<&AppointmentId>,
    detail: Option<String>,
) -> AuditRecord {
    AuditRecord {
        at,
        patient: session.patient.clone(),
        actor: "patient".into(),
        session: Some(session.reporting_id.clone()),
        action,
        appointment: appointment.cloned(),
        detail,
    }
}

impl Journeys {
    /// The PAS the journeys call (for the readiness report's reachability check).
    pub fn pas(&self) -> &Arc<dyn PasBackend> {
        &self.pas
    }

    /// A journeys service over a PAS, a store and a clock.
    pub fn new(pas: Arc<dyn PasBackend>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            pas,
            store,
            clock,
            eligibility: nhs_portal_core::eligibility::Eligibility::DEFAULT,
            locks: keys::KeyLocks::default(),
        }
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The patient's appointments with the overlay: upcoming (soonest first) and past (latest
    /// first). Upcoming means booked and in the future; everything else is past. No holding
    /// record is in either ([`Journeys::appointment_lists`] has those the trust shows).
    pub async fn appointments(
        &self,
        session: &PatientSession,
    ) -> Result<(Vec<Appointment>, Vec<Appointment>), JourneyError> {
        let lists = self.appointment_lists(session).await?;
        Ok((lists.upcoming, lists.past))
    }

    /// The patient's appointments as the list page shows them: [`Journeys::appointments`]'s
    /// upcoming and past ones, and the holding records their trusts show as "On the waiting
    /// list" (the others are left out: [`nhs_portal_core::holding`]).
    pub async fn appointment_lists(
        &self,
        session: &PatientSession,
    ) -> Result<AppointmentLists, JourneyError> {
        let mut all = self.pas.list_appointments(&session.patient).await?;
        all.retain(|a| a.patient == session.patient);
        let mut waiting_list = Vec::new();
        let mut kept = Vec::with_capacity(all.len());
        for a in all {
            if !a.holding {
                kept.push(a);
                continue;
            }
            let display = self.pas.capabilities(&a).await?.holding;
            if holding::on_pages(&a, display) == Presence::WaitingList {
                waiting_list.push(a);
            }
        }
        let mut all = kept;
        let pending = self
            .store
            .pending_requests_for_patient(&session.patient)
            .await?;
        self.resolve_stale(overlay(&mut all, &pending)).await?;
        let now = self.now();
        self.store
            .append_audit(&audit(
                session,
                now,
                AuditAction::ViewedAppointments,
                None,
                None,
            ))
            .await?;
        let (mut upcoming, mut past): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| {
            a.status == nhs_portal_core::AppointmentStatus::Booked && a.is_future(now)
        });
        upcoming.sort_by_key(|a| a.start);
        past.sort_by_key(|a| std::cmp::Reverse(a.start));
        waiting_list.sort_by(|a, b| a.description.cmp(&b.description));
        Ok(AppointmentLists {
            upcoming,
            past,
            waiting_list,
        })
    }

    async fn load(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<AppointmentView, JourneyError> {
        // One PAS call for the record and what can be done with it (the adapters re-read by
        // id and never trust the overlay's fields, so reading both before the overlay is the
        // same answer).
        let found = self
            .pas
            .appointment_with_capabilities(&session.patient, id)
            .await?;
        let Some((mut appointment, capabilities)) =
            found.filter(|(a, _)| a.patient == session.patient)
        else {
            self.store
                .append_audit(&audit(
                    session,
                    self.now(),
                    AuditAction::AccessRefused,
                    Some(id),
                    None,
                ))
                .await?;
            return Err(JourneyError::CannotView);
        };
        let pending = self.store.pending_request_for(id).await?;
        let mut pending = pending.filter(|p| p.patient == session.patient);
        let stale = overlay(std::slice::from_mut(&mut appointment), pending.as_slice());
        if !stale.is_empty() {
            pending = None;
            self.resolve_stale(stale).await?;
        }
        if holding::on_pages(&appointment, capabilities.holding) == Presence::Hidden {
            // A holding record the trust keeps off the pages: as if it did not exist.
            self.store
                .append_audit(&audit(
                    session,
                    self.now(),
                    AuditAction::AccessRefused,
                    Some(id),
                    Some("holding-record".into()),
                ))
                .await?;
            return Err(JourneyError::CannotView);
        }
        let allowed = allowed_actions(&appointment, capabilities, self.now());
        Ok(AppointmentView {
            appointment,
            capabilities,
            allowed,
            pending,
        })
    }

    /// One appointment, for the appointment page: writes a "viewed" audit record and, for a
    /// deep-link jump-off, its reporting events in the same transaction: the parent (`APPT`,
    /// or `ADMISSION` for an inpatient or day-case admission) then the view (`APPT-VIEW` or
    /// `ADMISSION-VIEW`, with the jump-off's tracking id). See [`Journeys::view_with`].
    pub async fn view(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        jump_off: Option<JumpOff<'_>>,
    ) -> Result<AppointmentView, JourneyError> {
        let (view, ()) = self.view_with(session, id, jump_off, |_| ()).await?;
        Ok(view)
    }

    /// [`Journeys::view`], with `render` (the page, from the view) run while the audit record
    /// commits: the two overlap, so a page view does not spend the commit's time idle, and
    /// this returns only once the record is durable (an error if it could not be written,
    /// and then what `render` made is dropped, never shown). The record says the appointment
    /// was read from the PAS for this patient and is on its way to them.
    pub async fn view_with<R>(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        jump_off: Option<JumpOff<'_>>,
        render: impl FnOnce(&AppointmentView) -> R,
    ) -> Result<(AppointmentView, R), JourneyError> {
        let view = self.load(session, id).await?;
        let now = self.now();
        let events = match jump_off {
            Some(j) => with_parent(
                &view.appointment,
                now,
                [jump_off_event(
                    &view.appointment,
                    &session.reporting_id,
                    j.tracking_id,
                    now,
                )],
            ),
            None => Vec::new(),
        };
        let audit = audit(session, now, AuditAction::ViewedAppointment, Some(id), None);
        // The record's future goes first: its first poll hands the write to the store (the
        // SQLite writer commits on its own thread) before the page is rendered here.
        let (written, rendered) =
            tokio::join!(self.store.record(&audit, &events), async { render(&view) });
        written?;
        Ok((view, rendered))
    }

    /// One appointment without side effects (for journey pages that are not the appointment
    /// page itself).
    pub async fn peek(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<AppointmentView, JourneyError> {
        self.load(session, id).await
    }

    /// How this appointment can be cancelled now, or why not.
    pub async fn cancel_mode(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<(AppointmentView, CancelMode), JourneyError> {
        let view = self.load(session, id).await?;
        let mode = view.allowed.cancel.map_err(JourneyError::NotAllowed)?;
        Ok((view, mode))
    }

    /// How this appointment can be rescheduled now, or why not.
    pub async fn reschedule_mode(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<(AppointmentView, RescheduleMode), JourneyError> {
        let view = self.load(session, id).await?;
        let mode = view.allowed.reschedule.map_err(JourneyError::NotAllowed)?;
        Ok((view, mode))
    }

    /// What was done earlier under this idempotency key (a double submit), from its
    /// idempotency record; a key used for another patient, appointment or action is refused.
    async fn earlier_action(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        action: RealTimeAction,
        key: &str,
    ) -> Result<Option<ActionOutcome>, JourneyError> {
        let key = ActionKey {
            key: key.to_owned(),
            patient: session.patient.clone(),
            appointment: id.clone(),
            action,
        };
        match self.store.check_action_key(&key).await? {
            KeyUse::Unused => Ok(None),
            KeyUse::Done(outcome) => Ok(Some(outcome)),
            KeyUse::Refused => Err(JourneyError::KeyReused),
        }
    }

    /// Stores a real-time action's idempotency record with its audit record and events, in one
    /// transaction. The PAS change is done by now, so if the key was bound to another action
    /// in the meantime the audit record and events are still written.
    async fn record_real_time(
        &self,
        done: &CompletedAction,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), JourneyError> {
        match self.store.record_action(done, audit, events).await? {
            Recorded::Stored | Recorded::Duplicate(_) => Ok(()),
            Recorded::Refused => Ok(self.store.record(audit, events).await?),
        }
    }

    /// Cancels (real time) or asks to cancel (request only), as the trust's PAS allows.
    pub async fn cancel(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        answers: &ReasonAnswers,
        idempotency_key: &str,
    ) -> Result<CancelOutcome, JourneyError> {
        answers
            .validate(&CANCEL_REASONS, RequestKind::Cancel)
            .map_err(JourneyError::Invalid)?;
        let _one_at_a_time = self.locks.lock(&session.patient, idempotency_key).await;
        let view = self.load(session, id).await?;
        // A double submit of a request is answered by the store; of a real-time cancel by its
        // idempotency record (the PAS cancel itself is idempotent too).
        if view.capabilities.cancel == CancelMode::RealTime
            && self
                .earlier_action(session, id, RealTimeAction::Cancel, idempotency_key)
                .await?
                .is_some()
        {
            return Ok(CancelOutcome::Cancelled(view.appointment));
        }
        if let Some(p) = &view.pending
            && p.idempotency_key == idempotency_key
        {
            return Ok(CancelOutcome::Requested(p.clone()));
        }
        let mode = view.allowed.cancel.map_err(JourneyError::NotAllowed)?;
        let now = self.now();
        match mode {
            CancelMode::RealTime => {
                let reason = CancelReason {
                    code: answers.reason.clone(),
                    text: answers.details_trimmed(),
                };
                let cancelled = self.pas.cancel(&view.appointment, &reason).await?;
                self.record_real_time(
                    &CompletedAction {
                        key: idempotency_key.to_owned(),
                        patient: session.patient.clone(),
                        appointment: id.clone(),
                        outcome: ActionOutcome::Cancelled,
                        at: now,
                    },
                    &audit(
                        session,
                        now,
                        AuditAction::Cancelled,
                        Some(id),
                        Some(format!("reason={}", answers.reason)),
                    ),
                    &with_parent(
                        &cancelled,
                        now,
                        [ReportingEvent::Cancelled {
                            at: now,
                            appointment: id.clone(),
                            reason: ChangeReason::Patient,
                        }],
                    ),
                )
                .await?;
                Ok(CancelOutcome::Cancelled(cancelled))
            }
            CancelMode::Request => {
                let request = self
                    .submit(
                        session,
                        &view.appointment,
                        RequestKind::Cancel,
                        answers,
                        idempotency_key,
                    )
                    .await?;
                Ok(CancelOutcome::Requested(request))
            }
            CancelMode::NotOffered => Err(JourneyError::NotAllowed(Refusal::NotOffered)),
        }
    }

    async fn submit(
        &self,
        session: &PatientSession,
        appointment: &Appointment,
        kind: RequestKind,
        answers: &ReasonAnswers,
        idempotency_key: &str,
    ) -> Result<PatientRequest, JourneyError> {
        let now = self.now();
        let request = NewRequest {
            id: uuid::Uuid::new_v4(),
            idempotency_key: idempotency_key.to_owned(),
            appointment: appointment.id.clone(),
            patient: session.patient.clone(),
            ods_code: appointment.organisation.ods_code.clone(),
            kind,
            reason: answers.reason.clone(),
            details: answers.details_trimmed(),
            created_at: now,
        };
        let (action, event) = match kind {
            RequestKind::Cancel => (
                AuditAction::CancelRequested,
                ReportingEvent::CancelRequested {
                    at: now,
                    appointment: appointment.id.clone(),
                    session_id: session.reporting_id.clone(),
                },
            ),
            RequestKind::Reschedule => (
                AuditAction::RescheduleRequested,
                ReportingEvent::RescheduleRequested {
                    at: now,
                    appointment: appointment.id.clone(),
                    session_id: session.reporting_id.clone(),
                },
            ),
        };
        let record = audit(
            session,
            now,
            action,
            Some(&appointment.id),
            Some(format!("reason={}", answers.reason)),
        );
        match self
            .store
            .submit_request(&request, &record, &with_parent(appointment, now, [event]))
            .await?
        {
            Submitted::Created(r) => Ok(r),
            // A double submit of this very request: its answer again.
            Submitted::Duplicate(r)
                if r.patient == session.patient
                    && r.appointment == appointment.id
                    && r.kind == kind =>
            {
                Ok(r)
            }
            // The key was used for another appointment or kind of request.
            Submitted::Duplicate(_) => Err(JourneyError::KeyReused),
            Submitted::AlreadyPending(_) => Err(JourneyError::NotAllowed(Refusal::RequestPending)),
        }
    }

    /// Confirms that the patient will attend, where the trust offers it: the PAS records it
    /// (the appointment's request status becomes Confirmed Attendance), then one audit record
    /// and the events `APPT` (parent) and `APPT-REQUEST-CONFIRM` are written in one transaction.
    ///
    /// A second confirmation (a double submit, a replayed form) finds the appointment already
    /// confirmed and returns it without writing anything again; two at once are taken one at a
    /// time (`keys`). Anything else not allowed is [`JourneyError::NotAllowed`].
    pub async fn confirm_attendance(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<Appointment, JourneyError> {
        let _one_at_a_time = self
            .locks
            .lock(&session.patient, &format!("confirm-attendance:{id}"))
            .await;
        let view = self.load(session, id).await?;
        match view.allowed.confirm {
            Ok(()) => {}
            Err(Refusal::AlreadyConfirmed) => return Ok(view.appointment),
            Err(refusal) => return Err(JourneyError::NotAllowed(refusal)),
        }
        let confirmed = self.pas.confirm_attendance(&view.appointment).await?;
        let now = self.now();
        self.store
            .record(
                &audit(
                    session,
                    now,
                    AuditAction::AttendanceConfirmed,
                    Some(id),
                    None,
                ),
                &with_parent(
                    &confirmed,
                    now,
                    [ReportingEvent::AttendanceConfirmed {
                        at: now,
                        appointment: id.clone(),
                        session_id: session.reporting_id.clone(),
                    }],
                ),
            )
            .await?;
        Ok(confirmed)
    }

    /// Asks a request-only trust to reschedule: reason and preferred times are stored for staff.
    pub async fn request_reschedule(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        answers: &ReasonAnswers,
        idempotency_key: &str,
    ) -> Result<PatientRequest, JourneyError> {
        answers
            .validate(&RESCHEDULE_REASONS, RequestKind::Reschedule)
            .map_err(JourneyError::Invalid)?;
        let view = self.load(session, id).await?;
        if let Some(p) = &view.pending
            && p.idempotency_key == idempotency_key
        {
            return Ok(p.clone());
        }
        match view.allowed.reschedule.map_err(JourneyError::NotAllowed)? {
            RescheduleMode::Request => {
                self.submit(
                    session,
                    &view.appointment,
                    RequestKind::Reschedule,
                    answers,
                    idempotency_key,
                )
                .await
            }
            _ => Err(JourneyError::NotAllowed(Refusal::NotOffered)),
        }
    }
}

mod eligibility;
mod keys;
mod reschedule;
mod stale;
#[cfg(test)]
mod tests;
