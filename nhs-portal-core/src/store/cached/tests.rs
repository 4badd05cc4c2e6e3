use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::store::contract::{self, fixtures::*};
use crate::store::memory::MemoryStore;

/// The memory store, and the cache over it: writes made to `inner` directly stand for another
/// process writing to the database behind the cache's back.
fn cached(config: CacheConfig) -> (Arc<dyn Store>, CachedStore) {
    let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
    (inner.clone(), CachedStore::with_config(inner, config))
}

fn long_lived() -> CacheConfig {
    CacheConfig {
        capacity: 100,
        max_age: Duration::from_secs(3600),
    }
}

// Multi-threaded: some contract cases call the store from several threads at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_memory_store_passes_the_contract() {
    contract::run_all(|| async {
        Arc::new(CachedStore::new(Arc::new(MemoryStore::new()))) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn reads_are_answered_from_memory() {
    let (inner, store) = cached(long_lived());
    let s = session("s1", t0());
    store.create_session(&s).await.unwrap();
    assert_eq!(store.pending_request_for(&appt(1)).await.unwrap(), None);
    assert!(
        store
            .pending_requests_for_patient(&nhs(1))
            .await
            .unwrap()
            .is_empty()
    );
    // Behind the cache's back (as another instance would): the kept answers stay.
    inner.delete_session(&s.id).await.unwrap();
    submit_new(&*inner, &request("k1", appt(1), nhs(1))).await;
    assert_eq!(
        store.get_session(&s.id).await.unwrap(),
        Some(s),
        "kept as written"
    );
    assert_eq!(
        store.pending_request_for(&appt(1)).await.unwrap(),
        None,
        "kept"
    );
    assert!(
        store
            .pending_requests_for_patient(&nhs(1))
            .await
            .unwrap()
            .is_empty(),
        "kept"
    );
}

/// Each write through the cache, after the store was changed behind its back: the next read
/// must show the store's state, not what was kept.
#[tokio::test]
async fn every_write_through_it_drops_what_it_changes() {
    type Write = for<'a> fn(&'a CachedStore, &'a dyn Store) -> CaseFuture<'a>;
    use crate::store::contract::CaseFuture;
    let cases: [(&str, Write); 7] = [
        ("touch_session", |c, _| {
            Box::pin(async move {
                c.touch_session(&SessionId::new("s1"), t0() + mins(2))
                    .await
                    .unwrap();
            })
        }),
        ("delete_session", |c, _| {
            Box::pin(async move { c.delete_session(&SessionId::new("s1")).await.unwrap() })
        }),
        ("delete_expired_sessions", |c, _| {
            Box::pin(async move {
                c.delete_expired_sessions(t0() - mins(60), t0())
                    .await
                    .unwrap();
            })
        }),
        ("submit_request", |c, _| {
            Box::pin(async move {
                // Refused (a pending request exists now), yet it drops the kept answers.
                let _ = c
                    .submit_request(
                        &request("k2", appt(1), nhs(1)),
                        &audit(&nhs(1), AuditAction::CancelRequested, t0()),
                        &[],
                    )
                    .await;
            })
        }),
        ("resolve_request", |c, inner| {
            Box::pin(async move {
                let pending = inner.pending_request_for(&appt(2)).await.unwrap().unwrap();
                c.resolve_request(
                    pending.id,
                    &resolve(Resolution::Fulfilled, None, t0()),
                    &audit(&nhs(1), AuditAction::RequestFulfilled, t0()),
                    &[],
                )
                .await
                .unwrap();
            })
        }),
        ("housekeep", |c, _| {
            Box::pin(async move {
                c.housekeep(t0(), &HousekeepingPolicy::default())
                    .await
                    .unwrap();
            })
        }),
        ("create_session", |c, _| {
            Box::pin(async move {
                // The id is taken (behind the cache's back): a conflict, and nothing kept.
                let _ = c.create_session(&session("s1", t0() + mins(3))).await;
            })
        }),
    ];
    for (name, write) in cases {
        let (inner, store) = cached(long_lived());
        let s = session("s1", t0());
        // Kept: the session, and "no pending request" on appointments 1 and 2.
        store.create_session(&s).await.unwrap();
        submit_new(&*inner, &request("k0", appt(2), nhs(2))).await;
        inner
            .resolve_request(
                inner
                    .pending_request_for(&appt(2))
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                &resolve(Resolution::Rejected, None, t0()),
                &audit(&nhs(2), AuditAction::RequestRejected, t0()),
                &[],
            )
            .await
            .unwrap();
        let session_before = store.get_session(&s.id).await.unwrap();
        let appt1_before = store.pending_request_for(&appt(1)).await.unwrap();
        let patient_before = store.pending_requests_for_patient(&nhs(1)).await.unwrap();
        // Behind its back: the session is touched, a request is made on appointment 1 and
        // another on appointment 2, both for patient 1.
        inner.touch_session(&s.id, t0() + mins(1)).await.unwrap();
        submit_new(&*inner, &request("k1", appt(1), nhs(1))).await;
        submit_new(&*inner, &request("k3", appt(2), nhs(1))).await;
        // Kept: appointment 2's request (which `resolve_request` then resolves).
        let appt2_before = store.pending_request_for(&appt(2)).await.unwrap();
        assert!(appt2_before.is_some());
        write(&store, &*inner).await;
        let (session_now, appt1_now) = (
            inner.get_session(&s.id).await.unwrap(),
            inner.pending_request_for(&appt(1)).await.unwrap(),
        );
        let changes_session = matches!(
            name,
            "touch_session"
                | "delete_session"
                | "delete_expired_sessions"
                | "housekeep"
                | "create_session"
        );
        let changes_requests = matches!(name, "submit_request" | "resolve_request" | "housekeep");
        let seen = store.get_session(&s.id).await.unwrap();
        if changes_session {
            assert_eq!(seen, session_now, "{name}: the session is re-read");
        } else {
            assert_eq!(seen, session_before, "{name}: the session is still kept");
        }
        if changes_requests {
            if name != "resolve_request" {
                assert_eq!(
                    store.pending_request_for(&appt(1)).await.unwrap(),
                    appt1_now,
                    "{name}: appointment 1 is re-read"
                );
            }
            assert_eq!(
                store.pending_requests_for_patient(&nhs(1)).await.unwrap(),
                inner.pending_requests_for_patient(&nhs(1)).await.unwrap(),
                "{name}: the patient's requests are re-read"
            );
            if name != "submit_request" {
                assert_eq!(
                    store.pending_request_for(&appt(2)).await.unwrap(),
                    inner.pending_request_for(&appt(2)).await.unwrap(),
                    "{name}: appointment 2 is re-read"
                );
            }
        } else {
            assert_eq!(
                store.pending_request_for(&appt(1)).await.unwrap(),
                appt1_before,
                "{name}: appointment 1 is still kept"
            );
            assert_eq!(
                store.pending_requests_for_patient(&nhs(1)).await.unwrap(),
                patient_before,
                "{name}: the patient's requests are still kept"
            );
        }
    }
}

#[test]
fn an_answer_read_across_a_write_is_not_kept() {
    let kept: Kept<u32> = Kept::new(long_lived());
    let (_, generation) = kept.get("k");
    // A write begins (and may end) while the answer is read from the store.
    let writing = Writing::new(&kept, Some(vec!["k".into()]));
    kept.keep("k", 1, generation);
    assert_eq!(kept.get("k").0, None, "read while a write was under way");
    let (_, during) = kept.get("k");
    kept.keep("k", 2, during);
    drop(writing);
    assert_eq!(
        kept.get("k").0,
        None,
        "the write's end drops what was read during it"
    );
    let (_, after) = kept.get("k");
    kept.keep("k", 3, after);
    assert_eq!(kept.get("k").0, Some(3));
}

#[test]
fn a_write_dropped_before_it_finished_still_drops_its_key() {
    let kept: Kept<u32> = Kept::new(long_lived());
    let (_, generation) = kept.get("k");
    kept.keep("k", 1, generation);
    let writing = Writing::new(&kept, Some(vec!["k".into()]));
    // The caller stops waiting: the future (and its guard) is dropped mid-write.
    drop(writing);
    assert_eq!(kept.get("k").0, None);
}

#[test]
fn kept_answers_are_bounded_in_number_and_age() {
    let kept: Kept<u32> = Kept::new(CacheConfig {
        capacity: 2,
        max_age: Duration::from_secs(3600),
    });
    for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
        let (_, g) = kept.get(key);
        kept.keep(key, i as u32, g);
    }
    assert_eq!(kept.get("a").0, None, "full: started again");
    assert_eq!(kept.get("c").0, Some(2));
    let young: Kept<u32> = Kept::new(CacheConfig {
        capacity: 2,
        max_age: Duration::ZERO,
    });
    let (_, g) = young.get("a");
    young.keep("a", 1, g);
    assert_eq!(young.get("a").0, None, "older than max_age");
}
