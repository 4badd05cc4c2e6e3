//! The rules around request statuses: what the patient sees, what they may do, and how a pending
//! request resolves when the trust acts.
//! (Over 400 lines: the statuses, the valid pairs, the allowed actions and the outcome rules are
//! read together; their table tests are in `request_status/tests.rs`.)
//!
//! A trust whose PAS works in real time cancels and rebooks at once. A trust that only takes
//! requests leaves the appointment's status unchanged and sets a [`RequestStatus`] until its staff
//! act; the PCA and the NHS App show that request status, and so does the portal.

use chrono::{DateTime, Utc};

use crate::holding::HoldingDisplay;
use crate::slot_choice::SlotFilters;
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
    /// Whether the patient may confirm online that they will attend (a trust opts in; the
    /// consts below leave it off).
    pub confirm_attendance: bool,
    /// The filters a patient may narrow a real-time reschedule's free slots by (a trust opts
    /// in; the consts below offer none).
    #[serde(default)]
    pub slot_filters: SlotFilters,
    /// What the trust does with its holding (waiting-list placeholder) records on the patient
    /// pages ([`crate::holding`]; the consts below hide them).
    pub holding: HoldingDisplay,
}

impl Capabilities {
    /// A PAS that does both in real time.
    pub const REAL_TIME: Self = Self {
        cancel: CancelMode::RealTime,
        reschedule: RescheduleMode::RealTime,
        confirm_attendance: false,
        slot_filters: SlotFilters::NONE,
        holding: HoldingDisplay::Hidden,
    };
    /// A PAS that only takes requests.
    pub const REQUEST_ONLY: Self = Self {
        cancel: CancelMode::Request,
        reschedule: RescheduleMode::Request,
        confirm_attendance: false,
        slot_filters: SlotFilters::NONE,
        holding: HoldingDisplay::Hidden,
    };
    /// Nothing can be changed online.
    pub const VIEW_ONLY: Self = Self {
        cancel: CancelMode::NotOffered,
        reschedule: RescheduleMode::NotOffered,
        confirm_attendance: false,
        slot_filters: SlotFilters::NONE,
        holding: HoldingDisplay::Hidden,
    };

    /// These capabilities with the trust's holding records shown as `holding` says.
    pub const fn with_holding(self, holding: HoldingDisplay) -> Self {
        Self { holding, ..self }
    }

    /// These capabilities with confirming attendance offered as well.
    pub const fn with_confirm_attendance(self) -> Self {
        Self {
            confirm_attendance: true,
            ..self
        }
    }

