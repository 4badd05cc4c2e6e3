//! One deadline per portal call (`FhirPasConfig::deadline`): a FHIR PAS that never answers, or
//! answers every retry too late, ends the call with `PasError::Timeout` when the deadline
//! passes, retries and backoff included; a late answer within the deadline is waited for.
//! Timings are only bounded loosely (the machine may be loaded): what matters is the outcome,
//! and that the call ended long before the PAS or the retries would have ended it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_pas::fhir::{FhirPas, FhirPasConfig};
use nhs_portal_pas::{PasBackend, PasError};
use nhs_portal_tests::fhir_peer::{FhirPeer, Hang};
use serde_json::json;

const ADULT: &str = "9000000009";

fn adult() -> NhsNumber {
    NhsNumber::parse(ADULT).unwrap()
}

/// A peer with the adult and one booked appointment.
async fn peer() -> FhirPeer {
    let peer = FhirPeer::start().await;
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-a", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}),
    );
    peer.put(
        json!({"resourceType": "Appointment", "id": "appt-a", "status": "booked",
        "specialty": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Specialty-1",
            "code": "330", "display": "DERMATOLOGY"}]}],
        "start": "2031-03-01T09:00:00+00:00", "end": "2031-03-01T09:20:00+00:00",
        "participant": [{"actor": {"reference": "Patient/pat-a"}, "status": "accepted"}]}),
    );
    peer
}

fn adapter(cfg: FhirPasConfig) -> FhirPas {
    FhirPas::new(cfg, Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn a_pas_that_never_answers_ends_the_call_at_its_deadline() {
    let peer = peer().await;
    let mut cfg = peer.adapter_config();
    // Each HTTP call would wait far longer than the portal call may take.
    cfg.timeout = Duration::from_secs(60);
    cfg.deadline = Duration::from_millis(800);
    let pas = adapter(cfg);
    peer.hang_next(1, "Patient", Hang::Forever);
    let started = Instant::now();
    let got = pas.list_appointments(&adult()).await;
    assert!(matches!(got, Err(PasError::Timeout)), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "ended at the deadline, not the HTTP timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(peer.hangs_left(), 0, "the request reached the peer");
    // The PAS answers again: so does the adapter.
    assert_eq!(pas.list_appointments(&adult()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn retries_of_answers_too_late_stop_at_the_deadline() {
    let peer = peer().await;
    let mut cfg = peer.adapter_config();
    cfg.timeout = Duration::from_millis(300);
    cfg.deadline = Duration::from_secs(1);
    // Without the deadline: 11 attempts of 300 ms and backoff from 10 ms doubling, about 24 s.
    cfg.retries = 10;
    let pas = adapter(cfg);
    let planned = 20;
    peer.hang_next(planned, "Patient", Hang::For(Duration::from_secs(5)));
    let started = Instant::now();
    let got = pas.patient(&adult()).await;
    assert!(matches!(got, Err(PasError::Timeout)), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the retries stopped at the deadline: {:?}",
        started.elapsed()
    );
    // Attempts start at least 300 ms apart: at most four fit in the second. (That a timed-out
    // attempt is retried at all is the next test's.)
    let attempts = planned - peer.hangs_left();
    assert!(
        (1..=4).contains(&attempts),
        "retried only while the deadline lasts: {attempts} attempts"
    );
}

#[tokio::test]
async fn a_late_answer_is_retried_within_the_deadline() {
    let peer = peer().await;
    let mut cfg = peer.adapter_config();
    cfg.timeout = Duration::from_millis(300);
    cfg.deadline = Duration::from_secs(8);
    let pas = adapter(cfg);
    peer.hang_next(1, "Appointment", Hang::For(Duration::from_secs(3)));
    let got = pas.list_appointments(&adult()).await.unwrap();
    assert_eq!(
        got.len(),
        1,
        "the retry after the timed-out search is answered"
    );
    assert_eq!(peer.hangs_left(), 0);
}

#[tokio::test]
async fn a_write_to_a_pas_that_hangs_is_a_timeout_too() {
    let peer = peer().await;
    let mut cfg = peer.adapter_config();
    cfg.timeout = Duration::from_secs(60);
    cfg.deadline = Duration::from_millis(800);
    let pas = adapter(cfg);
    let a = pas
        .get_appointment(
            &adult(),
            &nhs_portal_core::AppointmentId::parse("appt-a").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    // The cancel's write hangs (its reads are answered).
    peer.hang_next(1, "PUT Appointment/appt-a", Hang::Forever);
    let reason = nhs_portal_pas::CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    };
    let started = Instant::now();
    let got = pas.cancel(&a, &reason).await;
    assert!(matches!(got, Err(PasError::Timeout)), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(peer.hangs_left(), 0, "the write reached the peer");
    assert_eq!(
        peer.get("Appointment", "appt-a").unwrap()["status"],
        "booked"
    );
}
