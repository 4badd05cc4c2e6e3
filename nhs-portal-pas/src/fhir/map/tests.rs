use super::*;
use crate::demo::{DemoData, nhs_number};
use chrono::TimeZone;

fn org() -> Organisation {
    Organisation {
        ods_code: OdsCode::parse("R9N").unwrap(),
        name: "Northfield".into(),
    }
}

#[test]
fn demo_appointments_round_trip() {
    let data = DemoData::build(Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap());
    for a in &data.appointments {
        let mut v = appointment_to_fhir(a, Some("Patient/p1"));
        v["id"] = json!(a.id.as_str());
        assert!(has_patient(&v, &a.patient, Some("Patient/p1")));
        assert!(has_patient(&v, &a.patient, None));
        assert!(!has_patient(
            &v,
            &nhs_number("9000000092"),
            Some("Patient/p2")
        ));
        let back = appointment_from_fhir(&v, &a.patient, &org(), "https://pas.example/")
            .unwrap()
            .unwrap();
        let mut want = a.clone();
        want.identifiers.push(Identifier {
            system: "https://pas.example/Appointment".into(),
            value: a.id.as_str().into(),
        });
        // addresses are not carried on the Appointment resource
        if let Some(l) = want.location.as_mut() {
            l.address.clear();
        }
        // nor the clinic's contact: it comes from the participants' resources (`contact`)
        want.contact = None;
        assert_eq!(back, want, "{}", a.description);
    }
}

#[test]
fn odd_data_is_an_error_or_skipped_never_a_panic() {
    let me = nhs_number("9000000009");
    let base = json!({
        "resourceType": "Appointment", "id": "a1", "status": "booked",
        "start": "2026-05-01T09:00:00Z",
        "specialty": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": "330"}]}],
    });
    let with = |k: &str, v: Value| {
        let mut x = base.clone();
        x[k] = v;
        x
    };
    let cases: Vec<(Value, Result<bool, MapError>)> = vec![
        (base.clone(), Ok(true)),
        // A holding record (kept and marked: `a_waitlist_appointment_is_a_holding_record`).
        (with("status", json!("waitlist")), Ok(true)),
        (with("status", json!("proposed")), Ok(false)),
        (with("status", json!("entered-in-error")), Ok(false)),
        (with("status", json!("arrived")), Ok(true)),
        (with("status", json!(42)), Err(MapError::Missing("status"))),
        (with("id", json!("../x")), Err(MapError::Invalid("id"))),
        (with("id", json!(null)), Err(MapError::Invalid("id"))),
        (
            with("start", json!("tomorrow")),
            Err(MapError::Invalid("start")),
        ),
        (
            with("start", json!("2026-05-01")),
            Err(MapError::Invalid("start")),
        ),
        (
            with("end", json!("2026-04-01T09:00:00Z")),
            Err(MapError::Invalid("end before start")),
        ),
        (
            with("specialty", json!("330")),
            Err(MapError::Missing("specialty")),
        ),
        (
            with(
                "specialty",
                json!([{"coding": [{"system": SPECIALTY_SYSTEM, "code": "33a"}]}]),
            ),
            Err(MapError::Invalid("specialty code")),
        ),
        (
            with("participant", json!([{"actor": 7}, {"nope": true}, "x"])),
            Ok(true),
        ),
        (
            with(
                "extension",
                json!([{"url": CONSULTATION_MEDIUM_EXTENSION, "valueCode": "VIRTUAL"}]),
            ),
            Ok(true),
        ),
        (
            with("resourceType", json!("Patient")),
            Err(MapError::Invalid("resourceType")),
        ),
        (json!([]), Err(MapError::Invalid("resourceType"))),
    ];
    for (input, want) in cases {
        let got = appointment_from_fhir(&input, &me, &org(), "b/").map(|a| a.is_some());
        assert_eq!(got, want, "{input}");
    }
    let a = appointment_from_fhir(&base, &me, &org(), "b/")
        .unwrap()
        .unwrap();
    assert_eq!(a.description, "Hospital appointment");
    let named = with(
        "specialty",
        json!([{"coding": [{"system": SPECIALTY_SYSTEM, "code": "330", "display": "DERMATOLOGY"}]}]),
    );
    let a = appointment_from_fhir(&named, &me, &org(), "b/")
        .unwrap()
        .unwrap();
    assert_eq!(a.description, "Dermatology appointment");
}

