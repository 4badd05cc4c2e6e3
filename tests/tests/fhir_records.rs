//! What the FHIR adapter reads of a trust's records beyond the Appointment itself, against the
//! test peer: participants named only by reference (no `display`) get the clinician's and the
//! clinic's names, through `_include=Appointment:actor` where the server offers it, else by
//! reading each participant once per portal call, and so are the answers to a cancel and a
//! reschedule and the event feed's snapshots (with the clinic's line from a HealthcareService);
//! and an appointment deleted on the server is reported on the event feed as withdrawn, once,
//! across overlapping polls.

use std::sync::Arc;

use chrono::{Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::store::PasFeedStore;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::{AppointmentId, AppointmentStatus, NhsNumber};
use nhs_portal_pas::fhir::{FhirPas, map};
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_pas::{CancelReason, PasBackend, PasChange};
use nhs_portal_tests::fhir_peer::{FhirPeer, PeerOptions};
use serde_json::{Value, json};

const ADULT: &str = "9000000009";
const TFC: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";

fn adult() -> NhsNumber {
    NhsNumber::parse(ADULT).unwrap()
}

fn id(s: &str) -> AppointmentId {
    AppointmentId::parse(s).unwrap()
}

/// A booked appointment of the adult in `days`, whose other participants are `actors`.
fn appointment(aid: &str, days: i64, actors: &[Value]) -> Value {
    let start = Utc::now() + Duration::days(days);
    let mut participant = vec![
        json!({"actor": {"reference": "Patient/pat-a"}, "status": "accepted"}),
        json!({"actor": {"type": "Location", "display": "Northfield Teaching Hospitals NHS Foundation Trust",
            "identifier": {"system": map::ODS_SYSTEM, "value": "R9N"}}, "status": "accepted"}),
    ];
    participant.extend(
        actors
            .iter()
            .map(|a| json!({"actor": a, "status": "accepted"})),
    );
    json!({
        "resourceType": "Appointment", "id": aid, "status": "booked",
        "specialty": [{"coding": [{"system": TFC, "code": "330", "display": "DERMATOLOGY"}]}],
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
        "participant": participant,
    })
}

/// The adult, a clinician and a clinic, and two appointments naming both only by reference
/// (one of them by an absolute, versioned reference).
async fn peer(options: PeerOptions) -> FhirPeer {
    let peer = FhirPeer::start_with(options).await;
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-a", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}),
    );
    peer.put(json!({"resourceType": "Practitioner", "id": "dr-shah",
        "name": [{"use": "official", "prefix": ["Dr"], "given": ["Amira"], "family": "Shah"}]}));
    peer.put(json!({"resourceType": "Location", "id": "clinic-2", "name": "Outpatients 2"}));
    peer.put(appointment(
        "appt-1",
        10,
        &[
            json!({"reference": "Practitioner/dr-shah"}),
            json!({"reference": "Location/clinic-2"}),
        ],
    ));
    let absolute = format!("{}Practitioner/dr-shah/_history/1", peer.base_url());
    peer.put(appointment(
        "appt-2",
        12,
        &[
            json!({"reference": absolute}),
            json!({"reference": "Location/clinic-2"}),
        ],
    ));
    peer
}

fn adapter(peer: &FhirPeer) -> FhirPas {
    FhirPas::new(peer.adapter_config(), Arc::new(SystemClock)).unwrap()
}

/// How many reads of `kind/id` the peer answered since request `from`.
fn reads(peer: &FhirPeer, from: usize, target: &str) -> usize {
    peer.requests()[from..]
        .iter()
        .filter(|r| r.method == "GET" && r.target == format!("/fhir/{target}"))
        .count()
}

fn names(a: &nhs_portal_core::Appointment) -> (Option<&str>, Option<&str>) {
    (
        a.clinician.as_ref().map(|c| c.name.as_str()),
        a.location.as_ref().map(|l| l.name.as_str()),
    )
}

const NAMED: (Option<&str>, Option<&str>) = (Some("Dr Amira Shah"), Some("Outpatients 2"));

