//! [`Worklist::sync_from_pas`]: resolving pending requests from what the trust did in its PAS.

use chrono::{DateTime, Utc};
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::RequestOutcome;
use nhs_portal_core::store::{AuditAction, AuditRecord, PatientRequest};
use nhs_portal_core::{Appointment, ReportingEvent};

use super::*;
use crate::PasEvent;

impl Worklist {
    /// Runs [`Worklist::sync_from_pas`] every `every`, starting from `since`, until the future
    /// is dropped (spawn it, and abort the task on shutdown). Failures are logged (without
    /// patient data) and retried on the next tick; the cursor only moves on after a success.
    pub async fn sync_loop(self, mut since: DateTime<Utc>, every: std::time::Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.sync_from_pas(since).await {
                Ok(report) => {
                    if !report.resolved.is_empty() {
                        tracing::info!(
                            resolved = report.resolved.len(),
                            left_pending = report.left_pending,
                            "worklist: requests resolved from the PAS"
                        );
                    }
                    since = report.next_since;
                }
                Err(e) => tracing::warn!(error = %e, "worklist: sync from the PAS failed"),
            }
        }
    }

    /// Resolves pending requests the trust acted on in its PAS, from
    /// [`PasBackend::poll_events`] since `since` (inclusive). Run it on a timer (the PCA wants
    /// PAS-side changes visible within 3 minutes); keep [`SyncReport::next_since`] for the next
    /// run.
    pub async fn sync_from_pas(&self, since: DateTime<Utc>) -> Result<SyncReport, WorklistError> {
        let events = self.pas.poll_events(since).await?;
        self.process(events, since).await
    }

    /// Processes changes the PAS pushed (a notification's, see
    /// [`notification`](crate::notification)) exactly as polled ones: each once by
    /// `(appointment, version)`, whether a poll or another notification brought it first. When
    /// this returns `Ok` every change is recorded, so the sender may be told it was received.
    pub async fn sync_events(&self, events: Vec<PasEvent>) -> Result<SyncReport, WorklistError> {
        let since = events
            .iter()
            .map(|e| e.at)
            .min()
            .unwrap_or_else(|| self.clock.now());
        self.process(events, since).await
    }

    /// One batch of changes at a time per worklist (a poll and a notification carrying the same
    /// change do not both pass the last-seen check).
    async fn process(
        &self,
        events: Vec<PasEvent>,
        since: DateTime<Utc>,
    ) -> Result<SyncReport, WorklistError> {
        let _one_at_a_time = self.feed_lock.lock().await;
        let mut report = SyncReport {
            next_since: since,
            ..SyncReport::default()
        };
        for event in events {
            report.next_since = report.next_since.max(event.at);
            // Delivered at least once: a change already processed is skipped.
            let last = self
                .store
                .last_seen(std::slice::from_ref(&event.appointment))
                .await?;
            if last.iter().any(|s| s.is_version(&event.version)) {
                report.duplicates += 1;
                continue;
            }
            self.apply_event(&event, &mut report).await?;
            // Then what the change reports on its own (`report`): after the request's
            // resolution, which reports the changes that answer it.
            report.reported += self.report_change(&event).await?;
            self.store.record_seen(&event.seen()).await?;
        }
        Ok(report)
    }

    /// What one new change does to the pending request on its appointment, if any.
    async fn apply_event(
        &self,
        event: &PasEvent,
        report: &mut SyncReport,
    ) -> Result<(), WorklistError> {
        let Some(request) = self.store.pending_request_for(&event.appointment).await? else {
            report.without_request += 1;
            return Ok(());
        };
        // Appointment ids are the PAS's: a request of another patient under the same id
        // (another trust's PAS, a reused id) is not this event's to resolve.
        if request.patient != event.patient {
            tracing::warn!(request = %request.id, "worklist: a PAS event names another patient than the request");
            report.left_pending += 1;
            return Ok(());
        }
        match self.resolve_from_event(&request, event).await? {
            Some(r) => report.resolved.push(r),
            None => report.left_pending += 1,
        }
        Ok(())
    }

    async fn resolve_from_event(
        &self,
        request: &PatientRequest,
        event: &PasEvent,
    ) -> Result<Option<PatientRequest>, WorklistError> {
        // What the change does to the request: answers it, declines it, makes it moot (the
        // appointment is over or gone: resolved as stale, like `overlay` does), or nothing.
        let (state, outcome) = match event.change.request_outcome() {
            Some(RequestOutcome::Rejected) => {
                (StoreResolution::Rejected, Some(RequestOutcome::Rejected))
            }
            Some(o) if answers(request.kind, &o) => (StoreResolution::Fulfilled, Some(o)),
            None if event.change.makes_request_moot() => (StoreResolution::Rejected, None),
            _ => return Ok(None),
        };
        let at = self.clock.now();
        let found = self
            .pas
            .get_appointment(&request.patient, &request.appointment)
            .await?;
        let appointment = match (found, &outcome, &event.snapshot) {
            (Some(a), _, _) => a,
            // Withdrawn from the PAS: the event's snapshot is the last the PAS showed.
            (None, None, Some(last)) => last.clone(),
            // Gone from the PAS (or unreadable): leave the request for staff rather than stop
            // every later sync on it.
            (None, _, _) => {
                tracing::warn!(request = %request.id, "worklist: the PAS event's appointment is missing");
                return Ok(None);
            }
        };
        let events = match &outcome {
            Some(o) if state == StoreResolution::Fulfilled => {
                self.fulfilment_events(request, o, &appointment, at).await
            }
            Some(_) => vec![appointment_event(&appointment, at)],
            // A moot request: the patient did nothing, and the change is the trust's.
            None => Vec::new(),
        };
        let audit = AuditRecord {
            at,
            patient: request.patient.clone(),
            actor: format!("pas:{}", request.ods_code),
            session: None,
            action: if state == StoreResolution::Fulfilled {
                AuditAction::RequestFulfilled
            } else {
                AuditAction::RequestRejected
            },
            appointment: Some(request.appointment.clone()),
            detail: Some(
                outcome
                    .as_ref()
                    .map_or("stale request", outcome_detail)
                    .into(),
            ),
        };
        match self
            .store
            .resolve_request(
                request.id,
                &Resolve {
                    resolution: state,
                    note: Some("resolved from the PAS".into()),
                    at,
                },
                &audit,
                &events,
            )
            .await
        {
            Ok(r) => Ok(Some(r)),
            // Resolved meanwhile (by staff, or another portal instance's sync): nothing to do.
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn fulfilment_events(
        &self,
        request: &PatientRequest,
        outcome: &RequestOutcome,
        after: &Appointment,
        at: DateTime<Utc>,
    ) -> Vec<ReportingEvent> {
        // Parents first (the spec's rule): the appointment as the PAS now holds it, the one
        // that replaced it (a move that made a new appointment), then the change itself.
        let mut events = vec![appointment_event(after, at)];
        if let RequestOutcome::Rescheduled {
            replaced_by: Some(new_id),
            ..
        } = outcome
        {
            match self.pas.get_appointment(&request.patient, new_id).await {
                Ok(Some(new)) => events.push(appointment_event(&new, at)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "worklist: replacement appointment lookup failed")
                }
            }
        }
        match outcome {
            RequestOutcome::Cancelled => events.push(ReportingEvent::Cancelled {
                at,
                appointment: request.appointment.clone(),
                reason: ChangeReason::Patient,
            }),
            RequestOutcome::Rescheduled { replaced_by, .. } => {
                events.push(ReportingEvent::Rescheduled {
                    at,
                    appointment: request.appointment.clone(),
                    // Named only when its parent went first.
                    new_appointment: replaced_by
                        .clone()
                        .filter(|n| events.iter().any(|e| e.appointment() == Some(n))),
                    reason: ChangeReason::Patient,
                })
            }
            RequestOutcome::Rejected => {}
        }
        events
    }
}
