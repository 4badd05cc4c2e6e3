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
//! | `POST /token` | Authorization code for tokens; the client authenticates with an RS512 `private_key_jwt` assertion checked against its registered public key |
//! | `GET /userinfo` | The patient's claims for a bearer access token |
//!
//! It also mints tokens directly for API tests: [`Simulator::mint_id_token`] (an ID token as the
//! PCA forwards it), [`Simulator::mint_sso_assertion`] (what the NHS App appends to deep links as
//! `assertedLoginIdentity`) and [`Simulator::mint_client_credentials_token`] (a bearer token for
//! the PCA API demo).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use http::{Method, Request, Response, StatusCode, header};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::eligibility::age_on;
use nhs_portal_pas::demo::{self, DemoPatient};
use serde_json::{Value, json};
use sha2::Digest;

use crate::nhs_login::{DEFAULT_P9_VECTORS, KeyError, RsaSigningKey};
use crate::session::random_token;

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

/// A test patient the simulator can sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPatient {
    /// The NHS number.
    pub nhs_number: NhsNumber,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Identity level reached.
    pub identity_level: IdentityLevel,
}

impl From<&DemoPatient> for TestPatient {
    fn from(p: &DemoPatient) -> Self {
        Self {
            nhs_number: p.record.nhs_number.clone(),
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            date_of_birth: p.nhs_login_dob(),
            identity_level: p.identity_level,
        }
    }
}

impl TestPatient {
    /// The demo patients ([`nhs_portal_pas::demo::patients`], the list the simulated PAS holds
    /// too) for `now`, with the date of birth NHS login would give (one, 9000000106, differs
    /// from the PAS's on purpose).
    pub fn demo_patients_on(now: DateTime<Utc>) -> Vec<Self> {
        demo::patients(now).iter().map(Self::from).collect()
    }

    /// The demo patients for today ([`TestPatient::demo_patients_on`]).
    pub fn demo_patients() -> Vec<Self> {
        Self::demo_patients_on(Utc::now())
    }

    fn subject(&self) -> String {
        // A stable, opaque subject per patient (like NHS login's), not the NHS number itself.
        let d = sha2::Sha256::digest(format!("nhs-login-simulator:{}", self.nhs_number.as_str()));
        let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("sim-{hex}")
    }
}

/// A relying party registered with the simulator.
#[derive(Debug, Clone)]
pub struct SimulatorClient {
    /// Its client id.
    pub client_id: String,
    /// Exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// Its public key (an RSA JWK), which its `private_key_jwt` assertions must verify against.
    pub public_key: jsonwebtoken::jwk::Jwk,
}

impl SimulatorClient {
    /// A client with one redirect URI and the public half of `key`.
    pub fn new(
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        key: &RsaSigningKey,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uris: vec![redirect_uri.into()],
            public_key: key.public_jwk(),
        }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulatorConfig {
    /// The issuer URL, also the mount point, with no trailing slash (for example
    /// `http://localhost:8080/nhs-login-simulator`).
    pub issuer: String,
    /// The patients it can sign in.
    pub patients: Vec<TestPatient>,
    /// The relying parties it knows.
    pub clients: Vec<SimulatorClient>,
    /// Its signing key; `None` generates one at start-up.
    pub signing_key: Option<RsaSigningKey>,
}

impl SimulatorConfig {
    /// The demo patients for today, no clients yet, and a generated key.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            patients: TestPatient::demo_patients(),
            clients: Vec::new(),
            signing_key: None,
        }
    }

    /// Replaces the patients (for example [`TestPatient::demo_patients_on`] the demo's `now`).
    pub fn with_patients(mut self, patients: Vec<TestPatient>) -> Self {
        self.patients = patients;
        self
    }

    /// Registers a relying party.
    pub fn with_client(mut self, client: SimulatorClient) -> Self {
        self.clients.push(client);
        self
    }
}

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

