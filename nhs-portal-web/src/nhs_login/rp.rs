//! The NHS login relying party: discovery, the authorization request (P9 `vtr`, NHS App SSO),
//! the `private_key_jwt` token request, ID-token and userinfo checks, and the callback's outcomes.
//!
//! Built on `openidconnect` 4 for discovery, the authorization URL, the token request and
//! userinfo. Two documented gaps are filled here:
//! - `openidconnect` has no `private_key_jwt`: no client secret is set, and an RS512 client
//!   assertion is added to every token request with `add_extra_param`.
//! - The ID token is verified by [`verify_token`](super::verify_token) (RS512 only, a cached
//!   JWKS refetched once on an unknown key id, every NHS check a typed error), shared with the
//!   PCA's forwarded tokens, rather than by `openidconnect`'s verifier, which has no key cache.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::store::{PendingLogin, SessionStore, StoreError};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SubjectIdentifier, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::token::{DEFAULT_P9_VECTORS, TokenExpectations, verify_token};
use super::{JwksCache, KeyError, RsaSigningKey, TokenError};

/// The NHS login environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Sandpit: self-service, test users, no PDS.
    Sandpit,
    /// Integration (AOS): for conformance testing.
    Integration,
    /// Production.
    Production,
}

impl Environment {
    /// The environment's issuer (no trailing slash; compared exactly).
    pub fn issuer(self) -> &'static str {
        match self {
            Self::Sandpit => super::SANDPIT_ISSUER,
            Self::Integration => super::INTEGRATION_ISSUER,
            Self::Production => super::PRODUCTION_ISSUER,
        }
    }
}

/// Relying-party settings.
#[derive(Clone)]
#[non_exhaustive]
pub struct NhsLoginConfig {
    /// The issuer: an [`Environment::issuer`], the simulator's, or any other.
    pub issuer: String,
    /// The client id NHS login issued.
    pub client_id: String,
    /// The private key whose public half is registered with NHS login (PKCS#8 or PKCS#1 PEM).
    pub key: RsaSigningKey,
    /// The registered redirect URI (exact).
    pub redirect_uri: String,
    /// Scopes (default `openid profile`; `openid` is always sent).
    pub scopes: Vec<String>,
    /// The vectors of trust asked for (default the P9 set `["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]`).
    pub vtr: Vec<String>,
    /// The `vot` values accepted back (default: the same as `vtr`).
    pub accepted_vot: Vec<String>,
    /// Clock leeway for token times, seconds (default 60).
    pub leeway_secs: i64,
    /// Lifetime of each client assertion, seconds (default 60).
    pub assertion_ttl_secs: i64,
    /// How long a sign-in may take from redirect to callback (default 10 minutes).
    pub pending_login_ttl: Duration,
    /// Whether to call userinfo after the token request (default true).
    pub fetch_userinfo: bool,
    /// Whether to send a PKCE challenge (S256). Off by default: NHS login does not document
    /// PKCE for confidential clients.
    pub use_pkce: bool,
    /// The shortest time between two refetches of NHS login's keys (default 30 seconds).
    pub jwks_min_refetch_interval: std::time::Duration,
}

impl std::fmt::Debug for NhsLoginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NhsLoginConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("vtr", &self.vtr)
            .finish_non_exhaustive()
    }
}

impl NhsLoginConfig {
    /// Settings with the defaults above.
    ///
    /// ```
    /// use nhs_portal_web::nhs_login::{Environment, NhsLoginConfig, RsaSigningKey};
    /// let key = RsaSigningKey::generate().unwrap();
    /// let config = NhsLoginConfig::new(Environment::Sandpit.issuer(), "my-client", key,
    ///     "https://portal.example/auth/callback");
    /// assert_eq!(config.scopes, ["openid", "profile"]);
    /// assert_eq!(config.vtr, ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"]);
    /// ```
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        key: RsaSigningKey,
        redirect_uri: impl Into<String>,
    ) -> Self {
        let vtr: Vec<String> = DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect();
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            key,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "profile".into()],
            accepted_vot: vtr.clone(),
            vtr,
            leeway_secs: 60,
            assertion_ttl_secs: 60,
            pending_login_ttl: Duration::minutes(10),
            fetch_userinfo: true,
            use_pkce: false,
            jwks_min_refetch_interval: std::time::Duration::from_secs(30),
        }
    }

    /// Loads the private key from PEM (PKCS#8 or PKCS#1).
    pub fn key_from_pem(pem: &str) -> Result<RsaSigningKey, KeyError> {
        RsaSigningKey::from_pem(pem)
    }
}

