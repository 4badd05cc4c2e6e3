//! Test helpers: NHS England's OpenAPI specs as JSON Schema validators, and sample events.
#![allow(dead_code)]

mod running;
mod signal;

use chrono::{DateTime, TimeZone, Utc};
use nhs_portal_core::reporting::{ChangeReason, SessionOutcome};
use nhs_portal_core::{AppointmentId, AppointmentStatus, NhsNumber, OdsCode, ReportingEvent};
use serde_json::Value;

#[allow(unused_imports)] // not every test file uses it
pub use running::{Running, first_request};
#[allow(unused_imports)] // not every test file uses it
pub use signal::SignallingStore;

#[path = "../../../tests/src/specs.rs"]
mod specs;

/// Loads an OpenAPI YAML as JSON, or `None` when the specs are absent (the test is then
/// announced as skipped: see `tests/src/specs.rs`).
pub fn load_spec(rel: &str) -> Option<Value> {
    let path = specs::spec_file(rel)?;
    let text = std::fs::read_to_string(path).expect("read spec");
    Some(serde_norway::from_str(&text).expect("spec is YAML"))
}

/// A validator for the schema at JSON pointer `pointer` inside the spec, with `$ref`s resolved
/// against the whole document and formats (`uuid`, `date-time`) checked; `None` without the
/// specs.
pub fn validator(rel: &str, pointer: &str) -> Option<jsonschema::Validator> {
    let mut root = load_spec(rel)?;
    let obj = root.as_object_mut().expect("spec is an object");
    obj.insert("$ref".into(), Value::String(format!("#{pointer}")));
    Some(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            // `uuid` is an OpenAPI/2019-09 format that Draft 7 does not know: check it ourselves.
            .with_format("uuid", |s: &str| {
                uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
            })
            .build(&root)
            .expect("schema builds"),
    )
}

/// The Wayfinder request-body validator (`None` without the specs).
pub fn wayfinder_validator() -> Option<jsonschema::Validator> {
    validator(
        "pca-reporting/patient-care-aggregator-reporting.yaml",
        "/paths/~1/post/requestBody/content/application~1json/schema",
    )
}

/// The Record Service request-body validator (`None` without the specs).
pub fn record_validator() -> Option<jsonschema::Validator> {
    validator(
        "pca-api/patient-care-aggregator-api-record-service-api.yaml",
        "/paths/~1records/post/requestBody/content/application~1json/schema",
    )
}

/// [`errors`], or none when the specs are absent (for a test whose point is not the schema:
/// asking for the validator announced the skipped check).
pub fn schema_errors(v: &Option<jsonschema::Validator>, instance: &Value) -> Vec<String> {
    v.as_ref().map(|v| errors(v, instance)).unwrap_or_default()
}

/// Every error the validator finds, as text.
pub fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn nhs(s: &str) -> NhsNumber {
    NhsNumber::parse(s).unwrap()
}

/// Valid NHS numbers (Modulus 11), generated from 900000000x-style stems.
pub fn valid_numbers(n: usize) -> Vec<NhsNumber> {
    let mut out = Vec::with_capacity(n);
    let mut stem: u64 = 900_000_000;
    while out.len() < n {
        let s = stem.to_string();
        let sum: u32 = s
            .bytes()
            .zip((2..=10).rev())
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        let check = match 11 - (sum % 11) {
            11 => Some(0),
            10 => None,
            c => Some(c),
        };
        if let Some(c) = check {
            out.push(NhsNumber::parse(&format!("{s}{c}")).unwrap());
        }
        stem += 1;
    }
    out
}

pub const APPT: &str = "c351ea8b-0796-49ab-8e26-dce4cd101670";
pub const SESSION: &str = "26fc0d75-a64c-4b45-9466-cb8227caf368";
pub const TRACKING: &str = "95c487ab-d152-4cba-9c75-e8fd91a65906";

/// One of each event the portal sends.
pub fn all_events() -> Vec<ReportingEvent> {
    let at =
        Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap() + chrono::Duration::milliseconds(321);
    let appt = AppointmentId::parse(APPT).unwrap();
    vec![
        ReportingEvent::Session {
            at,
            patient: nhs("9000000009"),
            session_id: SESSION.into(),
            in_nhs_app: true,
            device: Some("Mozilla/5.0 (Android; Mobile) nhsapp-android/1.26.2".into()),
            outcome: SessionOutcome::Success,
            tracking_id: Some(TRACKING.into()),
        },
        ReportingEvent::Appointment {
            at,
            patient: nhs("9000000009"),
            appointment: appt.clone(),
            appointment_date: t("2024-10-01T10:00:00Z"),
            ods_code: OdsCode::parse("RAB").unwrap(),
            status: AppointmentStatus::Booked,
        },
        ReportingEvent::AppointmentView {
            at,
            appointment: appt.clone(),
            session_id: SESSION.into(),
            tracking_id: Some(TRACKING.into()),
        },
        ReportingEvent::CancelRequested {
            at,
            appointment: appt.clone(),
            session_id: SESSION.into(),
        },
        ReportingEvent::RescheduleRequested {
            at,
            appointment: appt.clone(),
            session_id: SESSION.into(),
        },
        ReportingEvent::Cancelled {
            at,
            appointment: appt.clone(),
            reason: ChangeReason::Patient,
        },
        ReportingEvent::Rescheduled {
            at,
            appointment: appt.clone(),
            new_appointment: Some(
                AppointmentId::parse("368e9981-9679-41db-b9c0-ada32b92a97c").unwrap(),
            ),
            reason: ChangeReason::Hospital,
        },
        ReportingEvent::AttendanceConfirmed {
            at,
            appointment: appt,
            session_id: SESSION.into(),
        },
    ]
}

/// The events added for admissions and PAS outcomes: `ADMISSION`, `ADMISSION-VIEW`, `APPT-DNA`.
pub fn admission_and_outcome_events() -> Vec<ReportingEvent> {
    let at =
        Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap() + chrono::Duration::milliseconds(321);
    let appt = AppointmentId::parse(APPT).unwrap();
    vec![
        ReportingEvent::Admission {
            at,
            patient: nhs("9000000009"),
            appointment: appt.clone(),
            tci_date: t("2024-10-01T07:30:00Z"),
            ods_code: OdsCode::parse("RAB").unwrap(),
            status: AppointmentStatus::Booked,
            class: nhs_portal_core::reporting::EncounterClass::Daycase,
        },
        ReportingEvent::AdmissionView {
            at,
            appointment: appt.clone(),
            session_id: SESSION.into(),
            tracking_id: Some(TRACKING.into()),
        },
        ReportingEvent::DidNotAttend {
            at,
            appointment: appt,
        },
    ]
}
