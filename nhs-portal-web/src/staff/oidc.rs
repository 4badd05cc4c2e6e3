//! Staff sign-in through the trust's own OpenID Connect identity provider (Entra ID, Keycloak,
//! ADFS, ...): the authorization code flow with PKCE (S256), `state` and `nonce`, the ID token
//! verified fully, and admission only for members of one group (or holders of one role) named by
//! a claim.
//!
//! Built on `openidconnect` 4 for discovery, the authorization URL (state, nonce, PKCE) and the
//! code exchange (`client_secret_basic`, or `private_key_jwt` with an RS256 client assertion added
//! with `add_extra_param`, as `openidconnect` has no `private_key_jwt`). The ID token is verified
//! here against the portal's one key cache ([`JwksCache`]: refreshed on `max-age`, refetched once
//! on an unknown key id) with `jsonwebtoken`, as the NHS login relying party does, rather than by
//! `openidconnect`'s verifier, which keeps the keys it saw at discovery for ever. The checks, each
//! a [`StaffSignInError`] variant: an asymmetric algorithm (never `none` or HMAC), the key by
//! `kid`, the signature, `iss` exactly, `aud` containing the client id (and `azp` equal to it when
//! there are several audiences), `exp` and `iat` with a leeway, the `nonce` of this sign-in, then
//! the group or role claim.
//!
//! Where each sign-in in progress lives (bound to its browser) is the staff pages' business
//! ([`super::StaffPages`]): this module only builds the request and checks the answer.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nhs_portal_core::clock::{Clock, SystemClock};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde::Deserialize;

use crate::nhs_login::{JwksCache, OidcClient, RsaSigningKey, TokenError, error_chain};

/// How the portal authenticates itself at the provider's token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum StaffClientCredential {
    /// A client secret (`client_secret_basic`).
    Secret(String),
    /// A private key whose public half is registered with the provider (`private_key_jwt`,
    /// an RS256 client assertion).
    PrivateKey(RsaSigningKey),
}

impl std::fmt::Debug for StaffClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(hidden)"),
            Self::PrivateKey(k) => f.debug_tuple("PrivateKey").field(&k.kid()).finish(),
        }
    }
}

/// Settings of the staff sign-in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StaffOidcConfig {
    /// The provider's issuer, compared exactly with discovery's and each ID token's `iss`.
    pub issuer: String,
    /// The portal's client id at the provider.
    pub client_id: String,
    /// The client secret or private key.
    pub credential: StaffClientCredential,
    /// The registered redirect URI: the portal's `/staff/sign-in/callback`.
    pub redirect_uri: String,
    /// The ID-token claim naming the person's groups or roles (for example `groups` or `roles`):
    /// a string, or an array of strings.
    pub group_claim: String,
    /// The value the group claim must hold to open the worklist.
    pub allowed_group: String,
    /// Scopes asked for (default `openid profile`; `openid` is always sent).
    pub scopes: Vec<String>,
    /// Clock leeway for token times, seconds (default 60).
    pub leeway_secs: i64,
    /// How long a sign-in may take from redirect to callback (default 10 minutes).
    pub login_ttl: Duration,
}

impl StaffOidcConfig {
    /// Settings with the defaults above.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        credential: StaffClientCredential,
        redirect_uri: impl Into<String>,
        group_claim: impl Into<String>,
        allowed_group: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            credential,
            redirect_uri: redirect_uri.into(),
            group_claim: group_claim.into(),
            allowed_group: allowed_group.into(),
            scopes: vec!["openid".into(), "profile".into()],
            leeway_secs: 60,
            login_ttl: Duration::minutes(10),
        }
    }
}

/// Why a staff member could not be signed in. Each check is one variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaffSignInError {
    /// The settings or the provider's discovery document are not usable.
    #[error("the staff sign-in is not configured correctly: {0}")]
    Config(String),
    /// The provider could not be reached (discovery, token endpoint or keys).
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The callback does not belong to a sign-in started in this browser (no binding cookie,
    /// a `state` that does not match it, or one already used).
    #[error("the sign-in was not started in this browser, or was already used")]
    UnknownState,
    /// The sign-in took longer than [`StaffOidcConfig::login_ttl`].
    #[error("the sign-in took too long")]
    Stale,
    /// The provider answered the callback with an error (its code).
    #[error("the identity provider refused the sign-in ({0})")]
    Refused(String),
    /// The callback has no `code`.
    #[error("the callback has no code")]
    NoCode,
    /// The token endpoint refused the code (used already, another client's, a PKCE mismatch).
    #[error("the token endpoint refused the code ({0})")]
    TokenRequestRefused(String),
    /// The token response has no ID token, or it is not a JWT of the expected shape.
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
    /// Signed with an algorithm not allowed (`none`, HMAC, or unknown).
    #[error("the ID token is signed with {0}, which is not allowed")]
    DisallowedAlgorithm(String),
    /// The signing key is not one the provider publishes.
    #[error("the ID token's signing key is not one of the provider's")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the ID token's signature is not valid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the ID token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not hold this client, or `azp` names another.
    #[error("the ID token is not meant for this portal")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the ID token was issued in the future")]
    IssuedInFuture,
    /// A required claim is missing.
    #[error("the ID token has no {0} claim")]
    MissingClaim(&'static str),
    /// `nonce` is not this sign-in's.
    #[error("the ID token's nonce is not this sign-in's")]
    NonceMismatch,
    /// The person is not in the allowed group (or lacks the role).
    #[error("the person is not in the group allowed to use the worklist")]
    NotInGroup,
}

impl StaffSignInError {
    /// A temporary failure on the provider's side (answer 503), rather than a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A sign-in in progress: what the callback needs, kept on the server for one browser.
#[derive(Clone)]
pub(crate) struct PendingStaffLogin {
    pub(crate) state: String,
    nonce: String,
    pkce_verifier: String,
    pub(crate) created_at: DateTime<Utc>,
}

/// Who signed in.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffIdentity {
    /// The provider's `sub`.
    pub subject: String,
    /// The name shown on the worklist and written in the audit trail (`name`, else
    /// `preferred_username`, else `email`, else `sub`), at most 100 characters.
    pub name: String,
}

impl std::fmt::Debug for StaffIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffIdentity").finish_non_exhaustive()
    }
}

