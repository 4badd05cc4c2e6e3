//! Who may call the Get Appointments API: the PCA's OAuth 2.0 bearer token. (The patient's NHS
//! login ID token that the PCA forwards in `NHSD-ID-Token` is checked by
//! [`crate::nhs_login::ForwardedTokenVerifier`].)
//!
//! The check is a trait so a vendor can plug in what their onboarding gives them. The spec says
//! the PCA authenticates with OAuth 2.0 client credentials but not which authorisation server
//! issues the token (research notes, pca-wayfinder.md §2.2, GAP), so [`JwksBearerValidator`] checks a
//! JWT against any JWKS with issuer and audience configured.

use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

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

/// Where [`JwksBearerValidator`] gets its keys.
#[derive(Debug)]
enum KeySource {
    Fixed(JwkSet),
    Remote {
        url: String,
        client: reqwest::Client,
        cached: RwLock<Option<(JwkSet, tokio::time::Instant)>>,
    },
}

/// The default [`BearerValidator`]: a signed JWT checked against a JWKS, with issuer, audience,
/// expiry and not-before checks (60 s leeway) and an allow-list of algorithms (RS256, RS512,
/// PS256, PS512, ES256 by default; never `none` or HMAC).
///
/// ```
/// use nhs_portal_web::fhir_api::JwksBearerValidator;
/// let v = JwksBearerValidator::from_jwks_json(r#"{"keys":[]}"#, "https://auth.example", ["my-api"]).unwrap();
/// # let _ = v;
/// ```
#[derive(Debug)]
pub struct JwksBearerValidator {
    keys: KeySource,
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
}

/// How long a fetched JWKS is used before it is fetched again; an unknown `kid` triggers a fetch
/// at most this often.
pub const JWKS_REFRESH: Duration = Duration::from_secs(300);

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
        Ok(Self {
            keys: KeySource::Fixed(serde_json::from_str(jwks)?),
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: Self::DEFAULT_ALGS.to_vec(),
        })
    }

    /// Keys fetched from `jwks_url` when first needed, cached for [`JWKS_REFRESH`], and fetched
    /// again early when a token names an unknown key.
    pub fn from_jwks_url(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
        client: reqwest::Client,
    ) -> Self {
        Self {
            keys: KeySource::Remote {
                url: jwks_url.into(),
                client,
                cached: RwLock::new(None),
            },
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
        let pick = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => set.find(kid).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        match &self.keys {
            KeySource::Fixed(set) => pick(set).ok_or(BearerError::UnknownKey),
            KeySource::Remote {
                url,
                client,
                cached,
            } => {
                let fresh_enough = {
                    let guard = cached.read().unwrap_or_else(|e| e.into_inner());
                    if let Some((set, at)) = guard.as_ref() {
                        if let Some(k) = pick(set)
                            && at.elapsed() < JWKS_REFRESH
                        {
                            return Ok(k);
                        }
                        // Unknown kid: refetch, but not more than once a minute.
                        at.elapsed() < Duration::from_secs(60)
                    } else {
                        false
                    }
                };
                if fresh_enough {
                    return Err(BearerError::UnknownKey);
                }
                let set: JwkSet = async {
                    client
                        .get(url)
                        .timeout(Duration::from_secs(3))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await
                }
                .await
                .map_err(|_| BearerError::KeysUnavailable)?;
                let found = pick(&set);
                *cached.write().unwrap_or_else(|e| e.into_inner()) =
                    Some((set, tokio::time::Instant::now()));
                found.ok_or(BearerError::UnknownKey)
            }
        }
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
