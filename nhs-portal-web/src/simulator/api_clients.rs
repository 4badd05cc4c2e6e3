//! The two endpoints that let a demo reach the Get Appointments API from outside the process, as
//! the PCA and the NHS App would (demo only, like the whole simulator; NHS login has neither):
//!
//! - `POST /token` with `grant_type=client_credentials`: a registered [`SimulatorApiClient`]
//!   (the demo PCA, `pca-demo`) authenticates with its `client_secret`, in the form
//!   (`client_secret_post`) or as HTTP Basic (`client_secret_basic`), and gets a bearer token
//!   for its audience. A wrong secret or unknown client is `401 invalid_client`.
//! - `POST /nhs-app/id-token` with form field `nhs_number`: the ID token the (simulated) NHS App
//!   holds for that test patient, which the PCA forwards as `NHSD-ID-Token`. An unknown patient
//!   is `404 unknown_patient`.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use nhs_portal_core::NhsNumber;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{SIMULATED_NHS_APP_CLIENT_ID, Simulator, SimulatorError, json_response, oauth_error};

/// A confidential API client of the simulator: gets bearer tokens by `client_credentials` with
/// its secret (for the demo PCA; NHS login itself has no such grant).
#[derive(Clone)]
pub struct SimulatorApiClient {
    /// Its client id (for example `pca-demo`).
    pub client_id: String,
    /// Its client secret.
    pub secret: String,
    /// The `aud` of the tokens it gets (the API that accepts them).
    pub audience: String,
}

impl std::fmt::Debug for SimulatorApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorApiClient")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl SimulatorApiClient {
    /// A client with this id, secret and token audience.
    pub fn new(
        client_id: impl Into<String>,
        secret: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            secret: secret.into(),
            audience: audience.into(),
        }
    }
}

/// One form-urlencoded component (RFC 6749 section 2.3.1 encodes Basic credentials so).
fn form_decoded(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('=', "%3D").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// The client id and secret from HTTP Basic, if the request uses it.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decoded(id), form_decoded(secret)))
}

fn invalid_client(description: &str) -> Response<Bytes> {
    let mut res = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"nhs-login-simulator\""),
    );
    res
}

