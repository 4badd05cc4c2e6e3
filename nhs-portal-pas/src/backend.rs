//! The [`PasBackend`] trait: what the portal asks of a trust's PAS.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::store::SeenAppointment;
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

/// What changed in the PAS, as [`PasBackend::poll_events`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasChange {
    /// A new appointment appeared (booked by the trust, or the new half of a cancel + rebook).
    Booked,
    /// Moved: in place to `new_start`, or replaced by a new appointment `replaced_by` (a "cancel
    /// + new booking" the adapter recognised as one move).
    Moved {
        /// The new start, when moved in place (or the replacement's start).
        new_start: Option<DateTime<Utc>>,
        /// The new appointment, when the PAS made a new one and cancelled this one.
        replaced_by: Option<AppointmentId>,
    },
    /// Cancelled, by the patient or the hospital (FHIR `cancelationReason` `pat` or `pat-cpp`
    /// mean the patient).
    Cancelled {
        /// Who cancelled.
        by: ChangeReason,
    },
    /// The patient did not attend (FHIR `noshow`).
    NoShow,
    /// The patient attended (FHIR `fulfilled`; `arrived` and `checked-in` are not events: the
    /// appointment is still today's).
    Attended,
    /// Withdrawn: entered in error or deleted in the PAS; it leaves lists and the PCA feed.
    Withdrawn,
    /// The trust declined the pending request; the appointment is unchanged.
    RequestRejected,
}

impl PasChange {
    /// The outcome this change gives a pending request, for the changes that answer one:
    /// `Cancelled` is [`RequestOutcome::Cancelled`], `Moved` is [`RequestOutcome::Rescheduled`],
    /// `RequestRejected` is [`RequestOutcome::Rejected`]; `None` for the others.
    pub fn request_outcome(&self) -> Option<RequestOutcome> {
        match self {
            Self::Cancelled { .. } => Some(RequestOutcome::Cancelled),
            Self::Moved {
                new_start,
                replaced_by,
            } => Some(RequestOutcome::Rescheduled {
                replaced_by: replaced_by.clone(),
                new_start: *new_start,
            }),
            Self::RequestRejected => Some(RequestOutcome::Rejected),
            Self::Booked | Self::NoShow | Self::Attended | Self::Withdrawn => None,
        }
    }

    /// Whether this change makes any pending request on the appointment moot (it is over or
    /// gone: a no-show, an attendance, a withdrawal), so the request resolves as stale.
    pub fn makes_request_moot(&self) -> bool {
        matches!(self, Self::NoShow | Self::Attended | Self::Withdrawn)
    }

    /// The change that answers a pending request with `outcome` (a cancellation made on the
    /// patient's request counts as the patient's).
    pub fn from_request_outcome(outcome: &RequestOutcome) -> Self {
        match outcome {
            RequestOutcome::Cancelled => Self::Cancelled {
                by: ChangeReason::Patient,
            },
            RequestOutcome::Rescheduled {
                replaced_by,
                new_start,
            } => Self::Moved {
                new_start: *new_start,
                replaced_by: replaced_by.clone(),
            },
            RequestOutcome::Rejected => Self::RequestRejected,
        }
    }
}

/// Something the trust did in its PAS that the portal must learn about: a change to an
/// appointment, or its answer to a pending request.
///
/// `(appointment, version)` identifies a change: the same one may be delivered twice
/// (overlapping polls), and consumers process it once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasEvent {
    /// The appointment concerned.
    pub appointment: AppointmentId,
    /// Its patient.
    pub patient: NhsNumber,
    /// What changed.
    pub change: PasChange,
    /// When the trust acted (for FHIR, the resource's `meta.lastUpdated`).
    pub at: DateTime<Utc>,
    /// The de-duplication key with `appointment`: the resource version (FHIR `meta.versionId`),
    /// or any text unique per change.
    pub version: String,
    /// The appointment as the PAS holds it after the change (the last one seen for
    /// [`PasChange::Withdrawn`]), so a consumer can report it without another PAS read.
    pub snapshot: Option<Appointment>,
}