/// The staff relying party at the trust's identity provider.
pub struct StaffOidc {
    config: StaffOidcConfig,
    client: OidcClient,
    token_endpoint: String,
    http: openidconnect::reqwest::Client,
    keys: Arc<JwksCache>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StaffOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffOidc")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Algorithms an ID token may be signed with: asymmetric only.
const ALLOWED_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

fn unavailable(e: impl std::fmt::Display) -> StaffSignInError {
    StaffSignInError::Unavailable(e.to_string())
}

fn config_error(e: impl std::fmt::Display) -> StaffSignInError {
    StaffSignInError::Config(e.to_string())
}

impl StaffOidc {
    /// Reads the provider's discovery document, ready to sign staff in.
    pub async fn discover(config: StaffOidcConfig) -> Result<Self, StaffSignInError> {
        // No redirects (openidconnect's advice against SSRF), 10-second timeout.
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(config_error)?;
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(config_error)?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| unavailable(error_chain(&e)))?;
        let token_endpoint = metadata
            .token_endpoint()
            .ok_or_else(|| config_error("discovery has no token_endpoint"))?
            .to_string();
        let keys = JwksCache::remote(metadata.jwks_uri().url().clone(), http.clone());
        if let Ok(set) = serde_json::to_value(metadata.jwks()).and_then(serde_json::from_value) {
            keys.prime(set).await;
        }
        let secret = match &config.credential {
            StaffClientCredential::Secret(s) => Some(ClientSecret::new(s.clone())),
            StaffClientCredential::PrivateKey(_) => None,
        };
        let redirect = RedirectUrl::new(config.redirect_uri.clone()).map_err(config_error)?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect);
        Ok(Self {
            config,
            client,
            token_endpoint,
            http,
            keys: Arc::new(keys),
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &StaffOidcConfig {
        &self.config
    }

    /// Starts a sign-in: the provider's URL to redirect to, and what the callback will need.
    pub(crate) fn begin(&self) -> (url::Url, PendingStaffLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut auth = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(crate::session::random_token()),
                || Nonce::new(crate::session::random_token()),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = auth.url();
        let pending = PendingStaffLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            created_at: self.clock.now(),
        };
        (url, pending)
    }

    /// Finishes the sign-in `pending` (already matched to the callback's `state` by the caller)
    /// from the callback's parameters: the provider's error if any, the code exchange with the
    /// PKCE verifier, and the ID token's checks.
    pub(crate) async fn complete(
        &self,
        pending: &PendingStaffLogin,
        error: Option<&str>,
        code: Option<&str>,
    ) -> Result<StaffIdentity, StaffSignInError> {
        if self.clock.now() - pending.created_at > self.config.login_ttl {
            return Err(StaffSignInError::Stale);
        }
        if let Some(e) = error {
            // Only the short code: a description may echo anything.
            let code: String = e
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(StaffSignInError::Refused(code));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(StaffSignInError::NoCode)?;
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(config_error)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        if let StaffClientCredential::PrivateKey(key) = &self.config.credential {
            request = request
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", self.client_assertion(key)?);
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    StaffSignInError::TokenRequestRefused(r.error().to_string())
                }
                RequestTokenError::Request(e) => unavailable(error_chain(&e)),
                RequestTokenError::Parse(e, _) => {
                    unavailable(format!("unreadable token response: {e}"))
                }
                RequestTokenError::Other(m) => unavailable(m),
            })?;
        let id_token = response
            .id_token()
            .ok_or(StaffSignInError::MissingClaim("id_token"))?
            .to_string();
        verify_id_token(
            &id_token,
            &self.keys,
            &Expectations {
                config: &self.config,
                nonce: &pending.nonce,
                now: self.clock.now(),
            },
        )
        .await
    }

