//! The writes: real-time cancellation and rescheduling, and claiming and freeing slots.

use nhs_portal_core::request_status::{CancelMode, RescheduleMode};
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus};
use serde_json::{Value, json};

use super::client::{Versioned, safe_id};
use super::{FhirPas, map};
use crate::{CancelReason, PasBackend, PasError, Slot};

pub(super) const SLOT_CLAIM_PREFIX: &str = "nhs-portal booking for Appointment/";

impl FhirPas {
    pub(super) async fn read_slot(&self, id: &str) -> Result<Option<Versioned>, PasError> {
        if !safe_id(id) {
            return Ok(None);
        }
        match self.get(self.url(&format!("Slot/{id}"), &[])?).await {
            Ok(v) => Ok(
                v.filter(|v| v.body.get("resourceType").and_then(Value::as_str) == Some("Slot"))
            ),
            Err(PasError::BadData(_) | PasError::BusinessRule { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn slot_from_fhir(v: &Value) -> Option<Slot> {
        let id = v.get("id")?.as_str()?;
        if !safe_id(id) {
            return None;
        }
        let start = map::parse_instant(v.get("start")?.as_str()?)?;
        let end = map::parse_instant(v.get("end")?.as_str()?)?;
        (end > start).then(|| Slot {
            id: id.to_owned(),
            start,
            end,
            location: None,
            clinician: None,
        })
    }

    pub(super) fn slot_refs(appointment: &Value) -> Vec<String> {
        appointment
            .get("slot")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|r| r.strip_prefix("Slot/"))
            .filter(|id| safe_id(id))
            .map(str::to_owned)
            .collect()
    }

    /// Marks a slot free again (best effort: failures are logged, not returned).
    pub(super) async fn release_slot(&self, id: &str, only_if_claimed_for: Option<&AppointmentId>) {
        let result = async {
            let Some(v) = self.read_slot(id).await? else {
                return Ok(());
            };
            let mut body = v.body;
            if body.get("status").and_then(Value::as_str) != Some("busy") {
                return Ok(());
            }
            if let Some(appt) = only_if_claimed_for {
                let marker = format!("{SLOT_CLAIM_PREFIX}{}", appt.as_str());
                if body.get("comment").and_then(Value::as_str) != Some(marker.as_str()) {
                    return Ok(());
                }
            }
            body["status"] = json!("free");
            if let Some(o) = body.as_object_mut() {
                o.remove("comment");
            }
            let version = v
                .version
                .ok_or(PasError::BadData("slot without a version".into()))?;
            self.put_if_match(&format!("Slot/{id}"), &body, &version)
                .await
                .map(|_| ())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "FHIR PAS: could not free a slot");
        }
    }

    /// [`PasBackend::cancel`]: a real-time cancellation, `PUT` with `If-Match` (re-read on conflict).
    pub(super) async fn cancel_in_pas(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        for _ in 0..3 {
            let (v, current) = self.load(appointment).await?;
            if self.cfg.capabilities.cancel != CancelMode::RealTime {
                return Err(PasError::NotSupported);
            }
            if current.status == AppointmentStatus::Cancelled {
                return Ok(current);
            }
            self.check_future_booked(&current)?;
            let version = v
                .version
                .ok_or_else(|| PasError::BadData("appointment without a version".into()))?;
            let mut body = v.body;
            body["status"] = json!("cancelled");
            body["cancelationReason"] = json!({
                "coding": [{
                    "system": map::CANCELLATION_REASON_SYSTEM,
                    "code": map::PORTAL_CANCELLATION_CODE,
                }],
                "text": reason.text.as_deref().unwrap_or(&reason.code),
            });
            match self
                .put_if_match(
                    &format!("Appointment/{}", current.id.as_str()),
                    &body,
                    &version,
                )
                .await
            {
                Ok(updated) => {
                    for slot in Self::slot_refs(&updated) {
                        self.release_slot(&slot, None).await;
                    }
                    return self.map(&updated, &appointment.patient)?.ok_or_else(|| {
                        PasError::BadData("cancelled appointment unreadable".into())
                    });
                }
                // Changed since we read it (or our own retried PUT landed): read again.
                Err(PasError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PasError::Conflict)
    }

    /// [`PasBackend::reschedule`]: claim the slot, move the appointment, free the old slot.
    pub(super) async fn reschedule_in_pas(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        let (v, current) = self.load(appointment).await?;
        if self.cfg.capabilities.reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        self.check_future_booked(&current)?;
        // Only a slot this appointment is offered now: the same schedule (or specialty), within
        // the booking horizon. Any other Slot on the server (another clinic's, an urgent or
        // two-week-wait list's, beyond the horizon) is refused.
        let now = self.clock.now();
        let offered = self
            .find_slots(appointment, now, now + self.cfg.booking_horizon)
            .await?;
        if !offered.iter().any(|s| s.id == slot_id) {
            return Err(PasError::SlotUnavailable);
        }
        let slot_v = self
            .read_slot(slot_id)
            .await?
            .ok_or(PasError::SlotUnavailable)?;
        let slot = Self::slot_from_fhir(&slot_v.body).ok_or(PasError::SlotUnavailable)?;
        let free = slot_v.body.get("status").and_then(Value::as_str) == Some("free");
        let specialty_ok = slot_v
            .body
            .get("specialty")
            .and_then(Value::as_array)
            .is_none_or(|ccs| {
                ccs.is_empty()
                    || ccs.iter().any(|cc| {
                        cc.get("coding")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .any(|c| {
                                c.get("code").and_then(Value::as_str)
                                    == Some(current.specialty.code.as_str())
                            })
                    })
            });
        if !free || !specialty_ok || slot.start <= self.clock.now() {
            return Err(PasError::SlotUnavailable);
        }

        // 1. Claim the slot. If-Match makes this the one step two racers cannot both pass.
        let marker = format!("{SLOT_CLAIM_PREFIX}{}", current.id.as_str());
        let mut claimed = slot_v.body.clone();
        claimed["status"] = json!("busy");
        claimed["comment"] = json!(marker);
        let slot_version = slot_v
            .version
            .ok_or_else(|| PasError::BadData("slot without a version".into()))?;
        match self
            .put_if_match(&format!("Slot/{}", slot.id), &claimed, &slot_version)
            .await
        {
            Ok(_) => {}
            Err(PasError::Conflict | PasError::NotFound) => {
                // Someone else changed it first, unless it was our own retried claim.
                let ours = self.read_slot(&slot.id).await?.is_some_and(|s| {
                    s.body.get("comment").and_then(Value::as_str) == Some(marker.as_str())
                });
                if !ours {
                    return Err(PasError::SlotUnavailable);
                }
            }
            Err(e) => return Err(e),
        }

        // 2. Move the appointment into it.
        let old_slots = Self::slot_refs(&v.body);
        let mut body = v.body;
        body["start"] = json!(map::format_instant(slot.start));
        body["end"] = json!(map::format_instant(slot.end));
        body["slot"] = json!([{"reference": format!("Slot/{}", slot.id)}]);
        if body.get("minutesDuration").is_some() {
            body["minutesDuration"] = json!((slot.end - slot.start).num_minutes());
        }
        let version = v
            .version
            .ok_or_else(|| PasError::BadData("appointment without a version".into()));
        let updated = match version {
            Ok(version) => {
                self.put_if_match(
                    &format!("Appointment/{}", current.id.as_str()),
                    &body,
                    &version,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let updated = match updated {
            Ok(u) => u,
            Err(e) => {
                // A conflict may be our own earlier attempt that landed before a timeout: if
                // the appointment already sits in the slot, the move happened.
                let landed = match e {
                    PasError::Conflict | PasError::Timeout | PasError::Unavailable(_) => self
                        .read_owned(&appointment.patient, &current.id)
                        .await
                        .ok()
                        .flatten()
                        .map(|v| v.body)
                        .filter(|b| {
                            Self::slot_refs(b).contains(&slot.id)
                                && b.get("start")
                                    .and_then(Value::as_str)
                                    .and_then(map::parse_instant)
                                    == Some(slot.start)
                        }),
                    _ => None,
                };
                match landed {
                    Some(b) => b,
                    None => {
                        self.release_slot(&slot.id, Some(&current.id)).await;
                        return Err(e);
                    }
                }
            }
        };

        // 3. Free the slot it had.
        for old in old_slots.iter().filter(|s| **s != slot.id) {
            self.release_slot(old, None).await;
        }
        self.map(&updated, &appointment.patient)?
            .ok_or_else(|| PasError::BadData("rescheduled appointment unreadable".into()))
    }
}
