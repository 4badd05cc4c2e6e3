//! The patient pages' session, CSRF, NHS App and header rules, through the demo portal as a
//! patient's browser meets them (moved from `nhs-portal-web/src/portal/tests.rs` onto the shared
//! harness; the page-flow tests over a fake PAS stay beside the code).

use bytes::Bytes;
use chrono::Duration;
use http::{Request, StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, KEY_ADULT_DERMATOLOGY, KEY_ADULT_REQUEST_ONLY_BOOKED};
use nhs_portal_tests::{TestPortal, body_text, csrf_token, location};
use nhs_portal_web::session::DEFAULT_COOKIE_NAME;

fn page_of(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

#[tokio::test]
async fn an_unsigned_deep_link_signs_in_and_comes_back_to_the_appointment() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    let deep_link = format!(
        "{}?extSystemName=X&trackingId=t-1",
        page_of(KEY_ADULT_DERMATOLOGY)
    );
    let first = patient.get(&deep_link).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let to = location(&first).unwrap();
    assert!(to.contains("/nhs-login-simulator/authorize?"), "{to}");
    let page = patient.sign_in_at(&deep_link, ADULT).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(&page);
    assert!(
        html.contains("<h1 class=\"nhsuk-heading-l\">Dermatology appointment</h1>"),
        "{html}"
    );
    assert!(html.contains("Cancel this appointment"));
}

#[tokio::test]
async fn patient_pages_carry_the_csp_and_mounted_handlers_keep_their_own() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    let res = patient.get(&page_of(KEY_ADULT_DERMATOLOGY)).await;
    assert_eq!(res.status(), StatusCode::OK);
    for name in [
        "content-security-policy",
        "strict-transport-security",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(res.headers().contains_key(name), "{name}");
    }
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The staff pages are the portal's templates too: the same policy.
    let staff = patient.get("/staff").await;
    assert_eq!(staff.status(), StatusCode::OK);
    assert!(
        staff
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    // The API and the simulator are not pages: the common headers only, whatever they send.
    let api = portal.get_appointments(ADULT).await;
    assert_eq!(api.status(), StatusCode::OK);
    assert!(!api.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    assert_eq!(api.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let sim = patient.get("/nhs-login-simulator/").await;
    assert!(
        sim.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!sim.headers().contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    let cancel = format!("{}/cancel", page_of(KEY_ADULT_REQUEST_ONLY_BOOKED));
    let res = patient
        .post_form(&cancel, &[("reason", "no-transport")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = patient
        .post_form(
            &cancel,
            &[("csrf_token", "wrong"), ("reason", "no-transport")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = patient.post_form("/sign-out", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn in_app_pages_drop_header_footer_and_sign_out() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    let req = Request::get(page_of(KEY_ADULT_DERMATOLOGY))
        .header(header::USER_AGENT, "Mozilla/5.0 (iPhone) nhsapp-ios/3.1.0")
        .body(Bytes::new())
        .unwrap();
    let html = body_text(&patient.send(req).await);
    assert!(!html.contains("<header"));
    assert!(!html.contains("<footer"));
    assert!(!html.contains("Sign out"));
    assert!(html.contains("js/v2/nhsapp.js"));
}

#[tokio::test]
async fn timeout_signs_out_and_stay_signed_in_extends() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    let list = patient.sign_in_as(ADULT).await;
    let page = body_text(&list);
    assert!(page.contains("data-warn-after=\"540\""));
    let csrf = csrf_token(&page).unwrap();
    portal.clock.advance(Duration::minutes(9));
    let back = page_of(KEY_ADULT_DERMATOLOGY);
    let res = patient
        .post_form(
            "/session/extend",
            &[("csrf_token", &csrf), ("return_to", &back)],
        )
        .await;
    assert_eq!(location(&res).as_deref(), Some(back.as_str()));
    portal.clock.advance(Duration::minutes(9));
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::OK);
    portal.clock.advance(Duration::minutes(10));
    let res = patient.get("/patient-portal/appointments").await;
    assert!(body_text(&res).contains("You have been signed out"));
    // Now there is no session: sign-in starts again.
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    let csrf = csrf_token(&body_text(&patient.sign_in_as(ADULT).await)).unwrap();
    assert!(patient.cookie(DEFAULT_COOKIE_NAME).is_some());
    let res = patient
        .post_form("/sign-out", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(location(&res).as_deref(), Some("/signed-out"));
    assert!(patient.cookie(DEFAULT_COOKIE_NAME).is_none());
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn maintenance_mode_and_health() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    let health = patient.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(body_text(&health).contains("\"status\":\"ok\""));
    portal.portal().set_maintenance(true);
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[header::RETRY_AFTER], "3600");
    assert!(body_text(&res).contains("Sorry, the service is unavailable"));
}

#[tokio::test]
async fn body_limit_is_enforced() {
    let portal = TestPortal::start().await;
    let big = vec![b'a'; 70 * 1024];
    let req = Request::post("/sign-out")
        .body(http_body_util::Full::new(Bytes::from(big)))
        .unwrap();
    let res = portal.portal().serve(req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
