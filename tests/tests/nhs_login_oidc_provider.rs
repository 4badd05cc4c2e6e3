//! Interop: the NHS login relying party against an independent OpenID Connect provider, npm
//! `oidc-provider` 9 configured like NHS login (`tests/node/oidc-provider/server.mjs`): RS512
//! `private_key_jwt` only, NHS claims in the ID token, `vtr`, consent refusal and NHS App SSO.
//!
//! Needs `node` and the harness's `node_modules` (`bash scripts/setup-node`); without them each
//! test says it was skipped (with `CI` set, it fails).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use http::{StatusCode, header};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::demo;
use nhs_portal_tests::TestPortal;
use nhs_portal_tests::browser::Browser;
use nhs_portal_tests::live::{OidcProvider as Op, node_peer};
use nhs_portal_web::nhs_login::{
    LoginError, LoginRequest, NhsLoginConfig, RelyingParty, RsaSigningKey,
};
use nhs_portal_web::sign_in::NhsLoginSignIn;

const CLIENT_ID: &str = "portal-interop";
const REDIRECT_URI: &str = "http://127.0.0.1:9/sign-in/callback";

fn client_key() -> RsaSigningKey {
    static K: std::sync::OnceLock<RsaSigningKey> = std::sync::OnceLock::new();
    K.get_or_init(|| RsaSigningKey::generate().unwrap()).clone()
}

/// Starts the oidc-provider harness (the shared harness's stand-in), or `None` when it is not
/// installed (announced as skipped; a failure with `CI` set).
async fn start_op() -> Option<Op> {
    let dir = node_peer("oidc-provider")?;
    Some(
        Op::start(
            &dir,
            CLIENT_ID,
            &client_key().public_jwk_json(),
            REDIRECT_URI,
        )
        .await,
    )
}

async fn rp(op: &Op) -> RelyingParty {
    let config = NhsLoginConfig::new(&op.issuer, CLIENT_ID, client_key(), REDIRECT_URI);
    RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap()
}

/// Walks NHS login's stand-in from `start` in a fresh browser (the shared harness's) until a
/// redirect goes to our redirect URI, and returns its query. The one page met on the way is
/// answered with `form` (posted back to the page's own URL).
async fn run(start: url::Url, form: &[(&str, &str)]) -> String {
    let mut browser = Browser::new();
    let first = browser.get(start.as_str()).await;
    let page = match browser.follow_until(first, REDIRECT_URI).await {
        Err(back) => return back.query().unwrap_or("").to_owned(),
        Ok(page) => page,
    };
    assert_eq!(page.status, 200, "unexpected answer from {}", page.url);
    assert!(page.body.contains("not NHS login"), "{}", page.body);
    let posted = browser.post_form(page.url.as_str(), form).await;
    assert!(posted.status.is_redirection(), "{}", posted.status);
    match browser.follow_until(posted, REDIRECT_URI).await {
        Err(back) => back.query().unwrap_or("").to_owned(),
        Ok(again) => panic!(
            "the page came back after the form was posted: {}",
            again.url
        ),
    }
}

fn request() -> LoginRequest {
    LoginRequest {
        return_to: "/patient-portal/appointments".into(),
        ..LoginRequest::default()
    }
}

#[tokio::test]
async fn interop_full_sign_in_and_refusals() {
    let Some(op) = start_op().await else {
        return;
    };
    let rp = rp(&op).await;

    // A P9 patient signs in.
    let url = rp.begin_login(request()).await.unwrap();
    let q = run(url, &[("nhs_number", "9000000009")]).await;
    let done = rp.complete_login(&q).await.unwrap();
    assert_eq!(
        done.identity.nhs_number,
        NhsNumber::parse("9000000009").unwrap()
    );
    assert_eq!(done.identity.vot, "P9.Cp.Cd");
    assert_eq!(
        done.identity.date_of_birth,
        chrono::NaiveDate::from_ymd_opt(1968, 4, 12)
    );
    // The state is used up.
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(matches!(err.error, LoginError::UnknownState), "{err:?}");

    // Declining.
    let url = rp.begin_login(request()).await.unwrap();
    let q = run(url, &[("decision", "deny")]).await;
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(matches!(err.error, LoginError::ConsentNotGiven), "{err:?}");

    // A P5 patient.
    let url = rp.begin_login(request()).await.unwrap();
    let q = run(url, &[("nhs_number", "9000000033")]).await;
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::IdentityNotP9(l) if l == "P5"),
        "{err:?}"
    );

    // A malformed `vtr` is refused by the provider (as NHS login refuses vectors the client is
    // not registered for): the error comes back to the callback.
    let mut config = NhsLoginConfig::new(&op.issuer, CLIENT_ID, client_key(), REDIRECT_URI);
    config.vtr = vec!["P9.Xx".into()];
    let bad_vtr = RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    let url = bad_vtr.begin_login(request()).await.unwrap();
    let q = run(url, &[]).await;
    let err = bad_vtr.complete_login(&q).await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::Provider(e) if e == "invalid_request"),
        "{err:?}"
    );
}

