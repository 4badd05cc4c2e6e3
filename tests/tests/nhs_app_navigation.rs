//! The links that lead back into the NHS App's own pages, as the demo portal serves them: links
//! marked `data-nhsapp-appointments` (back to the app's appointments) on the appointment and
//! done pages, and the identity-too-low page's way to prove who you are, the app's own journey
//! (`data-nhsapp-uplift`) inside the NHS App and NHS login's help in a browser. Every such link
//! keeps an ordinary href, and the script that wires them is one of the portal's own served
//! files (no inline script: the CSP allows only the portal's files). What the script does with
//! the NHS App JS API is checked in Chromium (tests/node/browser/navigation.test.mjs).

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, KEY_ADULT_TELEPHONE, P5_PATIENT};
use nhs_portal_tests::{Client, NHS_NUMBER_FIELD, TestPortal, body_text, form_action, location};

const APP_UA: &str = "Mozilla/5.0 (Linux; Android 14) nhsapp-android/3.12.0";
const P5_HEADING: &str = "You need to prove who you are to use this service";

/// Every `<a ...>` start tag carrying `attribute`.
fn links_with<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    html.match_indices("<a ")
        .filter_map(|(at, _)| html[at..].find('>').map(|end| &html[at..=at + end]))
        .filter(|tag| tag.contains(attribute))
        .collect()
}

async fn send(c: &mut Client, req: http::request::Builder, in_app: bool) -> Response<Bytes> {
    let req = if in_app {
        req.header(header::USER_AGENT, APP_UA)
    } else {
        req
    };
    c.send(req.body(Bytes::new()).unwrap()).await
}

/// Signs a patient in through the simulator's pages, every request with the NHS App's
/// User-Agent when `in_app`; returns the page it ends on.
async fn sign_in(portal: &TestPortal, nhs_number: &str, in_app: bool) -> String {
    let mut c = portal.client();
    let mut res = send(&mut c, Request::get("/patient-portal/appointments"), in_app).await;
    while res.status().is_redirection() {
        let next = location(&res).expect("a Location");
        res = send(&mut c, Request::get(local(portal, &next)), in_app).await;
    }
    let action = form_action(&body_text(&res)).expect("the simulator's form");
    let form = format!("{NHS_NUMBER_FIELD}={nhs_number}&decision=allow");
    let post = Request::post(local(portal, &action))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let post = if in_app {
        post.header(header::USER_AGENT, APP_UA)
    } else {
        post
    };
    let mut res = c.send(post.body(Bytes::from(form)).unwrap()).await;
    while res.status().is_redirection() {
        let next = location(&res).expect("a Location");
        res = send(&mut c, Request::get(local(portal, &next)), in_app).await;
    }
    body_text(&res)
}

fn local(portal: &TestPortal, uri: &str) -> String {
    uri.strip_prefix(portal.base_url()).map_or_else(
        || uri.to_owned(),
        |p| format!("/{}", p.trim_start_matches('/')),
    )
}

#[tokio::test]
async fn the_identity_too_low_page_offers_the_nhs_apps_uplift_inside_the_app_only() {
    let portal = TestPortal::start().await;

    let app = sign_in(&portal, P5_PATIENT, true).await;
    assert!(app.contains(P5_HEADING), "{app}");
    let uplift = links_with(&app, "data-nhsapp-uplift");
    assert_eq!(uplift.len(), 1, "one uplift link inside the app: {app}");
    assert!(
        uplift[0].contains("href=\"https://help.login.nhs.uk/\""),
        "without the script the link still leads somewhere: {}",
        uplift[0]
    );
    assert!(
        app.contains(">Prove who you are in the NHS App</a>"),
        "{app}"
    );

    let browser = sign_in(&portal, P5_PATIENT, false).await;
    assert!(browser.contains(P5_HEADING), "{browser}");
    assert!(
        links_with(&browser, "data-nhsapp-uplift").is_empty(),
        "no NHS App journey in a browser: {browser}"
    );
    assert!(
        browser.contains("<a href=\"https://help.login.nhs.uk/\">Get help with NHS login</a>"),
        "{browser}"
    );
}

#[tokio::test]
async fn links_back_to_the_nhs_apps_appointments_are_ordinary_links_too() {
    let portal = TestPortal::start().await;
    let page = format!(
        "/patient-portal/appointment/{}",
        demo::appointment_id(KEY_ADULT_TELEPHONE)
    );
    for in_app in [true, false] {
        let mut c = portal.client();
        c.sign_in_as(ADULT).await;
        let res = send(&mut c, Request::get(page.as_str()), in_app).await;
        assert_eq!(res.status(), StatusCode::OK);
        let html = body_text(&res);
        let links = links_with(&html, "data-nhsapp-appointments");
        assert_eq!(links.len(), 1, "in app {in_app}: {html}");
        assert!(
            links[0].contains("href=\"/patient-portal/appointments\""),
            "{}",
            links[0]
        );
    }
}

#[tokio::test]
async fn the_navigation_script_is_one_of_the_portals_own_files_under_the_csp() {
    let portal = TestPortal::start().await;
    let mut c = portal.client();
    let module = c.get("/assets/portal/navigation.mjs").await;
    assert_eq!(module.status(), StatusCode::OK);
    assert_eq!(
        module.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let text = body_text(&module);
    for needle in ["data-nhsapp-appointments", "data-nhsapp-uplift", "goToPage"] {
        assert!(text.contains(needle), "{needle}");
    }
    let portal_js = body_text(&c.get("/assets/portal/portal.mjs").await);
    assert!(portal_js.contains("from './navigation.mjs'"));

    let res = send(&mut c, Request::get("/"), true).await;
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}
