//! Usage events the portal reports to NHS England's Wayfinder Reporting Service.
//! (Over 400 lines: every domain event, the parent rule and its table tests, read together.)
//!
//! These are domain events; `nhs-portal-reporting` turns them into the Wayfinder JSON events (or
//! the monthly CSV). They are written to the store's outbox in the same step as the action they
//! describe, so none is lost when delivery fails.
//!
//! ## The parent rule, written once
//! Wayfinder links every child event (`APPT-VIEW`, `APPT-REQUEST-CANC`, `APPT-CANC`, ...) to its
//! parent entity by the appointment id, and a portal that sends children must send the parent
//! whenever the entity is created or updated. Inpatient and day-case admissions are a different
//! entity (`ADMISSION`, viewed as `ADMISSION-VIEW`) from outpatient appointments (`APPT`,
//! `APPT-VIEW`). [`parent_event`] builds the right parent from the appointment as the PAS holds
//! it, [`jump_off_event`] the right view event, and [`with_parent`] puts the parent first: every
//! call site that writes a child event writes it through [`with_parent`], in the same outbox
//! transaction, so a child never reaches Wayfinder before its parent.
//!
//! **Reading chosen (the spec is silent):** the other child events (`APPT-REQUEST-*`,
//! `APPT-CANC`, `APPT-RESCH`, `APPT-DNA`) have no admission counterpart; for an admission they
//! are sent with the `ADMISSION` parent and the admission's id as `AppointmentId`.

use chrono::{DateTime, Utc};

use crate::{Appointment, AppointmentId, AppointmentStatus, AppointmentType, NhsNumber, OdsCode};

/// The kind of inpatient admission (Wayfinder `ADMISSION.EncounterClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EncounterClass {
    /// An overnight stay (or longer).
    Inpatient,
    /// Admitted and discharged on the same day (UK date).
    Daycase,
}

impl EncounterClass {
    /// The class of `appointment`, or `None` when it is not an admission: an inpatient
    /// appointment whose end falls on its start's UK date is a day case; one without an end, or
    /// ending on a later date, an inpatient stay.
    pub fn of(appointment: &Appointment) -> Option<Self> {
        if appointment.appointment_type != AppointmentType::Inpatient {
            return None;
        }
        let day = crate::uk_time::uk_date;
        Some(match appointment.end {
            Some(end) if day(end) == day(appointment.start) => Self::Daycase,
            _ => Self::Inpatient,
        })
    }
}

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
    /// An inpatient or day-case admission was created or changed (`ADMISSION`, the parent of
    /// `ADMISSION-VIEW`).
    Admission {
        /// When.
        at: DateTime<Utc>,
        /// The patient.
        patient: NhsNumber,
        /// The admission (the appointment id).
        appointment: AppointmentId,
        /// When the patient is to come in (`TCIDate`).
        tci_date: DateTime<Utc>,
        /// The trust.
        ods_code: OdsCode,
        /// Its status.
        status: AppointmentStatus,
        /// Inpatient or day case.
        class: EncounterClass,
    },
    /// A patient opened an admission from a deep link (`ADMISSION-VIEW`).
    AdmissionView {
        /// When.
        at: DateTime<Utc>,
        /// The admission.
        appointment: AppointmentId,
        /// The session's reporting id.
        session_id: String,
        /// The deep link's tracking id.
        tracking_id: Option<String>,
    },
    /// The PAS recorded that the patient did not attend (`APPT-DNA`).
    DidNotAttend {
        /// When.
        at: DateTime<Utc>,
        /// The appointment.
        appointment: AppointmentId,
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
    /// A patient confirmed they will attend an upcoming appointment (`APPT-REQUEST-CONFIRM`).
    AttendanceConfirmed {
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
            Self::AttendanceConfirmed { .. } => "APPT-REQUEST-CONFIRM",
            Self::Cancelled { .. } => "APPT-CANC",
            Self::Rescheduled { .. } => "APPT-RESCH",
            Self::Admission { .. } => "ADMISSION",
            Self::AdmissionView { .. } => "ADMISSION-VIEW",
            Self::DidNotAttend { .. } => "APPT-DNA",
        }
    }

    /// Whether this is a parent entity (`APPT`, `ADMISSION`) rather than a child event.
    pub fn is_parent(&self) -> bool {
        matches!(self, Self::Appointment { .. } | Self::Admission { .. })
    }

    /// The appointment (or admission) the event is about; `None` for `SESSION`.
    pub fn appointment(&self) -> Option<&AppointmentId> {
        match self {
            Self::Session { .. } => None,
            Self::Appointment { appointment, .. }
            | Self::Admission { appointment, .. }
            | Self::AppointmentView { appointment, .. }
            | Self::AdmissionView { appointment, .. }
            | Self::CancelRequested { appointment, .. }
            | Self::RescheduleRequested { appointment, .. }
            | Self::AttendanceConfirmed { appointment, .. }
            | Self::Cancelled { appointment, .. }
            | Self::Rescheduled { appointment, .. }
            | Self::DidNotAttend { appointment, .. } => Some(appointment),
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
            | Self::AttendanceConfirmed { at, .. }
            | Self::Cancelled { at, .. }
            | Self::Rescheduled { at, .. }
            | Self::Admission { at, .. }
            | Self::AdmissionView { at, .. }
            | Self::DidNotAttend { at, .. } => *at,
        }
    }
}

