//! Token verification tests: each refusal is its own `TokenError` variant.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::jwk::JwkSet;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::ManualClock;
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://auth.sandpit.signin.nhs.uk";
const AUD: &str = "nhs-app";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// Two keys generated once per test binary (generation takes a moment).
fn keys() -> &'static (RsaSigningKey, RsaSigningKey) {
    static KEYS: OnceLock<(RsaSigningKey, RsaSigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            RsaSigningKey::generate().unwrap(),
            RsaSigningKey::generate().unwrap(),
        )
    })
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "sub-123",
        "aud": AUD,
        "iat": now().timestamp() - 10,
        "exp": now().timestamp() + 3600,
        "jti": "jti-1",
        "vot": "P9.Cp.Cd",
        "vtm": "https://auth.sandpit.signin.nhs.uk/trustmark/auth.sandpit.signin.nhs.uk",
        "identity_proofing_level": "P9",
        "nhs_number": "9000000009",
        "birthdate": "1980-01-02",
        "family_name": "TESTER",
        "nonce": "nonce-1",
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    if v.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = v;
    }
    c
}

fn verifier() -> JwksForwardedVerifier {
    let set = JwkSet {
        keys: vec![keys().0.public_jwk()],
    };
    JwksForwardedVerifier::new(
        ForwardedTokenConfig::new(ISSUER, vec![AUD.into(), "other-app".into()]),
        Arc::new(JwksCache::fixed(set)),
    )
    .with_clock(Arc::new(ManualClock::new(now())))
}

