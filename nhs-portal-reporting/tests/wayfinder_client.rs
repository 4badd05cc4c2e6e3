//! The Wayfinder client against a wiremock stand-in for the Reporting Service.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use nhs_portal_reporting::token::{AccessToken, AccessTokenSource, StaticToken, TokenError};
use nhs_portal_reporting::{
    DeliveryError, ReportingSink, WayfinderClient, WayfinderConfig, WayfinderEvent,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn events() -> Vec<WayfinderEvent> {
    all_events()
        .iter()
        .map(|e| WayfinderEvent::from_domain(e).unwrap())
        .collect()
}

fn client(server: &MockServer) -> WayfinderClient {
    let mut config = WayfinderConfig::new(server.uri(), "pep-client-1");
    // Generous: these calls are expected to succeed; the timeout tests set a short one.
    config.timeout = Duration::from_secs(30);
    WayfinderClient::new(config, Arc::new(StaticToken::new("tok-123"))).unwrap()
}

#[tokio::test]
async fn ok_sends_spec_valid_body_and_required_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("client-id", "pep-client-1"))
        .and(header("authorization", "Bearer tok-123"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .expect(2)
        .mount(&server)
        .await;
    let c = client(&server);
    c.deliver(&events()).await.unwrap();
    c.deliver(&events()[..1]).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let v = wayfinder_validator();
    let mut correlation = Vec::new();
    for r in &requests {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(schema_errors(&v, &body), Vec::<String>::new());
        let id = r.headers.get("x-correlation-id").unwrap().to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        correlation.push(id.to_owned());
    }
    assert_eq!(requests.len(), 2);
    assert_ne!(
        correlation[0], correlation[1],
        "a new correlation id per call"
    );
}

#[tokio::test]
async fn the_api_key_goes_in_the_apikey_header_and_no_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("apikey", "int-key-1"))
        .and(header("client-id", "pep-client-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = WayfinderConfig::new(server.uri(), "pep-client-1");
    config.timeout = Duration::from_secs(30);
    let c = WayfinderClient::with_api_key(config, "int-key-1").unwrap();
    assert!(!format!("{c:?}").contains("int-key-1"), "{c:?}");
    c.deliver(&events()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn bad_request_gives_the_index() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "validation error for APPT-VIEW event at index [2]: 'SessionId' is a required property"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).deliver(&events()).await.unwrap_err();
    match err {
        DeliveryError::Rejected { index, message } => {
            assert_eq!(index, Some(2));
            assert!(message.starts_with("validation error for APPT-VIEW"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_request_without_index() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("nope"))
        .mount(&server)
        .await;
    let err = client(&server).deliver(&events()).await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::Rejected { index: None, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[derive(Debug, Default)]
struct CountingTokens {
    issued: AtomicUsize,
    invalidated: AtomicUsize,
}

#[async_trait]
impl AccessTokenSource for CountingTokens {
    async fn token(&self) -> Result<AccessToken, TokenError> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new(format!("t{n}")))
    }
    async fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn unauthorized_twice_invalidates_the_token_and_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "fault": {"faultstring": "Access Token expired",
                      "detail": {"errorcode": "keymanagement.service.access_token_expired"}}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let tokens = Arc::new(CountingTokens::default());
    let c = WayfinderClient::new(WayfinderConfig::new(server.uri(), "c"), tokens.clone()).unwrap();
    let err = c.deliver(&events()).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Unauthorized), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn expired_token_is_replaced_and_the_batch_sent_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer t0"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let tokens = Arc::new(CountingTokens::default());
    let c = WayfinderClient::new(WayfinderConfig::new(server.uri(), "c"), tokens.clone()).unwrap();
    c.deliver(&events()).await.unwrap();
    assert_eq!(tokens.issued.load(Ordering::SeqCst), 2);
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unavailable_and_rate_limited_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let first = c.deliver(&events()).await.unwrap_err();
    assert!(
        matches!(first, DeliveryError::Unavailable { status: 503 }),
        "{first:?}"
    );
    assert!(first.is_retryable());
    let second = c.deliver(&events()).await.unwrap_err();
    assert!(
        matches!(second, DeliveryError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)),
        "{second:?}"
    );
    assert!(second.is_retryable());
}

#[tokio::test]
async fn timeout_is_retried_once_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let mut config = WayfinderConfig::new(server.uri(), "c");
    config.timeout = Duration::from_millis(200);
    let c = WayfinderClient::new(config, Arc::new(StaticToken::new("t"))).unwrap();
    let err = c.deliver(&events()).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Timeout), "{err:?}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one retry, no more"
    );
}

#[tokio::test]
async fn timeout_then_success_on_the_single_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut config = WayfinderConfig::new(server.uri(), "c");
    // Short enough to give up on the delayed answer, long enough for the retry to succeed.
    config.timeout = Duration::from_secs(1);
    let c = WayfinderClient::new(config, Arc::new(StaticToken::new("t"))).unwrap();
    c.deliver(&events()).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn oversize_batch_is_refused_before_sending() {
    let server = MockServer::start().await;
    let mut config = WayfinderConfig::new(server.uri(), "c");
    config.max_batch_bytes = 300;
    let c = WayfinderClient::new(config, Arc::new(StaticToken::new("t"))).unwrap();
    let err = c.deliver(&events()).await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::TooLarge { max: 300, .. }),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Pacing on tokio's paused clock: while time stands still, only the requests whose turn has come
/// can leave, however long the test waits in real time. No wall-clock measurement.
#[tokio::test(start_paused = true)]
async fn requests_are_paced_to_the_rate_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut config = WayfinderConfig::new(server.uri(), "c");
    config.max_requests_per_second = 20; // one per 50 ms
    config.timeout = Duration::from_secs(3600);
    let c = WayfinderClient::new(config, Arc::new(StaticToken::new("t"))).unwrap();
    // Tokio moves a paused clock on by itself whenever the runtime is idle (here: waiting for the
    // mock server); a task that always yields keeps it busy, so time moves only when we advance it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = tokio::spawn({
        let stop = stop.clone();
        async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
        }
    });
    let done = Arc::new(AtomicUsize::new(0));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (c, done) = (c.clone(), done.clone());
            tokio::spawn(async move {
                c.deliver(&events()).await.unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Six requests at 20/s: the first at once, the k-th not before (k - 1) × 50 ms.
    for (advance_ms, sent) in [(0, 1), (49, 1), (1, 2), (149, 4), (50, 5), (1, 6)] {
        tokio::time::advance(Duration::from_millis(advance_ms)).await;
        let at = format!("after advancing {advance_ms} ms");
        // Wait (in real time) for the requests that may go, then a little longer for any that
        // should not have gone to show up.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while done.load(Ordering::SeqCst) < sent && std::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(300)))
            .await
            .unwrap();
        assert_eq!(done.load(Ordering::SeqCst), sent, "{at}: requests answered");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            sent,
            "{at}: requests received"
        );
    }
    for call in calls {
        call.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    busy.await.unwrap();
}
