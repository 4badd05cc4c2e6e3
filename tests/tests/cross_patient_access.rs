//! A signed-in patient (9000000017) asks for every one of another patient's (9000000009's)
//! appointment pages and journey URLs, with GET and with POST (a valid CSRF token and plausible
//! answers). Every response must be the very same "You cannot view this appointment" page that
//! an id which does not exist gets (status and body), and nothing may change: no request stored,
//! no appointment changed in the PAS.
//!
//! Runs over the demo portal from the shared harness (demo data in the simulated PAS), signed in
//! through the NHS login simulator's pages.

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::{AppointmentId, NhsNumber};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo;
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token};

async fn send(client: &mut Client, method: &str, uri: &str, form: &str) -> Response<Bytes> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Bytes::from(form.to_owned()))
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn another_patients_appointments_are_all_the_same_cannot_view_page() {
    let t = TestPortal::start().await;
    let (pas, store, data) = (&t.demo.pas, &t.demo.store, &t.demo.data);

    // Sign in as the second adult, through the NHS login simulator's pages.
    let mut client = t.client();
    let list = client.sign_in_as(demo::SECOND_ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
    let csrf = csrf_token(&body_text(&list)).expect("a CSRF token on the list page");

    // The reference: an id nobody has.
    let unknown = AppointmentId::new_random();
    let reference = send(
        &mut client,
        "GET",
        &format!("/patient-portal/appointment/{unknown}"),
        "",
    )
    .await;
    assert_eq!(reference.status(), StatusCode::NOT_FOUND);
    let reference_body = body_text(&reference);
    assert!(reference_body.contains("You cannot view this appointment"));

    let adult = NhsNumber::parse(demo::ADULT).unwrap();
    let theirs: Vec<AppointmentId> = data
        .appointments
        .iter()
        .filter(|a| a.patient == adult)
        .map(|a| a.id.clone())
        .collect();
    assert!(
        theirs.len() >= 8,
        "the demo gives the adult many appointments"
    );
    let before_pas = pas.list_appointments(&adult).await.unwrap();
    let before_requests = store.list_requests(None, None).await.unwrap();

    let form = format!("csrf_token={csrf}&reason=other&details=x&slot=any&idempotency_key=k-1");
    let steps = [
        "",
        "/cancel",
        "/cancel/check",
        "/cancel/done",
        "/reschedule",
        "/reschedule/check",
        "/reschedule/check?slot=x",
        "/reschedule/done",
        "/unknown-step",
    ];
    let mut checked = 0;
    for id in theirs.iter().chain([&unknown]) {
        for step in steps {
            let uri = format!("/patient-portal/appointment/{id}{step}");
            for method in ["GET", "POST"] {
                let res = send(&mut client, method, &uri, &form).await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {uri}");
                assert_eq!(body_text(&res), reference_body, "{method} {uri}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 8 * steps.len() * 2);

    // Nothing changed.
    assert_eq!(pas.list_appointments(&adult).await.unwrap(), before_pas);
    assert_eq!(
        store.list_requests(None, None).await.unwrap(),
        before_requests
    );
    // And the signed-in patient still sees their own appointment pages.
    let second = NhsNumber::parse(demo::SECOND_ADULT).unwrap();
    let own = data
        .appointments
        .iter()
        .find(|a| a.patient == second)
        .unwrap();
    let res = send(
        &mut client,
        "GET",
        &format!("/patient-portal/appointment/{}", own.id),
        "",
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}
