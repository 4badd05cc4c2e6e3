//! Tests of the simulated PAS.

use super::*;
use crate::PasChange;
use std::time::Duration;

use chrono::{Duration as CDuration, TimeZone};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::request_status::RequestOutcome;
use nhs_portal_core::{
    AppointmentType, ConsultationMedium, Location, OdsCode, Organisation, Specialty,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap()
}

fn org(code: &str) -> Organisation {
    Organisation {
        ods_code: OdsCode::parse(code).unwrap(),
        name: format!("Trust {code}"),
    }
}

fn p(n: &str) -> NhsNumber {
    NhsNumber::parse(n).unwrap()
}

fn appt(patient: &str, trust: &str, days: i64) -> Appointment {
    Appointment {
        id: AppointmentId::new_random(),
        patient: p(patient),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Dermatology appointment".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start: t0() + CDuration::days(days),
        end: Some(t0() + CDuration::days(days) + CDuration::minutes(20)),
        medium: ConsultationMedium::FaceToFace,
        priority: None,
        location: Some(Location {
            name: "Clinic A".into(),
            address: vec!["1 Road".into()],
        }),
        clinician: None,
        organisation: org(trust),
        appointment_type: AppointmentType::Outpatient,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![],
        holding: false,
    }
}

fn slot(id: &str, trust: &str, days: i64) -> SimulatedSlot {
    SimulatedSlot {
        ods_code: OdsCode::parse(trust).unwrap(),
        specialty: TreatmentFunctionCode::parse("330").unwrap(),
        slot: Slot {
            id: id.into(),
            start: t0() + CDuration::days(days),
            end: t0() + CDuration::days(days) + CDuration::minutes(30),
            location: Some("Clinic B".into()),
            clinician: Some("Dr Slot".into()),
        },
    }
}

fn pas() -> (Arc<ManualClock>, SimulatedPas) {
    let clock = Arc::new(ManualClock::new(t0()));
    let pas = SimulatedPas::new(clock.clone());
    pas.add_trust(SimulatedTrust {
        organisation: org("RRT"),
        capabilities: Capabilities::REAL_TIME,
    });
    pas.add_trust(SimulatedTrust {
        organisation: org("RRQ"),
        capabilities: Capabilities::REQUEST_ONLY,
    });
    (clock, pas)
}

fn reason() -> CancelReason {
    CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    }
}

#[tokio::test]
async fn only_the_patients_own_appointments_are_visible() {
    let (_, pas) = pas();
    let mine = appt("9000000009", "RRT", 5);
    let theirs = appt("9000000017", "RRT", 5);
    pas.add_appointment(mine.clone());
    pas.add_appointment(theirs.clone());
    let list = pas.list_appointments(&p("9000000009")).await.unwrap();
    assert_eq!(list, vec![mine.clone()]);
    assert!(
        pas.get_appointment(&p("9000000009"), &theirs.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        pas.get_appointment(&p("9000000009"), &mine.id)
            .await
            .unwrap(),
        Some(mine)
    );
    // Passing someone else's appointment with my NHS number in it does not work either.
    let mut forged = theirs.clone();
    forged.patient = p("9000000009");
    assert!(matches!(
        pas.cancel(&forged, &reason()).await,
        Err(PasError::NotFound)
    ));
    assert_eq!(
        pas.inspect_appointment(&theirs.id).unwrap().status,
        AppointmentStatus::Booked
    );
}

#[tokio::test]
async fn cancel_rules_table() {
    let (_, pas) = pas();
    let future = appt("9000000009", "RRT", 5);
    let past = appt("9000000009", "RRT", -5);
    let mut fulfilled = appt("9000000009", "RRT", -5);
    fulfilled.status = AppointmentStatus::Fulfilled;
    let request_only = appt("9000000009", "RRQ", 5);
    let unknown_trust = appt("9000000009", "RXX", 5);
    for a in [&future, &past, &fulfilled, &request_only, &unknown_trust] {
        pas.add_appointment(a.clone());
    }
    let cases: Vec<(&Appointment, Result<AppointmentStatus, &str>)> = vec![
        (&future, Ok(AppointmentStatus::Cancelled)),
        // idempotent: a second cancel returns it unchanged
        (&future, Ok(AppointmentStatus::Cancelled)),
        (&past, Err("invalid")),
        (&fulfilled, Err("invalid")),
        (&request_only, Err("unsupported")),
        (&unknown_trust, Err("unsupported")),
    ];
    for (a, want) in cases {
        let got = pas.cancel(a, &reason()).await;
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g.status, w),
            (Err(PasError::InvalidState(_)), Err("invalid")) => {}
            (Err(PasError::NotSupported), Err("unsupported")) => {}
            (g, w) => panic!("{g:?} vs {w:?}"),
        }
    }
}

