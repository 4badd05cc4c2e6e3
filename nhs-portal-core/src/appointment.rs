//! The appointment model: what the PCA producer spec carries for a hospital appointment.
//!
//! These are domain types, not the FHIR wire format: `nhs-portal-web` maps them to and from FHIR
//! R4 `Appointment` resources. All instants are UTC; convert with [`crate::uk_time`] only to show
//! them to a person.

use chrono::{DateTime, Utc};

use crate::{AppointmentId, NhsNumber, OdsCode, Specialty};

mod builder;
pub use builder::{AppointmentBuilder, AppointmentError};

/// The booking status held by the trust's PAS (FHIR `Appointment.status`, the PCA subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppointmentStatus {
    /// Booked and expected to go ahead.
    Booked,
    /// Took place.
    Fulfilled,
    /// Cancelled by the patient or the hospital.
    Cancelled,
    /// The patient did not attend.
    #[serde(rename = "noshow")]
    NoShow,
}

impl AppointmentStatus {
    /// Every status, in a stable order (for tables and tests).
    pub const ALL: [Self; 4] = [Self::Booked, Self::Fulfilled, Self::Cancelled, Self::NoShow];

    /// The FHIR code: `booked`, `fulfilled`, `cancelled` or `noshow`.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::NoShow => "noshow",
        }
    }

    /// Parses a FHIR code from the PCA subset; other FHIR statuses give `None`.
    pub fn from_fhir_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.fhir_code() == code)
    }
}

/// The request status: a patient's request that the PAS has not yet acted on
/// (FHIR extension `Extension-Appointment-RequestStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RequestStatus {
    /// The patient asked for a change that is neither a cancellation nor a reschedule.
    PendingChange,
    /// The patient asked to reschedule.
    PendingReschedule,
    /// The patient asked to cancel.
    PendingCancellation,
    /// The patient confirmed they will attend.
    ConfirmedAttendance,
}

/// The FHIR extension URL that carries [`RequestStatus`].
pub const REQUEST_STATUS_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-Appointment-RequestStatus";

impl RequestStatus {
    /// Every request status, in a stable order.
    pub const ALL: [Self; 4] = [
        Self::PendingChange,
        Self::PendingReschedule,
        Self::PendingCancellation,
        Self::ConfirmedAttendance,
    ];

    /// The extension's `valueCode`, exactly as the PCA spec spells it (with spaces).
    pub fn fhir_code(self) -> &'static str {
        match self {
            Self::PendingChange => "Pending Change",
            Self::PendingReschedule => "Pending Reschedule",
            Self::PendingCancellation => "Pending Cancellation",
            Self::ConfirmedAttendance => "Confirmed Attendance",
        }
    }

    /// Parses the extension's `valueCode`.
    pub fn from_fhir_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.fhir_code() == code)
    }

    /// Whether this is a request still waiting for the trust (everything but a confirmed attendance).
    pub fn is_pending(self) -> bool {
        !matches!(self, Self::ConfirmedAttendance)
    }
}

/// How the appointment takes place (extension `Extension-Consultation-Medium`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ConsultationMedium {
    /// In person.
    FaceToFace,
    /// A video call.
    Video,
    /// A telephone call.
    Telephone,
}

impl ConsultationMedium {
    /// The extension's `valueCode`.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Self::FaceToFace => "FACE_TO_FACE",
            Self::Video => "VIDEO_CONSULTATION",
            Self::Telephone => "TELEPHONE",
        }
    }

    /// Parses the extension's `valueCode` (the deprecated `VIRTUAL` is not accepted).
    pub fn from_fhir_code(code: &str) -> Option<Self> {
        [Self::FaceToFace, Self::Video, Self::Telephone]
            .into_iter()
            .find(|m| m.fhir_code() == code)
    }

    /// How a patient reads it: "In person", "Video call", "Telephone call".
    pub fn label(self) -> &'static str {
        match self {
            Self::FaceToFace => "In person",
            Self::Video => "Video call",
            Self::Telephone => "Telephone call",
        }
    }

    /// Whether the patient travels to a place (only then is a location required).
    pub fn is_physical(self) -> bool {
        matches!(self, Self::FaceToFace)
    }
}

/// The referral priority (extension `Extension-ServiceRequest-Priority`, e-RS priority codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Priority {
    /// Routine.
    Routine,
    /// Urgent.
    Urgent,
    /// Two-week wait (suspected cancer).
    TwoWeekWait,
}

impl Priority {
    /// The e-RS priority code.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Self::Routine => "ROUTINE",
            Self::Urgent => "URGENT",
            Self::TwoWeekWait => "TWO_WEEK_WAIT",
        }
    }

    /// Parses an e-RS priority code.
    pub fn from_fhir_code(code: &str) -> Option<Self> {
        [Self::Routine, Self::Urgent, Self::TwoWeekWait]
            .into_iter()
            .find(|p| p.fhir_code() == code)
    }
}

/// The kind of encounter, sent as `Appointment.appointmentType` (absent means outpatient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AppointmentType {
    /// An outpatient appointment (no `appointmentType` is sent).
    Outpatient,
    /// A planned inpatient admission (`IMP`); with an end on the same UK date it is a day case.
    Inpatient,
    /// Ambulatory care (`AMB`).
    Ambulatory,
    /// Home health, a community visit (`HH`).
    HomeHealth,
}