#[tokio::test]
async fn interop_nhs_app_sso() {
    let Some(op) = start_op().await else {
        return;
    };
    let rp = rp(&op).await;
    let assertion = op.sso_assertion("9000000017").await;
    let sso = LoginRequest {
        in_nhs_app: true,
        asserted_login_identity: Some(assertion),
        ..request()
    };
    // A fresh browser, no session at the provider: signed in silently.
    let url = rp.begin_login(sso.clone()).await.unwrap();
    let q = run(url, &[]).await;
    let done = rp.complete_login(&q).await.unwrap();
    assert_eq!(
        done.identity.nhs_number,
        NhsNumber::parse("9000000017").unwrap()
    );
    assert!(done.pending.sso);

    // The assertion again: refused as an SSO failure.
    let url = rp.begin_login(sso).await.unwrap();
    let q = run(url, &[]).await;
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(matches!(err.error, LoginError::SsoFailed), "{err:?}");

    // A garbled assertion.
    let url = rp
        .begin_login(LoginRequest {
            asserted_login_identity: Some("not-a-jwt".into()),
            ..request()
        })
        .await
        .unwrap();
    let q = run(url, &[]).await;
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(matches!(err.error, LoginError::SsoFailed), "{err:?}");
}

#[tokio::test]
async fn interop_an_unregistered_client_key_is_refused() {
    let Some(op) = start_op().await else {
        return;
    };
    let config = NhsLoginConfig::new(
        &op.issuer,
        CLIENT_ID,
        RsaSigningKey::generate().unwrap(),
        REDIRECT_URI,
    );
    let rp = RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    let url = rp.begin_login(request()).await.unwrap();
    let q = run(url, &[("nhs_number", "9000000009")]).await;
    let err = rp.complete_login(&q).await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::TokenRequestRefused(e) if e == "invalid_client"),
        "{err:?}"
    );
}

#[tokio::test]
async fn interop_sign_in_with_pkce() {
    // oidc-provider checks PKCE when a challenge is sent; NHS login's PKCE support is
    // undocumented, so the relying party sends one only when configured to.
    let Some(op) = start_op().await else {
        return;
    };
    let mut config = NhsLoginConfig::new(&op.issuer, CLIENT_ID, client_key(), REDIRECT_URI);
    config.use_pkce = true;
    let rp = RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    let url = rp.begin_login(request()).await.unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    let callback = run(url, &[("nhs_number", "9000000025")]).await;
    let done = rp.complete_login(&callback).await.unwrap();
    assert_eq!(
        done.identity.date_of_birth,
        chrono::NaiveDate::from_ymd_opt(2015, 6, 15)
    );
    assert!(done.pending.pkce_verifier.is_some());
}

/// The whole portal (pages, sessions and the NHS login relying party) against oidc-provider: an
/// NHS App deep link carrying `assertedLoginIdentity` signs the patient in silently and lands on
/// the appointment; after 10 minutes without activity the session has timed out.
#[tokio::test]
async fn interop_portal_deep_link_sso_then_timeout() {
    let Some(op) = start_op().await else {
        return;
    };
    let config = NhsLoginConfig::new(&op.issuer, CLIENT_ID, client_key(), REDIRECT_URI);
    // The demo portal from the shared harness, signing in with oidc-provider instead of the
    // simulator.
    let t = TestPortal::builder()
        .sign_in(move |store, clock| Arc::new(NhsLoginSignIn::new(config, store, clock)))
        .start()
        .await;
    let clock = t.clock.clone();
    let mut patient = t.client();
    let id = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let path = format!("/patient-portal/appointment/{id}");
    let assertion = op.sso_assertion("9000000009").await;
    let deep_link =
        format!("{path}?extSystemName=Portal&trackingId=trk-1&assertedLoginIdentity={assertion}");

    // Not signed in: off to NHS login (here oidc-provider) with the assertion and prompt=none.
    let res = patient.get(&deep_link).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(res.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert!(authorize.as_str().starts_with(&op.issuer), "{authorize}");
    let params: HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params.get("prompt").map(String::as_str), Some("none"));
    assert_eq!(params.get("asserted_login_identity"), Some(&assertion));

    // The provider signs the patient in without a page and sends them back.
    let query = run(authorize, &[]).await;
    let res = patient.get(&format!("/sign-in/callback?{query}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(back.starts_with(&path), "{back}");

    // The appointment, then the list, while active: the signed-in patient's own pages, not a
    // sign-in or error page.
    let own = t
        .demo
        .data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap();
    let res = patient.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = String::from_utf8(res.body().to_vec()).unwrap();
    assert!(
        page.contains(&format!(
            "<h1 class=\"nhsuk-heading-l\">{}</h1>",
            own.description
        )),
        "{page}"
    );
    assert!(
        page.contains(&nhs_portal_core::uk_time::format_date(own.start)),
        "{page}"
    );
    clock.advance(Duration::minutes(9));
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = String::from_utf8(res.body().to_vec()).unwrap();
    assert!(
        page.contains("<h1 class=\"nhsuk-heading-l\">Your hospital appointments</h1>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"{path}\"")),
        "the list links it: {page}"
    );

    // Ten minutes with no request: signed out, and the next request starts sign-in again.
    clock.advance(Duration::minutes(10) + Duration::seconds(1));
    let res = patient.get("/patient-portal/appointments").await;
    let page = String::from_utf8(res.body().to_vec()).unwrap();
    assert!(page.contains("You have been signed out"), "{page}");
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}
