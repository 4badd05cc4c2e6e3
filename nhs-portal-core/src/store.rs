//! The store: state the portal itself owns and must never lose.
//!
//! Appointments live in the trust's PAS. The portal owns patient sessions, the cancel and
//! reschedule requests it accepted for request-only trusts (and so the request-status overlay the
//! PCA must see within 3 seconds), the audit trail, the reporting outbox, the Record Service
//! queue and the idempotency records of real-time actions. This module defines that state and the
//! traits a store implements, one sub-trait per kind of state ([`SessionStore`],
//! [`RequestStore`], [`AuditLog`], [`Outbox`], [`RecordQueue`], [`IdempotencyStore`],
//! [`PasFeedStore`], [`Upkeep`]);
//! implementations live at the edges (in-memory here in [`memory`], SQLite and PostgreSQL in
//! `nhs-portal-web`). [`cached::CachedStore`] keeps sessions and pending requests of any store
//! in process memory (for one instance only).
//!
//! ## Writes that belong together are one call
//!
//! Every write that a patient is told about is committed before the method returns, and writes
//! that belong together are one transaction made by one call:
//!
//! - an audit record and the reporting events of the same action: [`AuditLog::record`];
//! - a new request with its audit record and events: [`RequestStore::submit_request`];
//! - a request's resolution with its audit record and events: [`RequestStore::resolve_request`];
//! - a real-time cancel or reschedule's idempotency record with its audit record and events:
//!   [`IdempotencyStore::record_action`].
//!
//! The types rule out what the old loose parameters allowed: a [`NewRequest`] has no state (it
//! is always stored pending), a [`Resolve`] carries a [`Resolution`] (fulfilled or rejected,
//! never "pending"), and a [`CompletedAction`]'s action follows from its [`ActionOutcome`]. The
//! rules the types cannot carry are written once here, for every store: [`Submitted::refusal`]
//! (which refusal a submit that inserted nothing gets), [`Resolve::refusal`] and
//! [`Resolve::apply`] (which resolutions are allowed), and [`ActionKey::check`] (whether an
//! idempotency key may be used).
//!
//! Timestamps are kept to the microsecond (PostgreSQL's precision); finer parts may be lost.
//! Behaviour every implementation must show is pinned down by the contract suite in
//! `contract` (cargo feature `testing`), which any store can run against itself.

pub mod cached;
pub mod memory;

mod audit;
mod feed;
mod idempotency;
mod queue;
mod request;
mod session;
mod upkeep;

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod contract;

pub use audit::*;
pub use feed::*;
pub use idempotency::*;
pub use queue::*;
pub use request::*;
pub use session::*;
pub use upkeep::*;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached, is locked, or timed out. Worth retrying later; the web
    /// layer shows "Sorry, there is a problem with the service" or answers 503.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The write conflicts with the current state (for example resolving a request that is no
    /// longer pending).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The thing named does not exist.
    #[error("not found")]
    NotFound,
    /// The database was written by a newer version of the portal.
    #[error(
        "the database schema is version {found}, newer than this build supports ({supported}); upgrade the portal"
    )]
    SchemaTooNew {
        /// The schema version found.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The database's schema is older than this build's (its migrations have not run).
    #[error("the database schema is version {found:?}, older than this build expects ({expected})")]
    NotMigrated {
        /// The newest applied migration, if any.
        found: Option<i64>,
        /// The newest migration this build has.
        expected: i64,
    },
    /// Stored data could not be read back (corrupt or hand-edited).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database refused the operation for a reason retrying will not fix (a failed
    /// migration, an unexpected constraint, a bug). The source carries the database's message,
    /// which never includes bound values such as NHS numbers.
    #[error("the database refused the operation")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Everything the portal stores, as one object: `Arc<dyn Store>`.
pub trait Store:
    SessionStore
    + RequestStore
    + AuditLog
    + Outbox
    + RecordQueue
    + IdempotencyStore
    + PasFeedStore
    + Upkeep
{
}

impl<
    T: SessionStore
        + RequestStore
        + AuditLog
        + Outbox
        + RecordQueue
        + IdempotencyStore
        + PasFeedStore
        + Upkeep,
> Store for T
{
}
