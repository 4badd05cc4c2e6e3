//! (Over 400 lines: each OpenID Connect endpoint's checks are written out beside the error
//! they answer with, as NHS login answers them.)
//!
//! The simulator over HTTP: discovery, keys, the sign-in page (`/authorize`), `/token` and
//! `/userinfo`, on the shared [`http_kit`] helpers. The simulator's HTML carries its own inline
//! style, so it answers as foreign HTML, not as one of the portal's pages.

use super::*;
use crate::http_kit;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
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
        // Its own inline style: not one of the portal's pages, so not under the portal's CSP.
        http_kit::foreign_html(status, html)
    }

    fn redirect(&self, redirect_uri: &str, params: &[(&str, &str)]) -> Response<Bytes> {
        let mut url = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", ""),
        };
        url.query_pairs_mut().extend_pairs(params.iter());
        http_kit::redirect_with(StatusCode::FOUND, url.as_str())
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
        let token = http_kit::bearer_token(headers).unwrap_or("");
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

/// The simulator mounts in the portal as it is: `portal.mount("/nhs-login-simulator", simulator)`.
#[async_trait::async_trait]
impl http_kit::Handler for Simulator {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        Simulator::handle(self, req)
    }
}

fn valid_vector(v: &str) -> bool {
    let mut parts = v.split('.');
    matches!(parts.next(), Some("P0" | "P5" | "P9"))
        && parts.clone().count() >= 1
        && parts.all(|c| matches!(c, "Cp" | "Cd" | "Ck" | "Cm"))
}
