//! [`SessionStore`] cases: sessions and sign-ins.

use chrono::Duration;

use super::fixtures::*;
use crate::store::*;

/// A session reads back exactly as stored; an unknown id reads as `None`.
pub(super) async fn session_round_trip(store: &dyn Store) {
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
pub(super) async fn session_id_in_use_conflicts(store: &dyn Store) {
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
pub(super) async fn touch_session_records_activity(store: &dyn Store) {
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
pub(super) async fn delete_session_is_idempotent(store: &dyn Store) {
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
pub(super) async fn delete_expired_sessions_applies_both_rules(store: &dyn Store) {
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
pub(super) async fn pending_login_is_taken_once(store: &dyn Store) {
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
pub(super) async fn pending_login_is_replaced(store: &dyn Store) {
    store.put_pending_login(&login("s")).await.expect("put");
    let mut newer = login("s");
    newer.nonce = "nonce-2".into();
    store.put_pending_login(&newer).await.expect("put again");
    let got = store.take_pending_login("s").await.expect("take");
    assert_eq!(got, Some(newer), "the newer pending login must win");
    assert_eq!(store.take_pending_login("s").await.expect("take"), None);
}
