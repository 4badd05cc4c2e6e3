//! SMART Backend Services for [`FhirPas`]: an access token from the trust's token endpoint
//! (`client_credentials` with a `private_key_jwt` client assertion, RS384), cached until shortly
//! before it expires and fetched again when the PAS refuses it.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use url::Url;

use super::{FhirPas, HttpStatus};
use crate::PasError;

/// Text that must not be shown: `Debug` prints only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

/// SMART Backend Services settings for one trust: where to get tokens, as which client, with
/// which key and scopes. A plain struct to fill from any configuration source.
///
/// ```
/// use nhs_portal_pas::fhir::{SecretText, SmartBackendAuth};
/// let mut auth = SmartBackendAuth::new(
///     "https://pas.example.nhs.uk/oauth/token".parse().unwrap(),
///     "nhs-portal",
///     SecretText("-----BEGIN PRIVATE KEY-----\n...".into()),
/// );
/// auth.key_id = Some("portal-2026".into());
/// assert!(auth.scopes.iter().any(|s| s == "system/Appointment.write"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmartBackendAuth {
    /// The trust's token endpoint (https, except on this machine).
    pub token_url: Url,
    /// The client id the trust registered for the portal (the assertion's `iss` and `sub`).
    pub client_id: String,
    /// The portal's RSA private key, PEM (PKCS#1 or PKCS#8); its public key is registered
    /// with the trust (as a JWKS or a key).
    pub private_key_pem: SecretText,
    /// The `kid` of that key in the registered JWKS, if the trust needs it.
    pub key_id: Option<String>,
    /// The scopes asked for (default: read Patient and Schedule, read and write Appointment
    /// and Slot, SMART v1 names).
    pub scopes: Vec<String>,
    /// How long a client assertion is valid (default 5 minutes, the SMART maximum).
    pub assertion_lifetime: Duration,
}

impl SmartBackendAuth {
    /// Settings with the default scopes and assertion lifetime.
    pub fn new(token_url: Url, client_id: impl Into<String>, private_key_pem: SecretText) -> Self {
        Self {
            token_url,
            client_id: client_id.into(),
            private_key_pem,
            key_id: None,
            scopes: [
                "system/Patient.read",
                "system/Schedule.read",
                "system/Appointment.read",
                "system/Appointment.write",
                "system/Slot.read",
                "system/Slot.write",
            ]
            .map(String::from)
            .to_vec(),
            assertion_lifetime: Duration::from_secs(300),
        }
    }
}

/// The cached access token.
#[derive(Debug, Default)]
pub(super) struct TokenCache(tokio::sync::Mutex<Option<(String, Instant)>>);

/// A token is used until this long before it expires.
const EARLY: Duration = Duration::from_secs(30);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl FhirPas {
    /// The bearer token for the next call: SMART's (cached or fetched), else the static one.
    pub(super) async fn bearer(&self) -> Result<Option<String>, PasError> {
        match &self.cfg.smart {
            Some(smart) => self.smart_token(smart, None).await.map(Some),
            None => Ok(self.cfg.bearer_token.clone()),
        }
    }

    /// A fresh token in place of `refused` (the PAS answered 401 to it).
    pub(super) async fn renew_token(&self, refused: &str) -> Result<Option<String>, PasError> {
        match &self.cfg.smart {
            Some(smart) => self.smart_token(smart, Some(refused)).await.map(Some),
            None => Ok(None),
        }
    }

    async fn smart_token(
        &self,
        smart: &SmartBackendAuth,
        refused: Option<&str>,
    ) -> Result<String, PasError> {
        // One fetch at a time: callers waiting here get the token the first one fetched.
        let mut cached = self.tokens.0.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Some(token.as_str()) != refused
            && Instant::now() + EARLY < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch_token(smart).await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn fetch_token(&self, smart: &SmartBackendAuth) -> Result<(String, Duration), PasError> {
        let now = self.clock.now().timestamp();
        let lifetime = i64::try_from(smart.assertion_lifetime.as_secs()).unwrap_or(300);
        let claims = json!({
            "iss": smart.client_id,
            "sub": smart.client_id,
            "aud": smart.token_url.as_str(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + lifetime,
        });
        let mut header = Header::new(Algorithm::RS384);
        header.typ = Some("JWT".into());
        header.kid = smart.key_id.clone();
        let key = EncodingKey::from_rsa_pem(smart.private_key_pem.0.as_bytes())
            .map_err(|_| PasError::Unauthorised("the SMART private key cannot be read".into()))?;
        let assertion = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|_| PasError::Unauthorised("the client assertion cannot be signed".into()))?;
        let scope = smart.scopes.join(" ");
        let res = self
            .client
            .post(smart.token_url.clone())
            .header(http::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(super::client::unanswered)?;
        let status = res.status().as_u16();
        match status {
            200 => {}
            400 | 401 | 403 => {
                return Err(PasError::Unauthorised(format!(
                    "the token endpoint refused the portal's client (HTTP {status})"
                )));
            }
            429 => return Err(PasError::RateLimited { retry_after: None }),
            _ => {
                return Err(PasError::Unavailable(Box::new(HttpStatus {
                    status,
                    retry_after: None,
                })));
            }
        }
        let body: Value = res
            .json()
            .await
            .map_err(|_| PasError::BadData("the token endpoint answered no JSON".into()))?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PasError::BadData("the token endpoint answered no token".into()))?;
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300);
        Ok((token.to_owned(), Duration::from_secs(expires_in)))
    }
}
