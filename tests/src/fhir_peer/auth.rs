//! The peer's SMART Backend Services side: the token endpoint (`client_credentials` with a
//! `private_key_jwt` assertion) and the bearer check on every FHIR call.

use bytes::Bytes;
use chrono::{Duration, Utc};
use http::{Request, Response, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{Peer, State, fhir, outcome};

/// The one client the peer gives tokens to.
#[derive(Debug, Clone)]
pub struct PeerAuth {
    /// The registered client id (the assertion's `iss` and `sub`).
    pub client_id: String,
    /// The client's public key, PEM `PUBLIC KEY` (its assertions are RS384).
    pub public_key_pem: String,
    /// How long a token lasts, in seconds.
    pub token_lifetime_secs: i64,
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn oauth_error(status: StatusCode, error: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(json!({"error": error}).to_string()))
        .expect("a valid response")
}

/// `POST token`: a token for a valid assertion from the registered client.
pub(super) fn token(peer: &Peer, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(auth) = &peer.options.auth else {
        return oauth_error(StatusCode::NOT_FOUND, "unsupported");
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(req.body())
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if field("client_assertion_type") != Some(ASSERTION_TYPE) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    let Some(assertion) = field("client_assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    };
    let Ok(key) = DecodingKey::from_rsa_pem(auth.public_key_pem.as_bytes()) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    let mut validation = Validation::new(Algorithm::RS384);
    validation.set_audience(&[format!("{}token", peer.base_url)]);
    validation.set_issuer(&[&auth.client_id]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let Ok(claims) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let claims = claims.claims;
    let jti = claims["jti"].as_str().unwrap_or("").to_owned();
    let mut g = peer.lock();
    if claims["sub"] != auth.client_id.as_str() || jti.is_empty() || !g.used_jti.insert(jti) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    g.token_requests += 1;
    let token = format!("peer-token-{}", g.token_requests);
    g.tokens.insert(
        token.clone(),
        Utc::now() + Duration::seconds(auth.token_lifetime_secs),
    );
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": auth.token_lifetime_secs,
        "scope": field("scope").unwrap_or(""),
    });
    fhir(StatusCode::OK, &body, None)
}

/// The refusal of a FHIR call without a current token, when the peer needs tokens.
pub(super) fn check(peer: &Peer, g: &State, req: &Request<Bytes>) -> Option<Response<Bytes>> {
    peer.options.auth.as_ref()?;
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let current = presented
        .and_then(|t| g.tokens.get(t))
        .is_some_and(|expiry| *expiry > Utc::now());
    if current {
        return None;
    }
    let mut res = outcome(
        StatusCode::UNAUTHORIZED,
        "login",
        "a current access token is required",
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    Some(res)
}
