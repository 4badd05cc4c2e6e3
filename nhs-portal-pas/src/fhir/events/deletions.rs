//! Deletions on the event feed. A deleted Appointment is in no search, so the feed reads the
//! type's history: `GET Appointment/_history?_since={since − overlap}`, whose entries with
//! `request.method` `DELETE` are the deletions (R4 `history`), where the CapabilityStatement
//! offers `history-type`. A deletion is reported as [`PasChange::Withdrawn`] with the version
//! the deletion made (its `response.etag`), and only when the portal's last-seen record
//! ([`PasFeedStore`](nhs_portal_core::store::PasFeedStore)) holds the appointment in another
//! state: an appointment the portal never saw is not news, and one already withdrawn (or this
//! very deletion, seen) is not reported again across overlapping polls. The patient and the
//! snapshot come from the last version before the deletion (`GET Appointment/{id}/_history`);
//! a server that keeps none cannot tie the deletion to a patient, and it is skipped with a
//! warning. Without a last-seen store every deletion in the window is reported. A history the
//! server offers but refuses to give is logged and the poll goes on without deletions; one
//! that does not answer fails the poll, as the search would.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nhs_portal_core::{AppointmentId, NhsNumber};
use serde_json::Value;

use super::super::participants::{Participants, Unanswered};
use super::super::{FhirPas, map};
use crate::{PasChange, PasError, PasEvent};

/// One deletion from the type's history.
struct Deletion {
    id: AppointmentId,
    version: String,
    at: DateTime<Utc>,
}

fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

impl Deletion {
    fn read(entry: &Value) -> Option<Self> {
        if entry.pointer("/request/method").and_then(Value::as_str) != Some("DELETE") {
            return None;
        }
        let url = entry.pointer("/request/url").and_then(Value::as_str)?;
        let local = map::local_reference(url, "Appointment")?;
        let id = AppointmentId::parse(local.trim_start_matches("Appointment/")).ok()?;
        let at = entry
            .pointer("/response/lastModified")
            .and_then(Value::as_str)
            .and_then(map::parse_instant)?;
        let version = entry
            .pointer("/response/etag")
            .and_then(Value::as_str)
            .map(|t| t.trim_start_matches("W/").trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("deleted-{}", map::format_instant(at)));
        Some(Self { id, version, at })
    }
}

impl FhirPas {
    /// The deletions since `from` the portal has not seen, as `Withdrawn` events.
    pub(super) async fn deleted_since(
        &self,
        from: DateTime<Utc>,
        patients: &mut HashMap<String, Option<NhsNumber>>,
        known: &mut Participants,
    ) -> Result<Vec<PasEvent>, PasError> {
        if !self.server_caps().await.history {
            return Ok(Vec::new());
        }
        let history = match self.type_history(from).await {
            Ok(history) => history,
            Err(e) if e.is_transient() => return Err(e),
            // Offered but refused (a parameter it does not take, say): the search's changes
            // still stand, without deletions.
            Err(e) => {
                tracing::warn!(error = %e, "FHIR PAS: the Appointment history could not be read");
                return Ok(Vec::new());
            }
        };
        let mut deletions: Vec<Deletion> = Vec::new();
        for entry in history {
            let Some(d) = Deletion::read(&entry) else {
                continue;
            };
            match deletions.iter_mut().find(|o| o.id == d.id) {
                Some(older) if older.at < d.at => *older = d,
                Some(_) => {}
                None => deletions.push(d),
            }
        }
        if deletions.is_empty() {
            return Ok(Vec::new());
        }
        let seen = match &self.last_seen {
            Some(store) => {
                let ids: Vec<AppointmentId> = deletions.iter().map(|d| d.id.clone()).collect();
                let records = store
                    .last_seen(&ids)
                    .await
                    .map_err(|e| PasError::Unavailable(Box::new(e)))?;
                Some(
                    records
                        .into_iter()
                        .map(|s| (s.appointment.clone(), s))
                        .collect::<HashMap<_, _>>(),
                )
            }
            None => None,
        };
        let mut events = Vec::new();
        for d in deletions {
            if let Some(seen) = &seen {
                match seen.get(&d.id) {
                    Some(s) if s.status != "withdrawn" && !s.is_version(&d.version) => {}
                    _ => continue,
                }
            }
            let Some(last) = self.last_version(&d.id).await? else {
                tracing::warn!("FHIR PAS: a deleted appointment has no earlier version to read");
                continue;
            };
            if !self.is_this_trusts(&last) {
                continue;
            }
            let Some(patient) = self.patient_of(&last, patients).await? else {
                tracing::warn!("FHIR PAS: a deleted appointment names no patient the PAS knows");
                continue;
            };
            let mut gone = last.clone();
            gone["status"] = Value::from("entered-in-error");
            let mut event =
                PasEvent::new(d.id, patient.clone(), PasChange::Withdrawn, d.at, d.version);
            self.learn_participants(&gone, known, Unanswered::Ignored)
                .await?;
            match self.map_any_status(&gone, &patient, known) {
                Ok(Some(a)) => event = event.with_snapshot(a),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "FHIR PAS: an event without its snapshot"),
            }
            events.push(event);
        }
        Ok(events)
    }

    /// Every entry of `Appointment/_history` since `from`, following `next` links to the cap.
    async fn type_history(&self, from: DateTime<Utc>) -> Result<Vec<Value>, PasError> {
        let base =
            url::Url::parse(&self.base).map_err(|e| PasError::BadData(format!("bad URL: {e}")))?;
        let mut url = self.url(
            "Appointment/_history",
            &[
                ("_since", map::format_instant(from)),
                ("_count", "100".into()),
            ],
        )?;
        let mut out = Vec::new();
        for _ in 0..self.cfg.page_cap {
            let Some(page) = self.get(url.clone()).await? else {
                return Ok(out);
            };
            out.extend(entries(&page.body).cloned());
            let next = page
                .body
                .get("link")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("url").and_then(Value::as_str));
            match next {
                None => return Ok(out),
                Some(link) => {
                    url = base
                        .join(link)
                        .ok()
                        .filter(|u| u.origin() == base.origin())
                        .ok_or_else(|| {
                            PasError::BadData("a history's next link goes to another server".into())
                        })?;
                }
            }
        }
        tracing::error!(
            pages = self.cfg.page_cap,
            "FHIR PAS: the Appointment history has more pages than the cap"
        );
        Err(PasError::BadData(format!(
            "the Appointment history has more than {} pages",
            self.cfg.page_cap
        )))
    }

    /// The newest version of a deleted appointment that still has its content.
    async fn last_version(&self, id: &AppointmentId) -> Result<Option<Value>, PasError> {
        let url = self.url(&format!("Appointment/{}/_history", id.as_str()), &[])?;
        let history = match self.get(url).await {
            Ok(Some(h)) => h.body,
            Ok(None) | Err(PasError::BusinessRule { .. } | PasError::NotSupported) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let version = |r: &Value| {
            r.pointer("/meta/versionId")
                .and_then(Value::as_str)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(entries(&history)
            .filter_map(|e| e.get("resource"))
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Appointment"))
            .max_by_key(|r| version(r))
            .cloned())
    }
}
