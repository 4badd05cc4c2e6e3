//! The "no double booking" check: two reschedules into one slot at the same instant, many rounds.
//!
//! The kit borrows the backend (`&dyn PasBackend`), so it cannot hand it to `tokio::spawn`.
//! Instead each round starts two scoped OS threads that meet at a barrier and then each drive one
//! reschedule to completion on the caller's runtime (through its [`Handle`]): the two calls really
//! run at the same time, on two threads, rather than taking turns inside one task as `join!`
//! would. The caller's thread steps out of the runtime meanwhile (`block_in_place`), which is why
//! the check needs a multi-threaded tokio runtime and fails on a current-thread one.

use std::sync::Barrier;

use nhs_portal_core::{Appointment, AppointmentStatus};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{Failure, RescheduleRace, ensure, fail, must_get};
use crate::{PasBackend, PasError, Slot};

const C: &str = "no double booking";

/// Rounds of the race, each into a fresh shared free slot (fewer if the window runs out of them).
pub(super) const ROUNDS: usize = 20;

/// Runs the race `ROUNDS` times; returns how many rounds ran.
pub(super) async fn no_double_booking(
    backend: &dyn PasBackend,
    race: &RescheduleRace,
) -> Result<usize, Failure> {
    let handle = Handle::current();
    if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
        return Err(fail(
            C,
            "needs a multi-threaded tokio runtime, so that the two reschedules really run at \
             once (for example #[tokio::test(flavor = \"multi_thread\")])",
        ));
    }
    let first = must_get(backend, C, &race.first.0, &race.first.1).await?;
    match backend.reschedule(&first, "no-such-slot-conformance").await {
        Err(PasError::SlotUnavailable) => {}
        other => {
            return Err(fail(
                C,
                format!("an unknown slot gave {other:?}, not SlotUnavailable"),
            ));
        }
    }
    let mut rounds = 0;
    while rounds < ROUNDS {
        let a = must_get(backend, C, &race.first.0, &race.first.1).await?;
        let b = must_get(backend, C, &race.second.0, &race.second.1).await?;
        let Some(slot) = shared_free_slot(backend, race, &a, &b).await? else {
            break;
        };
        // Alternate who is handed to the first thread, so neither side is always first.
        let (x, y) = if rounds % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (rx, ry) = race_once(&handle, backend, x, y, &slot.id)?;
        let (ra, rb) = if rounds % 2 == 0 { (rx, ry) } else { (ry, rx) };
        let round = rounds + 1;
        let (winner, loser, loser_before) = match (ra, rb) {
            (Ok(w), Err(PasError::SlotUnavailable)) => (w, &race.second, &b),
            (Err(PasError::SlotUnavailable), Ok(w)) => (w, &race.first, &a),
            (Ok(_), Ok(_)) => {
                return Err(fail(
                    C,
                    format!("round {round}: both reschedules into one slot succeeded"),
                ));
            }
            (ra, rb) => {
                return Err(fail(
                    C,
                    format!(
                        "round {round}: expected one success and one SlotUnavailable, got \
                         {ra:?} and {rb:?}"
                    ),
                ));
            }
        };
        ensure(C, winner.start == slot.start, || {
            format!("round {round}: the winner does not start at the slot's start")
        })?;
        ensure(C, winner.status == AppointmentStatus::Booked, || {
            format!("round {round}: the winner is not booked")
        })?;
        let loser_now = must_get(backend, C, &loser.0, &loser.1).await?;
        ensure(
            C,
            loser_now.start == loser_before.start && loser_now.status == loser_before.status,
            || format!("round {round}: the losing appointment changed"),
        )?;
        let after = backend
            .find_slots(loser_before, race.from, race.to)
            .await
            .map_err(|e| fail(C, format!("find_slots failed: {e}")))?;
        ensure(C, !after.iter().any(|s| s.id == slot.id), || {
            format!("round {round}: the taken slot is still offered")
        })?;
        rounds = round;
    }
    ensure(C, rounds > 0, || {
        "the two appointments share no free slot".into()
    })?;
    Ok(rounds)
}

/// A free slot both appointments are offered, after checking the slots are in the window.
async fn shared_free_slot(
    backend: &dyn PasBackend,
    race: &RescheduleRace,
    a: &Appointment,
    b: &Appointment,
) -> Result<Option<Slot>, Failure> {
    let slots_a = backend
        .find_slots(a, race.from, race.to)
        .await
        .map_err(|e| fail(C, format!("find_slots failed: {e}")))?;
    let slots_b = backend
        .find_slots(b, race.from, race.to)
        .await
        .map_err(|e| fail(C, format!("find_slots failed: {e}")))?;
    for s in slots_a.iter().chain(&slots_b) {
        ensure(
            C,
            s.start >= race.from && s.start < race.to && s.end > s.start,
            || {
                format!(
                    "slot {} is outside the window or ends before it starts",
                    s.id
                )
            },
        )?;
    }
    Ok(slots_a
        .into_iter()
        .find(|s| slots_b.iter().any(|t| t.id == s.id)))
}

type Outcome = Result<Appointment, PasError>;

/// Both reschedules at once, each on its own thread, released together by a barrier.
fn race_once(
    handle: &Handle,
    backend: &dyn PasBackend,
    x: &Appointment,
    y: &Appointment,
    slot: &str,
) -> Result<(Outcome, Outcome), Failure> {
    let start = Barrier::new(2);
    let run = |appointment: &Appointment| {
        start.wait();
        handle.block_on(backend.reschedule(appointment, slot))
    };
    let joined = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let tx = s.spawn(|| run(x));
            let ty = s.spawn(|| run(y));
            (tx.join(), ty.join())
        })
    });
    match joined {
        (Ok(rx), Ok(ry)) => Ok((rx, ry)),
        _ => Err(fail(C, "a reschedule panicked")),
    }
}
