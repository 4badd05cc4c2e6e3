//! [`IdempotencyStore`] cases: idempotency records of real-time actions.

use chrono::{DateTime, Duration, Utc};

use super::fixtures::*;
use crate::store::*;

fn moved(n: u32, at: DateTime<Utc>) -> ActionOutcome {
    ActionOutcome::Rescheduled {
        appointment: appt(n),
        start: at,
    }
}

fn done(key: &str, patient: u32, appointment: u32, outcome: ActionOutcome) -> CompletedAction {
    CompletedAction {
        key: key.into(),
        patient: nhs(patient),
        appointment: appt(appointment),
        outcome,
        at: t0(),
    }
}

/// Counts what a refused or duplicate call must not have added.
async fn written(store: &dyn Store) -> (usize, u64) {
    let audit = store.audit_for_patient(&nhs(1), 100).await.expect("audit");
    let audit2 = store.audit_for_patient(&nhs(2), 100).await.expect("audit");
    let events = store.outbox_stats().await.expect("stats").pending;
    (audit.len() + audit2.len(), events)
}

/// An unused key reads as `Unused`; recording it stores the action with its audit record and
/// events, after which the key reads as `Done` with the stored outcome (to the microsecond).
pub(super) async fn unused_key_is_recorded_with_audit_and_events(store: &dyn Store) {
    let start = t0() + Duration::days(3) + Duration::microseconds(7);
    let action = done("k-1", 1, 1, moved(2, start));
    let key = action.binding();
    assert_eq!(key.action, RealTimeAction::Reschedule);
    assert_eq!(
        store.check_action_key(&key).await.expect("check"),
        KeyUse::Unused
    );
    let a = audit(&nhs(1), AuditAction::Rescheduled, t0());
    let got = store
        .record_action(&action, &a, &[view_event(1), view_event(2)])
        .await
        .expect("record_action");
    assert_eq!(got, Recorded::Stored);
    assert_eq!(
        store.check_action_key(&key).await.expect("check"),
        KeyUse::Done(moved(2, start)),
        "the outcome is kept, new appointment and start included"
    );
    assert_eq!(
        store.audit_for_patient(&nhs(1), 10).await.expect("audit"),
        vec![a]
    );
    assert_eq!(store.outbox_stats().await.expect("stats").pending, 2);

    let cancel = done("k-2", 1, 3, ActionOutcome::Cancelled);
    let got = store
        .record_action(&cancel, &audit(&nhs(1), AuditAction::Cancelled, t0()), &[])
        .await
        .expect("record cancel");
    assert_eq!(got, Recorded::Stored);
    assert_eq!(
        store
            .check_action_key(&cancel.binding())
            .await
            .expect("check"),
        KeyUse::Done(ActionOutcome::Cancelled)
    );
}

/// Recording the same action under a used key again (two submits raced) writes nothing and
/// answers `Duplicate` with the outcome stored first.
pub(super) async fn double_submit_shows_the_first_outcome(store: &dyn Store) {
    let first = done("k-1", 1, 1, moved(2, t0() + Duration::days(1)));
    let a = audit(&nhs(1), AuditAction::Rescheduled, t0());
    store
        .record_action(&first, &a, &[view_event(1)])
        .await
        .expect("record");
    let before = written(store).await;
    let second = CompletedAction {
        outcome: moved(5, t0() + Duration::days(9)),
        at: t0() + Duration::seconds(2),
        ..first.clone()
    };
    let got = store
        .record_action(&second, &a, &[view_event(2)])
        .await
        .expect("record again");
    assert_eq!(got, Recorded::Duplicate(first.outcome.clone()));
    assert_eq!(written(store).await, before, "a duplicate writes nothing");
    assert_eq!(
        store
            .check_action_key(&second.binding())
            .await
            .expect("check"),
        KeyUse::Done(first.outcome),
        "the first outcome stands"
    );
}

/// A used key asked for another patient, appointment or action is refused, both when checked
/// and when recorded, and nothing is written.
pub(super) async fn key_bound_elsewhere_is_refused(store: &dyn Store) {
    let first = done("k-1", 1, 1, ActionOutcome::Cancelled);
    store
        .record_action(&first, &audit(&nhs(1), AuditAction::Cancelled, t0()), &[])
        .await
        .expect("record");
    let before = written(store).await;
    let others = [
        done("k-1", 2, 1, ActionOutcome::Cancelled),
        done("k-1", 1, 2, ActionOutcome::Cancelled),
        done("k-1", 1, 1, moved(3, t0())),
    ];
    for other in others {
        assert_eq!(
            store
                .check_action_key(&other.binding())
                .await
                .expect("check"),
            KeyUse::Refused,
            "checking {other:?}"
        );
        let got = store
            .record_action(
                &other,
                &audit(&other.patient, AuditAction::Cancelled, t0()),
                &[view_event(1)],
            )
            .await
            .expect("record other");
        assert_eq!(got, Recorded::Refused, "recording {other:?}");
    }
    assert_eq!(written(store).await, before, "a refusal writes nothing");
    assert_eq!(
        store
            .check_action_key(&first.binding())
            .await
            .expect("check"),
        KeyUse::Done(ActionOutcome::Cancelled),
        "the key stays bound to its first use"
    );
}
