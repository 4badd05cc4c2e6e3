//! Changes made in the PAS since a time, from `_lastUpdated` and `_history`: cancellations (by
//! whom), moves, no-shows, attendances and withdrawals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::{AppointmentId, NhsNumber};
use serde_json::Value;

use super::{FhirPas, map};
use crate::{PasChange, PasError, PasEvent};

impl FhirPas {
    /// [`PasBackend::poll_events`](crate::PasBackend::poll_events): the changes since `since`.
    pub(super) async fn events_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PasEvent>, PasError> {
        let changed = self
            .search(
                "Appointment",
                &[
                    ("_lastUpdated", format!("ge{}", map::format_instant(since))),
                    ("_count", "100".into()),
                ],
            )
            .await?;
        let mut patients = HashMap::new();
        let mut events = Vec::new();
        for r in changed {
            let (Some(id), Some(at)) = (
                r.get("id")
                    .and_then(Value::as_str)
                    .and_then(|i| AppointmentId::parse(i).ok()),
                r.pointer("/meta/lastUpdated")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant),
            ) else {
                continue;
            };
            let change = match r.get("status").and_then(Value::as_str) {
                Some("cancelled") => PasChange::Cancelled {
                    by: map::cancelled_by(&r),
                },
                Some("noshow") => PasChange::NoShow,
                Some("fulfilled") => PasChange::Attended,
                Some("entered-in-error") => PasChange::Withdrawn,
                Some("booked" | "arrived" | "checked-in") => {
                    let Some(start) = r
                        .get("start")
                        .and_then(Value::as_str)
                        .and_then(map::parse_instant)
                    else {
                        continue;
                    };
                    match self.previous_start(&id).await? {
                        Some(previous) if previous != start => PasChange::Moved {
                            new_start: Some(start),
                            replaced_by: None,
                        },
                        _ => continue,
                    }
                }
                _ => continue,
            };
            let Some(patient) = self.patient_of(&r, &mut patients).await? else {
                tracing::warn!("FHIR PAS: a changed appointment names no patient the PAS knows");
                continue;
            };
            let version = r
                .pointer("/meta/versionId")
                .and_then(Value::as_str)
                .map_or_else(|| map::format_instant(at), str::to_owned);
            let mut event = PasEvent::new(id, patient.clone(), change, at, version);
            match self.map(&r, &patient) {
                Ok(Some(a)) => event = event.with_snapshot(a),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "FHIR PAS: an event without its snapshot"),
            }
            events.push(event);
        }
        events.sort_by_key(|e| e.at);
        Ok(events)
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
        let Some(bundle) = self.get(url).await? else {
            return Ok(None);
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
