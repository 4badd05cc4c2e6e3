//! The conformance kit: checks that a [`PasBackend`] keeps the rules stated on the trait.
//!
//! Vendors run it from their own tests against their own backend (a test instance of their PAS
//! with known data), described by a [`ConformanceFixture`]. [`FixtureBuilder`] seeds what a full
//! run needs into a test instance through a [`Seeder`] you write over your PAS's test hooks; or
//! fill the fixture's fields with data you already have:
//!
//! ```no_run
//! # async fn example(backend: std::sync::Arc<dyn nhs_portal_pas::PasBackend>) {
//! use nhs_portal_core::NhsNumber;
//! use nhs_portal_pas::conformance::{self, ConformanceFixture};
//! let fixture = ConformanceFixture::new(
//!     NhsNumber::parse("9000000009").unwrap(),
//!     NhsNumber::parse("9000000017").unwrap(),
//!     NhsNumber::parse("9000000084").unwrap(),
//! );
//! let report = conformance::run(backend, &fixture).await.expect("conforms");
//! println!("{report}");
//! # }
//! ```
//!
//! Some checks change data (a cancel, a reschedule race), so run it on test data only, and on
//! a multi-threaded tokio runtime (`#[tokio::test(flavor = "multi_thread")]`): the race needs
//! two threads. Checks whose fixture part is missing are reported as skipped, never as passed.
//! The first failure stops the run; its [`Failure`] names the rule, the [`PasBackend`] method
//! whose answer broke it, and what it answered.
//!
//! The rules ([`RULES`] lists them with their methods; each is stated on the method's docs):
//! - **own data only**: a patient's list holds only their appointments; another patient's
//!   appointment is `None` from [`PasBackend::get_appointment`], and acting on it with a forged
//!   patient field is [`PasError::NotFound`] from `capabilities`, `cancel` and `reschedule`;
//! - **odd input**: unknown and odd-looking ids give `Ok(None)`, unknown patients an empty list
//!   and no record;
//! - **idempotent cancel** at a real-time trust;
//! - **capabilities honoured**: real-time operations on a request-only appointment are
//!   [`PasError::NotSupported`]; `find_slots` answers `NotSupported` or no slots;
//! - **no double booking**: two reschedules into one slot, released at the same instant on two
//!   tasks of the multi-threaded runtime, round after round (up to [`RACE_ROUNDS`], each into a
//!   fresh shared slot): exactly one wins, the other is [`PasError::SlotUnavailable`] and its
//!   appointment is unchanged; an unknown slot is [`PasError::SlotUnavailable`] too;
//! - **past stays past**: cancelling or moving a past appointment is [`PasError::InvalidState`];
//! - **offered slots only**: slots that exist but that the PAS must not offer an appointment
//!   (another trust's, another clinic's or specialty's, beyond the booking horizon) are never in
//!   its [`PasBackend::find_slots`] answer, and moving it into one is
//!   [`PasError::SlotUnavailable`] with the appointment unchanged;
//! - **events**: after the fixture's [`TrustStaff`] hook made its [`TrustAction`]s,
//!   [`PasBackend::poll_events`] reports exactly one event for each, oldest first, and honours
//!   `since` (inclusive). An empty list fails; without the hook the check is skipped;
//! - **confirm attendance**: where the trust offers it, [`PasBackend::confirm_attendance`]
//!   returns the appointment booked and confirmed, a read back shows it, confirming again
//!   changes nothing, and the past and cancelled fixture appointments are
//!   [`PasError::InvalidState`]; where the trust does not, it is [`PasError::NotSupported`]
//!   and nothing changes. (A forged patient is part of **own data only**, a request-only
//!   trust's refusal part of **capabilities honoured**.)
//!
//! For wrappers (a metering or routing layer over someone's adapter), [`forwarding::unforwarded`]
//! names every method the wrapper does not hand on to the backend it wraps.
//!
//! Adding a check: a module with one `async fn` taking the private `Probe` context (see
//! `changes.rs`), a fixture field if it needs data (with a `None` default in
//! [`ConformanceFixture::new`], so it is skipped until a fixture has it), a line in [`RULES`] and
//! in `run`'s table, and the rule on the trait methods it checks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};

use crate::{CancelReason, PasBackend, PasError};

mod access;
mod attendance;
mod changes;
mod events;
pub mod forwarding;
mod offered;
mod race;
mod seed;

pub use events::{EventsFixture, MAX_OVERLAP, TrustAction, TrustStaff};
pub use offered::UnofferedSlots;
pub use race::RACE_ROUNDS;
pub use seed::{FixtureBuilder, SeedError, Seeder};

