//! Confirmed attendance: the patient participant's `status` (R4 `participationstatus`).
//!
//! Where the trust's [`Capabilities`](nhs_portal_core::request_status::Capabilities) offer
//! confirm attendance, the PAS books with the patient `needs-action` (or `tentative`); the
//! patient's confirmation makes them `accepted` (`If-Match` on the version read, `Prefer:
//! return=representation`, `PUT` or JSON Patch as the server takes writes), and a booked
//! appointment whose patient is `accepted` reads back as
//! [`RequestStatus::ConfirmedAttendance`]. Where the trust does not offer it the participant
//! status means nothing to the portal.

use nhs_portal_core::{Appointment, AppointmentStatus, RequestStatus};
use serde_json::{Value, json};

use super::FhirPas;
use crate::PasError;

/// Whether a participant is the patient (by `type`, or its reference).
fn is_patient(participant: &Value) -> bool {
    let Some(actor) = participant.get("actor") else {
        return false;
    };
    actor.get("type").and_then(Value::as_str) == Some("Patient")
        || actor
            .get("reference")
            .and_then(Value::as_str)
            .and_then(|r| super::map::local_reference(r, "Patient"))
            .is_some()
}

/// Whether the patient participant has accepted (confirmed) the appointment.
pub(super) fn patient_accepted(appointment: &Value) -> bool {
    appointment
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| is_patient(p))
        .any(|p| p.get("status").and_then(Value::as_str) == Some("accepted"))
}

/// The appointment with every patient participant `accepted`.
fn accepted(appointment: &Value) -> Value {
    let mut out = appointment.clone();
    for p in out
        .get_mut("participant")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|p| is_patient(p))
    {
        p["status"] = json!("accepted");
    }
    out
}

impl FhirPas {
    /// [`PasBackend::confirm_attendance`](crate::PasBackend::confirm_attendance): re-reads the
    /// appointment as its patient's, then sets the patient participant `accepted`; a version
    /// conflict reads again and tries again.
    pub(super) async fn confirm_in_pas(
        &self,
        appointment: &Appointment,
    ) -> Result<Appointment, PasError> {
        for _ in 0..3 {
            let (v, current) = self.load(appointment).await?;
            if !self.cfg.capabilities.confirm_attendance {
                return Err(PasError::NotSupported);
            }
            self.check_future_booked(&current)?;
            let known = self.learn_before_change(&v.body).await;
            if current.request_status == Some(RequestStatus::ConfirmedAttendance) {
                return Ok(self
                    .map_known(&v.body, &appointment.patient, &known)?
                    .unwrap_or(current));
            }
            if !v
                .body
                .get("participant")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(is_patient))
            {
                return Err(PasError::BadData(
                    "the appointment names its patient only by NHS number, not as a participant to update".into(),
                ));
            }
            let version = v
                .version
                .clone()
                .ok_or_else(|| PasError::BadData("appointment without a version".into()))?;
            match self
                .update("Appointment", &v.body, &accepted(&v.body), &version)
                .await
            {
                Ok(stored) => {
                    let a = self
                        .map_known(&stored, &appointment.patient, &known)?
                        .ok_or_else(|| {
                            PasError::BadData("confirmed appointment unreadable".into())
                        })?;
                    if a.status != AppointmentStatus::Booked
                        || a.request_status != Some(RequestStatus::ConfirmedAttendance)
                    {
                        return Err(PasError::BadData(
                            "the PAS did not keep the confirmation".into(),
                        ));
                    }
                    return Ok(a);
                }
                // Changed since we read it (or our own retried write landed): read again.
                Err(PasError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PasError::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patient_participant_is_found_by_type_or_reference_table() {
        let cases = [
            (
                json!({"actor": {"type": "Patient", "identifier": {"value": "9000000009"}}}),
                true,
            ),
            (json!({"actor": {"reference": "Patient/p1"}}), true),
            (
                json!({"actor": {"reference": "https://pas.example/fhir/Patient/p1/_history/2"}}),
                true,
            ),
            (json!({"actor": {"reference": "Practitioner/d1"}}), false),
            (
                json!({"actor": {"type": "Location", "display": "Clinic"}}),
                false,
            ),
            (json!({"status": "accepted"}), false),
        ];
        for (participant, want) in cases {
            assert_eq!(is_patient(&participant), want, "{participant}");
        }
    }

    #[test]
    fn confirming_accepts_the_patient_only() {
        let before = json!({"resourceType": "Appointment", "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "needs-action"},
            {"actor": {"reference": "Practitioner/d1"}, "status": "needs-action"},
        ]});
        assert!(!patient_accepted(&before));
        let after = accepted(&before);
        assert!(patient_accepted(&after));
        assert_eq!(after["participant"][1]["status"], "needs-action");
    }
}
