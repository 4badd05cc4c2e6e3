//! (Over 400 lines: the simulator's identity side, its test patients, clients, state and token
//! minting, in one place; its HTTP endpoints are in `endpoints`.)
//!
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
}

mod endpoints;

fn default_vtr() -> Vec<String> {
    DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect()
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