#[tokio::test]
async fn an_actor_without_a_display_still_shows_the_clinicians_and_clinics_names() {
    let peer = peer(PeerOptions::default()).await;
    let pas = adapter(&peer);
    let list = pas.list_appointments(&adult()).await.unwrap();
    assert_eq!(list.len(), 2);
    for a in &list {
        assert_eq!(names(a), NAMED, "{}", a.id);
    }
    let log = peer.requests();
    assert!(
        log.iter()
            .any(|r| r.target.starts_with("/fhir/Appointment?")
                && r.target.contains("_include=Appointment%3Aactor")),
        "the search asks for the actors"
    );
    assert_eq!(
        reads(&peer, 0, "Practitioner/dr-shah"),
        0,
        "included, not read"
    );
    assert_eq!(reads(&peer, 0, "Location/clinic-2"), 0);
    // A single read has no search to include with: the participants are read.
    let before = peer.requests().len();
    let one = pas
        .get_appointment(&adult(), &id("appt-2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&one), NAMED);
    assert_eq!(reads(&peer, before, "Practitioner/dr-shah"), 1);
    assert_eq!(reads(&peer, before, "Location/clinic-2"), 1);
}

#[tokio::test]
async fn where_include_is_not_offered_each_participant_is_read_once_per_call() {
    let peer = peer(PeerOptions {
        no_include: true,
        ..PeerOptions::default()
    })
    .await;
    // A third appointment whose clinician is gone from the PAS: still shown, unnamed.
    peer.put(appointment(
        "appt-3",
        14,
        &[json!({"reference": "Practitioner/dr-gone"})],
    ));
    let pas = adapter(&peer);
    let list = pas.list_appointments(&adult()).await.unwrap();
    assert_eq!(list.len(), 3);
    for a in list.iter().filter(|a| a.id.as_str() != "appt-3") {
        assert_eq!(names(a), NAMED, "{}", a.id);
    }
    let gone = list.iter().find(|a| a.id.as_str() == "appt-3").unwrap();
    assert_eq!(names(gone), (None, None));
    assert!(
        peer.requests()
            .iter()
            .all(|r| !r.target.contains("_include")),
        "a server that does not offer _include is not sent it"
    );
    assert_eq!(reads(&peer, 0, "Practitioner/dr-shah"), 1, "once for both");
    assert_eq!(reads(&peer, 0, "Location/clinic-2"), 1);
    // The next call reads them again (names are not kept between calls).
    let before = peer.requests().len();
    pas.list_appointments(&adult()).await.unwrap();
    assert_eq!(reads(&peer, before, "Practitioner/dr-shah"), 1);
}

#[tokio::test]
async fn a_deleted_appointment_is_withdrawn_once_across_overlapping_polls() {
    let peer = peer(PeerOptions::default()).await;
    let store = Arc::new(MemoryStore::new());
    let pas = Arc::new(adapter(&peer).with_last_seen(store.clone()));
    // The portal has seen every appointment, as a running feed would have.
    for e in pas.poll_events(chrono::DateTime::UNIX_EPOCH).await.unwrap() {
        store.record_seen(&e.seen()).await.unwrap();
    }
    let since = Utc::now();
    peer.delete("Appointment", "appt-1");
    // One the portal never saw, made and deleted between polls: not news.
    peer.put(appointment("appt-brief", 20, &[]));
    peer.delete("Appointment", "appt-brief");

    let first = pas.poll_events(since).await.unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    let e = &first[0];
    assert_eq!(
        (e.appointment.as_str(), &e.change),
        ("appt-1", &PasChange::Withdrawn)
    );
    assert_eq!(e.patient, adult());
    let snapshot = e.snapshot.as_ref().expect("the last version seen");
    assert_eq!(snapshot.status, AppointmentStatus::Cancelled);

    let worklist = Worklist::new(store.clone(), pas.clone(), Arc::new(SystemClock));
    let report = worklist.sync_from_pas(since).await.unwrap();
    assert_eq!(report.without_request, 1, "{report:?}");
    // Polls that overlap the first: the deletion is not reported again.
    assert!(pas.poll_events(since).await.unwrap().is_empty());
    assert!(
        pas.poll_events(since - Duration::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        pas.list_appointments(&adult())
            .await
            .unwrap()
            .iter()
            .all(|a| a.id.as_str() != "appt-1")
    );
}

#[tokio::test]
async fn without_a_last_seen_store_each_deletion_in_the_window_is_reported() {
    let peer = peer(PeerOptions::default()).await;
    let pas = adapter(&peer);
    let since = Utc::now();
    peer.delete("Appointment", "appt-2");
    let events = pas.poll_events(since).await.unwrap();
    let withdrawn: Vec<&str> = events
        .iter()
        .filter(|e| e.change == PasChange::Withdrawn)
        .map(|e| e.appointment.as_str())
        .collect();
    assert_eq!(withdrawn, ["appt-2"]);
}

/// The clinic's line the HealthcareService of the changes' test gives.
const LINE: Option<(&str, Option<&str>)> =
    Some(("01632 960 444", Some("Monday to Friday, 9am to 5pm")));

fn line(a: &nhs_portal_core::Appointment) -> Option<(&str, Option<&str>)> {
    a.contact
        .as_ref()
        .map(|c| (c.phone.as_str(), c.hours.as_deref()))
}

#[tokio::test]
async fn the_answers_to_a_cancel_and_a_reschedule_and_the_feeds_snapshots_are_named_too() {
    let peer = peer(PeerOptions::default()).await;
    peer.put(json!({"resourceType": "HealthcareService", "id": "hs-derm",
        "telecom": [{"system": "phone", "value": "01632 960 444"}],
        "availableTime": [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
            "availableStartTime": "09:00:00", "availableEndTime": "17:00:00"}]}));
    let actors = [
        json!({"reference": "Practitioner/dr-shah"}),
        json!({"reference": "Location/clinic-2"}),
        json!({"reference": "HealthcareService/hs-derm"}),
    ];
    peer.put(appointment("appt-5", 10, &actors));
    peer.put(appointment("appt-6", 11, &actors));
    let free = Utc::now() + Duration::days(5);
    peer.put(
        json!({"resourceType": "Slot", "id": "free-1", "status": "free",
        "specialty": [{"coding": [{"system": TFC, "code": "330"}]}],
        "start": map::format_instant(free),
        "end": map::format_instant(free + Duration::minutes(20))}),
    );
    let pas = adapter(&peer);
    let since = Utc::now();

    let a5 = pas
        .get_appointment(&adult(), &id("appt-5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((names(&a5), line(&a5)), (NAMED, LINE));
    let reason = CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    };
    let cancelled = pas.cancel(&a5, &reason).await.unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!((names(&cancelled), line(&cancelled)), (NAMED, LINE));
    // Cancelling again answers the appointment as it is, named as well.
    let again = pas.cancel(&a5, &reason).await.unwrap();
    assert_eq!((names(&again), line(&again)), (NAMED, LINE));

    let a6 = pas
        .get_appointment(&adult(), &id("appt-6"))
        .await
        .unwrap()
        .unwrap();
    let moved = pas.reschedule(&a6, "free-1").await.unwrap();
    assert!((moved.start - free).num_seconds().abs() < 2, "{moved:?}");
    assert_eq!((names(&moved), line(&moved)), (NAMED, LINE));

    // The feed's snapshots (the cancel, read with the new booking as one move, and the
    // appointments made before).
    let events = pas.poll_events(since).await.unwrap();
    assert!(
        events.iter().any(|e| e.appointment.as_str() == "appt-5"),
        "{events:?}"
    );
    for e in &events {
        let snapshot = e.snapshot.as_ref().expect("a snapshot");
        assert_eq!(names(snapshot), NAMED, "{}", e.appointment);
        if ["appt-5", "appt-6"].contains(&e.appointment.as_str()) {
            assert_eq!(line(snapshot), LINE, "{}", e.appointment);
        }
    }
}
