//! The cache's rules against a stand-in JWKS server (wiremock) and a clock moved by hand. The
//! keys are symmetric stand-ins: these tests are about which keys the cache holds, not about
//! signatures (those are in `nhs_login/tests.rs`).

use chrono::{TimeZone, Utc};
use nhs_portal_core::clock::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn set(kids: &[&str]) -> Value {
    json!({"keys": kids.iter().map(|k| json!({"kty": "oct", "k": "c2VjcmV0", "kid": k})).collect::<Vec<_>>()})
}

fn jwks(kids: &[&str], cache_control: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(set(kids))
        .insert_header("cache-control", cache_control)
}

async fn server_with(first: ResponseTemplate, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(first)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(then)
        .mount(&server)
        .await;
    server
}

fn cache(server: &MockServer) -> (JwksCache, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap(),
    ));
    let cache = JwksCache::from_url(format!("{}/jwks", server.uri()), reqwest::Client::new())
        .with_clock(clock.clone());
    (cache, clock)
}

async fn fetches(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

#[tokio::test]
async fn keys_are_refreshed_on_their_max_age_and_a_withdrawn_key_stops_working() {
    let server = server_with(
        jwks(&["a"], "public, max-age=120"),
        jwks(&["b"], "max-age=120"),
    )
    .await;
    let (cache, clock) = cache(&server);
    assert!(cache.key("a").await.is_ok());
    clock.advance(secs(100));
    assert!(cache.key("a").await.is_ok(), "still fresh");
    assert_eq!(fetches(&server).await, 1);
    clock.advance(secs(30));
    // Past max-age: refreshed, and key "a" is gone from the issuer's set.
    assert_eq!(cache.key("a").await.unwrap_err(), TokenError::UnknownKey);
    assert!(cache.key("b").await.is_ok());
    assert_eq!(fetches(&server).await, 2);
}

#[tokio::test]
async fn a_long_max_age_is_capped_so_withdrawals_take_minutes_not_days() {
    let server = server_with(jwks(&["a"], "max-age=86400"), jwks(&[], "max-age=86400")).await;
    let (cache, clock) = cache(&server);
    assert!(cache.key("a").await.is_ok());
    clock.advance(secs(299));
    assert!(cache.key("a").await.is_ok());
    clock.advance(secs(2));
    assert!(cache.key("a").await.is_err(), "withdrawn within 5 minutes");
    assert_eq!(fetches(&server).await, 2);
}

#[tokio::test]
async fn a_failed_refresh_serves_the_cached_key_for_a_bounded_time() {
    let server = server_with(jwks(&["a"], "max-age=60"), ResponseTemplate::new(503)).await;
    let (cache, clock) = cache(&server);
    assert!(cache.key("a").await.is_ok());
    clock.advance(secs(61));
    assert!(
        cache.key("a").await.is_ok(),
        "served while the refresh fails"
    );
    assert_eq!(fetches(&server).await, 2);
    clock.advance(secs(10));
    assert!(cache.key("a").await.is_ok());
    assert_eq!(fetches(&server).await, 2, "retries are rate-limited");
    clock.advance(secs(25));
    assert!(cache.key("a").await.is_ok());
    assert_eq!(fetches(&server).await, 3);
    // 30 minutes past its freshness it is no longer trusted.
    clock.advance(secs(30 * 60));
    let err = cache.key("a").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn a_jwks_over_the_size_cap_is_refused() {
    let big: Vec<Value> = (0..2000)
        .map(|i| json!({"kty": "oct", "k": "c2VjcmV0", "kid": format!("k{i}")}))
        .collect();
    let body = json!({ "keys": big });
    assert!(serde_json::to_vec(&body).unwrap().len() > DEFAULT_MAX_BODY_BYTES);
    let server = server_with(
        ResponseTemplate::new(200).set_body_json(&body),
        ResponseTemplate::new(200).set_body_json(&body),
    )
    .await;
    let (capped, _) = cache(&server);
    let err = capped.key("k1").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // The same body under a larger cap is accepted.
    let roomy = cache(&server).0.with_max_body_bytes(1 << 20);
    assert!(roomy.key("k1").await.is_ok());
}

#[test]
fn max_age_is_read_from_cache_control() {
    let cases = [
        ("max-age=60", Some(60)),
        ("public, max-age=3600, must-revalidate", Some(3600)),
        ("Max-Age=\"10\"", Some(10)),
        ("no-cache", Some(0)),
        ("no-store, max-age=60", Some(0)),
        ("public", None),
        ("max-age=x", None),
    ];
    for (value, want) in cases {
        assert_eq!(max_age(value), want, "{value}");
    }
}

#[tokio::test]
async fn a_key_without_an_id_is_the_sets_only_key() {
    let server = server_with(jwks(&["a"], "max-age=60"), jwks(&["a"], "max-age=60")).await;
    let (cache, _) = cache(&server);
    assert!(cache.key_for(None).await.is_ok());
    let two = JwksCache::fixed(serde_json::from_value(set(&["a", "b"])).unwrap());
    assert_eq!(two.key_for(None).await.unwrap_err(), TokenError::UnknownKey);
}
