//! A client-managed move (three writes, no transactions) that stops half way, the PAS going
//! down after the claim or after the move ([`FhirPeer::fail_after_writes`]), is finished or
//! undone from the server's own state by `FhirPas::reconcile` (run by each poll of the feed):
//! afterwards the appointment holds exactly one slot, the other is free, and the patient sees
//! where the appointment is.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::{AppointmentId, NhsNumber};
use nhs_portal_pas::fhir::{FhirPas, Reconciled, map};
use nhs_portal_pas::{PasBackend, PasError};
use nhs_portal_tests::fhir_peer::{FhirPeer, slot_refs};
use serde_json::{Value, json};

const ADULT: &str = "9000000009";
const TFC: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";

fn at(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

fn slot(sid: &str, start: DateTime<Utc>, status: &str) -> Value {
    json!({"resourceType": "Slot", "id": sid, "status": status,
        "schedule": {"reference": "Schedule/derm"},
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20))})
}

/// When the two seeded slots start, whole seconds as the PAS stores them: compared with what the
/// patient is shown, not recomputed from a later "now" (which crossed a minute boundary in CI).
struct Starts {
    home: i64,
    free: i64,
}

/// appt-a in home-a (booked by the trust: no mark), free-1 free in the same clinic.
async fn seeded() -> (FhirPeer, FhirPas, Starts) {
    let (home, free) = (at(10), at(5));
    let starts = Starts {
        home: home.timestamp(),
        free: free.timestamp(),
    };
    let peer = FhirPeer::start().await;
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-a", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}),
    );
    peer.put(slot("home-a", home, "busy"));
    peer.put(slot("free-1", free, "free"));
    let start = home;
    peer.put(json!({
        "resourceType": "Appointment", "id": "appt-a", "status": "booked",
        "specialty": [{"coding": [{"system": TFC, "code": "330", "display": "DERMATOLOGY"}]}],
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
        "slot": [{"reference": "Slot/home-a"}],
        "participant": [
            {"actor": {"reference": "Patient/pat-a"}, "status": "accepted"},
            {"actor": {"type": "Location", "display": "Northfield Teaching Hospitals NHS Foundation Trust",
                "identifier": {"system": map::ODS_SYSTEM, "value": "R9N"}}, "status": "accepted"},
        ],
    }));
    let mut cfg = peer.adapter_config();
    cfg.retries = 1;
    // The test's moves are over when reconcile runs; a portal waits a minute.
    cfg.feed.reconcile_after = Duration::zero();
    let pas = FhirPas::new(cfg, Arc::new(SystemClock)).unwrap();
    (peer, pas, starts)
}

async fn move_to_free_1(pas: &FhirPas) -> Result<nhs_portal_core::Appointment, PasError> {
    let a = pas
        .get_appointment(
            &NhsNumber::parse(ADULT).unwrap(),
            &AppointmentId::parse("appt-a").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    pas.reschedule(&a, "free-1").await
}

fn status(peer: &FhirPeer, sid: &str) -> String {
    peer.get("Slot", sid).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Where the PAS has appt-a, and the two slots' statuses.
fn state(peer: &FhirPeer) -> (Vec<String>, String, String) {
    (
        slot_refs(&peer.get("Appointment", "appt-a").unwrap()),
        status(peer, "home-a"),
        status(peer, "free-1"),
    )
}

/// FHIR instants in searches are whole seconds: a claim is older than "now" a second later.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn a_move_stopped_after_the_claim_is_undone() {
    let (peer, pas, starts) = seeded().await;
    let since = Utc::now() - Duration::seconds(1);
    // Down after the claim: the move fails, and so does undoing the claim.
    peer.fail_after_writes(1, 503);
    assert!(move_to_free_1(&pas).await.is_err());
    peer.recover();
    assert_eq!(
        state(&peer),
        (vec!["Slot/home-a".into()], "busy".into(), "busy".into()),
        "half done: both slots held"
    );
    settle().await;
    let done = pas.reconcile(since).await.unwrap();
    assert_eq!((done.undone, done.finished), (1, 0));
    assert_eq!(
        state(&peer),
        (vec!["Slot/home-a".into()], "busy".into(), "free".into())
    );
    assert!(
        peer.get("Slot", "free-1")
            .unwrap()
            .get("extension")
            .is_none()
    );
    // The patient sees the appointment where it is.
    let shown = pas
        .list_appointments(&NhsNumber::parse(ADULT).unwrap())
        .await
        .unwrap();
    assert_eq!(
        shown[0].start.timestamp(),
        starts.home,
        "still at its first time"
    );
    assert_eq!(pas.reconcile(since).await.unwrap(), Reconciled::default());
}

#[tokio::test]
async fn a_move_stopped_after_the_move_is_finished_by_the_next_poll() {
    let (peer, pas, starts) = seeded().await;
    let since = Utc::now() - Duration::seconds(1);
    // Down after the claim and the move: the old slot is not released.
    peer.fail_after_writes(2, 503);
    let moved = move_to_free_1(&pas).await;
    peer.recover();
    assert!(moved.is_ok(), "the move itself happened: {moved:?}");
    assert_eq!(
        state(&peer),
        (vec!["Slot/free-1".into()], "busy".into(), "busy".into()),
        "half done: both slots held"
    );
    // The feed's poll reconciles first.
    settle().await;
    pas.poll_events(since).await.unwrap();
    assert_eq!(
        state(&peer),
        (vec!["Slot/free-1".into()], "free".into(), "busy".into())
    );
    let claimed = peer.get("Slot", "free-1").unwrap();
    assert_eq!(
        claimed["extension"][0]["valueReference"]["reference"],
        "Appointment/appt-a"
    );
    let shown = pas
        .list_appointments(&NhsNumber::parse(ADULT).unwrap())
        .await
        .unwrap();
    assert_eq!(
        shown[0].start.timestamp(),
        starts.free,
        "at the new slot's time"
    );
    // Nothing more to do, and a move in progress is left alone.
    assert_eq!(pas.reconcile(since).await.unwrap(), Reconciled::default());
}

#[tokio::test]
async fn a_claim_younger_than_the_wait_is_left_alone() {
    let (peer, _, _) = seeded().await;
    let mut cfg = peer.adapter_config();
    cfg.retries = 1;
    let pas = FhirPas::new(cfg, Arc::new(SystemClock)).unwrap();
    let since = Utc::now() - Duration::seconds(1);
    peer.fail_after_writes(1, 503);
    assert!(move_to_free_1(&pas).await.is_err());
    peer.recover();
    settle().await;
    assert_eq!(pas.reconcile(since).await.unwrap(), Reconciled::default());
    assert_eq!(status(&peer, "free-1"), "busy", "perhaps still moving");
}
