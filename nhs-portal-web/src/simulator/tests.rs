use http::header;
use nhs_portal_pas::demo;

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

/// A client assertion signed with `key`. Signing must work: a test that meant to send a signed
/// assertion must never send something else and still pass.
fn assertion(key: &RsaSigningKey, aud: &str, jti: &str) -> String {
    let now = Utc::now().timestamp();
    key.sign(&json!({"iss":"portal","sub":"portal","aud":aud,"jti":jti,"exp":now+60,"iat":now}))
        .expect("the test key signs a client assertion")
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
        ("signed by another key", assertion(&other, &aud, "j1")),
        ("wrong audience", assertion(client_key(), ISS, "j2")),
    ];
    for (name, a) in cases {
        assert_eq!(
            a.split('.').count(),
            3,
            "{name}: a signed JWT, not a stand-in"
        );
        let code = code_for(&s, "9000000009");
        let r = post(&s, "/token", &token_body(&code, &a));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"], "invalid_client", "{name}");
    }
    // A good one works once; its jti cannot be replayed.
    let a = assertion(client_key(), &aud, "j3");
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
        &token_body(&code, &assertion(client_key(), &aud, "j4")),
    );
    assert_eq!(ok.status(), StatusCode::OK);
    let again = post(
        &s,
        "/token",
        &token_body(&code, &assertion(client_key(), &aud, "j5")),
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
            .sign(
                &json!({"iss":"portal","sub":"portal","aud":aud,"jti":jti,"exp":now+60,"iat":now}),
            )
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
