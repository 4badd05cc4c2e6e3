//! The reasons a patient can give for cancelling or asking to reschedule, and the check of
//! their answers: one list each, used by the patient pages, the journeys service, the staff
//! worklist and the stored requests (the stable `code`s are what the PAS and the store see).

use crate::request_status::RequestKind;

/// Longest free text accepted (an "Other" reason or preferred times).
pub const MAX_DETAILS_CHARS: usize = 500;

/// One invalid answer: which field, and the message to show next to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The form field's name (also the id the error summary links to).
    pub field: &'static str,
    /// The message, such as "Select why you need to cancel".
    pub message: &'static str,
}

/// A reason a patient can give, with its stable code and its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// The stable code sent to the PAS and stored.
    pub code: &'static str,
    /// The words on the radio button.
    pub label: &'static str,
}

/// The reasons offered for cancelling (the last one, `other`, needs the patient's own words).
pub const CANCEL_REASONS: [Reason; 5] = [
    Reason {
        code: "no-longer-needed",
        label: "I do not need this appointment anymore",
    },
    Reason {
        code: "private-care",
        label: "I have chosen private healthcare instead",
    },
    Reason {
        code: "cannot-attend",
        label: "I cannot attend at the time booked",
    },
    Reason {
        code: "no-transport",
        label: "I do not have transport",
    },
    Reason {
        code: "other",
        label: "Other",
    },
];

/// The reasons offered for asking to reschedule.
pub const RESCHEDULE_REASONS: [Reason; 5] = [
    Reason {
        code: "commitments",
        label: "I cannot attend due to work, holiday or other commitments",
    },
    Reason {
        code: "no-transport",
        label: "I do not have transport",
    },
    Reason {
        code: "no-companion",
        label: "I do not have a carer or companion who can come with me",
    },
    Reason {
        code: "unwell",
        label: "I cannot attend because I am unwell",
    },
    Reason {
        code: "other",
        label: "Other",
    },
];

/// The reasons offered for a kind of request.
pub fn reasons_for(kind: RequestKind) -> &'static [Reason] {
    match kind {
        RequestKind::Cancel => &CANCEL_REASONS,
        RequestKind::Reschedule => &RESCHEDULE_REASONS,
    }
}

/// Looks up a reason's label by code in a list.
pub fn reason_label(reasons: &[Reason], code: &str) -> Option<&'static str> {
    reasons.iter().find(|r| r.code == code).map(|r| r.label)
}

/// A patient's answers about why (cancel, or a reschedule request).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReasonAnswers {
    /// The reason code chosen.
    pub reason: String,
    /// Free text: required for "other" when cancelling; preferred times when rescheduling.
    pub details: Option<String>,
}

impl ReasonAnswers {
    /// Checks the answers against a reason list (normally [`reasons_for`] `kind`). Cancelling
    /// with "Other" needs the patient's own words; free text is at most [`MAX_DETAILS_CHARS`].
    pub fn validate(&self, reasons: &[Reason], kind: RequestKind) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if reason_label(reasons, &self.reason).is_none() {
            errors.push(FieldError {
                field: "reason",
                message: match kind {
                    RequestKind::Cancel => "Select why you need to cancel",
                    RequestKind::Reschedule => "Select why you need to change this appointment",
                },
            });
        }
        let details = self.details.as_deref().map(str::trim).unwrap_or("");
        if kind == RequestKind::Cancel && self.reason == "other" && details.is_empty() {
            errors.push(FieldError {
                field: "details",
                message: "Enter why you need to cancel",
            });
        }
        if details.chars().count() > MAX_DETAILS_CHARS {
            errors.push(FieldError {
                field: "details",
                message: "Enter 500 characters or fewer",
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The free text, trimmed; `None` when empty.
    pub fn details_trimmed(&self) -> Option<String> {
        self.details
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
    }
}

/// The cancel journey's first question, "Do you still need this appointment?": a patient who
/// still needs care but cannot go at the booked time is led to change it instead, and only one
/// who no longer needs it goes on to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StillNeeded {
    /// "Yes, but I cannot make this date or time": to the reschedule journey.
    CannotMakeIt,
    /// "No, I no longer need it": on to cancel.
    NoLongerNeeded,
}

impl StillNeeded {
    /// Both answers, in the order they are offered.
    pub const ALL: [Self; 2] = [Self::CannotMakeIt, Self::NoLongerNeeded];

    /// The form field's name.
    pub const FIELD: &'static str = "still_needed";

    /// The stable code the form carries.
    pub fn code(self) -> &'static str {
        match self {
            Self::CannotMakeIt => "cannot-make-it",
            Self::NoLongerNeeded => "no-longer-needed",
        }
    }

    /// The words on the radio button.
    pub fn label(self) -> &'static str {
        match self {
            Self::CannotMakeIt => "Yes, but I cannot make this date or time",
            Self::NoLongerNeeded => "No, I no longer need it",
        }
    }