struct AuthParams {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    scope: String,
    vtr: Vec<String>,
    prompt: Option<String>,
    asserted_login_identity: Option<String>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(body.to_string()))
        .expect("static response parts are valid")
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Bytes> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
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
        Ok(Self {
            prefix: url.path().trim_end_matches('/').to_owned(),
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

    /// The path the simulator is mounted under (the issuer URL's path, for example
    /// `/nhs-login-simulator`; empty when mounted at the root).
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

    fn vtm(&self) -> String {
        let host = url::Url::parse(&self.config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        format!("{}/trustmark/{host}", self.config.issuer)
    }

    fn id_token_claims(
        &self,
        p: &TestPatient,
        audience: &str,
        nonce: Option<&str>,
        vot: &str,
        scope: &str,
    ) -> (Value, String) {
        let now = self.clock.now().timestamp();
        let jti = uuid::Uuid::new_v4().to_string();
        let mut c = json!({
            "iss": self.config.issuer,
            "sub": p.subject(),
            "aud": audience,
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "jti": jti,
            "vot": vot,
            "vtm": self.vtm(),
        });
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        let scopes: HashSet<&str> = scope.split(' ').collect();
        if scopes.contains("profile") {
            c["nhs_number"] = json!(p.nhs_number.as_str());
            c["birthdate"] = json!(p.date_of_birth.format("%Y-%m-%d").to_string());
            c["family_name"] = json!(p.family_name);
            c["identity_proofing_level"] = json!(p.identity_level.claim());
        }
        if scopes.contains("profile_extended") {
            c["given_name"] = json!(p.given_name);
        }
        (c, jti)
    }

    fn vot_for(p: &TestPatient, vtr: &[String]) -> String {
        let level = p.identity_level.claim();
        vtr.iter()
            .find(|v| v.starts_with(level))
            .cloned()
            .unwrap_or_else(|| format!("{level}.Cp.Cd"))
    }

    /// Mints an NHS login ID token for a test patient, meant for `audience` (a client id; the PCA
    /// forwards the NHS App's, so typically [`SIMULATED_NHS_APP_CLIENT_ID`]), with scope
    /// `openid profile` and no nonce. Its `jti` is remembered so an SSO assertion can refer to it.
    pub fn mint_id_token(
        &self,
        nhs_number: &NhsNumber,
        audience: &str,
    ) -> Result<String, SimulatorError> {
        let p = self
            .patient(nhs_number)
            .ok_or(SimulatorError::UnknownPatient)?;
        let vot = Self::vot_for(p, &default_vtr());
        let (claims, jti) = self.id_token_claims(p, audience, None, &vot, "openid profile");
        let token = self.key.sign(&claims)?;
        let until = self.clock.now() + chrono::Duration::hours(1);
        self.lock()
            .issued_id_tokens
            .insert(jti, (nhs_number.clone(), until));
        Ok(token)
    }

    /// Mints what the NHS App appends to a deep link as `assertedLoginIdentity` for a patient it
    /// has signed in: a JWT (RS512, 60 seconds, single use) whose `code` is the `jti` of the
    /// (simulated) NHS App's ID token. Here the simulator signs it on the NHS App's behalf.
    pub fn mint_sso_assertion(&self, nhs_number: &NhsNumber) -> Result<String, SimulatorError> {
        let id_token = self.mint_id_token(nhs_number, SIMULATED_NHS_APP_CLIENT_ID)?;
        let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&id_token)
            .map(|d| d.claims)
            .map_err(|e| SimulatorError::Key(KeyError::Signing(e.to_string())))?;
        let now = self.clock.now().timestamp();
        let assertion = json!({
            "code": claims["jti"],
            "iss": SIMULATED_NHS_APP_CLIENT_ID,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + 60,
        });
        Ok(self.key.sign(&assertion)?)
    }

    /// Mints a client-credentials style bearer token (RS512 JWT signed by the simulator, one hour)
    /// for `client_id`, meant for `audience`: a stand-in for the tokens the PCA presents to the
    /// Get Appointments API in demos. Not an NHS login token.
    pub fn mint_client_credentials_token(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<String, SimulatorError> {
        let now = self.clock.now().timestamp();
        Ok(self.key.sign(&json!({
            "iss": self.config.issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 3600,
            "jti": uuid::Uuid::new_v4().to_string(),
            "token_use": "access",
        }))?)
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
            (&Method::POST, "/token") => self.token(&form(req.body())),
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

    fn page(&self, status: StatusCode, body: &str) -> Response<Bytes> {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{NOT_NHS_LOGIN}</title>\
<style>body{{font-family:Arial,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}\
.banner{{background:#ffeb3b;border:3px solid #212b32;padding:.5rem;font-weight:bold}}\
label{{display:block;margin:.5rem 0}}button{{margin:.5rem 0;padding:.5rem 1rem}}</style></head>\
<body><p class=\"banner\" role=\"alert\">{NOT_NHS_LOGIN}. For testing only: no real accounts, \
no real patients.</p>\n<h1>{NOT_NHS_LOGIN}</h1>\n{body}\n</body></html>"
        );
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Bytes::from(html))
            .expect("static response parts are valid")
    }

    fn redirect(&self, redirect_uri: &str, params: &[(&str, &str)]) -> Response<Bytes> {
        let mut url = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", ""),
        };
        url.query_pairs_mut().extend_pairs(params.iter());
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, url.as_str())
            .header(header::CACHE_CONTROL, "no-store")
            .body(Bytes::new())
            .expect("a parsed URL is a valid header")
    }

    fn redirect_error(&self, a: &AuthParams, error: &str, description: &str) -> Response<Bytes> {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &a.state {
            params.push(("state", s));
        }
        self.redirect(&a.redirect_uri, &params)
    }

    fn authorize(
        &self,
        q: &HashMap<String, String>,
        posted: Option<&HashMap<String, String>>,
    ) -> Response<Bytes> {
        // Client and redirect URI first: without them there is nowhere safe to send errors.
        let client_id = q.get("client_id").cloned().unwrap_or_default();
        let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
        let Some(client) = self
            .config
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
        else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "unknown client_id",
            );
        };
        if !client.redirect_uris.contains(&redirect_uri) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "redirect_uri is not registered for this client",
            );
        }
        let vtr_raw = q.get("vtr").cloned();
        let mut a = AuthParams {
            client_id,
            redirect_uri,
            state: q.get("state").cloned(),
            nonce: q.get("nonce").cloned(),
            scope: q.get("scope").cloned().unwrap_or_default(),
            vtr: default_vtr(),
            prompt: q.get("prompt").cloned(),
            asserted_login_identity: q.get("asserted_login_identity").cloned(),
        };
        if a.state.as_deref().unwrap_or("").is_empty() {
            return self.redirect_error(&a, "invalid_request", "state is required");
        }
        if q.get("response_type").map(String::as_str) != Some("code") {
            return self.redirect_error(&a, "unsupported_response_type", "only code is supported");
        }
        if !a.scope.split(' ').any(|s| s == "openid") {
            return self.redirect_error(&a, "invalid_scope", "scope must include openid");
        }
        if a.nonce.as_deref().unwrap_or("").is_empty() {
            return self.redirect_error(&a, "invalid_request", "nonce is required");
        }
        if let Some(raw) = vtr_raw {
            match serde_json::from_str::<Vec<String>>(&raw) {
                Ok(v) if !v.is_empty() && v.iter().all(|x| valid_vector(x)) => a.vtr = v,
                _ => return self.redirect_error(&a, "invalid_request", "vtr is not valid"),
            }
        }
        match a.prompt.as_deref() {
            None | Some("") | Some("login") | Some("none") => {}
            Some(_) => {
                return self.redirect_error(&a, "invalid_request", "prompt is not supported");
            }
        }

        if a.prompt.as_deref() == Some("none") {
            return match a.asserted_login_identity.as_deref() {
                None => self.redirect_error(&a, "login_required", "no NHS login session"),
                Some(assertion) => match self.check_sso_assertion(assertion) {
                    Some(patient) => self.issue_code(&a, &patient),
                    None => self.redirect_error(
                        &a,
                        "sso_login_required",
                        "the asserted login identity is not valid",
                    ),
                },
            };
        }

        match posted {
            None => self.authorize_page(&a, q),
            Some(f) if f.get("decision").map(String::as_str) == Some("deny") => {
                self.redirect_error(&a, "access_denied", "ConsentNotGiven")
            }
            Some(f) => match f.get("nhs_number").and_then(|n| self.patient_by_text(n)) {
                Some(p) => {
                    let n = p.nhs_number.clone();
                    self.issue_code(&a, &n)
                }
                None => self.authorize_page(&a, q),
            },
        }
    }

    fn authorize_page(&self, a: &AuthParams, q: &HashMap<String, String>) -> Response<Bytes> {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q.iter())
            .finish();
        let action = html_escape(&format!("{}/authorize?{query}", self.prefix));
        let mut radios = String::new();
        for (i, p) in self.config.patients.iter().enumerate() {
            let age = age_on(
                p.date_of_birth,
                nhs_portal_core::uk_time::uk_date(self.clock.now()),
            );
            radios.push_str(&format!(
                "<label><input type=\"radio\" name=\"nhs_number\" value=\"{nhs}\"{checked}> \
{given} {family}, NHS number {formatted}, born {dob} (age {age}), identity level {level}</label>\n",
                nhs = p.nhs_number.as_str(),
                checked = if i == 0 { " checked" } else { "" },
                given = html_escape(&p.given_name),
                family = html_escape(&p.family_name),
                formatted = p.nhs_number.formatted(),
                dob = p.date_of_birth.format("%-d %B %Y"),
                level = p.identity_level.claim(),
            ));
        }
        let body = format!(
            "<p>Service <strong>{client}</strong> wants you to sign in. Choose a test patient.</p>\n\
<form method=\"post\" action=\"{action}\">\n<fieldset><legend>Test patients</legend>\n{radios}</fieldset>\n\
<button type=\"submit\" name=\"decision\" value=\"allow\">Continue as this patient</button>\n</form>\n\
<form method=\"post\" action=\"{action}\">\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">I do not want to use NHS login</button>\n</form>",
            client = html_escape(&a.client_id),
        );
        self.page(StatusCode::OK, &body)
    }

    fn check_sso_assertion(&self, assertion: &str) -> Option<NhsNumber> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
        v.validate_aud = false;
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss"]);
        v.set_issuer(&[SIMULATED_NHS_APP_CLIENT_ID]);
        let key = jsonwebtoken::DecodingKey::from_jwk(&self.key.public_jwk()).ok()?;
        let data = jsonwebtoken::decode::<Value>(assertion, &key, &v).ok()?;
        let c = data.claims;
        let now = self.clock.now().timestamp();
        let (exp, iat) = (c["exp"].as_i64()?, c["iat"].as_i64()?);
        if exp < now || exp - iat > 60 {
            return None;
        }
        let jti = c["jti"].as_str()?.to_owned();
        let code = c["code"].as_str()?;
        let mut st = self.lock();
        let patient = st.issued_id_tokens.get(code)?.0.clone();
        if !st.use_jti(jti, self.clock.now()) {
            return None; // replayed
        }
        Some(patient)
    }

    fn issue_code(&self, a: &AuthParams, nhs: &NhsNumber) -> Response<Bytes> {
        let Some(p) = self.patient(nhs) else {
            return self.redirect_error(a, "login_required", "unknown patient");
        };
        let code = random_token();
        let grant = Grant {
            client_id: a.client_id.clone(),
            redirect_uri: a.redirect_uri.clone(),
            patient: nhs.clone(),
            nonce: a.nonce.clone(),
            scope: a.scope.clone(),
            vot: Self::vot_for(p, &a.vtr),
            expires: self.clock.now() + chrono::Duration::minutes(10),
        };
        self.lock().codes.insert(code.clone(), grant);
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = &a.state {
            params.push(("state", s));
        }
        self.redirect(&a.redirect_uri, &params)
    }

    fn check_client_assertion(&self, f: &HashMap<String, String>) -> Result<String, String> {
        if f.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err("client_assertion_type must be jwt-bearer (private_key_jwt)".into());
        }
        let assertion = f
            .get("client_assertion")
            .ok_or("client_assertion is missing")?;
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| "malformed assertion")?;
        if header.alg != jsonwebtoken::Algorithm::RS512 {
            return Err("the client assertion must be RS512".into());
        }
        let unverified = jsonwebtoken::dangerous::insecure_decode::<Value>(assertion)
            .map_err(|_| "malformed assertion")?
            .claims;
        let client_id = unverified["iss"]
            .as_str()
            .ok_or("iss is missing")?
            .to_owned();
        let client = self
            .config
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .ok_or("unknown client")?;
        if f.get("client_id").is_some_and(|c| *c != client_id) {
            return Err("client_id does not match the assertion".into());
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(&client.public_key)
            .map_err(|_| "the client's registered key is unusable")?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
        v.leeway = 0;
        v.validate_exp = false;
        v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        v.set_audience(&[format!("{}/token", self.config.issuer)]);
        v.set_issuer(&[&client_id]);
        v.sub = Some(client_id.clone());
        let c = jsonwebtoken::decode::<Value>(assertion, &key, &v)
            .map_err(|e| format!("the client assertion is not valid: {e}"))?
            .claims;
        let now = self.clock.now().timestamp();
        let exp = c["exp"].as_i64().ok_or("exp is missing")?;
        if exp < now {
            return Err("the client assertion has expired".into());
        }
        if exp > now + 600 {
            return Err("the client assertion lives too long".into());
        }
        let jti = c["jti"].as_str().ok_or("jti is missing")?.to_owned();
        if !self.lock().use_jti(jti, self.clock.now()) {
            return Err("the client assertion was replayed".into());
        }
        Ok(client_id)
    }

    fn token(&self, f: &HashMap<String, String>) -> Response<Bytes> {
        let client_id = match self.check_client_assertion(f) {
            Ok(c) => c,
            Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", &e),
        };
        if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code",
            );
        }
        let code = f.get("code").cloned().unwrap_or_default();
        let Some(grant) = self.lock().codes.remove(&code) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown or used code",
            );
        };
        if grant.client_id != client_id
            || f.get("redirect_uri") != Some(&grant.redirect_uri)
            || grant.expires < self.clock.now()
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the code does not match",
            );
        }
        let Some(p) = self.patient(&grant.patient) else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown patient");
        };
        let (claims, jti) = self.id_token_claims(
            p,
            &client_id,
            grant.nonce.as_deref(),
            &grant.vot,
            &grant.scope,
        );
        let id_token = match self.key.sign(&claims) {
            Ok(t) => t,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                );
            }
        };
        let access_token = random_token();
        let scope = grant.scope.clone();
        let now = self.clock.now();
        {
            let mut st = self.lock();
            st.issued_id_tokens.insert(
                jti,
                (grant.patient.clone(), now + chrono::Duration::hours(1)),
            );
            let access = Grant {
                expires: now + chrono::Duration::seconds(300),
                ..grant
            };
            st.access_tokens.insert(access_token.clone(), access);
        }
        json_response(
            StatusCode::OK,
            &json!({
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": 300,
                "id_token": id_token,
                "scope": scope,
            }),
        )
    }

    fn userinfo(&self, headers: &http::HeaderMap) -> Response<Bytes> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .unwrap_or("");
        let grant = self.lock().access_tokens.get(token).cloned();
        let Some(p) = grant.as_ref().and_then(|g| self.patient(&g.patient)) else {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
                .body(Bytes::new())
                .expect("static response parts are valid");
        };
        let scope = grant.map(|g| g.scope).unwrap_or_default();
        let scopes: HashSet<&str> = scope.split(' ').collect();
        let mut c = json!({"sub": p.subject()});
        if scopes.contains("profile") {
            c["nhs_number"] = json!(p.nhs_number.as_str());
            c["birthdate"] = json!(p.date_of_birth.format("%Y-%m-%d").to_string());
            c["family_name"] = json!(p.family_name);
            c["identity_proofing_level"] = json!(p.identity_level.claim());
        }
        if scopes.contains("profile_extended") {
            c["given_name"] = json!(p.given_name);
        }
        json_response(StatusCode::OK, &c)
    }
}

