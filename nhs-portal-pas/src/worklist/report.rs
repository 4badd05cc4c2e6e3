//! What a PAS-side change reports to Wayfinder on its own, from the PAS event feed
//! ([`Worklist::sync_from_pas`]): the trust's changes the portal did not make or report itself.
//!
//! | change | events (parents first, at the change's time) |
//! | --- | --- |
//! | `Booked` | `APPT` (or `ADMISSION`): a new appointment |
//! | `Moved` | `APPT` of it, `APPT` of the replacement (if any), `APPT-RESCH` `HOSPITAL` |
//! | `Cancelled { by }` | `APPT`, `APPT-CANC` with `by` (`PATIENT` or `HOSPITAL`) |
//! | `NoShow` | `APPT` (`noshow`), `APPT-DNA` |
//! | `Attended` | `APPT` (`fulfilled`) |
//! | `Withdrawn`, `RequestRejected` | nothing: Wayfinder has no withdrawal event, and a declined request changes no appointment (its resolution reports the `APPT`) |
//!
//! **Not twice.** A cancellation or move that the portal made (a real-time change) or that
//! answered a patient's request (staff on the worklist, or this sync resolving it) was reported
//! then, with `PATIENT`: the patient's audit trail then holds that change for the appointment
//! at or after the PAS's time (`Cancelled`, `Rescheduled`, `RequestFulfilled`), and the feed
//! leaves it alone. A move the feed reports without such a record is the hospital's.
//!
//! **Once per change.** The events go with an audit record (`PasChangeReported`, actor
//! `pas:{ODS}`, detail `version={version}`) in one transaction; a change delivered again (polls
//! overlap: `since` is inclusive) finds its record and reports nothing.

use nhs_portal_core::ReportingEvent;
use nhs_portal_core::reporting::{ChangeReason, parent_event, with_parent};
use nhs_portal_core::store::{AuditAction, AuditRecord};

use super::{Worklist, WorklistError};
use crate::{PasChange, PasEvent};

/// How far back in a patient's audit trail the "reported already" check looks.
const AUDIT_LOOKBACK: usize = 50;

impl Worklist {
    /// Writes the events `event` reports on its own (see the module docs), parents first in
    /// one outbox write; how many.
    pub(super) async fn report_change(&self, event: &PasEvent) -> Result<usize, WorklistError> {
        let detail = format!("version={}", event.version);
        let trail = self
            .store
            .audit_for_patient(&event.patient, AUDIT_LOOKBACK)
            .await?;
        let seen = trail.iter().any(|r| {
            r.action == AuditAction::PasChangeReported
                && r.appointment.as_ref() == Some(&event.appointment)
                && r.detail.as_deref() == Some(detail.as_str())
        });
        if seen {
            return Ok(0);
        }
        let Some((ods, events)) = self.change_events(event, &trail).await? else {
            return Ok(0);
        };
        if events.is_empty() {
            return Ok(0);
        }
        let audit = AuditRecord {
            at: self.clock.now(),
            patient: event.patient.clone(),
            actor: format!("pas:{ods}"),
            session: None,
            action: AuditAction::PasChangeReported,
            appointment: Some(event.appointment.clone()),
            detail: Some(detail),
        };
        self.store.record(&audit, &events).await?;
        Ok(events.len())
    }

    /// The trust's ODS code and the events, or `None` when nothing is to be reported.
    async fn change_events(
        &self,
        event: &PasEvent,
        trail: &[AuditRecord],
    ) -> Result<Option<(String, Vec<ReportingEvent>)>, WorklistError> {
        let reported_by_portal = matches!(
            event.change,
            PasChange::Cancelled { .. } | PasChange::Moved { .. }
        ) && portal_reported(event, trail);
        if reported_by_portal {
            return Ok(None);
        }
        let snapshot = match &event.snapshot {
            Some(s) => Some(s.clone()),
            None => {
                self.pas
                    .get_appointment(&event.patient, &event.appointment)
                    .await?
            }
        };
        let Some(now) = snapshot.filter(|a| a.patient == event.patient) else {
            tracing::warn!("worklist: a PAS change without its appointment is not reported");
            return Ok(None);
        };
        let at = event.at;
        let ods = now.organisation.ods_code.as_str().to_owned();
        Ok(Some((
            ods,
            match &event.change {
                PasChange::Booked | PasChange::Attended => vec![parent_event(&now, at)],
                PasChange::NoShow => with_parent(
                    &now,
                    at,
                    [ReportingEvent::DidNotAttend {
                        at,
                        appointment: event.appointment.clone(),
                    }],
                ),
                PasChange::Cancelled { by } => with_parent(
                    &now,
                    at,
                    [ReportingEvent::Cancelled {
                        at,
                        appointment: event.appointment.clone(),
                        reason: *by,
                    }],
                ),
                PasChange::Moved { replaced_by, .. } => {
                    let mut events = vec![parent_event(&now, at)];
                    let mut named = None;
                    if let Some(new_id) = replaced_by {
                        match self.pas.get_appointment(&event.patient, new_id).await {
                            Ok(Some(new)) if new.patient == event.patient => {
                                events.push(parent_event(&new, at));
                                named = Some(new_id.clone());
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "worklist: replacement appointment lookup failed")
                            }
                        }
                    }
                    events.push(ReportingEvent::Rescheduled {
                        at,
                        appointment: event.appointment.clone(),
                        new_appointment: named,
                        reason: ChangeReason::Hospital,
                    });
                    events
                }
                _ => Vec::new(),
            },
        )))
    }
}

/// Whether the portal already reported this change: the patient's audit trail has a change to
/// this appointment made or recorded by the portal at or after the PAS's time.
fn portal_reported(event: &PasEvent, trail: &[AuditRecord]) -> bool {
    trail.iter().any(|r| {
        r.appointment.as_ref() == Some(&event.appointment)
            && r.at >= event.at
            && matches!(
                r.action,
                AuditAction::Cancelled | AuditAction::Rescheduled | AuditAction::RequestFulfilled
            )
    })
}
