//! Sign-in and perimeter security, tried from outside the way an attacker, a patient on a shared
//! phone and the PCA would (issue 11): each test drives the demo portal from the shared harness,
//! with separate cookie jars for separate browsers, signing in through the NHS login simulator's
//! real pages.

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::store::SessionId;
use nhs_portal_pas::demo;
use nhs_portal_tests::{
    Client, NHS_NUMBER_FIELD, TestPortal, body_text, csrf_token, form_action, location,
};
use nhs_portal_web::session::DEFAULT_COOKIE_NAME;

/// The session the store holds for this browser's session cookie, if any.
async fn session_patient(t: &TestPortal, client: &Client) -> Option<NhsNumber> {
    let id = client.cookie(DEFAULT_COOKIE_NAME)?;
    t.demo
        .store
        .get_session(&SessionId::new(id.to_owned()))
        .await
        .unwrap()
        .map(|s| s.patient)
}

/// Starts a sign-in in `client`, chooses `nhs_number` on the simulator's page, and returns the
/// callback URL NHS login sends the browser back to, without opening it.
async fn callback_link(client: &mut Client, nhs_number: &str) -> String {
    let (page, at) = client.get_following("/patient-portal/appointments").await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the simulator's page at {at}"
    );
    let action = form_action(&body_text(&page)).unwrap_or(at);
    let res = client
        .post_form(
            &action,
            &[(NHS_NUMBER_FIELD, nhs_number), ("decision", "allow")],
        )
        .await;
    let link = location(&res).expect("a redirect to the callback");
    assert!(link.contains("/sign-in/callback?"), "{link}");
    link
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_signs_nobody_in_and_keeps_its_session() {
    let t = TestPortal::start().await;
    let mut victim = t.client();
    victim.sign_in_as(demo::SECOND_ADULT).await;
    let victim_session = victim.cookie(DEFAULT_COOKIE_NAME).map(str::to_owned);

    // The attacker starts a sign-in, picks their own account, and sends the link on.
    let mut attacker = t.client();
    let link = callback_link(&mut attacker, demo::ADULT).await;

    let res = victim.get(&link).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = body_text(&res);
    assert!(page.contains("Sign in again"), "{page}");
    assert!(page.contains("nhsuk-header"), "an NHS-styled page");
    // Nobody was signed in: the victim's own session is the same one, still theirs.
    assert_eq!(
        victim.cookie(DEFAULT_COOKIE_NAME).map(str::to_owned),
        victim_session
    );
    let second = NhsNumber::parse(demo::SECOND_ADULT).unwrap();
    assert_eq!(session_patient(&t, &victim).await, Some(second));
    let list = victim.get("/patient-portal/appointments").await;
    assert_eq!(list.status(), StatusCode::OK);

    // A browser with no session is not signed in either.
    let mut fresh = t.client();
    let res = fresh.get(&link).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fresh.cookie(DEFAULT_COOKIE_NAME), None);

    // The browser that started it still can (the refusals did not use the sign-in up).
    let res = attacker.get(&link).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let adult = NhsNumber::parse(demo::ADULT).unwrap();
    assert_eq!(session_patient(&t, &attacker).await, Some(adult));
    assert_eq!(
        attacker.cookie("nhs_portal_sign_in"),
        None,
        "a used binding is forgotten"
    );
}

/// The deep link to `key`'s appointment as the NHS App opens it, with an SSO assertion for
/// `nhs_number`.
fn sso_deep_link(t: &TestPortal, key: &str, nhs_number: &str) -> (String, String) {
    let path = format!("/patient-portal/appointment/{}", demo::appointment_id(key));
    let assertion = t.demo.sso_assertion(nhs_number).unwrap();
    let link =
        format!("{path}?extSystemName=Portal&trackingId=trk-1&assertedLoginIdentity={assertion}");
    (path, link)
}

/// A browser signed in as `nhs_number`, and its session cookie.
async fn signed_in(t: &TestPortal, nhs_number: &str) -> (Client, String) {
    let mut browser = t.client();
    browser.sign_in_as(nhs_number).await;
    let cookie = browser.cookie(DEFAULT_COOKIE_NAME).unwrap().to_owned();
    (browser, cookie)
}

