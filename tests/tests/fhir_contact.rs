//! The clinic's phone line and opening hours from the PAS, through the running portal: the
//! demo portal's pages served from a `FhirPas` against the FHIR test peer, which holds the demo
//! adult and appointments whose `HealthcareService` or `Location` may carry a phone and hours.
//! The appointment page shows the PAS's line (the service's before the place's, its hours in
//! words) before the trust's configured clinic line, the configured line when the PAS gives
//! none or a blank one, and still shows the page, with the configured line, when the peer
//! cannot serve the Location.

use std::sync::Arc;

use chrono::{Duration, Utc};
use http::StatusCode;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_pas::demo::{self, ADULT};
use nhs_portal_pas::fhir::{FhirPas, map};
use nhs_portal_tests::fhir_peer::{FhirPeer, PeerOptions};
use nhs_portal_tests::{Client, TestPortal, body_text};
use serde_json::{Value, json};

const TFC: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";
const SERVICE_PHONE: &str = "01632 960 777";
const LOCATION_PHONE: &str = "01632 960 888";
const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];

/// A booked appointment of the demo adult in ten days, in specialty `tfc`, whose other
/// participants are `actors` (the trust is the adapter's, the demo's real-time trust).
fn appointment(aid: &str, tfc: &str, actors: &[Value]) -> Value {
    let start = Utc::now() + Duration::days(10);
    let mut participant =
        vec![json!({"actor": {"reference": "Patient/pat-a"}, "status": "accepted"})];
    participant.extend(
        actors
            .iter()
            .map(|a| json!({"actor": a, "status": "accepted"})),
    );
    json!({
        "resourceType": "Appointment", "id": aid, "status": "booked",
        "specialty": [{"coding": [{"system": TFC, "code": tfc}]}],
        "description": "Skin clinic appointment",
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
        "participant": participant,
    })
}

fn phone(value: &str) -> Value {
    json!([{"system": "phone", "value": value, "use": "work"}])
}

