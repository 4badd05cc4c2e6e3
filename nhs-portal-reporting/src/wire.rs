//! The Wayfinder Reporting Service wire format (v2.6.2) for the events this portal sends.
//! (Over 400 lines: a contract table, one schema per Wayfinder event with the spec's limits and the
//! decisions below, kept in one place; its tests are in `wire/tests.rs`.)
//!
//! Each [`WayfinderEvent`] serialises to exactly one of the spec's event schemas: the field names
//! are the spec's (`EventCode`, `Timestamp`, `NHSNumber`, `isOpenInNHSApp`, ...), optional fields
//! are left out rather than sent as `null` (every schema has `additionalProperties: false` and no
//! field is nullable), and [`WayfinderEvent::from_domain`] checks the spec's limits before anything
//! is queued for sending, so a bad event is caught here and not by a 400 from Wayfinder.
//!
//! ## Decisions where the spec is silent or loose
//! - **Timestamp format.** The schema says `format: date-time` and "millisecond precision in UTC
//!   ISO 8601", with the example `2024-03-08T08:45:11.321Z`, while the request example uses
//!   `+00:00` and no milliseconds. We always send three fraction digits and `Z`
//!   (`%Y-%m-%dT%H:%M:%S%.3fZ`), for `Timestamp` and for `AppointmentDate`.
//! - **TrackingId** is `format: uuid` in the schema. A tracking id that is not a UUID (the deep
//!   link's query parameter is outside our control) is left out rather than sent, because one bad
//!   field makes Wayfinder refuse the whole event (and the whole request).
//! - **Device** must be at most 512 characters: longer User-Agents are cut at 512 characters
//!   (JSON Schema counts characters, not bytes), never refused.
//! - **Ids** (`Id`, `SessionId`, `AppointmentId`, `NewAppointmentId`) must be at most 100
//!   characters. They are never cut (a cut id would link events wrongly): a longer one is a
//!   [`WireError`], and the outbox worker sets that event aside.
//! - **Parent-entity rule.** The spec says a portal that sends child events (`APPT-VIEW`,
//!   `APPT-REQUEST-CANC`, ...) must also send the parent `APPT` event whenever an appointment is
//!   created or updated. The child events carry only the appointment id, so this crate cannot
//!   build the parent from them: the call sites write each child with its parent first, in one
//!   outbox transaction, through [`nhs_portal_core::reporting::with_parent`] (the one place the
//!   rule lives; [`appointment_event`] is its parent half). The outbox delivers in enqueue order,
//!   so the parent is sent no later than its children.
//! - **Admissions.** An inpatient appointment is an `ADMISSION` (with `TCIDate` = its start and
//!   `EncounterClass` `Daycase` when it ends on its start's UK date, else `Inpatient`), viewed as
//!   `ADMISSION-VIEW`; see [`nhs_portal_core::reporting::EncounterClass`].
//! - **APPT `Status`**: the spec also allows `checked-in`; the domain model has no such status
//!   (the PCA producer subset is `booked`, `fulfilled`, `cancelled`, `noshow`), so it is never sent.

use chrono::{DateTime, Utc};
use nhs_portal_core::reporting::{ChangeReason, EncounterClass, SessionOutcome};
use nhs_portal_core::{Appointment, AppointmentStatus, ReportingEvent};
use serde::{Deserialize, Serialize};

/// The most characters an id field may have (spec: `maxLength: 100`).
pub const MAX_ID_CHARS: usize = 100;
/// The most characters `Device` may have (spec: `maxLength: 512`).
pub const MAX_DEVICE_CHARS: usize = 512;
/// The most characters `ODSCode` may have (spec: `maxLength: 5`).
pub const MAX_ODS_CHARS: usize = 5;

/// Why a domain event cannot become a Wayfinder event. Retrying does not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// An id field is longer than the spec allows.
    #[error("{field} is {len} characters, more than the {max} allowed")]
    TooLong {
        /// The Wayfinder field name.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An id field is empty.
    #[error("{field} is empty")]
    Empty {
        /// The Wayfinder field name.
        field: &'static str,
    },
    /// The domain event has no Wayfinder counterpart this crate knows.
    #[error("no Wayfinder event for this domain event")]
    Unsupported,
}

