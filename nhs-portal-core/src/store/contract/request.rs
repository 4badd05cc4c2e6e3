//! [`RequestStore`] cases: requests, their resolution and the overlay.
//!
//! Over 400 lines because it is a contract table: one case per rule of [`RequestStore`],
//! each spelling out what it writes and what it must not.

use chrono::Duration;

use super::fixtures::*;
use crate::reporting::ChangeReason;
use crate::request_status::RequestKind;
use crate::store::*;
use crate::{ReportingEvent, RequestStatus};

/// A new request is stored with its audit record and reporting events, and shows in every view.
pub(super) async fn submit_request_stores_request_audit_and_events(store: &dyn Store) {
    let patient = nhs(1);
    let mut req = request("key-1", appt(1), patient.clone());
    req.kind = RequestKind::Reschedule;
    req.details = Some("Mornings, not Fridays".into());
    let a = audit(&patient, AuditAction::RescheduleRequested, t0());
    let events = [
        ReportingEvent::RescheduleRequested {
            at: t0(),
            appointment: appt(1),
            session_id: "rep-s1".into(),
        },
        view_event(1),
    ];
    let got = store
        .submit_request(&req, &a, &events)
        .await
        .expect("submit_request");
    assert_eq!(
        got,
        Submitted::Created(req.pending()),
        "a new request is Created as given"
    );

    assert_eq!(
        store.get_request(req.id).await.expect("get_request"),
        Some(req.pending())
    );
    assert_eq!(
        store.get_request(uuid::Uuid::new_v4()).await.expect("get"),
        None,
        "an unknown request id reads as None"
    );
    assert_eq!(
        store
            .pending_request_for(&appt(1))
            .await
            .expect("pending_for"),
        Some(req.pending())
    );
    assert_eq!(
        store
            .pending_request_for(&appt(2))
            .await
            .expect("pending_for"),
        None
    );
    assert_eq!(
        store
            .pending_requests_for_patient(&patient)
            .await
            .expect("pending_for_patient"),
        vec![req.pending()]
    );
    assert_eq!(
        req.pending().request_status(),
        Some(RequestStatus::PendingReschedule)
    );

    let trail = store.audit_for_patient(&patient, 10).await.expect("audit");
    assert_eq!(trail, vec![a], "the audit record goes with the request");
    let stats = store.outbox_stats().await.expect("stats");
    assert_eq!(stats.pending, 2, "the events go with the request");
    let claimed = claim_all(store, t0()).await;
    let got_events: Vec<_> = claimed.into_iter().map(|i| i.event).collect();
    assert_eq!(got_events, events.to_vec(), "events are stored in order");
}

/// A submit whose request id is taken (with a new key, for a new appointment) is a conflict
/// and writes nothing.
pub(super) async fn submit_request_refuses_a_taken_id(store: &dyn Store) {
    let first = submit_new(store, &request("key-1", appt(1), nhs(1))).await;
    let mut clash = request("key-2", appt(2), nhs(1));
    clash.id = first.id;
    let got = store
        .submit_request(
            &clash,
            &audit(&nhs(1), AuditAction::CancelRequested, t0()),
            &[view_event(1)],
        )
        .await;
    assert!(
        matches!(got, Err(StoreError::Conflict(_))),
        "a taken request id must be a Conflict, got {got:?}"
    );
    assert_eq!(store.get_request(first.id).await.expect("get"), Some(first));
    assert_eq!(store.pending_request_for(&appt(2)).await.expect("p"), None);
    assert_eq!(
        store.outbox_stats().await.expect("stats").pending,
        1,
        "a refused submit writes no events"
    );
}

/// A second submit with a known idempotency key answers `Duplicate` with the first request and
/// writes nothing (no second audit record, no second events).
pub(super) async fn duplicate_idempotency_key_changes_nothing(store: &dyn Store) {
    let patient = nhs(1);
    let first = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    let mut again = request("key-1", appt(1), patient.clone());
    again.reason = "changed my mind".into();
    let got = store
        .submit_request(
            &again,
            &audit(&patient, AuditAction::CancelRequested, t0() + mins(1)),
            &[cancel_event(&appt(1), t0() + mins(1))],
        )
        .await
        .expect("submit duplicate");
    assert_eq!(got, Submitted::Duplicate(first.clone()));
    assert_eq!(store.get_request(again.id).await.expect("get"), None);
    assert_eq!(
        store
            .audit_for_patient(&patient, 10)
            .await
            .expect("audit")
            .len(),
        1,
        "a duplicate writes no audit record"
    );
    assert_eq!(
        store.outbox_stats().await.expect("stats").pending,
        1,
        "a duplicate writes no events"
    );
}

