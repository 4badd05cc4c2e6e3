//! The [`PasBackend`] trait: what the portal asks of a trust's PAS.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};

use crate::PasError;

/// How far ahead, in days, a trust offers free slots to patients by default (six weeks): the
/// portal searches this window and the adapters refuse a slot that starts beyond it.
pub const BOOKING_HORIZON_DAYS: i64 = 42;

/// A free slot a patient can move an appointment to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The slot's id in the PAS (opaque to the portal).
    pub id: String,
    /// When it starts (UTC).
    pub start: DateTime<Utc>,
    /// When it ends (UTC).
    pub end: DateTime<Utc>,
    /// Where, if it differs from the appointment's location.
    pub location: Option<String>,
    /// Who, if known.
    pub clinician: Option<String>,
}

/// The patient's reason for a cancellation, as sent to a real-time PAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelReason {
    /// A short reason code from the portal's list (for example `no-longer-needed`).
    pub code: String,
    /// The patient's own words, for "Other".
    pub text: Option<String>,
}

/// Something the trust did that the portal must learn about: the outcome of a request it
/// stored, or a change made on the PAS side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasEvent {
    /// The appointment concerned.
    pub appointment: AppointmentId,
    /// What happened to the pending request.
    pub outcome: RequestOutcome,
    /// When the trust acted.
    pub at: DateTime<Utc>,
}

/// What the PAS knows about a patient that decides whether the portal may show them anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRecord {
    /// The patient.
    pub nhs_number: NhsNumber,
    /// Date of birth (under-16s are never sent to the PCA or the Record Service).
    pub date_of_birth: chrono::NaiveDate,
    /// `false` when the trust flagged the patient as not allowed portal access (PCA rule SRCBR1a).
    pub portal_access: bool,
    /// `true` for PDS sensitive or restricted patients (PCA rule SRCBR1b).
    pub restricted: bool,
}

/// A trust's Patient Administration System, as the portal uses it.
///
/// Implementations must be safe to call concurrently, must never panic on odd data, and must
/// return [`PasError`]s a caller can act on. The conformance kit (`nhs_portal_pas::conformance`)
/// checks an implementation against this contract.
///
/// Every method that takes a patient only returns that patient's data: an appointment that
/// exists but belongs to someone else is reported exactly like one that does not exist.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasBackend: Send + Sync {
    /// The patient's record, or `Ok(None)` when this PAS does not know them.
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError>;

    /// All of a patient's appointments, past and future, cancelled included.
    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError>;

    /// One appointment, only if it is this patient's; `Ok(None)` otherwise.
    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError>;

    /// What this PAS can do with this appointment (real time, request only, or not offered).
    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError>;

    /// Cancels in real time. Cancelling an appointment that is already cancelled returns it
    /// unchanged (idempotent). [`PasError::NotSupported`] where the trust only takes requests.
    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError>;

    /// Free slots the appointment can move to, between `from` and `to`.
    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError>;

    /// Moves the appointment to a slot in real time and returns the appointment as now booked
    /// (the same id, or a new appointment that replaced it). Only a slot this PAS would offer
    /// this appointment now ([`PasBackend::find_slots`] from now to the trust's booking
    /// horizon) is accepted: a slot taken in the meantime, another trust's, another clinic's or
    /// specialty's, or one beyond the horizon is [`PasError::SlotUnavailable`]; the original
    /// booking is then unchanged.
    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError>;

    /// Outcomes and PAS-side changes since `since`, oldest first (polling). Backends that push
    /// instead return an empty list here.
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError>;
}
