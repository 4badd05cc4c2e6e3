//! FHIR Subscriptions through the running reference portal: the binary in live mode, with a
//! trusts file whose request-only trust names the Rust test peer (`FhirPeer`, Subscriptions on)
//! and a `[trust.subscription]`. The portal subscribes at start-up and answers the peer's
//! handshake on its own `/fhir-notifications/{ODS code}` route; a patient asks to cancel; the
//! trust cancels in its PAS and the peer notifies the portal, which answers 200 only once the
//! change is stored; Wayfinder then gets the cancellation. The feed's safety-net poll runs every
//! five minutes here, so an event within the test's minute came from the notification. A
//! notification with another secret, or for a trust that does not subscribe, is refused.
//!
//! Needs Node and the peers' packages (the NHS login stand-in; `bash scripts/setup-node`);
//! without them it says it was skipped (with `CI` set it fails).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use http::StatusCode;
use nhs_portal_pas::demo;
use nhs_portal_pas::fhir::map;
use nhs_portal_tests::browser::Browser;
use nhs_portal_tests::csrf_token;
use nhs_portal_tests::fhir_peer::{FhirPeer, PeerOptions};
use nhs_portal_tests::live::{LiveStandIns, start_portal};
use nhs_portal_tests::reporting_service::ReportingService;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");
const SECRET: &str = "a-notification-secret-of-40-characters-ok";
const APPOINTMENT: &str = "appt-notified";

/// The adult demo patient and one booked appointment of theirs at the request-only trust.
fn seed(peer: &FhirPeer) {
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-adult", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": demo::ADULT}]}),
    );
    let start = Utc::now() + chrono::Duration::days(12);
    let trust = demo::request_only_trust();
    peer.put(json!({
        "resourceType": "Appointment", "id": APPOINTMENT, "status": "booked",
        "description": "Dermatology follow-up (notified)",
        "specialty": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Specialty-1",
            "code": "330", "display": "DERMATOLOGY"}]}],
        "start": map::format_instant(start),
        "end": map::format_instant(start + chrono::Duration::minutes(20)),
        "participant": [
            {"actor": {"reference": "Patient/pat-adult"}, "status": "accepted"},
            {"actor": {"type": "Location", "display": trust.name,
                "identifier": {"system": map::ODS_SYSTEM, "value": trust.ods_code.as_str()}},
             "status": "accepted"},
        ],
    }));
}

/// Both demo trusts: the real-time one on the stand-ins' Medplum, the request-only one on
/// `peer`, subscribed.
fn trusts_file(stand_ins: &LiveStandIns, peer: &FhirPeer) -> String {
    let rt = demo::real_time_trust();
    let ro = demo::request_only_trust();
    format!(
        "[[trust]]\nods_code = \"{}\"\nname = \"{}\"\nfhir_base_url = \"{}\"\n\
         capabilities = \"real-time\"\nminimum_age = 16\n\n[trust.auth]\n\
         bearer_token_file = \"pas-token\"\n\n\
         [[trust]]\nods_code = \"{}\"\nname = \"{}\"\nfhir_base_url = \"{}\"\n\
         capabilities = \"request-only\"\nminimum_age = 16\n\n[trust.auth]\n\
         bearer_token_file = \"pas-token\"\n\n[trust.subscription]\n\
         secret_file = \"notify-secret\"\n",
        rt.ods_code.as_str(),
        rt.name,
        stand_ins.pas.base,
        ro.ods_code.as_str(),
        ro.name,
        peer.base_url(),
    )
}

/// The statuses of the peer's queued notifications once the portal has subscribed (its
/// handshake is queued by then), waiting up to 30 seconds.
async fn handshake(peer: &FhirPeer) -> Vec<u16> {
    for _ in 0..300 {
        let sent = peer.deliver_notifications().await;
        if !sent.is_empty() {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the portal never subscribed");
}

/// Whether Wayfinder receives an `APPT-CANC` event for `appointment` within a minute (other
/// events, and the demo's own cancellations the first poll reports, pass by).
async fn cancellation_reported(wayfinder: &mut ReportingService, appointment: &str) -> bool {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < until {
        let batch = wayfinder.next_batch().await;
        if batch.as_array().into_iter().flatten().any(|e| {
            e["EventCode"] == "APPT-CANC" && e["AppointmentId"].as_str() == Some(appointment)
        }) {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_reaches_the_running_portal_and_its_change_is_reported() {
    let Some(stand_ins) = LiveStandIns::start().await else {
        return;
    };
    let peer = FhirPeer::start_with(PeerOptions {
        subscriptions: true,
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let dir = stand_ins.dir.path();
    std::fs::write(dir.join("notify-secret"), SECRET).unwrap();
    std::fs::write(dir.join("trusts.toml"), trusts_file(&stand_ins, &peer)).unwrap();
    let mut wayfinder = ReportingService::api_key().await;
    let mut env = stand_ins.env();
    env.extend(wayfinder.env());
    let portal = start_portal(Path::new(BIN), &env, dir);
    let base = portal.base_url.clone();
    let ods = demo::REQUEST_ONLY_TRUST_ODS;

    // The portal registered a Subscription posting to its own route, and answered its
    // handshake there.
    assert_eq!(handshake(&peer).await, [200], "the handshake");
    let sent = peer.notifications_sent();
    assert_eq!(sent.len(), 1);

    // The patient asks the request-only trust to cancel the appointment.
    let mut patient = Browser::new();
    let page = patient
        .get_following(&format!("{base}/patient-portal/appointments"))
        .await;
    let page = patient.submit(&page, &[("nhs_number", demo::ADULT)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}: {}", page.url, page.body);
    let at = format!("{base}/patient-portal/appointment/{APPOINTMENT}");
    assert!(
        page.body.contains(&format!("/appointment/{APPOINTMENT}")),
        "{}",
        page.body
    );
    let view = patient.get(&at).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    let csrf = csrf_token(&view.body).expect("a CSRF token");
    let sent_page = patient.cancel_through_pages(&at, &csrf).await;
    assert_eq!(sent_page.status, StatusCode::OK, "{}", sent_page.body);
    assert_eq!(
        peer.get("Appointment", APPOINTMENT).unwrap()["status"],
        "booked",
        "a request only: the PAS is unchanged"
    );

    // The booking team cancels it in the PAS, as asked; the peer notifies the portal, which
    // answers 200 once the change is stored.
    peer.edit("Appointment", APPOINTMENT, |a: &mut Value| {
        a["status"] = json!("cancelled");
        a["cancelationReason"] =
            json!({"coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "pat"}]});
    });
    assert_eq!(
        peer.deliver_notifications().await,
        [200],
        "the event notification"
    );
    assert!(
        cancellation_reported(&mut wayfinder, APPOINTMENT).await,
        "Wayfinder hears of the cancellation from the notification (the poll is 5 minutes away)"
    );

    // The same notification with another secret, or for a trust that does not subscribe
    // (the real-time one), is refused.
    let body = peer.notifications_sent().last().unwrap().to_string();
    let http = reqwest::Client::new();
    for (trust, secret, expected) in [
        (
            ods,
            "not-the-secret-at-all-but-long-enough-1",
            StatusCode::UNAUTHORIZED,
        ),
        (demo::REAL_TIME_TRUST_ODS, SECRET, StatusCode::NOT_FOUND),
    ] {
        let res = http
            .post(format!("{base}/fhir-notifications/{trust}"))
            .header("content-type", "application/fhir+json")
            .header("authorization", format!("Bearer {secret}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "{trust}");
    }
}
