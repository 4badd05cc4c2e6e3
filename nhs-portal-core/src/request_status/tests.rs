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
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![],
        holding: false,
    }
}

#[test]
fn display_status_every_combination() {
    use AppointmentStatus as S;
    use DisplayStatus as D;
    use RequestStatus as R;
    // (status, no request status) -> label.
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
    // A request status shows only where the pair is valid (VALID_PAIRS: the PCA consumer
    // spec's combined codes, and a confirmed attendance on a booked appointment); elsewhere
    // the appointment's own status stands.
    let pairs: &[(R, D, &str, &[S])] = &[
        (
            R::PendingCancellation,
            D::PendingCancellation,
            "Pending Cancellation",
            &[S::Booked],
        ),
        (
            R::PendingReschedule,
            D::PendingReschedule,
            "Pending Reschedule",
            &[S::Booked, S::Cancelled],
        ),
        (
            R::PendingChange,
            D::PendingChange,
            "Pending Change",
            &[S::Booked],
        ),
        (
            R::ConfirmedAttendance,
            D::ConfirmedAttendance,
            "Confirmed Attendance",
            &[S::Booked],
        ),
    ];
    for s in S::ALL {
        for (r, want, label, valid_with) in pairs {
            let got = display_status(s, Some(*r));
            if valid_with.contains(&s) {
                assert!(is_valid_pair(s, Some(*r)), "{s:?} + {r:?}");
                assert_eq!(got, *want, "{s:?} + {r:?}");
                assert_eq!(got.label(), *label);
                assert_eq!(got.label(), r.fhir_code(), "label matches the PCA code");
            } else {
                assert!(!is_valid_pair(s, Some(*r)), "{s:?} + {r:?}");
                assert_eq!(
                    got,
                    display_status(s, None),
                    "{s:?} + {r:?}: the status stands"
                );
            }
        }
    }
    // The two cases: a no-show with a request shows "Did not attend", and an
    // appointment the hospital cancelled with a pending cancellation shows "Cancelled".
    assert_eq!(
        display_status(S::NoShow, Some(R::ConfirmedAttendance)),
        D::DidNotAttend
    );
    assert_eq!(
        display_status(S::Cancelled, Some(R::PendingCancellation)),
        D::Cancelled
    );
    assert_eq!(VALID_PAIRS.len(), 9);
    assert_eq!(D::PendingCancellation.tone(), Tone::Pending);
    assert_eq!(D::Cancelled.tone(), Tone::Inactive);
}

/// What a patient may do, written out by hand for every appointment state: one row per
/// (status, request, start) group, one cell per kind of trust. Cells are
/// `cancel/reschedule/confirm`: `rt` real time, `rq` request, `ok` offered, `no` not offered,
/// `nb` not booked, `past` in the past, `pend` a request is pending, `done` already confirmed. `*` matches anything; every combination must match exactly
/// one row. (Kept independent of `allowed_actions`' own order of checks on purpose.)
const ALLOWED_ACTIONS: &str = "
    # status    request          start   real-time       request-only    view-only       mixed           rt+confirm
    booked      none             future  rt/rt/no        rq/rq/no        no/no/no        rt/no/no        rt/rt/ok
    booked      confirmed        future  rt/rt/no        rq/rq/no        no/no/no        rt/no/no        rt/rt/done
    booked      pending-cancel   future  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend
    booked      pending-resched  future  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend
    booked      pending-change   future  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend  pend/pend/pend
    booked      *                now     past/past/past  past/past/past  past/past/past  past/past/past  past/past/past
    booked      *                past    past/past/past  past/past/past  past/past/past  past/past/past  past/past/past
    fulfilled   *                *       nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb
    cancelled   *                *       nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb
    noshow      *                *       nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb        nb/nb/nb
";

fn expected_cancel(cell: &str) -> Result<CancelMode, Refusal> {
    match cell {
        "rt" => Ok(CancelMode::RealTime),
        "rq" => Ok(CancelMode::Request),
        other => Err(expected_refusal(other)),
    }
}

fn expected_reschedule(cell: &str) -> Result<RescheduleMode, Refusal> {
    match cell {
        "rt" => Ok(RescheduleMode::RealTime),
        "rq" => Ok(RescheduleMode::Request),
        other => Err(expected_refusal(other)),
    }
}

fn expected_confirm(cell: &str) -> Result<(), Refusal> {
    match cell {
        "ok" => Ok(()),
        other => Err(expected_refusal(other)),
    }
}

fn expected_refusal(cell: &str) -> Refusal {
    match cell {
        "no" => Refusal::NotOffered,
        "nb" => Refusal::NotBooked,
        "past" => Refusal::InThePast,
        "pend" => Refusal::RequestPending,
        "done" => Refusal::AlreadyConfirmed,
        other => panic!("unknown cell {other:?}"),
    }
}

