//! The writes: real-time cancellation and rescheduling, the way the server takes them
//! ([`ServerCaps`](super::server::ServerCaps)).
//!
//! - Server-owned Slots (`Appointment/$book` offered, or Slots it does not let clients write):
//!   the adapter never writes a Slot. A move is `POST Appointment/{id}/$book` (parameter `slot`)
//!   where offered, else a write of the appointment alone; a cancellation is
//!   `POST Appointment/{id}/$cancel` (parameter `reason`) where offered, else a status write.
//! - Client-managed Slots: claim the new slot (`busy`, marked with the
//!   [`BOOKED_FOR_EXTENSION`] naming the appointment, `If-Match`: only one of two racing claims
//!   wins; with the [`MOVED_FROM_EXTENSION`](super::MOVED_FROM_EXTENSION) naming the slots it
//!   leaves, so `reconcile` can finish or undo a move that stops half way), move the
//!   appointment (`If-Match`; on failure the claim is released), then release the old slot. A slot is released only when no other active booking holds it (R4: `busy`
//!   means one or more bookings), and `Slot.comment` is never touched.
//! - Client-managed Slots on a server that takes `transaction` Bundles: the same three writes
//!   as one transaction (`transaction`), all or nothing.
//!
//! Every write is `PUT` or, where the server takes only that, a JSON Patch; every write carries
//! `If-Match` and `Prefer: return=representation`.
//!
//! (Over 400 lines: cancel and reschedule in both slot regimes share the slot helpers here.)

use http::Method;
use nhs_portal_core::request_status::{CancelMode, RescheduleMode};
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus};
use serde_json::{Value, json};

use super::client::{FHIR_JSON, Versioned, safe_id};
use super::{FhirPas, map};
use crate::{CancelReason, PasBackend, PasError, Slot};

/// The Slot extension the adapter marks a claimed slot with (`valueReference` to the
/// appointment), so a retried claim recognises itself and a release frees only its own.
pub const BOOKED_FOR_EXTENSION: &str =
    "https://fhir.nhs-portal.example/StructureDefinition/slot-booked-for";

/// Statuses of an appointment that still holds its slot.
const HOLDING: &str = "booked,arrived,checked-in,pending";

pub(super) fn booked_for(slot: &Value) -> Option<String> {
    slot.get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(BOOKED_FOR_EXTENSION))
        .and_then(|e| e.pointer("/valueReference/reference"))
        .and_then(Value::as_str)
        .and_then(|r| map::local_reference(r, "Appointment"))
}

/// Sets (or, with `None`, removes) the booked-for mark, keeping every other extension.
pub(super) fn mark_booked_for(slot: &mut Value, appointment: Option<&AppointmentId>) {
    let mut extensions: Vec<Value> = slot
        .get("extension")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    extensions.retain(|e| e.get("url").and_then(Value::as_str) != Some(BOOKED_FOR_EXTENSION));
    if let Some(a) = appointment {
        extensions.push(json!({
            "url": BOOKED_FOR_EXTENSION,
            "valueReference": {"reference": format!("Appointment/{}", a.as_str())},
        }));
    }
    match slot.as_object_mut() {
        Some(o) if extensions.is_empty() => {
            o.remove("extension");
        }
        Some(o) => {
            o.insert("extension".into(), Value::Array(extensions));
        }
        None => {}
    }
}

/// What a Schedule actor or an appointment participant is at a clinic: `Practitioner` (also a
/// PractitionerRole) or `Location`, by its reference or its `type`.
fn clinic_role(actor: &Value) -> Option<&'static str> {
    let by_reference = actor
        .get("reference")
        .and_then(Value::as_str)
        .and_then(|r| {
            ["Practitioner", "PractitionerRole", "Location"]
                .into_iter()
                .find(|k| map::local_reference(r, k).is_some())
        });
    match by_reference.or_else(|| actor.get("type").and_then(Value::as_str)) {
        Some("Practitioner" | "PractitionerRole") => Some("Practitioner"),
        Some("Location") => Some("Location"),
        _ => None,
    }
}

