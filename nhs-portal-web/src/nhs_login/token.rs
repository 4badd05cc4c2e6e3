//! Verifying NHS login JWTs (ID tokens from our own sign-in, and ID tokens the PCA forwards):
//! signature (RS512 only) against NHS login's keys, issuer, audience, expiry, and the NHS claims.

use chrono::{DateTime, NaiveDate, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nhs_portal_core::NhsNumber;
use serde::Deserialize;

use super::JwksCache;

/// The identity level this portal requires.
pub const P9: &str = "P9";

/// The vectors of trust the portal asks for by default, and accepts back in `vot`.
pub const DEFAULT_P9_VECTORS: [&str; 3] = ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"];

/// Why an NHS login token was refused. Each variant is one check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT, or a claim has the wrong shape.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// The header names an algorithm other than RS512 (including `none` and HMAC algorithms,
    /// which would allow key-confusion attacks).
    #[error("the token is signed with {0}, only RS512 is accepted")]
    DisallowedAlgorithm(String),
    /// The token names no key id, or one NHS login does not publish even after refetching its keys.
    #[error("the token's signing key is not one of NHS login's keys")]
    UnknownKey,
    /// NHS login's keys could not be fetched (a temporary failure: answer 503, not 401).
    #[error("NHS login's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// `iss` is not the configured NHS login issuer.
    #[error("the token was issued by someone other than the configured NHS login issuer")]
    WrongIssuer,
    /// `aud` does not contain an accepted audience.
    #[error("the token is not meant for this service (audience)")]
    WrongAudience,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A required claim is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// `nonce` does not equal the one this sign-in sent.
    #[error("the token's nonce does not match this sign-in")]
    NonceMismatch,
    /// `vot` is not one of the accepted vectors of trust.
    #[error("the token's vector of trust was not requested")]
    VotNotAccepted,
    /// `identity_proofing_level` is not P9 (for example a P5 patient).
    #[error("the patient's identity is proved to {0}, this service needs P9")]
    IdentityLevelTooLow(String),
    /// `nhs_number` is not a valid NHS number.
    #[error("the token's NHS number is not valid")]
    InvalidNhsNumber,
    /// `nhs_number` is not the one the request is about (forwarded tokens).
    #[error("the token's NHS number is not the one requested")]
    NhsNumberMismatch,
}

impl TokenError {
    /// A temporary failure on NHS login's side (worth a 503 and a retry), rather than a bad token.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable(_))
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct TokenExpectations<'a> {
    /// The issuer, compared exactly.
    pub issuer: &'a str,
    /// Accepted audiences: `aud` must contain one of them.
    pub audiences: &'a [String],
    /// Clock leeway for `exp` and `iat`, in seconds.
    pub leeway_secs: i64,
    /// The nonce the token must carry, if any is checked.
    pub nonce: Option<&'a str>,
    /// Accepted `vot` values.
    pub accepted_vot: &'a [String],
    /// Now.
    pub now: DateTime<Utc>,
}

/// The claims of a verified NHS login token that the portal uses.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`: NHS login's stable id for the person.
    pub subject: String,
    /// The patient's NHS number.
    pub nhs_number: NhsNumber,
    /// `birthdate`, when given.
    pub date_of_birth: Option<NaiveDate>,
    /// `family_name`, when given.
    pub family_name: Option<String>,
    /// `given_name`, when given.
    pub given_name: Option<String>,
    /// The vector of trust achieved (`vot`).
    pub vot: String,
    /// `identity_proofing_level` (always P9 once verified).
    pub identity_proofing_level: String,
    /// `jti`, when given (needed to assert SSO onward).
    pub jti: Option<String>,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Redacted: names and dates of birth must not reach logs.
        f.debug_struct("VerifiedToken")
            .field("vot", &self.vot)
            .field("identity_proofing_level", &self.identity_proofing_level)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    /// "Given Family" when both are known, else the one that is.
    pub fn display_name(&self) -> Option<String> {
        match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (None, Some(f)) => Some(f.clone()),
            (Some(g), None) => Some(g.clone()),
            (None, None) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    aud: Option<OneOrMany>,
    exp: Option<i64>,
    iat: Option<i64>,
    nonce: Option<String>,
    vot: Option<String>,
    identity_proofing_level: Option<String>,
    nhs_number: Option<String>,
    birthdate: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    jti: Option<String>,
}