#[test]
fn allowed_actions_every_state() {
    use AppointmentStatus as S;
    use RequestStatus as R;
    let statuses = [
        ("booked", S::Booked),
        ("fulfilled", S::Fulfilled),
        ("cancelled", S::Cancelled),
        ("noshow", S::NoShow),
    ];
    assert_eq!(statuses.len(), S::ALL.len(), "every status is in the table");
    let requests = [
        ("none", None),
        ("pending-cancel", Some(R::PendingCancellation)),
        ("pending-resched", Some(R::PendingReschedule)),
        ("pending-change", Some(R::PendingChange)),
        ("confirmed", Some(R::ConfirmedAttendance)),
    ];
    let starts = [
        ("future", now() + Duration::days(3)),
        ("now", now()),
        ("past", now() - Duration::days(3)),
    ];
    let kinds = [
        Capabilities::REAL_TIME,
        Capabilities::REQUEST_ONLY,
        Capabilities::VIEW_ONLY,
        Capabilities {
            cancel: CancelMode::RealTime,
            reschedule: RescheduleMode::NotOffered,
            ..Capabilities::VIEW_ONLY
        },
        Capabilities::REAL_TIME.with_confirm_attendance(),
    ];
    let rows: Vec<Vec<&str>> = ALLOWED_ACTIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let fits = |pattern: &str, name: &str| pattern == "*" || pattern == name;
    let mut checked = 0;
    for (status_name, status) in statuses {
        for (request_name, request) in requests {
            for (start_name, start) in starts {
                let matching: Vec<&Vec<&str>> = rows
                    .iter()
                    .filter(|r| {
                        fits(r[0], status_name)
                            && fits(r[1], request_name)
                            && fits(r[2], start_name)
                    })
                    .collect();
                let ctx = format!("{status_name} {request_name} {start_name}");
                assert_eq!(matching.len(), 1, "{ctx}: rows matching");
                let row = matching[0];
                assert_eq!(row.len(), 3 + kinds.len(), "{ctx}: cells");
                for (cell, caps) in row[3..].iter().zip(kinds) {
                    let mut parts = cell.split('/');
                    let (cancel, reschedule, confirm) = (
                        parts.next().expect("cancel cell"),
                        parts.next().expect("reschedule cell"),
                        parts.next().expect("confirm cell"),
                    );
                    let got = allowed_actions(&appt(status, request, start), caps, now());
                    let want_cancel = expected_cancel(cancel);
                    let want_reschedule = expected_reschedule(reschedule);
                    assert_eq!(got.cancel, want_cancel, "{ctx} {caps:?}: cancel");
                    assert_eq!(got.reschedule, want_reschedule, "{ctx} {caps:?}");
                    let want_confirm = expected_confirm(confirm);
                    assert_eq!(got.confirm, want_confirm, "{ctx} {caps:?}: confirm");
                    assert_eq!(
                        got.any(),
                        want_cancel.is_ok() || want_reschedule.is_ok() || want_confirm.is_ok(),
                        "{ctx} {caps:?}: any"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 5 * 3 * 5);
    // Spot checks that read as rules.
    let booked = appt(S::Booked, None, now() + Duration::days(3));
    assert_eq!(
        allowed_actions(&booked, Capabilities::REQUEST_ONLY, now()).cancel,
        Ok(CancelMode::Request)
    );
    let cancelled = appt(S::Cancelled, None, now() + Duration::days(3));
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

#[test]
fn stale_requests_resolve_by_how_the_appointment_ended() {
    use crate::store::Resolution;
    use AppointmentStatus as S;
    use RequestKind::{Cancel, Reschedule};
    let table = [
        (S::Booked, Cancel, None),
        (S::Booked, Reschedule, None),
        (S::Cancelled, Cancel, Some(Resolution::Fulfilled)),
        (S::Cancelled, Reschedule, None),
        (S::Fulfilled, Cancel, Some(Resolution::Rejected)),
        (S::Fulfilled, Reschedule, Some(Resolution::Rejected)),
        (S::NoShow, Cancel, Some(Resolution::Rejected)),
        (S::NoShow, Reschedule, Some(Resolution::Rejected)),
    ];
    for (status, kind, want) in table {
        assert_eq!(stale_request(status, kind), want, "{status:?} {kind:?}");
    }
}

#[test]
fn nothing_can_be_done_with_a_holding_record_whatever_the_trust_offers() {
    use crate::holding::HoldingDisplay;
    let every_caps = [
        Capabilities::REAL_TIME.with_confirm_attendance(),
        Capabilities::REQUEST_ONLY,
        Capabilities::VIEW_ONLY,
    ];
    for status in AppointmentStatus::ALL {
        for request in [None, Some(RequestStatus::PendingCancellation)] {
            for start in [now() + Duration::days(30), now() - Duration::days(3)] {
                for caps in every_caps {
                    for display in HoldingDisplay::ALL {
                        let mut a = appt(status, request, start);
                        a.holding = true;
                        let got = allowed_actions(&a, caps.with_holding(display), now());
                        let ctx = format!("{status:?} {request:?} {start} {caps:?}");
                        assert_eq!(got.cancel, Err(Refusal::OnWaitingList), "{ctx}");
                        assert_eq!(got.reschedule, Err(Refusal::OnWaitingList), "{ctx}");
                        assert_eq!(got.confirm, Err(Refusal::OnWaitingList), "{ctx}");
                        assert!(!got.any(), "{ctx}");
                    }
                }
            }
        }
    }
}