/// Each rule the kit checks, in the order [`run`] checks them, with the [`PasBackend`] methods
/// whose docs state it.
pub const RULES: [(&str, &[&str]); 9] = [
    (
        access::OWN_DATA,
        &[
            "list_appointments",
            "get_appointment",
            "capabilities",
            "appointment_with_capabilities",
            "cancel",
            "confirm_attendance",
            "find_slots",
            "reschedule",
        ],
    ),
    (
        access::ODD_INPUT,
        &[
            "patient",
            "list_appointments",
            "get_appointment",
            "appointment_with_capabilities",
        ],
    ),
    (changes::IDEMPOTENT_CANCEL, &["cancel"]),
    (
        changes::CAPABILITIES,
        &[
            "capabilities",
            "appointment_with_capabilities",
            "cancel",
            "confirm_attendance",
            "find_slots",
            "reschedule",
        ],
    ),
    (race::NO_DOUBLE_BOOKING, &["find_slots", "reschedule"]),
    (changes::PAST, &["cancel", "reschedule"]),
    (offered::OFFERED_ONLY, &["find_slots", "reschedule"]),
    (events::EVENTS, &["poll_events"]),
    (attendance::CONFIRM, &["confirm_attendance"]),
];

/// Two appointments at a real-time trust that can both move into common free slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescheduleRace {
    /// The first appointment's patient and id.
    pub first: (NhsNumber, AppointmentId),
    /// The second appointment's patient and id (same specialty and trust as the first).
    pub second: (NhsNumber, AppointmentId),
    /// Where to look for slots.
    pub from: DateTime<Utc>,
    /// Until when.
    pub to: DateTime<Utc>,
}

/// The known test data the checks use ([`FixtureBuilder`] seeds and describes all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceFixture {
    /// A patient with at least one appointment.
    pub patient: NhsNumber,
    /// Another patient with at least one appointment.
    pub other_patient: NhsNumber,
    /// A valid NHS number the PAS does not know.
    pub unknown_patient: NhsNumber,
    /// A future, booked appointment of `patient` at a real-time trust; it gets cancelled.
    pub cancellable: Option<AppointmentId>,
    /// A future, booked appointment of `patient` at a request-only trust; it is not changed.
    pub request_only: Option<AppointmentId>,
    /// Two appointments racing for free slots; they get moved.
    pub reschedule_race: Option<RescheduleRace>,
    /// A past appointment of `patient` (attended or missed) at a real-time trust: cancelling or
    /// moving it must be [`PasError::InvalidState`]; it is not changed.
    pub past: Option<AppointmentId>,
    /// Trust-side changes for the events check, and the hook that makes them.
    pub events: Option<EventsFixture>,
    /// Slots an appointment must not be offered or moved into.
    pub unoffered_slots: Option<UnofferedSlots>,
    /// A future, booked appointment of `patient` whose attendance is not confirmed; where its
    /// trust offers confirm attendance it gets confirmed.
    pub confirmable: Option<AppointmentId>,
}

impl ConformanceFixture {
    /// A fixture with the three patients and no optional parts (those checks are skipped).
    pub fn new(patient: NhsNumber, other_patient: NhsNumber, unknown_patient: NhsNumber) -> Self {
        Self {
            patient,
            other_patient,
            unknown_patient,
            cancellable: None,
            request_only: None,
            reschedule_race: None,
            past: None,
            events: None,
            unoffered_slots: None,
            confirmable: None,
        }
    }
}

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It passed.
    Passed,
    /// It did not run: the fixture lacks what it needs.
    Skipped(&'static str),
}

/// The result of a conformance run where nothing failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Every check, in the order run.
    pub checks: Vec<(&'static str, CheckOutcome)>,
}

impl Report {
    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.checks
            .iter()
            .filter(|(_, o)| *o == CheckOutcome::Passed)
            .count()
    }

    /// The names of the checks that were skipped.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|(_, o)| *o != CheckOutcome::Passed)
            .map(|(n, _)| *n)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, outcome) in &self.checks {
            match outcome {
                CheckOutcome::Passed => writeln!(f, "passed  {name}")?,
                CheckOutcome::Skipped(why) => writeln!(f, "skipped {name}: {why}")?,
            }
        }
        Ok(())
    }
}

/// The first check that failed: the rule, the method whose answer broke it, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance rule `{check}` broken by `PasBackend::{method}`: {message}")]
pub struct Failure {
    /// The rule's name (one of [`RULES`]).
    pub check: &'static str,
    /// The [`PasBackend`] method whose answer broke it (for a fixture that does not fit, the
    /// method whose answer showed that).
    pub method: &'static str,
    /// What went wrong.
    pub message: String,
}

/// One check's view of the run: the backend, and the rule it is checking (so every failure
/// names the rule).
struct Probe<'a> {
    backend: &'a Arc<dyn PasBackend>,
    check: &'static str,
}

