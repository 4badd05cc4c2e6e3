//! A client-managed move as one `transaction` Bundle, where the server offers transactions
//! ([`ServerCaps::moves_in_transaction`](super::server::ServerCaps::moves_in_transaction)):
//! claim the new slot, move the appointment and free the old slot (when this booking alone
//! held it) are three `PUT` entries, each with `request.ifMatch` on the version read, posted to
//! the base URL. The server carries out all of them or none, so a failure leaves nothing half
//! done and there is nothing to undo.
//!
//! A refusal (409/412: another client changed one of them first) is read again: the appointment
//! already in the slot is our own earlier attempt whose answer was lost; the slot no longer
//! free is [`PasError::SlotUnavailable`]; anything else is [`PasError::Conflict`], which the
//! reschedule makes again from a fresh read.

use http::Method;
use nhs_portal_core::Appointment;
use serde_json::{Value, json};

use super::FhirPas;
use super::client::{FHIR_JSON, Versioned, next_delay, transient};
use super::write::mark_booked_for;
use crate::{PasError, Slot};

use backon::Retryable;

/// One `PUT` entry of a transaction, guarded by `version`.
fn put_entry(kind: &str, resource: &Value, version: &str) -> Value {
    let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
    json!({
        "resource": resource,
        "request": {
            "method": "PUT",
            "url": format!("{kind}/{id}"),
            "ifMatch": format!("W/\"{version}\""),
        },
    })
}

/// The resource `kind`/`id` in a `transaction-response` Bundle, when the server returned it.
fn answered<'a>(response: &'a Value, kind: &str, id: &str) -> Option<&'a Value> {
    response
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .find(|r| {
            r.get("resourceType").and_then(Value::as_str) == Some(kind)
                && r.get("id").and_then(Value::as_str) == Some(id)
        })
}

impl FhirPas {
    /// Posts a `transaction` Bundle of `entries` to the base URL: the `transaction-response`
    /// Bundle. Every entry carries `ifMatch`, so the post is safe to retry on a timeout or 5xx
    /// (a repeat of one that landed meets a version conflict, read as such by the caller).
    pub(super) async fn transact(&self, entries: Vec<Value>) -> Result<Value, PasError> {
        let url = self.url("", &[])?;
        let text =
            json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}).to_string();
        let send = || async {
            self.once(|| {
                self.client
                    .request(Method::POST, url.clone())
                    .header(http::header::CONTENT_TYPE, FHIR_JSON)
                    .header("prefer", "return=representation")
                    .body(text.clone())
            })
            .await
        };
        let max = self.cfg.max_retry_wait;
        let answer = send
            .retry(self.retry_policy())
            .when(transient)
            .adjust(move |e, delay| next_delay(e, delay, max))
            .await?
            .ok_or(PasError::NotFound)?;
        if answer.body.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(PasError::BadData(
                "a transaction was not answered with a Bundle".into(),
            ));
        }
        Ok(answer.body)
    }

    /// A client-managed move as one transaction (see the module documentation).
    pub(super) async fn move_in_transaction(
        &self,
        v: &Versioned,
        current: &Appointment,
        slot_v: &Versioned,
        slot: &Slot,
        version: &str,
    ) -> Result<Value, PasError> {
        let mut claimed = slot_v.body.clone();
        claimed["status"] = json!("busy");
        mark_booked_for(&mut claimed, Some(&current.id));
        let slot_version = slot_v
            .version
            .clone()
            .ok_or_else(|| PasError::BadData("slot without a version".into()))?;
        let moved = self.moved(&v.body, &slot_v.body, slot).await;
        let mut entries = vec![
            put_entry("Slot", &claimed, &slot_version),
            put_entry("Appointment", &moved, version),
        ];
        for old in Self::slot_refs(&v.body).iter().filter(|s| **s != slot.id) {
            if let Some((_, old_version, freed)) = self.releasable(old, &current.id).await? {
                entries.push(put_entry("Slot", &freed, &old_version));
            }
        }
        match self.transact(entries).await {
            Ok(response) => match answered(&response, "Appointment", current.id.as_str()) {
                Some(a) => Ok(a.clone()),
                // A minimal answer: the appointment as now stored.
                None => self
                    .landed_in(current, slot)
                    .await
                    .ok_or_else(|| PasError::BadData("the moved appointment is unreadable".into())),
            },
            Err(
                e @ (PasError::Conflict
                | PasError::BusinessRule { .. }
                | PasError::Timeout
                | PasError::Unavailable(_)),
            ) => {
                if let Some(b) = self.landed_in(current, slot).await {
                    return Ok(b);
                }
                if !matches!(e, PasError::Conflict) {
                    return Err(e);
                }
                let free = self
                    .read_slot(&slot.id)
                    .await?
                    .is_some_and(|s| s.body.get("status").and_then(Value::as_str) == Some("free"));
                Err(if free {
                    PasError::Conflict
                } else {
                    PasError::SlotUnavailable
                })
            }
            Err(e) => Err(e),
        }
    }
}
