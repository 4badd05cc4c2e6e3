//! The store contract: the behaviour every [`Store`] implementation must show, as a suite any
//! store can run against itself (cargo feature `testing`).
//!
//! Each case is an `async fn(&dyn Store)` that expects an **empty** store, exercises it and
//! panics with a message naming the broken rule. The suite has no runtime of its own: the
//! caller's test (for example `#[tokio::test]`) drives it, usually through [`run_all`], which
//! asks for a fresh store before every case.
//!
//! ```
//! use std::sync::Arc;
//! use nhs_portal_core::store::{Store, contract, memory::MemoryStore};
//! # async fn check() {
//! contract::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
//! # }
//! ```
//!
//! What the suite cannot check from one store, such as two portal instances submitting the same
//! request at once against one database, belongs in the implementation's own tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::reporting::{ChangeReason, SessionOutcome};
use crate::{AppointmentStatus, RequestStatus};

/// The future a [`Case`] returns.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One named contract case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The case's name (the function's name in this module).
    pub name: &'static str,
    /// Runs the case against an empty store; panics when the store breaks the contract.
    pub run: for<'a> fn(&'a dyn Store) -> CaseFuture<'a>,
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case in the suite, in a stable order.
        pub const CASES: &[Case] = &[
            $(Case { name: stringify!($name), run: |store| Box::pin($name(store)) }),*
        ];
    };
}

cases![
    session_round_trip,
    session_id_in_use_conflicts,
    touch_session_records_activity,
    delete_session_is_idempotent,
    delete_expired_sessions_applies_both_rules,
    pending_login_is_taken_once,
    pending_login_is_replaced,
    submit_request_stores_request_audit_and_events,
    submit_request_normalises_state,
    duplicate_idempotency_key_changes_nothing,
    second_pending_request_is_refused,
    idempotency_key_wins_over_pending_request,
    new_request_allowed_after_resolution,
    resolve_request_fulfils_with_audit_and_events,
    resolve_request_rejects,
    resolve_request_refuses_bad_transitions,
    list_requests_filters_and_orders,
    pending_requests_for_patient_is_the_overlay,
    audit_is_newest_first_and_limited,
    audit_keeps_every_action_and_field,
    outbox_claims_oldest_first_within_limit,
    outbox_lease_hides_claimed_events_until_it_ends,
    outbox_two_workers_never_share_events,
    outbox_delivered_events_are_done,
    outbox_failed_events_wait_for_retry,
    outbox_quarantined_events_are_set_aside,
    outbox_keeps_every_event_kind,
    outbox_ignores_unknown_and_empty_ids,
    record_queue_deduplicates_waiting_numbers,
    record_queue_claims_and_leases,
    record_queue_retries_failed_sends,
    record_queue_counts_distinct_sent_numbers,
];

/// Runs every case in [`CASES`], each against a fresh store from `fresh`.
///
/// Panics at the first broken rule, naming the case.
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for case in CASES {
        let store = fresh().await;
        let guard = CaseGuard(case.name);
        (case.run)(&*store).await;
        std::mem::forget(guard);
    }
}

/// Prints the failing case's name when a case panics (the panic message says what broke).
struct CaseGuard(&'static str);

impl Drop for CaseGuard {
    fn drop(&mut self) {
        eprintln!("store contract case `{}` failed", self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixed instant with microseconds, so stores that keep microseconds round-trip it exactly.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).unwrap() + Duration::microseconds(123_456)
}

fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

/// The `n`th valid NHS number in a deterministic series (Modulus 11 check digit computed).
fn nhs(n: u32) -> NhsNumber {
    let mut base = 900_000_000 + n * 7;
    loop {
        let digits: Vec<u32> = base
            .to_string()
            .chars()
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * (10 - i as u32))
            .sum();
        let check = (11 - sum % 11) % 11;
        if check != 10 {
            return NhsNumber::parse(&format!("{base}{check}")).expect("valid by construction");
        }
        base += 1;
    }
}

fn appt(n: u32) -> AppointmentId {
    AppointmentId::parse(&format!("appt-{n}")).unwrap()
}

fn ods(code: &str) -> OdsCode {
    OdsCode::parse(code).unwrap()
}

fn session(id: &str, at: DateTime<Utc>) -> PatientSession {
    PatientSession {
        id: SessionId::new(id),
        reporting_id: format!("rep-{id}"),
        patient: nhs(1),
        date_of_birth: Some(NaiveDate::from_ymd_opt(1980, 2, 29).unwrap()),
        display_name: Some("Ann O'Neil".into()),
        created_at: at,
        last_seen_at: at,
        absolute_expiry: at + Duration::hours(12),
        in_nhs_app: true,
        tracking_id: Some("track-1".into()),
        csrf_token: format!("csrf-{id}"),
    }
}

fn login(state: &str) -> PendingLogin {
    PendingLogin {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: Some("verifier".into()),
        return_to: "/patient-portal/appointment/appt-1".into(),
        created_at: t0(),
        in_nhs_app: false,
        tracking_id: None,
        sso: true,
    }
}

fn request(key: &str, appointment: AppointmentId, patient: NhsNumber) -> PatientRequest {
    PatientRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: key.into(),
        appointment,
        patient,
        ods_code: ods("RJ1"),
        kind: RequestKind::Cancel,
        reason: "no-longer-needed".into(),
        details: None,
        state: RequestState::Pending,
        created_at: t0(),
        resolved_at: None,
        resolution_note: None,
    }
}

