//! Where reporting events go: the [`ReportingSink`] seam and its error.
//!
//! The outbox worker ([`crate::worker`]) hands each batch to a sink and acts on the answer:
//! delivered, refused for good (quarantine), or not now (retry later with back-off). The sinks
//! here is [`crate::wayfinder::WayfinderClient`] (the Reporting Service API, "Method 2"); the
//! monthly CSV ("Method 1") is an export from the store, [`crate::monthly_csv`], not a sink.

use std::time::Duration;

use async_trait::async_trait;

use crate::token::TokenError;
use crate::wire::WayfinderEvent;

/// Why a batch was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The service refused the batch as invalid (Wayfinder 400). Retrying the same request will
    /// not help. `index` is the position of the first bad event in the batch, when the service's
    /// message names it.
    #[error("the batch was refused as invalid (first bad event: {index:?})")]
    Rejected {
        /// Index of the first invalid event within the batch, if known.
        index: Option<usize>,
        /// The service's message, cut to 500 characters. It may echo field values, so it is
        /// kept with the quarantined events and never logged.
        message: String,
    },
    /// The batch is bigger than the sink accepts (WF-NFR-MI-05); split it and send again.
    #[error("the batch is {bytes} bytes, more than the {max} allowed")]
    TooLarge {
        /// The batch size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The access token was refused (401); a fresh one is fetched on the next attempt.
    #[error("the access token was refused")]
    Unauthorized,
    /// Too many requests (429).
    #[error("rate limited")]
    RateLimited {
        /// The service's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The service is unavailable (5xx).
    #[error("the service answered {status}")]
    Unavailable {
        /// The status code.
        status: u16,
    },
    /// An answer this client does not expect (another 4xx, say). Kept and retried, so no event
    /// is lost to a misconfiguration.
    #[error("unexpected status {status}")]
    Unexpected {
        /// The status code.
        status: u16,
    },
    /// No answer within the timeout, even after the one retry (WF-NFR-MI-02).
    #[error("timed out")]
    Timeout,
    /// The connection failed.
    #[error("could not reach the service")]
    Transport(#[source] reqwest::Error),
    /// No access token could be had.
    #[error("no access token")]
    Token(#[from] TokenError),
    /// Writing a file failed (a sink that writes files).
    #[error("could not write the report file")]
    Io(#[from] std::io::Error),
}

impl DeliveryError {
    /// Whether the same batch may succeed later (everything but a refusal or an oversize batch).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Rejected { .. } | Self::TooLarge { .. })
    }

    /// A short reason without any event content, for logs and the outbox's error column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected { .. } => "rejected",
            Self::TooLarge { .. } => "too_large",
            Self::Unauthorized => "unauthorized",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Unexpected { .. } => "unexpected_status",
            Self::Timeout => "timeout",
            Self::Transport(_) => "transport",
            Self::Token(_) => "token",
            Self::Io(_) => "io",
        }
    }
}

/// Somewhere a batch of Wayfinder events can be delivered.
///
/// A sink answers for the whole batch: `Ok` means every event is delivered. It never splits or
/// drops events itself; that is the outbox worker's job.
#[async_trait]
pub trait ReportingSink: Send + Sync + std::fmt::Debug {
    /// Delivers one batch (never empty).
    async fn deliver(&self, events: &[WayfinderEvent]) -> Result<(), DeliveryError>;

    /// The largest batch, in bytes of JSON, the sink takes. Defaults to no limit.
    fn max_batch_bytes(&self) -> usize {
        usize::MAX
    }
}

/// Parses the index from a Wayfinder 400 message such as
/// `validation error for APPT event at index [3]: …`.
pub(crate) fn parse_rejected_index(message: &str) -> Option<usize> {
    let rest = &message[message.find("at index [")? + "at index [".len()..];
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_index_cases() {
        for (message, want) in [
            (
                "validation error for APPT event at index [0]: 'Id' is a required property",
                Some(0),
            ),
            (
                "validation error for SESSION event at index [12]: x",
                Some(12),
            ),
            ("validation error for APPT event at index [3]: bad", Some(3)),
            ("something else", None),
            ("at index [ 4 ]", Some(4)),
            ("at index []", None),
            ("at index [x]", None),
            ("at index [3", None),
            ("", None),
        ] {
            assert_eq!(parse_rejected_index(message), want, "{message}");
        }
    }

    #[test]
    fn retryable_kinds() {
        let rejected = DeliveryError::Rejected {
            index: None,
            message: String::new(),
        };
        assert!(!rejected.is_retryable());
        assert!(!DeliveryError::TooLarge { bytes: 2, max: 1 }.is_retryable());
        for e in [
            DeliveryError::Unauthorized,
            DeliveryError::RateLimited { retry_after: None },
            DeliveryError::Unavailable { status: 503 },
            DeliveryError::Unexpected { status: 404 },
            DeliveryError::Timeout,
        ] {
            assert!(e.is_retryable(), "{e:?}");
        }
    }
}