fn b64(v: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn nhs(s: &str) -> NhsNumber {
    NhsNumber::parse(s).unwrap()
}

async fn check(token: &str) -> Result<ForwardedIdentity, TokenError> {
    verifier().verify(token, &nhs("9000000009")).await
}

#[tokio::test]
async fn a_good_token_gives_the_nhs_number_and_date_of_birth() {
    let token = keys().0.sign(&claims()).unwrap();
    let id = check(&token).await.unwrap();
    assert_eq!(id.nhs_number, nhs("9000000009"));
    assert_eq!(
        id.date_of_birth,
        chrono::NaiveDate::from_ymd_opt(1980, 1, 2)
    );
    assert_eq!(id.subject, "sub-123");
    assert_eq!(id.vot, "P9.Cp.Cd");
    // Audience as an array containing an accepted value also passes.
    let token = keys()
        .0
        .sign(&with(claims(), "aud", json!(["x", "other-app"])))
        .unwrap();
    assert!(check(&token).await.is_ok());
}

#[tokio::test]
async fn each_bad_claim_is_refused_with_its_own_error() {
    let now = now().timestamp();
    let cases: Vec<(&str, Value, TokenError)> = vec![
        (
            "wrong issuer",
            with(claims(), "iss", json!("https://evil.example")),
            TokenError::WrongIssuer,
        ),
        (
            "trailing slash issuer",
            with(claims(), "iss", json!(format!("{ISSUER}/"))),
            TokenError::WrongIssuer,
        ),
        (
            "wrong audience",
            with(claims(), "aud", json!("someone-else")),
            TokenError::WrongAudience,
        ),
        (
            "no audience",
            with(claims(), "aud", Value::Null),
            TokenError::MissingClaim("aud"),
        ),
        (
            "expired",
            with(claims(), "exp", json!(now - 61)),
            TokenError::Expired,
        ),
        (
            "issued in the future",
            with(claims(), "iat", json!(now + 600)),
            TokenError::IssuedInFuture,
        ),
        (
            "P5 identity",
            with(claims(), "identity_proofing_level", json!("P5")),
            TokenError::IdentityLevelTooLow("P5".into()),
        ),
        (
            "no identity level",
            with(claims(), "identity_proofing_level", Value::Null),
            TokenError::MissingClaim("identity_proofing_level"),
        ),
        (
            "missing NHS number",
            with(claims(), "nhs_number", Value::Null),
            TokenError::MissingClaim("nhs_number"),
        ),
        (
            "invalid NHS number",
            with(claims(), "nhs_number", json!("9000000008")),
            TokenError::InvalidNhsNumber,
        ),
        (
            "vot not requested",
            with(claims(), "vot", json!("P5.Cp.Cd")),
            TokenError::VotNotAccepted,
        ),
        (
            "no vot",
            with(claims(), "vot", Value::Null),
            TokenError::MissingClaim("vot"),
        ),
        (
            "another patient",
            with(claims(), "nhs_number", json!("9000000017")),
            TokenError::NhsNumberMismatch,
        ),
        (
            "bad birthdate",
            with(claims(), "birthdate", json!("02/01/1980")),
            TokenError::Malformed("birthdate is not YYYY-MM-DD".into()),
        ),
    ];
    for (name, c, want) in cases {
        let token = keys().0.sign(&c).unwrap();
        assert_eq!(check(&token).await.unwrap_err(), want, "{name}");
    }
}

#[tokio::test]
async fn expiry_within_the_leeway_passes() {
    let token = keys()
        .0
        .sign(&with(claims(), "exp", json!(now().timestamp() - 30)))
        .unwrap();
    assert!(check(&token).await.is_ok());
}

#[tokio::test]
async fn a_signature_by_another_key_under_our_kid_is_refused() {
    let good = keys().0.sign(&claims()).unwrap();
    let forged = keys().1.sign(&claims()).unwrap();
    // Keep our header (our kid) with the other key's payload and signature.
    let g: Vec<&str> = good.split('.').collect();
    let f: Vec<&str> = forged.split('.').collect();
    let token = format!("{}.{}.{}", g[0], f[1], f[2]);
    assert_eq!(check(&token).await.unwrap_err(), TokenError::BadSignature);
    // A tampered payload under a genuine signature is refused too.
    let tampered = with(claims(), "nhs_number", json!("9000000017"));
    let token = format!("{}.{}.{}", g[0], b64(tampered.to_string().as_bytes()), g[2]);
    assert_eq!(check(&token).await.unwrap_err(), TokenError::BadSignature);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(claims().to_string().as_bytes());
    for token in [format!("{header}.{body}."), format!("{header}.{body}.c2ln")] {
        assert_eq!(
            check(&token).await.unwrap_err(),
            TokenError::DisallowedAlgorithm("none".into())
        );
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // The key-confusion attack: HMAC keyed with the published public key.
    let key = &keys().0;
    let secrets = [
        key.public_jwk_json().to_string(),
        key.public_key_pem().unwrap(),
    ];
    for secret in secrets {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            check(&token).await.unwrap_err(),
            TokenError::DisallowedAlgorithm("HS256".into())
        );
    }
}

#[tokio::test]
async fn rs256_is_refused() {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(keys().0.kid().to_owned());
    let enc =
        jsonwebtoken::EncodingKey::from_rsa_pem(keys().0.private_key_pem().as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims(), &enc).unwrap();
    assert_eq!(
        check(&token).await.unwrap_err(),
        TokenError::DisallowedAlgorithm("RS256".into())
    );
}

#[tokio::test]
async fn garbage_is_malformed_not_a_panic() {
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.e30"] {
        let err = check(token).await.unwrap_err();
        assert!(
            matches!(
                err,
                TokenError::Malformed(_) | TokenError::MissingClaim("alg")
            ),
            "{token}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused_with_a_fixed_key_set() {
    let token = keys().1.sign(&claims()).unwrap();
    assert_eq!(check(&token).await.unwrap_err(), TokenError::UnknownKey);
}

mod remote {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn jwks(keys: &[&RsaSigningKey]) -> Value {
        json!({"keys": keys.iter().map(|k| k.public_jwk_json()).collect::<Vec<_>>()})
    }

    fn remote_verifier(server: &MockServer) -> JwksForwardedVerifier {
        let url = url::Url::parse(&format!("{}/.well-known/jwks.json", server.uri())).unwrap();
        let cache = JwksCache::remote(url, reqwest::Client::new())
            .with_min_refetch_interval(std::time::Duration::ZERO);
        JwksForwardedVerifier::new(
            ForwardedTokenConfig::new(ISSUER, vec![AUD.into()]),
            Arc::new(cache),
        )
        .with_clock(Arc::new(ManualClock::new(now())))
    }

    #[tokio::test]
    async fn a_rotated_key_is_found_by_one_refetch() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&keys().0])))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&keys().1])))
            .mount(&server)
            .await;
        let v = remote_verifier(&server);
        let n = nhs("9000000009");
        v.verify(&keys().0.sign(&claims()).unwrap(), &n)
            .await
            .unwrap();
        // NHS login rotated to key 1: one refetch finds it.
        v.verify(&keys().1.sign(&claims()).unwrap(), &n)
            .await
            .unwrap();
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_unknown_kid_after_the_refetch_is_refused() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&keys().0])))
            .mount(&server)
            .await;
        let v = remote_verifier(&server);
        let n = nhs("9000000009");
        v.verify(&keys().0.sign(&claims()).unwrap(), &n)
            .await
            .unwrap();
        let err = v
            .verify(&keys().1.sign(&claims()).unwrap(), &n)
            .await
            .unwrap_err();
        assert_eq!(err, TokenError::UnknownKey);
        // Exactly one refetch for the unknown kid (first fetch + one refetch).
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unreachable_keys_are_a_temporary_failure() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let v = remote_verifier(&server);
        let err = v
            .verify(&keys().0.sign(&claims()).unwrap(), &nhs("9000000009"))
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }

    #[tokio::test]
    async fn tasks_missing_the_cache_together_share_one_fetch() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(jwks(&[&keys().0]))
                    .set_delay(std::time::Duration::from_millis(200)),
            )
            .mount(&server)
            .await;
        let url = url::Url::parse(&format!("{}/k", server.uri())).unwrap();
        let v = Arc::new(
            JwksForwardedVerifier::new(
                ForwardedTokenConfig::new(ISSUER, vec![AUD.into()]),
                Arc::new(JwksCache::remote(url, reqwest::Client::new())),
            )
            .with_clock(Arc::new(ManualClock::new(now()))),
        );
        let token = keys().0.sign(&claims()).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (v, token) = (v.clone(), token.clone());
                tokio::spawn(async move { v.verify(&token, &nhs("9000000009")).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refetches_are_rate_limited() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&keys().0])))
            .mount(&server)
            .await;
        let url = url::Url::parse(&format!("{}/k", server.uri())).unwrap();
        let cache = Arc::new(JwksCache::remote(url, reqwest::Client::new()));
        let v =
            JwksForwardedVerifier::new(ForwardedTokenConfig::new(ISSUER, vec![AUD.into()]), cache)
                .with_clock(Arc::new(ManualClock::new(now())));
        let n = nhs("9000000009");
        v.verify(&keys().0.sign(&claims()).unwrap(), &n)
            .await
            .unwrap();
        for _ in 0..5 {
            let err = v
                .verify(&keys().1.sign(&claims()).unwrap(), &n)
                .await
                .unwrap_err();
            assert_eq!(err, TokenError::UnknownKey);
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[test]
fn pkcs1_and_pkcs8_keys_load_to_the_same_key() {
    use base64::Engine;
    let k = &keys().0;
    let pkcs8 = pem::parse(k.private_key_pem()).unwrap();
    // PKCS#8 = SEQUENCE { INTEGER 0, SEQUENCE { rsaEncryption, NULL }, OCTET STRING { PKCS#1 } }.
    let der = pkcs8.contents();
    let inner = read_octet_string_after_prefix(der);
    let body = base64::engine::general_purpose::STANDARD.encode(inner);
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let pkcs1 = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let loaded = RsaSigningKey::from_pem(&pkcs1).unwrap();
    assert_eq!(loaded.kid(), k.kid());
    // A token it signs verifies against the original's public key.
    let token = loaded.sign(&claims()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(check(&token)).is_ok());
    assert!(matches!(
        RsaSigningKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        Err(KeyError::InvalidPem(_))
    ));
}

/// Skips a DER header (tag + length) and returns (content, rest).
fn der_item(d: &[u8]) -> (&[u8], &[u8]) {
    let (len, hl) = if d[1] < 0x80 {
        (d[1] as usize, 2)
    } else {
        let n = (d[1] & 0x7f) as usize;
        let mut len = 0usize;
        for b in &d[2..2 + n] {
            len = (len << 8) | *b as usize;
        }
        (len, 2 + n)
    };
    (&d[hl..hl + len], &d[hl + len..])
}

fn read_octet_string_after_prefix(pkcs8: &[u8]) -> &[u8] {
    let (seq, _) = der_item(pkcs8);
    let (_, rest) = der_item(seq); // version
    let (_, rest) = der_item(rest); // algorithm
    assert_eq!(rest[0], 0x04);
    der_item(rest).0
}

#[tokio::test]
async fn the_nonce_must_match_when_one_is_expected() {
    let cache = JwksCache::fixed(JwkSet {
        keys: vec![keys().0.public_jwk()],
    });
    let audiences = vec![AUD.to_owned()];
    let vot: Vec<String> = DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect();
    let expect = |nonce| TokenExpectations {
        issuer: ISSUER,
        audiences: &audiences,
        leeway_secs: 60,
        nonce,
        accepted_vot: &vot,
        now: now(),
    };
    let token = keys().0.sign(&claims()).unwrap();
    assert!(
        verify_token(&token, &cache, &expect(Some("nonce-1")))
            .await
            .is_ok()
    );
    assert_eq!(
        verify_token(&token, &cache, &expect(Some("nonce-2")))
            .await
            .unwrap_err(),
        TokenError::NonceMismatch
    );
    let no_nonce = keys()
        .0
        .sign(&with(claims(), "nonce", Value::Null))
        .unwrap();
    assert_eq!(
        verify_token(&no_nonce, &cache, &expect(Some("nonce-1")))
            .await
            .unwrap_err(),
        TokenError::MissingClaim("nonce")
    );
}

#[test]
fn secrets_compare_equal_only_when_identical() {
    assert!(super::constant_time_eq(b"abc", b"abc"));
    assert!(!super::constant_time_eq(b"abc", b"abd"));
    assert!(!super::constant_time_eq(b"abc", b"ab"));
    assert!(!super::constant_time_eq(b"", b"a"));
}
