//! The whole demo chain, NHS App → PCA → portal, from outside the process's code: the demo PCA
//! gets its bearer token from the simulator's token endpoint (`client_credentials` with its
//! secret), the NHS App's ID token from `/nhs-login-simulator/nhs-app/id-token`, and calls the
//! Get Appointments API with both; the NHS App simulator page lists what that API answers and
//! opens each deep link with `assertedLoginIdentity`, landing signed in. (The README's `curl`
//! version runs against the reference portal binary in examples/reference-portal/tests.)

use bytes::Bytes;
use http::{Request, StatusCode, header};
use nhs_portal_pas::demo::{ADULT, SECOND_ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, get_appointments_uri, location};
use nhs_portal_web::demo::{DEMO_PCA_CLIENT_ID, DEMO_PCA_SECRET, NHS_APP_PATH};
use nhs_portal_web::nhs_app_simulator::NOT_THE_NHS_APP;
use nhs_portal_web::simulator::NOT_NHS_LOGIN;
use serde_json::Value;

fn json(res: &http::Response<Bytes>) -> Value {
    serde_json::from_slice(res.body()).unwrap_or_else(|_| panic!("JSON: {}", body_text(res)))
}

async fn pca_token(client: &mut Client, secret: &str) -> http::Response<Bytes> {
    client
        .post_form(
            "/nhs-login-simulator/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_PCA_CLIENT_ID),
                ("client_secret", secret),
            ],
        )
        .await
}

#[tokio::test]
async fn the_demo_pca_calls_get_appointments_with_the_simulators_two_endpoints() {
    let t = TestPortal::start().await;
    let mut pca = t.client();
    let res = pca_token(&mut pca, DEMO_PCA_SECRET).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    let bearer = json(&res)["access_token"].as_str().unwrap().to_owned();
    let res = pca
        .post_form(
            "/nhs-login-simulator/nhs-app/id-token",
            &[("nhs_number", ADULT)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let id_token = json(&res)["id_token"].as_str().unwrap().to_owned();

    let call = |patient: &str| {
        Request::get(get_appointments_uri(patient))
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header("nhsd-id-token", &id_token)
            .header("x-correlation-id", uuid::Uuid::new_v4().to_string())
            .body(Bytes::new())
            .unwrap()
    };
    let res = pca.send(call(ADULT)).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    let bundle = json(&res);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert!(!bundle["entry"].as_array().unwrap().is_empty());
    // The ID token is the patient's own: another patient's appointments are refused with it.
    let res = pca.send(call(SECOND_ADULT)).await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn a_wrong_secret_gets_401_invalid_client_as_json() {
    let t = TestPortal::start().await;
    let res = pca_token(&mut t.client(), "not-the-secret").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(json(&res)["error"], "invalid_client");
}

#[tokio::test]
async fn the_nhs_app_simulator_lists_the_apis_appointments_and_opens_them_signed_in() {
    let t = TestPortal::start().await;
    let mut app = t.client();
    let res = app.get(NHS_APP_PATH).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(&res);
    assert!(html.contains(NOT_THE_NHS_APP), "{html}");
    assert!(html.contains(&format!("value=\"{ADULT}\"")), "{html}");

    let res = app
        .get(&format!("{NHS_APP_PATH}/?nhs_number={ADULT}"))
        .await;
    let html = body_text(&res);
    let api = json(&t.get_appointments(ADULT).await);
    let entries = api["entry"].as_array().unwrap();
    assert!(html.contains("200 OK"), "{html}");
    let links: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .filter(|h| h.contains("/open?"))
        .map(|h| h.replace("&amp;", "&"))
        .collect();
    assert_eq!(
        links.len(),
        entries.len(),
        "one link per appointment: {html}"
    );
    for e in entries {
        let description = e["resource"]["description"].as_str().unwrap();
        assert!(html.contains(description), "{description} listed");
    }

    // Opening one: the NHS App appends assertedLoginIdentity, and the patient lands signed in
    // (silently: no simulator sign-in page) on the appointment's page.
    let res = app.get(&links[0]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let deep_link = location(&res).unwrap();
    assert!(
        deep_link.contains("/patient-portal/appointment/"),
        "{deep_link}"
    );
    assert!(deep_link.contains("assertedLoginIdentity="), "{deep_link}");
    let (page, at) = app.follow(res, links[0].clone()).await;
    let html = body_text(&page);
    assert_eq!(page.status(), StatusCode::OK, "{at}: {html}");
    assert!(at.starts_with("/patient-portal/appointment/"), "{at}");
    assert!(!html.contains(NOT_NHS_LOGIN), "{html}");
    assert!(html.contains("Sign out"), "signed in: {html}");
}

#[tokio::test]
async fn the_nhs_app_simulator_opens_only_this_portals_pages() {
    let t = TestPortal::start().await;
    let mut app = t.client();
    for link in [
        "https://evil.example/patient-portal/appointment/x",
        "/patient-portal/appointment/x",
        &format!("{}/staff", t.base_url()),
    ] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("nhs_number", ADULT)
            .append_pair("link", link)
            .finish();
        let res = app.get(&format!("{NHS_APP_PATH}/open?{q}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{link}");
        assert!(location(&res).is_none());
    }
}
