//! The outbox worker over core's MemoryStore, against a wiremock Reporting Service.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use common::*;
use nhs_portal_core::ReportingEvent;
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::reporting::SessionOutcome;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{Outbox, OutboxStats};
use nhs_portal_reporting::token::StaticToken;
use nhs_portal_reporting::{
    OutboxWorker, OutboxWorkerConfig, RunStats, WayfinderClient, WayfinderConfig,
};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Client timeout for calls that are expected to succeed.
const GENEROUS: Duration = Duration::from_secs(30);

struct Rig {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    worker: OutboxWorker,
    server: MockServer,
}

async fn rig(tweak: impl FnOnce(&mut WayfinderConfig, &mut OutboxWorkerConfig)) -> Rig {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2024, 3, 8, 9, 0, 0).unwrap(),
    ));
    let mut wc = WayfinderConfig::new(server.uri(), "pep");
    // Generous: calls expected to succeed (up to ~2 MB bodies) must not time out on a loaded
    // machine. The test whose subject is the timeout sets a short one itself.
    wc.timeout = GENEROUS;
    wc.max_requests_per_second = 1000;
    let mut oc = OutboxWorkerConfig::default();
    oc.worker_id = "w1".into();
    oc.jitter = false;
    tweak(&mut wc, &mut oc);
    let client = WayfinderClient::new(wc, Arc::new(StaticToken::new("t"))).unwrap();
    let worker = OutboxWorker::new(store.clone(), Arc::new(client), clock.clone(), oc);
    Rig {
        store,
        clock,
        worker,
        server,
    }
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// How many events `all_events` holds (one of each kind the portal sends).
const ALL: u64 = 8;

fn stats(pending: u64, delivered: u64, quarantined: u64) -> OutboxStats {
    OutboxStats {
        pending,
        delivered,
        quarantined,
    }
}

#[tokio::test]
async fn delivers_everything_and_marks_it() {
    assert_eq!(all_events().len() as u64, ALL);
    let r = rig(|_, _| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!(
        s,
        RunStats {
            claimed: ALL,
            delivered: ALL,
            requests: 1,
            ..Default::default()
        }
    );
    assert_eq!(r.store.outbox_stats().await.unwrap(), stats(0, ALL, 0));
    let b = bodies(&r.server).await;
    assert_eq!(
        schema_errors(&wayfinder_validator(), &b[0]),
        Vec::<String>::new()
    );
    // Parent first: the order of the outbox is kept.
    assert_eq!(b[0][1]["EventCode"], "APPT");
    // Nothing left: a second pass sends nothing.
    assert_eq!(r.worker.run_once().await.unwrap(), RunStats::default());
    assert_eq!(r.server.received_requests().await.unwrap().len(), 1);
    assert_eq!(r.worker.stats().delivered, ALL);
}

#[tokio::test]
async fn bad_request_quarantines_only_the_named_event_and_resends_the_rest() {
    let r = rig(|_, _| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "validation error for APPT-REQUEST-CANC event at index [3]: invalid"
        })))
        .up_to_n_times(1)
        .mount(&r.server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!((s.delivered, s.quarantined, s.requests), (ALL - 1, 1, 2));
    assert_eq!(r.store.outbox_stats().await.unwrap(), stats(0, ALL - 1, 1));
    let b = bodies(&r.server).await;
    assert_eq!(b[0].as_array().unwrap().len(), ALL as usize);
    let resent: Vec<&str> = b[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventCode"].as_str().unwrap())
        .collect();
    assert_eq!(resent.len(), ALL as usize - 1);
    assert!(
        !resent.contains(&"APPT-REQUEST-CANC"),
        "the refused event is never resent"
    );
    // The quarantined event is not retried later either.
    r.clock.advance(chrono::Duration::days(1));
    assert_eq!(r.worker.run_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn bad_request_without_index_quarantines_the_batch() {
    let r = rig(|_, _| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "bad"})))
        .expect(1)
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!((s.delivered, s.quarantined), (0, ALL));
    assert_eq!(r.store.outbox_stats().await.unwrap(), stats(0, 0, ALL));
}