fn audit(patient: &NhsNumber, action: AuditAction, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        at,
        patient: patient.clone(),
        actor: "patient".into(),
        session: Some("rep-s1".into()),
        action,
        appointment: Some(appt(1)),
        detail: Some("no-longer-needed".into()),
    }
}

fn cancel_event(appointment: &AppointmentId, at: DateTime<Utc>) -> ReportingEvent {
    ReportingEvent::CancelRequested {
        at,
        appointment: appointment.clone(),
        session_id: "rep-s1".into(),
    }
}

fn view_event(n: i64) -> ReportingEvent {
    ReportingEvent::AppointmentView {
        at: t0() + Duration::seconds(n),
        appointment: appt(n as u32),
        session_id: "rep-s1".into(),
        tracking_id: None,
    }
}

async fn submit_new(store: &dyn Store, req: &PatientRequest) -> PatientRequest {
    let a = audit(&req.patient, AuditAction::CancelRequested, req.created_at);
    match store
        .submit_request(req, &a, &[cancel_event(&req.appointment, req.created_at)])
        .await
    {
        Ok(Submitted::Created(r)) => r,
        other => panic!("submit_request of a new request: expected Created, got {other:?}"),
    }
}

async fn claim_all(store: &dyn Store, now: DateTime<Utc>) -> Vec<OutboxItem> {
    store
        .claim_events("contract", 1000, now, mins(5))
        .await
        .expect("claim_events")
}

