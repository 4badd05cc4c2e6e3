//! TEMPORARY (removed once compared): the guard as it was, on a `serde_json::Value`, kept only
//! for the test that compares its verdicts with the typed guard's for every demo appointment.

use chrono::DateTime;
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::request_status::is_valid_pair;
use nhs_portal_core::{
    AppointmentId, AppointmentStatus, ConsultationMedium, NhsNumber, OdsCode, Priority,
    RequestStatus,
};
use serde_json::Value;

use super::super::resource::{
    ACT_CODE_SYSTEM, LEGACY_SPECIALTY_SYSTEM, MEDIUM_EXTENSION, ODS_SYSTEM, PORTAL_LINK_EXTENSION,
    PRIORITY_EXTENSION, PRIORITY_SYSTEM,
};
use super::{Violation, is_utc_instant, rule};

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn non_empty_array<'a>(v: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    v.get(key)
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
}

/// Checks one Appointment resource for the patient `patient`.
pub(crate) fn check_appointment(v: &Value, patient: &NhsNumber) -> Result<(), Violation> {
    rule(
        str_at(v, "resourceType") == Some("Appointment"),
        "resourceType",
    )?;
    let id = str_at(v, "id").ok_or(Violation("id required"))?;
    rule(AppointmentId::parse(id).is_ok(), "id is not a FHIR id")?;
    rule(
        str_at(v, "status")
            .and_then(AppointmentStatus::from_fhir_code)
            .is_some(),
        "status not booked, fulfilled, cancelled or noshow",
    )?;
    rule(
        str_at(v, "description").is_some_and(|d| !d.trim().is_empty()),
        "description required",
    )?;

    // specialty: exactly one, Specialty-1 coding, three digits.
    let specialty = non_empty_array(v, "specialty").ok_or(Violation("specialty required"))?;
    rule(specialty.len() == 1, "exactly one specialty")?;
    let codings = non_empty_array(&specialty[0], "coding").ok_or(Violation("specialty coding"))?;
    rule(
        codings.iter().all(|c| {
            matches!(
                str_at(c, "system"),
                Some(SPECIALTY_SYSTEM | LEGACY_SPECIALTY_SYSTEM)
            ) && str_at(c, "code")
                .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        }),
        "specialty coding not Specialty-1 with a three-digit code",
    )?;

    // start / end.
    let start = str_at(v, "start").ok_or(Violation("start required"))?;
    rule(is_utc_instant(start), "start not a UTC instant")?;
    let end = str_at(v, "end");
    if let Some(end) = end {
        rule(is_utc_instant(end), "end not a UTC instant")?;
        let (s, e) = (
            DateTime::parse_from_rfc3339(start).map_err(|_| Violation("start"))?,
            DateTime::parse_from_rfc3339(end).map_err(|_| Violation("end"))?,
        );
        rule(e >= s, "end before start")?;
    }

    // appointmentType.
    if let Some(t) = v.get("appointmentType") {
        let codings = non_empty_array(t, "coding").ok_or(Violation("appointmentType coding"))?;
        rule(
            codings.iter().all(|c| {
                str_at(c, "system") == Some(ACT_CODE_SYSTEM)
                    && matches!(str_at(c, "code"), Some("IMP" | "AMB" | "HH"))
            }),
            "appointmentType not IMP, AMB or HH",
        )?;
        if codings.iter().any(|c| str_at(c, "code") == Some("IMP")) {
            rule(end.is_some(), "inpatient without end")?;
        }
    }

    // extensions.
    let extensions = non_empty_array(v, "extension").ok_or(Violation("extension required"))?;
    let (mut links, mut media, mut priorities, mut requests) = (0, 0, 0, 0);
    let mut medium = None;
    let mut request_status = None;
    for e in extensions {
        match str_at(e, "url") {
            Some(PORTAL_LINK_EXTENSION) => {
                links += 1;
                let link = str_at(e, "valueUrl").ok_or(Violation("Portal-Link valueUrl"))?;
                let url = url::Url::parse(link).map_err(|_| Violation("Portal-Link not a URL"))?;
                rule(
                    matches!(url.scheme(), "https" | "http") && url.host_str().is_some(),
                    "Portal-Link not an absolute http(s) URL",
                )?;
                let keys: Vec<_> = url.query_pairs().map(|(k, _)| k).collect();
                rule(
                    keys.iter().any(|k| k == "extSystemName")
                        && keys.iter().any(|k| k == "trackingId"),
                    "Portal-Link without extSystemName and trackingId",
                )?;
            }
            Some(MEDIUM_EXTENSION) => {
                media += 1;
                medium = str_at(e, "valueCode").and_then(ConsultationMedium::from_fhir_code);
                rule(medium.is_some(), "Consultation-Medium code")?;
            }
            Some(PRIORITY_EXTENSION) => {
                priorities += 1;
                let c = e
                    .get("valueCoding")
                    .ok_or(Violation("Priority valueCoding"))?;
                rule(
                    str_at(c, "system") == Some(PRIORITY_SYSTEM)
                        && str_at(c, "code")
                            .and_then(Priority::from_fhir_code)
                            .is_some(),
                    "Priority code",
                )?;
            }
            Some(REQUEST_STATUS_EXTENSION) => {
                requests += 1;
                request_status = str_at(e, "valueCode").and_then(RequestStatus::from_fhir_code);
                rule(request_status.is_some(), "RequestStatus code")?;
            }
            _ => return Err(Violation("unknown extension")),
        }
    }
    rule(links == 1, "exactly one Portal-Link")?;
    rule(media == 1, "exactly one Consultation-Medium")?;
    rule(priorities <= 1 && requests <= 1, "repeated extension")?;
    // Only the pairs the PCA consumer spec's combined codes express (a no-show with a pending
    // cancellation is not one).
    let status = str_at(v, "status").and_then(AppointmentStatus::from_fhir_code);
    rule(
        status.is_some_and(|s| is_valid_pair(s, request_status)),
        "status and request status are not a valid pair",
    )?;

    // participants.
    let participants =
        non_empty_array(v, "participant").ok_or(Violation("participant required"))?;
    let (mut patient_seen, mut ods_seen, mut place_seen) = (false, false, false);
    for p in participants {
        rule(
            str_at(p, "status") == Some("accepted"),
            "participant status",
        )?;
        let actor = p.get("actor").ok_or(Violation("participant actor"))?;
        let ident = actor.get("identifier");
        let display = str_at(actor, "display").filter(|d| !d.trim().is_empty());
        rule(
            ident.is_some() || display.is_some(),
            "actor without identifier or display",
        )?;
        match str_at(actor, "type") {
            Some("Patient") => {
                let ident = ident.ok_or(Violation("patient identifier"))?;
                rule(
                    str_at(ident, "system") == Some(NHS_NUMBER_SYSTEM)
                        && str_at(ident, "value") == Some(patient.as_str()),
                    "patient participant is not the requested patient",
                )?;
                patient_seen = true;
            }
            Some("Location") => match ident {
                Some(ident) => {
                    rule(
                        str_at(ident, "system") == Some(ODS_SYSTEM),
                        "Location system",
                    )?;
                    rule(
                        str_at(ident, "value").is_some_and(|c| OdsCode::parse(c).is_ok()),
                        "ODS code",
                    )?;
                    ods_seen = true;
                }
                None => place_seen = true,
            },
            Some("Practitioner" | "HealthcareService") => {}
            _ => return Err(Violation("participant type")),
        }
    }
    rule(patient_seen, "patient participant required")?;
    rule(ods_seen, "ODS Location participant required")?;
    if medium.is_some_and(ConsultationMedium::is_physical) {
        rule(place_seen, "location display required for face-to-face")?;
    }
    Ok(())
}