/// 401, 503, 429 and a timeout all leave the events queued for a retry after back-off.
#[tokio::test]
async fn retryable_failures_defer_with_backoff_then_deliver() {
    for (name, failure) in [
        ("401", ResponseTemplate::new(401)),
        ("503", ResponseTemplate::new(503)),
        ("500", ResponseTemplate::new(500)),
        (
            "timeout",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(30)),
        ),
    ] {
        // Where the timeout is the subject, a short one; the delayed answer never comes in time.
        let r = rig(|wc, _| {
            if name == "timeout" {
                wc.timeout = Duration::from_secs(1);
            }
        })
        .await;
        Mock::given(method("POST"))
            .respond_with(failure)
            // The client retries a timeout and a 401 once itself.
            .up_to_n_times(if name == "timeout" || name == "401" {
                2
            } else {
                1
            })
            .mount(&r.server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&r.server)
            .await;
        r.store.enqueue_events(&all_events()).await.unwrap();
        let s = r.worker.run_once().await.unwrap();
        assert_eq!(
            (s.delivered, s.deferred, s.quarantined),
            (0, ALL, 0),
            "{name}"
        );
        assert_eq!(
            r.store.outbox_stats().await.unwrap(),
            stats(ALL, 0, 0),
            "{name}"
        );
        // First retry after 30 s (no jitter in tests): not before.
        r.clock.advance(chrono::Duration::seconds(29));
        assert_eq!(r.worker.run_once().await.unwrap().claimed, 0, "{name}");
        r.clock.advance(chrono::Duration::seconds(2));
        let s = r.worker.run_once().await.unwrap();
        assert_eq!(s.delivered, ALL, "{name}");
        assert_eq!(
            r.store.outbox_stats().await.unwrap(),
            stats(0, ALL, 0),
            "{name}"
        );
    }
}

#[tokio::test]
async fn backoff_doubles_per_attempt_and_is_capped() {
    let r = rig(|_, _| {}).await;
    let secs = |a| r.worker.retry_delay(a).as_secs();
    assert_eq!(
        [secs(1), secs(2), secs(3), secs(4), secs(7), secs(50)],
        [30, 60, 120, 240, 1800, 1800]
    );
    // And in the store: a second failure waits 60 s.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()[..1]).await.unwrap();
    r.worker.run_once().await.unwrap();
    r.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(r.worker.run_once().await.unwrap().deferred, 1);
    r.clock.advance(chrono::Duration::seconds(59));
    assert_eq!(r.worker.run_once().await.unwrap().claimed, 0);
    r.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(r.worker.run_once().await.unwrap().claimed, 1);
}

#[tokio::test]
async fn rate_limited_honours_retry_after() {
    let r = rig(|_, _| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .mount(&r.server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()).await.unwrap();
    assert_eq!(r.worker.run_once().await.unwrap().deferred, ALL);
    r.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        r.worker.run_once().await.unwrap().claimed,
        0,
        "30 s back-off is not enough"
    );
    r.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(r.worker.run_once().await.unwrap().delivered, ALL);
}

#[tokio::test]
async fn failure_stops_the_pass_and_defers_untried_batches() {
    let r = rig(|_, oc| oc.max_batch_bytes = 600).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&r.server)
        .await;
    r.store.enqueue_events(&all_events()).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!(
        (s.requests, s.deferred),
        (1, ALL),
        "one failed request, then stop"
    );
}

fn session(i: usize) -> ReportingEvent {
    ReportingEvent::Session {
        at: t("2024-03-08T08:45:11Z"),
        patient: nhs("9000000009"),
        session_id: format!("session-{i:06}"),
        in_nhs_app: true,
        device: Some("D".repeat(600)),
        outcome: SessionOutcome::Success,
        tracking_id: Some(TRACKING.into()),
    }
}

#[tokio::test]
async fn batches_stay_under_two_megabytes() {
    let r = rig(|_, oc| oc.batch_size = 20_000).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&r.server)
        .await;
    // About 700 bytes each: ~8.4 MB in all.
    let events: Vec<ReportingEvent> = (0..12_000).map(session).collect();
    r.store.enqueue_events(&events).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!(s.delivered, 12_000);
    let requests = r.server.received_requests().await.unwrap();
    assert!(requests.len() >= 5, "{} requests", requests.len());
    let mut total = 0;
    for req in &requests {
        assert!(req.body.len() <= 2_000_000, "{} bytes", req.body.len());
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        total += body.as_array().unwrap().len();
    }
    assert_eq!(total, 12_000);
    // Full batches, not timid ones: all but the last are over 1.9 MB.
    for req in &requests[..requests.len() - 1] {
        assert!(req.body.len() > 1_900_000, "{} bytes", req.body.len());
    }
}

#[tokio::test]
async fn unmappable_event_is_quarantined_and_the_rest_delivered() {
    let r = rig(|_, _| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&r.server)
        .await;
    let mut events = all_events();
    if let ReportingEvent::CancelRequested { session_id, .. } = &mut events[3] {
        *session_id = "x".repeat(101);
    }
    r.store.enqueue_events(&events).await.unwrap();
    let s = r.worker.run_once().await.unwrap();
    assert_eq!((s.delivered, s.quarantined), (ALL - 1, 1));
    let b = bodies(&r.server).await;
    assert_eq!(b[0].as_array().unwrap().len(), ALL as usize - 1);
}