/// A second request (new key) for an appointment with a pending request answers
/// `AlreadyPending` with the pending one and writes nothing.
pub(super) async fn second_pending_request_is_refused(store: &dyn Store) {
    let patient = nhs(1);
    let first = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    let mut second = request("key-2", appt(1), patient.clone());
    second.kind = RequestKind::Reschedule;
    let got = store
        .submit_request(
            &second,
            &audit(&patient, AuditAction::RescheduleRequested, t0()),
            &[cancel_event(&appt(1), t0())],
        )
        .await
        .expect("submit second");
    assert_eq!(got, Submitted::AlreadyPending(first));
    assert_eq!(store.get_request(second.id).await.expect("get"), None);
    assert_eq!(
        store
            .audit_for_patient(&patient, 10)
            .await
            .expect("audit")
            .len(),
        1
    );
    assert_eq!(store.outbox_stats().await.expect("stats").pending, 1);
    // A different appointment is independent.
    submit_new(store, &request("key-3", appt(2), patient)).await;
}

/// When a submit matches both an idempotency key and a pending request, the key wins.
pub(super) async fn idempotency_key_wins_over_pending_request(store: &dyn Store) {
    let first = submit_new(store, &request("key-1", appt(1), nhs(1))).await;
    let other = submit_new(store, &request("key-2", appt(2), nhs(1))).await;
    // Same key as `first`, but aimed at appointment 2, which has `other` pending.
    let got = store
        .submit_request(
            &request("key-1", appt(2), nhs(1)),
            &audit(&nhs(1), AuditAction::CancelRequested, t0()),
            &[],
        )
        .await
        .expect("submit");
    assert_eq!(got, Submitted::Duplicate(first));
    let _ = other;
}

/// Once the pending request is resolved, a new request for the appointment is accepted.
pub(super) async fn new_request_allowed_after_resolution(store: &dyn Store) {
    let patient = nhs(1);
    let first = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    store
        .resolve_request(
            first.id,
            &resolve(Resolution::Rejected, None, t0() + mins(5)),
            &audit(&patient, AuditAction::RequestRejected, t0() + mins(5)),
            &[],
        )
        .await
        .expect("resolve");
    let mut second = request("key-2", appt(1), patient.clone());
    second.created_at = t0() + mins(6);
    let created = submit_new(store, &second).await;
    assert_eq!(
        store
            .pending_request_for(&appt(1))
            .await
            .expect("pending_for"),
        Some(created)
    );
    // The old key still answers Duplicate, even though its request is resolved.
    let got = store
        .submit_request(
            &request("key-1", appt(1), patient.clone()),
            &audit(&patient, AuditAction::CancelRequested, t0()),
            &[],
        )
        .await
        .expect("submit old key");
    match got {
        Submitted::Duplicate(r) => {
            assert_eq!(r.id, first.id);
            assert_eq!(r.state, RequestState::Rejected);
        }
        other => panic!("an old idempotency key must answer Duplicate, got {other:?}"),
    }
}

/// Fulfilling a request records the state, time and note, its audit record and its events,
/// and clears the overlay.
pub(super) async fn resolve_request_fulfils_with_audit_and_events(store: &dyn Store) {
    let patient = nhs(1);
    let req = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    let at = t0() + Duration::hours(3);
    let a = AuditRecord {
        actor: "staff:J Smith".into(),
        session: None,
        ..audit(&patient, AuditAction::RequestFulfilled, at)
    };
    let events = [ReportingEvent::Cancelled {
        at,
        appointment: appt(1),
        reason: ChangeReason::Patient,
    }];
    let resolved = store
        .resolve_request(
            req.id,
            &resolve(Resolution::Fulfilled, Some("Cancelled in PAS"), at),
            &a,
            &events,
        )
        .await
        .expect("resolve_request");
    let expected = PatientRequest {
        state: RequestState::Fulfilled,
        resolved_at: Some(at),
        resolution_note: Some("Cancelled in PAS".into()),
        ..req.clone()
    };
    assert_eq!(resolved, expected);
    assert_eq!(
        resolved.request_status(),
        None,
        "a resolved request shows no status"
    );
    assert_eq!(
        store.get_request(req.id).await.expect("get"),
        Some(expected)
    );
    assert_eq!(store.pending_request_for(&appt(1)).await.expect("p"), None);
    assert!(
        store
            .pending_requests_for_patient(&patient)
            .await
            .expect("p")
            .is_empty()
    );
    let trail = store.audit_for_patient(&patient, 10).await.expect("audit");
    assert_eq!(
        trail.first(),
        Some(&a),
        "the resolution's audit record is newest"
    );
    assert_eq!(trail.len(), 2);
    let claimed = claim_all(store, at).await;
    assert_eq!(claimed.len(), 2, "submit's event and resolve's event");
    assert_eq!(claimed[1].event, events[0]);
}