impl Probe<'_> {
    fn fail(&self, method: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            check: self.check,
            method,
            message: message.into(),
        }
    }

    fn ensure(
        &self,
        ok: bool,
        method: &'static str,
        message: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        if ok {
            Ok(())
        } else {
            Err(self.fail(method, message()))
        }
    }

    /// A call that must succeed.
    fn ok<T>(&self, method: &'static str, got: Result<T, PasError>) -> Result<T, Failure> {
        got.map_err(|e| self.fail(method, format!("failed: {e} ({e:?})")))
    }

    /// A call that must fail with the error `want` names (`is` tells it apart).
    fn refused<T: fmt::Debug>(
        &self,
        method: &'static str,
        what: &str,
        got: Result<T, PasError>,
        want: &str,
        is: impl FnOnce(&PasError) -> bool,
    ) -> Result<(), Failure> {
        match got {
            Err(e) if is(&e) => Ok(()),
            other => Err(self.fail(method, format!("{what} gave {other:?}, not {want}"))),
        }
    }

    /// A fixture appointment, read as its patient.
    async fn get(&self, patient: &NhsNumber, id: &AppointmentId) -> Result<Appointment, Failure> {
        let got = self.backend.get_appointment(patient, id).await;
        self.ok("get_appointment", got)?.ok_or_else(|| {
            self.fail(
                "get_appointment",
                format!("fixture appointment {id} not found"),
            )
        })
    }

    /// Whether a refused call left the appointment as it was (read back).
    async fn unchanged(
        &self,
        method: &'static str,
        before: &Appointment,
        what: &str,
    ) -> Result<(), Failure> {
        let now = self.get(&before.patient, &before.id).await?;
        self.ensure(
            now.status == before.status && now.start == before.start,
            method,
            || format!("{what} changed the appointment ({before:?} became {now:?})"),
        )
    }
}

fn reason() -> CancelReason {
    CancelReason {
        code: "no-longer-needed".into(),
        text: Some("conformance check".into()),
    }
}

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<CheckOutcome, Failure>> + Send + 'a>>;

/// Runs every check, in the order of [`RULES`]; the first failure stops the run.
///
/// Takes the backend by value (an `Arc<MyPas>` is a backend too) because the race hands it to
/// tasks of the runtime. Needs a multi-threaded tokio runtime.
pub async fn run<B: PasBackend + 'static>(
    backend: B,
    fixture: &ConformanceFixture,
) -> Result<Report, Failure> {
    let backend: Arc<dyn PasBackend> = Arc::new(backend);
    let b = &backend;
    let fx = fixture;
    let checks: [(&'static str, CheckFuture<'_>); 9] = [
        (access::OWN_DATA, Box::pin(access::own_data_only(b, fx))),
        (access::ODD_INPUT, Box::pin(access::odd_input(b, fx))),
        (
            changes::IDEMPOTENT_CANCEL,
            Box::pin(changes::idempotent_cancel(b, fx)),
        ),
        (
            changes::CAPABILITIES,
            Box::pin(changes::capabilities_honoured(b, fx)),
        ),
        (
            race::NO_DOUBLE_BOOKING,
            Box::pin(race::no_double_booking(b, fx.reschedule_race.as_ref())),
        ),
        (changes::PAST, Box::pin(changes::past_stays_past(b, fx))),
        (
            offered::OFFERED_ONLY,
            Box::pin(offered::offered_slots_only(b, fx.unoffered_slots.as_ref())),
        ),
        (
            events::EVENTS,
            Box::pin(events::events(b, fx.events.as_ref())),
        ),
        (
            attendance::CONFIRM,
            Box::pin(attendance::confirm_attendance(b, fx)),
        ),
    ];
    debug_assert!(checks.iter().zip(RULES).all(|((n, _), (r, _))| *n == r));
    let mut report = Report::default();
    // One after the other: the futures are lazy, so each check starts when the last one ended.
    for (name, check) in checks {
        report.checks.push((name, check.await?));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::RULES;

    /// Every rule is stated, by name, on the docs of each trait method it lists.
    #[test]
    fn every_rule_is_on_the_docs_of_its_methods() {
        let source = include_str!("backend.rs");
        let trait_start = source.find("pub trait PasBackend").unwrap();
        for (rule, methods) in RULES {
            for method in methods {
                let decl = format!("async fn {method}(");
                let at = trait_start + source[trait_start..].find(&decl).unwrap();
                let mut lines: Vec<&str> = source[..at]
                    .lines()
                    .rev()
                    .skip(1)
                    .take_while(|l| l.trim_start().starts_with("///"))
                    .map(|l| l.trim_start().trim_start_matches("///").trim())
                    .collect();
                lines.reverse();
                let docs = lines.join(" ");
                assert!(
                    docs.contains(&format!("`{rule}`")),
                    "the docs of PasBackend::{method} do not state `{rule}`"
                );
            }
        }
    }
}
