//! Finishing or undoing a client-managed move that stopped half way (servers without
//! transactions, where a move is three writes: claim, move, release; see `write`).
//!
//! The intent is recorded in the server's own state before the first write: the claimed slot
//! carries the [`BOOKED_FOR_EXTENSION`](super::BOOKED_FOR_EXTENSION) naming the appointment and
//! the [`MOVED_FROM_EXTENSION`] naming each slot it is leaving. [`FhirPas::reconcile`] (run by
//! every poll of the event feed, and callable at start-up) looks at the busy Slots changed
//! since then, left alone for [`FeedConfig::reconcile_after`](super::FeedConfig::reconcile_after)
//! (so no move in progress is touched), that carry the mark:
//!
//! | the marked appointment | means | done |
//! |---|---|---|
//! | sits in the slot | moved, the old slot perhaps not released | each slot it moved from released (by the usual rule: busy, no other booking, not claimed for another) |
//! | is elsewhere, or gone | the move stopped after the claim | the claim released (unless another booking holds the slot) |
//!
//! So afterwards the appointment holds exactly one slot and the other is free, and the patient
//! sees what the PAS shows. A claim whose move failed was reported to the patient as a failure,
//! so it is undone rather than finished.

use chrono::{DateTime, Utc};
use nhs_portal_core::AppointmentId;
use serde_json::Value;

use super::write::booked_for;
use super::{FhirPas, map};
use crate::PasError;

/// The Slot extension (`valueReference` to a Slot, one per slot) naming the slots a move into
/// this slot is leaving, written with the claim so an interrupted move can be finished.
pub const MOVED_FROM_EXTENSION: &str =
    "https://fhir.nhs-portal.example/StructureDefinition/slot-moved-from";

/// What a [`FhirPas::reconcile`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciled {
    /// Moves finished: old slots released.
    pub finished: usize,
    /// Claims undone: slots whose move never happened released.
    pub undone: usize,
}

/// The slot ids a claimed slot's move is leaving.
pub(super) fn moved_from(slot: &Value) -> Vec<String> {
    slot.get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("url").and_then(Value::as_str) == Some(MOVED_FROM_EXTENSION))
        .filter_map(|e| {
            e.pointer("/valueReference/reference")
                .and_then(Value::as_str)
        })
        .filter_map(|r| map::local_reference(r, "Slot"))
        .filter_map(|r| r.strip_prefix("Slot/").map(str::to_owned))
        .collect()
}

/// Sets the moved-from marks to `slots` (none removes them), keeping every other extension.
pub(super) fn mark_moved_from(slot: &mut Value, slots: &[String]) {
    let mut extensions: Vec<Value> = slot
        .get("extension")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    extensions.retain(|e| e.get("url").and_then(Value::as_str) != Some(MOVED_FROM_EXTENSION));
    extensions.extend(slots.iter().map(|s| {
        serde_json::json!({
            "url": MOVED_FROM_EXTENSION,
            "valueReference": {"reference": format!("Slot/{s}")},
        })
    }));
    if let Some(o) = slot.as_object_mut() {
        if extensions.is_empty() {
            o.remove("extension");
        } else {
            o.insert("extension".into(), Value::Array(extensions));
        }
    }
}

impl FhirPas {
    /// Finishes or undoes the client-managed moves that stopped half way since `since`: among
    /// the busy Slots the portal claimed (marked with the appointment and the slots it left) and
    /// left alone for [`FeedConfig::reconcile_after`](super::FeedConfig::reconcile_after), one
    /// its appointment sits in has the slots it moved from released, and one its appointment is
    /// not in is released (each by the usual release rule). Nothing to do where the server owns
    /// its Slots or takes moves as one transaction.
    pub async fn reconcile(&self, since: DateTime<Utc>) -> Result<Reconciled, PasError> {
        self.call(self.reconcile_in_pas(since)).await
    }

    pub(super) async fn reconcile_in_pas(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Reconciled, PasError> {
        let caps = self.server_caps().await;
        let mut done = Reconciled::default();
        if caps.server_owned_slots() || caps.moves_in_transaction() {
            return Ok(done);
        }
        let settled = self.clock.now() - self.cfg.feed.reconcile_after;
        let from = since - self.cfg.feed.overlap;
        if settled < from {
            return Ok(done);
        }
        let busy = self
            .search(
                "Slot",
                &[
                    ("status", "busy".to_owned()),
                    ("_lastUpdated", format!("ge{}", map::format_instant(from))),
                    (
                        "_lastUpdated",
                        format!("le{}", map::format_instant(settled)),
                    ),
                    ("_count", "100".to_owned()),
                ],
            )
            .await?;
        for slot in busy {
            let (Some(sid), Some(owner)) = (
                slot.get("id").and_then(Value::as_str),
                booked_for(&slot)
                    .as_deref()
                    .and_then(|r| r.strip_prefix("Appointment/"))
                    .and_then(|a| AppointmentId::parse(a).ok()),
            ) else {
                continue;
            };
            let appointment = self
                .get(self.url(&format!("Appointment/{}", owner.as_str()), &[])?)
                .await?
                .map(|v| v.body);
            let sits_here = appointment
                .as_ref()
                .is_some_and(|a| Self::slot_refs(a).iter().any(|s| s == sid));
            if sits_here {
                for old in moved_from(&slot).iter().filter(|o| *o != sid) {
                    if self.free_if_releasable(old, &owner).await? {
                        done.finished += 1;
                    }
                }
            } else if self.free_if_releasable(sid, &owner).await? {
                done.undone += 1;
            }
        }
        if done != Reconciled::default() {
            tracing::warn!(
                finished = done.finished,
                undone = done.undone,
                "FHIR PAS: half-done moves reconciled"
            );
        }
        Ok(done)
    }

    /// Frees the slot by the usual release rule; whether it was freed.
    async fn free_if_releasable(
        &self,
        slot: &str,
        appointment: &AppointmentId,
    ) -> Result<bool, PasError> {
        let Some((v, version, freed)) = self.releasable(slot, appointment).await? else {
            return Ok(false);
        };
        self.update("Slot", &v.body, &freed, &version).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn moved_from_marks_are_set_read_and_removed_keeping_other_extensions() {
        let mut slot = json!({"resourceType": "Slot", "id": "s",
            "extension": [{"url": "https://trust.example/room", "valueString": "4"}]});
        mark_moved_from(&mut slot, &["a".to_owned(), "b".to_owned()]);
        assert_eq!(moved_from(&slot), ["a", "b"]);
        mark_moved_from(&mut slot, &[]);
        assert!(moved_from(&slot).is_empty());
        assert_eq!(slot["extension"].as_array().map(Vec::len), Some(1));
        mark_moved_from(&mut slot, &[]);
        let mut bare = json!({"resourceType": "Slot", "id": "t"});
        mark_moved_from(&mut bare, &[]);
        assert!(bare.get("extension").is_none());
    }
}
