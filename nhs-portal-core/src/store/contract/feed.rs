//! [`PasFeedStore`] cases: the last-seen record of the PAS feed.

use chrono::Duration;

use super::fixtures::*;
use crate::store::*;

fn seen(n: u32, version: &str, status: &str) -> SeenAppointment {
    SeenAppointment {
        appointment: appt(n),
        version: version.into(),
        status: status.into(),
        start: Some(t0() + Duration::days(i64::from(n)) + Duration::microseconds(3)),
        at: t0() + Duration::minutes(i64::from(n)),
    }
}

async fn read(store: &dyn Store, n: &[u32]) -> Vec<SeenAppointment> {
    let ids: Vec<_> = n.iter().map(|n| appt(*n)).collect();
    let mut got = store.last_seen(&ids).await.expect("last_seen");
    got.sort_by(|a, b| a.appointment.as_str().cmp(b.appointment.as_str()));
    got
}

/// A recorded version reads back whole (start to the microsecond, a missing start as missing);
/// appointments never seen are left out, and an empty list asks for nothing.
pub(super) async fn feed_records_read_back_and_unknown_ones_are_absent(store: &dyn Store) {
    assert!(read(store, &[1, 2]).await.is_empty());
    assert!(store.last_seen(&[]).await.expect("last_seen").is_empty());
    let first = seen(1, "3", "booked");
    let mut second = seen(2, "W/1", "entered-in-error");
    second.start = None;
    store.record_seen(&first).await.expect("record_seen");
    store.record_seen(&second).await.expect("record_seen");
    assert_eq!(read(store, &[1, 2, 3]).await, vec![first.clone(), second]);
    assert_eq!(read(store, &[1]).await, vec![first]);
}

/// A later version replaces the record (one per appointment); recording the same record
/// again changes nothing.
pub(super) async fn feed_record_is_replaced_by_a_later_version(store: &dyn Store) {
    store
        .record_seen(&seen(1, "1", "booked"))
        .await
        .expect("record_seen");
    let later = seen(1, "2", "cancelled");
    store.record_seen(&later).await.expect("record_seen");
    store.record_seen(&later).await.expect("record_seen again");
    let got = read(store, &[1]).await;
    assert_eq!(got, vec![later]);
    assert!(got[0].is_version("2") && !got[0].is_version("1"));
}