fn default_vtr() -> Vec<String> {
    DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect()
}

fn valid_vector(v: &str) -> bool {
    let mut parts = v.split('.');
    matches!(parts.next(), Some("P0" | "P5" | "P9"))
        && parts.clone().count() >= 1
        && parts.all(|c| matches!(c, "Cp" | "Cd" | "Ck" | "Cm"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nhs_login::{
        ForwardedTokenConfig, ForwardedTokenVerifier, JwksCache, JwksForwardedVerifier, TokenError,
    };

    const ISS: &str = "http://127.0.0.1:9/nhs-login-simulator";
    const REDIRECT: &str = "http://127.0.0.1:9/callback";

    fn client_key() -> &'static RsaSigningKey {
        static K: std::sync::OnceLock<RsaSigningKey> = std::sync::OnceLock::new();
        K.get_or_init(|| RsaSigningKey::generate().unwrap())
    }

    fn sim() -> Simulator {
        Simulator::new(SimulatorConfig::new(ISS).with_client(SimulatorClient {
            client_id: "portal".into(),
            redirect_uris: vec![REDIRECT.into()],
            public_key: client_key().public_jwk(),
        }))
        .unwrap()
    }

    fn get(s: &Simulator, path_and_query: &str) -> Response<Bytes> {
        s.handle(
            Request::get(format!("/nhs-login-simulator{path_and_query}"))
                .body(Bytes::new())
                .unwrap(),
        )
    }

    fn post(s: &Simulator, path_and_query: &str, body: &str) -> Response<Bytes> {
        s.handle(
            Request::post(format!("/nhs-login-simulator{path_and_query}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Bytes::from(body.to_owned()))
                .unwrap(),
        )
    }

    fn location_params(r: &Response<Bytes>) -> HashMap<String, String> {
        assert_eq!(r.status(), StatusCode::FOUND, "{:?}", r.body());
        let loc = r.headers()[header::LOCATION].to_str().unwrap();
        assert!(loc.starts_with(REDIRECT), "{loc}");
        let u = url::Url::parse(loc).unwrap();
        u.query_pairs().into_owned().collect()
    }

    fn authorize_query(extra: &str) -> String {
        format!(
            "/authorize?client_id=portal&redirect_uri={}&response_type=code&scope=openid%20profile&state=s1&nonce=n1{extra}",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        )
    }

    fn assertion(s: &Simulator, key: &RsaSigningKey, aud: &str, jti: &str) -> String {
        let now = Utc::now().timestamp();
        key.sign(&json!({"iss":"portal","sub":"portal","aud":aud,"jti":jti,"exp":now+60,"iat":now}))
            .unwrap_or_else(|_| s.issuer().to_owned())
    }

    fn code_for(s: &Simulator, nhs: &str) -> String {
        let r = post(s, &authorize_query(""), &format!("nhs_number={nhs}"));
        location_params(&r)["code"].clone()
    }

    fn token_body(code: &str, assertion: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", assertion)
            .finish()
    }

    #[test]
    fn discovery_and_jwks_are_served_under_the_prefix() {
        let s = sim();
        let d: Value =
            serde_json::from_slice(get(&s, "/.well-known/openid-configuration").body()).unwrap();
        assert_eq!(d["issuer"], ISS);
        assert_eq!(d["token_endpoint"], format!("{ISS}/token"));
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            json!(["private_key_jwt"])
        );
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS512"]));
        let j: Value = serde_json::from_slice(get(&s, "/.well-known/jwks.json").body()).unwrap();
        assert_eq!(j, s.jwks_json());
        assert_eq!(
            s.handle(
                Request::get("/elsewhere/.well-known/jwks.json")
                    .body(Bytes::new())
                    .unwrap()
            )
            .status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_simulator_reads_the_one_demo_list() {
        let now = Utc::now();
        let sim = TestPatient::demo_patients_on(now);
        let pas = demo::patients(now);
        assert_eq!(sim.len(), pas.len());
        for (s, p) in sim.iter().zip(&pas) {
            assert_eq!(s.nhs_number, p.record.nhs_number);
            assert_eq!(s.identity_level, p.identity_level);
            assert_eq!(
                s.date_of_birth == p.record.date_of_birth,
                s.nhs_number.as_str() != demo::DOB_MISMATCH,
                "{}",
                s.nhs_number.as_str()
            );
        }
    }

    #[test]
    fn the_authorize_page_lists_patients_and_says_it_is_not_nhs_login() {
        let s = sim();
        let r = get(&s, &authorize_query(""));
        assert_eq!(r.status(), StatusCode::OK);
        let html = std::str::from_utf8(r.body()).unwrap();
        assert!(html.matches(NOT_NHS_LOGIN).count() >= 2);
        for n in demo::ALL_PATIENTS {
            assert!(
                html.contains(&format!("name=\"nhs_number\" value=\"{n}\"")),
                "{n}"
            );
        }
        assert!(html.contains("I do not want to use NHS login"));
    }

    #[test]
    fn bad_authorization_requests_are_refused() {
        let s = sim();
        // Unknown redirect URI: no redirect at all.
        let r = get(
            &s,
            "/authorize?client_id=portal&redirect_uri=http%3A%2F%2Fevil%2F&response_type=code&scope=openid&state=s&nonce=n",
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let cases = [
            ("&vtr=%5B%22P9.Xx%22%5D", "invalid_request"),
            ("&vtr=notjson", "invalid_request"),
            ("&prompt=consent", "invalid_request"),
        ];
        for (extra, err) in cases {
            let p = location_params(&get(&s, &authorize_query(extra)));
            assert_eq!(p["error"], err, "{extra}");
            assert_eq!(p["state"], "s1");
        }
        let no_nonce = authorize_query("").replace("&nonce=n1", "");
        assert_eq!(
            location_params(&get(&s, &no_nonce))["error"],
            "invalid_request"
        );
    }

    #[test]
    fn declining_returns_consent_not_given() {
        let s = sim();
        let p = location_params(&post(&s, &authorize_query(""), "decision=deny"));
        assert_eq!(p["error"], "access_denied");
        assert_eq!(p["error_description"], "ConsentNotGiven");
        assert_eq!(p["state"], "s1");
    }

    #[test]
    fn prompt_none_needs_a_valid_unused_assertion() {
        let s = sim();
        let p = location_params(&get(&s, &authorize_query("&prompt=none")));
        assert_eq!(p["error"], "login_required");
        let nhs = NhsNumber::parse("9000000017").unwrap();
        let a = s.mint_sso_assertion(&nhs).unwrap();
        let q = authorize_query(&format!("&prompt=none&asserted_login_identity={a}"));
        let p = location_params(&get(&s, &q));
        assert!(p.contains_key("code"), "{p:?}");
        // Single use.
        assert_eq!(location_params(&get(&s, &q))["error"], "sso_login_required");
        // Garbage, and an assertion signed by someone else.
        let other = RsaSigningKey::generate().unwrap();
        let forged = other
            .sign(&json!({"iss": SIMULATED_NHS_APP_CLIENT_ID, "code": "x", "jti": "j", "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 60}))
            .unwrap();
        for bad in ["garbage", forged.as_str()] {
            let q = authorize_query(&format!("&prompt=none&asserted_login_identity={bad}"));
            assert_eq!(location_params(&get(&s, &q))["error"], "sso_login_required");
        }
    }

    #[test]
    fn the_token_endpoint_checks_the_client_assertion() {
        let s = sim();
        let aud = format!("{ISS}/token");
        let other = RsaSigningKey::generate().unwrap();
        let cases = [
            ("signed by another key", assertion(&s, &other, &aud, "j1")),
            ("wrong audience", assertion(&s, client_key(), ISS, "j2")),
        ];
        for (name, a) in cases {
            let code = code_for(&s, "9000000009");
            let r = post(&s, "/token", &token_body(&code, &a));
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
            let v: Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(v["error"], "invalid_client", "{name}");
        }
        // A good one works once; its jti cannot be replayed.
        let a = assertion(&s, client_key(), &aud, "j3");
        let code = code_for(&s, "9000000009");
        let r = post(&s, "/token", &token_body(&code, &a));
        assert_eq!(r.status(), StatusCode::OK, "{:?}", r.body());
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["token_type"], "bearer");
        let code = code_for(&s, "9000000009");
        let r = post(&s, "/token", &token_body(&code, &a));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // A code works once.
        let code = code_for(&s, "9000000009");
        let ok = post(
            &s,
            "/token",
            &token_body(&code, &assertion(&s, client_key(), &aud, "j4")),
        );
        assert_eq!(ok.status(), StatusCode::OK);
        let again = post(
            &s,
            "/token",
            &token_body(&code, &assertion(&s, client_key(), &aud, "j5")),
        );
        let v: Value = serde_json::from_slice(again.body()).unwrap();
        assert_eq!(v["error"], "invalid_grant");
        // Userinfo answers for the access token.
        let v: Value = serde_json::from_slice(ok.body()).unwrap();
        let at = v["access_token"].as_str().unwrap();
        let r = s.handle(
            Request::get("/nhs-login-simulator/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {at}"))
                .body(Bytes::new())
                .unwrap(),
        );
        let u: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(u["nhs_number"], "9000000009");
        let r = s.handle(
            Request::get("/nhs-login-simulator/userinfo")
                .body(Bytes::new())
                .unwrap(),
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn minted_id_tokens_pass_the_forwarded_token_check() {
        let s = sim();
        let verifier = JwksForwardedVerifier::new(
            ForwardedTokenConfig::new(ISS, vec![SIMULATED_NHS_APP_CLIENT_ID.into()]),
            Arc::new(JwksCache::fixed(s.jwks())),
        );
        let under16 = NhsNumber::parse("9000000025").unwrap();
        let t = s
            .mint_id_token(&under16, SIMULATED_NHS_APP_CLIENT_ID)
            .unwrap();
        let id = verifier.verify(&t, &under16).await.unwrap();
        let child = demo::patients(Utc::now())
            .into_iter()
            .find(|p| p.record.nhs_number == under16)
            .unwrap();
        assert_eq!(id.date_of_birth, Some(child.record.date_of_birth));
        let p5 = NhsNumber::parse("9000000033").unwrap();
        let t = s.mint_id_token(&p5, SIMULATED_NHS_APP_CLIENT_ID).unwrap();
        assert_eq!(
            verifier.verify(&t, &p5).await.unwrap_err(),
            TokenError::IdentityLevelTooLow("P5".into())
        );
        let t = s.mint_id_token(&under16, "someone-else").unwrap();
        assert_eq!(
            verifier.verify(&t, &under16).await.unwrap_err(),
            TokenError::WrongAudience
        );
        assert!(matches!(
            s.mint_id_token(&NhsNumber::parse("9000000084").unwrap(), "x"),
            Err(SimulatorError::UnknownPatient)
        ));
        let cc = s
            .mint_client_credentials_token("pca", "https://portal.example/api")
            .unwrap();
        let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&cc)
            .unwrap()
            .claims;
        assert_eq!(claims["aud"], "https://portal.example/api");
        assert_eq!(claims["sub"], "pca");
    }

    #[test]
    fn codes_and_access_tokens_expire() {
        use nhs_portal_core::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let s = sim().with_clock(clock.clone());
        let aud = format!("{ISS}/token");
        let signed = |jti: &str| {
            let now = clock.now().timestamp();
            client_key()
                .sign(&json!({"iss":"portal","sub":"portal","aud":aud,"jti":jti,"exp":now+60,"iat":now}))
                .unwrap()
        };
        // A code older than 10 minutes is refused.
        let code = code_for(&s, "9000000009");
        clock.advance(chrono::Duration::minutes(11));
        let r = post(&s, "/token", &token_body(&code, &signed("e1")));
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"], "invalid_grant");
        // An access token older than 5 minutes no longer opens userinfo.
        let code = code_for(&s, "9000000009");
        let r = post(&s, "/token", &token_body(&code, &signed("e2")));
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        let userinfo = |at: &str| {
            s.handle(
                Request::get("/nhs-login-simulator/userinfo")
                    .header(header::AUTHORIZATION, format!("Bearer {at}"))
                    .body(Bytes::new())
                    .unwrap(),
            )
            .status()
        };
        let at = v["access_token"].as_str().unwrap();
        assert_eq!(userinfo(at), StatusCode::OK);
        clock.advance(chrono::Duration::minutes(6));
        assert_eq!(userinfo(at), StatusCode::UNAUTHORIZED);
        // A client assertion whose jti was used stays refused while it could still be valid.
        let code = code_for(&s, "9000000009");
        let a = signed("e3");
        assert_eq!(
            post(&s, "/token", &token_body(&code, &a)).status(),
            StatusCode::OK
        );
        clock.advance(chrono::Duration::seconds(30));
        let code = code_for(&s, "9000000009");
        assert_eq!(
            post(&s, "/token", &token_body(&code, &a)).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn a_bad_issuer_is_refused() {
        assert!(matches!(
            Simulator::new(SimulatorConfig::new("not a url")),
            Err(SimulatorError::BadIssuer(_))
        ));
    }
}
