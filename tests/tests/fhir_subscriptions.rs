//! FHIR Subscriptions end to end: `FhirPas` registers a backport rest-hook Subscription with
//! [`FhirPeer`], the peer posts its notifications over HTTP to the portal's
//! `nhs_portal_web::fhir_notifications` route (served on loopback), and the worklist processes
//! them like polled changes: once per version, whichever way a change arrives first.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{AuditAction, AuditRecord, NewRequest, PasFeedStore, RequestStore};
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::fhir::{FhirPas, PayloadContent, SecretText, SubscriptionConfig, map};
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_tests::fhir_peer::{FhirPeer, PeerOptions};
use nhs_portal_web::fhir_notifications::FhirNotifications;
use nhs_portal_web::http_kit::Handler;
use serde_json::{Value, json};

const ADULT: &str = "9000000009";
const SECRET: &str = "a-shared-secret-of-thirty-two-characters";
const TFC: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";

fn at(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

fn id(s: &str) -> AppointmentId {
    AppointmentId::parse(s).unwrap()
}

fn appointment(aid: &str, days: i64) -> Value {
    let start = at(days);
    json!({
        "resourceType": "Appointment", "id": aid, "status": "booked",
        "specialty": [{"coding": [{"system": TFC, "code": "330", "display": "DERMATOLOGY"}]}],
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
        "participant": [
            {"actor": {"reference": "Patient/pat-a"}, "status": "accepted"},
            {"actor": {"type": "Location", "display": "Northfield Teaching Hospitals NHS Foundation Trust",
                "identifier": {"system": map::ODS_SYSTEM, "value": "R9N"}}, "status": "accepted"},
        ],
    })
}

/// A peer with Subscriptions, the portal's notification route on loopback, and an adapter
/// subscribed to it (handshake answered).
struct Setup {
    peer: FhirPeer,
    store: Arc<MemoryStore>,
    pas: Arc<FhirPas>,
    worklist: Worklist,
    endpoint: String,
    _route: tokio::task::JoinHandle<()>,
}

async fn setup(payload: PayloadContent) -> Setup {
    let peer = FhirPeer::start_with(PeerOptions {
        subscriptions: true,
        ..PeerOptions::default()
    })
    .await;
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-a", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}),
    );
    peer.put(appointment("appt-1", 10));
    peer.put(appointment("appt-2", 11));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!(
        "http://{}/fhir-notifications/R9N",
        listener.local_addr().unwrap()
    );
    let mut cfg = peer.adapter_config();
    let mut sub = SubscriptionConfig::new(endpoint.parse().unwrap(), SecretText(SECRET.into()));
    sub.payload = payload;
    cfg.subscription = Some(sub);
    let store = Arc::new(MemoryStore::new());
    let pas = Arc::new(
        FhirPas::new(cfg, Arc::new(SystemClock))
            .unwrap()
            .with_last_seen(store.clone()),
    );
    // What a running portal's feed had already seen.
    for e in pas.poll_events(DateTime::UNIX_EPOCH).await.unwrap() {
        store.record_seen(&e.seen()).await.unwrap();
    }
    let worklist = Worklist::new(store.clone(), pas.clone(), Arc::new(SystemClock));
    let route = Arc::new(FhirNotifications::new(worklist.clone()).trust(
        &OdsCode::parse("R9N").unwrap(),
        pas.clone(),
        SECRET,
    ));
    let route = tokio::spawn(nhs_portal_tests::serve(listener, move |req| {
        let route = route.clone();
        async move { route.handle(req).await }
    }));
    assert!(pas.subscribe().await.unwrap().is_some());
    assert_eq!(peer.deliver_notifications().await, [200], "the handshake");
    Setup {
        peer,
        store,
        pas,
        worklist,
        endpoint,
        _route: route,
    }
}

/// The patient's pending cancellation request on `appointment`.
async fn pending_cancel(store: &MemoryStore, appointment: &str) {
    let request = NewRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: format!("key-{appointment}"),
        appointment: id(appointment),
        patient: NhsNumber::parse(ADULT).unwrap(),
        ods_code: OdsCode::parse("R9N").unwrap(),
        kind: RequestKind::Cancel,
        reason: "no-longer-needed".into(),
        details: None,
        created_at: Utc::now(),
    };
    let audit = AuditRecord {
        at: Utc::now(),
        patient: NhsNumber::parse(ADULT).unwrap(),
        actor: "patient".into(),
        session: None,
        action: AuditAction::CancelRequested,
        appointment: Some(id(appointment)),
        detail: None,
    };
    store.submit_request(&request, &audit, &[]).await.unwrap();
}

