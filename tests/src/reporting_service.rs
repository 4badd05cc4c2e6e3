//! A stand-in for the Wayfinder Reporting Service (wiremock), for tests that run the portal
//! binary against it:
//! - **signed JWT** ([`ReportingService::signed_jwt`]): its token endpoint (`/oauth2/token`, the
//!   portal's default token URL on the Reporting Service's host) checks the client assertion as
//!   NHS England's API Management does (RS512 signature with the registered public key, `kid`,
//!   `iss` = `sub` = the API key, `aud` = the token URL, `exp` within 5 minutes, a `jti` never
//!   seen before) and issues an access token; the events endpoint accepts a batch only with a
//!   token it issued;
//! - **apikey** ([`ReportingService::api_key`]): the events endpoint accepts a batch only with the
//!   `apikey` header and no bearer token (the integration environment).
//!
//! Either way it wants the `client-id` [`CLIENT_ID`], and hands each accepted batch to the test
//! ([`ReportingService::next_batch`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nhs_portal_web::nhs_login::RsaSigningKey;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The API Management application's API key the stand-in expects.
pub const API_KEY: &str = "apim-app-key-1";
/// The key id the portal registered.
pub const KEY_ID: &str = "portal-key-1";
/// The Wayfinder `client-id`.
pub const CLIENT_ID: &str = "wayfinder-client-1";

/// The running stand-in.
pub struct ReportingService {
    server: MockServer,
    key_file: Option<PathBuf>,
    batches: UnboundedReceiver<Value>,
    refusals: UnboundedReceiver<String>,
    issued: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for ReportingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportingService")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

struct TokenEndpoint {
    token_url: String,
    public_pem: String,
    jtis: Mutex<HashSet<String>>,
    issued: Arc<Mutex<Vec<String>>>,
    refusals: UnboundedSender<String>,
}

impl TokenEndpoint {
    fn check(&self, req: &Request) -> Result<(), String> {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let field = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or(format!("no {k}"))
        };
        if field("grant_type")? != "client_credentials" {
            return Err("grant_type".into());
        }
        if field("client_assertion_type")?
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return Err("client_assertion_type".into());
        }
        let assertion = field("client_assertion")?;
        let header = jsonwebtoken::decode_header(&assertion).map_err(|e| e.to_string())?;
        if header.alg != jsonwebtoken::Algorithm::RS512 || header.kid.as_deref() != Some(KEY_ID) {
            return Err(format!("header alg {:?} kid {:?}", header.alg, header.kid));
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(self.public_pem.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
        v.set_issuer(&[API_KEY]);
        v.set_audience(&[&self.token_url]);
        v.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
        let claims = jsonwebtoken::decode::<Value>(&assertion, &key, &v)
            .map_err(|e| format!("assertion: {e}"))?
            .claims;
        if claims["sub"] != API_KEY {
            return Err("sub".into());
        }
        if claims["exp"].as_i64().unwrap_or(0) > chrono::Utc::now().timestamp() + 300 {
            return Err("exp more than 5 minutes ahead".into());
        }
        let jti = claims["jti"].as_str().unwrap_or("").to_owned();
        if jti.is_empty() || !self.jtis.lock().expect("jti lock").insert(jti) {
            return Err("jti missing or reused".into());
        }
        Ok(())
    }
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match self.check(req) {
            Ok(()) => {
                let token = format!("issued-{}", uuid::Uuid::new_v4());
                self.issued.lock().expect("issued lock").push(token.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": token, "expires_in": "599", "token_type": "Bearer"
                }))
            }
            Err(why) => {
                let _ = self.refusals.send(why);
                ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_request"}))
            }
        }
    }
}

type Accepts = Box<dyn Fn(&Request) -> bool + Send + Sync>;

struct Events {
    accepted: Accepts,
    batches: UnboundedSender<Value>,
}

impl Respond for Events {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let client = header(req, "client-id");
        if client.as_deref() != Some(CLIENT_ID) || !(self.accepted)(req) {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"}));
        }
        let _ = self
            .batches
            .send(serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        ResponseTemplate::new(200).set_body_json(json!({"status": "ok"}))
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl ReportingService {
    async fn start(accepted: Accepts) -> (Self, UnboundedSender<String>) {
        let server = MockServer::start().await;
        let (batches_tx, batches) = unbounded_channel();
        let (refusals_tx, refusals) = unbounded_channel();
        Mock::given(method("POST"))
            .and(path("/reporting/"))
            .respond_with(Events {
                accepted,
                batches: batches_tx,
            })
            .mount(&server)
            .await;
        let me = Self {
            server,
            key_file: None,
            batches,
            refusals,
            issued: Arc::new(Mutex::new(Vec::new())),
        };
        (me, refusals_tx)
    }

    /// The signed-JWT stand-in; the portal's private key is written to `dir`.
    pub async fn signed_jwt(dir: &Path) -> Self {
        let key = RsaSigningKey::generate().expect("a key");
        let key_file = dir.join("wayfinder-key.pem");
        std::fs::write(&key_file, key.private_key_pem()).expect("the key file");
        let issued = Arc::new(Mutex::new(Vec::<String>::new()));
        let tokens = issued.clone();
        let (mut me, refusals) = Self::start(Box::new(move |req| {
            let bearer = header(req, "authorization");
            let tokens = tokens.lock().expect("issued lock");
            tokens
                .iter()
                .any(|t| bearer.as_deref() == Some(format!("Bearer {t}").as_str()))
        }))
        .await;
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(TokenEndpoint {
                token_url: format!("{}/oauth2/token", me.server.uri()),
                public_pem: key.public_key_pem().expect("a PKCS#8 key"),
                jtis: Mutex::new(HashSet::new()),
                issued: issued.clone(),
                refusals,
            })
            .mount(&me.server)
            .await;
        me.key_file = Some(key_file);
        me.issued = issued;
        me
    }

    /// The `apikey` stand-in.
    pub async fn api_key() -> Self {
        Self::start(Box::new(|req| {
            header(req, "apikey").as_deref() == Some(API_KEY)
                && header(req, "authorization").is_none()
        }))
        .await
        .0
    }

    /// The portal's reporting settings for this stand-in.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "NHS_PORTAL_REPORTING_URL",
                format!("{}/reporting", self.server.uri()),
            ),
            ("NHS_PORTAL_REPORTING_CLIENT_ID", CLIENT_ID.to_owned()),
            ("NHS_PORTAL_REPORTING_API_KEY", API_KEY.to_owned()),
        ];
        if let Some(file) = &self.key_file {
            env.push(("NHS_PORTAL_REPORTING_KEY_ID", KEY_ID.to_owned()));
            env.push((
                "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                file.display().to_string(),
            ));
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The next batch it accepted, within a minute (the outbox worker polls every 5 seconds).
    ///
    /// # Panics
    /// When the token endpoint refused an assertion (with its reason), or nothing came.
    pub async fn next_batch(&mut self) -> Value {
        let wait = Duration::from_secs(60);
        tokio::select! {
            b = tokio::time::timeout(wait, self.batches.recv()) => {
                b.expect("a batch within a minute").expect("the stand-in runs")
            }
            Some(why) = self.refusals.recv() => panic!("the token endpoint refused: {why}"),
        }
    }

    /// How many access tokens it issued.
    pub fn tokens_issued(&self) -> usize {
        self.issued.lock().expect("issued lock").len()
    }
}

/// The `EventCode`s of a batch.
pub fn event_codes(batch: &Value) -> Vec<String> {
    batch
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["EventCode"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
