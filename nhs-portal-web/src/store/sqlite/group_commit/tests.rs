use std::sync::Arc;

use chrono::Utc;
use nhs_portal_core::store::{AuditAction, AuditLog, AuditRecord, Outbox};
use nhs_portal_core::{AppointmentId, NhsNumber, ReportingEvent};

use super::{Durability, is_view};
use crate::store::SqliteStore;

fn patient() -> NhsNumber {
    NhsNumber::parse("9000000009").unwrap()
}

fn record(action: AuditAction, key: &str) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        patient: patient(),
        actor: "patient".into(),
        session: Some("rep".into()),
        action,
        appointment: Some(AppointmentId::parse(key).unwrap()),
        detail: Some(key.into()),
    }
}

fn event(key: &str) -> ReportingEvent {
    ReportingEvent::CancelRequested {
        at: Utc::now(),
        appointment: AppointmentId::parse(key).unwrap(),
        session_id: "rep".into(),
    }
}

async fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    (dir, store)
}

#[test]
fn only_page_views_are_relaxed() {
    let views = [
        AuditAction::ViewedAppointment,
        AuditAction::ViewedAppointments,
    ];
    for action in AuditAction::ALL {
        assert_eq!(is_view(action), views.contains(&action), "{action:?}");
    }
    let table: [(&[AuditAction], Durability); 4] = [
        (&[AuditAction::ViewedAppointment], Durability::ProcessCrash),
        (
            &[
                AuditAction::ViewedAppointment,
                AuditAction::ViewedAppointments,
            ],
            Durability::ProcessCrash,
        ),
        (
            &[AuditAction::ViewedAppointment, AuditAction::Cancelled],
            Durability::Store,
        ),
        (&[AuditAction::SignedIn], Durability::Store),
    ];
    for (actions, durability) in table {
        assert_eq!(Durability::of(actions.iter()), durability, "{actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_commit_at_normal_and_any_other_record_at_the_stores_level() {
    let (_dir, store) = file_store().await;
    store
        .record(
            &record(AuditAction::ViewedAppointment, "a1"),
            &[event("a1")],
        )
        .await
        .unwrap();
    assert_eq!(store.group.last_level(), 1, "a view commits at NORMAL");
    store
        .record(&record(AuditAction::Cancelled, "a2"), &[])
        .await
        .unwrap();
    assert_eq!(store.group.last_level(), 2, "a cancel commits at FULL");
    store
        .record(&record(AuditAction::ViewedAppointments, "a3"), &[])
        .await
        .unwrap();
    assert_eq!(store.group.last_level(), 1, "back to NORMAL for views");
    // The pool's own connections keep the store's level.
    let pooled: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(pooled, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_are_all_written_with_their_events_in_order() {
    let (_dir, store) = file_store().await;
    let store = Arc::new(store);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..64 {
        let store = store.clone();
        tasks.spawn(async move {
            let key = format!("k{n}");
            // Some with no event, some with two (both naming the key, the second with a suffix).
            let events: Vec<_> = (0..n % 3).map(|i| event(&format!("{key}-{i}"))).collect();
            store
                .record(&record(AuditAction::ViewedAppointment, &key), &events)
                .await
                .unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let audit = store.audit_for_patient(&patient(), 1000).await.unwrap();
    assert_eq!(audit.len(), 64);
    let events = store
        .events_between(
            Utc::now() - chrono::Duration::days(1),
            Utc::now() + chrono::Duration::days(1),
            0,
            1000,
        )
        .await
        .unwrap();
    let keys: Vec<String> = events
        .iter()
        .map(|(_, e)| match e {
            ReportingEvent::CancelRequested { appointment, .. } => appointment.as_str().to_owned(),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(keys.len(), (0..64).map(|n| n % 3).sum::<usize>());
    for n in 0..64 {
        let mine: Vec<_> = keys
            .iter()
            .filter(|k| k.starts_with(&format!("k{n}-")))
            .collect();
        let expected: Vec<String> = (0..n % 3).map(|i| format!("k{n}-{i}")).collect();
        assert_eq!(
            mine,
            expected.iter().collect::<Vec<_>>(),
            "job {n}'s events, in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_writes_nothing_and_the_next_one_commits() {
    let (_dir, store) = file_store().await;
    // The outbox is gone: the batch's audit insert succeeds, its event insert fails.
    sqlx::query("ALTER TABLE outbox RENAME TO outbox_away")
        .execute(store.pool())
        .await
        .unwrap();
    let failed = store
        .record(
            &record(AuditAction::ViewedAppointment, "f1"),
            &[event("f1")],
        )
        .await;
    assert!(failed.is_err(), "the caller hears of the failure");
    sqlx::query("ALTER TABLE outbox_away RENAME TO outbox")
        .execute(store.pool())
        .await
        .unwrap();
    let audit = store.audit_for_patient(&patient(), 10).await.unwrap();
    assert!(
        audit.is_empty(),
        "the failed batch's audit record was rolled back"
    );
    store
        .record(
            &record(AuditAction::ViewedAppointment, "f2"),
            &[event("f2")],
        )
        .await
        .expect("the next batch commits");
    let audit = store.audit_for_patient(&patient(), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail.as_deref(), Some("f2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_commits_each_record_through_its_one_connection() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store
        .record(
            &record(AuditAction::ViewedAppointment, "m1"),
            &[event("m1")],
        )
        .await
        .unwrap();
    assert_eq!(store.group.last_level(), -1, "no writer of its own");
    assert_eq!(
        store.audit_for_patient(&patient(), 10).await.unwrap().len(),
        1
    );
}
