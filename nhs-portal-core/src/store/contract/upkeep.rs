//! [`Upkeep`] cases: the readiness ping and housekeeping.

use chrono::Duration;

use super::fixtures::*;
use crate::store::*;

/// A fresh, migrated store answers the ping.
pub(super) async fn ping_answers_on_a_migrated_store(store: &dyn Store) {
    store
        .ping()
        .await
        .expect("a reachable, migrated store must answer ping");
}

fn action(key: &str, at: chrono::DateTime<chrono::Utc>) -> CompletedAction {
    CompletedAction {
        key: key.into(),
        patient: nhs(1),
        appointment: appt(1),
        outcome: ActionOutcome::Cancelled,
        at,
    }
}

fn key(k: &str) -> ActionKey {
    action(k, t0()).binding()
}

/// Housekeeping removes expired sessions, abandoned sign-ins and spent idempotency records,
/// keeps live ones, and keeps every audit record when no retention is set.
pub(super) async fn housekeeping_removes_expired_and_keeps_live(store: &dyn Store) {
    let now = t0() + Duration::days(2);
    let policy = HousekeepingPolicy::default();
    let mut live = session("live", now - mins(1));
    live.absolute_expiry = now + Duration::hours(1);
    let stale = session("stale", t0());
    store.create_session(&live).await.expect("create_session");
    store.create_session(&stale).await.expect("create_session");
    let mut fresh_login = login("fresh");
    fresh_login.created_at = now - mins(1);
    store.put_pending_login(&fresh_login).await.expect("put");
    store.put_pending_login(&login("old")).await.expect("put");
    let old_audit = audit(&nhs(1), AuditAction::Cancelled, t0());
    store
        .record_action(&action("k-old", t0()), &old_audit, &[])
        .await
        .expect("record_action");
    store
        .record_action(&action("k-new", now - mins(5)), &old_audit, &[])
        .await
        .expect("record_action");

    let got = store.housekeep(now, &policy).await.expect("housekeep");
    assert_eq!(
        got,
        Housekept {
            sessions: 1,
            pending_logins: 1,
            idempotency_records: 1,
            audit_records: 0,
        },
        "housekeeping must count what it removed"
    );
    assert!(store.get_session(&stale.id).await.expect("get").is_none());
    assert!(
        store.get_session(&live.id).await.expect("get").is_some(),
        "a live session must stay"
    );
    assert!(
        store
            .take_pending_login("old")
            .await
            .expect("take")
            .is_none()
    );
    assert!(
        store
            .take_pending_login("fresh")
            .await
            .expect("take")
            .is_some(),
        "a sign-in in progress must stay"
    );
    assert_eq!(
        store.check_action_key(&key("k-old")).await.expect("check"),
        KeyUse::Unused,
        "a spent idempotency record must go"
    );
    assert!(
        matches!(
            store.check_action_key(&key("k-new")).await.expect("check"),
            KeyUse::Done(_)
        ),
        "a recent idempotency record must stay"
    );
    let kept = store.audit_for_patient(&nhs(1), 10).await.expect("audit");
    assert_eq!(kept.len(), 2, "audit is kept when no retention is set");
}

/// With a retention set, audit records older than it go and newer ones stay.
pub(super) async fn housekeeping_applies_audit_retention(store: &dyn Store) {
    let now = t0() + Duration::days(30);
    store
        .record(&audit(&nhs(1), AuditAction::ViewedAppointment, t0()), &[])
        .await
        .expect("record");
    let recent = audit(
        &nhs(1),
        AuditAction::ViewedAppointment,
        now - Duration::days(1),
    );
    store.record(&recent, &[]).await.expect("record");
    let policy = HousekeepingPolicy {
        audit_retention: Some(Duration::days(7)),
        ..HousekeepingPolicy::default()
    };
    let got = store.housekeep(now, &policy).await.expect("housekeep");
    assert_eq!(got.audit_records, 1, "one audit record is past retention");
    let kept = store.audit_for_patient(&nhs(1), 10).await.expect("audit");
    assert_eq!(
        kept,
        vec![recent],
        "the audit record within retention stays"
    );
}
