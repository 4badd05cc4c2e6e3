//! The pending-request overlay, in one place.
//!
//! A trust whose PAS only takes requests leaves an appointment as it is when a patient asks to
//! cancel or reschedule it; the portal's store holds the pending request. Whatever reads an
//! appointment from the PAS (the patient pages, the PCA API) lays the store's pending requests
//! over it first: a pending request's status wins over the PAS's own request status, and an
//! appointment with none keeps the PAS's.
//!
//! Only valid status × request-status pairs come out
//! ([`VALID_PAIRS`](crate::request_status::VALID_PAIRS)): a pending request on an appointment
//! the PAS shows as attended, missed, or (for a cancellation) already cancelled is not laid over
//! it; [`overlay`] returns it as a [`StaleRequest`] for the caller to resolve in the store.

use crate::Appointment;
use crate::appointment::RequestStatus;
use crate::request_status::{stale_request, valid_request_status};
use crate::store::{PatientRequest, Resolution};

/// A pending request that no longer fits its appointment (see the module docs), and how it
/// ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRequest {
    /// The request.
    pub request: PatientRequest,
    /// Fulfilled (the hospital cancelled what the patient asked to cancel) or rejected (the
    /// appointment is over).
    pub resolution: Resolution,
}

/// The request status the patient and the PCA see for `appointment`: its pending request's in
/// `pending` (only pending ones count, and only for this appointment and patient), else the
/// PAS's own.
pub fn effective_request_status(
    appointment: &Appointment,
    pending: &[PatientRequest],
) -> Option<RequestStatus> {
    let status = appointment.status;
    pending
        .iter()
        .filter(|r| r.appointment == appointment.id && r.patient == appointment.patient)
        .find_map(|r| valid_request_status(status, r.request_status()))
        .or(valid_request_status(status, appointment.request_status))
}

/// Lays the store's pending requests over appointments read from the PAS (see
/// [`effective_request_status`]), and returns the pending requests that no longer fit their
/// appointment, to be resolved.
pub fn overlay(appointments: &mut [Appointment], pending: &[PatientRequest]) -> Vec<StaleRequest> {
    let mut stale = Vec::new();
    for a in appointments.iter_mut() {
        a.request_status = effective_request_status(a, pending);
        stale.extend(
            pending
                .iter()
                .filter(|r| r.appointment == a.id && r.patient == a.patient)
                .filter(|r| r.request_status().is_some())
                .filter_map(|r| {
                    stale_request(a.status, r.kind).map(|resolution| StaleRequest {
                        request: r.clone(),
                        resolution,
                    })
                }),
        );
    }
    stale
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::request_status::RequestKind;
    use crate::store::RequestState;
    use crate::{
        AppointmentId, AppointmentStatus, AppointmentType, ConsultationMedium, NhsNumber, OdsCode,
        Organisation, Specialty, TreatmentFunctionCode,
    };
    use chrono::{TimeZone, Utc};

    /// A booked outpatient test appointment (also used by `reporting`'s tests).
    pub(crate) fn appointment(id: &str, patient: &str, own: Option<RequestStatus>) -> Appointment {
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
            patient_instruction: None,
            cancelled_by: None,
            contact: None,
            identifiers: vec![],
            holding: false,
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

    #[test]
    fn invalid_pairs_are_resolved_not_overlaid() {
        use crate::AppointmentStatus as S;
        use RequestKind::{Cancel, Reschedule};
        use RequestStatus::PendingReschedule;
        const P: &str = "9000000009";
        // (PAS status, pending request, what shows, how the request ends)
        let cases = [
            (
                S::Booked,
                Cancel,
                Some(RequestStatus::PendingCancellation),
                None,
            ),
            (S::Booked, Reschedule, Some(PendingReschedule), None),
            (S::Cancelled, Reschedule, Some(PendingReschedule), None),
            (S::Cancelled, Cancel, None, Some(Resolution::Fulfilled)),
            (S::NoShow, Cancel, None, Some(Resolution::Rejected)),
            (S::NoShow, Reschedule, None, Some(Resolution::Rejected)),
            (S::Fulfilled, Cancel, None, Some(Resolution::Rejected)),
            (S::Fulfilled, Reschedule, None, Some(Resolution::Rejected)),
        ];
        for (status, kind, shows, ends) in cases {
            let mut a = appointment("a1", P, None);
            a.status = status;
            let mut list = vec![a];
            let pending = [request("a1", P, kind, RequestState::Pending)];
            let stale = overlay(&mut list, &pending);
            assert_eq!(list[0].request_status, shows, "{status:?} {kind:?}");
            assert_eq!(
                stale.first().map(|s| s.resolution),
                ends,
                "{status:?} {kind:?}"
            );
            assert!(crate::request_status::is_valid_pair(
                status,
                list[0].request_status
            ));
        }
        // The PAS's own invalid pair is dropped too (a no-show "Confirmed Attendance").
        let mut a = appointment("a1", P, Some(RequestStatus::ConfirmedAttendance));
        a.status = S::NoShow;
        let mut list = vec![a];
        assert!(overlay(&mut list, &[]).is_empty());
        assert_eq!(list[0].request_status, None);
    }
}
