//! The demo portal as one piece, built through the shared harness: the NHS login simulator and
//! the PCA Get Appointments API read the same demo patients, so a patient signed in through the
//! simulator's pages is served by the API with the simulator's tokens (the dates of birth agree),
//! and the API's eligibility rules hold for the demo patients made for them.

use http::StatusCode;
use nhs_portal_pas::demo::{
    self, ADULT, DOB_MISMATCH, NO_APPOINTMENTS, NO_PORTAL_ACCESS, P5_PATIENT, RESTRICTED,
    SECOND_ADULT, UNDER_16,
};
use nhs_portal_tests::{StoreKind, TestPortal, body_text};
use serde_json::Value;

fn json(res: &http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(res.body()).unwrap_or_else(|_| panic!("JSON: {}", body_text(res)))
}

fn appointment_count(t: &TestPortal, patient: &str) -> usize {
    t.demo
        .data
        .appointments
        .iter()
        .filter(|a| a.patient.as_str() == patient)
        // Holding records never reach the PCA (its "ghost appointment" rule).
        .filter(|a| nhs_portal_core::holding::in_pca_feed(a))
        .count()
}

#[tokio::test]
async fn a_patient_signed_in_through_the_simulator_gets_their_appointments_from_the_api() {
    let t = TestPortal::start().await;
    let mut patient = t.client();

    // The simulator's sign-in page lists every demo patient.
    let (page, _) = patient.get_following("/patient-portal/appointments").await;
    let html = body_text(&page);
    for n in demo::ALL_PATIENTS {
        assert!(
            html.contains(&format!("value=\"{n}\"")),
            "{n} on the sign-in page"
        );
    }

    // Signed in through the simulator's pages: the patient's own list.
    patient.clear_cookies();
    let list = patient.sign_in_as(ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = body_text(&list);
    let own = t
        .demo
        .data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap();
    assert!(
        list.contains(own.id.as_str()),
        "the list links the patient's appointment"
    );

    // The PCA asks for the same patient with the simulator's tokens: 200, all of them.
    let res = t.get_appointments(ADULT).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    let bundle = json(&res);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["total"], appointment_count(&t, ADULT));
    let ids: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&own.id.as_str()));
    assert_eq!(t.demo.fhir_api.withheld_count(), 0);
}

#[tokio::test]
async fn the_api_applies_the_eligibility_rules_to_the_demo_patients() {
    let t = TestPortal::start().await;
    // (patient, status, appointments in the Bundle when 200)
    let cases = [
        (ADULT, StatusCode::OK, Some(appointment_count(&t, ADULT))),
        (
            SECOND_ADULT,
            StatusCode::OK,
            Some(appointment_count(&t, SECOND_ADULT)),
        ),
        (NO_APPOINTMENTS, StatusCode::OK, Some(0)),
        (RESTRICTED, StatusCode::OK, Some(0)),
        (NO_PORTAL_ACCESS, StatusCode::OK, Some(0)),
        (UNDER_16, StatusCode::FORBIDDEN, None),
        (P5_PATIENT, StatusCode::UNAUTHORIZED, None),
        // NHS login's date of birth is not the hospital's: the cross-check refuses the call.
        (DOB_MISMATCH, StatusCode::UNAUTHORIZED, None),
    ];
    for (patient, status, total) in cases {
        let res = t.get_appointments(patient).await;
        assert_eq!(res.status(), status, "{patient}: {}", body_text(&res));
        let body = json(&res);
        match total {
            Some(n) => assert_eq!(body["total"], n, "{patient}"),
            None => assert_eq!(body["resourceType"], "OperationOutcome", "{patient}"),
        }
    }
    // The restricted and no-access patients do have appointments: the rule left them out.
    assert!(appointment_count(&t, RESTRICTED) > 0);
    assert!(appointment_count(&t, NO_PORTAL_ACCESS) > 0);
    assert!(appointment_count(&t, DOB_MISMATCH) > 0);
}

#[tokio::test]
async fn a_dob_mismatch_patients_pca_call_is_refused_even_with_matching_nhs_numbers() {
    let t = TestPortal::start().await;
    let res = t.get_appointments(DOB_MISMATCH).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let outcome = json(&res);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    // The token names the right patient: only the date of birth differs.
    let p = t.demo.data.patient(DOB_MISMATCH).unwrap();
    assert_ne!(p.nhs_login_dob(), p.record.date_of_birth);
    // Another patient's ID token for this patient's NHS number is refused too.
    let res = t.portal().handle(t.pca_request(DOB_MISMATCH, ADULT)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_demo_portal_runs_on_sqlite_and_shows_pending_requests_to_the_pca() {
    let t = TestPortal::builder().store(StoreKind::Sqlite).start().await;
    assert_eq!(t.demo.seeded, 2);
    let res = t.get_appointments(ADULT).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = body_text(&res);
    // The demo's two pending requests (seeded into SQLite) show as request statuses.
    for code in ["Pending Cancellation", "Pending Reschedule"] {
        assert!(
            text.contains(&format!("\"valueCode\":\"{code}\"")),
            "{code}: {text}"
        );
    }
    let mut patient = t.client();
    let list = patient.sign_in_as(SECOND_ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
}
