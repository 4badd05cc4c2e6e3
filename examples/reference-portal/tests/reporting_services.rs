//! The reference portal binary's reporting, configured only by its settings, against in-test
//! stand-ins (wiremock) for NHS England's services:
//! - the Wayfinder Reporting Service with signed-JWT authentication: the stand-in's token
//!   endpoint checks the client assertion (RS512 signature with the registered public key,
//!   `kid`, `iss` = `sub` = the API key, `aud` = the token URL, a short `exp`, a fresh `jti`) and
//!   issues an access token; the events endpoint accepts only that token;
//! - the Reporting Service with the integration environment's `apikey` header;
//! - the PCA Record Service sender on its schedule: the demo's eligible patients arrive with the
//!   API key, and the under-16 and restricted ones do not.
//!
//! A patient signing in through the NHS login simulator makes the `SESSION` event that the
//! outbox worker delivers.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Running;
use common::browser::{Browser, form_action};
use nhs_portal_pas::demo;
use nhs_portal_web::nhs_login::RsaSigningKey;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const API_KEY: &str = "apim-app-key-1";
const KEY_ID: &str = "portal-key-1";
const CLIENT_ID: &str = "wayfinder-client-1";

fn start(env: &[(&str, String)]) -> Running {
    common::start_portal(env)
}

/// Signs a demo patient in through the NHS login simulator's pages (a `SESSION` event).
async fn sign_in_a_patient(portal: &Running) {
    let mut b = Browser::new();
    let first = b
        .get(&format!("{}/patient-portal/appointments", portal.base_url))
        .await;
    let page = b.follow(first, None).await.unwrap();
    assert!(page.body.contains("not NHS login"), "{}", page.body);
    let action = form_action(&page.body, &page.url);
    let done = b
        .post_form(
            action.as_str(),
            &[("nhs_number", demo::ADULT), ("decision", "allow")],
        )
        .await;
    let list = b.follow(done, None).await.unwrap();
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.url.path().ends_with("/appointments"), "{}", list.url);
}

/// Waits for the next message, for at most a minute (the worker's first pass comes at once,
/// its idle poll every 5 seconds).
async fn next<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within a minute"))
        .expect("the stand-in is running")
}

/// The stand-in's token endpoint: checks the client assertion as NHS England's API Management
/// does and issues a token, or answers 401 and says why.
struct TokenEndpoint {
    token_url: String,
    public_pem: String,
    jtis: Mutex<HashSet<String>>,
    issued: Arc<Mutex<Vec<String>>>,
    refusals: UnboundedSender<String>,
}

impl TokenEndpoint {
    fn check(&self, req: &Request) -> Result<(), String> {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let field = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or(format!("no {k}"))
        };
        if field("grant_type")? != "client_credentials" {
            return Err("grant_type".into());
        }
        if field("client_assertion_type")?
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return Err("client_assertion_type".into());
        }
        let assertion = field("client_assertion")?;
        let header = jsonwebtoken::decode_header(&assertion).map_err(|e| e.to_string())?;
        if header.alg != jsonwebtoken::Algorithm::RS512 || header.kid.as_deref() != Some(KEY_ID) {
            return Err(format!("header {header:?}"));
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(self.public_pem.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
        v.set_issuer(&[API_KEY]);
        v.set_audience(&[&self.token_url]);
        v.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
        let claims = jsonwebtoken::decode::<Value>(&assertion, &key, &v)
            .map_err(|e| format!("assertion: {e}"))?
            .claims;
        if claims["sub"] != API_KEY {
            return Err("sub".into());
        }
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp > now + 300 {
            return Err("exp more than 5 minutes ahead".into());
        }
        let jti = claims["jti"].as_str().unwrap_or("").to_owned();
        if jti.is_empty() || !self.jtis.lock().unwrap().insert(jti) {
            return Err("jti missing or reused".into());
        }
        Ok(())
    }
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.check(req) {
            Ok(()) => {
                let token = format!("issued-{}", uuid_like());
                self.issued.lock().unwrap().push(token.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": token, "expires_in": "599", "token_type": "Bearer"
                }))
            }
            Err(why) => {
                let _ = self.refusals.send(why);
                ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_request"}))
            }
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:016x}",
        N.fetch_add(1, Ordering::Relaxed) * 0x9e37_79b9_7f4a_7c15
    )
}

/// The events endpoint: accepts a batch only with an accepted credential, and passes it on.
struct Events {
    accepted: Box<dyn Fn(&Request) -> bool + Send + Sync>,
    batches: UnboundedSender<Value>,
}

impl Respond for Events {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let client = req.headers.get("client-id").and_then(|v| v.to_str().ok());
        if client != Some(CLIENT_ID) || !(self.accepted)(req) {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"}));
        }
        let _ = self
            .batches
            .send(serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        ResponseTemplate::new(200).set_body_json(json!({"status": "ok"}))
    }
}

