//! The event feed: changed appointments since a time, scoped to the trust, sorted, with an
//! overlap window, each compared with what the portal last saw of it
//! ([`PasFeedStore`](nhs_portal_core::store::PasFeedStore)) to tell what changed.
//!
//! | FHIR status now | last seen | event |
//! |---|---|---|
//! | `booked`, `arrived`, `checked-in` | nothing, or a status that is not booked | `Booked` |
//! | the same | booked, another start | `Moved { new_start }` |
//! | `cancelled` | not cancelled | `Cancelled { by }` (`pat`/`pat-*` the patient, else the hospital); with a new booking of the same patient, specialty and trust close by, `Moved { replaced_by }` |
//! | `noshow` | not `noshow` | `NoShow` |
//! | `fulfilled` | not `fulfilled` | `Attended` |
//! | `entered-in-error` | not withdrawn | `Withdrawn` |
//! | `proposed`, `pending`, `waitlist` | | none (not an appointment yet) |
//!
//! A deleted appointment is `Withdrawn` too, read from the type's `_history` where the server
//! offers it (`deletions`).
//!
//! A change whose version is the one last seen is not reported again. Without a last-seen
//! store ([`FhirPas::with_last_seen`]) every status change is reported from what the server
//! holds now and a move is told from the previous version (`_history`).
//!
//! (Over 400 lines with its table test: the feed's classification, pairing and patient lookup
//! are one piece.)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::store::SeenAppointment;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use serde_json::Value;

use super::participants::{Participants, Unanswered};
use super::{FhirPas, map};
use crate::{PasChange, PasError, PasEvent};

mod deletions;

/// FHIR statuses of an appointment that is going ahead.
fn is_booked(status: &str) -> bool {
    matches!(status, "booked" | "arrived" | "checked-in")
}

/// One changed Appointment, read from the search.
struct Changed {
    id: AppointmentId,
    at: DateTime<Utc>,
    version: String,
    status: String,
    start: Option<DateTime<Utc>>,
    body: Value,
}

impl Changed {
    fn read(r: Value) -> Option<Self> {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .and_then(|i| AppointmentId::parse(i).ok())?;
        let at = r
            .pointer("/meta/lastUpdated")
            .and_then(Value::as_str)
            .and_then(map::parse_instant)?;
        let version = r
            .pointer("/meta/versionId")
            .and_then(Value::as_str)
            .map_or_else(|| map::format_instant(at), str::to_owned);
        let status = r.get("status").and_then(Value::as_str)?.to_owned();
        let start = r
            .get("start")
            .and_then(Value::as_str)
            .and_then(map::parse_instant);
        Some(Self {
            id,
            at,
            version,
            status,
            start,
            body: r,
        })
    }
}

/// What changed, from the status now and the record last seen; `None` for no reportable change.
fn classify(now: &Changed, seen: Option<&SeenAppointment>) -> Option<PasChange> {
    let was = seen.map(|s| s.status.as_str());
    let status = now.status.as_str();
    match status {
        s if is_booked(s) => match seen {
            Some(p) if is_booked(&p.status) => (p.start != now.start).then_some(PasChange::Moved {
                new_start: now.start,
                replaced_by: None,
            }),
            _ => Some(PasChange::Booked),
        },
        "cancelled" => (was != Some("cancelled")).then(|| PasChange::Cancelled {
            by: map::cancelled_by(&now.body),
        }),
        "noshow" => (was != Some("noshow")).then_some(PasChange::NoShow),
        "fulfilled" => (was != Some("fulfilled")).then_some(PasChange::Attended),
        "entered-in-error" => (was != Some("withdrawn")).then_some(PasChange::Withdrawn),
        _ => None,
    }
}

/// Whether `new` reads as the rebooking of the cancelled `old`: same patient, specialty and
/// trust (and the same referral, when both name one), booked within `window` of the cancellation.
fn is_rebooking(old: &PasEvent, new: &PasEvent, window: chrono::Duration) -> bool {
    let (Some(a), Some(b)) = (&old.snapshot, &new.snapshot) else {
        return false;
    };
    old.patient == new.patient
        && a.id != b.id
        && a.specialty.code == b.specialty.code
        && a.organisation.ods_code == b.organisation.ods_code
        && (new.at - old.at).abs() <= window
}