/// The parent entity event for `appointment` as the PAS holds it now: `ADMISSION` for an
/// inpatient or day-case admission, `APPT` for anything else.
pub fn parent_event(appointment: &Appointment, at: DateTime<Utc>) -> ReportingEvent {
    match EncounterClass::of(appointment) {
        Some(class) => ReportingEvent::Admission {
            at,
            patient: appointment.patient.clone(),
            appointment: appointment.id.clone(),
            tci_date: appointment.start,
            ods_code: appointment.organisation.ods_code.clone(),
            status: appointment.status,
            class,
        },
        None => ReportingEvent::Appointment {
            at,
            patient: appointment.patient.clone(),
            appointment: appointment.id.clone(),
            appointment_date: appointment.start,
            ods_code: appointment.organisation.ods_code.clone(),
            status: appointment.status,
        },
    }
}

/// The view event for a deep-link jump-off to `appointment`: `ADMISSION-VIEW` for an admission,
/// `APPT-VIEW` for anything else.
pub fn jump_off_event(
    appointment: &Appointment,
    session_id: &str,
    tracking_id: Option<&str>,
    at: DateTime<Utc>,
) -> ReportingEvent {
    let (id, session_id, tracking_id) = (
        appointment.id.clone(),
        session_id.to_owned(),
        tracking_id.map(str::to_owned),
    );
    match EncounterClass::of(appointment) {
        Some(_) => ReportingEvent::AdmissionView {
            at,
            appointment: id,
            session_id,
            tracking_id,
        },
        None => ReportingEvent::AppointmentView {
            at,
            appointment: id,
            session_id,
            tracking_id,
        },
    }
}

/// `children` about `appointment` with its parent entity ([`parent_event`]) first: what every
/// call site writes in one outbox transaction.
pub fn with_parent(
    appointment: &Appointment,
    at: DateTime<Utc>,
    children: impl IntoIterator<Item = ReportingEvent>,
) -> Vec<ReportingEvent> {
    std::iter::once(parent_event(appointment, at))
        .chain(children)
        .collect()
}

