//! Faults the simulated PAS can inject on purpose: latency, slowness, timeouts, outages and
//! unreadable data, aimed at chosen operations.

use std::time::Duration;

/// A [`PasBackend`](crate::PasBackend) operation, to aim a fault at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasOperation {
    /// [`PasBackend::patient`](crate::PasBackend::patient).
    Patient,
    /// [`PasBackend::list_appointments`](crate::PasBackend::list_appointments).
    ListAppointments,
    /// [`PasBackend::get_appointment`](crate::PasBackend::get_appointment).
    GetAppointment,
    /// [`PasBackend::capabilities`](crate::PasBackend::capabilities).
    Capabilities,
    /// [`PasBackend::cancel`](crate::PasBackend::cancel).
    Cancel,
    /// [`PasBackend::confirm_attendance`](crate::PasBackend::confirm_attendance).
    ConfirmAttendance,
    /// [`PasBackend::find_slots`](crate::PasBackend::find_slots).
    FindSlots,
    /// [`PasBackend::reschedule`](crate::PasBackend::reschedule).
    Reschedule,
    /// [`PasBackend::poll_events`](crate::PasBackend::poll_events).
    PollEvents,
}

/// A way for the simulated PAS to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer [`PasError::Timeout`](crate::PasError::Timeout) (as a client whose deadline passed would).
    Timeout,
    /// Answer [`PasError::Unavailable`](crate::PasError::Unavailable) (an outage or a server error).
    Unavailable,
    /// Answer [`PasError::BadData`](crate::PasError::BadData) (an answer the adapter cannot read).
    BadData,
    /// Wait this long, then answer normally (to trip the caller's own timeouts).
    Slow(Duration),
}

/// One fault, when it applies, and how many more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    fault: Fault,
    operations: Option<Vec<PasOperation>>,
    remaining: Option<u32>,
}

impl FaultRule {
    /// A rule that applies `fault` to every operation, every time (narrow it with
    /// [`FaultRule::on`] and [`FaultRule::times`]).
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            operations: None,
            remaining: None,
        }
    }

    /// Only for this operation (call again to add more).
    pub fn on(mut self, operation: PasOperation) -> Self {
        self.operations.get_or_insert_with(Vec::new).push(operation);
        self
    }

    /// Only for the next `n` matching calls; then the rule is spent.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, op: PasOperation) -> bool {
        self.remaining != Some(0) && self.operations.as_ref().is_none_or(|ops| ops.contains(&op))
    }
}

/// How the simulated PAS misbehaves: a latency added to every call, then the first matching
/// [`FaultRule`] (rules are tried in the order added). Set it with [`SimulatedPas::set_faults`](crate::simulated::SimulatedPas::set_faults)
/// at any time.
///
/// ```
/// use std::time::Duration;
/// use nhs_portal_pas::simulated::{Fault, FaultPlan, FaultRule, PasOperation};
/// let plan = FaultPlan::new()
///     .latency(Duration::from_millis(20))
///     .rule(FaultRule::new(Fault::Timeout).on(PasOperation::Cancel).times(1))
///     .rule(FaultRule::new(Fault::Slow(Duration::from_secs(2))).on(PasOperation::ListAppointments));
/// # let _ = plan;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    latency: Duration,
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// No latency, no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds this delay to every call.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Adds a fault rule.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The delay and the fault (if any) for one call, using up a counted rule.
    pub(super) fn take(&mut self, op: PasOperation) -> (Duration, Option<Fault>) {
        let fault = self.rules.iter_mut().find(|r| r.matches(op)).map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        });
        (self.latency, fault)
    }
}

/// The error behind an injected [`Fault::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("simulated PAS outage (injected fault)")]
pub struct InjectedOutage;
