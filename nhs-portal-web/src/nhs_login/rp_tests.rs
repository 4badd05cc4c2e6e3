//! The relying party against a fake, misbehaving NHS login (wiremock): each bad ID token, a
//! mismatching userinfo and token-endpoint failures end in their own `LoginError`.

use std::sync::{Arc, OnceLock};

use nhs_portal_core::store::memory::MemoryStore;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const CLIENT: &str = "portal";
const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";

fn keys() -> &'static (RsaSigningKey, RsaSigningKey, RsaSigningKey) {
    static K: OnceLock<(RsaSigningKey, RsaSigningKey, RsaSigningKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            RsaSigningKey::generate().unwrap(), // NHS login's key
            RsaSigningKey::generate().unwrap(), // someone else's
            RsaSigningKey::generate().unwrap(), // the portal's client key
        )
    })
}

struct Fake {
    server: MockServer,
    rp: RelyingParty,
    state: String,
    nonce: String,
}

fn b64(v: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// An NHS-login-like discovery document for the fake provider `server` (its keys at
/// `/.well-known/jwks.json`), answered at its well-known path.
pub(crate) async fn mount_discovery(server: &MockServer) {
    let iss = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/authorize"),
            "token_endpoint": format!("{iss}/token"),
            "userinfo_endpoint": format!("{iss}/userinfo"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS512"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })))
        .mount(server)
        .await;
}

/// Discovery and keys, a relying party, and one sign-in begun.
async fn fake() -> Fake {
    let server = MockServer::start().await;
    let iss = server.uri();
    mount_discovery(&server).await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [keys().0.public_jwk_json()]})),
        )
        .mount(&server)
        .await;
    let mut config = NhsLoginConfig::new(&iss, CLIENT, keys().2.clone(), REDIRECT);
    config.jwks_min_refetch_interval = std::time::Duration::ZERO;
    let rp = RelyingParty::discover(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    let url = rp
        .begin_login(LoginRequest {
            return_to: "/x".into(),
            ..LoginRequest::default()
        })
        .await
        .unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    Fake {
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
        server,
        rp,
    }
}

impl Fake {
    fn claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.server.uri(),
            "sub": "sub-1",
            "aud": CLIENT,
            "iat": now,
            "exp": now + 3600,
            "jti": "j",
            "nonce": self.nonce,
            "vot": "P9.Cp.Cd",
            "vtm": "https://example/trustmark",
            "identity_proofing_level": "P9",
            "nhs_number": "9000000009",
            "birthdate": "1980-01-02",
        })
    }

    async fn token_answers(&self, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    async fn issue(&self, id_token: String) {
        self.token_answers(
            200,
            json!({"access_token": "at", "token_type": "bearer", "expires_in": 300, "id_token": id_token}),
        )
        .await;
    }

    async fn userinfo_answers(&self, body: Value) {
        Mock::given(method("GET"))
            .and(path("/userinfo"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    async fn complete(&self) -> Result<CompletedLogin, LoginFailure> {
        self.rp
            .complete_login(&format!("code=the-code&state={}", self.state))
            .await
    }
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    if v.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = v;
    }
    c
}

#[tokio::test]
async fn a_good_login_and_its_client_assertion() {
    let f = fake().await;
    f.issue(keys().0.sign(&f.claims()).unwrap()).await;
    f.userinfo_answers(json!({"sub": "sub-1", "nhs_number": "9000000009"}))
        .await;
    let done = f.complete().await.unwrap();
    assert_eq!(done.identity.nhs_number.as_str(), "9000000009");
    assert_eq!(done.pending.return_to, "/x");

    // What the token request carried: private_key_jwt, RS512, iss = sub = client id,
    // aud = token endpoint, a jti, a short expiry; and no client secret.
    let reqs = f.server.received_requests().await.unwrap();
    let token_req = reqs.iter().find(|r| r.url.path() == "/token").unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token_req.body)
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!form.contains_key("client_secret"));
    assert!(token_req.headers.get("authorization").is_none());
    let header = jsonwebtoken::decode_header(&form["client_assertion"]).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS512);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
    v.set_audience(&[format!("{}/token", f.server.uri())]);
    v.set_issuer(&[CLIENT]);
    v.sub = Some(CLIENT.into());
    let key = jsonwebtoken::DecodingKey::from_jwk(&keys().2.public_jwk()).unwrap();
    let c = jsonwebtoken::decode::<Value>(&form["client_assertion"], &key, &v)
        .unwrap()
        .claims;
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 60);
}