/// The `alg` and `kid` of a JWT header, read before anything is trusted.
fn read_header(token: &str) -> Result<(String, Option<String>), TokenError> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "not three dot-separated parts".into(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| TokenError::Malformed("the header is not base64url".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("the header is not JSON".into()))?;
    let alg = v
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or(TokenError::MissingClaim("alg"))?
        .to_owned();
    let kid = v.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
    Ok((alg, kid))
}

/// Verifies an NHS login JWT fully and returns its claims.
///
/// Order: RS512 only (before any key is touched), key by `kid` (one refetch), signature, issuer,
/// audience, expiry and `iat`, nonce, identity level P9, `vot`, NHS number.
pub async fn verify_token(
    token: &str,
    keys: &JwksCache,
    expect: &TokenExpectations<'_>,
) -> Result<VerifiedToken, TokenError> {
    let (alg, kid) = read_header(token)?;
    if alg != "RS512" {
        return Err(TokenError::DisallowedAlgorithm(alg));
    }
    let kid = kid.ok_or(TokenError::UnknownKey)?;
    let jwk = keys.key(&kid).await?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;

    let mut validation = Validation::new(Algorithm::RS512);
    validation.validate_exp = false; // checked below against the injected clock
    validation.validate_aud = false; // checked below (one of several accepted audiences)
    validation.required_spec_claims.clear();
    validation.set_issuer(&[expect.issuer]);
    validation.required_spec_claims.insert("iss".into());
    let data = jsonwebtoken::decode::<RawClaims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => TokenError::BadSignature,
            K::InvalidIssuer | K::MissingRequiredClaim(_) => TokenError::WrongIssuer,
            K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
                TokenError::DisallowedAlgorithm(alg.clone())
            }
            K::InvalidRsaKey(_) | K::InvalidKeyFormat => TokenError::UnknownKey,
            other => TokenError::Malformed(format!("{other:?}")),
        }
    })?;
    let c = data.claims;

    let aud = match c.aud.ok_or(TokenError::MissingClaim("aud"))? {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(v) => v,
    };
    if !aud.iter().any(|a| expect.audiences.contains(a)) {
        return Err(TokenError::WrongAudience);
    }
    let exp = c.exp.ok_or(TokenError::MissingClaim("exp"))?;
    let now = expect.now.timestamp();
    if exp + expect.leeway_secs < now {
        return Err(TokenError::Expired);
    }
    if c.iat.is_some_and(|iat| iat > now + expect.leeway_secs) {
        return Err(TokenError::IssuedInFuture);
    }
    let subject = c.sub.ok_or(TokenError::MissingClaim("sub"))?;
    if let Some(expected) = expect.nonce {
        match c.nonce.as_deref() {
            None => return Err(TokenError::MissingClaim("nonce")),
            Some(n) if !super::constant_time_eq(n.as_bytes(), expected.as_bytes()) => {
                return Err(TokenError::NonceMismatch);
            }
            Some(_) => {}
        }
    }
    let level = c
        .identity_proofing_level
        .ok_or(TokenError::MissingClaim("identity_proofing_level"))?;
    if level != P9 {
        return Err(TokenError::IdentityLevelTooLow(level));
    }
    let vot = c.vot.ok_or(TokenError::MissingClaim("vot"))?;
    if !expect.accepted_vot.contains(&vot) {
        return Err(TokenError::VotNotAccepted);
    }
    let nhs_number = NhsNumber::parse(
        c.nhs_number
            .as_deref()
            .ok_or(TokenError::MissingClaim("nhs_number"))?,
    )
    .map_err(|_| TokenError::InvalidNhsNumber)?;
    let date_of_birth = c
        .birthdate
        .map(|b| {
            NaiveDate::parse_from_str(&b, "%Y-%m-%d")
                .map_err(|_| TokenError::Malformed("birthdate is not YYYY-MM-DD".into()))
        })
        .transpose()?;
    let expires_at = DateTime::from_timestamp(exp, 0)
        .ok_or_else(|| TokenError::Malformed("exp is out of range".into()))?;
    Ok(VerifiedToken {
        subject,
        nhs_number,
        date_of_birth,
        family_name: c.family_name,
        given_name: c.given_name,
        vot,
        identity_proofing_level: level,
        jti: c.jti,
        expires_at,
    })
}
