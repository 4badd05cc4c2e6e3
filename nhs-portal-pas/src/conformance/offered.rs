//! The "offered slots only" check: a PAS books only a slot it would offer that appointment now.
//!
//! A portal that passed any slot id from a form to a PAS that books whatever free slot it is
//! given would let a patient (or an attacker) book an urgent or two-week-wait slot, another
//! consultant's clinic, or a time beyond the booking horizon. The portal re-reads the offer at
//! confirm; the adapter must refuse too, so the rule holds whoever calls it.

use std::sync::Arc;

use chrono::{Duration, Utc};
use nhs_portal_core::{AppointmentId, NhsNumber};

use super::{CheckOutcome, Failure, Probe};
use crate::{PasBackend, PasError};

pub(super) const OFFERED_ONLY: &str = "offered slots only";

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
    backend: &Arc<dyn PasBackend>,
    fixture: Option<&UnofferedSlots>,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: OFFERED_ONLY,
    };
    let Some(fx) = fixture else {
        return Ok(CheckOutcome::Skipped("no unoffered slots in the fixture"));
    };
    p.ensure(!fx.slots.is_empty(), "find_slots", || {
        "the fixture lists no unoffered slots".into()
    })?;
    let (patient, id) = &fx.appointment;
    let before = p.get(patient, id).await?;
    let now = Utc::now();
    // A window wider than any horizon: the PAS's own horizon must still apply.
    let offer = p.ok(
        "find_slots",
        backend
            .find_slots(&before, now, now + Duration::days(3650))
            .await,
    )?;
    for slot in &fx.slots {
        p.ensure(!offer.iter().any(|s| &s.id == slot), "find_slots", || {
            format!("slot {slot} is offered, though the fixture says it must not be")
        })?;
        p.refused(
            "reschedule",
            &format!("moving into unoffered slot {slot}"),
            backend.reschedule(&before, slot).await,
            "SlotUnavailable",
            |e| matches!(e, PasError::SlotUnavailable),
        )?;
        p.unchanged(
            "reschedule",
            &before,
            &format!("a refused move into slot {slot}"),
        )
        .await?;
    }
    Ok(CheckOutcome::Passed)
}
