//! [`AppointmentBuilder`]: an [`Appointment`] from a PAS record's raw fields, checked once.
//!
//! A PAS adapter reads strings (an NHS number, an ODS code, a Treatment Function Code) and
//! times; the builder takes them as they come and [`AppointmentBuilder::build`] parses and checks
//! them all, naming the field that is wrong, instead of a `parse().unwrap()` per field.

use chrono::{DateTime, Duration, Utc};

use super::{
    Appointment, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium, Contact,
    Identifier, Location, Organisation, Priority, RequestStatus,
};
use crate::reporting::ChangeReason;
use crate::{
    AppointmentId, IdError, NhsNumber, NhsNumberError, OdsCode, Specialty, TreatmentFunctionCode,
};

/// Why an [`AppointmentBuilder`] could not build an appointment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppointmentError {
    /// A required field was never set.
    #[error("the appointment's `{0}` is required")]
    Missing(&'static str),
    /// The patient's NHS number is not valid.
    #[error("the appointment's `patient` is not an NHS number: {0}")]
    Patient(#[source] NhsNumberError),
    /// An identifier (`id`, the organisation's ODS code, the Treatment Function Code) is not
    /// valid.
    #[error("the appointment's `{field}` is not valid: {source}")]
    Id {
        /// Which field.
        field: &'static str,
        /// Why.
        #[source]
        source: IdError,
    },
    /// The end is not after the start.
    #[error("the appointment ends before it starts")]
    EndBeforeStart,
    /// An inpatient admission without an end (the PCA requires one).
    #[error("an inpatient admission needs an end")]
    InpatientWithoutEnd,
    /// An in-person appointment without a location.
    #[error("an in-person appointment needs a location")]
    NoLocation,
}

/// Builds an [`Appointment`]: start with [`Appointment::builder`], set what the PAS record has,
/// then [`build`](Self::build).
///
/// Required: `patient`, `organisation`, `specialty`, `start`. Defaults: a random portal `id`,
/// status booked, no request status, in person, outpatient, and the description
/// "{Specialty} appointment" from the specialty's display name ("DERMATOLOGY" gives
/// "Dermatology appointment").
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use nhs_portal_core::{Appointment, AppointmentError, ConsultationMedium};
/// let start = Utc.with_ymd_and_hms(2030, 3, 4, 9, 40, 0).unwrap();
/// let a = Appointment::builder()
///     .patient("9000000009")
///     .organisation("RXX", "Toy Hospitals NHS Trust")
///     .specialty("330", "DERMATOLOGY")
///     .start(start)
///     .duration(Duration::minutes(20))
///     .medium(ConsultationMedium::Telephone)
///     .build()?;
/// assert_eq!(a.description, "Dermatology appointment");
/// assert_eq!(a.end, Some(start + Duration::minutes(20)));
///
/// let wrong = Appointment::builder()
///     .patient("9000000008")
///     .organisation("RXX", "Toy")
///     .specialty("330", "DERMATOLOGY")
///     .start(start)
///     .build();
/// assert!(matches!(wrong, Err(AppointmentError::Patient(_))));
/// # Ok::<(), AppointmentError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "call `build` to get the appointment"]
pub struct AppointmentBuilder {
    id: Option<String>,
    patient: Option<String>,
    status: Option<AppointmentStatus>,
    request_status: Option<RequestStatus>,
    description: Option<String>,
    specialty: Option<(String, String)>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    medium: Option<ConsultationMedium>,
    priority: Option<Priority>,
    location: Option<Location>,
    clinician: Option<Clinician>,
    organisation: Option<(String, String)>,
    appointment_type: Option<AppointmentType>,
    identifiers: Vec<Identifier>,
    holding: bool,
    patient_instruction: Option<String>,
    cancelled_by: Option<ChangeReason>,
    contact: Option<Contact>,
}

impl Appointment {
    /// A builder for an appointment (see [`AppointmentBuilder`]).
    pub fn builder() -> AppointmentBuilder {
        AppointmentBuilder::default()
    }
}

impl AppointmentBuilder {
    /// The portal's id (stable and unguessable, used in deep links; default: a random one).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The patient's NHS number (ten digits).
    pub fn patient(mut self, nhs_number: impl Into<String>) -> Self {
        self.patient = Some(nhs_number.into());
        self
    }

    /// The PAS booking status (default booked).
    pub fn status(mut self, status: AppointmentStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// A request the patient made that the trust has not acted on yet.
    pub fn request_status(mut self, request_status: RequestStatus) -> Self {
        self.request_status = Some(request_status);
        self
    }

    /// Marks the record as a holding (waiting-list placeholder) record the trust keeps, not an
    /// appointment to attend (default false; see [`crate::holding`]).
    pub fn holding(mut self, holding: bool) -> Self {
        self.holding = holding;
        self
    }

    /// The patient-friendly title (default "{Specialty} appointment").
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The specialty: its Treatment Function Code (three digits) and display name.
    pub fn specialty(mut self, code: impl Into<String>, display: impl Into<String>) -> Self {
        self.specialty = Some((code.into(), display.into()));
        self
    }

    /// When it starts.
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// When it ends.
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// How long it lasts (sets the end from the start; set the start first).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.end = self.start.map(|s| s + duration);
        self
    }

    /// In person (the default), video or telephone.
    pub fn medium(mut self, medium: ConsultationMedium) -> Self {
        self.medium = Some(medium);
        self
    }

    /// The referral priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Where (required in person): the name patients see, and address lines.
    pub fn location<I, S>(mut self, name: impl Into<String>, address: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.location = Some(Location {
            name: name.into(),
            address: address.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Who, by the name patients see.
    pub fn clinician(mut self, name: impl Into<String>) -> Self {
        self.clinician = Some(Clinician {
            name: name.into(),
            sds_user_id: None,
        });
        self
    }

    /// The providing trust: its ODS code and name.
    pub fn organisation(mut self, ods_code: impl Into<String>, name: impl Into<String>) -> Self {
        self.organisation = Some((ods_code.into(), name.into()));
        self
    }

    /// Outpatient (the default), inpatient, ambulatory or home health.
    pub fn appointment_type(mut self, appointment_type: AppointmentType) -> Self {
        self.appointment_type = Some(appointment_type);
        self
    }

    /// Adds an identifier in another system (add the PAS's own id first).
    pub fn identifier(mut self, system: impl Into<String>, value: impl Into<String>) -> Self {
        self.identifiers.push(Identifier {
            system: system.into(),
            value: value.into(),
        });
        self
    }

    /// How the patient should prepare (FHIR `Appointment.patientInstruction`).
    pub fn patient_instruction(mut self, text: impl Into<String>) -> Self {
        self.patient_instruction = Some(text.into());
        self
    }

    /// Who cancelled it (only kept when the status is cancelled).
    pub fn cancelled_by(mut self, who: ChangeReason) -> Self {
        self.cancelled_by = Some(who);
        self
    }

    /// The clinic's phone line and opening hours, as the PAS gives them.
    pub fn contact(mut self, phone: impl Into<String>, hours: Option<String>) -> Self {
        self.contact = Some(Contact {
            phone: phone.into(),
            hours,
        });
        self
    }

    /// Checks every field and builds the appointment.
    pub fn build(self) -> Result<Appointment, AppointmentError> {
        let id = match &self.id {
            Some(id) => AppointmentId::parse(id).map_err(|source| AppointmentError::Id {
                field: "id",
                source,
            })?,
            None => AppointmentId::new_random(),
        };
        let patient = self.patient.ok_or(AppointmentError::Missing("patient"))?;
        let patient = NhsNumber::parse(&patient).map_err(AppointmentError::Patient)?;
        let (ods, org_name) = self
            .organisation
            .ok_or(AppointmentError::Missing("organisation"))?;
        let ods_code = OdsCode::parse(&ods).map_err(|source| AppointmentError::Id {
            field: "organisation",
            source,
        })?;
        let (code, display) = self
            .specialty
            .ok_or(AppointmentError::Missing("specialty"))?;
        let code = TreatmentFunctionCode::parse(&code).map_err(|source| AppointmentError::Id {
            field: "specialty",
            source,
        })?;
        let start = self.start.ok_or(AppointmentError::Missing("start"))?;
        if self.end.is_some_and(|end| end <= start) {
            return Err(AppointmentError::EndBeforeStart);
        }
        let appointment_type = self.appointment_type.unwrap_or(AppointmentType::Outpatient);
        if appointment_type == AppointmentType::Inpatient && self.end.is_none() {
            return Err(AppointmentError::InpatientWithoutEnd);
        }
        let medium = self.medium.unwrap_or(ConsultationMedium::FaceToFace);
        if medium.is_physical() && self.location.is_none() {
            return Err(AppointmentError::NoLocation);
        }
        let description = self
            .description
            .unwrap_or_else(|| format!("{} appointment", sentence_case(&display)));
        let status = self.status.unwrap_or(AppointmentStatus::Booked);
        Ok(Appointment {
            id,
            patient,
            status,
            request_status: self.request_status,
            description,
            specialty: Specialty { code, display },
            start,
            end: self.end,
            medium,
            priority: self.priority,
            location: self.location,
            clinician: self.clinician,
            organisation: Organisation {
                ods_code,
                name: org_name,
            },
            appointment_type,
            identifiers: self.identifiers,
            holding: self.holding,
            patient_instruction: self.patient_instruction,
            cancelled_by: self
                .cancelled_by
                .filter(|_| status == AppointmentStatus::Cancelled),
            contact: self.contact,
        })
    }
}

/// "DERMATOLOGY" as "Dermatology", "EAR, NOSE AND THROAT" as "Ear, nose and throat".
fn sentence_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 2, 10, 0, 0).unwrap()
    }

    fn valid() -> AppointmentBuilder {
        Appointment::builder()
            .patient("9000000009")
            .organisation("rxx", "Toy Hospitals NHS Trust")
            .specialty("110", "TRAUMA AND ORTHOPAEDICS")
            .start(start())
            .location("Toy Hospital", ["1 Road"])
    }

    #[test]
    fn each_wrong_field_is_named() {
        let cases: Vec<(AppointmentBuilder, AppointmentError)> = vec![
            (
                Appointment::builder().patient("9000000009"),
                AppointmentError::Missing("organisation"),
            ),
            (
                valid().patient("123"),
                AppointmentError::Patient(NhsNumberError::WrongLength(3)),
            ),
            (
                valid().id("a/b"),
                AppointmentError::Id {
                    field: "id",
                    source: IdError::BadCharacter,
                },
            ),
            (
                valid().organisation("R-1", "x"),
                AppointmentError::Id {
                    field: "organisation",
                    source: IdError::BadCharacter,
                },
            ),
            (valid().end(start()), AppointmentError::EndBeforeStart),
            (
                valid().appointment_type(AppointmentType::Inpatient),
                AppointmentError::InpatientWithoutEnd,
            ),
            (
                Appointment::builder()
                    .patient("9000000009")
                    .organisation("RXX", "x")
                    .specialty("110", "x")
                    .start(start()),
                AppointmentError::NoLocation,
            ),
        ];
        for (builder, want) in cases {
            assert_eq!(builder.build().unwrap_err(), want);
        }
        assert!(matches!(
            valid().specialty("11", "x").build(),
            Err(AppointmentError::Id {
                field: "specialty",
                ..
            })
        ));
    }

    #[test]
    fn defaults_and_parsed_fields() {
        let a = valid()
            .identifier("https://pas.example/id", "P-1")
            .build()
            .unwrap();
        assert_eq!(a.description, "Trauma and orthopaedics appointment");
        assert_eq!(a.organisation.ods_code.as_str(), "RXX");
        assert_eq!(a.specialty.code.as_str(), "110");
        assert_eq!(a.status, AppointmentStatus::Booked);
        assert_eq!(a.medium, ConsultationMedium::FaceToFace);
        assert_eq!(a.appointment_type, AppointmentType::Outpatient);
        assert_eq!(a.identifiers[0].value, "P-1");
        let b = valid()
            .id("fixed-1")
            .description("Knee clinic")
            .build()
            .unwrap();
        assert_eq!(
            (b.id.as_str(), b.description.as_str()),
            ("fixed-1", "Knee clinic")
        );
        assert_ne!(valid().build().unwrap().id, valid().build().unwrap().id);
    }
}
