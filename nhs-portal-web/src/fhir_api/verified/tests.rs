use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeZone;
use nhs_portal_core::clock::ManualClock;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
}

/// A JWT-shaped token expiring at `exp` with `tag` in its payload (not signed: the inner
/// validator here accepts by the whole text).
fn token(exp: DateTime<Utc>, tag: &str) -> String {
    let payload = serde_json::json!({ "exp": exp.timestamp(), "tag": tag }).to_string();
    format!(
        "eyJhbGciOiJSUzUxMiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(payload)
    )
}

/// Accepts only the tokens it was given (any other text is forged), while `clock` is before
/// their `exp`, counting every full check.
#[derive(Debug)]
struct Counting {
    accepted: Vec<String>,
    clock: Arc<ManualClock>,
    checks: AtomicUsize,
}

impl Counting {
    fn check(&self, token: &str) -> bool {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.accepted.iter().any(|t| t == token)
            && expiry(token).is_some_and(|exp| self.clock.now() < exp)
    }
}

#[async_trait]
impl BearerValidator for Counting {
    async fn validate(&self, token: &str) -> Result<Caller, BearerError> {
        if self.check(token) {
            Ok(Caller {
                client_id: Some("pca".into()),
            })
        } else {
            Err(BearerError::Invalid)
        }
    }
}

#[async_trait]
impl ForwardedTokenVerifier for Counting {
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<ForwardedIdentity, TokenError> {
        if !self.check(token) {
            return Err(TokenError::BadSignature);
        }
        let patient = NhsNumber::parse("9000000009").unwrap();
        if patient != *expected {
            return Err(TokenError::NhsNumberMismatch);
        }
        Ok(ForwardedIdentity {
            nhs_number: patient,
            date_of_birth: None,
            subject: "sub".into(),
            vot: "P9.Cp.Cd".into(),
        })
    }
}

fn counting(accepted: &[&str]) -> (Arc<ManualClock>, Arc<Counting>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let inner = Arc::new(Counting {
        accepted: accepted.iter().map(|s| s.to_string()).collect(),
        clock: clock.clone(),
        checks: AtomicUsize::new(0),
    });
    (clock, inner)
}

#[tokio::test]
async fn a_verified_bearer_is_not_checked_again_until_it_expires() {
    let good = token(t0() + chrono::Duration::minutes(5), "good");
    let (clock, inner) = counting(&[&good]);
    let remembered = RememberedBearer::new(inner.clone(), 16, clock.clone());
    for _ in 0..3 {
        assert!(remembered.validate(&good).await.is_ok());
    }
    assert_eq!(inner.checks.load(Ordering::SeqCst), 1, "checked once");
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        remembered.validate(&good).await,
        Err(BearerError::Invalid),
        "expired: checked again, and refused"
    );
    assert_eq!(inner.checks.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn forged_and_refused_tokens_always_get_the_full_check() {
    let good = token(t0() + chrono::Duration::minutes(5), "good");
    let (clock, inner) = counting(&[&good]);
    let remembered = RememberedBearer::new(inner.clone(), 16, clock);
    assert!(remembered.validate(&good).await.is_ok());
    // The same claims with another signature; the same signature on other claims.
    let forged = [
        good.replace(".c2ln", ".Zm9yZ2Vk"),
        token(t0() + chrono::Duration::minutes(5), "evil"),
    ];
    for forged in &forged {
        for _ in 0..2 {
            assert_eq!(remembered.validate(forged).await, Err(BearerError::Invalid));
        }
    }
    assert_eq!(
        inner.checks.load(Ordering::SeqCst),
        5,
        "every forged call checked"
    );
}

#[tokio::test]
async fn a_remembered_id_token_is_still_only_for_its_patient() {
    let good = token(t0() + chrono::Duration::minutes(5), "id");
    let (clock, inner) = counting(&[&good]);
    let remembered = RememberedIdTokens::new(inner.clone(), 16, clock.clone());
    let patient = NhsNumber::parse("9000000009").unwrap();
    let other = NhsNumber::parse("9000000017").unwrap();
    assert!(remembered.verify(&good, &patient).await.is_ok());
    assert!(remembered.verify(&good, &patient).await.is_ok());
    assert_eq!(inner.checks.load(Ordering::SeqCst), 1);
    assert!(matches!(
        remembered.verify(&good, &other).await,
        Err(TokenError::NhsNumberMismatch)
    ));
    clock.advance(chrono::Duration::minutes(6));
    assert!(matches!(
        remembered.verify(&good, &patient).await,
        Err(TokenError::BadSignature)
    ));
}

#[tokio::test]
async fn remembering_is_bounded_and_can_be_off() {
    let tokens: Vec<String> = (0..3)
        .map(|i| token(t0() + chrono::Duration::minutes(5), &format!("t{i}")))
        .collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let (clock, inner) = counting(&refs);
    let remembered = RememberedBearer::new(inner.clone(), 2, clock.clone());
    for t in &tokens {
        remembered.validate(t).await.unwrap();
    }
    assert_eq!(
        remembered.verified.entries.lock().unwrap().len(),
        1,
        "full: started again"
    );
    let (clock, inner) = counting(&refs);
    let off = RememberedBearer::new(inner.clone(), 0, clock);
    off.validate(&tokens[0]).await.unwrap();
    off.validate(&tokens[0]).await.unwrap();
    assert_eq!(
        inner.checks.load(Ordering::SeqCst),
        2,
        "off: every call checked"
    );
}

#[test]
fn expiry_is_read_from_the_payload_only() {
    let exp = t0() + chrono::Duration::minutes(5);
    assert_eq!(expiry(&token(exp, "x")), Some(exp));
    for opaque in ["opaque-token", "a.b.c", "a..c", ""] {
        assert_eq!(expiry(opaque), None, "{opaque}");
    }
}
