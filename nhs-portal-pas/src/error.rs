//! The error type at the PAS boundary.

/// Why a PAS call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasError {
    /// The PAS did not answer in time.
    #[error("the PAS timed out")]
    Timeout,
    /// The PAS cannot be reached or answered with a server error; worth retrying later.
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
    #[error("the appointment cannot be changed: {0}")]
    InvalidState(&'static str),
    /// The appointment changed in the PAS since it was read (a version conflict).
    #[error("the appointment changed in the PAS")]
    Conflict,
    /// The PAS answered with something the adapter cannot read.
    #[error("the PAS answered with data that cannot be read: {0}")]
    BadData(String),
}
