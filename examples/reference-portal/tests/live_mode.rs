//! Live mode end to end: the reference portal binary, configured only through its settings
//! (`NHS_PORTAL_MODE=live` and the rest, from the harness's `live::LiveStandIns::env`), against
//! local stand-ins: npm `oidc-provider` as NHS login (its issuer, the portal's client and private
//! key file), Medplum's FHIR router as the PAS of two trusts (the trusts file) and a JWKS for the
//! PCA's bearer tokens. A patient signs in through the provider's own pages (browserless),
//! views an appointment and cancels it in the PAS (real-time trust), asks to cancel another
//! (request-only trust); the PCA's call answers a Bundle, with both, that the producer spec and
//! the FHIR R4 schema accept; a token from another issuer is refused; the simulators are nowhere.
//! A second test adds the trust's staff identity provider (npm `oidc-provider`'s `staff.mjs`)
//! and a Reporting Service checking the signed-JWT exchange: a patient's cancellation at the
//! request-only trust is fulfilled by the booking team after signing in there, someone outside
//! the team is refused, and the usage events arrive with the access token the exchange gave.
//!
//! Needs Node and the peers' packages (`bash scripts/setup-node`); without them it says it was
//! skipped (with `CI` set it fails). Without NHS England's specs the Bundle is checked for its
//! content only, and the spec check is announced as skipped.

use std::path::Path;

