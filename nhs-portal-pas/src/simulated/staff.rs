//! The stand-in for the trust's staff: what they do in their PAS, and the worklist's hook into
//! it ([`OutcomeApplier`]).

use async_trait::async_trait;
use chrono::DateTime;
use chrono::Utc;
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::RequestOutcome;
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus};

use super::{SimulatedPas, SimulationError};
use crate::worklist::OutcomeApplier;
use crate::{PasChange, PasError, PasEvent};

impl SimulatedPas {
    /// Simulation only: what the trust's staff did in their PAS, applied to an appointment.
    ///
    /// - [`RequestOutcome::Cancelled`]: a booked appointment becomes cancelled.
    /// - [`RequestOutcome::Rescheduled`] with `new_start`: moved in place (its length kept).
    /// - [`RequestOutcome::Rescheduled`] with `replaced_by`: the replacement (added before with
    ///   [`SimulatedPas::add_appointment`], same patient) stands; this one becomes cancelled. Use
    ///   [`SimulatedPas::staff_rebooked`] to have the replacement made for you.
    /// - [`RequestOutcome::Rejected`]: nothing changes in the PAS.
    ///
    /// In every case a [`PasEvent`] is recorded for [`PasBackend::poll_events`](crate::PasBackend::poll_events)
    /// ([`PasChange::from_request_outcome`]: staff acting on the patient's request, so a
    /// cancellation is the patient's).
    pub fn staff_acted(
        &self,
        id: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<Appointment, SimulationError> {
        let now = self.clock.now();
        let mut g = self.lock();
        let i = g.index(id).ok_or(SimulationError::UnknownAppointment)?;
        let current = g.appointments[i].clone();
        if !g.trusts.contains_key(&current.organisation.ods_code) {
            return Err(SimulationError::UnknownTrust);
        }
        let booked = current.status == AppointmentStatus::Booked;
        let mut next = current.clone();
        match outcome {
            RequestOutcome::Rejected => {}
            RequestOutcome::Cancelled => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                next.status = AppointmentStatus::Cancelled;
                next.cancelled_by = Some(ChangeReason::Patient);
            }
            RequestOutcome::Rescheduled {
                replaced_by: Some(new_id),
                ..
            } => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                let j = g.index(new_id).ok_or(SimulationError::NotApplicable(
                    "the replacement does not exist",
                ))?;
                if g.appointments[j].patient != current.patient || j == i {
                    return Err(SimulationError::NotApplicable(
                        "the replacement is not a different appointment of the same patient",
                    ));
                }
                next.status = AppointmentStatus::Cancelled;
            }
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(start),
            } => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                if let Some(end) = next.end {
                    next.end = Some(end + (*start - next.start));
                }
                next.start = *start;
            }
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: None,
            } => {
                return Err(SimulationError::NotApplicable(
                    "a reschedule needs a new start or a replacement",
                ));
            }
        }
        if next.status == AppointmentStatus::Cancelled || next.start != current.start {
            g.free_slot(id);
        }
        g.appointments[i] = next.clone();
        record(
            &mut g.events,
            PasChange::from_request_outcome(outcome),
            &next,
            now,
        );
        Ok(next)
    }

    /// Simulation only: a change the trust made on its own in its PAS, not a patient's request,
    /// recorded for [`PasBackend::poll_events`](crate::PasBackend::poll_events) with the
    /// appointment as it is after it:
    ///
    /// - [`PasChange::NoShow`]: a booked appointment is recorded as not attended (`noshow`);
    /// - [`PasChange::Attended`]: a booked appointment is recorded as attended (`fulfilled`);
    /// - [`PasChange::Cancelled`]: a booked appointment is cancelled, by the hospital (or by the
    ///   patient on the phone), and its slot freed.
    ///
    /// Other changes are [`SimulationError::NotApplicable`]: use [`SimulatedPas::staff_acted`]
    /// (a patient's request), [`SimulatedPas::staff_rebooked`] or [`SimulatedPas::staff_booked`].
    pub fn staff_recorded(
        &self,
        id: &AppointmentId,
        change: PasChange,
    ) -> Result<Appointment, SimulationError> {
        let now = self.clock.now();
        let mut g = self.lock();
        let i = g.index(id).ok_or(SimulationError::UnknownAppointment)?;
        let mut next = g.appointments[i].clone();
        if !g.trusts.contains_key(&next.organisation.ods_code) {
            return Err(SimulationError::UnknownTrust);
        }
        if next.status != AppointmentStatus::Booked {
            return Err(SimulationError::NotApplicable(
                "the appointment is not booked",
            ));
        }
        next.status = match change {
            PasChange::NoShow => AppointmentStatus::NoShow,
            PasChange::Attended => AppointmentStatus::Fulfilled,
            PasChange::Cancelled { by } => {
                next.cancelled_by = Some(by);
                AppointmentStatus::Cancelled
            }
            _ => {
                return Err(SimulationError::NotApplicable(
                    "only a no-show, an attendance or a cancellation is recorded this way",
                ));
            }
        };
        if next.status == AppointmentStatus::Cancelled {
            g.free_slot(id);
        }
        g.appointments[i] = next.clone();
        record(&mut g.events, change, &next, now);
        Ok(next)
    }

    /// Simulation only: the trust booked a new appointment in its PAS (reported by the feed
    /// as [`PasChange::Booked`]). Returns it.
    pub fn staff_booked(&self, appointment: Appointment) -> Appointment {
        let now = self.clock.now();
        self.add_appointment(appointment.clone());
        record(
            &mut self.lock().events,
            PasChange::Booked,
            &appointment,
            now,
        );
        appointment
    }

    /// Simulation only: staff rebooked the appointment as a new one starting at `new_start` (same
    /// length) and cancelled the old one, as many PAS do. Returns the new appointment; the event
    /// carries `replaced_by`.
    pub fn staff_rebooked(
        &self,
        id: &AppointmentId,
        new_start: DateTime<Utc>,
    ) -> Result<Appointment, SimulationError> {
        let old = self
            .inspect_appointment(id)
            .ok_or(SimulationError::UnknownAppointment)?;
        if old.status != AppointmentStatus::Booked {
            return Err(SimulationError::NotApplicable(
                "the appointment is not booked",
            ));
        }
        let mut new = old.clone();
        new.id = AppointmentId::new_random();
        new.end = old.end.map(|e| e + (new_start - old.start));
        new.start = new_start;
        self.add_appointment(new.clone());
        let outcome = RequestOutcome::Rescheduled {
            replaced_by: Some(new.id.clone()),
            new_start: Some(new_start),
        };
        if let Err(e) = self.staff_acted(id, &outcome) {
            self.lock().appointments.retain(|a| a.id != new.id);
            return Err(e);
        }
        Ok(new)
    }
}

/// Records a change for the feed, with the appointment after it and a version unique within
/// this simulated PAS.
fn record(events: &mut Vec<PasEvent>, change: PasChange, after: &Appointment, now: DateTime<Utc>) {
    let version = format!("sim-{}", events.len() + 1);
    events.push(
        PasEvent::new(
            after.id.clone(),
            after.patient.clone(),
            change,
            now,
            version,
        )
        .with_snapshot(after.clone()),
    );
}

#[async_trait]
impl OutcomeApplier for SimulatedPas {
    async fn apply_outcome(
        &self,
        appointment: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<Appointment, PasError> {
        self.staff_acted(appointment, outcome).map_err(|e| match e {
            SimulationError::UnknownAppointment | SimulationError::UnknownTrust => {
                PasError::NotFound
            }
            SimulationError::NotApplicable(why) => PasError::InvalidState(why.into()),
        })
    }
}
