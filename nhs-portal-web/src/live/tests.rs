//! The live portal against a fake NHS login and a fake PCA key server (wiremock): no simulator
//! anywhere, the URL rule, the settings it refuses, sign-in sent to the configured issuer, and
//! the API taking the PCA's and NHS login's real tokens but not another issuer's.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::demo;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::nhs_login::RsaSigningKey;

const BASE: &str = "http://127.0.0.1:9";
const CLIENT: &str = "portal-live";
const NHS_APP: &str = "nhs-app";
const PCA_ISSUER: &str = "https://pca-auth.example";
const AUDIENCE: &str = "portal-api";

/// NHS login's key, the PCA's key, the portal's client key.
fn keys() -> &'static (RsaSigningKey, RsaSigningKey, RsaSigningKey) {
    static K: OnceLock<(RsaSigningKey, RsaSigningKey, RsaSigningKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            RsaSigningKey::generate().unwrap(),
            RsaSigningKey::generate().unwrap(),
            RsaSigningKey::generate().unwrap(),
        )
    })
}

/// NHS login's discovery and keys, and the PCA's keys at `/pca/jwks.json`.
async fn fake_services() -> MockServer {
    let server = MockServer::start().await;
    crate::nhs_login::rp_tests::mount_discovery(&server).await;
    for (at, key) in [
        ("/.well-known/jwks.json", &keys().0),
        ("/pca/jwks.json", &keys().1),
    ] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"keys": [key.public_jwk_json()]})),
            )
            .mount(&server)
            .await;
    }
    server
}

async fn settings(services: &MockServer) -> LiveSettings {
    let store = Arc::new(MemoryStore::new());
    let (_, pas, _) = demo::start(Arc::new(SystemClock), store.as_ref())
        .await
        .unwrap();
    let nhs_login = NhsLoginConfig::new(
        services.uri(),
        CLIENT,
        keys().2.clone(),
        format!("{BASE}/sign-in/callback"),
    );
    let pca = PcaBearer {
        issuer: PCA_ISSUER.into(),
        jwks_url: format!("{}/pca/jwks.json", services.uri()),
        audience: AUDIENCE.into(),
    };
    let mut settings = LiveSettings::new(BASE, Arc::new(pas), nhs_login, vec![NHS_APP.into()], pca);
    settings.store = store;
    settings
}

#[test]
fn urls_are_https_or_this_machine() {
    let cases = [
        ("https://portal.example.nhs.uk", true),
        ("https://auth.sandpit.signin.nhs.uk", true),
        ("http://127.0.0.1:8080", true),
        ("http://localhost:3000/x", true),
        ("http://[::1]:80", true),
        ("http://portal.example.nhs.uk", false),
        ("http://10.0.0.4:8080", false),
        ("http://127.0.0.1.example", false),
        ("ftp://portal.example", false),
        ("portal.example", false),
    ];
    for (url, ok) in cases {
        assert_eq!(check_public_url("x", url).is_ok(), ok, "{url}");
    }
    assert!(matches!(
        check_public_url("the base URL", "http://portal.example"),
        Err(LiveError::InsecureUrl {
            what: "the base URL",
            ..
        })
    ));
}

#[tokio::test]
async fn what_cannot_work_live_is_refused() {
    let services = fake_services().await;
    type Edit = fn(&mut LiveSettings);
    let cases: Vec<(&str, Edit)> = vec![
        ("public http base URL", |s| {
            s.base_url = "http://portal.example".into();
            s.nhs_login.redirect_uri = "http://portal.example/sign-in/callback".into();
        }),
        ("public http issuer", |s| {
            s.nhs_login.issuer = "http://auth.login.nhs.example".into()
        }),
        ("public http PCA keys", |s| {
            s.pca.jwks_url = "http://pca.example/jwks.json".into()
        }),
        ("redirect elsewhere", |s| {
            s.nhs_login.redirect_uri = format!("{BASE}/auth/callback")
        }),
        ("no NHS App client", |s| {
            s.nhs_app_client_ids = vec![" ".into()]
        }),
    ];
    for (what, edit) in cases {
        let mut s = settings(&services).await;
        edit(&mut s);
        let err = LivePortal::build(s).await.unwrap_err();
        let text = err.to_string();
        match what {
            "redirect elsewhere" => assert!(matches!(err, LiveError::RedirectUri { .. })),
            "no NHS App client" => assert!(matches!(err, LiveError::NoNhsAppClient)),
            _ => assert!(
                matches!(err, LiveError::InsecureUrl { .. }),
                "{what}: {text}"
            ),
        }
    }
}

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

