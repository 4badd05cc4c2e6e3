//! The seam between the portal's pages and an NHS login relying party.
//!
//! The portal asks a [`SignIn`] to start a sign-in (it answers with the URL to send the browser
//! to) and to finish one from the callback (it answers with the verified patient, or a
//! [`SignInFailure`] the portal turns into the right page). The NHS login relying party in
//! [`crate::nhs_login`] implements it for production and for the built-in simulator.

use async_trait::async_trait;
use chrono::NaiveDate;
use nhs_portal_core::NhsNumber;

/// What a sign-in starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignInStart {
    /// The portal path to return to afterwards (already checked to be a portal path).
    pub return_to: String,
    /// Opened inside the NHS App.
    pub in_nhs_app: bool,
    /// The deep link's tracking id.
    pub tracking_id: Option<String>,
    /// The NHS App's single sign-on token from the deep link (`assertedLoginIdentity`), to be
    /// sent with `prompt=none`.
    pub asserted_login_identity: Option<String>,
}

/// A verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The patient, from the verified ID token.
    pub patient: NhsNumber,
    /// Date of birth from NHS login.
    pub date_of_birth: Option<NaiveDate>,
    /// The name to show, if any.
    pub display_name: Option<String>,
    /// Where to go now (a portal path).
    pub return_to: String,
    /// Started inside the NHS App.
    pub in_nhs_app: bool,
    /// The deep link's tracking id.
    pub tracking_id: Option<String>,
}

/// Why a sign-in did not give a patient: each has its own page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInFailure {
    /// The patient chose not to share their NHS login information (`ConsentNotGiven`).
    #[error("the patient did not consent to share their information")]
    ConsentRefused,
    /// Single sign-on from the NHS App failed (`login_required` after `prompt=none`).
    #[error("single sign-on from the NHS App failed")]
    SsoFailed,
    /// The patient's identity is not proven to P9.
    #[error("the identity proofing level is too low")]
    IdentityTooLow,
    /// The callback's state is unknown, already used or expired, or the nonce does not match.
    #[error("the sign-in could not be matched to one in progress")]
    StateMismatch,
    /// NHS login could not be reached or failed.
    #[error("NHS login is unavailable")]
    Unavailable,
    /// Anything else (an invalid token, an error from NHS login); carries NHS login's error
    /// reference when there is one, to show to the patient.
    #[error("sign-in failed")]
    Failed(Option<String>),
}

/// Starts and finishes NHS login sign-ins.
#[async_trait]
pub trait SignIn: Send + Sync {
    /// The URL to redirect the browser to.
    async fn begin(&self, start: SignInStart) -> Result<String, SignInFailure>;
    /// Finishes a sign-in from the callback's raw query string.
    async fn complete(&self, query: &str) -> Result<SignedIn, SignInFailure>;
}