fn parameters(name: &str, value_key: &str, value: Value) -> Value {
    json!({"resourceType": "Parameters", "parameter": [{"name": name, value_key: value}]})
}

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

    /// The ids of the Slots an appointment references (relative, absolute or versioned).
    pub(super) fn slot_refs(appointment: &Value) -> Vec<String> {
        appointment
            .get("slot")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|r| map::local_reference(r, "Slot"))
            .filter_map(|r| r.strip_prefix("Slot/").map(str::to_owned))
            .collect()
    }

    /// Whether an active appointment other than `appointment` holds the slot (when the server
    /// cannot say, it is taken to: a slot is never freed on a guess).
    async fn held_by_others(&self, slot: &str, appointment: &AppointmentId) -> bool {
        let found = self
            .search(
                "Appointment",
                &[
                    ("slot", format!("Slot/{slot}")),
                    ("status", HOLDING.to_owned()),
                ],
            )
            .await;
        match found {
            Ok(found) => found
                .iter()
                .any(|a| a.get("id").and_then(Value::as_str) != Some(appointment.as_str())),
            Err(e) => {
                tracing::warn!(error = %e, "FHIR PAS: could not tell who holds a slot; left busy");
                true
            }
        }
    }

    /// A client-managed slot this booking may free, as read (with its version) and as freed:
    /// `None` when it is not busy, another booking still holds it, or it is claimed for another
    /// appointment.
    pub(super) async fn releasable(
        &self,
        id: &str,
        appointment: &AppointmentId,
    ) -> Result<Option<(Versioned, String, Value)>, PasError> {
        let Some(v) = self.read_slot(id).await? else {
            return Ok(None);
        };
        if v.body.get("status").and_then(Value::as_str) != Some("busy") {
            return Ok(None);
        }
        let mark = booked_for(&v.body);
        let ours = format!("Appointment/{}", appointment.as_str());
        if mark.as_ref().is_some_and(|m| *m != ours) || self.held_by_others(id, appointment).await {
            return Ok(None);
        }
        let mut freed = v.body.clone();
        freed["status"] = json!("free");
        mark_booked_for(&mut freed, None);
        super::reconcile::mark_moved_from(&mut freed, &[]);
        let version = v
            .version
            .clone()
            .ok_or_else(|| PasError::BadData("slot without a version".into()))?;
        Ok(Some((v, version, freed)))
    }

    /// Frees a client-managed slot this booking held, unless another booking still holds it
    /// or it is claimed for another appointment (best effort: failures are logged).
    pub(super) async fn release_slot(&self, id: &str, appointment: &AppointmentId) {
        let result = async {
            let Some((v, version, freed)) = self.releasable(id, appointment).await? else {
                return Ok(());
            };
            self.update("Slot", &v.body, &freed, &version)
                .await
                .map(|_| ())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "FHIR PAS: could not free a slot");
        }
    }

    /// [`PasBackend::cancel`]: a real-time cancellation with reason `pat-cpp` (re-read on a
    /// version conflict).
    pub(super) async fn cancel_in_pas(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        let caps = self.server_caps().await;
        for _ in 0..3 {
            let (v, current) = self.load(appointment).await?;
            if self.cfg.capabilities.cancel != CancelMode::RealTime {
                return Err(PasError::NotSupported);
            }
            let known = self.learn_before_change(&v.body).await;
            if current.status == AppointmentStatus::Cancelled {
                return Ok(self
                    .map_known(&v.body, &appointment.patient, &known)?
                    .unwrap_or(current));
            }
            self.check_future_booked(&current)?;
            let version = v
                .version
                .clone()
                .ok_or_else(|| PasError::BadData("appointment without a version".into()))?;
            let why = json!({
                "coding": [{
                    "system": map::CANCELLATION_REASON_SYSTEM,
                    "code": map::PORTAL_CANCELLATION_CODE,
                }],
                "text": reason.text.as_deref().unwrap_or(&reason.code),
            });
            let path = format!("Appointment/{}", current.id.as_str());
            let written = if caps.server_owned_slots() && caps.cancel {
                let body = parameters("reason", "valueCodeableConcept", why);
                self.write(
                    Method::POST,
                    &format!("{path}/$cancel"),
                    &body,
                    FHIR_JSON,
                    Some(&version),
                )
                .await
            } else {
                let mut body = v.body.clone();
                body["status"] = json!("cancelled");
                body["cancelationReason"] = why;
                self.update("Appointment", &v.body, &body, &version).await
            };
            match written {
                Ok(updated) => {
                    if !caps.server_owned_slots() {
                        for slot in Self::slot_refs(&updated) {
                            self.release_slot(&slot, &current.id).await;
                        }
                    }
                    return self
                        .map_known(&updated, &appointment.patient, &known)?
                        .ok_or_else(|| {
                            PasError::BadData("cancelled appointment unreadable".into())
                        });
                }
                // Changed since we read it (or our own retried write landed): read again.
                Err(PasError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PasError::Conflict)
    }

    /// [`PasBackend::reschedule`]: to a slot this appointment is offered now, the way the
    /// server takes moves (see the module documentation). A transaction that met another
    /// client's change to the appointment or its old slot (the new slot still free) is made
    /// again from a fresh read.
    pub(super) async fn reschedule_in_pas(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        for _ in 0..3 {
            match self.reschedule_once(appointment, slot_id).await {
                Err(PasError::Conflict) if self.server_caps().await.moves_in_transaction() => {}
                other => return other,
            }
        }
        Err(PasError::Conflict)
    }

    async fn reschedule_once(
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
        if !free || !self.slot_fits(&slot_v.body, &current) || slot.start <= self.clock.now() {
            return Err(PasError::SlotUnavailable);
        }
        let version = v
            .version
            .clone()
            .ok_or_else(|| PasError::BadData("appointment without a version".into()))?;
        let caps = self.server_caps().await;
        let known = self.learn_before_change(&v.body).await;
        let updated = if caps.server_owned_slots() {
            self.move_in_server_slots(&v.body, &slot_v.body, &current, &slot, &version, caps.book)
                .await?
        } else if caps.moves_in_transaction() {
            self.move_in_transaction(&v, &current, &slot_v, &slot, &version)
                .await?
        } else {
            self.move_in_client_slots(&v, &current, &slot_v, &slot, &version)
                .await?
        };
        self.map_known(&updated, &appointment.patient, &known)?
            .ok_or_else(|| PasError::BadData("rescheduled appointment unreadable".into()))
    }

    /// Whether the slot's specialty (if it names one) is the appointment's.
    pub(super) fn slot_fits(&self, slot: &Value, current: &Appointment) -> bool {
        slot.get("specialty")
            .and_then(Value::as_array)
            .is_none_or(|ccs| {
                ccs.is_empty()
                    || ccs.iter().any(|cc| {
                        self.cfg
                            .specialties
                            .specialty_of(cc)
                            .is_some_and(|s| s.code == current.specialty.code)
                    })
            })
    }

    /// The appointment body moved into `slot`.
    fn moved_body(body: &Value, slot: &Slot) -> Value {
        let mut body = body.clone();
        body["start"] = json!(map::format_instant(slot.start));
        body["end"] = json!(map::format_instant(slot.end));
        body["slot"] = json!([{"reference": format!("Slot/{}", slot.id)}]);
        if body.get("minutesDuration").is_some() {
            body["minutesDuration"] = json!((slot.end - slot.start).num_minutes());
        }
        body
    }

    /// The appointment body moved into `slot`; when the slot is another Schedule's (another
    /// clinic), that Schedule's practitioners and location replace the old ones (best effort: an
    /// unreadable Schedule leaves the participants as they were).
    pub(super) async fn moved(&self, body: &Value, slot_body: &Value, slot: &Slot) -> Value {
        let mut moved = Self::moved_body(body, slot);
        let schedule_of = |s: &Value| {
            s.pointer("/schedule/reference")
                .and_then(Value::as_str)
                .and_then(|r| map::local_reference(r, "Schedule"))
        };
        let Some(new_schedule) = schedule_of(slot_body) else {
            return moved;
        };
        let old_schedule = match Self::slot_refs(body).first() {
            Some(old) => self
                .read_slot(old)
                .await
                .ok()
                .flatten()
                .and_then(|v| schedule_of(&v.body)),
            None => None,
        };
        if old_schedule.as_deref() == Some(new_schedule.as_str()) {
            return moved;
        }
        let schedule = match self.url(&new_schedule, &[]) {
            Ok(url) => self.get(url).await.ok().flatten().map(|v| v.body),
            Err(_) => None,
        };
        let actors: Vec<Value> = schedule
            .as_ref()
            .and_then(|s| s.get("actor"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| clinic_role(a).is_some())
            .cloned()
            .collect();
        if actors.is_empty() {
            return moved;
        }
        let replaced: Vec<&str> = actors.iter().filter_map(clinic_role).collect();
        let mut participants: Vec<Value> = moved
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| {
                let actor = p.get("actor").unwrap_or(&Value::Null);
                // An ODS-coded Location is the trust itself: kept.
                let ods_coded = actor.pointer("/identifier/system").and_then(Value::as_str)
                    == Some(map::ODS_SYSTEM);
                ods_coded || !clinic_role(actor).is_some_and(|k| replaced.contains(&k))
            })
            .cloned()
            .collect();
        participants.extend(
            actors
                .into_iter()
                .map(|a| json!({"actor": a, "status": "accepted"})),
        );
        moved["participant"] = Value::Array(participants);
        moved
    }

    /// Whether the appointment as the PAS holds it now sits in `slot`.
    pub(super) async fn landed_in(&self, current: &Appointment, slot: &Slot) -> Option<Value> {
        self.read_owned(&current.patient, &current.id)
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
            })
    }

    /// A move where the server owns the Slots: `$book`, or else a write of the appointment
    /// alone (the server updates its Slots itself).
    async fn move_in_server_slots(
        &self,
        body: &Value,
        slot_body: &Value,
        current: &Appointment,
        slot: &Slot,
        version: &str,
        book: bool,
    ) -> Result<Value, PasError> {
        let moved = if book {
            let params = parameters(
                "slot",
                "valueReference",
                json!({"reference": format!("Slot/{}", slot.id)}),
            );
            self.write(
                Method::POST,
                &format!("Appointment/{}/$book", current.id.as_str()),
                &params,
                FHIR_JSON,
                Some(version),
            )
            .await
        } else {
            let moved = self.moved(body, slot_body, slot).await;
            self.update("Appointment", body, &moved, version).await
        };
        match moved {
            Ok(updated) => Ok(updated),
            Err(
                e @ (PasError::Conflict
                | PasError::BusinessRule { .. }
                | PasError::Timeout
                | PasError::Unavailable(_)),
            ) => match self.landed_in(current, slot).await {
                // Our own earlier attempt landed before its answer was lost.
                Some(b) => Ok(b),
                None if matches!(e, PasError::Conflict | PasError::BusinessRule { .. }) => {
                    let taken = self.read_slot(&slot.id).await?.is_none_or(|s| {
                        s.body.get("status").and_then(Value::as_str) != Some("free")
                    });
                    Err(if taken { PasError::SlotUnavailable } else { e })
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// A move where the portal manages the Slots: claim, move, release.
    async fn move_in_client_slots(
        &self,
        v: &Versioned,
        current: &Appointment,
        slot_v: &Versioned,
        slot: &Slot,
        version: &str,
    ) -> Result<Value, PasError> {
        // 1. Claim the slot. If-Match makes this the one step two racers cannot both pass.
        // The claim records the move's intent (which appointment, from which slots), so a move
        // that stops half way can be finished or undone (`reconcile`).
        let old_slots = Self::slot_refs(&v.body);
        let leaving: Vec<String> = old_slots
            .iter()
            .filter(|s| **s != slot.id)
            .cloned()
            .collect();
        let mut claimed = slot_v.body.clone();
        claimed["status"] = json!("busy");
        mark_booked_for(&mut claimed, Some(&current.id));
        super::reconcile::mark_moved_from(&mut claimed, &leaving);
        let slot_version = slot_v
            .version
            .clone()
            .ok_or_else(|| PasError::BadData("slot without a version".into()))?;
        let ours = format!("Appointment/{}", current.id.as_str());
        match self
            .update("Slot", &slot_v.body, &claimed, &slot_version)
            .await
        {
            Ok(_) => {}
            Err(PasError::Conflict | PasError::NotFound | PasError::BusinessRule { .. }) => {
                // Someone else changed it first, unless it was our own retried claim.
                let mine = self
                    .read_slot(&slot.id)
                    .await?
                    .is_some_and(|s| booked_for(&s.body).as_deref() == Some(ours.as_str()));
                if !mine {
                    return Err(PasError::SlotUnavailable);
                }
            }
            Err(e) => return Err(e),
        }

        // 2. Move the appointment into it.
        let moved = self.moved(&v.body, &slot_v.body, slot).await;
        let updated = match self.update("Appointment", &v.body, &moved, version).await {
            Ok(u) => u,
            Err(e) => {
                // A conflict may be our own earlier attempt that landed before a timeout: if
                // the appointment already sits in the slot, the move happened.
                let landed = match e {
                    PasError::Conflict | PasError::Timeout | PasError::Unavailable(_) => {
                        self.landed_in(current, slot).await
                    }
                    _ => None,
                };
                match landed {
                    Some(b) => b,
                    None => {
                        self.release_slot(&slot.id, &current.id).await;
                        return Err(e);
                    }
                }
            }
        };

        // 3. Release the slot it had.
        for old in &leaving {
            self.release_slot(old, &current.id).await;
        }
        Ok(updated)
    }
}
