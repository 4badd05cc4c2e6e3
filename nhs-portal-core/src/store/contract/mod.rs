//! The store contract: the behaviour every [`Store`] implementation must show, as a suite any
//! store can run against itself (cargo feature `testing`).
//!
//! Each case is an `async fn(&dyn Store)` that expects an **empty** store, exercises it and
//! panics with a message naming the broken rule. The suite has no runtime of its own: the
//! caller's test drives it, usually through [`run_all`], which asks for a fresh store before
//! every case. It needs a **multi-threaded** tokio runtime
//! (`#[tokio::test(flavor = "multi_thread")]`): some cases make store calls from several threads
//! at the same instant.
//!
//! ```
//! use std::sync::Arc;
//! use nhs_portal_core::store::{Store, contract, memory::MemoryStore};
//! # async fn check() {
//! contract::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
//! # }
//! ```
//!
//! The cases live one file per sub-trait (`session`, `request`, `audit`, `idempotency`,
//! `outbox`, `record_queue`, `feed`, `upkeep`), sharing `fixtures`; [`CASES`] lists them all.
//!
//! What the suite cannot check from one store, such as two portal instances submitting the same
//! request at once against one database, belongs in the implementation's own tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Store;

mod audit;
mod feed;
pub(crate) mod fixtures;
mod idempotency;
mod outbox;
mod record_queue;
mod request;
mod session;
mod upkeep;

/// The future a [`Case`] returns.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One named contract case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The case's name (the function's name in its sub-trait's file).
    pub name: &'static str,
    /// Runs the case against an empty store; panics when the store breaks the contract.
    pub run: for<'a> fn(&'a dyn Store) -> CaseFuture<'a>,
}

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every case in the suite, in a stable order.
        pub const CASES: &[Case] = &[
            $(Case { name: stringify!($name), run: |store| Box::pin($module::$name(store)) }),*
        ];
    };
}

cases![
    session::session_round_trip,
    session::session_id_in_use_conflicts,
    session::touch_session_records_activity,
    session::delete_session_is_idempotent,
    session::delete_expired_sessions_applies_both_rules,
    session::pending_login_is_taken_once,
    session::pending_login_is_replaced,
    request::submit_request_stores_request_audit_and_events,
    request::submit_request_refuses_a_taken_id,
    request::duplicate_idempotency_key_changes_nothing,
    request::second_pending_request_is_refused,
    request::idempotency_key_wins_over_pending_request,
    request::new_request_allowed_after_resolution,
    request::resolve_request_fulfils_with_audit_and_events,
    request::resolve_request_rejects,
    request::resolve_request_refuses_bad_transitions,
    request::list_requests_filters_and_orders,
    request::pending_requests_for_patient_is_the_overlay,
    audit::audit_is_newest_first_and_limited,
    audit::audit_keeps_every_action_and_field,
    audit::record_writes_audit_and_events_together,
    idempotency::unused_key_is_recorded_with_audit_and_events,
    idempotency::double_submit_shows_the_first_outcome,
    idempotency::key_bound_elsewhere_is_refused,
    outbox::outbox_claims_oldest_first_within_limit,
    outbox::outbox_lease_hides_claimed_events_until_it_ends,
    outbox::outbox_two_workers_never_share_events,
    outbox::outbox_delivered_events_are_done,
    outbox::outbox_failed_events_wait_for_retry,
    outbox::outbox_quarantined_events_are_set_aside,
    outbox::outbox_keeps_every_event_kind,
    outbox::outbox_ignores_unknown_and_empty_ids,
    outbox::outbox_reads_events_by_time_and_the_oldest_waiting,
    record_queue::record_queue_deduplicates_waiting_numbers,
    record_queue::record_queue_claims_and_leases,
    record_queue::record_queue_retries_failed_sends,
    record_queue::record_queue_counts_distinct_sent_numbers,
    feed::feed_records_read_back_and_unknown_ones_are_absent,
    feed::feed_record_is_replaced_by_a_later_version,
    upkeep::ping_answers_on_a_migrated_store,
    upkeep::housekeeping_removes_expired_and_keeps_live,
    upkeep::housekeeping_applies_audit_retention,
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
