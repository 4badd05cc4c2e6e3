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
    /// Ask NHS login to sign the patient in afresh (`prompt=login`) rather than reuse its own
    /// session: the portal sets it after someone signed out in this browser (a shared device).
    /// Ignored with an `asserted_login_identity` (`prompt=none` wins).
    pub force_login: bool,
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
    /// Signed in by the NHS App's single sign-on (the deep link's `assertedLoginIdentity`, which
    /// only the NHS App adds): a marker of the NHS App for reporting (`isOpenInNHSApp`), where
    /// `in_nhs_app` (the web view's User-Agent) decides how pages look.
    pub nhs_app_sso: bool,
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

/// A sign-in that gave no patient: why (its page), and what was known of it, for the
/// `SESSION` event with `Status: failed` (Wayfinder wants one wherever the NHS number is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSignIn {
    /// Why.
    pub failure: SignInFailure,
    /// The patient, when NHS login's ID token had passed its signature, issuer, audience,
    /// expiry and nonce checks before a later check refused the sign-in (identity below P9, a
    /// vector of trust not asked for, userinfo about someone else). `None` for every other
    /// failure: the number is then unknown or not to be trusted.
    pub patient: Option<NhsNumber>,
    /// Started inside the NHS App, by any of its markers (the web view's User-Agent, or its
    /// single sign-on), from the sign-in's record when its state matched.
    pub in_nhs_app: bool,
    /// The deep link's tracking id (from the sign-in's record, when its state matched).
    pub tracking_id: Option<String>,
}

impl From<SignInFailure> for FailedSignIn {
    fn from(failure: SignInFailure) -> Self {
        Self {
            failure,
            patient: None,
            in_nhs_app: false,
            tracking_id: None,
        }
    }
}

/// Starts and finishes NHS login sign-ins.
#[async_trait]
pub trait SignIn: Send + Sync {
    /// The URL to redirect the browser to.
    async fn begin(&self, start: SignInStart) -> Result<String, SignInFailure>;
    /// Finishes a sign-in from the callback's raw query string.
    async fn complete(&self, query: &str) -> Result<SignedIn, FailedSignIn>;
}

/// [`SignIn`] through the NHS login relying party ([`crate::nhs_login::RelyingParty`]).
///
/// Discovery happens on first use (and is retried on the next sign-in if NHS login could not be
/// reached), so the portal starts even when NHS login is down, and a portal can be its own
/// NHS login simulator's relying party (the simulator answers only once the server listens).
pub struct NhsLoginSignIn {
    config: crate::nhs_login::NhsLoginConfig,
    store: std::sync::Arc<dyn nhs_portal_core::store::SessionStore>,
    clock: std::sync::Arc<dyn nhs_portal_core::clock::Clock>,
    rp: tokio::sync::OnceCell<crate::nhs_login::RelyingParty>,
}

impl std::fmt::Debug for NhsLoginSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NhsLoginSignIn")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl NhsLoginSignIn {
    /// Sign-in with these NHS login settings; pending sign-ins are kept in `store`.
    pub fn new(
        config: crate::nhs_login::NhsLoginConfig,
        store: std::sync::Arc<dyn nhs_portal_core::store::SessionStore>,
        clock: std::sync::Arc<dyn nhs_portal_core::clock::Clock>,
    ) -> Self {
        Self {
            config,
            store,
            clock,
            rp: tokio::sync::OnceCell::new(),
        }
    }

    /// NHS login's signing-key cache, the relying party's own (discovery runs first if it has
    /// not yet), to share with a forwarded-token verifier for the same issuer.
    pub async fn keys(&self) -> Result<std::sync::Arc<crate::nhs_login::JwksCache>, SignInFailure> {
        Ok(self.rp().await?.keys())
    }

    async fn rp(&self) -> Result<&crate::nhs_login::RelyingParty, SignInFailure> {
        self.rp
            .get_or_try_init(|| async {
                crate::nhs_login::RelyingParty::discover(self.config.clone(), self.store.clone())
                    .await
                    .map(|rp| rp.with_clock(self.clock.clone()))
            })
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "NHS login discovery failed");
                SignInFailure::Unavailable
            })
    }
}