impl AppointmentType {
    /// The v3 ActCode, or `None` for outpatient.
    pub fn act_code(self) -> Option<&'static str> {
        match self {
            Self::Outpatient => None,
            Self::Inpatient => Some("IMP"),
            Self::Ambulatory => Some("AMB"),
            Self::HomeHealth => Some("HH"),
        }
    }
}

/// A patient-friendly place, such as "Grantham Hospital Outpatients".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The name shown to patients and sent to the PCA; must match what the portal shows.
    pub name: String,
    /// Address lines, shown on the appointment page.
    pub address: Vec<String>,
}

/// A way to reach a clinic or a trust's booking team: a phone line and when it is open.
///
/// The PAS may send one with an appointment ([`Appointment::contact`]); a trust configures its
/// own in [`crate::guidance`]. A contact whose phone is blank is no contact, whatever its hours
/// ([`Contact::has_phone`]; the rule is [`crate::guidance::Guidance::contact`]'s).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    /// The phone number, as patients dial it ("01632 960 123").
    pub phone: String,
    /// When the line is open, as patients read it ("Monday to Friday, 8am to 6pm").
    pub hours: Option<String>,
}

impl Contact {
    /// Whether it gives a number to call (a phone that is not blank).
    pub fn has_phone(&self) -> bool {
        !self.phone.trim().is_empty()
    }
}

/// The clinician the patient will see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clinician {
    /// The name as shown, such as "Dr Amira Shah".
    pub name: String,
    /// The Spine Directory Service user id, if the PAS has it.
    pub sds_user_id: Option<String>,
}

/// The organisation (trust) that provides the appointment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Organisation {
    /// Its ODS code.
    pub ods_code: OdsCode,
    /// Its name, such as "Northfield Teaching Hospitals NHS Foundation Trust".
    pub name: String,
}

impl Organisation {
    /// An organisation from a raw ODS code and its name.
    ///
    /// ```
    /// let trust = nhs_portal_core::Organisation::new("rxx", "Toy Hospitals NHS Trust")?;
    /// assert_eq!(trust.ods_code.as_str(), "RXX");
    /// assert!(nhs_portal_core::Organisation::new("R-1", "Toy").is_err());
    /// # Ok::<(), nhs_portal_core::IdError>(())
    /// ```
    pub fn new(ods_code: &str, name: impl Into<String>) -> Result<Self, crate::IdError> {
        Ok(Self {
            ods_code: OdsCode::parse(ods_code)?,
            name: name.into(),
        })
    }
}

/// An identifier from another system (the PAS id, a UBRN, a slot id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identifier {
    /// The naming system's URI.
    pub system: String,
    /// The value within that system.
    pub value: String,
}

/// A hospital appointment as the portal and the PCA see it. A PAS adapter makes one with
/// [`Appointment::builder`], which checks the raw fields of a PAS record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Appointment {
    /// The portal's own id (stable and unguessable); used in deep links and as `Appointment.id`.
    pub id: AppointmentId,
    /// The patient who attends.
    pub patient: NhsNumber,
    /// The PAS booking status.
    pub status: AppointmentStatus,
    /// A pending request, if the patient asked for something the trust has not yet done.
    pub request_status: Option<RequestStatus>,
    /// The patient-friendly title, structured "{Specialty name} appointment" (for example
    /// "Dermatology appointment"); also the page heading.
    pub description: String,
    /// The specialty.
    pub specialty: Specialty,
    /// When it starts (UTC).
    pub start: DateTime<Utc>,
    /// When it ends (UTC); required for inpatient admissions.
    pub end: Option<DateTime<Utc>>,
    /// In person, video or telephone.
    pub medium: ConsultationMedium,
    /// Referral priority, if known.
    pub priority: Option<Priority>,
    /// Where, for physical appointments.
    pub location: Option<Location>,
    /// Who, if known.
    pub clinician: Option<Clinician>,
    /// The providing trust.
    pub organisation: Organisation,
    /// Outpatient, inpatient, ambulatory or home health.
    pub appointment_type: AppointmentType,
    /// Identifiers in other systems (the PAS id first).
    pub identifiers: Vec<Identifier>,
    /// A holding record: a placeholder the trust keeps in its PAS for a patient on its waiting
    /// list, not an appointment the patient is expected to attend (the PCA's "ghost
    /// appointment"). Its date means nothing to the patient. Where it may appear is
    /// [`crate::holding`]'s rule.
    #[serde(default)]
    pub holding: bool,
    /// How the patient should prepare, as the PAS says (FHIR `Appointment.patientInstruction`);
    /// see [`crate::guidance`] for the trust's fallback.
    #[serde(default)]
    pub patient_instruction: Option<String>,
    /// Who cancelled it, once cancelled, when the PAS says (FHIR `cancelationReason`).
    #[serde(default)]
    pub cancelled_by: Option<crate::reporting::ChangeReason>,
    /// The clinic's phone line and opening hours as the PAS gives them (in FHIR, from the
    /// `HealthcareService` or `Location` the appointment names); it comes before the trust's
    /// configured contacts, see [`crate::guidance::Guidance::contact`].
    #[serde(default)]
    pub contact: Option<Contact>,
}

impl Appointment {
    /// Whether it starts strictly after `now`.
    pub fn is_future(&self, now: DateTime<Utc>) -> bool {
        self.start > now
    }
}
