//! The pending-request overlay, in one place.
//!
//! A trust whose PAS only takes requests leaves an appointment as it is when a patient asks to
//! cancel or reschedule it; the portal's store holds the pending request. Whatever reads an
//! appointment from the PAS (the patient pages, the PCA API) lays the store's pending requests
//! over it first: a pending request's status wins over the PAS's own request status, and an
//! appointment with none keeps the PAS's.

use crate::Appointment;
use crate::appointment::RequestStatus;
use crate::store::PatientRequest;

/// The request status the patient and the PCA see for `appointment`: its pending request's in
/// `pending` (only pending ones count, and only for this appointment and patient), else the
/// PAS's own.
pub fn effective_request_status(
    appointment: &Appointment,
    pending: &[PatientRequest],
) -> Option<RequestStatus> {
    pending
        .iter()
        .filter(|r| r.appointment == appointment.id && r.patient == appointment.patient)
        .find_map(PatientRequest::request_status)
        .or(appointment.request_status)
}

/// Lays the store's pending requests over appointments read from the PAS (see
/// [`effective_request_status`]).
pub fn overlay(appointments: &mut [Appointment], pending: &[PatientRequest]) {
    for a in appointments.iter_mut() {
        a.request_status = effective_request_status(a, pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_status::RequestKind;
    use crate::store::RequestState;
    use crate::{
        AppointmentId, AppointmentStatus, AppointmentType, ConsultationMedium, NhsNumber, OdsCode,
        Organisation, Specialty, TreatmentFunctionCode,
    };
    use chrono::{TimeZone, Utc};

    fn appointment(id: &str, patient: &str, own: Option<RequestStatus>) -> Appointment {
        Appointment {
            id: AppointmentId::parse(id).unwrap(),
            patient: NhsNumber::parse(patient).unwrap(),
            status: AppointmentStatus::Booked,
            request_status: own,
            description: "Dermatology appointment".into(),
            specialty: Specialty {
                code: TreatmentFunctionCode::parse("330").unwrap(),
                display: "DERMATOLOGY".into(),
            },
            start: Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap(),
            end: None,
            medium: ConsultationMedium::FaceToFace,
            priority: None,
            location: None,
            clinician: None,
            organisation: Organisation {
                ods_code: OdsCode::parse("R9E").unwrap(),
                name: "Trust".into(),
            },
            appointment_type: AppointmentType::Outpatient,
            identifiers: vec![],
        }
    }

    fn request(id: &str, patient: &str, kind: RequestKind, state: RequestState) -> PatientRequest {
        PatientRequest {
            id: uuid::Uuid::new_v4(),
            idempotency_key: "k".into(),
            appointment: AppointmentId::parse(id).unwrap(),
            patient: NhsNumber::parse(patient).unwrap(),
            ods_code: OdsCode::parse("R9E").unwrap(),
            kind,
            reason: "other".into(),
            details: None,
            state,
            created_at: Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap(),
            resolved_at: None,
            resolution_note: None,
        }
    }

    #[test]
    fn pending_requests_win_and_nothing_else_does() {
        use RequestKind::{Cancel, Reschedule};
        use RequestState::{Pending, Rejected};
        use RequestStatus::{PendingCancellation, PendingReschedule};
        const P: &str = "9000000009";
        const Q: &str = "9000000017";
        // (the PAS's own status, requests in the store, what shows)
        let cases: Vec<(
            Option<RequestStatus>,
            Vec<PatientRequest>,
            Option<RequestStatus>,
        )> = vec![
            (None, vec![], None),
            (Some(PendingReschedule), vec![], Some(PendingReschedule)),
            (
                None,
                vec![request("a1", P, Cancel, Pending)],
                Some(PendingCancellation),
            ),
            (
                Some(PendingCancellation),
                vec![request("a1", P, Reschedule, Pending)],
                Some(PendingReschedule),
            ),
            (None, vec![request("a1", P, Cancel, Rejected)], None),
            (None, vec![request("a2", P, Cancel, Pending)], None),
            (None, vec![request("a1", Q, Cancel, Pending)], None),
        ];
        for (own, pending, want) in cases {
            let mut list = vec![appointment("a1", P, own)];
            overlay(&mut list, &pending);
            assert_eq!(list[0].request_status, want, "{own:?} {pending:?}");
        }
    }
}
