//! The all-or-nothing guard: every Appointment is checked against the PCA spec's rules before it
//! is sent.
//!
//! The PCA drops a provider's whole response when one Appointment in it fails its validation
//! (the NHS App then shows none of the patient's appointments from this trust). So an Appointment
//! that breaks a rule is withheld instead, logged by appointment id and rule only, and counted.
//!
//! The rules are those of the spec (v3.12.0) that the PCA is known to enforce or that its schema
//! requires, checked on the JSON that would actually go out:
//! - required elements: `resourceType`, `id`, `status`, `description`, `start`, `participant`,
//!   `extension`, `specialty`;
//! - `id` follows the FHIR id rule; `status` is `booked`, `fulfilled`, `cancelled` or `noshow`;
//! - exactly one `specialty` with a `Specialty-1` coding and a three-digit code;
//! - `start` and `end` are UTC instants with seconds (`Z` or `+00:00`), `end` not before `start`,
//!   and an inpatient (`IMP`) has an `end`;
//! - `appointmentType` only with the v3 ActCode codes `IMP`, `AMB`, `HH`;
//! - every participant `accepted`; the Patient participant names the patient asked about; an ODS
//!   `Location` participant with a valid ODS code; a Location display for face-to-face ones;
//! - extensions: exactly one Portal-Link (absolute http(s) URL with `extSystemName` and
//!   `trackingId`), exactly one Consultation-Medium with a listed code (not the deprecated
//!   `VIRTUAL`), at most one Priority and one RequestStatus with listed codes, no other URLs;
//! - `status` and RequestStatus are a valid pair
//!   ([`VALID_PAIRS`](nhs_portal_core::request_status::VALID_PAIRS): the consumer spec's
//!   combined codes).
//!
//! Before any Appointment is built, the patient is checked by the eligibility rule
//! ([`nhs_portal_core::eligibility`]): [`check_age`] on the ID token's date of birth (under the
//! minimum age: 403) and [`patient_served`] on the PAS record (a date of birth that differs from
//! the ID token's: 401; restricted or no portal access: an empty Bundle).

use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::eligibility::{Eligibility, Ineligible, PatientFacts};
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::request_status::is_valid_pair;
use nhs_portal_core::{
    AppointmentId, AppointmentStatus, ConsultationMedium, NhsNumber, OdsCode, Priority,
    RequestStatus,
};
use serde_json::Value;

use super::ApiError;
use super::resource::{
    ACT_CODE_SYSTEM, LEGACY_SPECIALTY_SYSTEM, MEDIUM_EXTENSION, ODS_SYSTEM, PORTAL_LINK_EXTENSION,
    PRIORITY_EXTENSION, PRIORITY_SYSTEM,
};

/// The age rule on the forwarded ID token's date of birth, at `now` (UK date).
pub fn check_age(
    rule: &Eligibility,
    date_of_birth: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    rule.old_enough(date_of_birth, now)
        .map_err(|_| ApiError::Under16)
}

/// Whether the patient's appointments are served, from the PAS record (`None`: not known) and
/// the ID token's date of birth: `Ok(false)` answers with an empty Bundle.
pub fn patient_served(
    rule: &Eligibility,
    record: Option<&nhs_portal_pas::PatientRecord>,
    token_date_of_birth: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let Some(r) = record else {
        return Ok(false);
    };
    let facts = PatientFacts {
        date_of_birth: Some(r.date_of_birth),
        restricted: r.restricted,
        portal_access: r.portal_access,
    };
    // The one rule the patient pages use too (NHS login's date of birth against the PAS's).
    match rule.check_signed_in(Some(token_date_of_birth), Some(&facts), now) {
        Ok(()) => Ok(true),
        Err(Ineligible::DateOfBirthMismatch) => Err(ApiError::DateOfBirthMismatch),
        Err(Ineligible::Restricted | Ineligible::NoPortalAccess) => Ok(false),
        Err(Ineligible::TooYoung { .. } | Ineligible::UnknownAge) => Err(ApiError::Under16),
    }
}

/// The first rule an Appointment broke (a fixed name: safe to log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("appointment breaks the PCA rule: {0}")]
pub struct Violation(pub &'static str);

fn rule(ok: bool, name: &'static str) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(Violation(name)) }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn non_empty_array<'a>(v: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    v.get(key)
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
}

/// Whether `s` is a UTC instant with seconds: `YYYY-MM-DDThh:mm:ss[.fff](Z|+00:00)`.
pub fn is_utc_instant(s: &str) -> bool {
    let (body, zone_ok) = if let Some(b) = s.strip_suffix('Z') {
        (b, true)
    } else if let Some(b) = s.strip_suffix("+00:00") {
        (b, true)
    } else {
        (s, false)
    };
    zone_ok
        && body.len() >= 19
        && body.as_bytes()[10] == b'T'
        && DateTime::parse_from_rfc3339(s).is_ok()
}

/// Checks one Appointment resource for the patient `patient`.
pub fn check_appointment(v: &Value, patient: &NhsNumber) -> Result<(), Violation> {
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

#[cfg(test)]
mod tests;