/// Rejecting a request records it without a note.
pub(super) async fn resolve_request_rejects(store: &dyn Store) {
    let req = submit_new(store, &request("key-1", appt(1), nhs(1))).await;
    let at = t0() + mins(30);
    let resolved = store
        .resolve_request(
            req.id,
            &resolve(Resolution::Rejected, None, at),
            &audit(&nhs(1), AuditAction::RequestRejected, at),
            &[],
        )
        .await
        .expect("resolve");
    assert_eq!(resolved.state, RequestState::Rejected);
    assert_eq!(resolved.resolved_at, Some(at));
    assert_eq!(resolved.resolution_note, None);
    assert_eq!(
        store.get_request(req.id).await.expect("get"),
        Some(resolved)
    );
}

/// Resolving twice is a conflict and resolving an unknown request is not found; neither writes
/// anything. (Resolving as pending cannot be written: a [`Resolution`] is fulfilled or rejected.)
pub(super) async fn resolve_request_refuses_bad_transitions(store: &dyn Store) {
    let patient = nhs(1);
    let req = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    let a = audit(&patient, AuditAction::RequestFulfilled, t0() + mins(1));

    let unknown = store
        .resolve_request(
            uuid::Uuid::new_v4(),
            &resolve(Resolution::Fulfilled, None, t0()),
            &a,
            &[view_event(9)],
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound)),
        "resolving an unknown request must be NotFound, got {unknown:?}"
    );

    store
        .resolve_request(req.id, &resolve(Resolution::Fulfilled, None, t0()), &a, &[])
        .await
        .expect("first resolution");
    let twice = store
        .resolve_request(
            req.id,
            &resolve(Resolution::Rejected, Some("late"), t0() + mins(2)),
            &a,
            &[view_event(8)],
        )
        .await;
    assert!(
        matches!(twice, Err(StoreError::Conflict(_))),
        "resolving a resolved request must be a Conflict, got {twice:?}"
    );
    let got = store
        .get_request(req.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        got.state,
        RequestState::Fulfilled,
        "the first resolution stands"
    );
    assert_eq!(got.resolution_note, None);
    assert_eq!(
        store
            .audit_for_patient(&patient, 10)
            .await
            .expect("audit")
            .len(),
        2,
        "only the submit and the one good resolution are audited"
    );
    assert_eq!(
        store.outbox_stats().await.expect("stats").pending,
        1,
        "refused resolutions write no events"
    );
}

/// The worklist filters by trust and by state and lists oldest first.
pub(super) async fn list_requests_filters_and_orders(store: &dyn Store) {
    let mut a = request("k-a", appt(1), nhs(1));
    a.created_at = t0() + mins(20);
    let mut b = request("k-b", appt(2), nhs(2));
    b.created_at = t0();
    b.ods_code = ods("RX1");
    let mut c = request("k-c", appt(3), nhs(1));
    c.created_at = t0() + mins(10);
    for r in [&a, &b, &c] {
        submit_new(store, r).await;
    }
    let (a, b) = (a.pending(), b.pending());
    let c = store
        .resolve_request(
            c.id,
            &resolve(Resolution::Fulfilled, None, t0() + mins(30)),
            &audit(&nhs(1), AuditAction::RequestFulfilled, t0() + mins(30)),
            &[],
        )
        .await
        .expect("resolve");

    let all = store.list_requests(None, None).await.expect("list");
    assert_eq!(all, vec![b.clone(), c.clone(), a.clone()], "oldest first");
    let rj1 = store
        .list_requests(Some(ods("RJ1")), None)
        .await
        .expect("list");
    assert_eq!(rj1, vec![c.clone(), a.clone()]);
    let pending = store
        .list_requests(None, Some(RequestState::Pending))
        .await
        .expect("list");
    assert_eq!(pending, vec![b.clone(), a.clone()]);
    let rj1_done = store
        .list_requests(Some(ods("RJ1")), Some(RequestState::Fulfilled))
        .await
        .expect("list");
    assert_eq!(rj1_done, vec![c]);
    let none = store
        .list_requests(Some(ods("RX1")), Some(RequestState::Rejected))
        .await
        .expect("list");
    assert!(none.is_empty());
}

/// A patient's pending requests are theirs only, pending only, oldest first.
pub(super) async fn pending_requests_for_patient_is_the_overlay(store: &dyn Store) {
    let me = nhs(1);
    let mut late = request("k1", appt(1), me.clone());
    late.created_at = t0() + mins(5);
    let early = request("k2", appt(2), me.clone());
    let done = request("k3", appt(3), me.clone());
    let theirs = request("k4", appt(4), nhs(2));
    for r in [&late, &early, &done, &theirs] {
        submit_new(store, r).await;
    }
    store
        .resolve_request(
            done.id,
            &resolve(Resolution::Rejected, None, t0()),
            &audit(&me, AuditAction::RequestRejected, t0()),
            &[],
        )
        .await
        .expect("resolve");
    let mine = store.pending_requests_for_patient(&me).await.expect("p");
    assert_eq!(mine, vec![early.pending(), late.pending()]);
    assert!(
        store
            .pending_requests_for_patient(&nhs(3))
            .await
            .expect("p")
            .is_empty()
    );
}
