//! The NHS login relying party against the built-in NHS login simulator, over real HTTP:
//! full sign-in, consent refused, P5 identity, NHS App SSO (and its replay), replayed state,
//! a client key NHS login does not know, and NHS login being unreachable.

use std::collections::HashMap;
use std::sync::Arc;

use nhs_portal_core::NhsNumber;
use nhs_portal_core::store::SessionStore;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_web::nhs_login::{
    LoginError, LoginRequest, NhsLoginConfig, RelyingParty, RsaSigningKey,
};
use nhs_portal_web::simulator::{NOT_NHS_LOGIN, Simulator, SimulatorClient, SimulatorConfig};

const CLIENT_ID: &str = "reference-portal";

struct Env {
    sim: Arc<Simulator>,
    issuer: String,
    redirect_uri: String,
    client_key: RsaSigningKey,
    store: Arc<MemoryStore>,
}

fn client_key() -> RsaSigningKey {
    static K: std::sync::OnceLock<RsaSigningKey> = std::sync::OnceLock::new();
    K.get_or_init(|| RsaSigningKey::generate().unwrap()).clone()
}

/// Serves a simulator mounted at `/nhs-login-simulator` on 127.0.0.1, port 0.
async fn start() -> Env {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}/nhs-login-simulator");
    let redirect_uri = format!("http://{addr}/auth/callback");
    let client_key = client_key();
    let sim = Arc::new(
        Simulator::new(SimulatorConfig::new(&issuer).with_client(SimulatorClient {
            client_id: CLIENT_ID.into(),
            redirect_uris: vec![redirect_uri.clone()],
            public_key: client_key.public_jwk(),
        }))
        .unwrap(),
    );
    // Served by the shared harness's loopback server.
    let served = sim.clone();
    tokio::spawn(nhs_portal_tests::serve(listener, move |req| {
        let sim = served.clone();
        async move { sim.handle(req) }
    }));
    Env {
        sim,
        issuer,
        redirect_uri,
        client_key,
        store: Arc::new(MemoryStore::new()),
    }
}

impl Env {
    async fn rp_with_key(&self, key: RsaSigningKey) -> RelyingParty {
        let config = NhsLoginConfig::new(&self.issuer, CLIENT_ID, key, &self.redirect_uri);
        RelyingParty::discover(config, self.store.clone())
            .await
            .unwrap()
    }

    async fn rp(&self) -> RelyingParty {
        self.rp_with_key(self.client_key.clone()).await
    }
}

/// A browser that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The callback's query string from a redirect to our redirect URI.
fn callback_query(env: &Env, resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), 302, "expected a redirect");
    let loc = resp.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(&env.redirect_uri), "{loc}");
    url::Url::parse(loc)
        .unwrap()
        .query()
        .unwrap_or("")
        .to_owned()
}

/// Opens the sign-in page and chooses a patient (form field `nhs_number`), or declines.
async fn sign_in(env: &Env, auth_url: &url::Url, form: &[(&str, &str)]) -> String {
    let b = browser();
    let page = b.get(auth_url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(NOT_NHS_LOGIN));
    let resp = b.post(auth_url.clone()).form(form).send().await.unwrap();
    callback_query(env, &resp)
}

fn request() -> LoginRequest {
    LoginRequest {
        return_to: "/patient-portal/appointments".into(),
        ..LoginRequest::default()
    }
}

#[tokio::test]
async fn full_sign_in_gives_the_verified_patient() {
    let env = start().await;
    let rp = env.rp().await;
    let url = rp.begin_login(request()).await.unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "openid profile");
    assert_eq!(q["vtr"], r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#);
    assert!(!q.contains_key("prompt"));
    assert_eq!(q["state"].len(), 43);
    assert!(!q["nonce"].is_empty());

    let callback = sign_in(&env, &url, &[("nhs_number", "9000000009")]).await;
    let done = rp.complete_login(&callback).await.unwrap();
    assert_eq!(
        done.identity.nhs_number,
        NhsNumber::parse("9000000009").unwrap()
    );
    // The simulator signs in the demo data's patient (the PAS's date of birth and name).
    let adult = nhs_portal_pas::demo::patients(chrono::Utc::now())
        .into_iter()
        .find(|p| p.record.nhs_number.as_str() == "9000000009")
        .unwrap();
    assert_eq!(
        done.identity.date_of_birth,
        Some(adult.record.date_of_birth)
    );
    assert_eq!(
        done.identity.date_of_birth,
        chrono::NaiveDate::from_ymd_opt(1968, 4, 12)
    );
    assert_eq!(done.identity.vot, "P9.Cp.Cd");
    assert_eq!(
        done.identity.family_name.as_deref(),
        Some(adult.family_name.as_str())
    );
    assert_eq!(done.pending.return_to, "/patient-portal/appointments");
    assert!(!done.pending.sso);

    // The same callback again: the state was used up.
    let err = rp.complete_login(&callback).await.unwrap_err();
    assert!(matches!(err.error, LoginError::UnknownState), "{err:?}");
}

