//! The portal's use of patient sessions: load from the cookie, apply the time rules, start at
//! sign-in (always a new id), end at sign-out or timeout.
//!
//! Server-side state lives in [`SessionStore`]; the cookie carries only an opaque random id
//! (32 random bytes, base64url), `HttpOnly; SameSite=Lax; Path=/` and `Secure` unless the portal
//! runs on plain-http localhost.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use cookie::{Cookie, SameSite};
use http::HeaderMap;
use nhs_portal_core::store::{PatientSession, SessionId, Store, StoreError};
use rand::RngCore;

use crate::sign_in::SignedIn;

/// The session cookie's name.
pub const COOKIE: &str = "nhs_portal_session";

/// A session looked up from a request.
#[derive(Debug, Clone)]
pub enum SessionState {
    /// Signed in and within the time limits.
    Active(PatientSession),
    /// There was a session but it timed out (it is now deleted).
    Expired {
        /// The session as it was (already deleted from the store).
        session: Box<PatientSession>,
    },
    /// No session (no cookie, or an unknown or forged one).
    None,
}

/// Session rules and storage.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn Store>,
    idle: Duration,
    absolute: Duration,
    secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

/// A random token: `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads one cookie's value from the request headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

impl Sessions {
    /// Sessions over a store: `idle` inactivity limit, `absolute` limit from sign-in, `secure`
    /// cookies (false only for plain-http localhost).
    pub fn new(store: Arc<dyn Store>, idle: Duration, absolute: Duration, secure: bool) -> Self {
        Self {
            store,
            idle,
            absolute,
            secure,
        }
    }

    /// The inactivity limit.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Looks the request's session up and applies the time rules at `now`.
    pub async fn load(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<SessionState, StoreError> {
        let Some(value) = cookie_value(headers, COOKIE) else {
            return Ok(SessionState::None);
        };
        if value.len() != 43 {
            return Ok(SessionState::None);
        }
        let id = SessionId::new(value);
        let Some(session) = self.store.get_session(&id).await? else {
            return Ok(SessionState::None);
        };
        if now - session.last_seen_at >= self.idle || now >= session.absolute_expiry {
            self.store.delete_session(&id).await?;
            return Ok(SessionState::Expired {
                session: Box::new(session),
            });
        }
        Ok(SessionState::Active(session))
    }

    /// Records activity now.
    pub async fn touch(
        &self,
        session: &PatientSession,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.touch_session(&session.id, now).await.map(|_| ())
    }

    /// Starts a new session for a verified sign-in; returns it and its `Set-Cookie` value.
    pub async fn start(
        &self,
        signed_in: &SignedIn,
        now: DateTime<Utc>,
    ) -> Result<(PatientSession, String), StoreError> {
        let session = PatientSession {
            id: SessionId::new(random_token(32)),
            reporting_id: uuid::Uuid::new_v4().to_string(),
            patient: signed_in.patient.clone(),
            date_of_birth: signed_in.date_of_birth,
            display_name: signed_in.display_name.clone(),
            created_at: now,
            last_seen_at: now,
            absolute_expiry: now + self.absolute,
            in_nhs_app: signed_in.in_nhs_app,
            tracking_id: signed_in.tracking_id.clone(),
            csrf_token: random_token(32),
        };
        self.store.create_session(&session).await?;
        let cookie = self.cookie(session.id.as_str().to_owned(), None);
        Ok((session, cookie))
    }

    /// Ends a session; returns the `Set-Cookie` value that clears the cookie.
    pub async fn end(&self, session: &PatientSession) -> Result<String, StoreError> {
        self.store.delete_session(&session.id).await?;
        Ok(self.clear_cookie())
    }

    /// The `Set-Cookie` value that clears the session cookie.
    pub fn clear_cookie(&self) -> String {
        self.cookie(String::new(), Some(cookie::time::Duration::ZERO))
    }

    fn cookie(&self, value: String, max_age: Option<cookie::time::Duration>) -> String {
        let mut c = Cookie::build((COOKIE, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax);
        if let Some(age) = max_age {
            c = c.max_age(age);
        }
        c.build().encoded().to_string()
    }

    /// Whether cookies are marked `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use nhs_portal_core::NhsNumber;
    use nhs_portal_core::store::memory::MemoryStore;

    fn signed_in() -> SignedIn {
        SignedIn {
            patient: NhsNumber::parse("9000000009").unwrap(),
            date_of_birth: None,
            display_name: None,
            return_to: "/".into(),
            in_nhs_app: false,
            tracking_id: None,
        }
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let pair = cookie.split(';').next().unwrap();
        h.insert(http::header::COOKIE, pair.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn time_rules_and_forged_cookies() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let s = Sessions::new(store, Duration::minutes(10), Duration::hours(12), true);
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap();
        let (session, cookie) = s.start(&signed_in(), t0).await.unwrap();
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("Secure")
                && cookie.contains("SameSite=Lax")
        );
        let h = headers(&cookie);
        assert!(matches!(
            s.load(&h, t0 + Duration::minutes(9)).await.unwrap(),
            SessionState::Active(_)
        ));
        s.touch(&session, t0 + Duration::minutes(9)).await.unwrap();
        assert!(matches!(
            s.load(&h, t0 + Duration::minutes(18)).await.unwrap(),
            SessionState::Active(_)
        ));
        assert!(matches!(
            s.load(&h, t0 + Duration::minutes(19)).await.unwrap(),
            SessionState::Expired { .. }
        ));
        // Deleted on expiry: the same cookie is now unknown.
        assert!(matches!(s.load(&h, t0).await.unwrap(), SessionState::None));
        let forged = headers(&format!("{COOKIE}={}", random_token(32)));
        assert!(matches!(
            s.load(&forged, t0).await.unwrap(),
            SessionState::None
        ));
        assert!(matches!(
            s.load(&HeaderMap::new(), t0).await.unwrap(),
            SessionState::None
        ));
    }

    #[test]
    fn constant_time_eq_table() {
        for (a, b, want) in [
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("", "", true),
        ] {
            assert_eq!(constant_time_eq(a, b), want, "{a} {b}");
        }
    }
}
