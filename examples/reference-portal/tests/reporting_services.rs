//! The reference portal binary's reporting, configured only by its settings, against in-test
//! stand-ins (wiremock) for NHS England's services:
//! - the Wayfinder Reporting Service with signed-JWT authentication
//!   (`nhs_portal_tests::reporting_service`: the token endpoint checks the client assertion, RS512
//!   with the registered public key, `kid`, `iss` = `sub` = the API key, `aud` = the token URL, a
//!   short `exp`, a fresh `jti`, and issues an access token; the events endpoint accepts only that
//!   token);
//! - the Reporting Service with the integration environment's `apikey` header;
//! - the PCA Record Service sender on its schedule: the demo's eligible patients arrive with the
//!   API key, and the under-16 and restricted ones do not.
//!
//! A patient signing in through the NHS login simulator makes the `SESSION` event that the
//! outbox worker delivers.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::Running;
use nhs_portal_pas::demo;
use nhs_portal_tests::browser::Browser;
use nhs_portal_tests::reporting_service::{ReportingService, event_codes};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn start<K: AsRef<str>>(env: &[(K, String)]) -> Running {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
    common::start_demo(env!("CARGO_BIN_EXE_nhs-portal-example"), &env)
}

/// Signs a demo patient in through the NHS login simulator's pages (a `SESSION` event).
async fn sign_in_a_patient(portal: &Running) {
    let mut b = Browser::new();
    let page = b
        .get_following(&format!("{}/patient-portal/appointments", portal.base_url))
        .await;
    assert!(page.body.contains("not NHS login"), "{}", page.body);
    let list = b
        .submit(&page, &[("nhs_number", demo::ADULT), ("decision", "allow")])
        .await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.body);
    assert!(list.url.path().ends_with("/appointments"), "{}", list.url);
}

/// Waits for the next message, for at most a minute (the sender's first pass comes at once).
async fn next<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within a minute"))
        .expect("the stand-in is running")
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn wayfinder_gets_events_after_the_signed_jwt_exchange() {
    let keys = tempfile::tempdir().unwrap();
    let mut wayfinder = ReportingService::signed_jwt(keys.path()).await;
    let portal = start(&wayfinder.env());
    sign_in_a_patient(&portal).await;
    let batch = wayfinder.next_batch().await;
    assert!(
        event_codes(&batch).iter().any(|c| c == "SESSION"),
        "{batch}"
    );
    assert_eq!(wayfinder.tokens_issued(), 1, "one token, cached");
}

#[tokio::test]
async fn wayfinder_gets_events_with_the_apikey_header() {
    let mut wayfinder = ReportingService::api_key().await;
    let portal = start(&wayfinder.env());
    sign_in_a_patient(&portal).await;
    let batch = wayfinder.next_batch().await;
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