/// The peer, holding the adult (with the date of birth NHS login gives) and the resources each
/// appointment's participants refer to.
async fn peer(options: PeerOptions) -> FhirPeer {
    let peer = FhirPeer::start_with(options).await;
    let adult = demo::patients(Utc::now())
        .into_iter()
        .find(|p| p.record.nhs_number.as_str() == ADULT)
        .expect("the demo adult");
    peer.put(json!({"resourceType": "Patient", "id": "pat-a",
        "birthDate": adult.nhs_login_dob().to_string(),
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}));
    peer.put(json!({"resourceType": "HealthcareService", "id": "hs-skin", "name": "Skin clinic",
        "telecom": phone(SERVICE_PHONE),
        "availableTime": [
            {"daysOfWeek": WEEKDAYS, "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
            {"daysOfWeek": ["sat"], "availableStartTime": "09:00:00", "availableEndTime": "12:30:00"},
        ]}));
    peer.put(
        json!({"resourceType": "HealthcareService", "id": "hs-bad-hours",
        "telecom": phone(SERVICE_PHONE),
        "availableTime": [{"daysOfWeek": WEEKDAYS, "availableStartTime": "8am"}]}),
    );
    peer.put(
        json!({"resourceType": "HealthcareService", "id": "hs-blank",
        "telecom": [{"system": "phone", "value": "  "}],
        "availableTime": [{"daysOfWeek": ["sat"], "allDay": true}]}),
    );
    peer.put(
        json!({"resourceType": "Location", "id": "loc-phone", "name": "Outpatients 1",
        "status": "active", "telecom": phone(LOCATION_PHONE),
        "hoursOfOperation": [{"daysOfWeek": ["mon", "wed", "fri"], "allDay": true}]}),
    );
    peer.put(json!({"resourceType": "Location", "id": "loc-plain", "name": "Outpatients 2"}));
    peer.put(
        json!({"resourceType": "Location", "id": "loc-deleted", "name": "Outpatients 4",
        "telecom": phone(LOCATION_PHONE)}),
    );
    peer.delete("Location", "loc-deleted");
    // A place the peer holds but cannot serve: every read of it answers 503.
    peer.put(
        json!({"resourceType": "Location", "id": "loc-down", "name": "Outpatients 5",
        "telecom": phone(LOCATION_PHONE)}),
    );
    peer.fail_always("Location", "loc-down", 503);
    let service = |id: &str| json!({"reference": format!("HealthcareService/{id}")});
    let place =
        |id: &str, name: &str| json!({"reference": format!("Location/{id}"), "display": name});
    let rows: [(&str, &str, Vec<Value>); 9] = [
        // The service's line beats the place's.
        (
            "appt-service",
            "330",
            vec![service("hs-skin"), place("loc-phone", "Outpatients 1")],
        ),
        (
            "appt-place",
            "330",
            vec![place("loc-phone", "Outpatients 1")],
        ),
        // A place the PAS names by reference only: read for its name and its line.
        (
            "appt-place-unnamed",
            "330",
            vec![json!({"reference": "Location/loc-phone"})],
        ),
        ("appt-bad-hours", "330", vec![service("hs-bad-hours")]),
        // A blank phone is no line: the place's, then the configuration, are asked.
        (
            "appt-blank",
            "330",
            vec![service("hs-blank"), place("loc-plain", "Outpatients 2")],
        ),
        (
            "appt-plain",
            "330",
            vec![place("loc-plain", "Outpatients 2")],
        ),
        // A place the peer cannot serve (never there, deleted, down).
        (
            "appt-missing",
            "330",
            vec![place("loc-missing", "Outpatients 3"), service("hs-missing")],
        ),
        (
            "appt-deleted",
            "101",
            vec![place("loc-deleted", "Outpatients 4")],
        ),
        ("appt-down", "330", vec![place("loc-down", "Outpatients 5")]),
    ];
    for (aid, tfc, actors) in rows {
        peer.put(appointment(aid, tfc, &actors));
    }
    let mut cancelled = appointment("appt-cancelled", "330", &[service("hs-skin")]);
    cancelled["status"] = json!("cancelled");
    cancelled["cancelationReason"] =
        json!({"coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "prov"}]});
    peer.put(cancelled);
    peer
}

/// The demo portal whose pages are served from a `FhirPas` on the peer, as the demo's
/// real-time trust; and the signed-in adult.
async fn portal(options: PeerOptions) -> (TestPortal, FhirPeer, Client) {
    let peer = peer(options).await;
    let mut cfg = peer.adapter_config();
    cfg.organisation = demo::real_time_trust();
    let pas = FhirPas::new(cfg, Arc::new(SystemClock)).expect("an adapter for the peer");
    let t = TestPortal::builder().pas(Arc::new(pas)).start().await;
    let mut patient = t.client();
    let list = patient.sign_in_as(ADULT).await;
    assert_eq!(list.status(), StatusCode::OK, "{}", body_text(&list));
    (t, peer, patient)
}

async fn page(patient: &mut Client, aid: &str) -> String {
    let res = patient
        .get(&format!("/patient-portal/appointment/{aid}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{aid}: {}", body_text(&res));
    body_text(&res)
}

/// The contact block as the page renders it: heading, `tel:` link and, if any, the hours.
fn contact_block(
    heading: &str,
    phone: &str,
    hours: Option<&str>,
) -> (String, String, Option<String>) {
    let tel: String = phone.chars().filter(char::is_ascii_digit).collect();
    (
        format!(">{heading}</h2>"),
        format!("Call <a href=\"tel:{tel}\">{phone}</a>"),
        hours.map(|h| format!("Lines are open {h}.")),
    )
}

/// A phone number and its hours, if the page gives them.
type Line = (&'static str, Option<&'static str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appointment_page_gives_the_pas_line_first_else_the_trusts_configured_one() {
    let (_t, _peer, mut patient) = portal(PeerOptions::default()).await;
    let clinic = (
        demo::DERMATOLOGY_CLINIC_PHONE,
        Some("Monday to Friday, 9am to 4:30pm"),
    );
    // (appointment, heading, (phone, hours), a place name the page shows)
    let table: [(&str, &str, Line, Option<&str>); 9] = [
        (
            "appt-service",
            "Contact the clinic",
            (
                SERVICE_PHONE,
                Some("Monday to Friday, 8am to 6pm; Saturday, 9am to 12:30pm"),
            ),
            Some("Outpatients 1"),
        ),
        (
            "appt-place",
            "Contact the clinic",
            (
                LOCATION_PHONE,
                Some("Monday, Wednesday and Friday, 24 hours"),
            ),
            Some("Outpatients 1"),
        ),
        (
            "appt-place-unnamed",
            "Contact the clinic",
            (
                LOCATION_PHONE,
                Some("Monday, Wednesday and Friday, 24 hours"),
            ),
            Some("Outpatients 1"),
        ),
        // Hours the PAS sends that cannot be read whole: its phone, no hours.
        (
            "appt-bad-hours",
            "Contact the clinic",
            (SERVICE_PHONE, None),
            None,
        ),
        (
            "appt-blank",
            "Contact the clinic",
            clinic,
            Some("Outpatients 2"),
        ),
        (
            "appt-plain",
            "Contact the clinic",
            clinic,
            Some("Outpatients 2"),
        ),
        (
            "appt-missing",
            "Contact the clinic",
            clinic,
            Some("Outpatients 3"),
        ),
        // A place whose reads the PAS does not answer (503, retried): the page is still shown.
        (
            "appt-down",
            "Contact the clinic",
            clinic,
            Some("Outpatients 5"),
        ),
        // No clinic configured for this specialty: the trust's booking team.
        (
            "appt-deleted",
            "Contact the booking team",
            (
                demo::REAL_TIME_TRUST_PHONE,
                Some("Monday to Friday, 8am to 6pm"),
            ),
            Some("Outpatients 4"),
        ),
    ];
    for (aid, heading, (phone, hours), place) in table {
        let html = page(&mut patient, aid).await;
        let (h, call, open) = contact_block(heading, phone, hours);
        assert!(html.contains(&h), "{aid}: {html}");
        assert!(html.contains(&call), "{aid}: {call} in {html}");
        match open {
            Some(open) => assert!(html.contains(&open), "{aid}: {open} in {html}"),
            None => assert!(!html.contains("Lines are open"), "{aid}: {html}"),
        }
        for other in [
            SERVICE_PHONE,
            LOCATION_PHONE,
            demo::DERMATOLOGY_CLINIC_PHONE,
        ] {
            if other != phone {
                assert!(!html.contains(other), "{aid}: {other} shown: {html}");
            }
        }
        if let Some(place) = place {
            assert!(html.contains(place), "{aid}: {place} in {html}");
        }
    }
    // A hospital-cancelled appointment's "what happens now" gives the PAS's line too.
    let html = page(&mut patient, "appt-cancelled").await;
    assert!(
        html.contains(&format!(
            "or you have questions, call {SERVICE_PHONE} (Monday to Friday, 8am to 6pm; Saturday, 9am to 12:30pm)."
        )),
        "{html}"
    );
}

/// How many reads of `target` the peer answered since request `from`.
fn reads(peer: &FhirPeer, from: usize, target: &str) -> usize {
    peer.requests()[from..]
        .iter()
        .filter(|r| r.method == "GET" && r.target == format!("/fhir/{target}"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_and_places_are_read_once_per_page_or_taken_from_the_lists_include() {
    let (_t, peer, mut patient) = portal(PeerOptions {
        no_include: true,
        ..PeerOptions::default()
    })
    .await;
    let before = peer.requests().len();
    let html = page(&mut patient, "appt-service").await;
    assert!(html.contains(SERVICE_PHONE), "{html}");
    assert_eq!(reads(&peer, before, "HealthcareService/hs-skin"), 1);
    // The place is still read (it may carry the line), once.
    assert_eq!(reads(&peer, before, "Location/loc-phone"), 1);

    // With _include, the list's search brings them: the list page reads none.
    let (_t, peer, mut patient) = portal(PeerOptions::default()).await;
    let before = peer.requests().len();
    let res = patient.get("/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(reads(&peer, before, "HealthcareService/hs-skin"), 0);
    assert_eq!(reads(&peer, before, "Location/loc-phone"), 0);
}
