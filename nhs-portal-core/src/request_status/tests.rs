use super::*;
use crate::{
    AppointmentId, AppointmentType, ConsultationMedium, NhsNumber, OdsCode, Organisation,
    Specialty, TreatmentFunctionCode,
};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 9, 0, 0).unwrap()
}

fn appt(
    status: AppointmentStatus,
    request: Option<RequestStatus>,
    start: DateTime<Utc>,
) -> Appointment {
    Appointment {
        id: AppointmentId::parse("a1").unwrap(),
        patient: NhsNumber::parse("9000000009").unwrap(),
        status,
        request_status: request,
        description: "Dermatology appointment".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start,
        end: Some(start + Duration::minutes(30)),
        medium: ConsultationMedium::FaceToFace,
        priority: None,
        location: None,
        clinician: None,
        organisation: Organisation {
            ods_code: OdsCode::parse("RX1").unwrap(),
            name: "Trust".into(),
        },
        appointment_type: AppointmentType::Outpatient,
        identifiers: vec![],
    }
}

#[test]
fn display_status_every_combination() {
    use AppointmentStatus as S;
    use DisplayStatus as D;
    use RequestStatus as R;
    // (status, request status) -> label: the request status always wins.
    let table: &[(S, Option<R>, D, &str)] = &[
        (S::Booked, None, D::Booked, "Booked"),
        (S::Fulfilled, None, D::Attended, "Attended"),
        (S::Cancelled, None, D::Cancelled, "Cancelled"),
        (S::NoShow, None, D::DidNotAttend, "Did not attend"),
    ];
    for (s, r, want, label) in table {
        assert_eq!(display_status(*s, *r), *want);
        assert_eq!(want.label(), *label);
    }
    for s in S::ALL {
        for (r, want, label) in [
            (
                R::PendingCancellation,
                D::PendingCancellation,
                "Pending Cancellation",
            ),
            (
                R::PendingReschedule,
                D::PendingReschedule,
                "Pending Reschedule",
            ),
            (R::PendingChange, D::PendingChange, "Pending Change"),
            (
                R::ConfirmedAttendance,
                D::ConfirmedAttendance,
                "Confirmed Attendance",
            ),
        ] {
            let got = display_status(s, Some(r));
            assert_eq!(got, want, "{s:?} + {r:?}");
            assert_eq!(got.label(), label);
            assert_eq!(got.label(), r.fhir_code(), "label matches the PCA code");
        }
    }
    assert_eq!(D::PendingCancellation.tone(), Tone::Pending);
    assert_eq!(D::Cancelled.tone(), Tone::Inactive);
}

#[test]
fn allowed_actions_every_state() {
    use AppointmentStatus as S;
    use CancelMode as C;
    use RequestStatus as R;
    use RescheduleMode as M;
    let future = now() + Duration::days(3);
    let past = now() - Duration::days(3);
    let caps = [
        Capabilities::REAL_TIME,
        Capabilities::REQUEST_ONLY,
        Capabilities::VIEW_ONLY,
    ];
    let requests = [
        None,
        Some(R::PendingCancellation),
        Some(R::PendingReschedule),
        Some(R::PendingChange),
        Some(R::ConfirmedAttendance),
    ];
    for status in S::ALL {
        for request in requests {
            for start in [future, past, now()] {
                for cap in caps {
                    let a = appt(status, request, start);
                    let got = allowed_actions(&a, cap, now());
                    let expected_refusal = if status != S::Booked {
                        Some(Refusal::NotBooked)
                    } else if start <= now() {
                        Some(Refusal::InThePast)
                    } else if request.is_some_and(|r| r != R::ConfirmedAttendance) {
                        Some(Refusal::RequestPending)
                    } else {
                        None
                    };
                    let want_cancel = match (expected_refusal, cap.cancel) {
                        (Some(r), _) => Err(r),
                        (None, C::NotOffered) => Err(Refusal::NotOffered),
                        (None, m) => Ok(m),
                    };
                    let want_resched = match (expected_refusal, cap.reschedule) {
                        (Some(r), _) => Err(r),
                        (None, M::NotOffered) => Err(Refusal::NotOffered),
                        (None, m) => Ok(m),
                    };
                    let ctx = format!("{status:?} {request:?} {start} {cap:?}");
                    assert_eq!(got.cancel, want_cancel, "{ctx}");
                    assert_eq!(got.reschedule, want_resched, "{ctx}");
                    assert_eq!(got.any(), want_cancel.is_ok() || want_resched.is_ok());
                }
            }
        }
    }
    // Spot checks that read as rules.
    let booked = appt(S::Booked, None, future);
    assert_eq!(
        allowed_actions(&booked, Capabilities::REQUEST_ONLY, now()).cancel,
        Ok(C::Request)
    );
    let cancelled = appt(S::Cancelled, None, future);
    assert_eq!(
        allowed_actions(&cancelled, Capabilities::REAL_TIME, now()).cancel,
        Err(Refusal::NotBooked)
    );
}