#[tokio::test]
async fn run_loop_delivers_and_stops_on_shutdown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let store = SignallingStore::new();
    let mut wc = WayfinderConfig::new(server.uri(), "pep");
    wc.timeout = GENEROUS;
    let client = WayfinderClient::new(wc, Arc::new(StaticToken::new("t"))).unwrap();
    let worker = Arc::new(OutboxWorker::new(
        store.clone(),
        Arc::new(client),
        Arc::new(ManualClock::new(t("2024-03-08T09:00:00Z"))),
        {
            let mut config = OutboxWorkerConfig::default();
            config.worker_id = "w1".into();
            config.jitter = false;
            config.idle_poll = Duration::from_millis(20);
            config
        },
    ));
    let w = worker.clone();
    let running = Running::start(|shutdown| async move { w.run(shutdown).await });
    // Let the loop make its first (empty) pass, so the events arrive while it idles.
    tokio::task::yield_now().await;
    store.enqueue_events(&all_events()).await.unwrap();
    store.marked_done(ALL as usize).await;
    assert_eq!(store.outbox_stats().await.unwrap(), stats(0, ALL, 0));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    running.stop("shutdown").await;
}

/// Shutdown while a pass is delivering (a slow Reporting Service) lets that pass finish: the
/// events it claimed are delivered and none is left claimed, then `run` returns.
#[tokio::test]
async fn shutdown_mid_pass_finishes_the_batch_in_hand() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    store.enqueue_events(&all_events()).await.unwrap();
    let mut wc = WayfinderConfig::new(server.uri(), "pep");
    wc.timeout = GENEROUS;
    let client = WayfinderClient::new(wc, Arc::new(StaticToken::new("t"))).unwrap();
    let worker = Arc::new(OutboxWorker::new(
        store.clone(),
        Arc::new(client),
        Arc::new(ManualClock::new(t("2024-03-08T09:00:00Z"))),
        {
            let mut config = OutboxWorkerConfig::default();
            config.jitter = false;
            config.idle_poll = Duration::from_millis(20);
            config
        },
    ));
    let w = worker.clone();
    let running = Running::start(|shutdown| async move { w.run(shutdown).await });
    // The batch is claimed and on its way (the service answers after 500 ms) when shutdown comes.
    first_request(&server).await;
    running.stop("the batch").await;
    assert_eq!(store.outbox_stats().await.unwrap(), stats(0, ALL, 0));
}

/// Two workers (two portal instances) over one outbox, their passes running at the same time
/// on a multi-threaded runtime against a slow Reporting Service: every event is delivered exactly
/// once, and both workers took part.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_running_at_once_never_share_events() {
    const EVENTS: usize = 300;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(40)))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let events: Vec<ReportingEvent> = (0..EVENTS).map(session).collect();
    store.enqueue_events(&events).await.unwrap();
    let clock = Arc::new(ManualClock::new(t("2024-03-08T09:00:00Z")));
    let mut wc = WayfinderConfig::new(server.uri(), "pep");
    wc.timeout = GENEROUS;
    wc.max_requests_per_second = 1000;
    let sink = Arc::new(WayfinderClient::new(wc, Arc::new(StaticToken::new("t"))).unwrap());
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|id| {
            let worker = OutboxWorker::new(store.clone(), sink.clone(), clock.clone(), {
                let mut config = OutboxWorkerConfig::default();
                config.worker_id = id.into();
                config.batch_size = 10;
                config.jitter = false;
                config
            });
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut delivered = 0;
                loop {
                    let s = worker.run_once().await.unwrap();
                    if s.claimed == 0 {
                        return delivered;
                    }
                    delivered += s.delivered;
                }
            })
        })
        .collect();
    let mut per_worker = Vec::new();
    for t in tasks {
        per_worker.push(t.await.unwrap());
    }
    assert!(
        per_worker.iter().all(|d| *d > 0),
        "both workers delivered some: {per_worker:?}"
    );
    assert_eq!(per_worker.iter().sum::<u64>(), EVENTS as u64);
    let mut ids: Vec<String> = bodies(&server)
        .await
        .iter()
        .flat_map(|b| b.as_array().unwrap().clone())
        .map(|e| e["Id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), EVENTS, "events sent in all");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "no event sent twice");
    assert_eq!(
        store.outbox_stats().await.unwrap(),
        stats(0, EVENTS as u64, 0)
    );
}