/// A Wayfinder timestamp: UTC, ISO 8601, milliseconds, `Z` (`2024-03-08T08:45:11.321Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The text Wayfinder gets.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use nhs_portal_reporting::wire::Timestamp;
    /// let t = Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap();
    /// assert_eq!(Timestamp(t).to_wire(), "2024-03-08T08:45:11.000Z");
    /// ```
    pub fn to_wire(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

/// `SESSION.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionStatus {
    /// Signed in.
    #[serde(rename = "success")]
    Success,
    /// The date of birth did not match (the spec's spelling, `dobMissmatch`).
    #[serde(rename = "dobMissmatch")]
    DobMismatch,
    /// Any other failure.
    #[serde(rename = "failed")]
    Failed,
}

/// `APPT.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApptStatus {
    /// Booked.
    Booked,
    /// Attended.
    Fulfilled,
    /// Cancelled.
    Cancelled,
    /// Did not attend.
    Noshow,
    /// Checked in, no outcome yet (never produced from the domain model).
    CheckedIn,
}

/// `Reason` on `APPT-CANC` and `APPT-RESCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Reason {
    /// The patient.
    Patient,
    /// The hospital.
    Hospital,
}

/// `ADMISSION.EncounterClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncounterClassWire {
    /// An overnight stay.
    Inpatient,
    /// A day case.
    Daycase,
}