#[tokio::test]
async fn each_bad_id_token_is_its_own_error() {
    type Make = fn(&Fake) -> String;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "bad signature",
            |f| {
                let good = keys().0.sign(&f.claims()).unwrap();
                let other = keys().1.sign(&f.claims()).unwrap();
                let (g, o): (Vec<&str>, Vec<&str>) =
                    (good.split('.').collect(), other.split('.').collect());
                format!("{}.{}.{}", g[0], g[1], o[2])
            },
            "Token(BadSignature)",
        ),
        (
            "alg none",
            |f| {
                format!(
                    "{}.{}.",
                    b64(br#"{"alg":"none"}"#),
                    b64(f.claims().to_string().as_bytes())
                )
            },
            "Token(DisallowedAlgorithm(\"none\"))",
        ),
        (
            "HS256 keyed with the public key",
            |f| {
                let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                h.kid = Some(keys().0.kid().into());
                let secret = keys().0.public_key_pem().unwrap();
                jsonwebtoken::encode(
                    &h,
                    &f.claims(),
                    &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
                )
                .unwrap()
            },
            "Token(DisallowedAlgorithm(\"HS256\"))",
        ),
        (
            "wrong issuer",
            |f| {
                keys()
                    .0
                    .sign(&with(f.claims(), "iss", json!("https://auth.login.nhs.uk")))
                    .unwrap()
            },
            "Token(WrongIssuer)",
        ),
        (
            "wrong audience",
            |f| {
                keys()
                    .0
                    .sign(&with(f.claims(), "aud", json!("another-client")))
                    .unwrap()
            },
            "Token(WrongAudience)",
        ),
        (
            "expired",
            |f| {
                let past = chrono::Utc::now().timestamp() - 3600;
                keys()
                    .0
                    .sign(&with(f.claims(), "exp", json!(past)))
                    .unwrap()
            },
            "Token(Expired)",
        ),
        (
            "nonce mismatch",
            |f| {
                keys()
                    .0
                    .sign(&with(f.claims(), "nonce", json!("another-nonce")))
                    .unwrap()
            },
            "Token(NonceMismatch)",
        ),
        (
            "P5 identity",
            |f| {
                let c = with(f.claims(), "identity_proofing_level", json!("P5"));
                keys().0.sign(&with(c, "vot", json!("P5.Cp.Cd"))).unwrap()
            },
            "IdentityNotP9(\"P5\")",
        ),
        (
            "missing NHS number",
            |f| {
                keys()
                    .0
                    .sign(&with(f.claims(), "nhs_number", Value::Null))
                    .unwrap()
            },
            "Token(MissingClaim(\"nhs_number\"))",
        ),
        (
            "vot not requested",
            |f| {
                keys()
                    .0
                    .sign(&with(f.claims(), "vot", json!("P9.Cp")))
                    .unwrap()
            },
            "Token(VotNotAccepted)",
        ),
        (
            "unknown kid after refetch",
            |f| keys().1.sign(&f.claims()).unwrap(),
            "Token(UnknownKey)",
        ),
    ];
    for (name, make, want) in cases {
        let f = fake().await;
        f.issue(make(&f)).await;
        f.userinfo_answers(json!({"sub": "sub-1"})).await;
        let err = f.complete().await.unwrap_err();
        assert_eq!(format!("{:?}", err.error), want, "{name}");
        assert!(err.pending.is_some(), "{name}");
    }
}

#[tokio::test]
async fn an_unknown_kid_is_looked_up_once_more() {
    let f = fake().await;
    f.issue(keys().1.sign(&f.claims()).unwrap()).await;
    let err = f.complete().await.unwrap_err();
    assert!(matches!(
        err.error,
        LoginError::Token(TokenError::UnknownKey)
    ));
    let jwks_fetches = f
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/.well-known/jwks.json")
        .count();
    assert_eq!(jwks_fetches, 2, "discovery's fetch and one refetch");
}

#[tokio::test]
async fn userinfo_about_someone_else_is_refused() {
    let cases = [
        json!({"sub": "sub-2", "nhs_number": "9000000009"}),
        json!({"sub": "sub-1", "nhs_number": "9000000017"}),
    ];
    for body in cases {
        let f = fake().await;
        f.issue(keys().0.sign(&f.claims()).unwrap()).await;
        f.userinfo_answers(body.clone()).await;
        let err = f.complete().await.unwrap_err();
        assert!(
            matches!(err.error, LoginError::UserInfoMismatch),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn token_endpoint_failures() {
    let f = fake().await;
    f.token_answers(400, json!({"error": "invalid_grant"}))
        .await;
    let err = f.complete().await.unwrap_err();
    assert!(
        matches!(&err.error, LoginError::TokenRequestRefused(e) if e == "invalid_grant"),
        "{err:?}"
    );

    let f = fake().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
        .mount(&f.server)
        .await;
    let err = f.complete().await.unwrap_err();
    assert!(matches!(err.error, LoginError::Unavailable(_)), "{err:?}");

    let f = fake().await;
    f.token_answers(200, json!({"access_token": "at", "token_type": "bearer"}))
        .await;
    let err = f.complete().await.unwrap_err();
    assert!(
        matches!(
            err.error,
            LoginError::Token(TokenError::MissingClaim("id_token"))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn callbacks_without_state_or_code() {
    let f = fake().await;
    let err = f.rp.complete_login("code=abc").await.unwrap_err();
    assert!(matches!(err.error, LoginError::UnknownState));
    let err =
        f.rp.complete_login("error=access_denied&error_description=ConsentNotGiven")
            .await
            .unwrap_err();
    assert!(matches!(err.error, LoginError::ConsentNotGiven));
    let err =
        f.rp.complete_login(&format!("state={}", f.state))
            .await
            .unwrap_err();
    assert!(matches!(err.error, LoginError::MalformedCallback(_)));
}

#[tokio::test]
async fn the_authorization_url_carries_the_nhs_parameters() {
    let f = fake().await;
    let url =
        f.rp.begin_login(LoginRequest {
            return_to: "//evil.example/".into(),
            force_login: true,
            ..LoginRequest::default()
        })
        .await
        .unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid profile");
    assert_eq!(q["vtr"], r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#);
    assert_eq!(q["prompt"], "login");
    assert!(!q.contains_key("code_challenge"));
    // An unsafe return path is replaced by the home page.
    let done =
        f.rp.complete_login(&format!("state={}&error=login_required", q["state"]))
            .await;
    assert_eq!(done.unwrap_err().pending.unwrap().return_to, "/");
}
