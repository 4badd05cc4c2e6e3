//! The words of the change journey, one row per kind of change: the journey's code is the same
//! for cancelling and rescheduling, only this table differs.

use nhs_portal_core::request_status::RequestKind;

use crate::journeys::{CANCEL_REASONS, RESCHEDULE_REASONS, Reason};

/// The check page of one mode.
#[derive(Debug)]
pub(super) struct CheckWords {
    pub(super) title: &'static str,
    pub(super) button: &'static str,
    pub(super) warning: Option<&'static str>,
    /// The button is red (the change happens straight away and cannot be undone here).
    pub(super) warning_button: bool,
}

/// A confirmation page. In `next`, `{expected}` stands for the trust's expected response time
/// and `{contact}` for how to reach it (see `portal::guide`).
#[derive(Debug)]
pub(super) struct DoneWords {
    pub(super) title: &'static str,
    pub(super) next: &'static [&'static str],
}

/// The words of one kind of change.
#[derive(Debug)]
pub(super) struct Wording {
    pub(super) kind: RequestKind,
    /// The path step (`cancel`, `reschedule`).
    pub(super) step: &'static str,
    /// The draft cookie's kind.
    pub(super) draft_kind: &'static str,
    pub(super) reasons: &'static [Reason],
    pub(super) form_title: &'static str,
    pub(super) form_hint: &'static str,
    pub(super) details_label: &'static str,
    pub(super) details_hint: Option<&'static str>,
    /// The "Your answers" key of the free text.
    pub(super) details_key: &'static str,
    /// The form offers the other change instead (label), when that one is allowed.
    pub(super) switch_label: Option<&'static str>,
    /// Check page when a request goes to the booking team.
    pub(super) check_request: CheckWords,
    /// Check page of a real-time change made from reasons (cancel); real-time reschedule picks
    /// a slot instead (see `slots`).
    pub(super) check_real_time: CheckWords,
    /// Confirmation once the request is stored.
    pub(super) done_requested: DoneWords,
    /// Confirmation once the PAS has made the change.
    pub(super) done_real_time: DoneWords,
}

pub(super) const CANCEL: Wording = Wording {
    kind: RequestKind::Cancel,
    step: "cancel",
    draft_kind: "cancel",
    reasons: &CANCEL_REASONS,
    form_title: "Why do you need to cancel this appointment?",
    form_hint: "Select one option. This helps the hospital understand what you need.",
    details_label: "Tell us why you need to cancel (needed if you chose Other)",
    details_hint: None,
    details_key: "Details",
    switch_label: Some("If you cannot make this date or time, change the appointment instead"),
    check_request: CheckWords {
        title: "Check your request to cancel",
        button: "Submit request to cancel",
        warning: Some(
            "The hospital's booking team will cancel your appointment. If you still need care, you may need to be referred again.",
        ),
        warning_button: false,
    },
    check_real_time: CheckWords {
        title: "Check before you cancel",
        button: "Cancel appointment",
        warning: Some(
            "Your appointment will be cancelled straight away. If you still need care, you may need to be referred again.",
        ),
        warning_button: true,
    },
    done_requested: DoneWords {
        title: "Your request to cancel has been submitted",
        next: &[
            "The hospital's booking team will review your request, usually {expected}.",
            "Until they do, your appointment is still booked and shows as Pending Cancellation.",
            "If they cannot cancel it, or need to talk to you, they will contact you.",
        ],
    },
    done_real_time: DoneWords {
        title: "Your appointment has been cancelled",
        next: &[
            "You do not need to do anything else. The hospital has been told.",
            "If you need this appointment again, {contact}.",
        ],
    },
};

pub(super) const RESCHEDULE: Wording = Wording {
    kind: RequestKind::Reschedule,
    step: "reschedule",
    draft_kind: "reschedule",
    reasons: &RESCHEDULE_REASONS,
    form_title: "Why do you need to change this appointment?",
    form_hint: "Select one option. The booking team will contact you to agree a new date and time.",
    details_label: "When can you come? (optional)",
    details_hint: Some("For example, weekday mornings, or any day after 14 March."),
    details_key: "When you can come",
    switch_label: None,
    check_request: CheckWords {
        title: "Check your request to change this appointment",
        button: "Submit request to change",
        warning: None,
        warning_button: false,
    },
    check_real_time: CheckWords {
        title: "Check your new appointment",
        button: "Confirm new date and time",
        warning: Some("Your current appointment will be cancelled and this new time booked."),
        warning_button: false,
    },
    done_requested: DoneWords {
        title: "Your request to change this appointment has been submitted",
        next: &[
            "The hospital's booking team will contact you to agree a new date and time, usually {expected}.",
            "Until then, keep your current appointment. It shows as Pending Reschedule.",
        ],
    },
    done_real_time: DoneWords {
        title: "Your appointment has been changed",
        next: &[
            "You do not need to do anything else. Your old appointment time has been cancelled.",
            "The hospital may send you a new appointment letter.",
        ],
    },
};

/// The row of `kind`.
pub(super) fn wording(kind: RequestKind) -> &'static Wording {
    match kind {
        RequestKind::Cancel => &CANCEL,
        RequestKind::Reschedule => &RESCHEDULE,
    }
}

/// The other kind (the form's "change it instead" link).
pub(super) fn other(kind: RequestKind) -> RequestKind {
    match kind {
        RequestKind::Cancel => RequestKind::Reschedule,
        RequestKind::Reschedule => RequestKind::Cancel,
    }
}
