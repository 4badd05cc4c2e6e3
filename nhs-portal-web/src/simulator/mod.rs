//! The built-in **NHS login simulator**: a small, real OpenID Connect provider shaped like NHS
//! login, for demos and tests. **It is not NHS login** and must never be used in production: it
//! signs anyone in as any of its configured test patients at the click of a button.
//!
//! What it does, over HTTP, as an [`http::Request`] to [`http::Response`] handler mounted under
//! the issuer URL's path (for example `http://localhost:8080/nhs-login-simulator`):
//!
//! | Path | What |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | Discovery: RS512, `private_key_jwt` only |
//! | `GET /.well-known/jwks.json` | The signing key (generated at start-up, or supplied) |
//! | `GET /authorize` | A page listing the test patients (form field `nhs_number`) and an "I do not want to use NHS login" button (`access_denied` / `ConsentNotGiven`). `prompt=none` signs in silently with a valid `asserted_login_identity`, else answers `login_required` (no assertion) or `sso_login_required` (bad or replayed assertion) |
//! | `POST /authorize` | The page's form |
//! | `POST /token` | Authorization code for tokens; the client authenticates with an RS512 `private_key_jwt` assertion checked against its registered public key. Also `client_credentials` for a registered API client with its secret (the demo PCA: not an NHS login grant) |
//! | `POST /nhs-app/id-token` | Form field `nhs_number`: `{"id_token": …}`, the ID token the simulated NHS App holds for that patient (for `NHSD-ID-Token`); `404 unknown_patient` otherwise |
//! | `GET /userinfo` | The patient's claims for a bearer access token |
//!
//! It also mints tokens directly for API tests: [`Simulator::mint_id_token`] (an ID token as the
//! PCA forwards it), [`Simulator::mint_sso_assertion`] (what the NHS App appends to deep links as
//! `assertedLoginIdentity`) and [`Simulator::mint_client_credentials_token`] (a bearer token for
//! the PCA API demo).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::http_kit;
use crate::nhs_login::{KeyError, RsaSigningKey};

/// The banner every simulator page carries.
pub const NOT_NHS_LOGIN: &str = "NHS login simulator – not NHS login";

/// The client id the simulator uses for the (simulated) NHS App: SSO assertions it mints are
/// issued by this client, and [`Simulator::mint_id_token`] is typically called with it.
pub const SIMULATED_NHS_APP_CLIENT_ID: &str = "nhs-app-simulated";

/// Why the simulator could not start or mint a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    /// The issuer is not an absolute http(s) URL.
    #[error("the simulator issuer must be an absolute http(s) URL: {0}")]
    BadIssuer(String),
    /// A key could not be generated, loaded or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No configured test patient has this NHS number.
    #[error("no simulator test patient has that NHS number")]
    UnknownPatient,
}

/// A test patient's identity level (the demo data's: one list of demo patients).
pub use nhs_portal_pas::demo::IdentityLevel;

mod api_clients;
mod authorize;
mod config;
mod pages;
mod token;
mod tokens;

pub use api_clients::SimulatorApiClient;
pub use config::{SimulatorClient, SimulatorConfig, TestPatient};
pub(crate) use pages::simulation_page;

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    patient: NhsNumber,
    nonce: Option<String>,
    scope: String,
    vot: String,
    expires: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Grant>,
    /// Used assertion `jti`s (client and SSO assertions) → when they can be forgotten.
    used_assertion_jtis: HashMap<String, DateTime<Utc>>,
    /// ID-token `jti` → patient (and when to forget it), so an SSO assertion's `code` can be
    /// resolved.
    issued_id_tokens: HashMap<String, (NhsNumber, DateTime<Utc>)>,
}

impl State {
    /// Forgets expired codes, access tokens, ID tokens and assertion ids, so a long-running
    /// demo does not grow without bound.
    fn prune(&mut self, now: DateTime<Utc>) {
        self.codes.retain(|_, g| g.expires > now);
        self.access_tokens.retain(|_, g| g.expires > now);
        self.used_assertion_jtis.retain(|_, until| *until > now);
        self.issued_id_tokens.retain(|_, (_, until)| *until > now);
    }

    /// Records a used assertion `jti`; `false` if it was used before (a replay).
    fn use_jti(&mut self, jti: String, now: DateTime<Utc>) -> bool {
        // Kept longer than any assertion this simulator accepts can live (10 minutes).
        match self.used_assertion_jtis.entry(jti) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(now + chrono::Duration::minutes(15));
                true
            }
        }
    }
}

