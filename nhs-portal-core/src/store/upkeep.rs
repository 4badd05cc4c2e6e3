//! Keeping the store healthy: a cheap reachability check and the scheduled clean-up of state
//! that has outlived its use.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::StoreError;

/// What housekeeping removes, by age. Each age counts back from the `now` given to
/// [`Upkeep::housekeep`].
///
/// Drafts of a change are not here: they live sealed in the patient's cookie, never in the
/// store, and expire with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HousekeepingPolicy {
    /// Sessions idle for longer than this go (those past their absolute expiry go too).
    pub session_idle: Duration,
    /// Sign-ins started longer ago than this and never finished go.
    pub pending_login_max_age: Duration,
    /// Idempotency records of real-time actions older than this go: a double submit that late
    /// is a new form anyway (its page has long expired with the session).
    pub idempotency_max_age: Duration,
    /// Audit records older than this go. `None` (the default) keeps them for ever: the trust
    /// decides how long its audit trail is kept.
    pub audit_retention: Option<Duration>,
}

impl Default for HousekeepingPolicy {
    /// The portal's own limits: 10 minutes' idleness, 10 minutes to finish a sign-in, a day for
    /// idempotency records, audit kept.
    fn default() -> Self {
        Self {
            session_idle: Duration::minutes(10),
            pending_login_max_age: Duration::minutes(10),
            idempotency_max_age: Duration::days(1),
            audit_retention: None,
        }
    }
}

/// How many rows one housekeeping run removed, by kind (counts for metrics, never contents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Housekept {
    /// Expired sessions.
    pub sessions: u64,
    /// Abandoned sign-ins.
    pub pending_logins: u64,
    /// Spent idempotency records.
    pub idempotency_records: u64,
    /// Audit records past retention.
    pub audit_records: u64,
}

/// Reachability and clean-up.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Upkeep: Send + Sync {
    /// A cheap check that the store answers and holds the schema this build expects (for
    /// readiness): `SELECT 1`-like, no table scans. [`StoreError::Unavailable`] when it cannot
    /// be reached, [`StoreError::NotMigrated`] when its schema is older than this build's.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Removes what `policy` says has expired at `now`, in one call; returns the counts.
    /// Live sessions, sign-ins in progress, recent idempotency records and (unless
    /// `policy.audit_retention` is set) every audit record stay.
    async fn housekeep(
        &self,
        now: DateTime<Utc>,
        policy: &HousekeepingPolicy,
    ) -> Result<Housekept, StoreError>;
}
