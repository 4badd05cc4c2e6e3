//! `GET`/`POST /authorize`: the request's checks, silent `prompt=none` sign-in with an NHS App
//! SSO assertion, and the authorization code it redirects back with.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use nhs_portal_core::NhsNumber;
use serde_json::Value;

use super::tokens::{default_vtr, valid_vector};
use super::{Grant, SIMULATED_NHS_APP_CLIENT_ID, Simulator, oauth_error};
use crate::http_kit;
use crate::session::random_token;

pub(super) struct AuthParams {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) nonce: Option<String>,
    pub(super) scope: String,
    pub(super) vtr: Vec<String>,
    pub(super) prompt: Option<String>,
    pub(super) asserted_login_identity: Option<String>,
}

impl Simulator {
    fn redirect(&self, redirect_uri: &str, params: &[(&str, &str)]) -> Response<Bytes> {
        let mut url = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", ""),
        };
        url.query_pairs_mut().extend_pairs(params.iter());
        http_kit::redirect_with(StatusCode::FOUND, url.as_str())
    }

    pub(super) fn redirect_error(
        &self,
        a: &AuthParams,
        error: &str,
        description: &str,
    ) -> Response<Bytes> {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &a.state {
            params.push(("state", s));
        }
        self.redirect(&a.redirect_uri, &params)
    }

    pub(super) fn authorize(
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
}
