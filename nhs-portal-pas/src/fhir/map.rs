//! FHIR R4 JSON ⇄ the core [`Appointment`], for a trust PAS that speaks FHIR.
//!
//! Reading is lenient (PAS servers add their own extensions and elements) and never panics:
//! anything that cannot be mapped is a [`MapError`] naming the element, and the adapter skips
//! that appointment. Writing produces R4 JSON with the PCA extensions.
//!
//! (Over 400 lines: the reading and the writing of the Appointment belong together; specialties
//! are in `specialties`, the tests in `map/tests.rs`.)

use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium,
    Identifier, Location, NhsNumber, OdsCode, Organisation, Priority, RequestStatus,
};
use serde_json::{Value, json};

pub mod contact;
pub mod specialties;

use specialties::SpecialtyMap;

/// The consultation medium extension (PCA).
pub const CONSULTATION_MEDIUM_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-Consultation-Medium";
/// The referral priority extension (PCA, e-RS priority codes).
pub const PRIORITY_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-ServiceRequest-Priority";
/// The e-RS priority code system.
pub const PRIORITY_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/eRS-Priority";
/// UK Core's delivery channel extension (accepted when reading).
pub const DELIVERY_CHANNEL_EXTENSION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel";
/// The legacy Treatment Function Code system (accepted when reading).
pub const LEGACY_SPECIALTY_SYSTEM: &str = "https://fhir.nhs.uk/STU3/CodeSystem/Specialty-1";
/// UK Core's practice setting code system: the same codes (accepted when reading).
pub const UKCORE_PRACTICE_SETTING_SYSTEM: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PracticeSettingCode";
/// ODS organisation codes.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// Spine Directory Service user ids.
pub const SDS_USER_SYSTEM: &str = "https://fhir.nhs.uk/Id/sds-user-id";
/// v3 ActCode, for `appointmentType`.
pub const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// Appointment cancellation reasons (HL7 terminology).
pub const CANCELLATION_REASON_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason";
/// The cancellation reason the portal writes: `pat-cpp`, "Patient: Canceled via Patient Portal".
pub const PORTAL_CANCELLATION_CODE: &str = "pat-cpp";

/// Why a FHIR resource could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A required element is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An element has a value that cannot be used.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

fn extension<'a>(v: &'a Value, url: &str) -> Option<&'a Value> {
    arr(v, "extension").find(|e| s(e, "url") == Some(url))
}

/// Parses a FHIR `instant` (or `dateTime` with a time and zone) to UTC.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats an instant the way FHIR and the PCA want it: UTC, seconds, `+00:00`.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// The FHIR status of a holding record (a placeholder for a place on the trust's waiting list):
/// the mapping keeps it as an [`Appointment::holding`] record instead of dropping it.
pub const HOLDING_STATUS: &str = "waitlist";

/// The PAS status mapped to the PCA's four; `None` for statuses the portal does not show
/// (`proposed`, `pending`, `waitlist`: not yet an appointment, though the mapping keeps a
/// `waitlist` one as a holding record, [`HOLDING_STATUS`]; `entered-in-error`: withdrawn).
/// `arrived` and `checked-in` count as booked: it is still today's appointment. The whole
/// table, with what the event feed reports, is in the [`fhir`](super) module documentation.
pub fn status_from_fhir(code: &str) -> Option<AppointmentStatus> {
    match code {
        "arrived" | "checked-in" => Some(AppointmentStatus::Booked),
        other => AppointmentStatus::from_fhir_code(other),
    }
}

/// A reference to a `kind` resource as `Kind/id`, from any of the forms R4 allows: relative
/// (`Patient/123`), absolute (`https://pas.example/fhir/Patient/123`) or versioned
/// (`Patient/123/_history/4`). `None` for another kind, a contained (`#...`) or logical-only
/// reference, or an id outside the FHIR id rule. An absolute reference's server is not checked:
/// the adapter talks to one server, which may name itself by an internal address.
pub fn local_reference(reference: &str, kind: &str) -> Option<String> {
    let path = reference.split(['?', '#']).next()?;
    let path = match path.find("/_history/") {
        Some(i) => &path[..i],
        None => path,
    };
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    (parts.next()? == kind && AppointmentId::parse(id).is_ok()).then(|| format!("{kind}/{id}"))
}

/// The NHS number of the patient participant, when the Appointment carries it as an identifier.
pub fn patient_nhs_number(resource: &Value) -> Option<NhsNumber> {
    arr(resource, "participant")
        .filter_map(|p| p.get("actor"))
        .filter_map(|a| a.get("identifier"))
        .filter(|i| s(i, "system") == Some(NHS_NUMBER_SYSTEM))
        .find_map(|i| s(i, "value").and_then(|v| NhsNumber::parse(v).ok()))
}

