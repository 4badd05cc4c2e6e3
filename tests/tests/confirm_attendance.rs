//! Confirming attendance, driven from outside through the running demo portal: the button is
//! a form POST with the session's CSRF token and shows only where the rule allows it; the
//! confirmation shows on the appointment page, the list and the PCA API; a second POST writes
//! nothing again; another patient's cookie jar and a forged id change nothing.

use http::StatusCode;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::store::AuditAction;
use nhs_portal_core::{OdsCode, RequestStatus};
use nhs_portal_pas::demo::{self, ADULT, SECOND_ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};

const BUTTON: &str = "Confirm you will attend";

fn page(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

fn action(key: &str) -> String {
    format!("{}/confirm-attendance", page(key))
}

/// The appointment page's HTML and its CSRF token.
async fn open(c: &mut Client, key: &str) -> (String, String) {
    let res = c.get(&page(key)).await;
    assert_eq!(res.status(), StatusCode::OK, "{key}");
    let html = body_text(&res);
    let csrf = csrf_token(&html).expect("the session's CSRF token");
    (html, csrf)
}

async fn confirmations(t: &TestPortal, patient: &str) -> usize {
    t.demo
        .store
        .audit_for_patient(&demo::nhs_number(patient), 10_000)
        .await
        .expect("the audit trail")
        .iter()
        .filter(|r| r.action == AuditAction::AttendanceConfirmed)
        .count()
}

/// The request status the simulated PAS holds for the demo appointment `key`.
fn request_status(t: &TestPortal, key: &str) -> Option<RequestStatus> {
    t.demo
        .pas
        .inspect_appointment(&demo::appointment_id(key))
        .expect("a demo appointment")
        .request_status
}

/// Posts the confirm-attendance form of `key` with `csrf` as its token.
async fn post_confirm(c: &mut Client, key: &str, csrf: &str) -> http::Response<bytes::Bytes> {
    c.post_form(&action(key), &[("csrf_token", csrf)]).await
}

async fn signed_in(t: &TestPortal, patient: &str) -> Client {
    let mut c = t.client();
    c.sign_in_as(patient).await;
    c
}

#[tokio::test]
async fn confirming_shows_everywhere_and_a_second_post_writes_nothing() {
    let t = TestPortal::start().await;
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let mut c = signed_in(&t, ADULT).await;
    let (html, csrf) = open(&mut c, demo::KEY_ADULT_DERMATOLOGY).await;
    assert!(html.contains(BUTTON), "offered at the real-time trust");
    assert!(
        html.contains(&format!(
            "<form method=\"post\" action=\"{}\"",
            action(demo::KEY_ADULT_DERMATOLOGY)
        )),
        "a form POST, not a link: {html}"
    );

    let res = post_confirm(&mut c, demo::KEY_ADULT_DERMATOLOGY, &csrf).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let done = location(&res).expect("to the confirmation");
    assert!(done.ends_with("/confirm-attendance/done"), "{done}");
    let res = c.get(&done).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(&res).contains("You have confirmed you will attend"));
    assert_eq!(confirmations(&t, ADULT).await, 1);
    assert_eq!(
        request_status(&t, demo::KEY_ADULT_DERMATOLOGY),
        Some(RequestStatus::ConfirmedAttendance)
    );

    // The status shows first on the page and the list; the button is gone.
    let (html, csrf) = open(&mut c, demo::KEY_ADULT_DERMATOLOGY).await;
    assert!(html.contains("Confirmed Attendance"), "{html}");
    assert!(!html.contains(BUTTON), "already confirmed");
    let list = body_text(&c.get("/patient-portal/appointments").await);
    assert!(list.contains("Confirmed Attendance"), "{list}");

    // A double submit or a replay: the same confirmation page, no second record.
    let again = post_confirm(&mut c, demo::KEY_ADULT_DERMATOLOGY, &csrf).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmations(&t, ADULT).await, 1, "one audit record");

    // The PCA API sends the request status.
    let r = t
        .pca_appointment(ADULT, derm.as_str())
        .await
        .expect("in the Bundle");
    let code = r["extension"]
        .as_array()
        .expect("extensions")
        .iter()
        .find(|x| {
            x["url"]
                == "https://fhir.nhs.uk/StructureDefinition/Extension-Appointment-RequestStatus"
        })
        .map(|x| x["valueCode"].clone());
    assert_eq!(code, Some("Confirmed Attendance".into()), "{r:#}");
    assert_eq!(r["status"], "booked");
}