/// One event as Wayfinder receives it; `EventCode` is the tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "EventCode", deny_unknown_fields)]
#[non_exhaustive]
pub enum WayfinderEvent {
    /// `SESSION`.
    #[serde(rename = "SESSION")]
    Session {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// Ten digits.
        #[serde(rename = "NHSNumber")]
        nhs_number: String,
        /// The session's id (≤100).
        #[serde(rename = "Id")]
        id: String,
        /// Started in the NHS App.
        #[serde(rename = "isOpenInNHSApp")]
        is_open_in_nhs_app: bool,
        /// User-Agent (≤512).
        #[serde(rename = "Device", skip_serializing_if = "Option::is_none", default)]
        device: Option<String>,
        /// Outcome.
        #[serde(rename = "Status")]
        status: SessionStatus,
        /// The deep link's tracking id (a UUID).
        #[serde(
            rename = "TrackingId",
            skip_serializing_if = "Option::is_none",
            default
        )]
        tracking_id: Option<String>,
    },
    /// `APPT`, the parent entity.
    #[serde(rename = "APPT")]
    Appt {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// Ten digits.
        #[serde(rename = "NHSNumber")]
        nhs_number: String,
        /// The appointment id (≤100).
        #[serde(rename = "Id")]
        id: String,
        /// When the appointment is.
        #[serde(rename = "AppointmentDate")]
        appointment_date: Timestamp,
        /// The trust (≤5).
        #[serde(rename = "ODSCode")]
        ods_code: String,
        /// Status.
        #[serde(rename = "Status", skip_serializing_if = "Option::is_none", default)]
        status: Option<ApptStatus>,
    },
    /// `ADMISSION`, the parent entity of an inpatient or day-case admission.
    #[serde(rename = "ADMISSION")]
    Admission {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// Ten digits.
        #[serde(rename = "NHSNumber")]
        nhs_number: String,
        /// The admission id (the appointment id, ≤100).
        #[serde(rename = "Id")]
        id: String,
        /// When the patient is to come in.
        #[serde(rename = "TCIDate")]
        tci_date: Timestamp,
        /// The trust (≤5).
        #[serde(rename = "ODSCode")]
        ods_code: String,
        /// Status.
        #[serde(rename = "Status", skip_serializing_if = "Option::is_none", default)]
        status: Option<ApptStatus>,
        /// Inpatient or day case.
        #[serde(
            rename = "EncounterClass",
            skip_serializing_if = "Option::is_none",
            default
        )]
        encounter_class: Option<EncounterClassWire>,
    },
    /// `ADMISSION-VIEW`.
    #[serde(rename = "ADMISSION-VIEW")]
    AdmissionView {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The session.
        #[serde(rename = "SessionId")]
        session_id: String,
        /// The admission.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The deep link's tracking id (a UUID).
        #[serde(
            rename = "TrackingId",
            skip_serializing_if = "Option::is_none",
            default
        )]
        tracking_id: Option<String>,
    },
    /// `APPT-DNA`.
    #[serde(rename = "APPT-DNA")]
    ApptDna {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
    },
    /// `APPT-VIEW`.
    #[serde(rename = "APPT-VIEW")]
    ApptView {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The session.
        #[serde(rename = "SessionId")]
        session_id: String,
        /// The deep link's tracking id (a UUID).
        #[serde(
            rename = "TrackingId",
            skip_serializing_if = "Option::is_none",
            default
        )]
        tracking_id: Option<String>,
    },
    /// `APPT-REQUEST-CANC`.
    #[serde(rename = "APPT-REQUEST-CANC")]
    ApptRequestCanc {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The session.
        #[serde(rename = "SessionId")]
        session_id: String,
    },
    /// `APPT-REQUEST-CONFIRM`: the patient confirmed they will attend.
    #[serde(rename = "APPT-REQUEST-CONFIRM")]
    ApptRequestConfirm {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The session.
        #[serde(rename = "SessionId")]
        session_id: String,
    },
    /// `APPT-REQUEST-RESCH`.
    #[serde(rename = "APPT-REQUEST-RESCH")]
    ApptRequestResch {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The session.
        #[serde(rename = "SessionId")]
        session_id: String,
    },
    /// `APPT-CANC`.
    #[serde(rename = "APPT-CANC")]
    ApptCanc {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The appointment (optional in the spec, always sent by us).
        #[serde(
            rename = "AppointmentId",
            skip_serializing_if = "Option::is_none",
            default
        )]
        appointment_id: Option<String>,
        /// Who caused it.
        #[serde(rename = "Reason", skip_serializing_if = "Option::is_none", default)]
        reason: Option<Reason>,
    },
    /// `APPT-RESCH`.
    #[serde(rename = "APPT-RESCH")]
    ApptResch {
        /// When.
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
        /// The old appointment.
        #[serde(rename = "AppointmentId")]
        appointment_id: String,
        /// The new appointment.
        #[serde(
            rename = "NewAppointmentId",
            skip_serializing_if = "Option::is_none",
            default
        )]
        new_appointment_id: Option<String>,
        /// Who caused it.
        #[serde(rename = "Reason", skip_serializing_if = "Option::is_none", default)]
        reason: Option<Reason>,
    },
}

fn id(field: &'static str, value: &str) -> Result<String, WireError> {
    let len = value.chars().count();
    if len == 0 {
        return Err(WireError::Empty { field });
    }
    if len > MAX_ID_CHARS {
        return Err(WireError::TooLong {
            field,
            len,
            max: MAX_ID_CHARS,
        });
    }
    Ok(value.to_owned())
}

fn ods(value: &str) -> Result<String, WireError> {
    let len = value.chars().count();
    if len > MAX_ODS_CHARS {
        return Err(WireError::TooLong {
            field: "ODSCode",
            len,
            max: MAX_ODS_CHARS,
        });
    }
    Ok(value.to_owned())
}

fn tracking(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .map(|u| u.hyphenated().to_string())
}

fn device(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(MAX_DEVICE_CHARS).collect())
}

fn reason(r: ChangeReason) -> Reason {
    match r {
        ChangeReason::Patient => Reason::Patient,
        ChangeReason::Hospital => Reason::Hospital,
    }
}

fn appt_status(s: AppointmentStatus) -> ApptStatus {
    match s {
        AppointmentStatus::Booked => ApptStatus::Booked,
        AppointmentStatus::Fulfilled => ApptStatus::Fulfilled,
        AppointmentStatus::Cancelled => ApptStatus::Cancelled,
        AppointmentStatus::NoShow => ApptStatus::Noshow,
    }
}

