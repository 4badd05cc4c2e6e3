//! The pages' markup true to nhsuk-frontend 10, as a patient's browser (or the NHS App) meets it
//! through the demo portal: the check page's warning card (not the deprecated warning callout),
//! "Change" links styled as links, one title rule (unique titles that name the service once), and
//! a back link in a browser but never inside the NHS App, which has its own back navigation.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, KEY_ADULT_REQUEST_ONLY_BOOKED, KEY_ADULT_TELEPHONE};
use nhs_portal_tests::{Client, TestPortal, body_text};

const SERVICE: &str = "Manage your hospital appointments";
const APP_UA: &str = "Mozilla/5.0 (iPhone) nhsapp-ios/3.1.0";

fn page_of(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

fn title_of(html: &str) -> String {
    let start = html.find("<title>").expect("a <title>") + "<title>".len();
    let end = html[start..].find("</title>").expect("a </title>") + start;
    html[start..end].to_owned()
}

/// Every `<a ...>` start tag whose text begins with `text`.
fn links_reading<'a>(html: &'a str, text: &str) -> Vec<&'a str> {
    let needle = format!(">{text}");
    html.match_indices(&needle)
        .filter_map(|(at, _)| html[..at].rfind('<').map(|open| &html[open..=at]))
        .filter(|tag| tag.starts_with("<a "))
        .collect()
}

async fn get_html(c: &mut Client, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    body_text(&res)
}

async fn get_in_app(c: &mut Client, path: &str) -> String {
    let req = Request::get(path)
        .header(header::USER_AGENT, APP_UA)
        .body(Bytes::new())
        .unwrap();
    let res = c.send(req).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    body_text(&res)
}

/// Confirms the check page at `check` and returns the done page's path.
async fn confirm(c: &mut Client, check: &str) -> (String, String) {
    let html = get_html(c, check).await;
    let res = c.post_pairs(check, &Client::confirm_form(&html)).await;
    let (done, at) = c.follow(res, check.to_owned()).await;
    assert_eq!(done.status(), StatusCode::OK, "{at}");
    (at, body_text(&done))
}

#[tokio::test]
async fn the_check_page_warns_with_the_v10_warning_card_and_change_links_are_links() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    for key in [KEY_ADULT_TELEPHONE, KEY_ADULT_REQUEST_ONLY_BOOKED] {
        let base = page_of(key);
        let check = patient
            .answer(&base, "cancel", &[("reason", "no-transport")])
            .await;
        let html = get_html(&mut patient, &check).await;
        assert!(!html.contains("nhsuk-warning-callout"), "{key}: {html}");
        assert!(
            html.contains(
                "<div class=\"nhsuk-card nhsuk-card--warning\">\n  <div class=\"nhsuk-card__content\">\n    <h2 class=\"nhsuk-card__heading\">Before you continue</h2>\n    <p class=\"nhsuk-card__description\">"
            ),
            "{key}: {html}"
        );
        let changes = links_reading(&html, "Change");
        assert!(!changes.is_empty(), "{key}: a Change link: {html}");
        for tag in changes {
            assert!(tag.starts_with("<a class=\"nhsuk-link\" "), "{key}: {tag}");
        }
    }
}

#[tokio::test]
async fn every_title_on_the_journeys_is_unique_and_names_the_service_once() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    let mut titles: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = |at: &str, html: &str| {
        let title = title_of(html);
        assert_eq!(title.matches(SERVICE).count(), 1, "{at}: {title}");
        assert_eq!(title.matches("NHS").count(), 1, "{at}: {title}");
        assert!(
            title.ends_with(&format!("{SERVICE} – NHS")),
            "{at}: {title}"
        );
        if let Some(first) = titles.insert(title.clone(), at.to_owned()) {
            panic!("{at} has the title of {first}: {title}");
        }
    };
    let landing = get_html(&mut patient, "/").await;
    assert_eq!(title_of(&landing), format!("{SERVICE} – NHS"));
    seen("/", &landing);
    let list = body_text(&patient.sign_in_as(ADULT).await);
    seen("/patient-portal/appointments", &list);
    for (key, step, answers) in [
        (
            KEY_ADULT_TELEPHONE,
            "cancel",
            &[("reason", "no-transport")][..],
        ),
        (
            KEY_ADULT_REQUEST_ONLY_BOOKED,
            "cancel",
            &[("reason", "no-transport")][..],
        ),
    ] {
        let base = page_of(key);
        let path = format!("{base}/{step}");
        // Each appointment's own page has its own title (its description), so only the journey's
        // steps are compared, per journey kind.
        if step == "cancel" {
            let need = format!("{base}/cancel/need");
            let question = get_html(&mut patient, &need).await;
            if key == KEY_ADULT_TELEPHONE {
                seen(&need, &question);
            }
            patient.no_longer_needed(&base).await;
        }
        let form = get_html(&mut patient, &path).await;
        let check = patient.answer(&base, step, answers).await;
        let check_html = get_html(&mut patient, &check).await;
        let (done_at, done) = confirm(&mut patient, &check).await;
        if key == KEY_ADULT_TELEPHONE {
            seen(&path, &form);
        }
        seen(&check, &check_html);
        seen(&done_at, &done);
    }
    // An error page says so first, and is the form's title otherwise.
    let base = page_of(demo::KEY_ADULT_DERMATOLOGY);
    patient.no_longer_needed(&base).await;
    let html = get_html(&mut patient, &format!("{base}/cancel")).await;
    let csrf = nhs_portal_tests::csrf_token(&html).unwrap();
    let res = patient
        .post_form(&format!("{base}/cancel"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let errored = title_of(&body_text(&res));
    assert_eq!(errored, format!("Error: {}", title_of(&html)));
}

#[tokio::test]
async fn journey_steps_have_a_back_link_in_a_browser_and_none_inside_the_nhs_app() {
    let portal = TestPortal::start().await;
    let mut patient = portal.client();
    patient.sign_in_as(ADULT).await;
    let base = page_of(KEY_ADULT_TELEPHONE);
    let form = format!("{base}/cancel");
    let back = format!("<a class=\"nhsuk-back-link\" href=\"{base}\">Back</a>");
    patient.no_longer_needed(&base).await;
    let html = get_html(&mut patient, &form).await;
    assert!(html.contains(&back), "{html}");
    let check = patient
        .answer(&base, "cancel", &[("reason", "no-transport")])
        .await;
    let html = get_html(&mut patient, &check).await;
    assert!(
        html.contains(&format!(
            "<a class=\"nhsuk-back-link\" href=\"{form}\">Back</a>"
        )),
        "{html}"
    );
    // The appointment list is where a journey starts: no previous page.
    let list = get_html(&mut patient, "/patient-portal/appointments").await;
    assert!(!list.contains("nhsuk-back-link"));
    // Inside the NHS App, the same pages have no back link of their own.
    for path in [&form, &check] {
        let html = get_in_app(&mut patient, path).await;
        assert!(html.contains("js/v2/nhsapp.js"), "{path}: in the NHS App");
        assert!(!html.contains("nhsuk-back-link"), "{path}: {html}");
    }
}
