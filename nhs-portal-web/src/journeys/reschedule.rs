//! The real-time reschedule: the offer of free slots, and moving into one of them (only a slot
//! in the offer as read again at confirm; a double submit shows the first one's success).

use chrono::Duration;
use nhs_portal_core::reporting::{ChangeReason, parent_event, with_parent};
use nhs_portal_core::request_status::{Refusal, RescheduleMode};
use nhs_portal_core::store::AuditAction;
use nhs_portal_core::store::{ActionOutcome, CompletedAction, PatientSession, RealTimeAction};
use nhs_portal_core::{Appointment, AppointmentId, ReportingEvent};
use nhs_portal_pas::{PasError, Slot};

use super::{AppointmentView, JourneyError, Journeys, SLOT_SEARCH_DAYS, audit};

impl Journeys {
    /// The appointment as an earlier reschedule under this key left it, if there was one.
    async fn earlier_move(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        idempotency_key: &str,
    ) -> Result<Option<Appointment>, JourneyError> {
        let Some(earlier) = self
            .earlier_action(session, id, RealTimeAction::Reschedule, idempotency_key)
            .await?
        else {
            return Ok(None);
        };
        let new_id = match earlier {
            ActionOutcome::Rescheduled { appointment, .. } => appointment,
            ActionOutcome::Cancelled => id.clone(),
        };
        Ok(Some(self.load(session, &new_id).await?.appointment))
    }

    /// Free slots for a real-time reschedule, soonest first.
    pub async fn slots(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<(AppointmentView, Vec<Slot>), JourneyError> {
        let (view, mode) = self.reschedule_mode(session, id).await?;
        if mode != RescheduleMode::RealTime {
            return Err(JourneyError::NotAllowed(Refusal::NotOffered));
        }
        let now = self.now();
        let mut slots = self
            .pas
            .find_slots(
                &view.appointment,
                now,
                now + Duration::days(SLOT_SEARCH_DAYS),
            )
            .await?;
        slots.retain(|s| s.start > now);
        slots.sort_by_key(|s| s.start);
        Ok((view, slots))
    }

    /// Moves the appointment to a free slot (real time). Returns the appointment as now booked
    /// (the same id or the new one that replaced it).
    pub async fn reschedule(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        slot_id: &str,
        idempotency_key: &str,
    ) -> Result<Appointment, JourneyError> {
        let _one_at_a_time = self.locks.lock(&session.patient, idempotency_key).await;
        if let Some(done) = self.earlier_move(session, id, idempotency_key).await? {
            return Ok(done);
        }
        // The offer is read again now, and only a slot in it is booked: a forged or stale slot
        // id (another clinic's, beyond the window, taken since) never reaches the PAS.
        let (view, offer) = self.slots(session, id).await?;
        let booked = if offer.iter().any(|s| s.id == slot_id) {
            self.pas.reschedule(&view.appointment, slot_id).await
        } else {
            Err(PasError::SlotUnavailable)
        };
        let moved = match booked {
            Ok(moved) => moved,
            // A double submit on another portal instance may have just booked it for us.
            Err(PasError::SlotUnavailable) => {
                return match self.earlier_move(session, id, idempotency_key).await? {
                    Some(done) => Ok(done),
                    None => Err(JourneyError::SlotUnavailable),
                };
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.now();
        if moved.patient != session.patient {
            return Err(JourneyError::Pas(PasError::BadData(
                "the PAS returned another patient's appointment".into(),
            )));
        }
        let new_appointment = (moved.id != *id).then(|| moved.id.clone());
        // Parents first: the replaced appointment as the PAS now holds it (when the move made
        // a new one), then the one now booked, then the reschedule.
        let mut events = Vec::new();
        if new_appointment.is_some() {
            match self.pas.get_appointment(&session.patient, id).await {
                Ok(Some(old)) if old.patient == session.patient => {
                    events.push(parent_event(&old, now));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the replaced appointment could not be read"),
            }
        }
        events.extend(with_parent(
            &moved,
            now,
            [ReportingEvent::Rescheduled {
                at: now,
                appointment: id.clone(),
                new_appointment,
                reason: ChangeReason::Patient,
            }],
        ));
        self.record_real_time(
            &CompletedAction {
                key: idempotency_key.to_owned(),
                patient: session.patient.clone(),
                appointment: id.clone(),
                outcome: ActionOutcome::Rescheduled {
                    appointment: moved.id.clone(),
                    start: moved.start,
                },
                at: now,
            },
            &audit(
                session,
                now,
                AuditAction::Rescheduled,
                Some(id),
                Some(format!("to={};new={}", moved.start.to_rfc3339(), moved.id)),
            ),
            &events,
        )
        .await?;
        Ok(moved)
    }
}
