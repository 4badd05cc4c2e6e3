//! "Add to calendar" through the demo portal, as patients meet it: the link on the appointment
//! page, the iCalendar file it gives (read back by an independent parser), what a cancellation
//! does to it, and that it is the signed-in patient's only.

use chrono::Duration;
use http::{StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, KEY_ADULT_DERMATOLOGY, SECOND_ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token};
use std::collections::BTreeMap;

fn page_of(id: &impl std::fmt::Display) -> String {
    format!("/patient-portal/appointment/{id}")
}

/// The `href` of the link whose text is `label` on `html`, if there is one.
fn link_href(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!(">{label}</a>"))?;
    let start = html[..end].rfind("<a ")?;
    let tag = &html[start..end];
    let from = tag.find("href=\"")? + 6;
    let to = tag[from..].find('"')? + from;
    Some(tag[from..to].replace("&#x2F;", "/").replace("&#x3D;", "="))
}

/// The calendar's and its event's properties, by name, read by the `ical` crate.
fn parse(ics: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let calendar = ical::IcalParser::new(ics.as_bytes())
        .next()
        .expect("a calendar")
        .expect("a file the parser accepts");
    assert_eq!(calendar.events.len(), 1, "one event");
    let props = |ps: &[ical::property::Property]| {
        ps.iter()
            .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
            .collect::<BTreeMap<_, _>>()
    };
    (
        props(&calendar.properties),
        props(&calendar.events[0].properties),
    )
}

async fn calendar_file(patient: &mut Client, href: &str) -> String {
    let res = patient.get(href).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/calendar; charset=utf-8"
    );
    assert!(
        res.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    body_text(&res)
}

fn utc(value: &str) -> chrono::DateTime<chrono::Utc> {
    assert!(value.ends_with('Z'), "{value} is in UTC");
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc()
}

#[tokio::test]
async fn add_to_calendar_gives_the_appointments_instant_and_a_cancellation_removes_it() {
    let t = TestPortal::start().await;
    let id = demo::appointment_id(KEY_ADULT_DERMATOLOGY);
    let start = t.demo.pas.inspect_appointment(&id).unwrap().start;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let html = body_text(&patient.get(&page_of(&id)).await);
    let href = link_href(&html, "Add to calendar").expect("an Add to calendar link");
    assert_eq!(href, format!("{}/calendar", page_of(&id)));
    assert!(html.contains("data-nhsapp-calendar"), "{html}");
    assert!(
        html.contains(&format!("data-start=\"{}\"", start.timestamp())),
        "the NHS App's event starts at the same instant"
    );

    let (cal, booked) = parse(&calendar_file(&mut patient, &href).await);
    assert_eq!(cal["METHOD"], "PUBLISH");
    assert_eq!(booked["STATUS"], "CONFIRMED");
    assert_eq!(utc(&booked["DTSTART"]), start);
    assert_eq!(booked["URL"], format!("{}{}", t.base_url(), page_of(&id)));
    // A second download of the same appointment keeps its UID.
    t.clock.advance(Duration::seconds(5));
    let (_, again) = parse(&calendar_file(&mut patient, &href).await);
    assert_eq!(again["UID"], booked["UID"]);

    // The patient cancels it in real time; the page then offers to remove it.
    let csrf = csrf_token(&html).unwrap();
    patient.no_longer_needed(&page_of(&id)).await;
    let res = patient
        .post_form(
            &format!("{}/cancel", page_of(&id)),
            &[("csrf_token", &csrf), ("reason", "no-longer-needed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let res = patient
        .post_form(
            &format!("{}/cancel/check", page_of(&id)),
            &[("csrf_token", &csrf), ("idempotency_key", "k-calendar-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    t.clock.advance(Duration::seconds(5));
    let html = body_text(&patient.get(&page_of(&id)).await);
    assert!(link_href(&html, "Add to calendar").is_none(), "{html}");
    let remove = link_href(&html, "Remove from your calendar").expect("a remove link");
    let (cal, cancelled) = parse(&calendar_file(&mut patient, &remove).await);
    assert_eq!(cal["METHOD"], "CANCEL");
    assert_eq!(cancelled["STATUS"], "CANCELLED");
    assert_eq!(cancelled["UID"], booked["UID"]);
    let seq = |m: &BTreeMap<String, String>| m["SEQUENCE"].parse::<i64>().unwrap();
    assert!(seq(&booked) < seq(&again) && seq(&again) < seq(&cancelled));
}

#[tokio::test]
async fn past_appointments_have_no_calendar_link() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    for key in [demo::KEY_ADULT_FULFILLED, demo::KEY_ADULT_NO_SHOW] {
        let html = body_text(&patient.get(&page_of(&demo::appointment_id(key))).await);
        assert!(html.contains("<h1"), "{key}: {html}");
        assert!(!html.contains("data-nhsapp-calendar"), "{key}");
    }
}

#[tokio::test]
async fn the_calendar_file_is_the_signed_in_patients_only() {
    let t = TestPortal::start().await;
    let href = format!(
        "{}/calendar",
        page_of(&demo::appointment_id(KEY_ADULT_DERMATOLOGY))
    );
    // Not signed in: sent to sign in, no file.
    let mut stranger = t.client();
    let res = stranger.get(&href).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!body_text(&res).contains("BEGIN:VCALENDAR"));
    // Another patient (their own cookie jar): the answer of an unknown appointment.
    let mut other = t.client();
    other.sign_in_as(SECOND_ADULT).await;
    let theirs = other.get(&href).await;
    let unknown = other
        .get("/patient-portal/appointment/no-such-appointment-id/calendar")
        .await;
    assert_eq!(theirs.status(), unknown.status());
    assert_ne!(theirs.status(), StatusCode::OK);
    assert!(!body_text(&theirs).contains("BEGIN:VCALENDAR"));
    assert!(!body_text(&theirs).contains("Dermatology"));
}
