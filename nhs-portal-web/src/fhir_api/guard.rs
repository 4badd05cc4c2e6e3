//! The all-or-nothing guard: every Appointment is checked against the PCA spec's rules before it
//! is sent.
//!
//! The PCA drops a provider's whole response when one Appointment in it fails its validation
//! (the NHS App then shows none of the patient's appointments from this trust). So an Appointment
//! that breaks a rule is withheld instead, logged by appointment id and rule only, and counted.
//!
//! The rules are those of the spec (v3.12.0) that the PCA is known to enforce or that its schema
//! requires, checked on the typed resource ([`FhirAppointment`]) that is then serialized as it
//! is, so nothing that breaks one goes out:
//! - required elements: `resourceType`, `id`, `status`, `description`, `start`, `participant`,
//!   `extension`, `specialty` (present and not empty);
//! - `id` follows the FHIR id rule; `status` is `booked`, `fulfilled`, `cancelled` or `noshow`;
//! - exactly one `specialty` with a `Specialty-1` coding and a three-digit code;
//! - `start` and `end` are UTC instants with seconds (`Z` or `+00:00`), `end` not before `start`,
//!   and an inpatient (`IMP`) has an `end`;
//! - `appointmentType` only with the v3 ActCode codes `IMP`, `AMB`, `HH`;
//! - every participant `accepted`; the Patient participant names the patient asked about; an ODS
//!   `Location` participant with a valid ODS code; a Location display for face-to-face ones;
//! - extensions: exactly one Portal-Link (under the portal's base URL, an absolute http(s) URL
//!   checked once at start-up; a deep link the portal's own parser opens, to this appointment,
//!   with `extSystemName` and `trackingId`: read without parsing a URL), exactly one Consultation-Medium with a listed code (not the deprecated
//!   `VIRTUAL`), at most one Priority and one RequestStatus with listed codes, no other URLs;
//! - `status` and RequestStatus are a valid pair
//!   ([`VALID_PAIRS`](nhs_portal_core::request_status::VALID_PAIRS): the consumer spec's
//!   combined codes).
//!
//! What the types hold instead of a rule: each element has one JSON type (a participant always
//! has an `actor`, an extension's value is a code, a coding or a URL as its field says), and an
//! absent optional element is left out, never `null`.
//!
//! Before any Appointment is built, the patient is checked by the eligibility rule
//! ([`nhs_portal_core::eligibility`]): [`check_age`] on the ID token's date of birth (under the
//! minimum age: 403) and [`patient_served`] on the PAS record (a date of birth that differs from
//! the ID token's: 401; restricted or no portal access: an empty Bundle).

use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::deep_link::{DeepLinkBase, DeepLinkError, Target};
use nhs_portal_core::eligibility::{Eligibility, Ineligible, PatientFacts};
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::request_status::is_valid_pair;
use nhs_portal_core::{
    AppointmentId, AppointmentStatus, ConsultationMedium, NhsNumber, OdsCode, Priority,
    RequestStatus,
};

