//! Idempotency records of real-time actions: what a cancel or reschedule done straight in the
//! PAS did under a form's idempotency key.
//!
//! A form carries an idempotency key. A request to a request-only trust is made idempotent by
//! the request itself (its key is unique, see [`RequestStore::submit_request`]); a real-time
//! action changes the PAS and leaves only an audit record, so it gets a record of its own here.
//! Each key is bound to one (patient, appointment, action) and keeps the outcome, so a double
//! submit of a successful action shows the same success (for a reschedule, the new time) and a
//! key reused for anything else is refused ([`KeyUse::Refused`], [`Recorded::Refused`]).
//!
//! [`RequestStore::submit_request`]: super::RequestStore::submit_request

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{AuditRecord, StoreError};
use crate::{AppointmentId, NhsNumber, ReportingEvent};

/// A real-time action on an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RealTimeAction {
    /// Cancelled in the PAS.
    Cancel,
    /// Moved to another slot in the PAS.
    Reschedule,
}

impl RealTimeAction {
    /// A stable lower-case name, for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::Reschedule => "reschedule",
        }
    }

    /// Parses [`RealTimeAction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Cancel, Self::Reschedule]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What an idempotency key is asked for: one action by one patient on one appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionKey {
    /// The form's idempotency key.
    pub key: String,
    /// The signed-in patient.
    pub patient: NhsNumber,
    /// The appointment acted on (the original one, for a reschedule).
    pub appointment: AppointmentId,
    /// The action.
    pub action: RealTimeAction,
}

impl ActionKey {
    /// Whether this key may be used, given the action recorded under it (if any): the one rule
    /// every store applies.
    pub fn check(&self, recorded: Option<&CompletedAction>) -> KeyUse {
        match recorded {
            None => KeyUse::Unused,
            Some(done) if done.binding() == *self => KeyUse::Done(done.outcome.clone()),
            Some(_) => KeyUse::Refused,
        }
    }
}

/// What a real-time action did, as a double submit must show it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The appointment was cancelled.
    Cancelled,
    /// The appointment was moved.
    Rescheduled {
        /// The appointment as now booked: the same id or the one that replaced it.
        appointment: AppointmentId,
        /// The new start.
        start: DateTime<Utc>,
    },
}

impl ActionOutcome {
    /// The action that has this outcome.
    pub fn action(&self) -> RealTimeAction {
        match self {
            Self::Cancelled => RealTimeAction::Cancel,
            Self::Rescheduled { .. } => RealTimeAction::Reschedule,
        }
    }
}

/// A real-time action done under an idempotency key, as stored. Its action follows from its
/// outcome, so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedAction {
    /// The form's idempotency key (unique).
    pub key: String,
    /// The patient who acted.
    pub patient: NhsNumber,
    /// The appointment acted on.
    pub appointment: AppointmentId,
    /// What it did.
    pub outcome: ActionOutcome,
    /// When.
    pub at: DateTime<Utc>,
}

impl CompletedAction {
    /// The (key, patient, appointment, action) this record binds.
    pub fn binding(&self) -> ActionKey {
        ActionKey {
            key: self.key.clone(),
            patient: self.patient.clone(),
            appointment: self.appointment.clone(),
            action: self.outcome.action(),
        }
    }
}

/// Whether an idempotency key may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUse {
    /// Nothing was done under this key yet: go ahead.
    Unused,
    /// The same action was done under this key (a double submit): show this outcome again and
    /// do nothing.
    Done(ActionOutcome),
    /// The key was used for another patient, appointment or action: refuse.
    Refused,
}

/// What [`IdempotencyStore::record_action`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The action, its audit record and its events are stored.
    Stored,
    /// The same action was recorded under this key already (two submits raced): nothing
    /// written; this is the outcome stored first.
    Duplicate(ActionOutcome),
    /// The key was used for another patient, appointment or action: nothing written.
    Refused,
}

impl Recorded {
    /// The answer to a record that inserted nothing because `existing` holds its key.
    pub fn refusal(action: &CompletedAction, existing: &CompletedAction) -> Self {
        match action.binding().check(Some(existing)) {
            KeyUse::Done(outcome) => Self::Duplicate(outcome),
            KeyUse::Unused | KeyUse::Refused => Self::Refused,
        }
    }
}

/// Idempotency records of real-time actions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Whether `key` may be used for its patient, appointment and action (see
    /// [`ActionKey::check`]). Read before acting on the PAS.
    async fn check_action_key(&self, key: &ActionKey) -> Result<KeyUse, StoreError>;

    /// Stores a completed action with its audit record and reporting events, in one
    /// transaction. If the key is taken nothing is written: [`Recorded::Duplicate`] when it is
    /// bound to the same patient, appointment and action, [`Recorded::Refused`] otherwise. At
    /// most one record per key ever exists, also when several portal instances record at once.
    async fn record_action(
        &self,
        action: &CompletedAction,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Recorded, StoreError>;
}
