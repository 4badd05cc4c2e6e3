//! [`AuditLog`] cases: the audit trail and its one-transaction record.

use chrono::Duration;

use super::fixtures::*;
use crate::store::*;

/// The audit trail reads back newest first, one patient's only, at most `limit`.
pub(super) async fn audit_is_newest_first_and_limited(store: &dyn Store) {
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
pub(super) async fn audit_keeps_every_action_and_field(store: &dyn Store) {
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

/// `record` writes the audit record and its events together: both readable afterwards, the
/// events in order behind events already waiting; with no events it writes the record alone.
pub(super) async fn record_writes_audit_and_events_together(store: &dyn Store) {
    let me = nhs(1);
    store
        .enqueue_events(&[view_event(1)])
        .await
        .expect("enqueue");
    let viewed = audit(&me, AuditAction::ViewedAppointment, t0());
    let events = [view_event(2), view_event(3)];
    store.record(&viewed, &events).await.expect("record");
    let signed_out = audit(&me, AuditAction::SignedOut, t0() + mins(1));
    store.record(&signed_out, &[]).await.expect("record alone");

    assert_eq!(
        store.audit_for_patient(&me, 10).await.expect("audit"),
        vec![signed_out, viewed],
        "each record is stored once"
    );
    let claimed = claim_all(store, t0()).await;
    let got: Vec<_> = claimed.into_iter().map(|i| i.event).collect();
    assert_eq!(
        got,
        vec![view_event(1), view_event(2), view_event(3)],
        "the events join the outbox in order, behind those already waiting"
    );
}