impl PasEvent {
    /// An event without a snapshot (add one with [`PasEvent::with_snapshot`]).
    pub fn new(
        appointment: AppointmentId,
        patient: NhsNumber,
        change: PasChange,
        at: DateTime<Utc>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            appointment,
            patient,
            change,
            at,
            version: version.into(),
            snapshot: None,
        }
    }

    /// The event with the appointment as the PAS holds it after the change.
    pub fn with_snapshot(mut self, snapshot: Appointment) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// The last-seen record this change leaves: what a consumer records
    /// ([`PasFeedStore::record_seen`](nhs_portal_core::store::PasFeedStore::record_seen)) once
    /// it has processed the change, and what the FHIR
    /// adapter compares the next change of the appointment with.
    pub fn seen(&self) -> SeenAppointment {
        let (status, start) = match &self.change {
            PasChange::Cancelled { .. }
            | PasChange::Moved {
                replaced_by: Some(_),
                ..
            } => ("cancelled", None),
            PasChange::Moved {
                new_start: Some(start),
                replaced_by: None,
            } => ("booked", Some(*start)),
            PasChange::NoShow => ("noshow", None),
            PasChange::Attended => ("fulfilled", None),
            PasChange::Withdrawn => ("withdrawn", None),
            PasChange::Booked | PasChange::Moved { .. } | PasChange::RequestRejected => {
                ("booked", None)
            }
        };
        SeenAppointment {
            appointment: self.appointment.clone(),
            version: self.version.clone(),
            status: status.into(),
            start: start.or_else(|| self.snapshot.as_ref().map(|a| a.start)),
            at: self.at,
        }
    }
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
/// return [`PasError`]s a caller can act on: [`PasError::Timeout`] and
/// [`PasError::Unavailable`] when the PAS does not answer, [`PasError::BadData`] when it answers
/// with something the adapter cannot read. Each method's docs state the rules it must keep; the
/// name in backticks after a rule is the conformance kit's check for it
/// (`nhs_portal_pas::conformance`, feature `conformance`), which names the rule and the method
/// when it fails. `docs/pas-adapter.md` walks through writing an adapter.
///
/// **Ownership.** Every method that takes a patient only returns that patient's data: an
/// appointment that exists but belongs to someone else is reported exactly like one that does
/// not exist. Methods that take an [`Appointment`] (capabilities, cancel, find_slots,
/// reschedule) must not trust its fields: re-read the record by `appointment.id` and answer
/// [`PasError::NotFound`] when it is unknown or its patient is not `appointment.patient` (a
/// forged `patient`). The portal passes what it read, but the rule must hold whoever calls.
///
/// ```
/// use nhs_portal_pas::{PasBackend, PasError};
/// # use nhs_portal_core::Appointment;
/// /// The re-read every method that takes an `Appointment` starts with.
/// async fn own_record(pas: &dyn PasBackend, given: &Appointment) -> Result<Appointment, PasError> {
///     pas.get_appointment(&given.patient, &given.id).await?.ok_or(PasError::NotFound)
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasBackend: Send + Sync {
    /// The patient's record, or `Ok(None)` when this PAS does not know them (`odd input`).
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError>;

    /// All of a patient's appointments, past and future, cancelled included.
    ///
    /// - Only this patient's: never an appointment of another patient (`own data only`).
    /// - A patient the PAS does not know has an empty list, not an error (`odd input`).
    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError>;

    /// One appointment, only if it is this patient's.
    ///
    /// - Another patient's appointment is `Ok(None)`, exactly like a missing one (`own data
    ///   only`).
    /// - An unknown or odd-looking id (any valid [`AppointmentId`]: `0`, `-`, 64 characters)
    ///   is `Ok(None)`, never an error or a panic (`odd input`).
    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError>;

    /// What this PAS can do with this appointment (real time, request only, or not offered).
    ///
    /// - Re-reads the record: unknown, or not `appointment.patient`'s, is
    ///   [`PasError::NotFound`] (`own data only`).
    /// - What it answers is what [`PasBackend::cancel`] and [`PasBackend::reschedule`] then do:
    ///   a request-only trust answers no real-time mode (`capabilities honoured`).
    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError>;

    /// One appointment with what this PAS can do with it, in one call: what a page view needs.
    /// The default is [`PasBackend::get_appointment`] then [`PasBackend::capabilities`]; an
    /// adapter that can answer both from one read of its PAS overrides it (a wrapper forwards
    /// it).
    ///
    /// - Another patient's appointment is `Ok(None)`, exactly like a missing one (`own data
    ///   only`); an unknown or odd-looking id is `Ok(None)` (`odd input`).
    /// - The capabilities are the ones [`PasBackend::capabilities`] answers for the appointment
    ///   (`capabilities honoured`).
    async fn appointment_with_capabilities(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        let Some(appointment) = self.get_appointment(patient, id).await? else {
            return Ok(None);
        };
        let capabilities = self.capabilities(&appointment).await?;
        Ok(Some((appointment, capabilities)))
    }

    /// Cancels in real time and returns the appointment as now held (the same id, status
    /// cancelled, as a read back shows).
    ///
    /// - Re-reads the record: unknown, or not `appointment.patient`'s, is
    ///   [`PasError::NotFound`], and nothing changes (`own data only`).
    /// - Idempotent: cancelling an appointment that is already cancelled returns it unchanged,
    ///   not an error (`idempotent cancel`).
    /// - Where the trust only takes requests: [`PasError::NotSupported`], nothing changes
    ///   (`capabilities honoured`).
    /// - A past appointment (it started before now, or is fulfilled or a no-show):
    ///   [`PasError::InvalidState`], nothing changes (`past stays past`).
    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError>;

    /// Free slots the appointment can move to, starting between `from` and `to`.
    ///
    /// - Re-reads the record like [`PasBackend::cancel`] (`own data only`).
    /// - Only slots [`PasBackend::reschedule`] would accept for this appointment now: the same
    ///   trust, clinic and specialty, starting after now and before the trust's booking horizon
    ///   ([`BOOKING_HORIZON_DAYS`] by default) whatever `to` says (`offered slots only`).
    /// - A slot another reschedule took is no longer offered (`no double booking`).
    /// - At a request-only trust: [`PasError::NotSupported`] or an empty list, either is fine
    ///   (`capabilities honoured`).
    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError>;

    /// Moves the appointment to a slot in real time and returns the appointment as now booked
    /// (the same id, or a new appointment that replaced it), starting at the slot's start.
    ///
    /// - Re-reads the record: unknown, or not `appointment.patient`'s, is
    ///   [`PasError::NotFound`] (`own data only`).
    /// - Where the trust only takes requests: [`PasError::NotSupported`] (`capabilities
    ///   honoured`); a past appointment: [`PasError::InvalidState`] (`past stays past`).
    /// - Only a slot this PAS would offer this appointment now ([`PasBackend::find_slots`] from
    ///   now to the booking horizon): an unknown slot, another trust's, another clinic's or
    ///   specialty's, or one beyond the horizon is [`PasError::SlotUnavailable`] and the
    ///   booking is unchanged (`offered slots only`).
    /// - Checking that the slot is free and taking it are one atomic step (a transaction, a
    ///   conditional update, a version check): of two calls into one slot at the same instant,
    ///   from two threads, exactly one wins and the other is [`PasError::SlotUnavailable`] with
    ///   its appointment unchanged (`no double booking`).
    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError>;

    /// Records that the patient confirmed they will attend, and returns the appointment as now
    /// held: booked, with [`RequestStatus::ConfirmedAttendance`](nhs_portal_core::RequestStatus)
    /// as its request status (as a read back shows).
    ///
    /// - Re-reads the record: unknown, or not `appointment.patient`'s, is
    ///   [`PasError::NotFound`], and nothing changes (`own data only`).
    /// - Where the trust does not offer it ([`Capabilities::confirm_attendance`] false):
    ///   [`PasError::NotSupported`], nothing changes (`capabilities honoured`). The default
    ///   answers that, so an adapter that does not offer it need not write this method.
    /// - Idempotent: confirming twice returns the appointment unchanged (`confirm attendance`).
    /// - An appointment that is not booked (cancelled, fulfilled, a no-show) or has started:
    ///   [`PasError::InvalidState`], nothing changes (`confirm attendance`).
    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        let _ = appointment;
        Err(PasError::NotSupported)
    }

    /// Changes in the PAS since `since` (inclusive), oldest first (polling). An adapter may also
    /// return changes from an overlap window before `since` and the same change twice (same
    /// `(appointment, version)`): consumers process each once. Backends that push instead return
    /// an empty list here.
    ///
    /// Each change the trust's staff make (a cancellation, a move, a declined request) is
    /// reported with the time it was made, oldest first, `since` honoured: the conformance check
    /// asks for exactly one event per change it made (`events`).
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError>;

    /// A cheap reachability check, for the portal's readiness report: `None` (the default) when
    /// the adapter has none, else whether the PAS answered. It never makes the portal unready
    /// (the PAS is the trust's, and a restart of ours would not mend it).
    async fn ping(&self) -> Option<Result<(), PasError>> {
        None
    }
}

/// A shared backend is a backend (so an `Arc<MyPas>` goes wherever a [`PasBackend`] does, the
/// conformance kit included).
#[async_trait]
impl<T: PasBackend + ?Sized> PasBackend for std::sync::Arc<T> {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        (**self).patient(patient).await
    }
    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        (**self).list_appointments(patient).await
    }
    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        (**self).get_appointment(patient, id).await
    }
    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        (**self).capabilities(appointment).await
    }
    async fn appointment_with_capabilities(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        (**self).appointment_with_capabilities(patient, id).await
    }
    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        (**self).cancel(appointment, reason).await
    }
    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        (**self).confirm_attendance(appointment).await
    }
    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        (**self).find_slots(appointment, from, to).await
    }
    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        (**self).reschedule(appointment, slot_id).await
    }
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        (**self).poll_events(since).await
    }
    async fn ping(&self) -> Option<Result<(), PasError>> {
        (**self).ping().await
    }
}