#[tokio::test]
async fn an_sso_deep_link_for_another_patient_ends_the_live_session_first() {
    let t = TestPortal::start().await;
    let (mut phone, a_cookie) = signed_in(&t, demo::ADULT).await;

    // Patient B opens their own appointment from the NHS App on the same phone.
    let (path, link) = sso_deep_link(&t, "second/r9n/neurology", demo::SECOND_ADULT);
    let first = phone.get(&link).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(&location(&first).unwrap()).unwrap();
    let prompt = authorize.query_pairs().find(|(k, _)| k == "prompt");
    assert_eq!(prompt.map(|(_, v)| v.into_owned()).as_deref(), Some("none"));
    let (page, at) = phone.follow(first, link.clone()).await;
    assert_eq!(page.status(), StatusCode::OK, "{at}: {}", body_text(&page));
    assert!(at.starts_with(&path), "{at}");
    assert!(!at.contains("assertedLoginIdentity"), "{at}");
    assert!(at.contains("trackingId=trk-1"), "{at}");
    assert!(!body_text(&page).contains("You cannot view this appointment"));
    let b = NhsNumber::parse(demo::SECOND_ADULT).unwrap();
    assert_eq!(session_patient(&t, &phone).await, Some(b));

    // A's session is gone: its cookie no longer signs anyone in.
    let old = t
        .demo
        .store
        .get_session(&SessionId::new(a_cookie.clone()))
        .await
        .unwrap();
    assert!(old.is_none(), "patient A's session was ended");
    let mut replay = t.client();
    let req = Request::get("/patient-portal/appointments")
        .header(header::COOKIE, format!("{DEFAULT_COOKIE_NAME}={a_cookie}"))
        .body(Bytes::new())
        .unwrap();
    let res = replay.send(req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sent to sign in");
}

#[tokio::test]
async fn an_sso_deep_link_for_the_same_patient_keeps_their_session() {
    let t = TestPortal::start().await;
    let (mut phone, before) = signed_in(&t, demo::ADULT).await;
    let (path, link) = sso_deep_link(&t, demo::KEY_ADULT_DERMATOLOGY, demo::ADULT);
    let (page, at) = phone.get_following(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        at.starts_with(&path) && !at.contains("assertedLoginIdentity"),
        "{at}"
    );
    assert_eq!(phone.cookie(DEFAULT_COOKIE_NAME), Some(before.as_str()));
}

#[tokio::test]
async fn the_sign_in_after_a_sign_out_asks_nhs_login_for_a_fresh_login() {
    let t = TestPortal::start().await;
    let mut device = t.client();
    let list = device.sign_in_as(demo::ADULT).await;
    let csrf = csrf_token(&body_text(&list)).unwrap();
    let res = device
        .post_form("/sign-out", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(location(&res).as_deref(), Some("/signed-out"));

    let res = device.get("/patient-portal/appointments").await;
    let authorize = url::Url::parse(&location(&res).unwrap()).unwrap();
    let prompt = authorize
        .query_pairs()
        .find(|(k, _)| k == "prompt")
        .map(|(_, v)| v.into_owned());
    assert_eq!(prompt.as_deref(), Some("login"), "{authorize}");

    // The next patient signs in; after that, sign-ins are ordinary again.
    let list = device.sign_in_as(demo::SECOND_ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(device.cookie("nhs_portal_signed_out"), None);
}

#[tokio::test]
async fn a_first_sign_in_does_not_force_a_fresh_login() {
    let t = TestPortal::start().await;
    let res = t.client().get("/patient-portal/appointments").await;
    let authorize = url::Url::parse(&location(&res).unwrap()).unwrap();
    assert!(!authorize.query_pairs().any(|(k, _)| k == "prompt"));
}

#[tokio::test]
async fn the_cookie_of_an_expired_session_is_cleared() {
    let t = TestPortal::start().await;
    let mut browser = t.client();
    browser.sign_in_as(demo::ADULT).await;
    assert!(browser.cookie(DEFAULT_COOKIE_NAME).is_some());
    t.clock.advance(chrono::Duration::minutes(11));
    let res = browser.get("/patient-portal/appointments").await;
    assert!(body_text(&res).contains("You have been signed out"));
    let cleared = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{DEFAULT_COOKIE_NAME}=;")) && v.contains("Max-Age=0"));
    assert!(cleared, "{:?}", res.headers());
    assert_eq!(browser.cookie(DEFAULT_COOKIE_NAME), None);
}

#[tokio::test]
async fn the_pca_rate_limit_is_per_client_after_the_bearer_check() {
    let t = TestPortal::builder()
        .fhir_api(|c| {
            c.rate_limit_per_second = 0.001;
            c.rate_limit_burst = 2;
        })
        .start()
        .await;
    // An unauthenticated flood.
    for _ in 0..30 {
        let mut req = t.pca_request(demo::ADULT, demo::ADULT);
        req.headers_mut()
            .insert(header::AUTHORIZATION, "Bearer forged".parse().unwrap());
        let res = t.portal().handle(req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // The PCA is still served, up to its own budget.
    assert_eq!(
        t.get_appointments(demo::ADULT).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.get_appointments(demo::ADULT).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.get_appointments(demo::ADULT).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client's budget is its own.
    let other = t
        .demo
        .simulator
        .mint_client_credentials_token("pca-other", nhs_portal_web::demo::DEMO_API_AUDIENCE)
        .unwrap();
    let mut req = t.pca_request(demo::ADULT, demo::ADULT);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {other}").parse().unwrap(),
    );
    assert_eq!(t.portal().handle(req).await.status(), StatusCode::OK);
}

async fn staff_sign_in(client: &mut Client, from: &str, code: &str) -> Response<Bytes> {
    let req = Request::post("/staff/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", from)
        .body(Bytes::from(format!("name=Sam+Staff&code={code}")))
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn staff_sign_in_attempts_are_limited_per_client() {
    let t = TestPortal::start().await;
    let code = t.demo.staff_code.clone();
    let mut guesser = t.client();
    for i in 0..5 {
        let res = staff_sign_in(&mut guesser, "203.0.113.5", &format!("guess{i}")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // Over the limit: refused even with the right code, on an NHS-styled page.
    let res = staff_sign_in(&mut guesser, "203.0.113.5", &code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = body_text(&res);
    assert!(
        page.contains("too many attempts") && page.contains("nhsuk-header"),
        "{page}"
    );
    // Another client is not locked out.
    let mut colleague = t.client();
    let res = staff_sign_in(&mut colleague, "198.51.100.7", &code).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some("/staff"));
    // And the window passes.
    t.clock.advance(chrono::Duration::minutes(16));
    let res = staff_sign_in(&mut guesser, "203.0.113.5", &code).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_response_carries_the_permissions_and_opener_policies() {
    let t = TestPortal::start().await;
    let mut c = t.client();
    for path in ["/", "/patient-portal/appointments", "/health", "/nowhere"] {
        let res = c.get(path).await;
        let h = res.headers();
        assert!(
            h.get("permissions-policy")
                .is_some_and(|v| v.to_str().unwrap().contains("camera=()")),
            "{path}"
        );
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
    }
}
