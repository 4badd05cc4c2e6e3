//! Who may call the Get Appointments API: the PCA's OAuth 2.0 bearer token. (The patient's NHS
//! login ID token that the PCA forwards in `NHSD-ID-Token` is checked by
//! [`crate::nhs_login::ForwardedTokenVerifier`].)
//!
//! The check is a trait so a vendor can plug in what their onboarding gives them. The spec says
//! the PCA authenticates with OAuth 2.0 client credentials but not which authorisation server
//! issues the token (research notes, pca-wayfinder.md §2.2, GAP), so [`JwksBearerValidator`] checks a
//! JWT against any JWKS with issuer and audience configured.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::nhs_login::JwksCache;

/// What a valid bearer token says about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The client id (`client_id`, else `azp`, else `sub`), for logs that show the request came
    /// from the PCA (WF-NFR-09). Not patient data.
    pub client_id: Option<String>,
}

/// Why a bearer token was refused. The `Display` text goes into the 401's `diagnostics`, so it
/// never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    Missing,
    /// Not a well-formed JWT, or an algorithm that is not allowed.
    #[error("malformed token")]
    Malformed,
    /// The signing key is not in the JWKS.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature, issuer, audience, expiry or not-before check failed.
    #[error("token not valid")]
    Invalid,
    /// The JWKS could not be fetched.
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

impl BearerError {
    /// A static reason for [`super::ApiError::Unauthorised`].
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "no bearer token",
            Self::Malformed => "malformed token",
            Self::UnknownKey => "unknown signing key",
            Self::Invalid => "token not valid",
            Self::KeysUnavailable => "signing keys unavailable",
        }
    }
}

/// Checks the PCA's `Authorization: Bearer` token.
#[async_trait]
pub trait BearerValidator: Send + Sync + std::fmt::Debug {
    /// Validates the token (without the `Bearer ` prefix).
    async fn validate(&self, token: &str) -> Result<Caller, BearerError>;
}

/// The default [`BearerValidator`]: a signed JWT checked against a JWKS, with issuer, audience,
/// expiry and not-before checks (60 s leeway) and an allow-list of algorithms (RS256, RS512,
/// PS256, PS512, ES256 by default; never `none` or HMAC). The keys are held in the portal's one
/// key cache, [`JwksCache`] (refresh on `max-age`, stale keys served for a bounded time while a
/// refresh fails, one refetch on an unknown key id, a body size cap).
///
/// ```
/// use nhs_portal_web::fhir_api::JwksBearerValidator;
/// let v = JwksBearerValidator::from_jwks_json(r#"{"keys":[]}"#, "https://auth.example", ["my-api"]).unwrap();
/// # let _ = v;
/// ```
#[derive(Debug)]
pub struct JwksBearerValidator {
    keys: Arc<JwksCache>,
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
}

/// The longest a fetched JWKS is used before it is fetched again (its `max-age` is held under
/// this): [`crate::nhs_login::jwks::DEFAULT_MAX_TTL`].
pub const JWKS_REFRESH: Duration = crate::nhs_login::jwks::DEFAULT_MAX_TTL;

impl JwksBearerValidator {
    const DEFAULT_ALGS: [Algorithm; 5] = [
        Algorithm::RS256,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS512,
        Algorithm::ES256,
    ];

    /// Keys given as a JWKS JSON document.
    pub fn from_jwks_json(
        jwks: &str,
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, serde_json::Error> {
        let set: JwkSet = serde_json::from_str(jwks)?;
        Ok(Self::from_keys(
            Arc::new(JwksCache::fixed(set)),
            issuer,
            audiences,
        ))
    }

    /// Keys fetched from `jwks_url` when first needed and kept as [`JwksCache`] does.
    pub fn from_jwks_url(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
        client: reqwest::Client,
    ) -> Self {
        let keys = JwksCache::from_url(jwks_url, client);
        Self::from_keys(Arc::new(keys), issuer, audiences)
    }

    /// Keys from a [`JwksCache`] built (and tuned) by the caller.
    pub fn from_keys(
        keys: Arc<JwksCache>,
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: Self::DEFAULT_ALGS.to_vec(),
        }
    }

    /// Replaces the allowed algorithms (HMAC algorithms are ignored: a shared secret has no
    /// place in a JWKS).
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }

    async fn find_key(&self, kid: Option<&str>) -> Result<Jwk, BearerError> {
        self.keys.key_for(kid).await.map_err(|e| {
            if e.is_unavailable() {
                BearerError::KeysUnavailable
            } else {
                BearerError::UnknownKey
            }
        })
    }
}

#[derive(serde::Deserialize)]
struct AccessClaims {
    client_id: Option<String>,
    azp: Option<String>,
    sub: Option<String>,
}

#[async_trait]
impl BearerValidator for JwksBearerValidator {
    async fn validate(&self, token: &str) -> Result<Caller, BearerError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| BearerError::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(BearerError::Malformed);
        }
        let jwk = self.find_key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| BearerError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|_| BearerError::Invalid)?;
        let c = data.claims;
        Ok(Caller {
            client_id: c.client_id.or(c.azp).or(c.sub),
        })
    }
}