    /// These capabilities with `filters` offered on the free slots.
    pub const fn with_slot_filters(self, filters: SlotFilters) -> Self {
        Self {
            slot_filters: filters,
            ..self
        }
    }
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

/// The status × request-status pairs that may be shown and sent: those the PCA consumer spec's
/// combined status codes express (`booked`, `fulfilled`, `cancelled`, `noshow`,
/// `bookedPendingCancellation`, `bookedPendingReschedule`, `bookedPendingChange`,
/// `cancelledPendingReschedule`), plus a confirmed attendance on a booked appointment (a
/// request status the provider spec lists and the consumer shows as `booked`).
///
/// So a request on a finished (attended or missed) appointment is never shown, and neither is a
/// pending cancellation or change on one the hospital already cancelled: the hospital's status
/// stands and the request is resolved ([`stale_request`]).
pub const VALID_PAIRS: [(AppointmentStatus, Option<RequestStatus>); 9] = [
    (AppointmentStatus::Booked, None),
    (
        AppointmentStatus::Booked,
        Some(RequestStatus::PendingCancellation),
    ),
    (
        AppointmentStatus::Booked,
        Some(RequestStatus::PendingReschedule),
    ),
    (
        AppointmentStatus::Booked,
        Some(RequestStatus::PendingChange),
    ),
    (
        AppointmentStatus::Booked,
        Some(RequestStatus::ConfirmedAttendance),
    ),
    (AppointmentStatus::Fulfilled, None),
    (AppointmentStatus::Cancelled, None),
    (
        AppointmentStatus::Cancelled,
        Some(RequestStatus::PendingReschedule),
    ),
    (AppointmentStatus::NoShow, None),
];

/// Whether `status` with `request` is one of the [`VALID_PAIRS`].
pub fn is_valid_pair(status: AppointmentStatus, request: Option<RequestStatus>) -> bool {
    VALID_PAIRS.contains(&(status, request))
}

/// The request status to show and send with `status`: `request` when the pair is valid, else
/// none (the appointment status stands).
pub fn valid_request_status(
    status: AppointmentStatus,
    request: Option<RequestStatus>,
) -> Option<RequestStatus> {
    request.filter(|r| is_valid_pair(status, Some(*r)))
}

/// How a patient's pending request of `kind` ends when the PAS shows its appointment as
/// `status` and the pair is not valid: `Fulfilled` when the hospital cancelled an appointment
/// the patient asked to cancel (what they asked for happened), `Rejected` when the appointment
/// is over (attended or missed: nothing can be changed any more). `None`: the request still
/// stands (a booked appointment, or a reschedule request on a cancelled one).
pub fn stale_request(
    status: AppointmentStatus,
    kind: RequestKind,
) -> Option<crate::store::Resolution> {
    use crate::store::Resolution;
    if is_valid_pair(status, Some(kind.pending_status())) {
        return None;
    }
    Some(match (status, kind) {
        (AppointmentStatus::Cancelled, RequestKind::Cancel) => Resolution::Fulfilled,
        _ => Resolution::Rejected,
    })
}

/// The status a patient sees: a request status, if any and if the pair is valid
/// ([`VALID_PAIRS`]), wins over the appointment status.
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
    match valid_request_status(status, request) {
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
    /// The patient has already confirmed they will attend.
    #[error("you have already confirmed you will attend")]
    AlreadyConfirmed,
    /// A holding record: the patient is on the waiting list, with no appointment to change yet
    /// ([`crate::holding`]).
    #[error("you are on the waiting list: there is no appointment to change yet")]
    OnWaitingList,
}

/// What a patient may do with one appointment now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedActions {
    /// Cancelling, and how; or why not.
    pub cancel: Result<CancelMode, Refusal>,
    /// Rescheduling, and how; or why not.
    pub reschedule: Result<RescheduleMode, Refusal>,
    /// Confirming attendance; or why not.
    pub confirm: Result<(), Refusal>,
}

impl AllowedActions {
    /// Whether any action is offered.
    pub fn any(&self) -> bool {
        self.cancel.is_ok() || self.reschedule.is_ok() || self.confirm.is_ok()
    }
}

/// The actions a patient may take on an appointment at `now`, given what its PAS can do.
///
/// Rules, in order: nothing changes on a holding record ([`Refusal::OnWaitingList`]); only
/// booked appointments change; only future ones; never a second request
/// while one is pending (a confirmed attendance is not a pending request); and only what the trust
/// offers. A [`CancelMode::NotOffered`] is reported as [`Refusal::NotOffered`], never as an `Ok`.
/// Confirming attendance follows the same rules, and then once only: an appointment whose request
/// status is already [`RequestStatus::ConfirmedAttendance`] answers [`Refusal::AlreadyConfirmed`].
pub fn allowed_actions(
    appointment: &Appointment,
    capabilities: Capabilities,
    now: DateTime<Utc>,
) -> AllowedActions {
    let common = if appointment.holding {
        Err(Refusal::OnWaitingList)
    } else if appointment.status != AppointmentStatus::Booked {
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
    let confirm = common.and(if !capabilities.confirm_attendance {
        Err(Refusal::NotOffered)
    } else if appointment.request_status == Some(RequestStatus::ConfirmedAttendance) {
        Err(Refusal::AlreadyConfirmed)
    } else {
        Ok(())
    });
    AllowedActions {
        cancel,
        reschedule,
        confirm,
    }
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
            next.cancelled_by = Some(crate::reporting::ChangeReason::Patient);
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
mod tests;