fn same_referral(old: &Value, new: &Value) -> bool {
    let refs = |v: &Value| -> Vec<String> {
        v.get("basedOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|r| map::local_reference(r, "ServiceRequest"))
            .collect()
    };
    let (a, b) = (refs(old), refs(new));
    a.is_empty() || b.is_empty() || a.iter().any(|r| b.contains(r))
}

impl FhirPas {
    /// [`PasBackend::poll_events`](crate::PasBackend::poll_events): the changes since `since`
    /// (less the overlap window), oldest first.
    pub(super) async fn events_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PasEvent>, PasError> {
        let from = since - self.cfg.feed.overlap;
        let mut query: Vec<(&str, String)> = vec![
            ("_lastUpdated", format!("ge{}", map::format_instant(from))),
            ("_sort", "_lastUpdated".into()),
            ("_count", "100".into()),
        ];
        query.extend(
            self.cfg
                .feed
                .scope
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone())),
        );
        let found = self.search("Appointment", &query).await?;
        self.events_in(found, Some(from)).await
    }

    /// The events in changed Appointment resources (a poll's, or a notification's), each
    /// compared with what the portal last saw of it, oldest first. A poll gives the start of
    /// its window as `deletions_from`, and the deletions in the type's `_history` since then
    /// join its events (a notification carries no deletions).
    pub(super) async fn events_in(
        &self,
        found: Vec<Value>,
        deletions_from: Option<DateTime<Utc>>,
    ) -> Result<Vec<PasEvent>, PasError> {
        let changed: Vec<Changed> = found
            .into_iter()
            .filter_map(Changed::read)
            .filter(|c| self.is_this_trusts(&c.body))
            .collect();
        let seen = self.seen(&changed).await?;
        let mut patients = HashMap::new();
        let mut known = Participants::default();
        let mut events: Vec<(PasEvent, Value)> = Vec::new();
        for c in changed {
            let last = seen.get(&c.id);
            if last.is_some_and(|s| s.is_version(&c.version)) {
                continue;
            }
            let change = if self.last_seen.is_some() {
                classify(&c, last)
            } else {
                self.classify_without_store(&c).await?
            };
            let Some(change) = change else {
                continue;
            };
            let Some(patient) = self.patient_of(&c.body, &mut patients).await? else {
                tracing::warn!("FHIR PAS: a changed appointment names no patient the PAS knows");
                continue;
            };
            let mut event = PasEvent::new(c.id, patient.clone(), change, c.at, c.version);
            self.learn_participants(&c.body, &mut known, Unanswered::Ignored)
                .await?;
            match self.map_any_status(&c.body, &patient, &known) {
                Ok(Some(a)) => event = event.with_snapshot(a),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "FHIR PAS: an event without its snapshot"),
            }
            events.push((event, c.body));
        }
        if let Some(from) = deletions_from {
            for deleted in self.deleted_since(from, &mut patients, &mut known).await? {
                events.push((deleted, Value::Null));
            }
        }
        self.pair_rebookings(&mut events);
        let mut events: Vec<PasEvent> = events.into_iter().map(|(e, _)| e).collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    /// The last-seen records of these appointments (none without a store).
    async fn seen(
        &self,
        changed: &[Changed],
    ) -> Result<HashMap<AppointmentId, SeenAppointment>, PasError> {
        let Some(store) = &self.last_seen else {
            return Ok(HashMap::new());
        };
        let ids: Vec<AppointmentId> = changed.iter().map(|c| c.id.clone()).collect();
        let records = store
            .last_seen(&ids)
            .await
            .map_err(|e| PasError::Unavailable(Box::new(e)))?;
        Ok(records
            .into_iter()
            .map(|s| (s.appointment.clone(), s))
            .collect())
    }

    /// Without a last-seen store: the status as it is, a booked one compared with its
    /// previous version (`_history`); a first version counts as new.
    async fn classify_without_store(&self, c: &Changed) -> Result<Option<PasChange>, PasError> {
        if !is_booked(&c.status) {
            return Ok(classify(c, None));
        }
        match self.previous_start(&c.id).await? {
            Some(previous) if Some(previous) != c.start => Ok(Some(PasChange::Moved {
                new_start: c.start,
                replaced_by: None,
            })),
            _ if c.version == "1" => Ok(Some(PasChange::Booked)),
            _ => Ok(None),
        }
    }

    /// Whether an appointment is this trust's: it names no ODS code, or this trust's.
    fn is_this_trusts(&self, resource: &Value) -> bool {
        let named: Vec<&str> = resource
            .get("participant")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("actor")?.get("identifier"))
            .filter(|i| i.get("system").and_then(Value::as_str) == Some(map::ODS_SYSTEM))
            .filter_map(|i| i.get("value").and_then(Value::as_str))
            .collect();
        named.is_empty()
            || named
                .iter()
                .any(|c| c.eq_ignore_ascii_case(self.cfg.organisation.ods_code.as_str()))
    }

    /// The appointment mapped for an event's snapshot, with its participants' names and the
    /// clinic's contact as far as `known` holds them: an entered-in-error one (which the
    /// portal does not show) with its last content and the status `cancelled`, as it is no
    /// longer going ahead.
    fn map_any_status(
        &self,
        resource: &Value,
        patient: &NhsNumber,
        known: &Participants,
    ) -> Result<Option<Appointment>, PasError> {
        if resource.get("status").and_then(Value::as_str) == Some("entered-in-error") {
            let mut withdrawn = resource.clone();
            withdrawn["status"] = Value::from("cancelled");
            return self.map_known(&withdrawn, patient, known);
        }
        self.map_known(resource, patient, known)
    }

    /// Reads a cancellation and a new booking of the same patient, specialty and trust close
    /// together as one move (`Moved { replaced_by }`); the new booking stays `Booked`.
    fn pair_rebookings(&self, events: &mut [(PasEvent, Value)]) {
        let window = self.cfg.feed.rebook_window;
        let mut used = Vec::new();
        for i in 0..events.len() {
            if !matches!(events[i].0.change, PasChange::Cancelled { .. }) {
                continue;
            }
            let found = (0..events.len()).find(|&j| {
                !used.contains(&j)
                    && matches!(events[j].0.change, PasChange::Booked)
                    && is_rebooking(&events[i].0, &events[j].0, window)
                    && same_referral(&events[i].1, &events[j].1)
            });
            if let Some(j) = found {
                used.push(j);
                let new = &events[j].0;
                let change = PasChange::Moved {
                    new_start: new.snapshot.as_ref().map(|a| a.start),
                    replaced_by: Some(new.appointment.clone()),
                };
                events[i].0.change = change;
            }
        }
    }

    /// The NHS number of an Appointment's patient: from the participant's identifier, or else
    /// by reading the referenced Patient (once per reference per poll, through `cache`).
    pub(super) async fn patient_of(
        &self,
        appointment: &Value,
        cache: &mut HashMap<String, Option<NhsNumber>>,
    ) -> Result<Option<NhsNumber>, PasError> {
        if let Some(n) = map::patient_nhs_number(appointment) {
            return Ok(Some(n));
        }
        let Some(reference) = map::patient_reference_of(appointment) else {
            return Ok(None);
        };
        if let Some(known) = cache.get(&reference) {
            return Ok(known.clone());
        }
        let found = match self.get(self.url(&reference, &[])?).await {
            Ok(found) => found.and_then(|p| nhs_number_of_patient(&p.body)),
            Err(PasError::BadData(_) | PasError::BusinessRule { .. }) => None,
            Err(e) => return Err(e),
        };
        cache.insert(reference, found.clone());
        Ok(found)
    }

    /// The start of the version before the current one, from `_history`.
    pub(super) async fn previous_start(
        &self,
        id: &AppointmentId,
    ) -> Result<Option<DateTime<Utc>>, PasError> {
        let url = self.url(
            &format!("Appointment/{}/_history", id.as_str()),
            &[("_count", "2".into())],
        )?;
        let bundle = match self.get(url).await {
            Ok(Some(b)) => b,
            // A server without `_history`: no previous version to compare with.
            Ok(None) | Err(PasError::BusinessRule { .. } | PasError::NotSupported) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut versions: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = bundle
            .body
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("resource"))
            .filter_map(|r| {
                let updated = r
                    .pointer("/meta/lastUpdated")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant)?;
                let start = r
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant);
                Some((updated, start))
            })
            .collect();
        versions.sort_by_key(|(u, _)| std::cmp::Reverse(*u));
        Ok(versions.get(1).and_then(|(_, s)| *s))
    }
}

