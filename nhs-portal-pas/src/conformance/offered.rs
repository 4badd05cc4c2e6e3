//! The "offered slots only" check: a PAS books only a slot it would offer that appointment now.
//!
//! A portal that passed any slot id from a form to a PAS that books whatever free slot it is
//! given would let a patient (or an attacker) book an urgent or two-week-wait slot, another
//! consultant's clinic, or a time beyond the booking horizon. The portal re-reads the offer at
//! confirm; the adapter must refuse too, so the rule holds whoever calls it.

use chrono::{Duration, Utc};
use nhs_portal_core::{AppointmentId, NhsNumber};

use super::{CheckOutcome, Failure, ensure, fail, must_get};
use crate::{PasBackend, PasError};

const C: &str = "offered slots only";

/// Slots that exist in the PAS but that one appointment must not be offered or moved into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnofferedSlots {
    /// A future, booked appointment at a real-time trust (its patient and id); it is not
    /// changed.
    pub appointment: (NhsNumber, AppointmentId),
    /// Ids of free, future slots it must not get: another trust's, another clinic's or
    /// specialty's, one beyond the trust's booking horizon.
    pub slots: Vec<String>,
}

pub(super) async fn offered_slots_only(
    backend: &dyn PasBackend,
    fixture: Option<&UnofferedSlots>,
) -> Result<CheckOutcome, Failure> {
    let Some(fx) = fixture else {
        return Ok(CheckOutcome::Skipped("no unoffered slots in the fixture"));
    };
    ensure(C, !fx.slots.is_empty(), || {
        "the fixture lists no slots".into()
    })?;
    let (patient, id) = &fx.appointment;
    let before = must_get(backend, C, patient, id).await?;
    let now = Utc::now();
    // A window wider than any horizon: the PAS's own horizon must still apply.
    let offer = backend
        .find_slots(&before, now, now + Duration::days(3650))
        .await
        .map_err(|e| fail(C, format!("find_slots failed: {e}")))?;
    for slot in &fx.slots {
        ensure(C, !offer.iter().any(|s| &s.id == slot), || {
            format!("slot {slot} is offered, though the fixture says it must not be")
        })?;
        match backend.reschedule(&before, slot).await {
            Err(PasError::SlotUnavailable) => {}
            other => {
                return Err(fail(
                    C,
                    format!(
                        "moving into unoffered slot {slot} gave {other:?}, not SlotUnavailable"
                    ),
                ));
            }
        }
        let after = must_get(backend, C, patient, id).await?;
        ensure(
            C,
            after.start == before.start && after.status == before.status,
            || format!("a refused move into slot {slot} changed the appointment"),
        )?;
    }
    Ok(CheckOutcome::Passed)
}