/// The patient participant's literal reference, as `Patient/id`.
pub fn patient_reference_of(resource: &Value) -> Option<String> {
    arr(resource, "participant")
        .filter_map(|p| p.get("actor"))
        .filter_map(|a| s(a, "reference"))
        .find_map(|r| local_reference(r, "Patient"))
}

/// The cancellation reason codes that mean the patient cancelled (HL7 `appointment-cancellation-reason`:
/// `pat`, and its children such as `pat-cpp`, cancelled via the patient portal).
pub fn cancelled_by(resource: &Value) -> ChangeReason {
    let by_patient = resource
        .get("cancelationReason")
        .map(|cc| {
            arr(cc, "coding").any(|c| {
                s(c, "system") == Some(CANCELLATION_REASON_SYSTEM)
                    && s(c, "code").is_some_and(|code| code == "pat" || code.starts_with("pat-"))
            })
        })
        .unwrap_or(false);
    if by_patient {
        ChangeReason::Patient
    } else {
        ChangeReason::Hospital
    }
}

/// Whether an Appointment resource has `patient` as a participant: by literal reference
/// (`patient_reference`, such as `Patient/123`, in any R4 form) or by NHS number identifier.
pub fn has_patient(resource: &Value, patient: &NhsNumber, patient_reference: Option<&str>) -> bool {
    let references: Vec<String> = patient_reference.map(str::to_owned).into_iter().collect();
    has_patient_in(resource, patient, &references)
}

/// [`has_patient`] for a patient known by several references (records merged into one).
pub fn has_patient_in(resource: &Value, patient: &NhsNumber, references: &[String]) -> bool {
    arr(resource, "participant").any(|p| {
        let Some(actor) = p.get("actor") else {
            return false;
        };
        let by_ref = s(actor, "reference")
            .and_then(|a| local_reference(a, "Patient"))
            .is_some_and(|a| references.contains(&a));
        let by_id = actor.get("identifier").is_some_and(|i| {
            s(i, "system") == Some(NHS_NUMBER_SYSTEM) && s(i, "value") == Some(patient.as_str())
        });
        by_ref || by_id
    })
}

/// An actor's resource type: its `type`, else the kind its reference names in any R4 form.
fn actor_type(actor: &Value) -> Option<&str> {
    const KINDS: [&str; 5] = [
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "Organization",
    ];
    s(actor, "type").or_else(|| {
        let reference = s(actor, "reference")?;
        KINDS
            .into_iter()
            .find(|kind| local_reference(reference, kind).is_some())
    })
}

fn medium(resource: &Value) -> ConsultationMedium {
    if let Some(m) = extension(resource, CONSULTATION_MEDIUM_EXTENSION)
        .and_then(|e| s(e, "valueCode"))
        .and_then(ConsultationMedium::from_fhir_code)
    {
        return m;
    }
    let channel = extension(resource, DELIVERY_CHANNEL_EXTENSION)
        .and_then(|e| e.get("valueCodeableConcept"))
        .and_then(|cc| arr(cc, "coding").find_map(|c| s(c, "code")));
    match channel {
        Some("Telephone") => ConsultationMedium::Telephone,
        Some("Video") => ConsultationMedium::Video,
        _ => ConsultationMedium::FaceToFace,
    }
}

/// Maps a FHIR R4 Appointment to the core model, with specialties coded as Treatment Function
/// Codes only (see [`appointment_from_fhir_with`] for a trust's own codes).
pub fn appointment_from_fhir(
    resource: &Value,
    patient: &NhsNumber,
    default_organisation: &Organisation,
    base: &str,
) -> Result<Option<Appointment>, MapError> {
    appointment_from_fhir_with(
        resource,
        patient,
        default_organisation,
        base,
        &SpecialtyMap::default(),
    )
}

