//! The conformance kit: checks that a [`PasBackend`] keeps the trait's contract.
//! (Over 400 lines: a contract suite, one check per rule of the [`PasBackend`] trait, kept beside
//! the fixture and report they share; events and races are in submodules.)
//!
//! Vendors run it from their own tests against their own backend (a test instance of their PAS
//! with known data), by describing that data in a [`ConformanceFixture`]:
//!
//! ```no_run
//! # async fn example(backend: &dyn nhs_portal_pas::PasBackend) {
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
//! Some checks change data (a cancel, a reschedule race), so run it on test data only. Checks
//! whose fixture part is missing are reported as skipped, never as passed.
//!
//! What is checked:
//! - **own data only**: a patient's list holds only their appointments; another patient's
//!   appointment is `None` from [`PasBackend::get_appointment`], and acting on it with a forged
//!   patient field is [`PasError::NotFound`];
//! - **odd input**: unknown and odd-looking ids give `Ok(None)`, unknown patients an empty list;
//! - **idempotent cancel** at a real-time trust;
//! - **capabilities honoured**: real-time operations on a request-only appointment are
//!   [`PasError::NotSupported`];
//! - **no double booking**: two reschedules into one slot started at the same instant on two
//!   threads, round after round (up to 20, each into a fresh shared slot): exactly one wins, the
//!   other is [`PasError::SlotUnavailable`] and its appointment is unchanged; an unknown slot is
//!   [`PasError::SlotUnavailable`] too. Needs a multi-threaded tokio runtime;
//! - **past stays past**: cancelling or moving a past appointment is [`PasError::InvalidState`];
//! - **offered slots only**: slots that exist but that the PAS must not offer an appointment
//!   (another trust's, another clinic's or specialty's, beyond the booking horizon) are never in
//!   its [`PasBackend::find_slots`] answer, and moving it into one is
//!   [`PasError::SlotUnavailable`] with the appointment unchanged;
//! - **events**: after the fixture's [`TrustStaff`] hook made its [`TrustAction`]s,
//!   [`PasBackend::poll_events`] reports exactly one event for each, oldest first, and honours
//!   `since`. An empty list fails; without the hook the check is skipped.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::request_status::{CancelMode, RescheduleMode};
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus, NhsNumber};

use crate::{CancelReason, PasBackend, PasError};

mod events;
mod offered;
mod race;

pub use events::{EventsFixture, MAX_OVERLAP, TrustAction, TrustStaff};
pub use offered::UnofferedSlots;

/// Two appointments at a real-time trust that can both move into a common free slot.
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

/// The known test data the checks use.
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
    /// Two appointments racing for one slot; one of them gets moved.
    pub reschedule_race: Option<RescheduleRace>,
    /// A past appointment of `patient` (attended or missed) at a real-time trust: cancelling or
    /// moving it must be [`PasError::InvalidState`]; it is not changed.
    pub past: Option<AppointmentId>,
    /// Trust-side changes for the events check, and the hook that makes them.
    pub events: Option<EventsFixture>,
    /// Slots an appointment must not be offered or moved into.
    pub unoffered_slots: Option<UnofferedSlots>,
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

/// The first check that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance check `{check}` failed: {message}")]
pub struct Failure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

fn fail(check: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        check,
        message: message.into(),
    }
}

fn ensure(check: &'static str, ok: bool, message: impl FnOnce() -> String) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(fail(check, message()))
    }
}

fn reason() -> CancelReason {
    CancelReason {
        code: "no-longer-needed".into(),
        text: Some("conformance check".into()),
    }
}

async fn must_get(
    backend: &dyn PasBackend,
    check: &'static str,
    patient: &NhsNumber,
    id: &AppointmentId,
) -> Result<Appointment, Failure> {
    backend
        .get_appointment(patient, id)
        .await
        .map_err(|e| fail(check, format!("get_appointment failed: {e}")))?
        .ok_or_else(|| fail(check, format!("fixture appointment {id} not found")))
}

