//! The audit trail, and the one call that writes an audit record with its reporting events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::{AppointmentId, NhsNumber, ReportingEvent};

/// What a patient (or staff member, for a patient) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AuditAction {
    /// Signed in.
    SignedIn,
    /// Signed out.
    SignedOut,
    /// The session timed out.
    SessionExpired,
    /// Viewed the list of appointments.
    ViewedAppointments,
    /// Viewed one appointment.
    ViewedAppointment,
    /// Was refused an appointment that is not theirs (or does not exist).
    AccessRefused,
    /// Cancelled in real time.
    Cancelled,
    /// Asked to cancel.
    CancelRequested,
    /// Rescheduled in real time.
    Rescheduled,
    /// Asked to reschedule.
    RescheduleRequested,
    /// Confirmed they will attend.
    AttendanceConfirmed,
    /// Staff fulfilled a request.
    RequestFulfilled,
    /// Staff rejected a request.
    RequestRejected,
    /// The trust changed the appointment in its PAS and the portal reported it (the detail names
    /// the PAS's version of the change, so it is reported once).
    PasChangeReported,
}

impl AuditAction {
    /// A stable name, for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::SignedOut => "signed_out",
            Self::SessionExpired => "session_expired",
            Self::ViewedAppointments => "viewed_appointments",
            Self::ViewedAppointment => "viewed_appointment",
            Self::AccessRefused => "access_refused",
            Self::Cancelled => "cancelled",
            Self::CancelRequested => "cancel_requested",
            Self::Rescheduled => "rescheduled",
            Self::RescheduleRequested => "reschedule_requested",
            Self::AttendanceConfirmed => "attendance_confirmed",
            Self::RequestFulfilled => "request_fulfilled",
            Self::RequestRejected => "request_rejected",
            Self::PasChangeReported => "pas_change_reported",
        }
    }

    /// Every action.
    pub const ALL: [Self; 14] = [
        Self::SignedIn,
        Self::SignedOut,
        Self::SessionExpired,
        Self::ViewedAppointments,
        Self::ViewedAppointment,
        Self::AccessRefused,
        Self::Cancelled,
        Self::CancelRequested,
        Self::Rescheduled,
        Self::RescheduleRequested,
        Self::AttendanceConfirmed,
        Self::RequestFulfilled,
        Self::RequestRejected,
        Self::PasChangeReported,
    ];

    /// Parses [`AuditAction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One entry in the audit trail. Audit records hold patient identifiers on purpose; they are not
/// logs and are kept in the store, never written to the log output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// Whose data.
    pub patient: NhsNumber,
    /// Who acted: `patient`, or `staff:{name}` for the trust worklist.
    pub actor: String,
    /// The session's reporting id, when a patient session acted.
    pub session: Option<String>,
    /// What.
    pub action: AuditAction,
    /// The appointment concerned.
    pub appointment: Option<AppointmentId>,
    /// A short detail (a reason code, a new time), never free text from the patient.
    pub detail: Option<String>,
}

/// The append-only audit trail.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Writes one audit record and the reporting events of the same action **in one
    /// transaction**: either both are stored or neither is.
    ///
    /// This is the call for every action the portal audits and reports, for example a viewed
    /// appointment (`ViewedAppointment` plus `APPT-VIEW`), a real-time cancel done without an
    /// idempotency key, or a sign-in; `events` may be empty (an audited action with nothing to
    /// report). Use it rather than an audit write followed by [`Outbox::enqueue_events`]: two
    /// calls can leave an audited action unreported (or reported but not audited) if the process
    /// stops between them.
    ///
    /// Writes that go with other state have their own one-transaction calls, which take the
    /// audit record and events too: [`RequestStore::submit_request`],
    /// [`RequestStore::resolve_request`] and [`IdempotencyStore::record_action`].
    ///
    /// The events join the outbox in the order given, after every event already waiting.
    ///
    /// [`Outbox::enqueue_events`]: super::Outbox::enqueue_events
    /// [`RequestStore::submit_request`]: super::RequestStore::submit_request
    /// [`RequestStore::resolve_request`]: super::RequestStore::resolve_request
    /// [`IdempotencyStore::record_action`]: super::IdempotencyStore::record_action
    async fn record(
        &self,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError>;

    /// Appends one record with no reporting events: shorthand for
    /// [`record(record, &[])`](AuditLog::record).
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.record(record, &[]).await
    }

    /// A patient's records, newest first (by `at`; records with the same `at` newest-appended
    /// first), at most `limit`.
    async fn audit_for_patient(
        &self,
        patient: &NhsNumber,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}