#[tokio::test]
async fn reschedule_moves_into_a_free_slot_and_frees_the_old_one() {
    let (_, pas) = pas();
    let a = appt("9000000009", "RRT", 5);
    let b = appt("9000000017", "RRT", 6);
    pas.add_appointment(a.clone());
    pas.add_appointment(b.clone());
    pas.add_slot(slot("s1", "RRT", 10));
    pas.add_slot(slot("s2", "RRT", 11));
    pas.add_slot(slot("other-trust", "RRQ", 10));
    pas.add_slot(slot("past", "RRT", -1));
    let slots = pas
        .find_slots(&a, t0(), t0() + CDuration::days(30))
        .await
        .unwrap();
    let ids: Vec<_> = slots.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2"]);

    let moved = pas.reschedule(&a, "s1").await.unwrap();
    assert_eq!(moved.id, a.id);
    assert_eq!(moved.start, t0() + CDuration::days(10));
    assert_eq!(moved.location.unwrap().name, "Clinic B");
    assert_eq!(moved.clinician.unwrap().name, "Dr Slot");
    assert_eq!(pas.slot_holder("s1"), Some(a.id.clone()));
    // s1 is taken now, for everybody
    assert!(matches!(
        pas.reschedule(&b, "s1").await,
        Err(PasError::SlotUnavailable)
    ));
    assert_eq!(pas.inspect_appointment(&b.id).unwrap(), b);
    // moving again frees s1
    pas.reschedule(&a, "s2").await.unwrap();
    assert_eq!(pas.slot_holder("s1"), None);
    pas.reschedule(&b, "s1").await.unwrap();
    for bad in ["other-trust", "past", "nope"] {
        assert!(matches!(
            pas.reschedule(&b, bad).await,
            Err(PasError::SlotUnavailable)
        ));
    }
    // cancelling frees the slot
    pas.cancel(&a, &reason()).await.unwrap();
    assert_eq!(pas.slot_holder("s2"), None);
}

