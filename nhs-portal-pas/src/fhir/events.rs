//! Changes made in the PAS: cancellations and moves since a time, from `_lastUpdated` and `_history`.

use chrono::{DateTime, Utc};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::request_status::RequestOutcome;
use serde_json::Value;

use super::{FhirPas, map};
use crate::{PasError, PasEvent};

impl FhirPas {
    /// [`PasBackend::poll_events`]: cancellations and moves since `since`.
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
            match r.get("status").and_then(Value::as_str) {
                Some("cancelled") => events.push(PasEvent {
                    appointment: id,
                    outcome: RequestOutcome::Cancelled,
                    at,
                }),
                Some("booked") => {
                    let Some(start) = r
                        .get("start")
                        .and_then(Value::as_str)
                        .and_then(map::parse_instant)
                    else {
                        continue;
                    };
                    if let Some(previous) = self.previous_start(&id).await?
                        && previous != start
                    {
                        events.push(PasEvent {
                            appointment: id,
                            outcome: RequestOutcome::Rescheduled {
                                replaced_by: None,
                                new_start: Some(start),
                            },
                            at,
                        });
                    }
                }
                _ => {}
            }
        }
        events.sort_by_key(|e| e.at);
        Ok(events)
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