use http::StatusCode;
use nhs_portal_pas::demo;
use nhs_portal_tests::browser::Browser;
use nhs_portal_tests::live::{LiveStandIns, PCA_AUDIENCE, StaffIdp, start_portal};
use nhs_portal_tests::reporting_service::{ReportingService, event_codes};
use nhs_portal_tests::{csrf_token, get_appointments_uri};

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_signs_in_views_cancels_and_serves_the_pca() {
    let Some(stand_ins) = LiveStandIns::start().await else {
        return;
    };
    let portal = start_portal(Path::new(BIN), &stand_ins.env(), stand_ins.dir.path());
    let base = portal.base_url.clone();
    assert_eq!(base, stand_ins.base_url());

    // No simulator of any kind, and no demo staff pages.
    let mut browser = Browser::new();
    for at in [
        "/nhs-login-simulator/.well-known/openid-configuration",
        "/nhs-app-simulator",
        "/staff",
    ] {
        let page = browser.get(&format!("{base}{at}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{at}");
    }

    // Sign in: the portal sends the patient to NHS login (the provider's own pages), who picks
    // the patient, and comes back signed in on the appointment list.
    let page = browser
        .get_following(&format!("{base}/patient-portal/appointments"))
        .await;
    assert!(
        page.url.as_str().starts_with(&stand_ins.nhs_login.issuer),
        "at NHS login: {}",
        page.url
    );
    assert!(page.body.contains("not NHS login"), "{}", page.body);
    let page = browser.submit(&page, &[("nhs_number", demo::ADULT)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}: {}", page.url, page.body);
    assert_eq!(
        page.url.as_str(),
        format!("{base}/patient-portal/appointments")
    );
    assert!(
        page.body.contains("Your hospital appointments"),
        "{}",
        page.body
    );

    // View one of the patient's appointments at the real-time trust, held by the FHIR PAS.
    let id = stand_ins.pas.id(demo::KEY_ADULT_TELEPHONE);
    let at = format!("{base}/patient-portal/appointment/{}", id.as_str());
    assert!(
        page.body
            .contains(&format!("/patient-portal/appointment/{}", id.as_str()))
    );
    let view = browser.get(&at).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    let own = stand_ins
        .pas
        .data
        .appointment(demo::KEY_ADULT_TELEPHONE)
        .unwrap();
    assert!(view.body.contains(&own.description), "{}", view.body);

    // Cancel it: the PAS now has it cancelled.
    let csrf = csrf_token(&view.body).expect("a CSRF token");
    cancel(&mut browser, &at, &csrf).await;
    let in_pas = stand_ins
        .pas
        .read(&format!("Appointment/{}", id.as_str()))
        .await;
    assert_eq!(in_pas["status"], "cancelled", "{in_pas}");

    // At the request-only trust (the same PAS), cancelling is a request for its staff: the PAS
    // is unchanged and the request is pending.
    let requested = stand_ins.pas.id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let at_request_only = format!("{base}/patient-portal/appointment/{}", requested.as_str());
    assert_eq!(browser.get(&at_request_only).await.status, StatusCode::OK);
    cancel(&mut browser, &at_request_only, &csrf).await;
    let in_pas = stand_ins
        .pas
        .read(&format!("Appointment/{}", requested.as_str()))
        .await;
    assert_eq!(in_pas["status"], "booked", "{in_pas}");

    // The PCA's call: its bearer token and the NHS App's ID token from NHS login.
    let http = reqwest::Client::new();
    let id_token = stand_ins.nhs_login.nhs_app_id_token(demo::ADULT).await;
    let call = |bearer: String| {
        http.get(format!("{base}{}", get_appointments_uri(demo::ADULT)))
            .bearer_auth(bearer)
            .header("x-correlation-id", "live-e2e-1")
            .header("nhsd-id-token", id_token.clone())
    };
    let res = call(stand_ins.pca.token(PCA_AUDIENCE))
        .send()
        .await
        .unwrap();
    let res = into_http(res).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
    let bundle = if nhs_portal_tests::pca_spec::specs_present() {
        nhs_portal_tests::pca_spec::check_contract(&res, Some("live-e2e-1"))
    } else {
        serde_json::from_slice(res.body()).unwrap()
    };
    let entry = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["id"] == id.as_str())
        .expect("the cancelled appointment is in the Bundle");
    assert_eq!(entry["status"], "cancelled");
    let entry = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["id"] == requested.as_str())
        .expect("the requested one is in the Bundle");
    assert_eq!(entry["status"], "booked");
    assert!(
        entry.to_string().contains("\"Pending Cancellation\""),
        "its request status: {entry}"
    );

    // A token from another issuer (signed with the right key), or for another audience: 401.
    for bearer in [
        stand_ins
            .pca
            .token_from("https://elsewhere.example", PCA_AUDIENCE),
        stand_ins.pca.token("another-api"),
    ] {
        let res = call(bearer).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Cancels the appointment at `at` through its pages and checks it ends on the done page.
async fn cancel(browser: &mut Browser, at: &str, csrf: &str) {
    let done = browser.cancel_through_pages(at, csrf).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.url.path().ends_with("/cancel/done"), "{}", done.url);
}

/// A reqwest answer as an `http::Response` (for the spec checks).
async fn into_http(res: reqwest::Response) -> http::Response<bytes::Bytes> {
    let mut out = http::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        out = out.header(k, v);
    }
    out.body(res.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_staff_fulfil_a_request_after_oidc_sign_in_and_reporting_uses_signed_jwt() {
    let Some(stand_ins) = LiveStandIns::start().await else {
        return;
    };
    let Some(op_dir) = nhs_portal_tests::live::node_peer("oidc-provider") else {
        return;
    };
    let staff_idp = StaffIdp::start(&op_dir, &stand_ins.base_url()).await;
    let mut wayfinder = ReportingService::signed_jwt(stand_ins.dir.path()).await;
    let mut env = stand_ins.env();
    env.extend(staff_idp.env());
    env.extend(wayfinder.env());
    let portal = start_portal(Path::new(BIN), &env, stand_ins.dir.path());
    let base = portal.base_url.clone();

    // A patient asks the request-only trust to cancel an appointment.
    let mut patient = Browser::new();
    let page = patient
        .get_following(&format!("{base}/patient-portal/appointments"))
        .await;
    let page = patient.submit(&page, &[("nhs_number", demo::ADULT)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}: {}", page.url, page.body);
    let id = stand_ins.pas.id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let at = format!("{base}/patient-portal/appointment/{}", id.as_str());
    let view = patient.get(&at).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    let csrf = csrf_token(&view.body).expect("a CSRF token");
    cancel(&mut patient, &at, &csrf).await;

    // The booking team signs in through the trust's identity provider and sees it waiting.
    let mut staff = Browser::new();
    let page = staff
        .get_following(&format!("{base}/staff/sign-in/start"))
        .await;
    assert!(
        page.url.as_str().starts_with(&staff_idp.issuer),
        "at the staff provider: {}",
        page.url
    );
    let list = staff.submit(&page, &[("user", "sam")]).await;
    assert_eq!(list.url.as_str(), format!("{base}/staff"), "{}", list.body);
    assert!(
        list.body.contains("Signed in as Sam Booking."),
        "{}",
        list.body
    );
    let card = list
        .body
        .find("Cancel: ")
        .expect("the waiting cancellation");
    let action = list.body[card..]
        .split("action=\"")
        .nth(1)
        .and_then(|a| a.split('"').next())
        .expect("its fulfil form")
        .to_owned();
    assert!(action.ends_with("/fulfil"), "{action}");
    let csrf = csrf_token(&list.body).expect("the worklist's CSRF token");
    // The booking team cancels it in the PAS, then marks the request done.
    stand_ins
        .pas
        .staff_edit(&format!("Appointment/{}", id.as_str()), |a| {
            a["status"] = "cancelled".into();
        })
        .await;
    let done = staff
        .post_form(
            &format!("{base}{action}"),
            &[("csrf_token", &csrf), ("ods", demo::REQUEST_ONLY_TRUST_ODS)],
        )
        .await;
    assert_eq!(
        done.location.as_ref().map(|l| l.path()),
        Some("/staff"),
        "{}",
        done.body
    );
    let after = staff.follow(done).await;
    assert!(after.body.contains("Done."), "{}", after.body);
    assert!(!after.body.contains(&action), "no longer waiting");

    // Someone outside the booking team is refused.
    let mut other = Browser::new();
    let page = other
        .get_following(&format!("{base}/staff/sign-in/start"))
        .await;
    let refused = other.submit(&page, &[("user", "alex")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // The usage events reached Wayfinder after the signed-JWT exchange.
    let mut codes = Vec::new();
    while !codes.iter().any(|c| c == "SESSION") {
        codes.extend(event_codes(&wayfinder.next_batch().await));
    }
    assert!(wayfinder.tokens_issued() >= 1);
}
