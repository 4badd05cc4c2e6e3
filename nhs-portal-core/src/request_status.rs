//! The rules around request statuses: what the patient sees, what they may do, and how a pending
//! request resolves when the trust acts.
//!
//! A trust whose PAS works in real time cancels and rebooks at once. A trust that only takes
//! requests leaves the appointment's status unchanged and sets a [`RequestStatus`] until its staff
//! act; the PCA and the NHS App show that request status, and so does the portal.

use chrono::{DateTime, Utc};

use crate::{Appointment, AppointmentStatus, RequestStatus};

/// How a trust's PAS can cancel a given appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CancelMode {
    /// The PAS cancels at once.
    RealTime,
    /// The portal records a request that staff action later.
    Request,
    /// Patients cannot cancel this appointment online.
    NotOffered,
}

/// How a trust's PAS can reschedule a given appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RescheduleMode {
    /// The patient picks a free slot and the PAS rebooks at once.
    RealTime,
    /// The portal records a request (reason, preferred times) that staff action later.
    Request,
    /// Patients cannot reschedule this appointment online.
    NotOffered,
}

/// What a PAS can do for one appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// Cancelling.
    pub cancel: CancelMode,
    /// Rescheduling.
    pub reschedule: RescheduleMode,
}

impl Capabilities {
    /// A PAS that does both in real time.
    pub const REAL_TIME: Self = Self {
        cancel: CancelMode::RealTime,
        reschedule: RescheduleMode::RealTime,
    };
    /// A PAS that only takes requests.
    pub const REQUEST_ONLY: Self = Self {
        cancel: CancelMode::Request,
        reschedule: RescheduleMode::Request,
    };
    /// Nothing can be changed online.
    pub const VIEW_ONLY: Self = Self {
        cancel: CancelMode::NotOffered,
        reschedule: RescheduleMode::NotOffered,
    };
}

/// How a status looks on a tag (the web crate maps a tone to design-system colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Booked: the normal state.
    Neutral,
    /// Waiting on the trust.
    Pending,
    /// It happened, or the patient confirmed.
    Positive,
    /// Cancelled.
    Inactive,
    /// Missed.
    Warning,
}

/// What the patient sees as the appointment's status: the request status first, else the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisplayStatus {
    /// Booked, nothing pending.
    Booked,
    /// Took place.
    Attended,
    /// Cancelled.
    Cancelled,
    /// Not attended.
    DidNotAttend,
    /// A cancellation request waits for the trust.
    PendingCancellation,
    /// A reschedule request waits for the trust.
    PendingReschedule,
    /// A change request waits for the trust.
    PendingChange,
    /// The patient confirmed they will attend.
    ConfirmedAttendance,
}

impl DisplayStatus {
    /// The words on the tag.
    pub fn label(self) -> &'static str {
        match self {
            Self::Booked => "Booked",
            Self::Attended => "Attended",
            Self::Cancelled => "Cancelled",
            Self::DidNotAttend => "Did not attend",
            Self::PendingCancellation => "Pending Cancellation",
            Self::PendingReschedule => "Pending Reschedule",
            Self::PendingChange => "Pending Change",
            Self::ConfirmedAttendance => "Confirmed Attendance",
        }
    }

    /// The tag's tone.
    pub fn tone(self) -> Tone {
        match self {
            Self::Booked => Tone::Neutral,
            Self::Attended | Self::ConfirmedAttendance => Tone::Positive,
            Self::Cancelled => Tone::Inactive,
            Self::DidNotAttend => Tone::Warning,
            Self::PendingCancellation | Self::PendingReschedule | Self::PendingChange => {
                Tone::Pending
            }
        }
    }
}

