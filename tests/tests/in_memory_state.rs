//! The portal with sessions and pending requests kept in memory (`CachedStore` over SQLite, as
//! the reference portal runs one instance) and the PCA API's remembered tokens, through the
//! running portal: what a patient or the PCA does is seen at once, and nothing remembered lets
//! an ended session or a forged token through. (A remembered token's expiry is the unit tests'
//! in `fhir_api::verified`: the demo's token checks read the system clock, which a test cannot
//! move.)

use bytes::Bytes;
use http::{Request, StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, KEY_ADULT_REQUEST_ONLY_BOOKED};
use nhs_portal_tests::{Client, StoreKind, TestPortal, body_text, csrf_token, location};

async fn cached_portal() -> TestPortal {
    TestPortal::builder()
        .store(StoreKind::CachedSqlite)
        .start()
        .await
}

#[tokio::test]
async fn a_signed_out_session_replayed_from_another_browser_is_refused() {
    let portal = cached_portal().await;
    let mut patient = portal.client();
    let csrf = csrf_token(&body_text(&patient.sign_in_as(ADULT).await)).unwrap();
    // Viewed twice: the session is now answered from memory.
    for _ in 0..2 {
        let res = patient.get("/patient-portal/appointments").await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let stolen = patient.cookie_header();
    let res = patient
        .post_form("/sign-out", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(location(&res).as_deref(), Some("/signed-out"));
    let replay = Request::get("/patient-portal/appointments")
        .header(header::COOKIE, stolen)
        .body(Bytes::new())
        .unwrap();
    let res = portal.client().send(replay).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "to NHS login, not the page"
    );
}

#[tokio::test]
async fn a_request_shows_on_the_very_next_view_and_to_the_pca() {
    let portal = cached_portal().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    let id = demo::appointment_id(KEY_ADULT_REQUEST_ONLY_BOOKED);
    let base = format!("/patient-portal/appointment/{id}");
    // "No pending request" is now kept for this appointment and this patient.
    for _ in 0..2 {
        let page = body_text(&patient.get(&base).await);
        assert!(!page.contains("Pending Cancellation"));
    }
    let before = portal.pca_appointment(ADULT, id.as_str()).await.unwrap();
    assert!(!before.to_string().contains("Pending Cancellation"));
    let check = patient
        .answer(&base, "cancel", &[("reason", "no-transport")])
        .await;
    let html = body_text(&patient.get(&check).await);
    let action = check.split('?').next().unwrap();
    let res = patient
        .post_pairs(action, &Client::confirm_form(&html))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let page = body_text(&patient.get(&base).await);
    assert!(
        page.contains("Pending Cancellation"),
        "the page shows the request"
    );
    let after = portal.pca_appointment(ADULT, id.as_str()).await.unwrap();
    assert!(
        after.to_string().contains("Pending Cancellation"),
        "the PCA sees the request: {after}"
    );
}

#[tokio::test]
async fn a_remembered_bearer_does_not_let_a_forged_one_through() {
    let portal = cached_portal().await;
    let ok = portal.get_appointments(ADULT).await;
    assert_eq!(ok.status(), StatusCode::OK, "{}", body_text(&ok));
    // The same request twice more: answered (the tokens are now remembered).
    let req = portal.pca_request(ADULT, ADULT);
    let bearer = req.headers()[header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(portal.portal().handle(req).await.status(), StatusCode::OK);
    // The remembered token with its signature altered, and with its claims altered.
    let token = bearer.strip_prefix("Bearer ").unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged_sig = parts.clone();
    forged_sig[2] = forged_sig[2].chars().rev().collect();
    parts[1].insert(0, 'e');
    for forged in [forged_sig.join("."), parts.join(".")] {
        let mut req = portal.pca_request(ADULT, ADULT);
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {forged}").parse().unwrap(),
        );
        assert_eq!(
            portal.portal().handle(req).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
