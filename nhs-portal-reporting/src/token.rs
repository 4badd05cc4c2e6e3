//! Access tokens for the Wayfinder Reporting Service.
//!
//! Wayfinder sits behind NHS England's API Management (APIM) and is *application-restricted with
//! signed JWT authentication*: the portal signs a short-lived JWT (RS512) with its private key,
//! exchanges it at the APIM OAuth 2.0 token endpoint for an access token (client-credentials
//! grant with a `client_assertion`), and sends that token as `Authorization: Bearer …`.
//!
//! [`AccessTokenSource`] is the seam: [`StaticToken`] for tests and for the integration
//! environment's API key style, [`SignedJwtTokenSource`] for the real exchange. Tokens are cached
//! until a minute before they expire, and [`AccessTokenSource::invalidate`] drops a cached token
//! after a 401 so the next attempt fetches a fresh one.
//!
//! ## Decisions
//! - APIM returns `expires_in` as a *string* (`"599"`); both strings and numbers are accepted.
//! - The JWT lives 5 minutes (APIM's maximum) and carries `iss` = `sub` = the APIM application's
//!   API key, `aud` = the token URL, a fresh `jti`, and the key id in the header's `kid`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The private key is not a valid RSA PEM key.
    #[error("the signing key is not a valid RSA private key in PEM form")]
    BadKey(#[source] jsonwebtoken::errors::Error),
    /// The JWT could not be signed.
    #[error("could not sign the client assertion")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// The token endpoint could not be reached or timed out.
    #[error("the token endpoint could not be reached")]
    Transport(#[source] reqwest::Error),
    /// The token endpoint refused (its status code; the body is not kept, it may echo secrets).
    #[error("the token endpoint answered {0}")]
    Refused(u16),
    /// The token endpoint's answer was not a token.
    #[error("the token endpoint's answer is not a token response")]
    BadResponse,
}

/// A secret bearer token. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token text, for the `Authorization` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

/// Where bearer tokens come from.
#[async_trait]
pub trait AccessTokenSource: Send + Sync + fmt::Debug {
    /// A token that is valid now.
    async fn token(&self) -> Result<AccessToken, TokenError>;
    /// Forgets a cached token (called after a 401). The default does nothing.
    async fn invalidate(&self) {}
}

/// A fixed token: for tests, and for environments that take a long-lived API key.
///
/// ```
/// # tokio_test_block(async {
/// use nhs_portal_reporting::token::{AccessTokenSource, StaticToken};
/// let source = StaticToken::new("abc");
/// assert_eq!(source.token().await.unwrap().secret(), "abc");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// A source that always gives `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self(AccessToken::new(token))
    }
}

#[async_trait]
impl AccessTokenSource for StaticToken {
    async fn token(&self) -> Result<AccessToken, TokenError> {
        Ok(self.0.clone())
    }
}

/// Settings for [`SignedJwtTokenSource`].
#[derive(Clone)]
#[non_exhaustive]
pub struct SignedJwtConfig {
    /// The APIM token endpoint, such as `https://int.api.service.nhs.uk/oauth2/token`.
    pub token_url: String,
    /// The APIM application's API key (the JWT's `iss` and `sub`).
    pub api_key: String,
    /// The key id registered with APIM (the JWT header's `kid`).
    pub key_id: String,
    /// The RSA private key, PEM.
    pub private_key_pem: Vec<u8>,
    /// Timeout for the token call.
    pub timeout: Duration,
}

impl SignedJwtConfig {
    /// Settings for one APIM application, with a 10-second timeout for the token call.
    pub fn new(
        token_url: impl Into<String>,
        api_key: impl Into<String>,
        key_id: impl Into<String>,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            api_key: api_key.into(),
            key_id: key_id.into(),
            private_key_pem: private_key_pem.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The same settings with another timeout for the token call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for SignedJwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedJwtConfig")
            .field("token_url", &self.token_url)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    exp: i64,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// NHS APIM signed-JWT client credentials: signs an RS512 client assertion and exchanges it for
/// an access token, cached until a minute before it expires.
pub struct SignedJwtTokenSource {
    config: SignedJwtConfig,
    key: jsonwebtoken::EncodingKey,
    http: reqwest::Client,
    cached: Mutex<Option<(AccessToken, DateTime<Utc>)>>,
}

impl fmt::Debug for SignedJwtTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedJwtTokenSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SignedJwtTokenSource {
    /// Checks the key and builds the source.
    pub fn new(config: SignedJwtConfig) -> Result<Self, TokenError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&config.private_key_pem)
            .map_err(TokenError::BadKey)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(TokenError::Transport)?;
        Ok(Self {
            config,
            key,
            http,
            cached: Mutex::new(None),
        })
    }

    /// The signed client assertion (a JWT) for `now`.
    pub fn client_assertion(&self, now: DateTime<Utc>) -> Result<String, TokenError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
        header.kid = Some(self.config.key_id.clone());
        let claims = Claims {
            iss: &self.config.api_key,
            sub: &self.config.api_key,
            aud: &self.config.token_url,
            jti: uuid::Uuid::new_v4().to_string(),
            exp: (now + chrono::Duration::minutes(5)).timestamp(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(TokenError::Signing)
    }

    async fn fetch(&self) -> Result<(AccessToken, DateTime<Utc>), TokenError> {
        let now = Utc::now();
        let assertion = self.client_assertion(now)?;
        let response = self
            .http
            .post(&self.config.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(TokenError::Transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(TokenError::Refused(status.as_u16()));
        }
        let body: TokenResponse = response.json().await.map_err(|_| TokenError::BadResponse)?;
        let lifetime = match body.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(300);
        // Renew a minute early, and never cache for less than nothing.
        let until = now + chrono::Duration::seconds((lifetime - 60).max(0));
        Ok((AccessToken::new(body.access_token), until))
    }
}

#[async_trait]
impl AccessTokenSource for SignedJwtTokenSource {
    async fn token(&self) -> Result<AccessToken, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Utc::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, until) = self.fetch().await?;
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