/// The status a patient sees: a request status, if any, wins over the appointment status.
///
/// ```
/// use nhs_portal_core::{AppointmentStatus, RequestStatus, request_status::{display_status, DisplayStatus}};
/// assert_eq!(
///     display_status(AppointmentStatus::Booked, Some(RequestStatus::PendingCancellation)).label(),
///     "Pending Cancellation"
/// );
/// assert_eq!(display_status(AppointmentStatus::Booked, None), DisplayStatus::Booked);
/// ```
pub fn display_status(status: AppointmentStatus, request: Option<RequestStatus>) -> DisplayStatus {
    match request {
        Some(RequestStatus::PendingCancellation) => DisplayStatus::PendingCancellation,
        Some(RequestStatus::PendingReschedule) => DisplayStatus::PendingReschedule,
        Some(RequestStatus::PendingChange) => DisplayStatus::PendingChange,
        Some(RequestStatus::ConfirmedAttendance) => DisplayStatus::ConfirmedAttendance,
        None => match status {
            AppointmentStatus::Booked => DisplayStatus::Booked,
            AppointmentStatus::Fulfilled => DisplayStatus::Attended,
            AppointmentStatus::Cancelled => DisplayStatus::Cancelled,
            AppointmentStatus::NoShow => DisplayStatus::DidNotAttend,
        },
    }
}

/// Why an action is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The appointment is not booked (cancelled, attended or missed).
    #[error("this appointment is no longer booked")]
    NotBooked,
    /// It has already started or is in the past.
    #[error("this appointment is in the past")]
    InThePast,
    /// A request is already waiting for the trust.
    #[error("a request for this appointment is already with the hospital")]
    RequestPending,
    /// The trust does not offer this online.
    #[error("the hospital does not offer this online")]
    NotOffered,
}

/// What a patient may do with one appointment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedActions {
    /// Cancelling, and how; or why not.
    pub cancel: Result<CancelMode, Refusal>,
    /// Rescheduling, and how; or why not.
    pub reschedule: Result<RescheduleMode, Refusal>,
}

impl AllowedActions {
    /// Whether any action is offered.
    pub fn any(&self) -> bool {
        self.cancel.is_ok() || self.reschedule.is_ok()
    }
}

/// The actions a patient may take on an appointment at `now`, given what its PAS can do.
///
/// Rules, in order: only booked appointments change; only future ones; never a second request
/// while one is pending (a confirmed attendance is not a pending request); and only what the trust
/// offers. A [`CancelMode::NotOffered`] is reported as [`Refusal::NotOffered`], never as an `Ok`.
pub fn allowed_actions(
    appointment: &Appointment,
    capabilities: Capabilities,
    now: DateTime<Utc>,
) -> AllowedActions {
    let common = if appointment.status != AppointmentStatus::Booked {
        Err(Refusal::NotBooked)
    } else if !appointment.is_future(now) {
        Err(Refusal::InThePast)
    } else if appointment
        .request_status
        .is_some_and(RequestStatus::is_pending)
    {
        Err(Refusal::RequestPending)
    } else {
        Ok(())
    };
    let cancel = common.and(match capabilities.cancel {
        CancelMode::NotOffered => Err(Refusal::NotOffered),
        mode => Ok(mode),
    });
    let reschedule = common.and(match capabilities.reschedule {
        RescheduleMode::NotOffered => Err(Refusal::NotOffered),
        mode => Ok(mode),
    });
    AllowedActions { cancel, reschedule }
}

/// The kind of request a patient made of a request-only trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RequestKind {
    /// Asked to cancel.
    Cancel,
    /// Asked to reschedule.
    Reschedule,
}

impl RequestKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Cancel, Self::Reschedule];

    /// The kind's stable text (`cancel`, `reschedule`): what stores, forms and URLs carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::Reschedule => "reschedule",
        }
    }

    /// The kind for its text from [`RequestKind::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The request status that shows while the request is pending.
    pub fn pending_status(self) -> RequestStatus {
        match self {
            Self::Cancel => RequestStatus::PendingCancellation,
            Self::Reschedule => RequestStatus::PendingReschedule,
        }
    }
}

/// What the trust did with a pending request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestOutcome {
    /// The trust cancelled the appointment.
    Cancelled,
    /// The trust moved the appointment. With `replaced_by`, the PAS booked a new appointment and
    /// cancelled this one; without it, this appointment was moved in place to `new_start`.
    Rescheduled {
        /// The new appointment, when the PAS made a new one.
        replaced_by: Option<crate::AppointmentId>,
        /// The new start, when moved in place.
        new_start: Option<DateTime<Utc>>,
    },
    /// The trust declined the request; the appointment stays as it was.
    Rejected,
}

