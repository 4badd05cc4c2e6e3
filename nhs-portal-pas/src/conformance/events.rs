//! The "events" check: trust-side changes come back from [`PasBackend::poll_events`], each once,
//! oldest first, and `since` is honoured.
//!
//! "Once" means one change per action, told by `(appointment, version)`: the feed is delivered
//! at least once, so a poll may bring again a change an earlier poll brought, from an overlap
//! window of at most [`MAX_OVERLAP`] before `since`. Anything older, or a second version for one
//! action, fails.
//!
//! The trait has no call that makes the trust act, so the fixture brings one
//! ([`EventsFixture::staff`]): the kit asks the test instance to make each [`TrustAction`] in
//! turn, as the trust's staff would in their PAS, and then expects exactly one event for each. An
//! empty list therefore never passes; without the hook the check is skipped, never passed.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::request_status::RequestOutcome;
use nhs_portal_core::{AppointmentId, NhsNumber};

use super::{CheckOutcome, Failure};
use crate::{PasBackend, PasEvent};

pub(super) const EVENTS: &str = "events";
const METHOD: &str = "poll_events";

/// How far before `since` a poll may reach back to bring again changes it brought before.
pub const MAX_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        check: EVENTS,
        method: METHOD,
        message: message.into(),
    }
}

fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), Failure> {
    if ok { Ok(()) } else { Err(fail(message())) }
}

/// One change the trust's staff make in their PAS, for the events check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAction {
    /// The appointment's patient.
    pub patient: NhsNumber,
    /// The appointment (one no other check changes).
    pub appointment: AppointmentId,
    /// What the staff do: cancel it, move it, or decline a request (nothing changes).
    pub outcome: RequestOutcome,
}

/// Makes trust-side changes in the test instance of a PAS, as its staff would (through the PAS's
/// own admin API, a test hook, a direct write to its test database...).
#[async_trait]
pub trait TrustStaff: Send + Sync {
    /// Carries out one action; `Err` with a description when it cannot.
    async fn act(&self, action: &TrustAction) -> Result<(), String>;
}

/// What the events check needs: the hook, and at least two actions on appointments that the
/// other checks leave alone. Run in order, each after the previous one finished.
#[derive(Clone)]
pub struct EventsFixture {
    /// Carries out the actions.
    pub staff: Arc<dyn TrustStaff>,
    /// The actions, oldest first.
    pub actions: Vec<TrustAction>,
}

impl fmt::Debug for EventsFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsFixture")
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

/// Equal when they hold the same hook (the same `Arc`) and the same actions.
impl PartialEq for EventsFixture {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.staff, &other.staff) && self.actions == other.actions
    }
}

impl Eq for EventsFixture {}

fn same_kind(want: &RequestOutcome, got: Option<&RequestOutcome>) -> bool {
    let Some(got) = got else {
        return false;
    };
    match (want, got) {
        (RequestOutcome::Cancelled, RequestOutcome::Cancelled)
        | (RequestOutcome::Rejected, RequestOutcome::Rejected) => true,
        (
            RequestOutcome::Rescheduled { new_start: w, .. },
            RequestOutcome::Rescheduled { new_start: g, .. },
        ) => w.is_none() || g.is_none() || w == g,
        _ => false,
    }
}

/// A poll from `since`: oldest first, nothing older than `since` but re-deliveries (of changes
/// in `delivered`) from the overlap window.
async fn poll(
    backend: &Arc<dyn PasBackend>,
    since: DateTime<Utc>,
    delivered: &[PasEvent],
) -> Result<Vec<PasEvent>, Failure> {
    let events = backend
        .poll_events(since)
        .await
        .map_err(|e| fail(format!("poll_events failed: {e}")))?;
    ensure(events.windows(2).all(|w| w[0].at <= w[1].at), || {
        "events are not oldest first".into()
    })?;
    let redelivered = |e: &PasEvent| {
        e.at >= since - MAX_OVERLAP
            && delivered
                .iter()
                .any(|d| d.appointment == e.appointment && d.version == e.version)
    };
    ensure(
        events.iter().all(|e| e.at >= since || redelivered(e)),
        || format!("an event is older than `since` ({since}) and not a re-delivery"),
    )?;
    Ok(events)
}

/// The one event about each action's appointment, in action order.
fn one_each<'a>(
    events: &'a [PasEvent],
    actions: &[TrustAction],
    when: &str,
) -> Result<Vec<&'a PasEvent>, Failure> {
    let mut found = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        // One per change: a re-delivery of the same version is the same change.
        let mut about: Vec<&PasEvent> = Vec::new();
        for e in events
            .iter()
            .filter(|e| e.appointment == action.appointment)
        {
            if !about.iter().any(|a| a.version == e.version) {
                about.push(e);
            }
        }
        let n = i + 1;
        match about[..] {
            [] => {
                return Err(fail(format!(
                    "{when}: no event for the staff's action {n} ({:?})",
                    action.outcome
                )));
            }
            [e] => {
                let got = e.change.request_outcome();
                ensure(same_kind(&action.outcome, got.as_ref()), || {
                    format!(
                        "{when}: action {n} was {:?} but its event says {:?}",
                        action.outcome, e.change
                    )
                })?;
                found.push(e);
            }
            _ => {
                return Err(fail(format!(
                    "{when}: {} events for the staff's action {n}",
                    about.len()
                )));
            }
        }
    }
    Ok(found)
}

pub(super) async fn events(
    backend: &Arc<dyn PasBackend>,
    fixture: Option<&EventsFixture>,
) -> Result<CheckOutcome, Failure> {
    let Some(fx) = fixture else {
        return Ok(CheckOutcome::Skipped(
            "no trust-side actions in the fixture (ConformanceFixture::events)",
        ));
    };
    ensure(fx.actions.len() >= 2, || {
        "the fixture needs at least two trust-side actions".into()
    })?;
    for (i, action) in fx.actions.iter().enumerate() {
        fx.staff.act(action).await.map_err(|e| Failure {
            check: EVENTS,
            method: "(the fixture's TrustStaff hook)",
            message: format!("the staff's action {} failed: {e}", i + 1),
        })?;
    }
    let all = poll(backend, DateTime::<Utc>::UNIX_EPOCH, &[]).await?;
    let found = one_each(&all, &fx.actions, "since the epoch")?;
    ensure(found.windows(2).all(|w| w[0].at <= w[1].at), || {
        "an action's event is older than the event of an action made before it".into()
    })?;
    // From the second action's time on: the first action's event only if it has the same time.
    let since = found[1].at;
    let later = poll(backend, since, &all).await?;
    let expected: Vec<TrustAction> = fx
        .actions
        .iter()
        .zip(&found)
        .filter(|(_, e)| e.at >= since)
        .map(|(a, _)| a.clone())
        .collect();
    one_each(&later, &expected, "since the second action")?;
    // After every change (and beyond any overlap): nothing, not even a re-delivery.
    let after = found.iter().map(|e| e.at).max().unwrap_or(since) + MAX_OVERLAP * 2;
    let none = poll(backend, after, &all).await?;
    let about_actions = none
        .iter()
        .filter(|e| fx.actions.iter().any(|a| a.appointment == e.appointment))
        .count();
    ensure(about_actions == 0, || {
        format!("{about_actions} events about the actions in a poll from after them all")
    })?;
    Ok(CheckOutcome::Passed)
}