/// Why a sign-in failed. Each is a distinct outcome for the web layer to render.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The patient chose "I do not want to use NHS login" (`access_denied` / `ConsentNotGiven`).
    #[error("the patient did not consent to use NHS login")]
    ConsentNotGiven,
    /// NHS login refused access for another reason (`access_denied`).
    #[error("NHS login denied access")]
    AccessDenied,
    /// A silent sign-in (`prompt=none`) needs the patient to sign in (`login_required`,
    /// `interaction_required`, `consent_required`, `account_selection_required`).
    #[error("NHS login needs the patient to sign in")]
    LoginRequired,
    /// Single sign-on from the NHS App failed (`sso_login_required`): send the patient back to
    /// the NHS App.
    #[error("single sign-on from the NHS App failed")]
    SsoFailed,
    /// The callback's `state` is missing, unknown, or already used (a replay).
    #[error("the sign-in state is unknown or was already used")]
    UnknownState,
    /// The sign-in took too long between redirect and callback.
    #[error("the sign-in took too long")]
    StaleLogin,
    /// The patient's identity is proved only to this level (for example P5); the portal needs P9.
    #[error("the patient's identity level is {0}, P9 is needed")]
    IdentityNotP9(String),
    /// The ID token failed a check.
    #[error("the ID token was refused: {0}")]
    Token(TokenError),
    /// Userinfo is about someone else than the ID token (`sub` differs) or contradicts it.
    #[error("userinfo does not match the ID token")]
    UserInfoMismatch,
    /// NHS login refused the token request (`invalid_grant`, `invalid_client`, ...).
    #[error("NHS login refused the token request: {0}")]
    TokenRequestRefused(String),
    /// NHS login answered the authorization request with another OAuth error.
    #[error("NHS login returned an error: {0}")]
    Provider(String),
    /// NHS login cannot be reached or is failing (`server_error`, `temporarily_unavailable`,
    /// network errors, 5xx, keys unavailable): show "NHS login is unavailable, try later".
    #[error("NHS login is unavailable: {0}")]
    Unavailable(String),
    /// The callback has neither `code` nor `error`.
    #[error("the callback is malformed: {0}")]
    MalformedCallback(&'static str),
    /// The settings are wrong (bad URL, discovery document unusable).
    #[error("the NHS login settings are not valid: {0}")]
    Config(String),
    /// A client assertion could not be signed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The session store failed.
    #[error("the session store failed")]
    Store(#[from] StoreError),
}

impl From<TokenError> for LoginError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::IdentityLevelTooLow(level) => Self::IdentityNotP9(level),
            TokenError::KeysUnavailable(m) => Self::Unavailable(m),
            other => Self::Token(other),
        }
    }
}

/// What a new sign-in is for.
#[derive(Clone, Default)]
pub struct LoginRequest {
    /// Where to go after sign-in (a path inside the portal; check it before use).
    pub return_to: String,
    /// Started inside the NHS App.
    pub in_nhs_app: bool,
    /// The deep link's tracking id.
    pub tracking_id: Option<String>,
    /// The NHS App's `assertedLoginIdentity`, passed on unchanged: makes the request silent
    /// (`prompt=none`) single sign-on.
    pub asserted_login_identity: Option<String>,
    /// Ask NHS login to sign the patient in again even if it has a session (`prompt=login`).
    /// Ignored for single sign-on.
    pub force_login: bool,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("return_to", &self.return_to)
            .field("in_nhs_app", &self.in_nhs_app)
            .field("sso", &self.asserted_login_identity.is_some())
            .finish_non_exhaustive()
    }
}