fn ids(items: &[OutboxItem]) -> Vec<i64> {
    items.iter().map(|i| i.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Sessions and sign-ins

/// A session reads back exactly as stored; an unknown id reads as `None`.
pub async fn session_round_trip(store: &dyn Store) {
    let full = session("s1", t0());
    let mut bare = session("s2", t0());
    bare.date_of_birth = None;
    bare.display_name = None;
    bare.tracking_id = None;
    bare.in_nhs_app = false;
    for s in [&full, &bare] {
        store.create_session(s).await.expect("create_session");
    }
    for s in [&full, &bare] {
        let got = store.get_session(&s.id).await.expect("get_session");
        assert_eq!(got.as_ref(), Some(s), "a session must read back as stored");
    }
    let none = store
        .get_session(&SessionId::new("nope"))
        .await
        .expect("get_session of unknown id");
    assert_eq!(none, None, "an unknown session id must read as None");
}

/// Creating a session with an id in use is a conflict and keeps the first session.
pub async fn session_id_in_use_conflicts(store: &dyn Store) {
    let first = session("s1", t0());
    store.create_session(&first).await.expect("create_session");
    let mut second = session("s1", t0() + mins(1));
    second.patient = nhs(2);
    let err = store.create_session(&second).await;
    assert!(
        matches!(err, Err(StoreError::Conflict(_))),
        "a second session with the same id must be a Conflict, got {err:?}"
    );
    let got = store.get_session(&first.id).await.expect("get_session");
    assert_eq!(
        got,
        Some(first),
        "the first session must survive the conflict"
    );
}

/// Touching records the time of activity; touching an unknown session answers `false`.
pub async fn touch_session_records_activity(store: &dyn Store) {
    let s = session("s1", t0());
    store.create_session(&s).await.expect("create_session");
    let later = t0() + mins(7);
    assert!(
        store.touch_session(&s.id, later).await.expect("touch"),
        "touching an existing session must answer true"
    );
    let got = store
        .get_session(&s.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.last_seen_at, later, "touch must set last_seen_at");
    assert_eq!(
        got.created_at, s.created_at,
        "touch must not change created_at"
    );
    assert!(
        !store
            .touch_session(&SessionId::new("nope"), later)
            .await
            .expect("touch unknown"),
        "touching an unknown session must answer false"
    );
}

/// Deleting a session removes it; deleting it again is not an error.
pub async fn delete_session_is_idempotent(store: &dyn Store) {
    let s = session("s1", t0());
    let other = session("s2", t0());
    store.create_session(&s).await.expect("create");
    store.create_session(&other).await.expect("create");
    store.delete_session(&s.id).await.expect("delete");
    assert_eq!(store.get_session(&s.id).await.expect("get"), None);
    store
        .delete_session(&s.id)
        .await
        .expect("deleting a session that is gone must not fail");
    assert!(
        store.get_session(&other.id).await.expect("get").is_some(),
        "deleting one session must leave others"
    );
}

/// Expiry deletes idle sessions (`last_seen_at < idle_before`) and sessions past their
/// absolute expiry (`absolute_expiry <= now`), and nothing else.
pub async fn delete_expired_sessions_applies_both_rules(store: &dyn Store) {
    let now = t0() + Duration::hours(2);
    let idle_before = now - mins(10);

    let mut fresh = session("fresh", t0());
    fresh.last_seen_at = now - mins(1);
    let mut edge_idle = session("edge-idle", t0());
    edge_idle.last_seen_at = idle_before; // exactly at the limit: kept
    let mut idle = session("idle", t0());
    idle.last_seen_at = idle_before - Duration::seconds(1);
    let mut past = session("past", t0());
    past.last_seen_at = now;
    past.absolute_expiry = now; // reached: deleted
    let mut future_expiry = session("future-expiry", t0());
    future_expiry.last_seen_at = now;
    future_expiry.absolute_expiry = now + Duration::seconds(1);

    for s in [&fresh, &edge_idle, &idle, &past, &future_expiry] {
        store.create_session(s).await.expect("create");
    }
    let n = store
        .delete_expired_sessions(idle_before, now)
        .await
        .expect("delete_expired_sessions");
    assert_eq!(n, 2, "exactly the idle and the past-expiry sessions go");
    for (s, kept) in [
        (&fresh, true),
        (&edge_idle, true),
        (&idle, false),
        (&past, false),
        (&future_expiry, true),
    ] {
        let got = store.get_session(&s.id).await.expect("get");
        assert_eq!(
            got.is_some(),
            kept,
            "session {} kept={kept} expected",
            s.reporting_id
        );
    }
    let again = store
        .delete_expired_sessions(idle_before, now)
        .await
        .expect("delete_expired_sessions");
    assert_eq!(again, 0, "a second sweep finds nothing");
}

/// A pending sign-in is read back exactly, once; unknown states read as `None`.
pub async fn pending_login_is_taken_once(store: &dyn Store) {
    let full = login("state-1");
    let mut bare = login("state-2");
    bare.pkce_verifier = None;
    bare.tracking_id = None;
    bare.sso = false;
    bare.in_nhs_app = true;
    store.put_pending_login(&full).await.expect("put");
    store.put_pending_login(&bare).await.expect("put");
    for l in [&full, &bare] {
        let got = store.take_pending_login(&l.state).await.expect("take");
        assert_eq!(
            got.as_ref(),
            Some(l),
            "a pending login must read back as stored"
        );
        let again = store.take_pending_login(&l.state).await.expect("take");
        assert_eq!(again, None, "a pending login must be taken only once");
    }
    assert_eq!(
        store.take_pending_login("unknown").await.expect("take"),
        None
    );
}

/// Putting a pending sign-in with a `state` in use replaces the old one.
pub async fn pending_login_is_replaced(store: &dyn Store) {
    store.put_pending_login(&login("s")).await.expect("put");
    let mut newer = login("s");
    newer.nonce = "nonce-2".into();
    store.put_pending_login(&newer).await.expect("put again");
    let got = store.take_pending_login("s").await.expect("take");
    assert_eq!(got, Some(newer), "the newer pending login must win");
    assert_eq!(store.take_pending_login("s").await.expect("take"), None);
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A new request is stored with its audit record and reporting events, and shows in every view.
pub async fn submit_request_stores_request_audit_and_events(store: &dyn Store) {
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
        Submitted::Created(req.clone()),
        "a new request is Created as given"
    );

    assert_eq!(
        store.get_request(req.id).await.expect("get_request"),
        Some(req.clone())
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
        Some(req.clone())
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
        vec![req.clone()]
    );
    assert_eq!(req.request_status(), Some(RequestStatus::PendingReschedule));

    let trail = store.audit_for_patient(&patient, 10).await.expect("audit");
    assert_eq!(trail, vec![a], "the audit record goes with the request");
    let stats = store.outbox_stats().await.expect("stats");
    assert_eq!(stats.pending, 2, "the events go with the request");
    let claimed = claim_all(store, t0()).await;
    let got_events: Vec<_> = claimed.into_iter().map(|i| i.event).collect();
    assert_eq!(got_events, events.to_vec(), "events are stored in order");
}

/// Whatever state and resolution the caller passes, a submitted request is stored pending.
pub async fn submit_request_normalises_state(store: &dyn Store) {
    let mut req = request("key-1", appt(1), nhs(1));
    req.state = RequestState::Fulfilled;
    req.resolved_at = Some(t0());
    req.resolution_note = Some("done".into());
    let stored = submit_new(store, &req).await;
    assert_eq!(stored.state, RequestState::Pending);
    assert_eq!(stored.resolved_at, None);
    assert_eq!(stored.resolution_note, None);
    assert_eq!(
        store.get_request(req.id).await.expect("get"),
        Some(stored),
        "the normalised request is what is stored"
    );
}

/// A second submit with a known idempotency key answers `Duplicate` with the first request and
/// writes nothing (no second audit record, no second events).
pub async fn duplicate_idempotency_key_changes_nothing(store: &dyn Store) {
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
pub async fn second_pending_request_is_refused(store: &dyn Store) {
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
pub async fn idempotency_key_wins_over_pending_request(store: &dyn Store) {
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
pub async fn new_request_allowed_after_resolution(store: &dyn Store) {
    let patient = nhs(1);
    let first = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    store
        .resolve_request(
            first.id,
            RequestState::Rejected,
            None,
            t0() + mins(5),
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
pub async fn resolve_request_fulfils_with_audit_and_events(store: &dyn Store) {
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
            RequestState::Fulfilled,
            Some("Cancelled in PAS".into()),
            at,
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
pub async fn resolve_request_rejects(store: &dyn Store) {
    let req = submit_new(store, &request("key-1", appt(1), nhs(1))).await;
    let at = t0() + mins(30);
    let resolved = store
        .resolve_request(
            req.id,
            RequestState::Rejected,
            None,
            at,
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

/// Resolving twice is a conflict, resolving as pending is a conflict, resolving an unknown
/// request is not found; none of them writes anything.
pub async fn resolve_request_refuses_bad_transitions(store: &dyn Store) {
    let patient = nhs(1);
    let req = submit_new(store, &request("key-1", appt(1), patient.clone())).await;
    let a = audit(&patient, AuditAction::RequestFulfilled, t0() + mins(1));

    let as_pending = store
        .resolve_request(req.id, RequestState::Pending, None, t0(), &a, &[])
        .await;
    assert!(
        matches!(as_pending, Err(StoreError::Conflict(_))),
        "resolving as pending must be a Conflict, got {as_pending:?}"
    );
    assert_eq!(
        store.get_request(req.id).await.expect("get"),
        Some(req.clone()),
        "a refused resolution changes nothing"
    );

    let unknown = store
        .resolve_request(
            uuid::Uuid::new_v4(),
            RequestState::Fulfilled,
            None,
            t0(),
            &a,
            &[view_event(9)],
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound)),
        "resolving an unknown request must be NotFound, got {unknown:?}"
    );

    store
        .resolve_request(req.id, RequestState::Fulfilled, None, t0(), &a, &[])
        .await
        .expect("first resolution");
    let twice = store
        .resolve_request(
            req.id,
            RequestState::Rejected,
            Some("late".into()),
            t0() + mins(2),
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
pub async fn list_requests_filters_and_orders(store: &dyn Store) {
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
    let c = store
        .resolve_request(
            c.id,
            RequestState::Fulfilled,
            None,
            t0() + mins(30),
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
pub async fn pending_requests_for_patient_is_the_overlay(store: &dyn Store) {
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
            RequestState::Rejected,
            None,
            t0(),
            &audit(&me, AuditAction::RequestRejected, t0()),
            &[],
        )
        .await
        .expect("resolve");
    let mine = store.pending_requests_for_patient(&me).await.expect("p");
    assert_eq!(mine, vec![early, late]);
    assert!(
        store
            .pending_requests_for_patient(&nhs(3))
            .await
            .expect("p")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Audit

/// The audit trail reads back newest first, one patient's only, at most `limit`.
pub async fn audit_is_newest_first_and_limited(store: &dyn Store) {
    let me = nhs(1);
    // Appended out of time order on purpose, with a tie at t0 + 2 min.
    let r1 = audit(&me, AuditAction::SignedIn, t0());
    let r3 = audit(&me, AuditAction::ViewedAppointment, t0() + mins(2));
    let r2 = audit(&me, AuditAction::ViewedAppointments, t0() + mins(1));
    let r4 = audit(&me, AuditAction::SignedOut, t0() + mins(2));
    let other = audit(&nhs(2), AuditAction::SignedIn, t0() + mins(9));
    for r in [&r1, &r3, &r2, &other, &r4] {
        store.append_audit(r).await.expect("append_audit");
    }
    let all = store.audit_for_patient(&me, 100).await.expect("audit");
    assert_eq!(
        all,
        vec![r4.clone(), r3.clone(), r2.clone(), r1.clone()],
        "newest first; equal times newest-appended first"
    );
    let two = store.audit_for_patient(&me, 2).await.expect("audit");
    assert_eq!(two, vec![r4, r3]);
    assert!(
        store
            .audit_for_patient(&me, 0)
            .await
            .expect("audit")
            .is_empty()
    );
    assert!(
        store
            .audit_for_patient(&nhs(3), 10)
            .await
            .expect("audit")
            .is_empty()
    );
}

/// Every audit action and every optional field round-trips.
pub async fn audit_keeps_every_action_and_field(store: &dyn Store) {
    let me = nhs(1);
    let mut expected = Vec::new();
    for (i, action) in AuditAction::ALL.into_iter().enumerate() {
        let mut r = audit(&me, action, t0() + Duration::seconds(i as i64));
        if i % 2 == 0 {
            r.session = None;
            r.appointment = None;
            r.detail = None;
            r.actor = "staff:A N Other".into();
        }
        store.append_audit(&r).await.expect("append");
        expected.push(r);
    }
    expected.reverse();
    let got = store.audit_for_patient(&me, 100).await.expect("audit");
    assert_eq!(got, expected);
}

// ---------------------------------------------------------------------------------------------
// Outbox

/// Claims take due events oldest first, at most `limit`, counting attempts.
pub async fn outbox_claims_oldest_first_within_limit(store: &dyn Store) {
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
pub async fn outbox_lease_hides_claimed_events_until_it_ends(store: &dyn Store) {
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

/// Two workers claiming one after the other get disjoint events.
pub async fn outbox_two_workers_never_share_events(store: &dyn Store) {
    let events: Vec<_> = (0..10).map(view_event).collect();
    store.enqueue_events(&events).await.expect("enqueue");
    let a = store.claim_events("a", 4, t0(), mins(5)).await.expect("a");
    let b = store.claim_events("b", 4, t0(), mins(5)).await.expect("b");
    let c = store.claim_events("c", 4, t0(), mins(5)).await.expect("c");
    assert_eq!((a.len(), b.len(), c.len()), (4, 4, 2));
    let mut all: Vec<i64> = [ids(&a), ids(&b), ids(&c)].concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 10, "no event claimed twice");
}

/// Delivered events are never claimed again and count as delivered.
pub async fn outbox_delivered_events_are_done(store: &dyn Store) {
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
pub async fn outbox_failed_events_wait_for_retry(store: &dyn Store) {
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
pub async fn outbox_quarantined_events_are_set_aside(store: &dyn Store) {
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
pub async fn outbox_keeps_every_event_kind(store: &dyn Store) {
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
pub async fn outbox_ignores_unknown_and_empty_ids(store: &dyn Store) {
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

// ---------------------------------------------------------------------------------------------
// Record Service queue

/// A number already waiting is not queued twice; a different number is.
pub async fn record_queue_deduplicates_waiting_numbers(store: &dyn Store) {
    store.enqueue_record(&nhs(1)).await.expect("enqueue");
    store.enqueue_record(&nhs(1)).await.expect("enqueue again");
    store.enqueue_record(&nhs(2)).await.expect("enqueue other");
    let claimed = store
        .claim_records("w", 10, t0(), mins(5))
        .await
        .expect("claim");
    let patients: Vec<_> = claimed.iter().map(|r| r.patient.clone()).collect();
    assert_eq!(
        patients,
        vec![nhs(1), nhs(2)],
        "one row per waiting number, oldest first"
    );
    // Still waiting while leased: not queued again.
    store.enqueue_record(&nhs(1)).await.expect("enqueue leased");
    let later = store
        .claim_records("w", 10, t0() + mins(5), mins(5))
        .await
        .expect("claim");
    assert_eq!(later.len(), 2, "no extra row for a leased number");
}

/// Claims respect `limit` and leases; two workers never hold the same row.
pub async fn record_queue_claims_and_leases(store: &dyn Store) {
    for n in 1..=5 {
        store.enqueue_record(&nhs(n)).await.expect("enqueue");
    }
    assert!(
        store
            .claim_records("a", 0, t0(), mins(5))
            .await
            .expect("claim")
            .is_empty()
    );
    let a = store
        .claim_records("a", 3, t0(), mins(5))
        .await
        .expect("claim");
    let b = store
        .claim_records("b", 3, t0(), mins(5))
        .await
        .expect("claim");
    assert_eq!((a.len(), b.len()), (3, 2));
    assert!(
        a.iter().all(|x| b.iter().all(|y| x.id != y.id)),
        "disjoint claims"
    );
    assert!(
        store
            .claim_records("c", 10, t0() + mins(4), mins(5))
            .await
            .expect("claim")
            .is_empty(),
        "all leased"
    );
    let again = store
        .claim_records("c", 10, t0() + mins(5), mins(5))
        .await
        .expect("claim");
    assert_eq!(again.len(), 5, "claimable again when the leases end");
}

/// A failed send waits until `retry_at`.
pub async fn record_queue_retries_failed_sends(store: &dyn Store) {
    store.enqueue_record(&nhs(1)).await.expect("enqueue");
    let claimed = store
        .claim_records("w", 10, t0(), Duration::hours(1))
        .await
        .expect("claim");
    let ids: Vec<_> = claimed.iter().map(|r| r.id).collect();
    let retry_at = t0() + mins(3);
    store
        .mark_records_failed(&ids, retry_at)
        .await
        .expect("mark failed");
    assert!(
        store
            .claim_records("w", 10, retry_at - Duration::seconds(1), mins(5))
            .await
            .expect("claim")
            .is_empty()
    );
    let due = store
        .claim_records("w", 10, retry_at, mins(5))
        .await
        .expect("claim");
    assert_eq!(due, claimed);
    store
        .mark_records_failed(&[], retry_at)
        .await
        .expect("empty");
    store
        .mark_records_failed(&[987_654], retry_at)
        .await
        .expect("unknown");
}

/// Sent numbers are done, counted once per distinct number, and can be queued again.
pub async fn record_queue_counts_distinct_sent_numbers(store: &dyn Store) {
    assert_eq!(store.sent_record_count().await.expect("count"), 0);
    store.enqueue_record(&nhs(1)).await.expect("enqueue");
    store.enqueue_record(&nhs(2)).await.expect("enqueue");
    let first = store
        .claim_records("w", 10, t0(), mins(5))
        .await
        .expect("claim");
    let first_ids: Vec<_> = first.iter().map(|r| r.id).collect();
    store.mark_records_sent(&first_ids).await.expect("sent");
    store.mark_records_sent(&[]).await.expect("empty");
    assert_eq!(store.sent_record_count().await.expect("count"), 2);
    assert!(
        store
            .claim_records("w", 10, t0() + Duration::days(1), mins(5))
            .await
            .expect("claim")
            .is_empty(),
        "sent numbers are done"
    );
    // Queued again after it was sent (the PCA asked again): a new row, sent again.
    store.enqueue_record(&nhs(1)).await.expect("enqueue again");
    let second = store
        .claim_records("w", 10, t0(), mins(5))
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].patient, nhs(1));
    assert!(!first_ids.contains(&second[0].id), "a new row");
    // A failure after sending changes nothing.
    store
        .mark_records_failed(&first_ids, t0())
        .await
        .expect("fail");
    store
        .mark_records_sent(&[second[0].id])
        .await
        .expect("sent");
    assert_eq!(
        store.sent_record_count().await.expect("count"),
        2,
        "a number sent twice counts once"
    );
}