    /// A fresh RS256 client assertion for the token endpoint (`private_key_jwt`).
    fn client_assertion(&self, key: &RsaSigningKey) -> Result<String, StaffSignInError> {
        #[derive(serde::Serialize)]
        struct Assertion<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            jti: String,
            iat: i64,
            exp: i64,
        }
        let now = self.clock.now().timestamp();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(key.kid().to_owned());
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key_pem().as_bytes())
            .map_err(config_error)?;
        let claims = Assertion {
            iss: &self.config.client_id,
            sub: &self.config.client_id,
            aud: &self.token_endpoint,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + 60,
        };
        jsonwebtoken::encode(&header, &claims, &encoding).map_err(config_error)
    }
}

/// What an ID token must satisfy besides its signature.
pub(crate) struct Expectations<'a> {
    pub(crate) config: &'a StaffOidcConfig,
    pub(crate) nonce: &'a str,
    pub(crate) now: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<serde_json::Value>),
}

impl OneOrMany {
    fn contains(&self, want: &str) -> bool {
        match self {
            Self::One(s) => s == want,
            Self::Many(v) => v.iter().any(|x| x.as_str() == Some(want)),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    aud: Option<OneOrMany>,
    azp: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nonce: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

fn key_error(e: TokenError) -> StaffSignInError {
    match e {
        TokenError::KeysUnavailable(m) => StaffSignInError::Unavailable(m),
        _ => StaffSignInError::UnknownKey,
    }
}

/// Verifies a staff ID token fully; see the [module docs](self) for the order of the checks.
pub(crate) async fn verify_id_token(
    token: &str,
    keys: &JwksCache,
    expect: &Expectations<'_>,
) -> Result<StaffIdentity, StaffSignInError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| StaffSignInError::Malformed(format!("{:?}", e.kind())))?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(StaffSignInError::DisallowedAlgorithm(format!(
            "{:?}",
            header.alg
        )));
    }
    let jwk = keys
        .key_for(header.kid.as_deref())
        .await
        .map_err(key_error)?;
    if let Some(alg) = jwk.common.key_algorithm
        && alg.to_string() != format!("{:?}", header.alg)
    {
        return Err(StaffSignInError::UnknownKey);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| StaffSignInError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false; // checked below against the injected clock
    validation.validate_aud = false; // checked below (azp too)
    validation.required_spec_claims.clear();
    validation.set_issuer(&[expect.config.issuer.as_str()]);
    validation.required_spec_claims.insert("iss".into());
    let c = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => StaffSignInError::BadSignature,
                K::InvalidIssuer | K::MissingRequiredClaim(_) => StaffSignInError::WrongIssuer,
                K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm => {
                    StaffSignInError::DisallowedAlgorithm(format!("{:?}", header.alg))
                }
                K::InvalidRsaKey(_) | K::InvalidKeyFormat | K::InvalidEcdsaKey => {
                    StaffSignInError::UnknownKey
                }
                other => StaffSignInError::Malformed(format!("{other:?}")),
            }
        })?
        .claims;
    let client_id = expect.config.client_id.as_str();
    let aud = c.aud.ok_or(StaffSignInError::MissingClaim("aud"))?;
    if !aud.contains(client_id) {
        return Err(StaffSignInError::WrongAudience);
    }
    let several = matches!(&aud, OneOrMany::Many(v) if v.len() > 1);
    if (several || c.azp.is_some()) && c.azp.as_deref() != Some(client_id) {
        return Err(StaffSignInError::WrongAudience);
    }
    let now = expect.now.timestamp();
    let leeway = expect.config.leeway_secs;
    let exp = c.exp.ok_or(StaffSignInError::MissingClaim("exp"))?;
    if exp + leeway < now {
        return Err(StaffSignInError::Expired);
    }
    if c.iat.is_some_and(|iat| iat > now + leeway) {
        return Err(StaffSignInError::IssuedInFuture);
    }
    match c.nonce.as_deref() {
        None => return Err(StaffSignInError::MissingClaim("nonce")),
        Some(n) if !crate::nhs_login::constant_time_eq(n.as_bytes(), expect.nonce.as_bytes()) => {
            return Err(StaffSignInError::NonceMismatch);
        }
        Some(_) => {}
    }
    let subject = c.sub.ok_or(StaffSignInError::MissingClaim("sub"))?;
    let groups = c
        .other
        .get(&expect.config.group_claim)
        .cloned()
        .and_then(|v| serde_json::from_value::<OneOrMany>(v).ok());
    if !groups.is_some_and(|g| g.contains(&expect.config.allowed_group)) {
        return Err(StaffSignInError::NotInGroup);
    }
    let name = [c.name, c.preferred_username, c.email]
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_owned())
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| subject.clone());
    Ok(StaffIdentity {
        subject,
        name: name.chars().take(100).collect(),
    })
}

#[cfg(test)]
mod tests;
