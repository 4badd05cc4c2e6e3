//! NHS login: the relying party (P9, `private_key_jwt`), and verification of NHS login ID tokens
//! (our own sign-ins, and the ones the PCA forwards).
//!
//! - [`ForwardedTokenVerifier`] / [`JwksForwardedVerifier`]: the PCA API's `NHSD-ID-Token` check.
//! - [`verify_token`]: the shared JWT checks, each failure a [`TokenError`] variant.
//! - [`RelyingParty`]: sign-in with NHS login (P9, `private_key_jwt`, NHS App SSO); failures are
//!   [`LoginError`] variants.
//! - [`JwksCache`]: the one signing-key cache (NHS login's keys, and the PCA bearer tokens'):
//!   refreshed on `max-age`, served for a bounded time while a refresh fails, refetched once on
//!   an unknown key id, body size capped ([`jwks`]).

mod forwarded;
pub mod jwks;
#[cfg(feature = "nhs-login")]
mod keys;
#[cfg(feature = "nhs-login")]
mod rp;
mod token;

pub use forwarded::{
    FORWARDED_ID_TOKEN_HEADER, ForwardedIdentity, ForwardedTokenConfig, ForwardedTokenVerifier,
    JwksForwardedVerifier,
};
pub use jwks::JwksCache;
#[cfg(feature = "nhs-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "nhs-login")))]
pub use keys::{KeyError, RsaSigningKey};
// The staff pages' OpenID Connect sign-in reuses the relying party's HTTP client and error text.
#[cfg(feature = "staff")]
pub(crate) use rp::{Client as OidcClient, chain as error_chain};
#[cfg(feature = "nhs-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "nhs-login")))]
pub use rp::{
    CompletedLogin, Environment, LoginError, LoginFailure, LoginRequest, NhsIdentity,
    NhsLoginConfig, RelyingParty, is_safe_return_path,
};
pub use token::{
    DEFAULT_P9_VECTORS, P9, TokenError, TokenExpectations, VerifiedToken, verify_token,
};

/// Issuer of NHS login's sandpit environment.
pub const SANDPIT_ISSUER: &str = "https://auth.sandpit.signin.nhs.uk";
/// Issuer of NHS login's integration (AOS) environment.
pub const INTEGRATION_ISSUER: &str = "https://auth.aos.signin.nhs.uk";
/// Issuer of NHS login's production environment.
pub const PRODUCTION_ISSUER: &str = "https://auth.login.nhs.uk";

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    // `subtle` returns early on a length difference only, which leaks nothing about content.
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests;

#[cfg(all(test, feature = "nhs-login"))]
pub(crate) mod rp_tests;