/// The signed-in patient, from a verified ID token (and userinfo).
#[derive(Clone, PartialEq, Eq)]
pub struct NhsIdentity {
    /// NHS login's subject id.
    pub subject: String,
    /// The NHS number.
    pub nhs_number: NhsNumber,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Family name.
    pub family_name: Option<String>,
    /// Given name (with scope `profile_extended`).
    pub given_name: Option<String>,
    /// The vector of trust achieved.
    pub vot: String,
    /// The ID token's `jti` (for onward SSO).
    pub id_token_jti: Option<String>,
}

impl std::fmt::Debug for NhsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NhsIdentity")
            .field("nhs_number", &self.nhs_number)
            .field("vot", &self.vot)
            .finish_non_exhaustive()
    }
}

impl NhsIdentity {
    /// "Given Family" when both are known, else the family name.
    pub fn display_name(&self) -> Option<String> {
        match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (None, Some(f)) => Some(f.clone()),
            (Some(g), None) => Some(g.clone()),
            (None, None) => None,
        }
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct CompletedLogin {
    /// Who signed in.
    pub identity: NhsIdentity,
    /// The sign-in's record (where to return to, NHS App context).
    pub pending: PendingLogin,
}

/// A failed sign-in, with its record when the `state` was known (so the page can tell an NHS
/// App SSO failure, `pending.sso`, from an ordinary one).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct LoginFailure {
    /// What went wrong.
    #[source]
    pub error: LoginError,
    /// The sign-in's record, if the callback's `state` matched one.
    pub pending: Option<PendingLogin>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserInfoNhs {
    nhs_number: Option<String>,
}
impl AdditionalClaims for UserInfoNhs {}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The NHS login relying party.
pub struct RelyingParty {
    config: NhsLoginConfig,
    client: Client,
    token_endpoint: String,
    http: openidconnect::reqwest::Client,
    keys: Arc<JwksCache>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("config", &self.config)
            .field("token_endpoint", &self.token_endpoint)
            .finish_non_exhaustive()
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn unavailable(e: impl std::fmt::Display) -> LoginError {
    LoginError::Unavailable(e.to_string())
}

/// The HTTP client for NHS login: no redirects (the crate's advice against SSRF), 10-second
/// timeout.
fn http_client() -> Result<openidconnect::reqwest::Client, LoginError> {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| LoginError::Config(e.to_string()))
}

/// An error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl RelyingParty {
    /// Reads the issuer's discovery document (and keys), ready to sign patients in.
    pub async fn discover(
        config: NhsLoginConfig,
        store: Arc<dyn SessionStore>,
    ) -> Result<Self, LoginError> {
        let http = http_client()?;
        let issuer =
            IssuerUrl::new(config.issuer.clone()).map_err(|e| LoginError::Config(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| unavailable(chain(&e)))?;
        Self::from_metadata(config, metadata, http, store).await
    }

    /// Builds the relying party from a discovery document and key set already in hand, without
    /// fetching them: for a portal that mounts the NHS login simulator in its own server
    /// (`Simulator::discovery_json` and `Simulator::jwks_json`), which cannot be fetched before
    /// the server listens. Tokens are still requested over HTTP.
    pub async fn from_discovery_document(
        config: NhsLoginConfig,
        discovery: &serde_json::Value,
        jwks: &serde_json::Value,
        store: Arc<dyn SessionStore>,
    ) -> Result<Self, LoginError> {
        let metadata: CoreProviderMetadata = serde_json::from_value(discovery.clone())
            .map_err(|e| LoginError::Config(format!("the discovery document is not valid: {e}")))?;
        if metadata.issuer().as_str() != config.issuer {
            return Err(LoginError::Config(
                "the discovery document is for another issuer".into(),
            ));
        }
        let keys = serde_json::from_value(jwks.clone())
            .map_err(|e| LoginError::Config(format!("the key set is not valid: {e}")))?;
        let metadata = metadata.set_jwks(keys);
        Self::from_metadata(config, metadata, http_client()?, store).await
    }

    async fn from_metadata(
        config: NhsLoginConfig,
        metadata: CoreProviderMetadata,
        http: openidconnect::reqwest::Client,
        store: Arc<dyn SessionStore>,
    ) -> Result<Self, LoginError> {
        let token_endpoint = metadata
            .token_endpoint()
            .ok_or_else(|| LoginError::Config("discovery has no token_endpoint".into()))?
            .to_string();
        let jwks_uri = metadata.jwks_uri().url().clone();
        let initial = serde_json::to_value(metadata.jwks())
            .ok()
            .and_then(|v| serde_json::from_value(v).ok());
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| LoginError::Config(e.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            None, // never a client secret: private_key_jwt only
        )
        .set_redirect_uri(redirect);
        let keys = JwksCache::remote(jwks_uri, http.clone())
            .with_min_refetch_interval(config.jwks_min_refetch_interval);
        if let Some(set) = initial {
            keys.prime(set).await;
        }
        Ok(Self {
            config,
            client,
            token_endpoint,
            http,
            keys: Arc::new(keys),
            store,
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// NHS login's key cache, to share with a
    /// [`JwksForwardedVerifier`](super::JwksForwardedVerifier).
    pub fn keys(&self) -> Arc<JwksCache> {
        self.keys.clone()
    }

    /// The settings.
    pub fn config(&self) -> &NhsLoginConfig {
        &self.config
    }

    /// Starts a sign-in: stores its record (state, nonce, where to return) and returns the NHS
    /// login URL to redirect the browser to. With an `asserted_login_identity` the request is
    /// silent single sign-on (`prompt=none`); redirect at once, the assertion lives 60 seconds.
    pub async fn begin_login(&self, request: LoginRequest) -> Result<url::Url, LoginError> {
        let mut auth = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            || CsrfToken::new(crate::session::random_token()),
            || Nonce::new(crate::session::random_token()),
        );
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        let vtr = serde_json::to_string(&self.config.vtr)
            .map_err(|e| LoginError::Config(e.to_string()))?;
        auth = auth.add_extra_param("vtr", vtr);
        let sso = request.asserted_login_identity.is_some();
        if let Some(assertion) = request.asserted_login_identity {
            auth = auth
                .add_prompt(CoreAuthPrompt::None)
                .add_extra_param("asserted_login_identity", assertion);
        } else if request.force_login {
            auth = auth.add_prompt(CoreAuthPrompt::Login);
        }
        let mut pkce_verifier = None;
        if self.config.use_pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            auth = auth.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, state, nonce) = auth.url();
        let return_to = if is_safe_return_path(&request.return_to) {
            request.return_to
        } else {
            "/".to_owned()
        };
        self.store
            .put_pending_login(&PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier,
                return_to,
                created_at: self.clock.now(),
                in_nhs_app: request.in_nhs_app,
                tracking_id: request.tracking_id,
                sso,
            })
            .await?;
        Ok(url)
    }

    /// Finishes a sign-in from the callback's query string: the one-use `state`, NHS login's
    /// error if any, the token request, the ID token's checks and userinfo.
    pub async fn complete_login(&self, query: &str) -> Result<CompletedLogin, LoginFailure> {
        let result = self.complete_login_inner(query).await;
        // Outcomes only: no NHS numbers, names, codes or tokens reach the log.
        match &result {
            Ok(done) => {
                tracing::info!(sso = done.pending.sso, vot = %done.identity.vot, "NHS login sign-in completed")
            }
            Err(f) => tracing::warn!(
                sso = f.pending.as_ref().is_some_and(|p| p.sso),
                error = %f.error,
                "NHS login sign-in failed"
            ),
        }
        result
    }

    async fn complete_login_inner(&self, query: &str) -> Result<CompletedLogin, LoginFailure> {
        let params: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        let fail =
            |error: LoginError, pending: Option<PendingLogin>| LoginFailure { error, pending };
        let Some(state) = params.get("state").filter(|s| !s.is_empty()) else {
            // Without state, an error still tells us something; a code without state is refused.
            let error = params
                .get("error")
                .map(|e| map_callback_error(e, params.get("error_description")))
                .unwrap_or(LoginError::UnknownState);
            return Err(fail(error, None));
        };
        let pending = match self.store.take_pending_login(state).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(fail(LoginError::UnknownState, None)),
            Err(e) => return Err(fail(LoginError::Store(e), None)),
        };
        if self.clock.now() - pending.created_at > self.config.pending_login_ttl {
            return Err(fail(LoginError::StaleLogin, Some(pending)));
        }
        if let Some(error) = params.get("error") {
            let e = map_callback_error(error, params.get("error_description"));
            return Err(fail(e, Some(pending)));
        }
        let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
            return Err(fail(
                LoginError::MalformedCallback("no code"),
                Some(pending),
            ));
        };
        match self
            .exchange(code, &pending.nonce, pending.pkce_verifier.as_deref())
            .await
        {
            Ok(identity) => Ok(CompletedLogin { identity, pending }),
            Err(error) => Err(fail(error, Some(pending))),
        }
    }

    /// Signs a fresh RS512 client assertion for the token endpoint.
    pub fn client_assertion(&self) -> Result<String, LoginError> {
        let now = self.clock.now().timestamp();
        #[derive(Serialize)]
        struct Assertion<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            jti: String,
            iat: i64,
            exp: i64,
        }
        Ok(self.config.key.sign(&Assertion {
            iss: &self.config.client_id,
            sub: &self.config.client_id,
            aud: &self.token_endpoint,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + self.config.assertion_ttl_secs,
        })?)
    }

    async fn exchange(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<NhsIdentity, LoginError> {
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| LoginError::Config(e.to_string()))?
            .add_extra_param("client_assertion_type", ASSERTION_TYPE)
            .add_extra_param("client_assertion", self.client_assertion()?);
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_owned()));
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    LoginError::TokenRequestRefused(r.error().to_string())
                }
                RequestTokenError::Request(e) => unavailable(e),
                RequestTokenError::Parse(e, _) => {
                    unavailable(format!("unreadable token response: {e}"))
                }
                RequestTokenError::Other(m) => unavailable(m),
            })?;
        let id_token = response
            .id_token()
            .ok_or(LoginError::Token(TokenError::MissingClaim("id_token")))?
            .to_string();
        let audiences = [self.config.client_id.clone()];
        let verified = verify_token(
            &id_token,
            &self.keys,
            &TokenExpectations {
                issuer: &self.config.issuer,
                audiences: &audiences,
                leeway_secs: self.config.leeway_secs,
                nonce: Some(nonce),
                accepted_vot: &self.config.accepted_vot,
                now: self.clock.now(),
            },
        )
        .await?;
        if self.config.fetch_userinfo {
            self.check_userinfo(response.access_token(), &verified)
                .await?;
        }
        Ok(NhsIdentity {
            subject: verified.subject,
            nhs_number: verified.nhs_number,
            date_of_birth: verified.date_of_birth,
            family_name: verified.family_name,
            given_name: verified.given_name,
            vot: verified.vot,
            id_token_jti: verified.jti,
        })
    }

    async fn check_userinfo(
        &self,
        access_token: &AccessToken,
        verified: &super::VerifiedToken,
    ) -> Result<(), LoginError> {
        let request = self
            .client
            .user_info(
                access_token.clone(),
                Some(SubjectIdentifier::new(verified.subject.clone())),
            )
            .map_err(|e| LoginError::Config(e.to_string()))?;
        let claims = request
            .request_async::<UserInfoNhs, _, CoreGenderClaim>(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::ClaimsVerification(_) => LoginError::UserInfoMismatch,
                other => unavailable(format!("userinfo failed: {}", chain(&other))),
            })?;
        let nhs = claims.additional_claims().nhs_number.as_deref();
        if nhs.is_some_and(|n| n != verified.nhs_number.as_str()) {
            return Err(LoginError::UserInfoMismatch);
        }
        Ok(())
    }
}