/// Runs every check; the first failure stops the run.
pub async fn run(
    backend: &dyn PasBackend,
    fixture: &ConformanceFixture,
) -> Result<Report, Failure> {
    let mut report = Report::default();
    report
        .checks
        .push(("own data only", own_data_only(backend, fixture).await?));
    report
        .checks
        .push(("odd input", odd_input(backend, fixture).await?));
    report.checks.push((
        "idempotent cancel",
        idempotent_cancel(backend, fixture).await?,
    ));
    report.checks.push((
        "capabilities honoured",
        capabilities_honoured(backend, fixture).await?,
    ));
    report.checks.push((
        "no double booking",
        no_double_booking(backend, fixture).await?,
    ));
    report
        .checks
        .push(("past stays past", past_stays_past(backend, fixture).await?));
    report.checks.push((
        "offered slots only",
        offered::offered_slots_only(backend, fixture.unoffered_slots.as_ref()).await?,
    ));
    report.checks.push((
        "events",
        events::events(backend, fixture.events.as_ref()).await?,
    ));
    Ok(report)
}

async fn own_data_only(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    const C: &str = "own data only";
    let mine = backend
        .list_appointments(&fx.patient)
        .await
        .map_err(|e| fail(C, format!("list_appointments failed: {e}")))?;
    ensure(C, !mine.is_empty(), || {
        "the patient has no appointments".into()
    })?;
    ensure(C, mine.iter().all(|a| a.patient == fx.patient), || {
        "the list holds another patient's appointment".into()
    })?;
    let theirs = backend
        .list_appointments(&fx.other_patient)
        .await
        .map_err(|e| fail(C, format!("list_appointments failed: {e}")))?;
    ensure(C, !theirs.is_empty(), || {
        "the other patient has no appointments".into()
    })?;
    for a in &theirs {
        ensure(C, !mine.iter().any(|m| m.id == a.id), || {
            format!("appointment {} is in both patients' lists", a.id)
        })?;
        let got = backend
            .get_appointment(&fx.patient, &a.id)
            .await
            .map_err(|e| fail(C, format!("get_appointment failed: {e}")))?;
        ensure(C, got.is_none(), || {
            format!("another patient's appointment {} was returned", a.id)
        })?;
    }
    // Acting on someone else's appointment by forging the patient field.
    let mut forged = theirs[0].clone();
    forged.patient = fx.patient.clone();
    match backend.capabilities(&forged).await {
        Err(PasError::NotFound) => {}
        other => {
            return Err(fail(
                C,
                format!("capabilities on a forged appointment gave {other:?}, not NotFound"),
            ));
        }
    }
    match backend.cancel(&forged, &reason()).await {
        Err(PasError::NotFound) => {}
        other => {
            return Err(fail(
                C,
                format!("cancel on a forged appointment gave {other:?}, not NotFound"),
            ));
        }
    }
    match backend.reschedule(&forged, "any-slot").await {
        Err(PasError::NotFound) => {}
        other => {
            return Err(fail(
                C,
                format!("reschedule on a forged appointment gave {other:?}, not NotFound"),
            ));
        }
    }
    let still = must_get(backend, C, &fx.other_patient, &theirs[0].id).await?;
    ensure(C, still.status == theirs[0].status, || {
        "a forged cancel changed another patient's appointment".into()
    })?;
    Ok(CheckOutcome::Passed)
}

async fn odd_input(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    const C: &str = "odd input";
    let odd_ids = [
        AppointmentId::new_random().to_string(),
        "0".into(),
        "a".repeat(64),
        "x.y-z".into(),
        "-".into(),
    ];
    for raw in odd_ids {
        let id = AppointmentId::parse(&raw).map_err(|e| fail(C, format!("{raw}: {e}")))?;
        match backend.get_appointment(&fx.patient, &id).await {
            Ok(None) => {}
            other => {
                return Err(fail(
                    C,
                    format!("get_appointment({raw:?}) gave {other:?}, not Ok(None)"),
                ));
            }
        }
    }
    match backend.list_appointments(&fx.unknown_patient).await {
        Ok(list) if list.is_empty() => {}
        other => {
            return Err(fail(
                C,
                format!("an unknown patient's list gave {other:?}, not an empty list"),
            ));
        }
    }
    match backend.patient(&fx.unknown_patient).await {
        Ok(None) => {}
        other => {
            return Err(fail(
                C,
                format!("an unknown patient's record gave {other:?}, not Ok(None)"),
            ));
        }
    }
    match backend.patient(&fx.patient).await {
        Ok(Some(r)) if r.nhs_number == fx.patient => {}
        other => {
            return Err(fail(
                C,
                format!("the fixture patient's record gave {other:?}"),
            ));
        }
    }
    Ok(CheckOutcome::Passed)
}

