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
        (with("status", json!("waitlist")), Ok(false)),
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
