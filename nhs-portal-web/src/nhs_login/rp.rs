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

use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::store::{PendingLogin, SessionStore};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, ClientId, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};

use super::JwksCache;

mod config;
mod outcome;
mod token_request;

pub use config::{Environment, NhsLoginConfig};
use outcome::map_callback_error;
pub use outcome::{CompletedLogin, LoginError, LoginFailure, LoginRequest, NhsIdentity};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserInfoNhs {
    nhs_number: Option<String>,
}
impl AdditionalClaims for UserInfoNhs {}

/// The `openidconnect` client as discovery builds it (authorization endpoint set, token and
/// userinfo endpoints maybe), shared with the staff sign-in.
pub(crate) type Client = CoreClient<
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
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
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
        let fail = |error: LoginError, pending: Option<PendingLogin>| LoginFailure {
            error,
            pending,
            patient: None,
        };
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
            Err(f) => Err(LoginFailure {
                patient: f.patient,
                ..fail(f.error, Some(pending))
            }),
        }
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

#[cfg(test)]
mod tests;
