//! [`RecordQueue`] cases: the Record Service queue (a leased queue).

use chrono::Duration;

use super::fixtures::*;
use crate::store::*;

/// A number already waiting is not queued twice; a different number is.
pub(super) async fn record_queue_deduplicates_waiting_numbers(store: &dyn Store) {
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
pub(super) async fn record_queue_claims_and_leases(store: &dyn Store) {
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
pub(super) async fn record_queue_retries_failed_sends(store: &dyn Store) {
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
pub(super) async fn record_queue_counts_distinct_sent_numbers(store: &dyn Store) {
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
