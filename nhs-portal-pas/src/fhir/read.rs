//! Finding the patient (merged records followed) and reading their appointments, each checked
//! against the patient.

use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus, NhsNumber};
use serde_json::Value;

use super::client::Versioned;
use super::participants::{Participants, Unanswered};
use super::{FhirPas, map};
use crate::PasError;

/// How many merges the adapter follows from a superseded Patient to the one that replaced it.
const MAX_MERGE_HOPS: usize = 3;

/// The patient as the PAS holds them: the current Patient resource, and every reference their
/// appointments may use (the current one and those of records merged into it).
pub(super) struct FoundPatient {
    pub(super) resource: Value,
    pub(super) references: Vec<String>,
}

/// The `Patient/id` a Patient's `link` of `kind` (`replaced-by`, `replaces`) points to.
fn links(patient: &Value, kind: &str) -> Vec<String> {
    patient
        .get("link")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| l.get("type").and_then(Value::as_str) == Some(kind))
        .filter_map(|l| l.pointer("/other/reference").and_then(Value::as_str))
        .filter_map(|r| map::local_reference(r, "Patient"))
        .collect()
}

fn reference_of(patient: &Value) -> Option<String> {
    patient
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("Patient/{id}"))
}

impl FhirPas {
    /// The Patient for an NHS number. A record the PAS merged into another (`link` type
    /// `replaced-by`) is followed to the one that replaced it; its reference is kept, since
    /// old appointments may still point at it. More than one current Patient is an error.
    pub(super) async fn find_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Option<FoundPatient>, PasError> {
        let found = self
            .search(
                "Patient",
                &[(
                    "identifier",
                    format!("{NHS_NUMBER_SYSTEM}|{}", patient.as_str()),
                )],
            )
            .await?;
        let (superseded, current): (Vec<Value>, Vec<Value>) = found
            .into_iter()
            .partition(|p| !links(p, "replaced-by").is_empty());
        let mut references: Vec<String> = superseded.iter().filter_map(reference_of).collect();
        let mut resource = match current.len() {
            0 => None,
            1 => current.into_iter().next(),
            _ => {
                return Err(PasError::BadData(
                    "more than one Patient has this NHS number".into(),
                ));
            }
        };
        // Only superseded records found: follow the merge to the record that replaced them.
        let mut next = superseded
            .first()
            .and_then(|p| links(p, "replaced-by").into_iter().next());
        for _ in 0..MAX_MERGE_HOPS {
            let Some(reference) = next.take().filter(|_| resource.is_none()) else {
                break;
            };
            let Some(p) = self.get(self.url(&reference, &[])?).await? else {
                break;
            };
            if p.body.get("resourceType").and_then(Value::as_str) != Some("Patient") {
                break;
            }
            match links(&p.body, "replaced-by").into_iter().next() {
                Some(further) => {
                    references.push(reference);
                    next = Some(further);
                }
                None => resource = Some(p.body),
            }
        }
        let Some(resource) = resource else {
            return Ok(None);
        };
        let own = reference_of(&resource)
            .ok_or_else(|| PasError::BadData("a Patient without an id".into()))?;
        references.extend(links(&resource, "replaces"));
        references.insert(0, own);
        references.dedup();
        Ok(Some(FoundPatient {
            resource,
            references,
        }))
    }

    pub(super) fn map(
        &self,
        resource: &Value,
        patient: &NhsNumber,
    ) -> Result<Option<Appointment>, PasError> {
        let mut mapped = map::appointment_from_fhir_with(
            resource,
            patient,
            &self.cfg.organisation,
            &self.base,
            &self.cfg.specialties,
        )
        .map_err(|e| PasError::BadData(format!("appointment: {e}")))?;
        // Confirmed attendance, where the trust offers it (see `attendance`).
        if let Some(a) = mapped.as_mut()
            && self.cfg.capabilities.confirm_attendance
            && a.status == AppointmentStatus::Booked
            && a.request_status.is_none()
            && super::attendance::patient_accepted(resource)
        {
            a.request_status = Some(nhs_portal_core::RequestStatus::ConfirmedAttendance);
        }
        Ok(mapped)
    }

    /// [`FhirPas::map`] of `resource` dressed with what `known` holds of its participants:
    /// their names and the clinic's contact (see `participants`).
    pub(super) fn map_known(
        &self,
        resource: &Value,
        patient: &NhsNumber,
        known: &Participants,
    ) -> Result<Option<Appointment>, PasError> {
        let mut dressed = resource.clone();
        let contact = known.fill(&mut dressed);
        Ok(self
            .map(&dressed, patient)?
            .map(|a| Appointment { contact, ..a }))
    }

    /// What `resource`'s participants' resources give, for [`FhirPas::map_known`] of the answer
    /// to a change: read before the change is written, and never failing it.
    pub(super) async fn learn_before_change(&self, resource: &Value) -> Participants {
        let mut known = Participants::default();
        if let Err(e) = self
            .learn_participants(resource, &mut known, Unanswered::Ignored)
            .await
        {
            tracing::warn!(error = %e, "FHIR PAS: participants not read");
        }
        known
    }

    /// Reads an appointment and checks it is this patient's; `None` if missing or someone else's.
    pub(super) async fn read_owned(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Versioned>, PasError> {
        let Some(found) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let url = self.url(&format!("Appointment/{}", id.as_str()), &[])?;
        let read = match self.get(url).await {
            Ok(read) => read,
            // An id the server refuses to read is one it does not have.
            Err(PasError::BadData(_) | PasError::BusinessRule { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(read.filter(|v| {
            v.body.get("resourceType").and_then(Value::as_str) == Some("Appointment")
                && map::has_patient_in(&v.body, patient, &found.references)
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