fn pca_call(bearer: &str, id_token: &str) -> Request<Bytes> {
    Request::get(format!(
        "/fhir/Appointment?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C{}",
        demo::ADULT
    ))
    .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
    .header("x-correlation-id", "c-live-1")
    .header("nhsd-id-token", id_token)
    .body(Bytes::new())
    .unwrap()
}

fn bearer(issuer: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    keys()
        .1
        .sign(&json!({
            "iss": issuer, "aud": AUDIENCE, "sub": "pca", "client_id": "pca",
            "iat": now, "exp": now + 300,
        }))
        .unwrap()
}

fn id_token(issuer: &str, birthdate: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    keys()
        .0
        .sign(&json!({
            "iss": issuer, "aud": NHS_APP, "sub": "s-1", "iat": now - 5, "exp": now + 300,
            "jti": "j-1", "vot": "P9.Cp.Cd", "identity_proofing_level": "P9",
            "nhs_number": demo::ADULT, "birthdate": birthdate,
        }))
        .unwrap()
}

#[tokio::test]
async fn the_live_portal_has_no_simulator_and_takes_real_tokens() {
    let services = fake_services().await;
    let s = settings(&services).await;
    let live = LivePortal::build(s).await.unwrap();
    assert_eq!(live.base_url, BASE);

    // No simulator, no NHS App simulator, no demo staff pages.
    for at in [
        "/nhs-login-simulator/.well-known/openid-configuration",
        "/nhs-app-simulator",
        "/staff",
    ] {
        let res = live.portal.handle(get(at)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{at}");
    }

    // Signing in goes to the configured NHS login, as this client.
    let mut at = "/patient-portal/appointments".to_owned();
    let mut cookies = Vec::new();
    let authorize = loop {
        let mut req = get(&at);
        if !cookies.is_empty() {
            req.headers_mut()
                .insert(header::COOKIE, cookies.join("; ").parse().unwrap());
        }
        let res = live.portal.handle(req).await;
        for c in res.headers().get_all(header::SET_COOKIE) {
            cookies.push(c.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        assert!(res.status().is_redirection(), "{at}: {}", res.status());
        let next = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        if next.starts_with(&services.uri()) {
            break url::Url::parse(&next).unwrap();
        }
        at = next;
    };
    assert_eq!(authorize.path(), "/authorize");
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], format!("{BASE}/sign-in/callback"));

    // The PCA's token with the NHS App's forwarded ID token: the patient's appointments.
    let data = demo::DemoData::build(chrono::Utc::now());
    let dob = data
        .patient(demo::ADULT)
        .unwrap()
        .record
        .date_of_birth
        .to_string();
    let res = live
        .portal
        .handle(pca_call(
            &bearer(PCA_ISSUER),
            &id_token(&services.uri(), &dob),
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
    let bundle: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert!(bundle["total"].as_u64().unwrap() > 0, "{bundle}");

    // A bearer token from another issuer, or an ID token from another issuer: refused.
    let res = live
        .portal
        .handle(pca_call(
            &bearer("https://elsewhere.example"),
            &id_token(&services.uri(), &dob),
        ))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = live
        .portal
        .handle(pca_call(
            &bearer(PCA_ISSUER),
            &id_token("https://elsewhere.example", &dob),
        ))
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
}
