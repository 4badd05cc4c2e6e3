//! [`FhirPas`]: a [`PasBackend`] over a trust PAS's FHIR R4 REST API.
//!
//! One `FhirPas` talks to one FHIR base URL for one trust, whose [`Capabilities`] are
//! configured (FHIR has no standard way to say "this trust only takes requests").
//!
//! How each operation maps to FHIR REST:
//!
//! | Operation | FHIR |
//! |---|---|
//! | [`patient`](PasBackend::patient) | `GET Patient?identifier=https://fhir.nhs.uk/Id/nhs-number\|…` (birth date; `meta.security` `R`/`V` = restricted; a configurable boolean extension = portal access) |
//! | [`list_appointments`](PasBackend::list_appointments) | the Patient as above, then `GET Appointment?patient=Patient/{id}` (following `next` links) |
//! | [`get_appointment`](PasBackend::get_appointment) | `GET Appointment/{id}`, then a check that the patient is a participant |
//! | [`cancel`](PasBackend::cancel) | read, then `PUT Appointment/{id}` with `status: cancelled`, a cancellation reason and `If-Match` on the version read; a version conflict re-reads and tries again |
//! | [`find_slots`](PasBackend::find_slots) | `GET Slot?status=free&start=ge…&start=lt…` and `schedule=` the current slot's schedule, or else `specialty=` the appointment's Treatment Function Code |
//! | [`reschedule`](PasBackend::reschedule) | the offer as `find_slots` would make it now (to the booking horizon) must hold the slot, else `SlotUnavailable`; then claim the slot (`PUT Slot` `status: busy` with `If-Match`: only one of two racing claims can win), then `PUT Appointment` with the new times and slot (`If-Match`; on conflict the slot is released), then free the old slot |
//! | [`poll_events`](PasBackend::poll_events) | `GET Appointment?_lastUpdated=ge…`: `cancelled` is a cancellation (the patient's for reason `pat`/`pat-*`, else the hospital's), `noshow` a no-show, `fulfilled` an attendance, `entered-in-error` a withdrawal; a booked one whose start differs from its previous version (`_history`) was moved. Each event names the patient (from the participant's NHS number, or the referenced Patient) and carries `meta.versionId` |
//!
//! Appointments are found through the Patient resource rather than with
//! `Appointment?patient:identifier=…`: Medplum's in-memory repository (our test peer) matches
//! neither `patient:identifier` nor `actor:identifier`, while a reference search works on every
//! FHIR server.
//!
//! Reads are retried with backoff (backon) on timeouts, 429 and 5xx; so are the `PUT`s, which
//! are safe to repeat because `If-Match` guards them: when a retried `PUT` meets a version
//! conflict, the adapter reads the resource again to tell its own earlier write (whose answer was
//! lost) from someone else's. Nothing else is retried. Every call has a
//! timeout. Appointments that cannot be mapped (a missing start, an unknown specialty system)
//! are skipped with a warning that names no patient.
//!
//! The Medplum-backed integration tests (`nhs-portal-pas/tests/fhir_medplum.rs`) run this
//! adapter and the [`conformance`](crate) kit against a FHIR server we did not write.

mod client;
mod config;
mod events;
pub mod map;
mod read;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{Capabilities, RescheduleMode};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use serde_json::Value;

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

pub use config::{FhirConfigError, FhirPasConfig, PORTAL_ACCESS_EXTENSION};

pub use crate::error::HttpStatus;

/// A [`PasBackend`] over FHIR R4 REST. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct FhirPas {
    client: reqwest::Client,
    cfg: Arc<FhirPasConfig>,
    base: String,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl PasBackend for FhirPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        let Some(p) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let date_of_birth =
            map::birth_date(&p).map_err(|e| PasError::BadData(format!("patient: {e}")))?;
        Ok(Some(PatientRecord {
            nhs_number: patient.clone(),
            date_of_birth,
            portal_access: map::boolean_extension(&p, &self.cfg.portal_access_extension)
                .unwrap_or(true),
            restricted: map::is_restricted(&p),
        }))
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let Some(p) = self.find_patient(patient).await? else {
            return Ok(Vec::new());
        };
        let Some(reference) = Self::patient_reference(&p) else {
            return Err(PasError::BadData("a Patient without an id".into()));
        };
        let found = self
            .search(
                "Appointment",
                &[("patient", reference.clone()), ("_count", "100".into())],
            )
            .await?;
        let mut out = Vec::new();
        for resource in found {
            if !map::has_patient(&resource, patient, Some(&reference)) {
                continue;
            }
            match self.map(&resource, patient) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "FHIR PAS: skipped an appointment"),
            }
        }
        out.sort_by_key(|a| a.start);
        Ok(out)
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        match self.read_owned(patient, id).await? {
            Some(v) => match self.map(&v.body, patient) {
                Ok(a) => Ok(a),
                Err(e) => {
                    tracing::warn!(error = %e, "FHIR PAS: unreadable appointment");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        self.read_owned(&appointment.patient, &appointment.id)
            .await?
            .ok_or(PasError::NotFound)?;
        Ok(self.cfg.capabilities)
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        self.cancel_in_pas(appointment, reason).await
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        let (v, current) = self.load(appointment).await?;
        if self.cfg.capabilities.reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        let mut query = vec![
            ("status", "free".to_owned()),
            ("start", format!("ge{}", map::format_instant(from))),
            ("start", format!("lt{}", map::format_instant(to))),
            ("_count", "100".to_owned()),
        ];
        let schedule = match Self::slot_refs(&v.body).first() {
            Some(slot) => self.read_slot(slot).await?.and_then(|s| {
                s.body
                    .pointer("/schedule/reference")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            None => None,
        };
        match schedule {
            Some(s) => query.push(("schedule", s)),
            None => query.push(("specialty", current.specialty.code.as_str().to_owned())),
        }
        let now = self.clock.now();
        let mut slots: Vec<Slot> = self
            .search("Slot", &query)
            .await?
            .iter()
            .filter(|s| s.get("status").and_then(Value::as_str) == Some("free"))
            .filter_map(Self::slot_from_fhir)
            .filter(|s| s.start >= from && s.start < to && s.start > now)
            .filter(|s| s.start < now + self.cfg.booking_horizon)
            .collect();
        slots.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        Ok(slots)
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        self.reschedule_in_pas(appointment, slot_id).await
    }

    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.events_since(since).await
    }
}

#[cfg(test)]
mod tests;
