//! Verifying the NHS login ID token the PCA forwards with each Get Appointments call (header
//! `NHSD-ID-Token`): the NHS App's own ID token for the patient, so its audience is the NHS App's
//! client id, not ours.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};

use super::token::{DEFAULT_P9_VECTORS, TokenExpectations, verify_token};
use super::{JwksCache, TokenError};

/// The HTTP header the PCA forwards the patient's NHS login ID token in.
pub const FORWARDED_ID_TOKEN_HEADER: &str = "NHSD-ID-Token";

/// Who a verified forwarded ID token is about.
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardedIdentity {
    /// The patient's NHS number (equal to the one the request asked about).
    pub nhs_number: NhsNumber,
    /// Date of birth from the token, for the date-of-birth cross-check and the under-16 rule.
    pub date_of_birth: Option<NaiveDate>,
    /// NHS login's subject id.
    pub subject: String,
    /// The vector of trust achieved.
    pub vot: String,
}

impl std::fmt::Debug for ForwardedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Redacted: dates of birth must not reach logs (the NHS number's Debug is redacted).
        f.debug_struct("ForwardedIdentity")
            .field("nhs_number", &self.nhs_number)
            .field("vot", &self.vot)
            .finish_non_exhaustive()
    }
}

/// Verifies a forwarded NHS login ID token against the NHS number a request is about.
///
/// The PCA API takes an `Arc<dyn ForwardedTokenVerifier>`; [`JwksForwardedVerifier`] is the real
/// one. A failure whose [`TokenError::is_unavailable`] is true is NHS login's fault (answer 503);
/// any other failure is a bad token (answer 401 or 403).
#[async_trait]
pub trait ForwardedTokenVerifier: Send + Sync + std::fmt::Debug {
    /// Verifies `token` fully and checks that it is about `expected`.
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<ForwardedIdentity, TokenError>;
}

/// Settings for [`JwksForwardedVerifier`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ForwardedTokenConfig {
    /// The NHS login issuer, exactly (no trailing slash).
    pub issuer: String,
    /// Accepted audiences: the client ids whose tokens the PCA forwards (the NHS App's).
    pub audiences: Vec<String>,
    /// Accepted `vot` values (default: the P9 vectors).
    pub accepted_vot: Vec<String>,
    /// Clock leeway in seconds (default 60).
    pub leeway_secs: i64,
}

impl ForwardedTokenConfig {
    /// Settings for tokens from `issuer` meant for any of `audiences`, with the P9 vectors and a
    /// 60-second leeway.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            accepted_vot: DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect(),
            leeway_secs: 60,
        }
    }
}

/// The real [`ForwardedTokenVerifier`]: NHS login's JWKS, issuer, audience set, expiry, P9 and
/// the NHS number.
///
/// ```
/// use std::sync::Arc;
/// use nhs_portal_web::nhs_login::{ForwardedTokenConfig, ForwardedTokenVerifier, JwksCache, JwksForwardedVerifier};
/// let keys = Arc::new(JwksCache::fixed(jsonwebtoken::jwk::JwkSet { keys: vec![] }));
/// let config = ForwardedTokenConfig::new("https://auth.sandpit.signin.nhs.uk", vec!["nhs-app".into()]);
/// let verifier: Arc<dyn ForwardedTokenVerifier> = Arc::new(JwksForwardedVerifier::new(config, keys));
/// # let _ = verifier;
/// ```
#[derive(Debug)]
pub struct JwksForwardedVerifier {
    config: ForwardedTokenConfig,
    keys: Arc<JwksCache>,
    clock: Arc<dyn Clock>,
}

impl JwksForwardedVerifier {
    /// A verifier with the system clock.
    pub fn new(config: ForwardedTokenConfig, keys: Arc<JwksCache>) -> Self {
        Self {
            config,
            keys,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl ForwardedTokenVerifier for JwksForwardedVerifier {
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<ForwardedIdentity, TokenError> {
        let expect = TokenExpectations {
            issuer: &self.config.issuer,
            audiences: &self.config.audiences,
            leeway_secs: self.config.leeway_secs,
            nonce: None,
            accepted_vot: &self.config.accepted_vot,
            now: self.clock.now(),
        };
        let verified = verify_token(token, &self.keys, &expect).await?;
        if verified.nhs_number != *expected {
            return Err(TokenError::NhsNumberMismatch);
        }
        Ok(ForwardedIdentity {
            nhs_number: verified.nhs_number,
            date_of_birth: verified.date_of_birth,
            subject: verified.subject,
            vot: verified.vot,
        })
    }
}