impl WayfinderEvent {
    /// Maps a domain event to its Wayfinder event, checking the spec's limits.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use nhs_portal_core::{AppointmentId, ReportingEvent};
    /// use nhs_portal_reporting::wire::WayfinderEvent;
    /// let event = ReportingEvent::CancelRequested {
    ///     at: Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap(),
    ///     appointment: AppointmentId::parse("c351ea8b-0796-49ab-8e26-dce4cd101670").unwrap(),
    ///     session_id: "26fc0d75-a64c-4b45-9466-cb8227caf368".into(),
    /// };
    /// let json = serde_json::to_value(WayfinderEvent::from_domain(&event).unwrap()).unwrap();
    /// assert_eq!(json["EventCode"], "APPT-REQUEST-CANC");
    /// assert_eq!(json["Timestamp"], "2024-03-08T08:45:11.000Z");
    /// ```
    pub fn from_domain(event: &ReportingEvent) -> Result<Self, WireError> {
        let ts = Timestamp(event.at());
        Ok(match event {
            ReportingEvent::Session {
                patient,
                session_id,
                in_nhs_app,
                device: dev,
                outcome,
                tracking_id,
                ..
            } => Self::Session {
                timestamp: ts,
                nhs_number: patient.as_str().to_owned(),
                id: id("Id", session_id)?,
                is_open_in_nhs_app: *in_nhs_app,
                device: device(dev),
                status: match outcome {
                    SessionOutcome::Success => SessionStatus::Success,
                    SessionOutcome::DobMismatch => SessionStatus::DobMismatch,
                    SessionOutcome::Failed => SessionStatus::Failed,
                },
                tracking_id: tracking(tracking_id),
            },
            ReportingEvent::Appointment {
                patient,
                appointment,
                appointment_date,
                ods_code,
                status,
                ..
            } => Self::Appt {
                timestamp: ts,
                nhs_number: patient.as_str().to_owned(),
                id: id("Id", appointment.as_str())?,
                appointment_date: Timestamp(*appointment_date),
                ods_code: ods(ods_code.as_str())?,
                status: Some(appt_status(*status)),
            },
            ReportingEvent::Admission {
                patient,
                appointment,
                tci_date,
                ods_code,
                status,
                class,
                ..
            } => Self::Admission {
                timestamp: ts,
                nhs_number: patient.as_str().to_owned(),
                id: id("Id", appointment.as_str())?,
                tci_date: Timestamp(*tci_date),
                ods_code: ods(ods_code.as_str())?,
                status: Some(appt_status(*status)),
                encounter_class: Some(match class {
                    EncounterClass::Inpatient => EncounterClassWire::Inpatient,
                    EncounterClass::Daycase => EncounterClassWire::Daycase,
                }),
            },
            ReportingEvent::AdmissionView {
                appointment,
                session_id,
                tracking_id,
                ..
            } => Self::AdmissionView {
                timestamp: ts,
                session_id: id("SessionId", session_id)?,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                tracking_id: tracking(tracking_id),
            },
            ReportingEvent::DidNotAttend { appointment, .. } => Self::ApptDna {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
            },
            ReportingEvent::AppointmentView {
                appointment,
                session_id,
                tracking_id,
                ..
            } => Self::ApptView {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                session_id: id("SessionId", session_id)?,
                tracking_id: tracking(tracking_id),
            },
            ReportingEvent::CancelRequested {
                appointment,
                session_id,
                ..
            } => Self::ApptRequestCanc {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                session_id: id("SessionId", session_id)?,
            },
            ReportingEvent::RescheduleRequested {
                appointment,
                session_id,
                ..
            } => Self::ApptRequestResch {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                session_id: id("SessionId", session_id)?,
            },
            ReportingEvent::AttendanceConfirmed {
                appointment,
                session_id,
                ..
            } => Self::ApptRequestConfirm {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                session_id: id("SessionId", session_id)?,
            },
            ReportingEvent::Cancelled {
                appointment,
                reason: r,
                ..
            } => Self::ApptCanc {
                timestamp: ts,
                appointment_id: Some(id("AppointmentId", appointment.as_str())?),
                reason: Some(reason(*r)),
            },
            ReportingEvent::Rescheduled {
                appointment,
                new_appointment,
                reason: r,
                ..
            } => Self::ApptResch {
                timestamp: ts,
                appointment_id: id("AppointmentId", appointment.as_str())?,
                new_appointment_id: new_appointment
                    .as_ref()
                    .map(|n| id("NewAppointmentId", n.as_str()))
                    .transpose()?,
                reason: Some(reason(*r)),
            },
            #[allow(unreachable_patterns)]
            _ => return Err(WireError::Unsupported),
        })
    }

