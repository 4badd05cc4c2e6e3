//! "No double booking" for the FHIR adapter, raced for real: two adapters (two portal
//! instances) reschedule two patients' appointments into one free slot at the same instant, on
//! a multi-threaded runtime, round after round, against [`FhirPeer`], a test peer that answers
//! requests concurrently and checks `If-Match` versions (the Medplum peer handles one request at
//! a time, so there the two calls only take turns).
//!
//! Each round must have exactly one winner, whose appointment now sits in the slot; the other
//! gets `SlotUnavailable` and its appointment is unchanged; the slot is claimed for the winner
//! and the winner's old slot is free again.

use std::sync::Arc;

use chrono::{Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use nhs_portal_pas::fhir::{FhirPas, map};
use nhs_portal_pas::{PasBackend, PasError};
use nhs_portal_tests::fhir_peer::{FhirPeer, slot_refs};
use serde_json::{Value, json};

const ROUNDS: usize = 30;
const ADULT: &str = "9000000009";
const SECOND_ADULT: &str = "9000000017";

fn adapter(peer: &FhirPeer) -> FhirPas {
    FhirPas::new(peer.adapter_config(), Arc::new(SystemClock)).unwrap()
}

fn patient(id: &str, nhs: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "id": id,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
        "birthDate": "1980-01-01",
    })
}

fn slot(id: &str, days: i64) -> Value {
    let start = Utc::now() + Duration::days(days);
    json!({
        "resourceType": "Slot",
        "id": id,
        "schedule": {"reference": "Schedule/dermatology"},
        "status": "free",
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
    })
}

fn appointment(id: &str, patient_id: &str, slot_id: &str, days: i64) -> Value {
    let start = Utc::now() + Duration::days(days);
    json!({
        "resourceType": "Appointment",
        "id": id,
        "status": "booked",
        "description": "Dermatology appointment",
        "specialty": [{"coding": [{
            "system": map::LEGACY_SPECIALTY_SYSTEM,
            "code": "330",
            "display": "DERMATOLOGY",
        }]}],
        "start": map::format_instant(start),
        "end": map::format_instant(start + Duration::minutes(20)),
        "slot": [{"reference": format!("Slot/{slot_id}")}],
        "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_adapters_racing_for_one_slot_never_double_book() {
    let peer = FhirPeer::start().await;
    peer.put(patient("pat-a", ADULT));
    peer.put(patient("pat-b", SECOND_ADULT));
    peer.put(slot("home-a", 3));
    peer.put(slot("home-b", 4));
    peer.put(appointment("appt-a", "pat-a", "home-a", 3));
    peer.put(appointment("appt-b", "pat-b", "home-b", 4));
    // Two portal instances, each with its own adapter and HTTP client.
    let first = Arc::new(adapter(&peer));
    let second = Arc::new(adapter(&peer));
    let a = (
        NhsNumber::parse(ADULT).unwrap(),
        AppointmentId::parse("appt-a").unwrap(),
    );
    let b = (
        NhsNumber::parse(SECOND_ADULT).unwrap(),
        AppointmentId::parse("appt-b").unwrap(),
    );

    let mut wins = [0usize; 2];
    for round in 0..ROUNDS {
        let slot_id = format!("race-{round}");
        peer.put(slot(&slot_id, 10 + round as i64));
        let current = |who: &(NhsNumber, AppointmentId)| {
            let pas = first.clone();
            let (nhs, id) = who.clone();
            async move { pas.get_appointment(&nhs, &id).await.unwrap().unwrap() }
        };
        let (before_a, before_b) = (current(&a).await, current(&b).await);
        let (raw_a, raw_b) = (
            peer.get("Appointment", "appt-a").unwrap(),
            peer.get("Appointment", "appt-b").unwrap(),
        );
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let race = |pas: Arc<FhirPas>, appt: Appointment| {
            let (barrier, slot_id) = (barrier.clone(), slot_id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                pas.reschedule(&appt, &slot_id).await
            })
        };
        // Alternate which instance races for which patient.
        let (ta, tb) = if round % 2 == 0 {
            (
                race(first.clone(), before_a.clone()),
                race(second.clone(), before_b.clone()),
            )
        } else {
            (
                race(second.clone(), before_a.clone()),
                race(first.clone(), before_b.clone()),
            )
        };
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());

        let (winner, winner_raw_before, loser_key, loser_raw_before) = match (ra, rb) {
            (Ok(w), Err(PasError::SlotUnavailable)) => {
                wins[0] += 1;
                (w, raw_a, "appt-b", raw_b)
            }
            (Err(PasError::SlotUnavailable), Ok(w)) => {
                wins[1] += 1;
                (w, raw_b, "appt-a", raw_a)
            }
            (ra, rb) => panic!(
                "round {round}: expected one success and one SlotUnavailable, got {ra:?} and {rb:?}"
            ),
        };
        // The winner is in the slot, in the PAS too.
        let race_slot = peer.get("Slot", &slot_id).unwrap();
        assert_eq!(race_slot["status"], "busy", "round {round}");
        assert_eq!(
            race_slot["extension"][0],
            json!({
                "url": nhs_portal_pas::fhir::BOOKED_FOR_EXTENSION,
                "valueReference": {"reference": format!("Appointment/{}", winner.id.as_str())},
            }),
            "round {round}: the slot is claimed for the winner"
        );
        assert_eq!(
            winner.start,
            map::parse_instant(race_slot["start"].as_str().unwrap()).unwrap()
        );
        let winner_raw = peer.get("Appointment", winner.id.as_str()).unwrap();
        assert_eq!(
            slot_refs(&winner_raw),
            [format!("Slot/{slot_id}")],
            "round {round}"
        );
        // Its old slot is free again.
        for old in slot_refs(&winner_raw_before) {
            let old = peer.get("Slot", old.trim_start_matches("Slot/")).unwrap();
            assert_eq!(
                old["status"], "free",
                "round {round}: the winner's old slot"
            );
        }
        // The loser is exactly as it was.
        let mut loser_now = peer.get("Appointment", loser_key).unwrap();
        let mut loser_was = loser_raw_before;
        loser_now["meta"] = Value::Null;
        loser_was["meta"] = Value::Null;
        assert_eq!(loser_now, loser_was, "round {round}: the loser changed");
    }
    assert_eq!(wins.iter().sum::<usize>(), ROUNDS);
    eprintln!("wins (first patient, second patient): {wins:?}");
}