#[test]
fn outcomes_resolve_pending_requests() {
    use AppointmentStatus as S;
    use RequestStatus as R;
    let start = now() + Duration::days(3);
    let new_start = now() + Duration::days(10);
    let replacement = AppointmentId::parse("b2").unwrap();
    type Case = (
        Option<R>,
        RequestOutcome,
        Result<(S, DateTime<Utc>), OutcomeError>,
    );
    let cases: Vec<Case> = vec![
        (
            Some(R::PendingCancellation),
            RequestOutcome::Cancelled,
            Ok((S::Cancelled, start)),
        ),
        (
            Some(R::PendingCancellation),
            RequestOutcome::Rejected,
            Ok((S::Booked, start)),
        ),
        (
            Some(R::PendingCancellation),
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(new_start),
            },
            Err(OutcomeError::Mismatch),
        ),
        (
            Some(R::PendingReschedule),
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(new_start),
            },
            Ok((S::Booked, new_start)),
        ),
        (
            Some(R::PendingReschedule),
            RequestOutcome::Rescheduled {
                replaced_by: Some(replacement.clone()),
                new_start: None,
            },
            Ok((S::Cancelled, start)),
        ),
        (
            Some(R::PendingReschedule),
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: None,
            },
            Err(OutcomeError::Mismatch),
        ),
        (
            Some(R::PendingReschedule),
            RequestOutcome::Cancelled,
            Err(OutcomeError::Mismatch),
        ),
        (
            Some(R::PendingReschedule),
            RequestOutcome::Rejected,
            Ok((S::Booked, start)),
        ),
        (
            Some(R::PendingChange),
            RequestOutcome::Cancelled,
            Ok((S::Cancelled, start)),
        ),
        (
            None,
            RequestOutcome::Cancelled,
            Err(OutcomeError::NothingPending),
        ),
        (
            Some(R::ConfirmedAttendance),
            RequestOutcome::Rejected,
            Err(OutcomeError::NothingPending),
        ),
    ];
    for (request, outcome, want) in cases {
        let a = appt(S::Booked, request, start);
        let got = apply_outcome(&a, &outcome);
        let ctx = format!("{request:?} {outcome:?}");
        match want {
            Ok((status, start)) => {
                let next = got.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(next.status, status, "{ctx}");
                assert_eq!(next.start, start, "{ctx}");
                assert_eq!(next.request_status, None, "{ctx}: request status clears");
                assert_eq!(
                    next.end.unwrap() - next.start,
                    Duration::minutes(30),
                    "{ctx}"
                );
            }
            Err(e) => assert_eq!(got.err(), Some(e), "{ctx}"),
        }
    }
}

#[test]
fn request_kinds_have_one_text_each() {
    for k in RequestKind::ALL {
        assert_eq!(RequestKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(RequestKind::Cancel.as_str(), "cancel");
    assert_eq!(RequestKind::Reschedule.as_str(), "reschedule");
    assert_eq!(RequestKind::parse("Cancel"), None);
    assert_eq!(RequestKind::parse(""), None);
}

#[test]
fn request_kinds_map_to_pending_statuses() {
    assert_eq!(
        RequestKind::Cancel.pending_status(),
        RequestStatus::PendingCancellation
    );
    assert_eq!(
        RequestKind::Reschedule.pending_status(),
        RequestStatus::PendingReschedule
    );
}
