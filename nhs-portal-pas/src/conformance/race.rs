//! The "no double booking" check: two reschedules into one slot at the same instant, many rounds.
//!
//! Each round spawns the two reschedules as two tasks of the caller's multi-threaded tokio
//! runtime. Each task first waits at a shared barrier with its worker thread handed back to the
//! runtime (`block_in_place`), so neither starts before the other is ready and both then run at
//! once, on two threads: a backend that checks "is the slot free?" and then books, with nothing
//! holding the slot in between, is caught even when it never awaits between the two steps (which
//! two calls taking turns inside one task, as `join!` would run them, never show). A
//! current-thread runtime cannot do this, so the check fails on one rather than pass on a race
//! that never happened.

use std::sync::{Arc, Barrier};

use nhs_portal_core::{Appointment, AppointmentStatus};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{CheckOutcome, Failure, Probe, RescheduleRace};
use crate::{PasBackend, PasError, Slot};

pub(super) const NO_DOUBLE_BOOKING: &str = "no double booking";

/// Rounds of the race, each into a fresh free slot both appointments are offered (fewer if the
/// window runs out of them; at least one must run).
pub const RACE_ROUNDS: usize = 20;

type Outcome = Result<Appointment, PasError>;

pub(super) async fn no_double_booking(
    backend: &Arc<dyn PasBackend>,
    race: Option<&RescheduleRace>,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: NO_DOUBLE_BOOKING,
    };
    let Some(race) = race else {
        return Ok(CheckOutcome::Skipped("no reschedule race in the fixture"));
    };
    if Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread {
        return Err(p.fail(
            "reschedule",
            "the race needs a multi-threaded tokio runtime, so that the two reschedules really \
             run at once (for example #[tokio::test(flavor = \"multi_thread\")])",
        ));
    }
    let first = p.get(&race.first.0, &race.first.1).await?;
    p.refused(
        "reschedule",
        "moving into an unknown slot",
        backend.reschedule(&first, "no-such-slot-conformance").await,
        "SlotUnavailable",
        |e| matches!(e, PasError::SlotUnavailable),
    )?;
    let mut rounds = 0;
    while rounds < RACE_ROUNDS {
        let a = p.get(&race.first.0, &race.first.1).await?;
        let b = p.get(&race.second.0, &race.second.1).await?;
        let Some(slot) = shared_free_slot(&p, race, &a, &b).await? else {
            break;
        };
        let round = rounds + 1;
        // Alternate who is spawned first, so neither side always has a head start.
        let (ra, rb) = if rounds % 2 == 0 {
            race_once(&p, &a, &b, &slot.id).await?
        } else {
            let (rb, ra) = race_once(&p, &b, &a, &slot.id).await?;
            (ra, rb)
        };
        let (winner, loser_before) = match (ra, rb) {
            (Ok(w), Err(PasError::SlotUnavailable)) => (w, &b),
            (Err(PasError::SlotUnavailable), Ok(w)) => (w, &a),
            (Ok(_), Ok(_)) => {
                return Err(p.fail(
                    "reschedule",
                    format!(
                        "round {round}: both reschedules into slot {} succeeded (a double \
                         booking: checking the slot is free and taking it must be one step)",
                        slot.id
                    ),
                ));
            }
            (ra, rb) => {
                return Err(p.fail(
                    "reschedule",
                    format!(
                        "round {round}: expected one success and one SlotUnavailable, got \
                         {ra:?} and {rb:?}"
                    ),
                ));
            }
        };
        p.ensure(winner.start == slot.start, "reschedule", || {
            format!("round {round}: the winner does not start at the slot's start")
        })?;
        p.ensure(
            winner.status == AppointmentStatus::Booked,
            "reschedule",
            || format!("round {round}: the winner is not booked"),
        )?;
        p.unchanged(
            "reschedule",
            loser_before,
            &format!("round {round}: the losing reschedule"),
        )
        .await?;
        let after = p.ok(
            "find_slots",
            backend.find_slots(loser_before, race.from, race.to).await,
        )?;
        p.ensure(!after.iter().any(|s| s.id == slot.id), "find_slots", || {
            format!("round {round}: the taken slot {} is still offered", slot.id)
        })?;
        rounds = round;
    }
    p.ensure(rounds > 0, "find_slots", || {
        "the race's two appointments are offered no common free slot".into()
    })?;
    Ok(CheckOutcome::Passed)
}

/// A free slot both appointments are offered, after checking the slots are in the window.
async fn shared_free_slot(
    p: &Probe<'_>,
    race: &RescheduleRace,
    a: &Appointment,
    b: &Appointment,
) -> Result<Option<Slot>, Failure> {
    let slots_a = p.ok(
        "find_slots",
        p.backend.find_slots(a, race.from, race.to).await,
    )?;
    let slots_b = p.ok(
        "find_slots",
        p.backend.find_slots(b, race.from, race.to).await,
    )?;
    for s in slots_a.iter().chain(&slots_b) {
        p.ensure(
            s.start >= race.from && s.start < race.to && s.end > s.start,
            "find_slots",
            || {
                format!(
                    "slot {} is outside the window asked for, or ends before it starts",
                    s.id
                )
            },
        )?;
    }
    Ok(slots_a
        .into_iter()
        .find(|s| slots_b.iter().any(|t| t.id == s.id)))
}

/// Both reschedules at once, on two tasks released together by a barrier.
async fn race_once(
    p: &Probe<'_>,
    x: &Appointment,
    y: &Appointment,
    slot: &str,
) -> Result<(Outcome, Outcome), Failure> {
    let start = Arc::new(Barrier::new(2));
    let spawn = |appointment: &Appointment| {
        let backend = p.backend.clone();
        let start = start.clone();
        let appointment = appointment.clone();
        let slot = slot.to_owned();
        tokio::spawn(async move {
            // Off the worker while waiting, so the other task gets a thread of its own.
            tokio::task::block_in_place(|| start.wait());
            backend.reschedule(&appointment, &slot).await
        })
    };
    let (tx, ty) = (spawn(x), spawn(y));
    let (rx, ry) = (tx.await, ty.await);
    match (rx, ry) {
        (Ok(rx), Ok(ry)) => Ok((rx, ry)),
        _ => Err(p.fail("reschedule", "a reschedule panicked")),
    }
}
