//! [`Outbox`] cases: the reporting outbox (a leased queue).
//! (Over 400 lines: one case per outbox rule, sharing the fixtures; a case per file would scatter them.)

use chrono::Duration;

use super::fixtures::*;
use crate::reporting::{ChangeReason, EncounterClass, SessionOutcome};
use crate::store::*;
use crate::{AppointmentStatus, ReportingEvent};

/// Claims take due events oldest first, at most `limit`, counting attempts.
pub(super) async fn outbox_claims_oldest_first_within_limit(store: &dyn Store) {
    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats::default(),
        "an empty store has an empty outbox"
    );
    let events: Vec<_> = (0..5).map(view_event).collect();
    store.enqueue_events(&events[..3]).await.expect("enqueue");
    store.enqueue_events(&events[3..]).await.expect("enqueue");
    store.enqueue_events(&[]).await.expect("enqueue nothing");
    assert_eq!(store.outbox_stats().await.expect("stats").pending, 5);

    assert!(
        store
            .claim_events("w", 0, t0(), mins(5))
            .await
            .expect("claim 0")
            .is_empty(),
        "a limit of 0 claims nothing"
    );
    let first = store
        .claim_events("w", 2, t0(), mins(5))
        .await
        .expect("claim");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].event, events[0]);
    assert_eq!(first[1].event, events[1]);
    assert!(first[0].id < first[1].id, "ids rise with age");
    assert!(
        first.iter().all(|i| i.attempts == 1),
        "a claim is attempt 1"
    );
    let rest = store
        .claim_events("w", 10, t0(), mins(5))
        .await
        .expect("claim");
    let rest_events: Vec<_> = rest.iter().map(|i| i.event.clone()).collect();
    assert_eq!(rest_events, events[2..].to_vec());
    assert_eq!(
        store.outbox_stats().await.expect("stats").pending,
        5,
        "claimed events still count as pending"
    );
}

/// A claimed event is hidden from every worker until its lease ends, then claimable again as a
/// further attempt.
pub(super) async fn outbox_lease_hides_claimed_events_until_it_ends(store: &dyn Store) {
    store
        .enqueue_events(&[view_event(1)])
        .await
        .expect("enqueue");
    let lease = mins(5);
    let a = store
        .claim_events("a", 10, t0(), lease)
        .await
        .expect("claim");
    assert_eq!(a.len(), 1);
    let during = store
        .claim_events("b", 10, t0() + lease - Duration::seconds(1), lease)
        .await
        .expect("claim");
    assert!(
        during.is_empty(),
        "a leased event is hidden during the lease"
    );
    let after = store
        .claim_events("b", 10, t0() + lease, lease)
        .await
        .expect("claim");
    assert_eq!(
        ids(&after),
        ids(&a),
        "the event is claimable once the lease ends"
    );
    assert_eq!(after[0].attempts, 2, "the second claim is attempt 2");
}