/// Whether `events` keep the parent rule: every child event comes after a parent event about
/// the same appointment, and an `APPT-RESCH` naming a new appointment after that one's parent
/// too (for tests and checks of what call sites write).
pub fn parents_first(events: &[ReportingEvent]) -> bool {
    let mut seen = std::collections::HashSet::new();
    events.iter().all(|e| match e.appointment() {
        None => true,
        Some(id) if e.is_parent() => {
            seen.insert(id.clone());
            true
        }
        Some(id) => {
            let new_one = match e {
                ReportingEvent::Rescheduled {
                    new_appointment: Some(n),
                    ..
                } => seen.contains(n),
                _ => true,
            };
            seen.contains(id) && new_one
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn appointment(kind: AppointmentType, hours: Option<i64>) -> Appointment {
        let mut a = crate::overlay::tests::appointment("a-1", "9000000009", None);
        a.start = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        a.appointment_type = kind;
        a.end = hours.map(|h| a.start + chrono::Duration::hours(h));
        a
    }

    #[test]
    fn the_parent_and_view_of_each_kind() {
        let at = Utc::now();
        // (type, length in hours, parent code, view code)
        let cases = [
            (AppointmentType::Outpatient, Some(1), "APPT", "APPT-VIEW"),
            (AppointmentType::Ambulatory, None, "APPT", "APPT-VIEW"),
            (AppointmentType::HomeHealth, Some(1), "APPT", "APPT-VIEW"),
            (
                AppointmentType::Inpatient,
                Some(8),
                "ADMISSION",
                "ADMISSION-VIEW",
            ),
            (
                AppointmentType::Inpatient,
                Some(30),
                "ADMISSION",
                "ADMISSION-VIEW",
            ),
            (
                AppointmentType::Inpatient,
                None,
                "ADMISSION",
                "ADMISSION-VIEW",
            ),
        ];
        for (kind, hours, parent, view) in cases {
            let a = appointment(kind, hours);
            assert_eq!(
                parent_event(&a, at).event_code(),
                parent,
                "{kind:?} {hours:?}"
            );
            assert_eq!(
                jump_off_event(&a, "s-1", Some("t"), at).event_code(),
                view,
                "{kind:?} {hours:?}"
            );
        }
    }

    #[test]
    fn day_case_or_inpatient_by_the_uk_date_of_the_end() {
        let cases = [
            (
                AppointmentType::Inpatient,
                Some(8),
                Some(EncounterClass::Daycase),
            ),
            // 08:00 UTC + 15 h = 23:00 UTC, the same UTC date but 00:00 BST the next UK date.
            (
                AppointmentType::Inpatient,
                Some(15),
                Some(EncounterClass::Inpatient),
            ),
            (
                AppointmentType::Inpatient,
                Some(14),
                Some(EncounterClass::Daycase),
            ),
            (
                AppointmentType::Inpatient,
                None,
                Some(EncounterClass::Inpatient),
            ),
            (AppointmentType::Outpatient, Some(8), None),
        ];
        for (kind, hours, want) in cases {
            assert_eq!(
                EncounterClass::of(&appointment(kind, hours)),
                want,
                "{kind:?} {hours:?}"
            );
        }
    }

    #[test]
    fn with_parent_puts_the_parent_first_and_the_check_sees_a_missing_one() {
        let at = Utc::now();
        let a = appointment(AppointmentType::Outpatient, Some(1));
        let view = jump_off_event(&a, "s-1", None, at);
        let events = with_parent(&a, at, [view.clone()]);
        assert_eq!(events[0].event_code(), "APPT");
        assert!(parents_first(&events));
        assert!(!parents_first(std::slice::from_ref(&view)));
        let mut reversed = events.clone();
        reversed.reverse();
        assert!(!parents_first(&reversed));
        let moved = ReportingEvent::Rescheduled {
            at,
            appointment: a.id.clone(),
            new_appointment: Some(AppointmentId::parse("a-2").unwrap()),
            reason: ChangeReason::Patient,
        };
        assert!(!parents_first(&with_parent(&a, at, [moved.clone()])));
        let mut b = a.clone();
        b.id = AppointmentId::parse("a-2").unwrap();
        let mut both = vec![parent_event(&a, at), parent_event(&b, at)];
        both.push(moved);
        assert!(parents_first(&both));
    }
}