use super::ApiError;
use super::resource::{
    ACT_CODE_SYSTEM, FhirAppointment, LEGACY_SPECIALTY_SYSTEM, MEDIUM_EXTENSION, ODS_SYSTEM,
    PORTAL_LINK_EXTENSION, PRIORITY_EXTENSION, PRIORITY_SYSTEM,
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

/// Checks one Appointment resource for the patient `patient`, its deep link against the
/// portal's `base`.
pub fn check_appointment(
    v: &FhirAppointment<'_>,
    patient: &NhsNumber,
    base: &DeepLinkBase,
) -> Result<(), Violation> {
    rule(v.resource_type == "Appointment", "resourceType")?;
    rule(!v.id.is_empty(), "id required")?;
    rule(AppointmentId::parse(v.id).is_ok(), "id is not a FHIR id")?;
    let status = AppointmentStatus::from_fhir_code(v.status);
    rule(
        status.is_some(),
        "status not booked, fulfilled, cancelled or noshow",
    )?;
    rule(!v.description.trim().is_empty(), "description required")?;

    // specialty: exactly one, Specialty-1 coding, three digits.
    rule(!v.specialty.is_empty(), "specialty required")?;
    rule(v.specialty.len() == 1, "exactly one specialty")?;
    let codings = &v.specialty[0].coding;
    rule(!codings.is_empty(), "specialty coding")?;
    rule(
        codings.iter().all(|c| {
            matches!(c.system, SPECIALTY_SYSTEM | LEGACY_SPECIALTY_SYSTEM)
                && c.code.len() == 3
                && c.code.bytes().all(|b| b.is_ascii_digit())
        }),
        "specialty coding not Specialty-1 with a three-digit code",
    )?;

    // start / end.
    rule(!v.start.is_empty(), "start required")?;
    rule(is_utc_instant(&v.start), "start not a UTC instant")?;
    if let Some(end) = &v.end {
        rule(is_utc_instant(end), "end not a UTC instant")?;
        let (s, e) = (
            DateTime::parse_from_rfc3339(&v.start).map_err(|_| Violation("start"))?,
            DateTime::parse_from_rfc3339(end).map_err(|_| Violation("end"))?,
        );
        rule(e >= s, "end before start")?;
    }

    // appointmentType.
    if let Some(t) = &v.appointment_type {
        rule(!t.coding.is_empty(), "appointmentType coding")?;
        rule(
            t.coding
                .iter()
                .all(|c| c.system == ACT_CODE_SYSTEM && matches!(c.code, "IMP" | "AMB" | "HH")),
            "appointmentType not IMP, AMB or HH",
        )?;
        if t.coding.iter().any(|c| c.code == "IMP") {
            rule(v.end.is_some(), "inpatient without end")?;
        }
    }

    // extensions.
    rule(!v.extension.is_empty(), "extension required")?;
    let (mut links, mut media, mut priorities, mut requests) = (0, 0, 0, 0);
    let mut medium = None;
    let mut request_status = None;
    for e in &v.extension {
        match e.url {
            PORTAL_LINK_EXTENSION => {
                links += 1;
                let link = e
                    .value_url
                    .as_deref()
                    .ok_or(Violation("Portal-Link valueUrl"))?;
                check_portal_link(link, v.id, base)?;
            }
            MEDIUM_EXTENSION => {
                media += 1;
                medium = e.value_code.and_then(ConsultationMedium::from_fhir_code);
                rule(medium.is_some(), "Consultation-Medium code")?;
            }
            PRIORITY_EXTENSION => {
                priorities += 1;
                let c = e
                    .value_coding
                    .as_ref()
                    .ok_or(Violation("Priority valueCoding"))?;
                rule(
                    c.system == PRIORITY_SYSTEM && Priority::from_fhir_code(c.code).is_some(),
                    "Priority code",
                )?;
            }
            REQUEST_STATUS_EXTENSION => {
                requests += 1;
                request_status = e.value_code.and_then(RequestStatus::from_fhir_code);
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
    rule(
        status.is_some_and(|s| is_valid_pair(s, request_status)),
        "status and request status are not a valid pair",
    )?;

    // participants.
    rule(!v.participant.is_empty(), "participant required")?;
    let (mut patient_seen, mut ods_seen, mut place_seen) = (false, false, false);
    for p in &v.participant {
        rule(p.status == "accepted", "participant status")?;
        let actor = &p.actor;
        let ident = actor.identifier.as_ref();
        let display = actor.display.filter(|d| !d.trim().is_empty());
        rule(
            ident.is_some() || display.is_some(),
            "actor without identifier or display",
        )?;
        match actor.kind {
            "Patient" => {
                let ident = ident.ok_or(Violation("patient identifier"))?;
                rule(
                    ident.system == NHS_NUMBER_SYSTEM && ident.value == patient.as_str(),
                    "patient participant is not the requested patient",
                )?;
                patient_seen = true;
            }
            "Location" => match ident {
                Some(ident) => {
                    rule(ident.system == ODS_SYSTEM, "Location system")?;
                    rule(OdsCode::parse(ident.value).is_ok(), "ODS code")?;
                    ods_seen = true;
                }
                None => place_seen = true,
            },
            "Practitioner" | "HealthcareService" => {}
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

/// The Portal-Link rule: under the portal's base URL (an absolute http(s) URL, checked once at
/// start-up by [`DeepLinkBase::parse`]), a deep link the portal's own parser opens, to this
/// appointment, with `extSystemName` and `trackingId`. No URL is parsed here.
fn check_portal_link(link: &str, id: &str, base: &DeepLinkBase) -> Result<(), Violation> {
    let parsed = base.parse_link(link).map_err(|e| match e {
        DeepLinkError::OutsideBase => Violation("Portal-Link not under the portal's base URL"),
        _ => Violation("Portal-Link not a deep link the portal opens"),
    })?;
    rule(
        parsed.ext_system_name.is_some() && parsed.tracking_id.is_some(),
        "Portal-Link without extSystemName and trackingId",
    )?;
    rule(
        matches!(&parsed.target, Target::Appointment(t) if t.as_str() == id),
        "Portal-Link does not open this appointment",
    )
}

#[cfg(test)]
mod tests;