/// Workers claiming from one outbox at the same instant never get the same event, and between
/// them (and a last sweep) every event is claimed exactly once: four workers, each on a thread
/// of its own released by a barrier, twenty rounds.
///
/// The suite borrows the store (`&dyn Store`), so it cannot hand it to `tokio::spawn`; each
/// worker drives its claim on the caller's runtime through its [`Handle`] from a scoped OS
/// thread while the caller's thread steps out of the runtime (`block_in_place`). So the case
/// needs a multi-threaded tokio runtime, and says so if it gets a current-thread one.
///
/// [`Handle`]: tokio::runtime::Handle
pub(super) async fn outbox_two_workers_never_share_events(store: &dyn Store) {
    use std::sync::Barrier;
    use tokio::runtime::{Handle, RuntimeFlavor};
    const WORKERS: usize = 4;
    const ROUNDS: i64 = 20;
    const EVENTS: i64 = 10;
    const LIMIT: usize = 3;
    let handle = Handle::current();
    assert_ne!(
        handle.runtime_flavor(),
        RuntimeFlavor::CurrentThread,
        "outbox_two_workers_never_share_events needs a multi-threaded tokio runtime, so that \
         the workers really claim at once (for example #[tokio::test(flavor = \"multi_thread\")])"
    );
    for round in 0..ROUNDS {
        let events: Vec<_> = (0..EVENTS)
            .map(|i| view_event(round * EVENTS + i))
            .collect();
        store.enqueue_events(&events).await.expect("enqueue");
        let start = Barrier::new(WORKERS);
        let claims: Vec<Vec<i64>> = tokio::task::block_in_place(|| {
            std::thread::scope(|s| {
                let workers: Vec<_> = (0..WORKERS)
                    .map(|w| {
                        let (start, handle) = (&start, &handle);
                        s.spawn(move || {
                            start.wait();
                            let worker = format!("worker-{w}");
                            handle.block_on(store.claim_events(&worker, LIMIT, t0(), mins(5)))
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| ids(&w.join().expect("a worker panicked").expect("claim")))
                    .collect()
            })
        });
        for (w, mine) in claims.iter().enumerate() {
            assert!(
                mine.len() <= LIMIT,
                "round {round}: worker {w} took more than its limit"
            );
        }
        let mut all: Vec<i64> = claims.concat();
        let claimed = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            claimed,
            "round {round}: an event was claimed by two workers at once: {claims:?}"
        );
        // What no worker took is still there for the next claim; nothing was lost.
        let rest = ids(&claim_all(store, t0()).await);
        assert!(
            rest.iter().all(|id| !all.contains(id)),
            "round {round}: a claimed event was claimed again during its lease"
        );
        all.extend(rest);
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            EVENTS as usize,
            "round {round}: every event is claimed exactly once"
        );
        store.mark_delivered(&all).await.expect("mark_delivered");
    }
    assert_eq!(
        store.outbox_stats().await.expect("stats").delivered,
        (ROUNDS * EVENTS) as u64
    );
}

/// Delivered events are never claimed again and count as delivered.
pub(super) async fn outbox_delivered_events_are_done(store: &dyn Store) {
    store
        .enqueue_events(&[view_event(1), view_event(2)])
        .await
        .expect("enqueue");
    let claimed = claim_all(store, t0()).await;
    store
        .mark_delivered(&[claimed[0].id])
        .await
        .expect("mark_delivered");
    let later = claim_all(store, t0() + Duration::days(1)).await;
    assert_eq!(
        ids(&later),
        vec![claimed[1].id],
        "a delivered event is done"
    );
    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 1,
            quarantined: 0
        }
    );
    // Failing or quarantining a delivered event changes nothing.
    store
        .mark_failed(&[claimed[0].id], "late", t0())
        .await
        .expect("mark_failed");
    store
        .quarantine(&[claimed[0].id], "late")
        .await
        .expect("quarantine");
    assert_eq!(store.outbox_stats().await.expect("stats").delivered, 1);
}

/// A failed event waits until `retry_at`, whatever its lease said, and is then claimable.
pub(super) async fn outbox_failed_events_wait_for_retry(store: &dyn Store) {
    store
        .enqueue_events(&[view_event(1)])
        .await
        .expect("enqueue");
    let claimed = store
        .claim_events("w", 10, t0(), Duration::hours(1))
        .await
        .expect("claim");
    let retry_at = t0() + mins(2);
    store
        .mark_failed(&ids(&claimed), "503 from Wayfinder", retry_at)
        .await
        .expect("mark_failed");
    let early = store
        .claim_events("w", 10, retry_at - Duration::seconds(1), mins(5))
        .await
        .expect("claim");
    assert!(early.is_empty(), "a failed event waits for retry_at");
    let due = store
        .claim_events("w", 10, retry_at, mins(5))
        .await
        .expect("claim");
    assert_eq!(
        ids(&due),
        ids(&claimed),
        "at retry_at the event is claimable, the old lease is released"
    );
    assert_eq!(due[0].attempts, 2);
    assert_eq!(store.outbox_stats().await.expect("stats").pending, 1);
}

/// Quarantined events are never claimed and count as quarantined.
pub(super) async fn outbox_quarantined_events_are_set_aside(store: &dyn Store) {
    store
        .enqueue_events(&[view_event(1), view_event(2)])
        .await
        .expect("enqueue");
    let claimed = claim_all(store, t0()).await;
    store
        .quarantine(&[claimed[1].id], "400: bad OdsCode")
        .await
        .expect("quarantine");
    store
        .mark_failed(&[claimed[0].id], "timeout", t0())
        .await
        .expect("fail");
    let later = claim_all(store, t0() + Duration::days(1)).await;
    assert_eq!(ids(&later), vec![claimed[0].id]);
    // Delivering a quarantined event changes nothing.
    store.mark_delivered(&[claimed[1].id]).await.expect("mark");
    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 0,
            quarantined: 1
        }
    );
}