#[test]
fn patient_fields() {
    let p = json!({"resourceType": "Patient", "birthDate": "2015-02-03",
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]},
        "extension": [{"url": "https://x/portal-access", "valueBoolean": false}]});
    assert_eq!(
        birth_date(&p),
        Ok(NaiveDate::from_ymd_opt(2015, 2, 3).unwrap())
    );
    assert!(is_restricted(&p));
    assert_eq!(
        boolean_extension(&p, "https://x/portal-access"),
        Some(false)
    );
    assert_eq!(boolean_extension(&p, "https://x/other"), None);
    assert_eq!(
        birth_date(&json!({"birthDate": "2015"})),
        Err(MapError::Invalid("birthDate"))
    );
    assert!(!is_restricted(&json!({"meta": {"security": "R"}})));
}

#[test]
fn operation_outcome_text_table() {
    let cases = [
        (
            json!({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "business-rule", "details": {"text": "Too late to cancel"}},
                {"severity": "error", "code": "invariant", "diagnostics": "status transition refused"},
            ]}),
            "Too late to cancel; status transition refused",
        ),
        (
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]}),
            "",
        ),
        (json!({"resourceType": "Bundle"}), ""),
        (Value::Null, ""),
    ];
    for (outcome, want) in cases {
        assert_eq!(outcome_text(&outcome), want, "{outcome}");
    }
}

#[test]
fn references_in_every_r4_form_table() {
    let cases = [
        ("Patient/123", "Patient", Some("Patient/123")),
        (
            "https://pas.example/fhir/R4/Patient/123",
            "Patient",
            Some("Patient/123"),
        ),
        ("Patient/123/_history/4", "Patient", Some("Patient/123")),
        (
            "https://pas.example/fhir/Patient/p-1/_history/2",
            "Patient",
            Some("Patient/p-1"),
        ),
        ("Practitioner/123", "Patient", None),
        ("#contained", "Patient", None),
        ("Patient/", "Patient", None),
        ("Patient/../x", "Patient", None),
    ];
    for (reference, kind, want) in cases {
        assert_eq!(
            local_reference(reference, kind).as_deref(),
            want,
            "{reference}"
        );
    }
}

#[test]
fn who_cancelled_from_the_reason_code_table() {
    let reason = |code: &str| json!({"cancelationReason": {"coding": [{"system": CANCELLATION_REASON_SYSTEM, "code": code}]}});
    let cases = [
        (reason("pat"), ChangeReason::Patient),
        (reason("pat-cpp"), ChangeReason::Patient),
        (reason("pat-crs"), ChangeReason::Patient),
        (reason("prov"), ChangeReason::Hospital),
        (reason("prov-dch"), ChangeReason::Hospital),
        (reason("maint"), ChangeReason::Hospital),
        (
            json!({"cancelationReason": {"coding": [{"system": "https://local", "code": "pat"}]}}),
            ChangeReason::Hospital,
        ),
        (json!({}), ChangeReason::Hospital),
    ];
    for (resource, want) in cases {
        assert_eq!(cancelled_by(&resource), want, "{resource}");
    }
}

