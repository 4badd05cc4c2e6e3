//! NHS APIM signed-JWT client credentials against a wiremock token endpoint.

use std::time::Duration;

use nhs_portal_reporting::token::{
    AccessTokenSource, SignedJwtConfig, SignedJwtTokenSource, TokenError,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &[u8] = include_bytes!("fixtures/test-only-rsa-key.pem");
const PUBLIC: &[u8] = include_bytes!("fixtures/test-only-rsa-key.pub.pem");

fn config(server: &MockServer) -> SignedJwtConfig {
    SignedJwtConfig::new(
        format!("{}/oauth2/token", server.uri()),
        "apim-app-key",
        "test-1",
        KEY,
    )
    .with_timeout(Duration::from_secs(5))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url_decode_pairs(std::str::from_utf8(body).unwrap())
}

fn url_decode_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn exchanges_an_rs512_assertion_and_caches_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "Sr5PGv19wTEHJdDr2wx2f7IGd0cw",
            "expires_in": "599",
            "token_type": "Bearer",
            "issued_at": "1650000000000"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = SignedJwtTokenSource::new(config(&server)).unwrap();
    assert_eq!(
        source.token().await.unwrap().secret(),
        "Sr5PGv19wTEHJdDr2wx2f7IGd0cw"
    );
    // Cached: no second exchange.
    assert_eq!(
        source.token().await.unwrap().secret(),
        "Sr5PGv19wTEHJdDr2wx2f7IGd0cw"
    );

    let requests = server.received_requests().await.unwrap();
    let fields = form(&requests[0].body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("grant_type"), "client_credentials");
    assert_eq!(
        get("client_assertion_type"),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let jwt = get("client_assertion");
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS512);
    assert_eq!(header.kid.as_deref(), Some("test-1"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
    let aud = format!("{}/oauth2/token", server.uri());
    validation.set_audience(&[aud.as_str()]);
    validation.set_issuer(&["apim-app-key"]);
    let claims = jsonwebtoken::decode::<Value>(
        &jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC).unwrap(),
        &validation,
    )
    .expect("signature and claims verify with the public key")
    .claims;
    assert_eq!(claims["sub"], "apim-app-key");
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    let exp = claims["exp"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(exp > now && exp <= now + 300, "exp at most 5 minutes ahead");
}

#[tokio::test]
async fn invalidate_forces_a_new_exchange() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "a", "expires_in": 599})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let source = SignedJwtTokenSource::new(config(&server)).unwrap();
    source.token().await.unwrap();
    source.invalidate().await;
    source.token().await.unwrap();
    // Each exchange signs a fresh assertion (new jti).
    let requests = server.received_requests().await.unwrap();
    let payload = |i: usize| {
        let jwt = form(&requests[i].body)
            .into_iter()
            .find(|(k, _)| k == "client_assertion")
            .unwrap()
            .1;
        jwt.split('.').nth(1).unwrap().to_owned()
    };
    assert_ne!(payload(0), payload(1));
}

#[tokio::test]
async fn refusal_and_garbage_are_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid client"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let source = SignedJwtTokenSource::new(config(&server)).unwrap();
    assert!(matches!(
        source.token().await,
        Err(TokenError::Refused(401))
    ));
    assert!(matches!(source.token().await, Err(TokenError::BadResponse)));
}

#[test]
fn bad_key_is_refused_up_front() {
    let mut c = SignedJwtConfig::new("http://127.0.0.1:9/token", "k", "k", b"not a key")
        .with_timeout(Duration::from_secs(1));
    assert!(matches!(
        SignedJwtTokenSource::new(c.clone()),
        Err(TokenError::BadKey(_))
    ));
    c.private_key_pem = KEY.to_vec();
    assert!(SignedJwtTokenSource::new(c).is_ok());
}