    /// The answer a form posted: one of the codes, else the field's error (a missing or
    /// forged answer alike).
    pub fn parse(answer: Option<&str>) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|a| Some(a.code()) == answer)
            .ok_or(FieldError {
                field: Self::FIELD,
                message: "Select whether you still need this appointment",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(reason: &str, details: Option<&str>) -> ReasonAnswers {
        ReasonAnswers {
            reason: reason.into(),
            details: details.map(Into::into),
        }
    }

    #[test]
    fn codes_are_unique_and_other_is_last() {
        for kind in [RequestKind::Cancel, RequestKind::Reschedule] {
            let list = reasons_for(kind);
            let mut codes: Vec<_> = list.iter().map(|r| r.code).collect();
            assert_eq!(codes.last(), Some(&"other"));
            codes.sort();
            codes.dedup();
            assert_eq!(codes.len(), list.len());
        }
        assert_eq!(
            reason_label(&CANCEL_REASONS, "private-care"),
            Some("I have chosen private healthcare instead")
        );
        assert_eq!(reason_label(&RESCHEDULE_REASONS, "private-care"), None);
    }

    #[test]
    fn answers_are_checked() {
        use RequestKind::{Cancel, Reschedule};
        let long = "x".repeat(MAX_DETAILS_CHARS + 1);
        let exact = "y".repeat(MAX_DETAILS_CHARS);
        // (kind, reason, details, the fields in error)
        let cases: Vec<(RequestKind, &str, Option<&str>, Vec<&str>)> = vec![
            (Cancel, "no-longer-needed", None, vec![]),
            (Cancel, "", None, vec!["reason"]),
            (Cancel, "unwell", None, vec!["reason"]),
            (Cancel, "other", None, vec!["details"]),
            (Cancel, "other", Some("   "), vec!["details"]),
            (Cancel, "other", Some("moving away"), vec![]),
            (Cancel, "no-transport", Some(&long), vec!["details"]),
            (Cancel, "no-transport", Some(&exact), vec![]),
            (Cancel, "nope", Some(&long), vec!["reason", "details"]),
            (Reschedule, "unwell", None, vec![]),
            (Reschedule, "other", None, vec![]),
            (Reschedule, "no-longer-needed", None, vec!["reason"]),
            (Reschedule, "commitments", Some(&long), vec!["details"]),
        ];
        for (kind, reason, details, want) in cases {
            let got: Vec<&str> = match answers(reason, details).validate(reasons_for(kind), kind) {
                Ok(()) => vec![],
                Err(e) => e.iter().map(|e| e.field).collect(),
            };
            assert_eq!(got, want, "{kind:?} {reason} {details:?}");
        }
        let e = answers("", None)
            .validate(&CANCEL_REASONS, Cancel)
            .unwrap_err();
        assert_eq!(e[0].message, "Select why you need to cancel");
        let e = answers("", None)
            .validate(&RESCHEDULE_REASONS, Reschedule)
            .unwrap_err();
        assert_eq!(
            e[0].message,
            "Select why you need to change this appointment"
        );
    }

    #[test]
    fn details_are_trimmed() {
        assert_eq!(
            answers("other", Some("  a b  "))
                .details_trimmed()
                .as_deref(),
            Some("a b")
        );
        assert_eq!(answers("other", Some("   ")).details_trimmed(), None);
        assert_eq!(answers("other", None).details_trimmed(), None);
    }

    #[test]
    fn still_needed_takes_only_its_two_codes() {
        let table: &[(Option<&str>, Option<StillNeeded>)] = &[
            (Some("cannot-make-it"), Some(StillNeeded::CannotMakeIt)),
            (Some("no-longer-needed"), Some(StillNeeded::NoLongerNeeded)),
            (None, None),
            (Some(""), None),
            (Some("NO-LONGER-NEEDED"), None),
            (Some("cancel"), None),
        ];
        for (answer, want) in table {
            let got = StillNeeded::parse(*answer);
            assert_eq!(got.as_ref().ok(), want.as_ref(), "{answer:?}");
            if let Err(e) = got {
                assert_eq!(e.field, StillNeeded::FIELD);
            }
        }
    }
}