/// Whether `path` is safe to redirect to after sign-in: the rule in
/// [`nhs_portal_core::return_path::is_safe_return`] (a path on this site that no browser reads
/// as another host).
///
/// ```
/// use nhs_portal_web::nhs_login::is_safe_return_path;
/// assert!(is_safe_return_path("/patient-portal/appointment/123?x=1"));
/// assert!(!is_safe_return_path("//evil.example/"));
/// assert!(!is_safe_return_path("https://evil.example/"));
/// ```
pub fn is_safe_return_path(path: &str) -> bool {
    nhs_portal_core::return_path::is_safe_return(path)
}

/// Maps an OAuth/OIDC `error` on the callback to its outcome.
fn map_callback_error(error: &str, description: Option<&String>) -> LoginError {
    match error {
        "access_denied" if description.is_some_and(|d| d == "ConsentNotGiven") => {
            LoginError::ConsentNotGiven
        }
        "access_denied" => LoginError::AccessDenied,
        "login_required"
        | "interaction_required"
        | "consent_required"
        | "account_selection_required" => LoginError::LoginRequired,
        "sso_login_required" => LoginError::SsoFailed,
        "server_error" | "temporarily_unavailable" => LoginError::Unavailable(error.to_owned()),
        other => LoginError::Provider(other.chars().take(64).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_errors_map_to_distinct_outcomes() {
        let consent = "ConsentNotGiven".to_string();
        let other = "something".to_string();
        let cases: Vec<(&str, Option<&String>, &str)> = vec![
            ("access_denied", Some(&consent), "ConsentNotGiven"),
            ("access_denied", Some(&other), "AccessDenied"),
            ("access_denied", None, "AccessDenied"),
            ("login_required", None, "LoginRequired"),
            ("interaction_required", None, "LoginRequired"),
            ("consent_required", None, "LoginRequired"),
            ("sso_login_required", Some(&other), "SsoFailed"),
            ("server_error", None, "Unavailable"),
            ("temporarily_unavailable", None, "Unavailable"),
            ("invalid_request", None, "Provider"),
        ];
        for (error, desc, want) in cases {
            let got = format!("{:?}", map_callback_error(error, desc));
            assert!(got.starts_with(want), "{error}: {got}");
        }
    }

    #[test]
    fn token_errors_for_p5_and_unavailable_keys_become_their_own_outcomes() {
        assert!(matches!(
            LoginError::from(TokenError::IdentityLevelTooLow("P5".into())),
            LoginError::IdentityNotP9(l) if l == "P5"
        ));
        assert!(matches!(
            LoginError::from(TokenError::KeysUnavailable("x".into())),
            LoginError::Unavailable(_)
        ));
        assert!(matches!(
            LoginError::from(TokenError::NonceMismatch),
            LoginError::Token(TokenError::NonceMismatch)
        ));
    }

    #[test]
    fn only_local_paths_are_safe_to_return_to() {
        let cases = [
            ("/", true),
            ("/patient-portal/appointments", true),
            ("/a?b=c#d", true),
            ("", false),
            ("patient-portal", false),
            ("//evil.example", false),
            ("/\\evil.example", false),
            ("/ok\\..", false),
            ("https://evil.example/", false),
            ("/a\r\nSet-Cookie: x", false),
            ("javascript:alert(1)", false),
        ];
        for (path, safe) in cases {
            assert_eq!(is_safe_return_path(path), safe, "{path:?}");
        }
    }

    #[test]
    fn environments_have_the_documented_issuers() {
        assert_eq!(
            Environment::Sandpit.issuer(),
            "https://auth.sandpit.signin.nhs.uk"
        );
        assert_eq!(
            Environment::Integration.issuer(),
            "https://auth.aos.signin.nhs.uk"
        );
        assert_eq!(
            Environment::Production.issuer(),
            "https://auth.login.nhs.uk"
        );
    }
}