#[tokio::test]
async fn request_only_trust_refuses_real_time_operations() {
    let (_, pas) = pas();
    let a = appt("9000000009", "RRQ", 5);
    pas.add_appointment(a.clone());
    pas.add_slot(slot("s1", "RRQ", 10));
    assert_eq!(
        pas.capabilities(&a).await.unwrap(),
        Capabilities::REQUEST_ONLY
    );
    assert!(matches!(
        pas.find_slots(&a, t0(), t0() + CDuration::days(30)).await,
        Err(PasError::NotSupported)
    ));
    assert!(matches!(
        pas.reschedule(&a, "s1").await,
        Err(PasError::NotSupported)
    ));
    assert!(pas.set_capabilities(&a.organisation.ods_code, Capabilities::REAL_TIME));
    assert!(pas.reschedule(&a, "s1").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reschedules_to_one_slot_only_one_wins() {
    let (_, pas) = pas();
    let pas = Arc::new(pas);
    pas.add_slot(slot("s1", "RRT", 10));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let a = appt("9000000009", "RRT", 5);
        pas.add_appointment(a.clone());
        let pas = pas.clone();
        tasks.push(tokio::spawn(async move { pas.reschedule(&a, "s1").await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(PasError::SlotUnavailable) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(wins, 1);
}

/// One storm task's result: which appointment, what it asked for, what it got.
type StormOutcome = (AppointmentId, Option<String>, Result<Appointment, PasError>);

/// Many rounds of a storm: in each, 16 appointments race in fours for 4 free slots while two
/// appointments already holding slots are each cancelled twice at once, every call released
/// together on a multi-threaded runtime. Each slot must have exactly one winner, every loser
/// `SlotUnavailable` and unchanged, every cancel succeed (idempotently) and free its slot, and
/// the PAS must end consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slots_stay_consistent_under_a_storm_of_concurrent_changes() {
    const CONTESTED: usize = 4;
    const CONTENDERS: usize = 4;
    for round in 0..25 {
        let (_, pas) = pas();
        let pas = Arc::new(pas);
        let contested: Vec<String> = (0..CONTESTED).map(|i| format!("c{i}")).collect();
        for (i, id) in contested.iter().enumerate() {
            pas.add_slot(slot(id, "RRT", 10 + i as i64));
        }
        // Two appointments already in slots h0 and h1, to be cancelled during the storm.
        let mut held = Vec::new();
        for i in 0..2 {
            let id = format!("h{i}");
            pas.add_slot(slot(&id, "RRT", 20 + i));
            let a = appt("9000000017", "RRT", 5);
            pas.add_appointment(a.clone());
            let a = pas.reschedule(&a, &id).await.expect("pre-book a held slot");
            held.push((id, a));
        }
        let contenders: Vec<(Appointment, String)> = (0..CONTESTED * CONTENDERS)
            .map(|i| {
                (
                    appt("9000000009", "RRT", 5),
                    contested[i % CONTESTED].clone(),
                )
            })
            .collect();
        for (a, _) in &contenders {
            pas.add_appointment(a.clone());
        }
        let calls = contenders.len() + 2 * held.len();
        let barrier = Arc::new(tokio::sync::Barrier::new(calls));
        let mut tasks: Vec<tokio::task::JoinHandle<StormOutcome>> = Vec::new();
        for (a, target) in contenders.iter().cloned() {
            let (pas, barrier) = (pas.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let got = pas.reschedule(&a, &target).await;
                (a.id, Some(target), got)
            }));
        }
        for (_, a) in held.iter().chain(&held) {
            let (pas, barrier, a) = (pas.clone(), barrier.clone(), a.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let got = pas.cancel(&a, &reason()).await;
                (a.id, None, got)
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("a storm task panicked"));
        }

        // Exactly one winner per contested slot; the rest refused with SlotUnavailable.
        for (i, slot_id) in contested.iter().enumerate() {
            let start = t0() + CDuration::days(10 + i as i64);
            let mut winners = Vec::new();
            for (id, target, got) in &outcomes {
                if target.as_deref() != Some(slot_id.as_str()) {
                    continue;
                }
                match got {
                    Ok(a) => {
                        assert_eq!(&a.id, id, "round {round}: the winner is who asked");
                        assert_eq!(a.start, start, "round {round}: {slot_id}'s winner");
                        assert_eq!(a.status, AppointmentStatus::Booked);
                        winners.push(id.clone());
                    }
                    Err(PasError::SlotUnavailable) => {}
                    Err(e) => panic!("round {round}: a loser for {slot_id} got {e:?}"),
                }
            }
            assert_eq!(
                winners.len(),
                1,
                "round {round}: {slot_id} must have exactly one winner, got {winners:?}"
            );
            assert_eq!(pas.slot_holder(slot_id).as_ref(), winners.first());
        }
        // Every cancel succeeded, the appointment is cancelled and its slot free.
        for (id, target, got) in &outcomes {
            if target.is_none() {
                let a = got.as_ref().expect("a cancel in the storm failed");
                assert_eq!(a.status, AppointmentStatus::Cancelled, "round {round}");
                assert_eq!(&a.id, id);
            }
        }
        for (slot_id, a) in &held {
            assert_eq!(pas.slot_holder(slot_id), None, "round {round}: {slot_id}");
            let now = pas.inspect_appointment(&a.id).unwrap();
            assert_eq!(now.status, AppointmentStatus::Cancelled);
        }
        // Losers are exactly as they were; no appointment holds two slots.
        let holders: Vec<AppointmentId> = contested
            .iter()
            .chain(held.iter().map(|(s, _)| s))
            .filter_map(|s| pas.slot_holder(s))
            .collect();
        let distinct: std::collections::HashSet<_> = holders.iter().collect();
        assert_eq!(
            distinct.len(),
            holders.len(),
            "round {round}: one slot each"
        );
        for (a, _) in &contenders {
            if !holders.contains(&a.id) {
                assert_eq!(
                    pas.inspect_appointment(&a.id).as_ref(),
                    Some(a),
                    "round {round}: a loser changed"
                );
            }
        }
    }
}

#[tokio::test]
async fn staff_actions_change_the_pas_and_are_polled() {
    let (clock, pas) = pas();
    let a = appt("9000000009", "RRQ", 5);
    let b = appt("9000000009", "RRQ", 7);
    let c = appt("9000000009", "RRQ", 9);
    for x in [&a, &b, &c] {
        pas.add_appointment(x.clone());
    }
    let before = clock.now();
    clock.advance(CDuration::minutes(1));
    let cancelled = pas.staff_acted(&a.id, &RequestOutcome::Cancelled).unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert!(pas.staff_acted(&a.id, &RequestOutcome::Cancelled).is_err());
    clock.advance(CDuration::minutes(1));
    let new_start = t0() + CDuration::days(20);
    let moved = pas
        .staff_acted(
            &b.id,
            &RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(new_start),
            },
        )
        .unwrap();
    assert_eq!(moved.start, new_start);
    assert_eq!(moved.end, Some(new_start + CDuration::minutes(20)));
    clock.advance(CDuration::minutes(1));
    let replacement = pas.staff_rebooked(&c.id, new_start).unwrap();
    assert_ne!(replacement.id, c.id);
    assert_eq!(
        pas.inspect_appointment(&c.id).unwrap().status,
        AppointmentStatus::Cancelled
    );
    assert_eq!(
        pas.list_appointments(&p("9000000009")).await.unwrap().len(),
        4
    );
    assert!(matches!(
        pas.staff_acted(&AppointmentId::new_random(), &RequestOutcome::Rejected),
        Err(SimulationError::UnknownAppointment)
    ));

    let events = pas.poll_events(before).await.unwrap();
    let got: Vec<_> = events.iter().map(|e| e.appointment.clone()).collect();
    assert_eq!(got, vec![a.id.clone(), b.id.clone(), c.id.clone()]);
    assert_eq!(
        events[2].change,
        PasChange::Moved {
            replaced_by: Some(replacement.id),
            new_start: Some(new_start)
        }
    );
    // each change names its patient, has its own version and carries the appointment after it
    assert!(events.iter().all(|e| e.patient == p("9000000009")));
    let versions: std::collections::HashSet<_> = events.iter().map(|e| &e.version).collect();
    assert_eq!(versions.len(), events.len());
    assert_eq!(
        events[2].snapshot.as_ref().map(|a| a.status),
        Some(AppointmentStatus::Cancelled)
    );
    // the cursor is inclusive and later cursors see less
    let later = pas.poll_events(events[1].at).await.unwrap();
    assert_eq!(later.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn faults_follow_the_plan() {
    let (_, pas) = pas();
    let me = p("9000000009");
    pas.set_faults(
        FaultPlan::new()
            .rule(
                FaultRule::new(Fault::Timeout)
                    .on(PasOperation::ListAppointments)
                    .times(1),
            )
            .rule(FaultRule::new(Fault::Unavailable).on(PasOperation::Patient))
            .rule(
                FaultRule::new(Fault::BadData)
                    .on(PasOperation::PollEvents)
                    .times(2),
            ),
    );
    assert!(matches!(
        pas.list_appointments(&me).await,
        Err(PasError::Timeout)
    ));
    assert!(pas.list_appointments(&me).await.is_ok());
    for _ in 0..3 {
        assert!(matches!(
            pas.patient(&me).await,
            Err(PasError::Unavailable(_))
        ));
    }
    assert!(matches!(
        pas.poll_events(t0()).await,
        Err(PasError::BadData(_))
    ));
    assert!(pas.poll_events(t0()).await.is_err());
    assert!(pas.poll_events(t0()).await.is_ok());

    // latency and slowness: measured on tokio's paused clock, so no real waiting
    pas.set_faults(FaultPlan::new().latency(Duration::from_millis(50)).rule(
        FaultRule::new(Fault::Slow(Duration::from_secs(3))).on(PasOperation::GetAppointment),
    ));
    let start = tokio::time::Instant::now();
    pas.list_appointments(&me).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    let start = tokio::time::Instant::now();
    pas.get_appointment(&me, &AppointmentId::new_random())
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(3050));
    pas.clear_faults();
    let start = tokio::time::Instant::now();
    pas.patient(&me).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}