/// The NHS number on a Patient resource.
fn nhs_number_of_patient(patient: &Value) -> Option<NhsNumber> {
    if patient.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return None;
    }
    patient
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM))
        .find_map(|i| {
            i.get("value")
                .and_then(Value::as_str)
                .and_then(|v| NhsNumber::parse(v).ok())
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn changed(status: &str, start: &str, reason: Option<&str>) -> Changed {
        let mut body = json!({
            "resourceType": "Appointment", "id": "a1", "status": status, "start": start,
            "meta": {"versionId": "5", "lastUpdated": "2026-07-01T09:00:00Z"},
        });
        if let Some(code) = reason {
            body["cancelationReason"] = json!({"coding": [{
                "system": map::CANCELLATION_REASON_SYSTEM, "code": code}]});
        }
        Changed::read(body).unwrap()
    }

    fn seen(status: &str, start: &str) -> SeenAppointment {
        SeenAppointment {
            appointment: AppointmentId::parse("a1").unwrap(),
            version: "4".into(),
            status: status.into(),
            start: map::parse_instant(start),
            at: map::parse_instant("2026-07-01T08:00:00Z").unwrap(),
        }
    }

    #[test]
    fn what_changed_from_the_status_now_and_last_seen_table() {
        use nhs_portal_core::reporting::ChangeReason::{Hospital, Patient};
        let (t1, t2) = ("2026-08-01T09:00:00+01:00", "2026-08-02T09:00:00+01:00");
        let moved = PasChange::Moved {
            new_start: map::parse_instant(t2),
            replaced_by: None,
        };
        let cases = [
            (changed("booked", t1, None), None, Some(PasChange::Booked)),
            (changed("booked", t1, None), Some(seen("booked", t1)), None),
            (changed("arrived", t1, None), Some(seen("booked", t1)), None),
            (
                changed("booked", t2, None),
                Some(seen("booked", t1)),
                Some(moved),
            ),
            (
                changed("booked", t1, None),
                Some(seen("cancelled", t1)),
                Some(PasChange::Booked),
            ),
            (
                changed("cancelled", t1, Some("prov")),
                Some(seen("booked", t1)),
                Some(PasChange::Cancelled { by: Hospital }),
            ),
            (
                changed("cancelled", t1, Some("pat-cpp")),
                None,
                Some(PasChange::Cancelled { by: Patient }),
            ),
            (
                changed("cancelled", t1, None),
                Some(seen("cancelled", t1)),
                None,
            ),
            (
                changed("noshow", t1, None),
                Some(seen("booked", t1)),
                Some(PasChange::NoShow),
            ),
            (
                changed("fulfilled", t1, None),
                Some(seen("checked-in", t1)),
                Some(PasChange::Attended),
            ),
            (
                changed("entered-in-error", t1, None),
                Some(seen("booked", t1)),
                Some(PasChange::Withdrawn),
            ),
            (
                changed("entered-in-error", t1, None),
                Some(seen("withdrawn", t1)),
                None,
            ),
            (changed("proposed", t1, None), None, None),
            (changed("waitlist", t1, None), None, None),
        ];
        for (now, last, want) in cases {
            assert_eq!(
                classify(&now, last.as_ref()),
                want,
                "{} after {:?}",
                now.status,
                last.map(|l| l.status)
            );
        }
    }
}
