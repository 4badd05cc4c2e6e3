//! `POST /token` (authorization code for tokens, with an RS512 `private_key_jwt` client
//! assertion) and `GET /userinfo` (the patient's claims for a bearer access token).

use std::collections::HashMap;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::tokens::add_profile_claims;
use super::{Grant, Simulator, json_response, oauth_error};
use crate::http_kit;
use crate::session::random_token;

impl Simulator {
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

    pub(super) fn token(&self, f: &HashMap<String, String>) -> Response<Bytes> {
        let client_id = match self.check_client_assertion(f) {
            Ok(c) => c,
            Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", &e),
        };
        if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code (and client_credentials for API clients)",
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

    pub(super) fn userinfo(&self, headers: &http::HeaderMap) -> Response<Bytes> {
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
        let mut c = json!({"sub": p.subject()});
        add_profile_claims(&mut c, p, &scope);
        json_response(StatusCode::OK, &c)
    }
}