/// Why an outcome cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomeError {
    /// No request is pending on this appointment.
    #[error("no request is pending on this appointment")]
    NothingPending,
    /// The outcome does not answer the pending request (a reschedule outcome for a cancellation).
    #[error("the outcome does not match the pending request")]
    Mismatch,
}

/// The appointment's status and start after the trust's outcome is applied to a pending request.
///
/// The request status always clears. A cancellation sets `cancelled`; a reschedule either cancels
/// this appointment (a new one replaced it) or keeps it booked at its new time; a rejection leaves
/// the status (booked) as it was.
pub fn apply_outcome(
    appointment: &Appointment,
    outcome: &RequestOutcome,
) -> Result<Appointment, OutcomeError> {
    let pending = appointment
        .request_status
        .filter(|r| r.is_pending())
        .ok_or(OutcomeError::NothingPending)?;
    let mut next = appointment.clone();
    next.request_status = None;
    match (pending, outcome) {
        (_, RequestOutcome::Rejected) => {}
        (
            RequestStatus::PendingCancellation | RequestStatus::PendingChange,
            RequestOutcome::Cancelled,
        ) => {
            next.status = AppointmentStatus::Cancelled;
        }
        (
            RequestStatus::PendingReschedule | RequestStatus::PendingChange,
            RequestOutcome::Rescheduled {
                replaced_by,
                new_start,
            },
        ) => match (replaced_by, new_start) {
            (Some(_), _) => next.status = AppointmentStatus::Cancelled,
            (None, Some(start)) => {
                if let Some(end) = next.end {
                    next.end = Some(end + (*start - next.start));
                }
                next.start = *start;
            }
            (None, None) => return Err(OutcomeError::Mismatch),
        },
        _ => return Err(OutcomeError::Mismatch),
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
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

    /// What a patient may do, written out by hand for every appointment state: one row per
    /// (status, request, start) group, one cell per kind of trust. Cells are `cancel/reschedule`:
    /// `rt` real time, `rq` request, `no` not offered, `nb` not booked, `past` in the past,
    /// `pend` a request is pending. `*` matches anything; every combination must match exactly
    /// one row. (Kept independent of `allowed_actions`' own order of checks on purpose.)
    const ALLOWED_ACTIONS: &str = "
        # status    request          start   real-time  request-only  view-only  mixed
        booked      none             future  rt/rt      rq/rq         no/no      rt/no
        booked      confirmed        future  rt/rt      rq/rq         no/no      rt/no
        booked      pending-cancel   future  pend/pend  pend/pend     pend/pend  pend/pend
        booked      pending-resched  future  pend/pend  pend/pend     pend/pend  pend/pend
        booked      pending-change   future  pend/pend  pend/pend     pend/pend  pend/pend
        booked      *                now     past/past  past/past     past/past  past/past
        booked      *                past    past/past  past/past     past/past  past/past
        fulfilled   *                *       nb/nb      nb/nb         nb/nb      nb/nb
        cancelled   *                *       nb/nb      nb/nb         nb/nb      nb/nb
        noshow      *                *       nb/nb      nb/nb         nb/nb      nb/nb
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

    fn expected_refusal(cell: &str) -> Refusal {
        match cell {
            "no" => Refusal::NotOffered,
            "nb" => Refusal::NotBooked,
            "past" => Refusal::InThePast,
            "pend" => Refusal::RequestPending,
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
            },
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
                        let (cancel, reschedule) = cell.split_once('/').expect("c/r cell");
                        let got = allowed_actions(&appt(status, request, start), caps, now());
                        let want_cancel = expected_cancel(cancel);
                        let want_reschedule = expected_reschedule(reschedule);
                        assert_eq!(got.cancel, want_cancel, "{ctx} {caps:?}: cancel");
                        assert_eq!(got.reschedule, want_reschedule, "{ctx} {caps:?}");
                        assert_eq!(
                            got.any(),
                            want_cancel.is_ok() || want_reschedule.is_ok(),
                            "{ctx} {caps:?}: any"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 5 * 3 * 4);
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
}
