//! The error type at the PAS boundary.

use std::time::Duration;

/// Why a PAS call failed.
///
/// The `Display` text of every variant is safe to log: it never carries the PAS's own words
/// (an OperationOutcome's text may name the patient). Those are in [`PasError::BusinessRule`]'s
/// `text`, for the audit record or a staff screen, never for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasError {
    /// The PAS did not answer in time (or the portal call's overall deadline ran out).
    #[error("the PAS timed out")]
    Timeout,
    /// The PAS cannot be reached or answered with a server error; worth retrying later. The
    /// source may be an [`HttpStatus`] with the server's `Retry-After`.
    #[error("the PAS is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The appointment does not exist (or is not this patient's).
    #[error("appointment not found")]
    NotFound,
    /// The operation is not offered for this appointment (for example a real-time cancel at a
    /// request-only trust).
    #[error("not supported by this PAS for this appointment")]
    NotSupported,
    /// The chosen slot was taken or withdrawn.
    #[error("the slot is no longer available")]
    SlotUnavailable,
    /// The appointment's state does not allow this (for example cancelling a past appointment).
    /// The text is the adapter's own description (no patient data).
    #[error("the appointment cannot be changed: {0}")]
    InvalidState(String),
    /// The appointment changed in the PAS since it was read (a version conflict).
    #[error("the appointment changed in the PAS")]
    Conflict,
    /// The PAS answered with something the adapter cannot read.
    #[error("the PAS answered with data that cannot be read: {0}")]
    BadData(String),
    /// The PAS refused the portal's credentials (HTTP 401: an expired or revoked token, an
    /// unknown client). The text is the adapter's own description.
    #[error("the PAS refused the portal's credentials: {0}")]
    Unauthorised(String),
    /// The PAS knows the portal but does not allow it this (HTTP 403: a missing scope, a
    /// resource outside its access). The text is the adapter's own description.
    #[error("the PAS does not allow the portal this: {0}")]
    Forbidden(String),
    /// The PAS refused the change under its own rules (HTTP 400, 422 or 423 with an
    /// OperationOutcome): for example a status transition it does not allow, or a record locked
    /// by staff. Nothing was changed.
    #[error("the PAS refused the change under its own rules")]
    BusinessRule {
        /// The PAS's explanation (the OperationOutcome's `issue.details.text` or
        /// `issue.diagnostics`), empty when it gave none. The server's own words: never log it.
        text: String,
    },
    /// The PAS asked the portal to slow down (HTTP 429).
    #[error("the PAS is rate limiting the portal")]
    RateLimited {
        /// How long the PAS asked the portal to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
}

impl PasError {
    /// How long the PAS asked to wait before another call: a [`PasError::RateLimited`]'s
    /// `retry_after`, or the `Retry-After` of an [`HttpStatus`] behind
    /// [`PasError::Unavailable`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::Unavailable(source) => source
                .downcast_ref::<HttpStatus>()
                .and_then(|s| s.retry_after),
            _ => None,
        }
    }

    /// Whether the same call may succeed later without anything changing on the portal's side
    /// (timeouts, outages, rate limits).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Unavailable(_) | Self::RateLimited { .. }
        )
    }
}

/// An HTTP status a PAS answered with, and its `Retry-After` if it sent one (the source of a
/// [`PasError::Unavailable`] for 5xx answers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the PAS answered HTTP {status}")]
pub struct HttpStatus {
    /// The status code.
    pub status: u16,
    /// The server's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_comes_from_rate_limits_and_unavailable_statuses() {
        let secs = |s| Some(Duration::from_secs(s));
        let cases: [(PasError, Option<Duration>); 5] = [
            (
                PasError::RateLimited {
                    retry_after: secs(1),
                },
                secs(1),
            ),
            (PasError::RateLimited { retry_after: None }, None),
            (
                PasError::Unavailable(Box::new(HttpStatus {
                    status: 503,
                    retry_after: secs(30),
                })),
                secs(30),
            ),
            (PasError::Unavailable("down".into()), None),
            (PasError::Timeout, None),
        ];
        for (e, want) in cases {
            assert_eq!(e.retry_after(), want, "{e:?}");
        }
    }

    #[test]
    fn business_rule_text_stays_out_of_display() {
        let e = PasError::BusinessRule {
            text: "Jane Doe cannot be cancelled".into(),
        };
        assert!(!e.to_string().contains("Jane"), "{e}");
    }
}