fn cancel_by_staff(a: &mut Value) {
    a["status"] = json!("cancelled");
    a["cancelationReason"] =
        json!({"coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "pat"}]});
}

async fn seen_version(store: &MemoryStore, appointment: &str) -> Option<String> {
    store
        .last_seen(&[id(appointment)])
        .await
        .unwrap()
        .into_iter()
        .next()
        .map(|s| s.version)
}

#[tokio::test]
async fn a_notification_produces_its_event_once_even_when_a_poll_sees_the_same_version() {
    // How often each run read appt-1 while processing the notification.
    let mut reads = Vec::new();
    for payload in [PayloadContent::FullResource, PayloadContent::IdOnly] {
        let s = setup(payload).await;
        pending_cancel(&s.store, "appt-1").await;
        let since = Utc::now();
        // Staff cancel it in the PAS, as the patient asked: the peer notifies the portal.
        s.peer.edit("Appointment", "appt-1", cancel_by_staff);
        let before = s.peer.requests().len();
        assert_eq!(s.peer.deliver_notifications().await, [200], "{payload:?}");
        let version = s.peer.get("Appointment", "appt-1").unwrap()["meta"]["versionId"].clone();
        assert_eq!(
            seen_version(&s.store, "appt-1").await.as_deref(),
            version.as_str(),
            "{payload:?}: stored before the 200"
        );
        assert!(
            s.store
                .pending_request_for(&id("appt-1"))
                .await
                .unwrap()
                .is_none(),
            "{payload:?}: the request is resolved from the notification"
        );
        let sent = s.peer.notifications_sent();
        let carried = sent.last().unwrap()["entry"][1].get("resource").is_some();
        assert_eq!(carried, payload == PayloadContent::FullResource);
        reads.push(
            s.peer.requests()[before..]
                .iter()
                .filter(|r| r.method == "GET" && r.target == "/fhir/Appointment/appt-1")
                .count(),
        );
        // The safety-net poll sees the same version: nothing to report again.
        let polled = s.pas.poll_events(since).await.unwrap();
        assert!(
            polled.iter().all(|e| e.appointment.as_str() != "appt-1"),
            "{payload:?}: {polled:?}"
        );
        let report = s.worklist.sync_from_pas(since).await.unwrap();
        assert_eq!(
            (report.resolved.len(), report.without_request),
            (0, 0),
            "{payload:?}"
        );
        // A change the notification did not bring is still found by the poll.
        s.peer.edit("Appointment", "appt-2", cancel_by_staff);
        let polled = s.pas.poll_events(since).await.unwrap();
        let ids: Vec<&str> = polled.iter().map(|e| e.appointment.as_str()).collect();
        assert_eq!(ids, ["appt-2"], "{payload:?}");
    }
    assert_eq!(
        reads[1],
        reads[0] + 1,
        "an id-only notification's appointment is read once more: {reads:?}"
    );
}

#[tokio::test]
async fn a_wrong_secret_gets_401_and_changes_nothing() {
    let s = setup(PayloadContent::FullResource).await;
    pending_cancel(&s.store, "appt-1").await;
    let seen = seen_version(&s.store, "appt-1").await;
    s.peer.edit("Appointment", "appt-1", cancel_by_staff);
    // A notification as the peer would send it, but with another secret or none.
    let mut cancelled = s.peer.get("Appointment", "appt-1").unwrap();
    cancelled["meta"]["versionId"] = json!("99");
    let body = json!({"resourceType": "Bundle", "type": "history", "entry": [
        {"resource": {"resourceType": "Parameters", "parameter": [
            {"name": "type", "valueCode": "event-notification"}]}},
        {"fullUrl": format!("{}Appointment/appt-1", s.peer.base_url()), "resource": cancelled},
    ]});
    let client = reqwest::Client::new();
    for auth in [Some("Bearer not-the-secret"), Some(SECRET), None] {
        let mut req = client
            .post(&s.endpoint)
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            res.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer"
        );
        let outcome: Value = res.json().await.unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
    }
    assert_eq!(seen_version(&s.store, "appt-1").await, seen);
    assert!(
        s.store
            .pending_request_for(&id("appt-1"))
            .await
            .unwrap()
            .is_some()
    );
    // The same body with the secret is taken.
    let res = client
        .post(&s.endpoint)
        .header("authorization", format!("Bearer {SECRET}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        seen_version(&s.store, "appt-1").await.as_deref(),
        Some("99")
    );
}

#[tokio::test]
async fn handshakes_and_heartbeats_are_accepted_and_ignored() {
    let s = setup(PayloadContent::FullResource).await;
    let seen = seen_version(&s.store, "appt-1").await;
    s.peer.queue_heartbeat();
    assert_eq!(s.peer.deliver_notifications().await, [200]);
    let kinds: Vec<Value> = s
        .peer
        .notifications_sent()
        .iter()
        .map(|b| b["entry"][0]["resource"]["parameter"][2]["valueCode"].clone())
        .collect();
    assert_eq!(kinds, [json!("handshake"), json!("heartbeat")]);
    assert_eq!(seen_version(&s.store, "appt-1").await, seen);
    // Subscribing again (a restart) keeps the one active Subscription rather than adding one.
    let first = s.pas.subscribe().await.unwrap();
    let again = s.pas.subscribe().await.unwrap();
    assert_eq!(first, again);
    let writes = s
        .peer
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.target.starts_with("/fhir/Subscription"))
        .count();
    assert_eq!(writes, 1, "created once, then left as it was");
    let id = first.unwrap();
    assert_eq!(s.peer.get("Subscription", &id).unwrap()["status"], "active");
    // Not a notification at all: 400, not a retry loop.
    let res = reqwest::Client::new()
        .post(&s.endpoint)
        .header("authorization", format!("Bearer {SECRET}"))
        .body("{\"resourceType\": \"Patient\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
}