#[test]
fn an_actors_kind_from_its_type_or_any_form_of_reference_table() {
    let cases = [
        (
            json!({"type": "Location", "reference": "Practitioner/1"}),
            Some("Location"),
        ),
        (
            json!({"reference": "Practitioner/dr-1"}),
            Some("Practitioner"),
        ),
        (
            json!({"reference": "https://pas.example/fhir/Practitioner/dr-1/_history/3"}),
            Some("Practitioner"),
        ),
        (
            json!({"reference": "https://pas.example/fhir/PractitionerRole/r1"}),
            Some("PractitionerRole"),
        ),
        (json!({"reference": "Location/clinic-2"}), Some("Location")),
        (json!({"reference": "#contained"}), None),
        (json!({"display": "Dr Who"}), None),
    ];
    for (actor, want) in cases {
        assert_eq!(actor_type(&actor), want, "{actor}");
    }
}

#[test]
fn a_waitlist_appointment_is_a_holding_record() {
    let me = nhs_number("9000000009");
    let waitlist = json!({
        "resourceType": "Appointment", "id": "a1", "status": "waitlist",
        "start": "2028-05-01T09:00:00Z",
        "specialty": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": "502"}]}],
    });
    let a = appointment_from_fhir(&waitlist, &me, &org(), "b/")
        .unwrap()
        .expect("kept");
    assert!(a.holding);
    assert_eq!(a.status, AppointmentStatus::Booked);
    // Written back it is a waitlist Appointment again.
    assert_eq!(appointment_to_fhir(&a, None)["status"], "waitlist");
    // Without a start (R4 allows it for waitlist), its `created` stands in; with neither it is
    // skipped.
    let mut undated = waitlist.clone();
    undated.as_object_mut().unwrap().remove("start");
    assert_eq!(
        appointment_from_fhir(&undated, &me, &org(), "b/").map(|a| a.is_some()),
        Ok(false)
    );
    undated["created"] = json!("2026-01-10T12:00:00Z");
    let a = appointment_from_fhir(&undated, &me, &org(), "b/")
        .unwrap()
        .expect("kept");
    assert!(a.holding);
    assert_eq!(a.start.to_rfc3339(), "2026-01-10T12:00:00+00:00");
    // A booked appointment is not one.
    let mut booked = waitlist.clone();
    booked["status"] = json!("booked");
    let a = appointment_from_fhir(&booked, &me, &org(), "b/")
        .unwrap()
        .unwrap();
    assert!(!a.holding);
}

#[test]
fn preparation_and_who_cancelled_are_read_and_written() {
    let data = DemoData::build(Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap());
    let a = data.appointments[0].clone();
    let read = |v: &Value| {
        appointment_from_fhir(v, &a.patient, &org(), "https://pas.example/")
            .unwrap()
            .unwrap()
    };
    // (patientInstruction as sent, as read)
    for (sent, want) in [
        (json!("Fast for 6 hours."), Some("Fast for 6 hours.")),
        (
            json!("  Bring your glasses.  "),
            Some("Bring your glasses."),
        ),
        (json!("   "), None),
        (json!(42), None),
    ] {
        let mut v = appointment_to_fhir(&a, None);
        v["id"] = json!(a.id.as_str());
        v["patientInstruction"] = sent.clone();
        assert_eq!(read(&v).patient_instruction.as_deref(), want, "{sent}");
    }
    // Who cancelled: only on a cancelled appointment, both ways.
    for by in [ChangeReason::Patient, ChangeReason::Hospital] {
        let mut cancelled = a.clone();
        cancelled.status = AppointmentStatus::Cancelled;
        cancelled.cancelled_by = Some(by);
        let mut v = appointment_to_fhir(&cancelled, None);
        v["id"] = json!(a.id.as_str());
        assert_eq!(read(&v).cancelled_by, Some(by));
    }
    let mut v = appointment_to_fhir(&a, None);
    v["id"] = json!(a.id.as_str());
    v["cancelationReason"] =
        json!({"coding": [{"system": CANCELLATION_REASON_SYSTEM, "code": "prov"}]});
    assert_eq!(
        read(&v).cancelled_by,
        None,
        "a booked appointment has no canceller"
    );
}
