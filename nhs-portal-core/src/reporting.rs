//! Usage events the portal reports to NHS England's Wayfinder Reporting Service.
//!
//! These are domain events; `nhs-portal-reporting` turns them into the Wayfinder JSON events (or
//! the monthly CSV). They are written to the store's outbox in the same step as the action they
//! describe, so none is lost when delivery fails.

use chrono::{DateTime, Utc};

use crate::{AppointmentId, AppointmentStatus, NhsNumber, OdsCode};

/// Who caused a cancellation or reschedule (Wayfinder `Reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChangeReason {
    /// The patient.
    Patient,
    /// The hospital.
    Hospital,
}

/// How a patient session ended up (Wayfinder `SESSION.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SessionOutcome {
    /// Signed in.
    Success,
    /// The date of birth did not match.
    DobMismatch,
    /// Sign-in failed.
    Failed,
}

/// One usage event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ReportingEvent {
    /// A patient session (`SESSION`).
    Session {
        /// When.
        at: DateTime<Utc>,
        /// The patient.
        patient: NhsNumber,
        /// The session's reporting id (not the cookie value).
        session_id: String,
        /// Opened inside the NHS App.
        in_nhs_app: bool,
        /// The User-Agent, cut to 512 characters.
        device: Option<String>,
        /// Outcome.
        outcome: SessionOutcome,
        /// The deep link's tracking id, when the session started from the NHS App.
        tracking_id: Option<String>,
    },
    /// An appointment was created or changed (`APPT`, the parent entity of the others).
    Appointment {
        /// When.
        at: DateTime<Utc>,
        /// The patient.
        patient: NhsNumber,
        /// The appointment.
        appointment: AppointmentId,
        /// When it is.
        appointment_date: DateTime<Utc>,
        /// The trust.
        ods_code: OdsCode,
        /// Its status.
        status: AppointmentStatus,
    },
    /// A patient opened an appointment from a deep link (`APPT-VIEW`).
    AppointmentView {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
        /// The session's reporting id.
        session_id: String,
        /// The deep link's tracking id.
        tracking_id: Option<String>,
    },
    /// A cancellation request was stored for a request-only trust (`APPT-REQUEST-CANC`).
    CancelRequested {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
        /// The session's reporting id.
        session_id: String,
    },
    /// A reschedule request was stored for a request-only trust (`APPT-REQUEST-RESCH`).
    RescheduleRequested {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
        /// The session's reporting id.
        session_id: String,
    },
    /// An appointment was cancelled (`APPT-CANC`).
    Cancelled {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
        /// Who caused it.
        reason: ChangeReason,
    },
    /// An appointment was rescheduled (`APPT-RESCH`).
    Rescheduled {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
        /// The new appointment, when the PAS made one.
        new_appointment: Option<AppointmentId>,
        /// Who caused it.
        reason: ChangeReason,
    },
}

impl ReportingEvent {
    /// The Wayfinder event code, such as `APPT-REQUEST-CANC`.
    pub fn event_code(&self) -> &'static str {
        match self {
            Self::Session { .. } => "SESSION",
            Self::Appointment { .. } => "APPT",
            Self::AppointmentView { .. } => "APPT-VIEW",
            Self::CancelRequested { .. } => "APPT-REQUEST-CANC",
            Self::RescheduleRequested { .. } => "APPT-REQUEST-RESCH",
            Self::Cancelled { .. } => "APPT-CANC",
            Self::Rescheduled { .. } => "APPT-RESCH",
        }
    }

    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Session { at, .. }
            | Self::Appointment { at, .. }
            | Self::AppointmentView { at, .. }
            | Self::CancelRequested { at, .. }
            | Self::RescheduleRequested { at, .. }
            | Self::Cancelled { at, .. }
            | Self::Rescheduled { at, .. } => *at,
        }
    }
}