/// Maps a FHIR R4 Appointment to the core model. `Ok(None)` for statuses the portal does not
/// show ([`status_from_fhir`]). `default_organisation` is used unless a participant carries an
/// ODS code. The specialty comes from a Treatment Function Code or the trust's `specialties`
/// table, in `specialty` or else `serviceType`. The FHIR id is the portal's appointment id and
/// is also added as an identifier under `{base}Appointment`.
pub fn appointment_from_fhir_with(
    resource: &Value,
    patient: &NhsNumber,
    default_organisation: &Organisation,
    base: &str,
    specialties: &SpecialtyMap,
) -> Result<Option<Appointment>, MapError> {
    if s(resource, "resourceType") != Some("Appointment") {
        return Err(MapError::Invalid("resourceType"));
    }
    let id = s(resource, "id")
        .and_then(|i| AppointmentId::parse(i).ok())
        .ok_or(MapError::Invalid("id"))?;
    let Some(code) = s(resource, "status") else {
        return Err(MapError::Missing("status"));
    };
    // A `waitlist` Appointment is the trust's holding record for a place on its waiting list
    // (`nhs_portal_core::holding`): kept, marked, never sent to the PCA. R4 lets it have no
    // start (invariant app-3); then its `created` stands in, as its date is never shown (with
    // neither it is skipped, as before).
    let holding = code == HOLDING_STATUS;
    let Some(status) = status_from_fhir(code).or(holding.then_some(AppointmentStatus::Booked))
    else {
        return Ok(None);
    };
    let start = match (s(resource, "start"), holding) {
        (None, true) => match s(resource, "created") {
            Some(created) => created,
            None => return Ok(None),
        },
        (start, _) => start.ok_or(MapError::Missing("start"))?,
    };
    let start = parse_instant(start).ok_or(MapError::Invalid("start"))?;
    let end = match s(resource, "end") {
        Some(t) => Some(parse_instant(t).ok_or(MapError::Invalid("end"))?),
        None => None,
    };
    if end.is_some_and(|e| e < start) {
        return Err(MapError::Invalid("end before start"));
    }
    let specialty = specialties.of_appointment(resource)?;
    let description = match s(resource, "description").map(str::trim) {
        Some(d) if !d.is_empty() => d.to_owned(),
        _ => {
            let lower = specialty.display.trim().to_lowercase();
            match lower.get(..1) {
                Some(first) if lower.is_ascii() => {
                    format!("{}{} appointment", first.to_uppercase(), &lower[1..])
                }
                _ => "Hospital appointment".to_owned(),
            }
        }
    };
    let request_status = extension(resource, REQUEST_STATUS_EXTENSION)
        .and_then(|e| s(e, "valueCode"))
        .and_then(RequestStatus::from_fhir_code);
    let priority = extension(resource, PRIORITY_EXTENSION)
        .and_then(|e| e.get("valueCoding"))
        .and_then(|c| s(c, "code"))
        .and_then(Priority::from_fhir_code);
    let appointment_type = resource
        .get("appointmentType")
        .and_then(|cc| arr(cc, "coding").find_map(|c| s(c, "code")))
        .map_or(AppointmentType::Outpatient, |c| match c {
            "IMP" => AppointmentType::Inpatient,
            "AMB" => AppointmentType::Ambulatory,
            "HH" => AppointmentType::HomeHealth,
            _ => AppointmentType::Outpatient,
        });

    let mut organisation = default_organisation.clone();
    let mut location = None;
    let mut clinician = None;
    for p in arr(resource, "participant") {
        let Some(actor) = p.get("actor") else {
            continue;
        };
        let ident = actor.get("identifier");
        let ident_system = ident.and_then(|i| s(i, "system"));
        match actor_type(actor) {
            Some("Practitioner" | "PractitionerRole") => {
                if let Some(name) = s(actor, "display") {
                    clinician = Some(Clinician {
                        name: name.to_owned(),
                        sds_user_id: (ident_system == Some(SDS_USER_SYSTEM))
                            .then(|| ident.and_then(|i| s(i, "value")).map(str::to_owned))
                            .flatten(),
                    });
                }
            }
            Some("Location" | "Organization") if ident_system == Some(ODS_SYSTEM) => {
                if let Some(code) = ident
                    .and_then(|i| s(i, "value"))
                    .and_then(|v| OdsCode::parse(v).ok())
                {
                    let name = s(actor, "display")
                        .map(str::to_owned)
                        .unwrap_or_else(|| default_organisation.name.clone());
                    organisation = Organisation {
                        ods_code: code,
                        name,
                    };
                }
            }
            Some("Location") => {
                if let Some(name) = s(actor, "display") {
                    location = Some(Location {
                        name: name.to_owned(),
                        address: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }

    let mut identifiers: Vec<Identifier> = arr(resource, "identifier")
        .filter_map(|i| {
            Some(Identifier {
                system: s(i, "system")?.to_owned(),
                value: s(i, "value")?.to_owned(),
            })
        })
        .collect();
    identifiers.push(Identifier {
        system: format!("{base}Appointment"),
        value: id.as_str().to_owned(),
    });

    Ok(Some(Appointment {
        id,
        patient: patient.clone(),
        status,
        request_status,
        description,
        specialty,
        start,
        end,
        medium: medium(resource),
        priority,
        location,
        clinician,
        organisation,
        appointment_type,
        identifiers,
        holding,
        patient_instruction: patient_instruction(resource),
        cancelled_by: (status == AppointmentStatus::Cancelled).then(|| cancelled_by(resource)),
        contact: None,
    }))
}

/// `Appointment.patientInstruction` (R4: a string), trimmed; none when empty.
fn patient_instruction(resource: &Value) -> Option<String> {
    s(resource, "patientInstruction")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Renders a core appointment as a FHIR R4 Appointment for a PAS (no `id`: the server assigns
/// one). The patient participant carries a literal reference when `patient_reference` is given,
/// and always the NHS number.
pub fn appointment_to_fhir(a: &Appointment, patient_reference: Option<&str>) -> Value {
    let mut extension = vec![json!({
        "url": CONSULTATION_MEDIUM_EXTENSION,
        "valueCode": a.medium.fhir_code(),
    })];
    if let Some(p) = a.priority {
        extension.push(json!({
            "url": PRIORITY_EXTENSION,
            "valueCoding": {"system": PRIORITY_SYSTEM, "code": p.fhir_code()},
        }));
    }
    let mut patient_actor = json!({
        "type": "Patient",
        "identifier": {"system": NHS_NUMBER_SYSTEM, "value": a.patient.as_str()},
    });
    if let Some(r) = patient_reference {
        patient_actor["reference"] = json!(r);
    }
    let mut participant = vec![
        json!({"actor": patient_actor, "status": "accepted"}),
        json!({"actor": {
            "type": "Location",
            "identifier": {"system": ODS_SYSTEM, "value": a.organisation.ods_code.as_str()},
            "display": a.organisation.name,
        }, "status": "accepted"}),
    ];
    if let Some(l) = &a.location {
        participant
            .push(json!({"actor": {"type": "Location", "display": l.name}, "status": "accepted"}));
    }
    if let Some(c) = &a.clinician {
        let mut actor = json!({"type": "Practitioner", "display": c.name});
        if let Some(sds) = &c.sds_user_id {
            actor["identifier"] = json!({"system": SDS_USER_SYSTEM, "value": sds});
        }
        participant.push(json!({"actor": actor, "status": "accepted"}));
    }
    let mut out = json!({
        "resourceType": "Appointment",
        "extension": extension,
        "identifier": a.identifiers.iter().map(|i| json!({"system": i.system, "value": i.value})).collect::<Vec<_>>(),
        "status": if a.holding { HOLDING_STATUS } else { a.status.fhir_code() },
        "description": a.description,
        "specialty": [{"coding": [{
            "system": SPECIALTY_SYSTEM,
            "code": a.specialty.code.as_str(),
            "display": a.specialty.display,
        }]}],
        "start": format_instant(a.start),
        "participant": participant,
    });
    if let Some(end) = a.end {
        out["end"] = json!(format_instant(end));
    }
    if let Some(text) = &a.patient_instruction {
        out["patientInstruction"] = json!(text);
    }
    if a.status == AppointmentStatus::Cancelled
        && let Some(by) = a.cancelled_by
    {
        let code = match by {
            ChangeReason::Patient => "pat",
            ChangeReason::Hospital => "prov",
        };
        out["cancelationReason"] =
            json!({"coding": [{"system": CANCELLATION_REASON_SYSTEM, "code": code}]});
    }
    if let Some(code) = a.appointment_type.act_code() {
        out["appointmentType"] = json!({"coding": [{"system": ACT_CODE_SYSTEM, "code": code}]});
    }
    out
}

/// A patient's date of birth from a FHIR Patient resource.
pub fn birth_date(patient: &Value) -> Result<NaiveDate, MapError> {
    s(patient, "birthDate")
        .ok_or(MapError::Missing("birthDate"))
        .and_then(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| MapError::Invalid("birthDate"))
        })
}

/// Whether a FHIR Patient is marked restricted or very restricted (`meta.security` code `R` or
/// `V`, as PDS does).
pub fn is_restricted(patient: &Value) -> bool {
    patient
        .get("meta")
        .map(|m| arr(m, "security").any(|c| matches!(s(c, "code"), Some("R" | "V"))))
        .unwrap_or(false)
}

/// The explanation in an OperationOutcome: each issue's `details.text` (or else its
/// `diagnostics`), joined with "; ". Empty for anything else or an outcome that says nothing.
pub fn outcome_text(outcome: &Value) -> String {
    if s(outcome, "resourceType") != Some("OperationOutcome") {
        return String::new();
    }
    arr(outcome, "issue")
        .filter_map(|i| {
            i.get("details")
                .and_then(|d| s(d, "text"))
                .or_else(|| s(i, "diagnostics"))
                .map(str::trim)
                .filter(|t| !t.is_empty())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of a boolean extension on a resource, if present.
pub fn boolean_extension(resource: &Value, url: &str) -> Option<bool> {
    extension(resource, url).and_then(|e| e.get("valueBoolean").and_then(Value::as_bool))
}

#[cfg(test)]
mod tests;