#[tokio::test]
async fn a_made_up_state_is_refused() {
    let env = start().await;
    let rp = env.rp().await;
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("nhs_number", "9000000017")]).await;
    let forged = callback
        .split('&')
        .map(|p| {
            if p.starts_with("state=") {
                "state=forged"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let err = rp.complete_login(&forged).await.unwrap_err();
    assert!(matches!(err.error, LoginError::UnknownState));
    assert!(err.pending.is_none());
    // The genuine state still works once.
    assert!(rp.complete_login(&callback).await.is_ok());
}

#[tokio::test]
async fn declining_is_consent_not_given() {
    let env = start().await;
    let rp = env.rp().await;
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("decision", "deny")]).await;
    let err = rp.complete_login(&callback).await.unwrap_err();
    assert!(matches!(err.error, LoginError::ConsentNotGiven), "{err:?}");
    assert!(err.pending.is_some());
}

#[tokio::test]
async fn a_p5_patient_is_refused() {
    let env = start().await;
    let rp = env.rp().await;
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("nhs_number", "9000000033")]).await;
    let err = rp.complete_login(&callback).await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::IdentityNotP9(l) if l == "P5"),
        "{err:?}"
    );
}

#[tokio::test]
async fn nhs_app_sso_signs_in_silently_once() {
    let env = start().await;
    let rp = env.rp().await;
    let patient = NhsNumber::parse("9000000017").unwrap();
    let assertion = env.sim.mint_sso_assertion(&patient).unwrap();
    let sso = LoginRequest {
        in_nhs_app: true,
        asserted_login_identity: Some(assertion.clone()),
        ..request()
    };
    let url = rp.begin_login(sso.clone()).await.unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["prompt"], "none");
    assert_eq!(q["asserted_login_identity"], assertion);
    // No page: straight back with a code.
    let resp = browser().get(url).send().await.unwrap();
    let done = rp
        .complete_login(&callback_query(&env, &resp))
        .await
        .unwrap();
    assert_eq!(done.identity.nhs_number, patient);
    assert!(done.pending.sso && done.pending.in_nhs_app);

    // The assertion is single use: a second try fails as an SSO failure.
    let url = rp.begin_login(sso).await.unwrap();
    let resp = browser().get(url).send().await.unwrap();
    let err = rp
        .complete_login(&callback_query(&env, &resp))
        .await
        .unwrap_err();
    assert!(matches!(err.error, LoginError::SsoFailed), "{err:?}");
    assert!(err.pending.unwrap().sso);
}

#[tokio::test]
async fn a_client_key_nhs_login_does_not_know_is_refused_at_the_token_endpoint() {
    let env = start().await;
    let rp = env.rp_with_key(RsaSigningKey::generate().unwrap()).await;
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("nhs_number", "9000000009")]).await;
    let err = rp.complete_login(&callback).await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::TokenRequestRefused(e) if e == "invalid_client"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_sign_in_is_stale() {
    let env = start().await;
    let clock = Arc::new(nhs_portal_core::clock::ManualClock::new(chrono::Utc::now()));
    let rp = env.rp().await.with_clock(clock.clone());
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("nhs_number", "9000000009")]).await;
    clock.advance(chrono::Duration::minutes(11));
    let err = rp.complete_login(&callback).await.unwrap_err();
    assert!(matches!(err.error, LoginError::StaleLogin), "{err:?}");
}

#[tokio::test]
async fn nhs_login_unreachable_is_unavailable() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = NhsLoginConfig::new(
        format!("http://{addr}/nhs-login"),
        CLIENT_ID,
        client_key(),
        "http://127.0.0.1/cb",
    );
    let err = RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn pending_logins_are_stored_for_one_use() {
    let env = start().await;
    let rp = env.rp().await;
    let url = rp.begin_login(request()).await.unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let pending = env.store.take_pending_login(&state).await.unwrap().unwrap();
    assert_eq!(pending.return_to, "/patient-portal/appointments");
    assert!(
        env.store
            .take_pending_login(&state)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_portal_mounting_the_simulator_can_skip_discovery_over_http() {
    let env = start().await;
    let config = NhsLoginConfig::new(
        &env.issuer,
        CLIENT_ID,
        env.client_key.clone(),
        &env.redirect_uri,
    );
    let rp = RelyingParty::from_discovery_document(
        config,
        &env.sim.discovery_json(),
        &env.sim.jwks_json(),
        env.store.clone(),
    )
    .await
    .unwrap();
    let url = rp.begin_login(request()).await.unwrap();
    let callback = sign_in(&env, &url, &[("nhs_number", "9000000025")]).await;
    let done = rp.complete_login(&callback).await.unwrap();
    assert_eq!(done.identity.nhs_number.as_str(), "9000000025");

    // A discovery document for another issuer is refused.
    let other = NhsLoginConfig::new(
        "https://auth.login.nhs.uk",
        CLIENT_ID,
        env.client_key.clone(),
        &env.redirect_uri,
    );
    let err = RelyingParty::from_discovery_document(
        other,
        &env.sim.discovery_json(),
        &env.sim.jwks_json(),
        env.store.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Config(_)), "{err:?}");
}