#[tokio::test]
async fn a_post_without_the_session_csrf_token_changes_nothing() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    for form in [vec![], vec![("csrf_token", "forged")]] {
        let res = c
            .post_form(&action(demo::KEY_ADULT_DERMATOLOGY), &form)
            .await;
        assert_ne!(res.status(), StatusCode::SEE_OTHER, "{form:?}");
    }
    assert_eq!(confirmations(&t, ADULT).await, 0);
    assert_eq!(request_status(&t, demo::KEY_ADULT_DERMATOLOGY), None);
}

#[tokio::test]
async fn another_patients_cookie_jar_gets_the_unknown_appointment_answer() {
    let t = TestPortal::start().await;
    let mut other = signed_in(&t, SECOND_ADULT).await;
    // The other patient's own valid CSRF token, from their own list page.
    let list = body_text(&other.get("/patient-portal/appointments").await);
    let csrf = csrf_token(&list).expect("a CSRF token");
    let res = post_confirm(&mut other, demo::KEY_ADULT_DERMATOLOGY, &csrf).await;
    let unknown = other
        .post_form(
            "/patient-portal/appointment/00000000-0000-4000-8000-000000000000/confirm-attendance",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        res.status(),
        unknown.status(),
        "the same answer as an unknown id"
    );
    assert_eq!(body_text(&res), body_text(&unknown));
    assert_ne!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmations(&t, ADULT).await, 0);
    assert_eq!(confirmations(&t, SECOND_ADULT).await, 0);
    assert_eq!(request_status(&t, demo::KEY_ADULT_DERMATOLOGY), None);
}

#[tokio::test]
async fn the_button_is_absent_where_the_rule_refuses() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    // Not offered: the request-only trust has not opted in.
    let (html, _) = open(&mut c, demo::KEY_ADULT_REQUEST_ONLY_BOOKED).await;
    assert!(!html.contains(BUTTON), "not offered");
    // A pending request, at that trust once it offers confirming too.
    let ods = OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap();
    assert!(
        t.demo
            .pas
            .set_capabilities(&ods, Capabilities::REQUEST_ONLY.with_confirm_attendance())
    );
    let (html, _) = open(&mut c, demo::KEY_ADULT_REQUEST_ONLY_BOOKED).await;
    assert!(html.contains(BUTTON), "offered once the trust opts in");
    let (html, csrf) = open(&mut c, demo::KEY_ADULT_PENDING_CANCELLATION).await;
    assert!(!html.contains(BUTTON), "a request is pending");
    let res = post_confirm(&mut c, demo::KEY_ADULT_PENDING_CANCELLATION, &csrf).await;
    assert_ne!(
        location(&res).as_deref().map(|l| l.ends_with("/done")),
        Some(true),
        "a forged POST is refused too"
    );
    // Not booked.
    let (html, _) = open(&mut c, demo::KEY_ADULT_CANCELLED).await;
    assert!(!html.contains(BUTTON), "cancelled");
    // In the past: the same appointment once its start has gone by.
    let (html, _) = open(&mut c, demo::KEY_ADULT_DERMATOLOGY).await;
    assert!(html.contains(BUTTON));
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let start = t.demo.pas.inspect_appointment(&derm).unwrap().start;
    t.clock.set(start + chrono::Duration::minutes(1));
    let mut later = signed_in(&t, ADULT).await;
    let (html, csrf) = open(&mut later, demo::KEY_ADULT_DERMATOLOGY).await;
    assert!(!html.contains(BUTTON), "in the past");
    post_confirm(&mut later, demo::KEY_ADULT_DERMATOLOGY, &csrf).await;
    assert_eq!(confirmations(&t, ADULT).await, 0, "nothing confirmed");
}
