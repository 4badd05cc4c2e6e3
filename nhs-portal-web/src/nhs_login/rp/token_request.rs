//! The token request: an RS512 `private_key_jwt` client assertion, the code exchange, the
//! ID-token checks and the userinfo cross-check.

use openidconnect::core::CoreGenderClaim;
use openidconnect::{
    AccessToken, AuthorizationCode, OAuth2TokenResponse, PkceCodeVerifier, RequestTokenError,
    SubjectIdentifier, TokenResponse,
};
use serde::Serialize;

use super::outcome::ExchangeFailure;
use super::{
    ASSERTION_TYPE, LoginError, NhsIdentity, RelyingParty, UserInfoNhs, chain, unavailable,
};
use crate::nhs_login::{TokenError, TokenExpectations, VerifiedToken, verify_token};

impl RelyingParty {
    /// Signs a fresh RS512 client assertion for the token endpoint.
    pub fn client_assertion(&self) -> Result<String, LoginError> {
        let now = self.clock.now().timestamp();
        #[derive(Serialize)]
        struct Assertion<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            jti: String,
            iat: i64,
            exp: i64,
        }
        Ok(self.config.key.sign(&Assertion {
            iss: &self.config.client_id,
            sub: &self.config.client_id,
            aud: &self.token_endpoint,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + self.config.assertion_ttl_secs,
        })?)
    }

    pub(super) async fn exchange(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<NhsIdentity, ExchangeFailure> {
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| LoginError::Config(e.to_string()))?
            .add_extra_param("client_assertion_type", ASSERTION_TYPE)
            .add_extra_param("client_assertion", self.client_assertion()?);
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_owned()));
        }
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    LoginError::TokenRequestRefused(r.error().to_string())
                }
                RequestTokenError::Request(e) => unavailable(e),
                RequestTokenError::Parse(e, _) => {
                    unavailable(format!("unreadable token response: {e}"))
                }
                RequestTokenError::Other(m) => unavailable(m),
            })?;
        let id_token = response
            .id_token()
            .ok_or(LoginError::Token(TokenError::MissingClaim("id_token")))?
            .to_string();
        let audiences = [self.config.client_id.clone()];
        let verified = match verify_token(
            &id_token,
            &self.keys,
            &TokenExpectations {
                issuer: &self.config.issuer,
                audiences: &audiences,
                leeway_secs: self.config.leeway_secs,
                nonce: Some(nonce),
                accepted_vot: &self.config.accepted_vot,
                now: self.clock.now(),
            },
        )
        .await
        {
            Ok(v) => v,
            Err(e) => {
                let patient = refused_after_authentication(&e)
                    .then(|| claimed_nhs_number(&id_token))
                    .flatten();
                return Err(ExchangeFailure {
                    error: e.into(),
                    patient,
                });
            }
        };
        if self.config.fetch_userinfo
            && let Err(error) = self
                .check_userinfo(response.access_token(), &verified)
                .await
        {
            let patient =
                matches!(error, LoginError::UserInfoMismatch).then(|| verified.nhs_number.clone());
            return Err(ExchangeFailure { error, patient });
        }
        Ok(verified)
    }

    pub(super) async fn check_userinfo(
        &self,
        access_token: &AccessToken,
        verified: &VerifiedToken,
    ) -> Result<(), LoginError> {
        let request = self
            .client
            .user_info(
                access_token.clone(),
                Some(SubjectIdentifier::new(verified.subject.clone())),
            )
            .map_err(|e| LoginError::Config(e.to_string()))?;
        let claims = request
            .request_async::<UserInfoNhs, _, CoreGenderClaim>(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::ClaimsVerification(_) => LoginError::UserInfoMismatch,
                other => unavailable(format!("userinfo failed: {}", chain(&other))),
            })?;
        let nhs = claims.additional_claims().nhs_number.as_deref();
        if nhs.is_some_and(|n| n != verified.nhs_number.as_str()) {
            return Err(LoginError::UserInfoMismatch);
        }
        Ok(())
    }
}

/// Whether `verify_token` refused the token only after its signature, issuer, audience, expiry
/// and nonce had passed (its checks run in that order): then the token is NHS login's, about its
/// patient, and its NHS number may be reported with the failed sign-in.
fn refused_after_authentication(e: &TokenError) -> bool {
    matches!(
        e,
        TokenError::IdentityLevelTooLow(_) | TokenError::VotNotAccepted
    )
}

/// The `nhs_number` claim of a token whose signature was already verified (see
/// [`refused_after_authentication`]); the payload is read, not trusted anew.
fn claimed_nhs_number(token: &str) -> Option<nhs_portal_core::NhsNumber> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    nhs_portal_core::NhsNumber::parse(claims.get("nhs_number")?.as_str()?).ok()
}
