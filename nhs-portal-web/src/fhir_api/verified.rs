//! Tokens already verified: the PCA sends the same bearer token (and, for one patient's calls,
//! the same forwarded NHS login ID token) on many calls, and checking an RS512 signature on
//! each is most of the API's own cost. So a token that passed is remembered, by the SHA-256 of
//! its text, until its own `exp` (read from the token once it has been verified), and the next
//! call that carries exactly that token skips the signature check.
//!
//! - Only successes are remembered, never refusals: a forged, altered or expired token is a
//!   different text or a lapsed entry, so it always meets the full check.
//! - A remembered entry ends at the token's `exp` by the API's clock (stricter than the
//!   verifiers, which allow 60 s of leeway after it). A token without a readable `exp` (an
//!   opaque token a vendor's validator accepts) is not remembered.
//! - A forwarded ID token is remembered with who it is about; a call that carries it for
//!   another NHS number is refused ([`TokenError::NhsNumberMismatch`]) as the verifier would.
//! - At most [`FhirApiConfig::verified_tokens`](super::FhirApiConfig::verified_tokens) of each
//!   kind (0 turns remembering off); when full, lapsed entries go, and if none had lapsed,
//!   all of them.
//!
//! The bound this sets: a token already accepted stays accepted until its `exp` even if its
//! signing key is withdrawn from the JWKS in the meantime (NHS login and the PCA's tokens live
//! minutes, not days).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::Clock;
use sha2::{Digest, Sha256};

use super::auth::{BearerError, BearerValidator, Caller};
use crate::nhs_login::{ForwardedIdentity, ForwardedTokenVerifier, TokenError};

/// Each remembered token's result and when it lapses, by the token's SHA-256.
type Entries<T> = HashMap<[u8; 32], (T, DateTime<Utc>)>;

/// Remembered verification results, by the SHA-256 of the token.
struct Verified<T> {
    capacity: usize,
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries<T>>,
}

impl<T: Clone> Verified<T> {
    fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            capacity,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// What `token` was verified as, if it was and has not lapsed.
    fn get(&self, token: &str) -> Option<T> {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&Self::key(token))
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| v.clone())
    }

    /// Remembers a verified `token` as `value`, until its `exp`.
    fn put(&self, token: &str, value: T) {
        let Some(until) = expiry(token) else { return };
        let now = self.clock.now();
        if self.capacity == 0 || until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, until)| now < *until);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(Self::key(token), (value, until));
    }
}

/// The `exp` claim of a JWT, read without checking it: only called once the token is verified.
fn expiry(token: &str) -> Option<DateTime<Utc>> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: i64,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Exp = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.exp, 0)
}

/// A [`BearerValidator`] that remembers the tokens the inner one accepted.
#[derive(Debug)]
pub(super) struct RememberedBearer {
    inner: Arc<dyn BearerValidator>,
    verified: Verified<Caller>,
}

impl RememberedBearer {
    pub(super) fn new(
        inner: Arc<dyn BearerValidator>,
        capacity: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner,
            verified: Verified::new(capacity, clock),
        }
    }
}

#[async_trait]
impl BearerValidator for RememberedBearer {
    async fn validate(&self, token: &str) -> Result<Caller, BearerError> {
        if let Some(caller) = self.verified.get(token) {
            return Ok(caller);
        }
        let caller = self.inner.validate(token).await?;
        self.verified.put(token, caller.clone());
        Ok(caller)
    }
}

/// A [`ForwardedTokenVerifier`] that remembers the tokens the inner one accepted, with whom
/// they are about.
#[derive(Debug)]
pub(super) struct RememberedIdTokens {
    inner: Arc<dyn ForwardedTokenVerifier>,
    verified: Verified<ForwardedIdentity>,
}

impl RememberedIdTokens {
    pub(super) fn new(
        inner: Arc<dyn ForwardedTokenVerifier>,
        capacity: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner,
            verified: Verified::new(capacity, clock),
        }
    }
}

#[async_trait]
impl ForwardedTokenVerifier for RememberedIdTokens {
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<ForwardedIdentity, TokenError> {
        if let Some(identity) = self.verified.get(token) {
            if identity.nhs_number != *expected {
                return Err(TokenError::NhsNumberMismatch);
            }
            return Ok(identity);
        }
        let identity = self.inner.verify(token, expected).await?;
        self.verified.put(token, identity.clone());
        Ok(identity)
    }
}

impl<T> std::fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens or who they are about.
        f.debug_struct("Verified")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
