//! What a sign-in starts with and ends in: the request, the verified identity, and each
//! failure as its own [`LoginError`].

use nhs_portal_core::store::{PendingLogin, StoreError};

use crate::nhs_login::{KeyError, TokenError, VerifiedToken};

/// Why a sign-in failed. Each is a distinct outcome for the web layer to render.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The patient chose "I do not want to use NHS login" (`access_denied` / `ConsentNotGiven`).
    #[error("the patient did not consent to use NHS login")]
    ConsentNotGiven,
    /// NHS login refused access for another reason (`access_denied`).
    #[error("NHS login denied access")]
    AccessDenied,
    /// A silent sign-in (`prompt=none`) needs the patient to sign in (`login_required`,
    /// `interaction_required`, `consent_required`, `account_selection_required`).
    #[error("NHS login needs the patient to sign in")]
    LoginRequired,
    /// Single sign-on from the NHS App failed (`sso_login_required`): send the patient back to
    /// the NHS App.
    #[error("single sign-on from the NHS App failed")]
    SsoFailed,
    /// The callback's `state` is missing, unknown, or already used (a replay).
    #[error("the sign-in state is unknown or was already used")]
    UnknownState,
    /// The sign-in took too long between redirect and callback.
    #[error("the sign-in took too long")]
    StaleLogin,
    /// The patient's identity is proved only to this level (for example P5); the portal needs P9.
    #[error("the patient's identity level is {0}, P9 is needed")]
    IdentityNotP9(String),
    /// The ID token failed a check.
    #[error("the ID token was refused: {0}")]
    Token(TokenError),
    /// Userinfo is about someone else than the ID token (`sub` differs) or contradicts it.
    #[error("userinfo does not match the ID token")]
    UserInfoMismatch,
    /// NHS login refused the token request (`invalid_grant`, `invalid_client`, ...).
    #[error("NHS login refused the token request: {0}")]
    TokenRequestRefused(String),
    /// NHS login answered the authorization request with another OAuth error.
    #[error("NHS login returned an error: {0}")]
    Provider(String),
    /// NHS login cannot be reached or is failing (`server_error`, `temporarily_unavailable`,
    /// network errors, 5xx, keys unavailable): show "NHS login is unavailable, try later".
    #[error("NHS login is unavailable: {0}")]
    Unavailable(String),
    /// The callback has neither `code` nor `error`.
    #[error("the callback is malformed: {0}")]
    MalformedCallback(&'static str),
    /// The settings are wrong (bad URL, discovery document unusable).
    #[error("the NHS login settings are not valid: {0}")]
    Config(String),
    /// A client assertion could not be signed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The session store failed.
    #[error("the session store failed")]
    Store(#[from] StoreError),
}

impl From<TokenError> for LoginError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::IdentityLevelTooLow(level) => Self::IdentityNotP9(level),
            TokenError::KeysUnavailable(m) => Self::Unavailable(m),
            other => Self::Token(other),
        }
    }
}

/// What a new sign-in is for.
#[derive(Clone, Default)]
pub struct LoginRequest {
    /// Where to go after sign-in (a path inside the portal; check it before use).
    pub return_to: String,
    /// Started inside the NHS App.
    pub in_nhs_app: bool,
    /// The deep link's tracking id.
    pub tracking_id: Option<String>,
    /// The NHS App's `assertedLoginIdentity`, passed on unchanged: makes the request silent
    /// (`prompt=none`) single sign-on.
    pub asserted_login_identity: Option<String>,
    /// Ask NHS login to sign the patient in again even if it has a session (`prompt=login`).
    /// Ignored for single sign-on.
    pub force_login: bool,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("return_to", &self.return_to)
            .field("in_nhs_app", &self.in_nhs_app)
            .field("sso", &self.asserted_login_identity.is_some())
            .finish_non_exhaustive()
    }
}

/// The signed-in patient: the claims of the verified ID token (checked against userinfo when
/// the relying party is configured to fetch it). One definition with [`VerifiedToken`].
pub type NhsIdentity = VerifiedToken;

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct CompletedLogin {
    /// Who signed in.
    pub identity: NhsIdentity,
    /// The sign-in's record (where to return to, NHS App context).
    pub pending: PendingLogin,
}

/// A failed sign-in, with its record when the `state` was known (so the page can tell an NHS
/// App SSO failure, `pending.sso`, from an ordinary one).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct LoginFailure {
    /// What went wrong.
    #[source]
    pub error: LoginError,
    /// The sign-in's record, if the callback's `state` matched one.
    pub pending: Option<PendingLogin>,
    /// The patient named by an ID token that passed its signature, issuer, audience, expiry
    /// and nonce checks before a later check refused it (identity below P9, vector of trust,
    /// userinfo): to report the failed sign-in, never to sign anyone in.
    pub patient: Option<nhs_portal_core::NhsNumber>,
}

/// A failed code exchange, with the patient when the ID token was authentic but refused by a
/// later check (P9, vector of trust, userinfo): then the number may be reported (`SESSION`
/// with `Status: failed`), never used to sign anyone in.
#[derive(Debug)]
pub(crate) struct ExchangeFailure {
    /// What went wrong.
    pub(crate) error: LoginError,
    /// The authentic token's patient, for the failures above.
    pub(crate) patient: Option<nhs_portal_core::NhsNumber>,
}

impl From<LoginError> for ExchangeFailure {
    fn from(error: LoginError) -> Self {
        Self {
            error,
            patient: None,
        }
    }
}

impl From<TokenError> for ExchangeFailure {
    fn from(e: TokenError) -> Self {
        LoginError::from(e).into()
    }
}

/// Maps an OAuth/OIDC `error` on the callback to its outcome.
pub(super) fn map_callback_error(error: &str, description: Option<&String>) -> LoginError {
    match error {
        "access_denied" if description.is_some_and(|d| d == "ConsentNotGiven") => {
            LoginError::ConsentNotGiven
        }
        "access_denied" => LoginError::AccessDenied,
        "login_required"
        | "interaction_required"
        | "consent_required"
        | "account_selection_required" => LoginError::LoginRequired,
        "sso_login_required" => LoginError::SsoFailed,
        "server_error" | "temporarily_unavailable" => LoginError::Unavailable(error.to_owned()),
        other => LoginError::Provider(other.chars().take(64).collect()),
    }
}