/// Mounts the events endpoint at `/reporting/`.
async fn mount_events(
    server: &MockServer,
    accepted: impl Fn(&Request) -> bool + Send + Sync + 'static,
) -> UnboundedReceiver<Value> {
    let (batches, rx) = unbounded_channel();
    Mock::given(method("POST"))
        .and(path("/reporting/"))
        .respond_with(Events {
            accepted: Box::new(accepted),
            batches,
        })
        .mount(server)
        .await;
    rx
}

/// Starts the portal reporting to `server` with `auth`, signs a patient in, and waits for the
/// batch carrying the `SESSION` event.
fn reporting_env(
    server: &MockServer,
    auth: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "NHS_PORTAL_REPORTING_URL",
            format!("{}/reporting", server.uri()),
        ),
        ("NHS_PORTAL_REPORTING_CLIENT_ID", CLIENT_ID.into()),
        ("NHS_PORTAL_REPORTING_API_KEY", API_KEY.into()),
    ];
    env.extend_from_slice(auth);
    env
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn event_codes(batch: &Value) -> Vec<String> {
    batch
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["EventCode"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn wayfinder_gets_events_after_the_signed_jwt_exchange() {
    let server = MockServer::start().await;
    let key = RsaSigningKey::generate().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("wayfinder.pem");
    std::fs::write(&key_file, key.private_key_pem()).unwrap();

    let (refusals_tx, mut refusals) = unbounded_channel();
    let issued = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(TokenEndpoint {
            // The default token URL: /oauth2/token on the Reporting Service's host.
            token_url: format!("{}/oauth2/token", server.uri()),
            public_pem: key.public_key_pem().unwrap(),
            jtis: Mutex::new(HashSet::new()),
            issued: issued.clone(),
            refusals: refusals_tx,
        })
        .mount(&server)
        .await;
    let tokens = issued.clone();
    let mut batches = mount_events(&server, move |req| {
        let bearer = header(req, "authorization");
        let tokens = tokens.lock().unwrap();
        tokens
            .iter()
            .any(|t| bearer.as_deref() == Some(&format!("Bearer {t}")))
    })
    .await;
    let portal = start(&reporting_env(
        &server,
        &[
            ("NHS_PORTAL_REPORTING_KEY_ID", KEY_ID.into()),
            (
                "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                key_file.display().to_string(),
            ),
        ],
    ));
    sign_in_a_patient(&portal).await;
    let batch = tokio::select! {
        b = next(&mut batches, "accepted batch") => b,
        why = next(&mut refusals, "refusal") => panic!("the token endpoint refused: {why}"),
    };
    assert!(
        event_codes(&batch).iter().any(|c| c == "SESSION"),
        "{batch}"
    );
    assert_eq!(issued.lock().unwrap().len(), 1, "one token, cached");
}

#[tokio::test]
async fn wayfinder_gets_events_with_the_apikey_header() {
    let server = MockServer::start().await;
    let mut batches = mount_events(&server, |req| {
        header(req, "apikey").as_deref() == Some(API_KEY) && header(req, "authorization").is_none()
    })
    .await;
    let portal = start(&reporting_env(&server, &[]));
    sign_in_a_patient(&portal).await;
    let batch = next(&mut batches, "accepted batch").await;
    assert!(
        event_codes(&batch).iter().any(|c| c == "SESSION"),
        "{batch}"
    );
}

/// The Record Service stand-in: takes a batch only with the API key and the client id.
struct Records(UnboundedSender<Result<Vec<String>, String>>);

impl Respond for Records {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if header(req, "authorization").as_deref() != Some("Bearer record-key-1")
            || body["clientId"] != "records-client-1"
        {
            let _ = self.0.send(Err(format!("refused: {body}")));
            return ResponseTemplate::new(401).set_body_json(json!({"code": "error.unauthorized"}));
        }
        let numbers = body["nhsNumbers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let _ = self.0.send(Ok(numbers));
        ResponseTemplate::new(200).set_body_json(json!({"result": "success"}))
    }
}

#[tokio::test]
async fn the_record_service_gets_the_eligible_demo_patients_on_its_schedule() {
    let server = MockServer::start().await;
    let (tx, mut calls) = unbounded_channel();
    Mock::given(method("POST"))
        .and(path("/records"))
        .respond_with(Records(tx))
        .mount(&server)
        .await;
    let _portal = start(&[
        (
            "NHS_PORTAL_RECORD_SERVICE_URL",
            format!("{}/records", server.uri()),
        ),
        (
            "NHS_PORTAL_RECORD_SERVICE_CLIENT_ID",
            "records-client-1".into(),
        ),
        ("NHS_PORTAL_RECORD_SERVICE_API_KEY", "record-key-1".into()),
        ("NHS_PORTAL_RECORD_SERVICE_INTERVAL_SECONDS", "1".into()),
    ]);
    let sent = next(&mut calls, "Record Service call")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for n in [demo::ADULT, demo::SECOND_ADULT] {
        assert!(sent.iter().any(|s| s == n), "{n} not in {sent:?}");
    }
    for n in [demo::UNDER_16, demo::RESTRICTED, demo::NO_APPOINTMENTS] {
        assert!(!sent.iter().any(|s| s == n), "{n} was sent: {sent:?}");
    }
    let distinct: HashSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), sent.len(), "no number twice: {sent:?}");
}