/// The NHS login simulator. See the [module docs](self). Not NHS login.
#[derive(Debug)]
pub struct Simulator {
    config: SimulatorConfig,
    key: RsaSigningKey,
    prefix: String,
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    http_kit::json(status, body)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Bytes> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn form(body: &[u8]) -> HashMap<String, String> {
    http_kit::Form::parse(body).into_map()
}

impl Simulator {
    /// Starts a simulator (generating a key if none is configured).
    pub fn new(mut config: SimulatorConfig) -> Result<Self, SimulatorError> {
        config.issuer = config.issuer.trim_end_matches('/').to_owned();
        let url = url::Url::parse(&config.issuer)
            .map_err(|_| SimulatorError::BadIssuer(config.issuer.clone()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(SimulatorError::BadIssuer(config.issuer.clone()));
        }
        let key = match config.signing_key.take() {
            Some(k) => k,
            None => RsaSigningKey::generate()?,
        };
        let prefix = match &config.mount_path {
            Some(path) => path.clone(),
            None => url.path().trim_end_matches('/').to_owned(),
        };
        Ok(Self {
            prefix,
            config,
            key,
            state: Mutex::new(State::default()),
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Registers another relying party after start-up.
    pub fn add_client(&mut self, client: SimulatorClient) {
        self.config.clients.push(client);
    }

    /// The issuer URL (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The path the simulator is mounted under (its [`SimulatorConfig::mount_path`], else the
    /// issuer URL's path, for example `/nhs-login-simulator`; empty when mounted at the root).
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// The JWKS (public signing key) as JSON, as served at `/.well-known/jwks.json`.
    pub fn jwks_json(&self) -> Value {
        json!({"keys": [self.key.public_jwk_json()]})
    }

    /// The JWKS as a `jsonwebtoken` key set (for [`crate::nhs_login::JwksCache::fixed`]).
    pub fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        jsonwebtoken::jwk::JwkSet {
            keys: vec![self.key.public_jwk()],
        }
    }

    /// The discovery document.
    pub fn discovery_json(&self) -> Value {
        let iss = &self.config.issuer;
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/authorize"),
            "token_endpoint": format!("{iss}/token"),
            "userinfo_endpoint": format!("{iss}/userinfo"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS512"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS512"],
            "scopes_supported": ["openid", "profile", "profile_extended", "email", "phone"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "jti", "nonce", "vot", "vtm",
                "nhs_number", "birthdate", "family_name", "given_name", "identity_proofing_level"],
        })
    }

    /// The test patients it can sign in.
    pub fn patients(&self) -> &[TestPatient] {
        &self.config.patients
    }

    fn patient(&self, nhs: &NhsNumber) -> Option<&TestPatient> {
        self.config.patients.iter().find(|p| p.nhs_number == *nhs)
    }

    fn patient_by_text(&self, nhs: &str) -> Option<&TestPatient> {
        let n = NhsNumber::parse(nhs.trim()).ok()?;
        self.patient(&n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.prune(self.clock.now());
        st
    }

    /// Handles one HTTP request under the simulator's path prefix; anything else is 404.
    pub fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path();
        let Some(rest) = path.strip_prefix(self.prefix.as_str()) else {
            return self.not_found();
        };
        match (req.method(), rest) {
            (&Method::GET, "/.well-known/openid-configuration") => {
                json_response(StatusCode::OK, &self.discovery_json())
            }
            (&Method::GET, "/.well-known/jwks.json") => {
                json_response(StatusCode::OK, &self.jwks_json())
            }
            (&Method::GET, "/authorize") => {
                let q = form(req.uri().query().unwrap_or("").as_bytes());
                self.authorize(&q, None)
            }
            (&Method::POST, "/authorize") => {
                let q = form(req.uri().query().unwrap_or("").as_bytes());
                let f = form(req.body());
                self.authorize(&q, Some(&f))
            }
            (&Method::POST, "/token") => {
                let f = form(req.body());
                if f.get("grant_type").map(String::as_str) == Some("client_credentials") {
                    self.client_credentials(req.headers(), &f)
                } else {
                    self.token(&f)
                }
            }
            (&Method::POST, "/nhs-app/id-token") => self.nhs_app_id_token(&form(req.body())),
            (&Method::GET, "/userinfo") | (&Method::POST, "/userinfo") => {
                self.userinfo(req.headers())
            }
            (&Method::GET, "" | "/") => self.page(
                StatusCode::OK,
                "<p>This is a simulator for development and testing. Start sign-in from the portal.</p>",
            ),
            _ => self.not_found(),
        }
    }

    fn not_found(&self) -> Response<Bytes> {
        self.page(StatusCode::NOT_FOUND, "<p>Page not found.</p>")
    }
}

/// The simulator mounts in the portal as it is: `portal.mount("/nhs-login-simulator", simulator)`.
#[async_trait::async_trait]
impl http_kit::Handler for Simulator {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        Simulator::handle(self, req)
    }
}

#[cfg(test)]
mod tests;