impl Simulator {
    /// `POST /token` with `grant_type=client_credentials`.
    pub(super) fn client_credentials(
        &self,
        headers: &HeaderMap,
        f: &HashMap<String, String>,
    ) -> Response<Bytes> {
        let from_form = f.get("client_secret").map(|secret| {
            (
                f.get("client_id").cloned().unwrap_or_default(),
                secret.clone(),
            )
        });
        let (client_id, secret) = match (basic_credentials(headers), from_form) {
            (Some(_), Some(_)) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "use one client authentication method, not two",
                );
            }
            (Some(c), None) | (None, Some(c)) => c,
            (None, None) => {
                return invalid_client(
                    "client authentication is missing (client_secret_basic or client_secret_post)",
                );
            }
        };
        let client = self
            .config
            .api_clients
            .iter()
            .find(|c| c.client_id == client_id);
        let Some(client) =
            client.filter(|c| bool::from(c.secret.as_bytes().ct_eq(secret.as_bytes())))
        else {
            return invalid_client("unknown client or wrong client secret");
        };
        match self.mint_client_credentials_token(&client.client_id, &client.audience) {
            Ok(token) => json_response(
                StatusCode::OK,
                &json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
            ),
            Err(e) => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            ),
        }
    }

    /// `POST /nhs-app/id-token` (form field `nhs_number`).
    pub(super) fn nhs_app_id_token(&self, f: &HashMap<String, String>) -> Response<Bytes> {
        let Some(nhs) = f
            .get("nhs_number")
            .and_then(|n| NhsNumber::parse(n.trim()).ok())
        else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "nhs_number is missing or not a valid NHS number",
            );
        };
        match self.mint_id_token(&nhs, SIMULATED_NHS_APP_CLIENT_ID) {
            Ok(id_token) => json_response(StatusCode::OK, &json!({"id_token": id_token})),
            Err(SimulatorError::UnknownPatient) => oauth_error(
                StatusCode::NOT_FOUND,
                "unknown_patient",
                "no test patient of the simulator has that NHS number",
            ),
            Err(e) => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir_api::auth::{BearerValidator, JwksBearerValidator};
    use crate::nhs_login::{
        ForwardedTokenConfig, ForwardedTokenVerifier, JwksCache, JwksForwardedVerifier,
    };
    use crate::simulator::SimulatorConfig;
    use http::Request;

    const ISS: &str = "http://127.0.0.1:9/nhs-login-simulator";

    fn sim() -> Simulator {
        Simulator::new(
            SimulatorConfig::new(ISS)
                .with_api_client(SimulatorApiClient::new("pca-demo", "s3cret", "the-api")),
        )
        .unwrap()
    }

    fn post(s: &Simulator, path: &str, basic: Option<&str>, body: &str) -> Response<Bytes> {
        let mut req = Request::post(format!("/nhs-login-simulator{path}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(b) = basic {
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            req = req.header(header::AUTHORIZATION, format!("Basic {encoded}"));
        }
        s.handle(req.body(Bytes::from(body.to_owned())).unwrap())
    }

    fn body(res: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(res.body()).unwrap()
    }

    #[tokio::test]
    async fn the_demo_pca_gets_an_api_token_with_its_secret_by_post_or_basic() {
        let s = sim();
        let validator =
            JwksBearerValidator::from_jwks_json(&s.jwks_json().to_string(), ISS, ["the-api"])
                .unwrap();
        for res in [
            post(
                &s,
                "/token",
                None,
                "grant_type=client_credentials&client_id=pca-demo&client_secret=s3cret",
            ),
            post(
                &s,
                "/token",
                Some("pca-demo:s3cret"),
                "grant_type=client_credentials",
            ),
        ] {
            assert_eq!(res.status(), StatusCode::OK);
            let b = body(&res);
            assert_eq!(b["token_type"], "Bearer");
            let caller = validator
                .validate(b["access_token"].as_str().unwrap())
                .await;
            assert!(caller.is_ok(), "{caller:?}");
        }
    }

    #[test]
    fn a_wrong_secret_or_client_is_401_invalid_client() {
        let s = sim();
        for (basic, form) in [
            (
                None,
                "grant_type=client_credentials&client_id=pca-demo&client_secret=s3creT",
            ),
            (
                None,
                "grant_type=client_credentials&client_id=someone&client_secret=s3cret",
            ),
            (None, "grant_type=client_credentials&client_id=pca-demo"),
            (Some("pca-demo:wrong"), "grant_type=client_credentials"),
            (Some("pca-demo"), "grant_type=client_credentials"),
        ] {
            let res = post(&s, "/token", basic, form);
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{form}");
            assert_eq!(body(&res)["error"], "invalid_client");
            assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        let both = post(
            &s,
            "/token",
            Some("pca-demo:s3cret"),
            "grant_type=client_credentials&client_id=pca-demo&client_secret=s3cret",
        );
        assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn the_nhs_app_id_token_is_the_one_the_pca_forwards() {
        let s = sim();
        let adult = nhs_portal_pas::demo::ADULT;
        let res = post(
            &s,
            "/nhs-app/id-token",
            None,
            &format!("nhs_number={adult}"),
        );
        assert_eq!(res.status(), StatusCode::OK);
        let token = body(&res)["id_token"].as_str().unwrap().to_owned();
        let verifier = JwksForwardedVerifier::new(
            ForwardedTokenConfig::new(ISS, vec![SIMULATED_NHS_APP_CLIENT_ID.into()]),
            std::sync::Arc::new(JwksCache::fixed(s.jwks())),
        );
        let nhs = NhsNumber::parse(adult).unwrap();
        assert!(verifier.verify(&token, &nhs).await.is_ok());

        let unknown = post(&s, "/nhs-app/id-token", None, "nhs_number=9000000084");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(&unknown)["error"], "unknown_patient");
        let bad = post(&s, "/nhs-app/id-token", None, "nhs_number=123");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(&bad)["error"], "invalid_request");
    }
}
