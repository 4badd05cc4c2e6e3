//! Holding appointments (a trust's waiting-list placeholders, `nhs_portal_core::holding`) as a
//! patient and the PCA meet them through the demo portal. The demo adult has one at each trust:
//! the real-time trust shows its own as "On the waiting list" (no date, no time, no actions),
//! the request-only trust hides its own (its deep link answers like an unknown id). Neither is
//! ever in the Get Appointments API's Bundle, which stays valid against the producer spec.

use http::StatusCode;
use nhs_portal_core::{Appointment, uk_time};
use nhs_portal_pas::demo::{
    self, ADULT, KEY_ADULT_DERMATOLOGY, KEY_ADULT_HOLDING_HIDDEN, KEY_ADULT_HOLDING_SHOWN,
    SECOND_ADULT,
};
use nhs_portal_tests::pca_spec::{check_contract, specs_present};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};

fn page_of(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

fn record<'a>(t: &'a TestPortal, key: &str) -> &'a Appointment {
    t.demo.data.appointment(key).expect("a demo record")
}

async fn signed_in(t: &TestPortal, patient: &str) -> Client {
    let mut c = t.client();
    c.sign_in_as(patient).await;
    c
}

/// What the patient may see of a date and time: none of the record's.
fn shows_no_date(html: &str, a: &Appointment) -> bool {
    !html.contains(&uk_time::format_date(a.start)) && !html.contains(&uk_time::format_time(a.start))
}

#[tokio::test]
async fn the_list_shows_only_the_holding_records_their_trusts_show_and_without_a_date() {
    let t = TestPortal::start().await;
    let shown = record(&t, KEY_ADULT_HOLDING_SHOWN);
    let hidden = record(&t, KEY_ADULT_HOLDING_HIDDEN);
    assert!(shown.holding && hidden.holding, "the demo marks both");
    let mut c = signed_in(&t, ADULT).await;
    let res = c.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(&res);

    let section = html
        .split("<h2 class=\"nhsapp-cards__heading\">On the waiting list</h2>")
        .nth(1)
        .and_then(|rest| rest.split("<h2").next())
        .expect("an \"On the waiting list\" section");
    assert!(
        section.contains(&page_of(KEY_ADULT_HOLDING_SHOWN)),
        "{section}"
    );
    assert!(section.contains("On the waiting list: Gynaecology appointment, Northfield"));
    assert!(
        shows_no_date(&html, shown),
        "no date or time for it: {section}"
    );
    assert!(
        !html.contains(&page_of(KEY_ADULT_HOLDING_HIDDEN)),
        "the hidden one is nowhere"
    );
    assert!(!html.contains("General surgery appointment"));
    // Neither counts as an upcoming appointment.
    let upcoming = html
        .split("Upcoming appointments</h2>")
        .nth(1)
        .and_then(|rest| rest.split("<h2").next())
        .unwrap();
    assert!(!upcoming.contains(&page_of(KEY_ADULT_HOLDING_SHOWN)));
    // A real appointment keeps its date.
    let booked = record(&t, KEY_ADULT_DERMATOLOGY);
    assert!(upcoming.contains(&uk_time::format_date(booked.start)));
}

#[tokio::test]
async fn a_shown_holding_record_has_its_own_page_with_no_date_and_no_actions() {
    let t = TestPortal::start().await;
    let shown = record(&t, KEY_ADULT_HOLDING_SHOWN);
    let mut c = signed_in(&t, ADULT).await;
    let page = page_of(KEY_ADULT_HOLDING_SHOWN);
    let res = c.get(&page).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(&res);
    assert!(html.contains("<h1 class=\"nhsuk-heading-l\">Gynaecology appointment</h1>"));
    assert!(html.contains(">On the waiting list</strong>"), "{html}");
    assert!(shows_no_date(&html, shown), "{html}");
    for action in [
        "/cancel\"",
        "/reschedule\"",
        "/confirm-attendance\"",
        "/calendar\"",
    ] {
        assert!(
            !html.contains(&format!("{page}{action}")),
            "{action} offered: {html}"
        );
    }
    assert!(html.contains("data-nhsapp-appointments"));

    // Every action answered as not possible, also when forged.
    let csrf = csrf_token(&html).expect("a CSRF token");
    for step in ["cancel", "reschedule"] {
        let res = c.get(&format!("{page}/{step}")).await;
        assert!(
            res.status().is_redirection() || res.status().is_client_error(),
            "{step}: {}",
            res.status()
        );
        if let Some(to) = location(&res) {
            assert!(to.ends_with(&page), "{step} goes back to the page: {to}");
        }
    }
    let res = c
        .post_form(
            &format!("{page}/confirm-attendance"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_ne!(
        location(&res).as_deref(),
        Some(format!("{page}/confirm-attendance/done").as_str()),
        "not confirmed"
    );
    let res = c.get(&format!("{page}/calendar")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no calendar file");
    let after = body_text(&c.get(&page).await);
    assert!(after.contains(">On the waiting list</strong>"), "unchanged");
}

#[tokio::test]
async fn a_hidden_holding_record_answers_like_an_unknown_id_even_by_deep_link() {
    let t = TestPortal::start().await;
    let page = page_of(KEY_ADULT_HOLDING_HIDDEN);
    // A deep link, signing in on the way, lands on "you cannot view this appointment".
    let mut c = t.client();
    let landed = c.sign_in_at(&page, ADULT).await;
    assert_eq!(landed.status(), StatusCode::NOT_FOUND);
    assert!(body_text(&landed).contains("You cannot view this appointment"));
    for step in ["", "/cancel", "/reschedule", "/calendar"] {
        let res = c.get(&format!("{page}{step}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{step}");
        assert!(body_text(&res).contains("You cannot view this appointment"));
    }
    let unknown = c
        .get("/patient-portal/appointment/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // And the shown one is still only its own patient's.
    let mut other = signed_in(&t, SECOND_ADULT).await;
    let res = other.get(&page_of(KEY_ADULT_HOLDING_SHOWN)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_pca_never_gets_a_holding_record_and_the_bundle_keeps_to_the_spec() {
    let t = TestPortal::start().await;
    let res = t.get_appointments(ADULT).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    let body: serde_json::Value = if specs_present() {
        check_contract(&res, None)
    } else {
        serde_json::from_slice(res.body()).unwrap()
    };
    let ids: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    for key in [KEY_ADULT_HOLDING_SHOWN, KEY_ADULT_HOLDING_HIDDEN] {
        let id = demo::appointment_id(key);
        assert!(!ids.contains(&id.as_str()), "{key} sent to the PCA");
    }
    assert!(ids.contains(&demo::appointment_id(KEY_ADULT_DERMATOLOGY).as_str()));
    let expected = t
        .demo
        .data
        .appointments
        .iter()
        .filter(|a| a.patient.as_str() == ADULT && !a.holding)
        .count();
    assert_eq!(ids.len(), expected, "every other appointment is sent");
    assert_eq!(body["total"], expected);
}
