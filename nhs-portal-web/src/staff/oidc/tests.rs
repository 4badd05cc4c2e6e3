//! The ID-token checks, one row per way a token can be wrong, on keys held by hand.

use chrono::TimeZone;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::*;

fn config() -> StaffOidcConfig {
    StaffOidcConfig::new(
        "https://idp.trust.example",
        "worklist",
        StaffClientCredential::Secret("s".into()),
        "https://portal.example/staff/sign-in/callback",
        "groups",
        "booking-team",
    )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn key() -> &'static RsaSigningKey {
    static K: std::sync::OnceLock<RsaSigningKey> = std::sync::OnceLock::new();
    K.get_or_init(|| RsaSigningKey::generate().unwrap())
}

fn good_claims() -> Value {
    json!({
        "iss": "https://idp.trust.example",
        "aud": "worklist",
        "sub": "staff-1",
        "exp": now().timestamp() + 300,
        "iat": now().timestamp(),
        "nonce": "n-1",
        "name": "Sam Booking",
        "groups": ["other", "booking-team"],
    })
}

fn with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = good_claims();
    edit(c.as_object_mut().unwrap());
    c
}

async fn check(token: &str) -> Result<StaffIdentity, StaffSignInError> {
    let keys = JwksCache::fixed(JwkSet {
        keys: vec![key().public_jwk()],
    });
    verify_id_token(
        token,
        &keys,
        &Expectations {
            config: &config(),
            nonce: "n-1",
            now: now(),
        },
    )
    .await
}

/// Signs with another key under the good key's id.
fn forged(claims: &Value) -> String {
    let other = RsaSigningKey::generate().unwrap();
    let mut header = jsonwebtoken::Header::new(Algorithm::RS512);
    header.kid = Some(key().kid().to_owned());
    let enc = jsonwebtoken::EncodingKey::from_rsa_pem(other.private_key_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}

fn hmac(claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(key().kid().to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(b"k"),
    )
    .unwrap()
}

#[tokio::test]
async fn a_good_token_gives_the_name_and_each_bad_one_its_own_error() {
    let sign = |c: &Value| key().sign(c).unwrap();
    let done = check(&sign(&good_claims())).await.unwrap();
    assert_eq!(done.subject, "staff-1");
    assert_eq!(done.name, "Sam Booking");
    // A group claim given as one string, and the name falling back to the username.
    let one = with(|c| {
        c.insert("groups".into(), json!("booking-team"));
        c.remove("name");
        c.insert("preferred_username".into(), json!("sam@trust.example"));
    });
    assert_eq!(check(&sign(&one)).await.unwrap().name, "sam@trust.example");

    use StaffSignInError as E;
    let rows: Vec<(&str, String, E)> = vec![
        (
            "another issuer",
            sign(&with(|c| {
                c.insert("iss".into(), json!("https://other.example"));
            })),
            E::WrongIssuer,
        ),
        (
            "no issuer",
            sign(&with(|c| {
                c.remove("iss");
            })),
            E::WrongIssuer,
        ),
        (
            "another audience",
            sign(&with(|c| {
                c.insert("aud".into(), json!("other-app"));
            })),
            E::WrongAudience,
        ),
        (
            "several audiences, no azp",
            sign(&with(|c| {
                c.insert("aud".into(), json!(["worklist", "other"]));
            })),
            E::WrongAudience,
        ),
        (
            "azp of another client",
            sign(&with(|c| {
                c.insert("azp".into(), json!("other"));
            })),
            E::WrongAudience,
        ),
        (
            "expired",
            sign(&with(|c| {
                c.insert("exp".into(), json!(now().timestamp() - 61));
            })),
            E::Expired,
        ),
        (
            "no exp",
            sign(&with(|c| {
                c.remove("exp");
            })),
            E::MissingClaim("exp"),
        ),
        (
            "issued in the future",
            sign(&with(|c| {
                c.insert("iat".into(), json!(now().timestamp() + 120));
            })),
            E::IssuedInFuture,
        ),
        (
            "another nonce",
            sign(&with(|c| {
                c.insert("nonce".into(), json!("n-2"));
            })),
            E::NonceMismatch,
        ),
        (
            "no nonce",
            sign(&with(|c| {
                c.remove("nonce");
            })),
            E::MissingClaim("nonce"),
        ),
        (
            "not in the group",
            sign(&with(|c| {
                c.insert("groups".into(), json!(["other"]));
            })),
            E::NotInGroup,
        ),
        (
            "no group claim",
            sign(&with(|c| {
                c.remove("groups");
            })),
            E::NotInGroup,
        ),
        (
            "the group under another claim",
            sign(&with(|c| {
                c.remove("groups");
                c.insert("roles".into(), json!(["booking-team"]));
            })),
            E::NotInGroup,
        ),
        (
            "no sub",
            sign(&with(|c| {
                c.remove("sub");
            })),
            E::MissingClaim("sub"),
        ),
        (
            "another key, same kid",
            forged(&good_claims()),
            E::BadSignature,
        ),
        (
            "HMAC",
            hmac(&good_claims()),
            E::DisallowedAlgorithm("HS256".into()),
        ),
        (
            "not a JWT",
            "abc.def".into(),
            E::Malformed("InvalidToken".into()),
        ),
    ];
    for (what, token, want) in rows {
        assert_eq!(check(&token).await.unwrap_err(), want, "{what}");
    }
}