async fn idempotent_cancel(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    const C: &str = "idempotent cancel";
    let Some(id) = &fx.cancellable else {
        return Ok(CheckOutcome::Skipped(
            "no cancellable appointment in the fixture",
        ));
    };
    let a = must_get(backend, C, &fx.patient, id).await?;
    ensure(C, a.status == AppointmentStatus::Booked, || {
        format!("fixture appointment is {:?}, not booked", a.status)
    })?;
    let caps = backend
        .capabilities(&a)
        .await
        .map_err(|e| fail(C, format!("capabilities failed: {e}")))?;
    ensure(C, caps.cancel == CancelMode::RealTime, || {
        format!("fixture appointment's cancel mode is {:?}", caps.cancel)
    })?;
    let first = backend
        .cancel(&a, &reason())
        .await
        .map_err(|e| fail(C, format!("first cancel failed: {e}")))?;
    ensure(C, first.status == AppointmentStatus::Cancelled, || {
        format!("after cancel the status is {:?}", first.status)
    })?;
    ensure(C, first.id == a.id, || {
        "cancel returned another appointment".into()
    })?;
    let second = backend
        .cancel(&a, &reason())
        .await
        .map_err(|e| fail(C, format!("second cancel failed (not idempotent): {e}")))?;
    ensure(C, second.status == AppointmentStatus::Cancelled, || {
        "the second cancel did not return the cancelled appointment".into()
    })?;
    let read = must_get(backend, C, &fx.patient, id).await?;
    ensure(C, read.status == AppointmentStatus::Cancelled, || {
        "reading back does not show the cancellation".into()
    })?;
    Ok(CheckOutcome::Passed)
}

async fn capabilities_honoured(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    const C: &str = "capabilities honoured";
    let Some(id) = &fx.request_only else {
        return Ok(CheckOutcome::Skipped(
            "no request-only appointment in the fixture",
        ));
    };
    let a = must_get(backend, C, &fx.patient, id).await?;
    let caps = backend
        .capabilities(&a)
        .await
        .map_err(|e| fail(C, format!("capabilities failed: {e}")))?;
    ensure(
        C,
        caps.cancel != CancelMode::RealTime && caps.reschedule != RescheduleMode::RealTime,
        || format!("fixture appointment is not request only: {caps:?}"),
    )?;
    match backend.cancel(&a, &reason()).await {
        Err(PasError::NotSupported) => {}
        other => {
            return Err(fail(
                C,
                format!("real-time cancel gave {other:?}, not NotSupported"),
            ));
        }
    }
    match backend.reschedule(&a, "any-slot").await {
        Err(PasError::NotSupported) => {}
        other => {
            return Err(fail(
                C,
                format!("real-time reschedule gave {other:?}, not NotSupported"),
            ));
        }
    }
    let now = Utc::now();
    match backend.find_slots(&a, now, now + Duration::days(90)).await {
        Err(PasError::NotSupported) => {}
        Ok(slots) if slots.is_empty() => {}
        other => {
            return Err(fail(
                C,
                format!("find_slots gave {other:?}, not NotSupported or no slots"),
            ));
        }
    }
    let read = must_get(backend, C, &fx.patient, id).await?;
    ensure(C, read.status == a.status && read.start == a.start, || {
        "a refused operation changed the appointment".into()
    })?;
    Ok(CheckOutcome::Passed)
}

async fn no_double_booking(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let Some(race) = &fx.reschedule_race else {
        return Ok(CheckOutcome::Skipped("no reschedule race in the fixture"));
    };
    race::no_double_booking(backend, race).await?;
    Ok(CheckOutcome::Passed)
}

async fn past_stays_past(
    backend: &dyn PasBackend,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    const C: &str = "past stays past";
    let Some(id) = &fx.past else {
        return Ok(CheckOutcome::Skipped("no past appointment in the fixture"));
    };
    let a = must_get(backend, C, &fx.patient, id).await?;
    ensure(C, a.start < Utc::now(), || {
        "the fixture appointment is not in the past".into()
    })?;
    match backend.cancel(&a, &reason()).await {
        Err(PasError::InvalidState(_)) => {}
        other => {
            return Err(fail(
                C,
                format!("cancelling a past appointment gave {other:?}, not InvalidState"),
            ));
        }
    }
    match backend.reschedule(&a, "any-slot").await {
        Err(PasError::InvalidState(_)) => {}
        other => {
            return Err(fail(
                C,
                format!("moving a past appointment gave {other:?}, not InvalidState"),
            ));
        }
    }
    let read = must_get(backend, C, &fx.patient, id).await?;
    ensure(C, read.status == a.status && read.start == a.start, || {
        "a refused operation changed the appointment".into()
    })?;
    Ok(CheckOutcome::Passed)
}