    /// The `EventCode`, such as `APPT-VIEW`.
    pub fn event_code(&self) -> &'static str {
        match self {
            Self::Session { .. } => "SESSION",
            Self::Appt { .. } => "APPT",
            Self::ApptView { .. } => "APPT-VIEW",
            Self::ApptRequestCanc { .. } => "APPT-REQUEST-CANC",
            Self::ApptRequestResch { .. } => "APPT-REQUEST-RESCH",
            Self::ApptRequestConfirm { .. } => "APPT-REQUEST-CONFIRM",
            Self::ApptCanc { .. } => "APPT-CANC",
            Self::ApptResch { .. } => "APPT-RESCH",
            Self::Admission { .. } => "ADMISSION",
            Self::AdmissionView { .. } => "ADMISSION-VIEW",
            Self::ApptDna { .. } => "APPT-DNA",
        }
    }

    /// When it happened.
    pub fn timestamp(&self) -> DateTime<Utc> {
        match self {
            Self::Session { timestamp, .. }
            | Self::Appt { timestamp, .. }
            | Self::ApptView { timestamp, .. }
            | Self::ApptRequestCanc { timestamp, .. }
            | Self::ApptRequestResch { timestamp, .. }
            | Self::ApptRequestConfirm { timestamp, .. }
            | Self::ApptCanc { timestamp, .. }
            | Self::ApptResch { timestamp, .. }
            | Self::Admission { timestamp, .. }
            | Self::AdmissionView { timestamp, .. }
            | Self::ApptDna { timestamp, .. } => timestamp.0,
        }
    }

    /// Its size in bytes as JSON (for the 2 MB batch limit).
    pub fn json_len(&self) -> usize {
        serde_json::to_vec(self).map(|v| v.len()).unwrap_or(0)
    }
}

/// The parent domain event for an appointment as the PAS holds it now (`APPT`, or `ADMISSION`
/// for an inpatient or day-case admission): enqueue it with every child event and whenever the
/// appointment first appears or changes (the spec's parent-entity rule, written once in
/// [`nhs_portal_core::reporting::parent_event`]).
///
/// ```
/// # use chrono::Utc;
/// # fn demo(appointment: &nhs_portal_core::Appointment) {
/// let event = nhs_portal_reporting::wire::appointment_event(appointment, Utc::now());
/// assert!(event.is_parent());
/// # }
/// ```
pub fn appointment_event(appointment: &Appointment, at: DateTime<Utc>) -> ReportingEvent {
    nhs_portal_core::reporting::parent_event(appointment, at)
}

/// Splits events into batches whose JSON array is at most `max_bytes` (WF-NFR-MI-05: 2 MB),
/// keeping their order. Each batch holds at least one event, so an event bigger than `max_bytes`
/// on its own (impossible within the spec's field limits) still goes out alone.
///
/// Returns index ranges into `events`.
///
/// ```
/// use nhs_portal_reporting::wire::split_by_size;
/// assert_eq!(split_by_size(&[10, 10, 10], 25), vec![0..2, 2..3]);
/// ```
pub fn split_by_size(sizes: &[usize], max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    // `[` and `]`, plus a comma between items.
    let mut len = 2;
    for (i, size) in sizes.iter().enumerate() {
        let extra = if i == start { *size } else { size + 1 };
        if i > start && len + extra > max_bytes {
            out.push(start..i);
            start = i;
            len = 2 + size;
        } else {
            len += extra;
        }
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests;