/// How a relying-party error shows to the patient.
pub fn failure_from_login_error(error: &crate::nhs_login::LoginError, sso: bool) -> SignInFailure {
    use crate::nhs_login::LoginError as E;
    match error {
        E::ConsentNotGiven => SignInFailure::ConsentRefused,
        E::SsoFailed => SignInFailure::SsoFailed,
        E::LoginRequired if sso => SignInFailure::SsoFailed,
        E::UnknownState | E::StaleLogin => SignInFailure::StateMismatch,
        E::IdentityNotP9(_) => SignInFailure::IdentityTooLow,
        E::Unavailable(_) | E::Store(_) => SignInFailure::Unavailable,
        E::Provider(code) | E::TokenRequestRefused(code) => {
            SignInFailure::Failed(Some(code.chars().take(64).collect()))
        }
        _ => SignInFailure::Failed(None),
    }
}

#[async_trait]
impl SignIn for NhsLoginSignIn {
    async fn begin(&self, start: SignInStart) -> Result<String, SignInFailure> {
        let rp = self.rp().await?;
        let request = crate::nhs_login::LoginRequest {
            return_to: start.return_to,
            in_nhs_app: start.in_nhs_app,
            tracking_id: start.tracking_id,
            asserted_login_identity: start.asserted_login_identity,
            force_login: start.force_login,
        };
        let sso = request.asserted_login_identity.is_some();
        rp.begin_login(request)
            .await
            .map(|u| u.to_string())
            .map_err(|e| failure_from_login_error(&e, sso))
    }

    async fn complete(&self, query: &str) -> Result<SignedIn, FailedSignIn> {
        let rp = self.rp().await?;
        match rp.complete_login(query).await {
            Ok(done) => Ok(SignedIn {
                display_name: done.identity.display_name(),
                patient: done.identity.nhs_number,
                date_of_birth: done.identity.date_of_birth,
                return_to: done.pending.return_to,
                in_nhs_app: done.pending.in_nhs_app,
                tracking_id: done.pending.tracking_id,
                nhs_app_sso: done.pending.sso,
            }),
            Err(f) => {
                let sso = f.pending.as_ref().is_some_and(|p| p.sso);
                tracing::info!(error = %f.error, sso, "sign-in failed");
                Err(FailedSignIn {
                    failure: failure_from_login_error(&f.error, sso),
                    patient: f.patient,
                    in_nhs_app: f.pending.as_ref().is_some_and(|p| p.in_nhs_app || p.sso),
                    tracking_id: f.pending.and_then(|p| p.tracking_id),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nhs_login::LoginError as E;

    #[test]
    fn login_errors_map_to_their_pages() {
        let cases: Vec<(E, bool, SignInFailure)> = vec![
            (E::ConsentNotGiven, false, SignInFailure::ConsentRefused),
            (E::SsoFailed, true, SignInFailure::SsoFailed),
            (E::LoginRequired, true, SignInFailure::SsoFailed),
            (E::LoginRequired, false, SignInFailure::Failed(None)),
            (E::UnknownState, false, SignInFailure::StateMismatch),
            (E::StaleLogin, false, SignInFailure::StateMismatch),
            (
                E::IdentityNotP9("P5".into()),
                false,
                SignInFailure::IdentityTooLow,
            ),
            (
                E::Unavailable("down".into()),
                false,
                SignInFailure::Unavailable,
            ),
            (
                E::Provider("invalid_request".into()),
                false,
                SignInFailure::Failed(Some("invalid_request".into())),
            ),
            (E::UserInfoMismatch, false, SignInFailure::Failed(None)),
        ];
        for (error, sso, want) in cases {
            let label = error.to_string();
            assert_eq!(
                failure_from_login_error(&error, sso),
                want,
                "{label} sso={sso}"
            );
        }
    }
}