/// Every kind of reporting event survives the outbox unchanged.
pub(super) async fn outbox_keeps_every_event_kind(store: &dyn Store) {
    let at = t0();
    let events = vec![
        ReportingEvent::Session {
            at,
            patient: nhs(1),
            session_id: "rep-1".into(),
            in_nhs_app: true,
            device: Some("Mozilla/5.0 \"quoted\" ünïcode".into()),
            outcome: SessionOutcome::Success,
            tracking_id: Some("t".into()),
        },
        ReportingEvent::Session {
            at,
            patient: nhs(2),
            session_id: "rep-2".into(),
            in_nhs_app: false,
            device: None,
            outcome: SessionOutcome::DobMismatch,
            tracking_id: None,
        },
        ReportingEvent::Appointment {
            at,
            patient: nhs(1),
            appointment: appt(1),
            appointment_date: at + Duration::days(10),
            ods_code: ods("RJ1"),
            status: AppointmentStatus::NoShow,
        },
        view_event(3),
        cancel_event(&appt(4), at),
        ReportingEvent::RescheduleRequested {
            at,
            appointment: appt(5),
            session_id: "rep-1".into(),
        },
        ReportingEvent::Cancelled {
            at,
            appointment: appt(6),
            reason: ChangeReason::Hospital,
        },
        ReportingEvent::Rescheduled {
            at,
            appointment: appt(7),
            new_appointment: Some(appt(8)),
            reason: ChangeReason::Patient,
        },
        ReportingEvent::Rescheduled {
            at,
            appointment: appt(9),
            new_appointment: None,
            reason: ChangeReason::Hospital,
        },
        ReportingEvent::Session {
            at,
            patient: nhs(2),
            session_id: "attempt-1".into(),
            in_nhs_app: true,
            device: None,
            outcome: SessionOutcome::Failed,
            tracking_id: Some("t".into()),
        },
        ReportingEvent::Admission {
            at,
            patient: nhs(2),
            appointment: appt(10),
            tci_date: at + Duration::days(3),
            ods_code: ods("RJ1"),
            status: AppointmentStatus::Booked,
            class: EncounterClass::Daycase,
        },
        ReportingEvent::AdmissionView {
            at,
            appointment: appt(10),
            session_id: "rep-1".into(),
            tracking_id: None,
        },
        ReportingEvent::DidNotAttend {
            at,
            appointment: appt(11),
        },
    ];
    store.enqueue_events(&events).await.expect("enqueue");
    let got: Vec<_> = claim_all(store, at)
        .await
        .into_iter()
        .map(|i| i.event)
        .collect();
    assert_eq!(got, events);
}

/// Marking unknown ids or no ids is not an error and changes nothing.
pub(super) async fn outbox_ignores_unknown_and_empty_ids(store: &dyn Store) {
    store
        .enqueue_events(&[view_event(1)])
        .await
        .expect("enqueue");
    store.mark_delivered(&[]).await.expect("empty");
    store.mark_failed(&[], "x", t0()).await.expect("empty");
    store.quarantine(&[], "x").await.expect("empty");
    store.mark_delivered(&[987_654]).await.expect("unknown");
    store
        .mark_failed(&[987_654], "x", t0())
        .await
        .expect("unknown");
    store.quarantine(&[987_654], "x").await.expect("unknown");
    assert_eq!(
        store.outbox_stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            delivered: 0,
            quarantined: 0
        }
    );
}

/// Events are read back by when they happened, in any state, in pages; the oldest waiting
/// event's time is the delivery lag.
pub(super) async fn outbox_reads_events_by_time_and_the_oldest_waiting(store: &dyn Store) {
    assert_eq!(
        store.oldest_waiting_event_at().await.expect("oldest"),
        None,
        "an empty outbox has no oldest event"
    );
    // view_event(n) happens at t0 + n seconds; enqueued out of time order on purpose.
    let events: Vec<_> = [5, 1, 3, 9, 2].into_iter().map(view_event).collect();
    store.enqueue_events(&events).await.expect("enqueue");
    assert_eq!(
        store.oldest_waiting_event_at().await.expect("oldest"),
        Some(t0() + Duration::seconds(1))
    );
    let all = claim_all(store, t0()).await;
    // Deliver the oldest (t0 + 1 s) and quarantine t0 + 2 s: the oldest waiting is then t0 + 3 s.
    store.mark_delivered(&[all[1].id]).await.expect("deliver");
    store
        .quarantine(&[all[4].id], "bad")
        .await
        .expect("quarantine");
    assert_eq!(
        store.oldest_waiting_event_at().await.expect("oldest"),
        Some(t0() + Duration::seconds(3))
    );
    // [t0 + 2 s, t0 + 9 s): 5, 3, 2 in id order, whatever their state; 9 is outside.
    let from = t0() + Duration::seconds(2);
    let to = t0() + Duration::seconds(9);
    let page = store.events_between(from, to, 0, 2).await.expect("page 1");
    assert_eq!(
        page.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![events[0].clone(), events[2].clone()]
    );
    let next = store
        .events_between(from, to, page[1].0, 2)
        .await
        .expect("page 2");
    assert_eq!(
        next.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![events[4].clone()]
    );
    assert!(
        store
            .events_between(from, to, next[0].0, 2)
            .await
            .expect("page 3")
            .is_empty()
    );
    assert!(
        store
            .events_between(from, to, 0, 0)
            .await
            .expect("limit 0")
            .is_empty()
    );
    for i in &all {
        store.mark_delivered(&[i.id]).await.expect("deliver");
    }
    assert_eq!(
        store.oldest_waiting_event_at().await.expect("oldest"),
        None,
        "none waiting"
    );
}
