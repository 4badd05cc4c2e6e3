//! Finding the patient and reading their appointments, each checked against the patient.

use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus, NhsNumber};
use serde_json::Value;

use super::client::Versioned;
use super::{FhirPas, map};
use crate::PasError;

impl FhirPas {
    /// The FHIR Patient for an NHS number, if exactly one.
    pub(super) async fn find_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Option<Value>, PasError> {
        let found = self
            .search(
                "Patient",
                &[(
                    "identifier",
                    format!("{NHS_NUMBER_SYSTEM}|{}", patient.as_str()),
                )],
            )
            .await?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(PasError::BadData(
                "more than one Patient has this NHS number".into(),
            )),
        }
    }

    pub(super) fn patient_reference(resource: &Value) -> Option<String> {
        resource
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("Patient/{id}"))
    }

    pub(super) fn map(
        &self,
        resource: &Value,
        patient: &NhsNumber,
    ) -> Result<Option<Appointment>, PasError> {
        map::appointment_from_fhir(resource, patient, &self.cfg.organisation, &self.base)
            .map_err(|e| PasError::BadData(format!("appointment: {e}")))
    }

    /// Reads an appointment and checks it is this patient's; `None` if missing or someone else's.
    pub(super) async fn read_owned(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Versioned>, PasError> {
        let Some(pat) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let reference = Self::patient_reference(&pat);
        let url = self.url(&format!("Appointment/{}", id.as_str()), &[])?;
        let found = match self.get(url).await {
            Ok(found) => found,
            // An id the server refuses to read is one it does not have.
            Err(PasError::BadData(_) | PasError::BusinessRule { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(found.filter(|v| {
            v.body.get("resourceType").and_then(Value::as_str) == Some("Appointment")
                && map::has_patient(&v.body, patient, reference.as_deref())
        }))
    }

    /// [`FhirPas::read_owned`] mapped; `NotFound` if missing, someone else's or unmappable.
    pub(super) async fn load(
        &self,
        appointment: &Appointment,
    ) -> Result<(Versioned, Appointment), PasError> {
        let v = self
            .read_owned(&appointment.patient, &appointment.id)
            .await?
            .ok_or(PasError::NotFound)?;
        let a = self.map(&v.body, &appointment.patient)?.ok_or_else(|| {
            PasError::InvalidState(
                "the PAS holds this appointment in a status the portal does not show".into(),
            )
        })?;
        Ok((v, a))
    }

    pub(super) fn check_future_booked(&self, a: &Appointment) -> Result<(), PasError> {
        if a.status != AppointmentStatus::Booked {
            return Err(PasError::InvalidState(
                "the appointment is not booked".into(),
            ));
        }
        if !a.is_future(self.clock.now()) {
            return Err(PasError::InvalidState(
                "the appointment is in the past".into(),
            ));
        }
        Ok(())
    }
}
