//! Patient sessions: server-side state in a [`SessionStore`], an opaque random id in a cookie.
//! (Over 400 lines: the cookie, the server-side record, idle expiry, NHS App SSO admission and CSRF
//! are one session rule set kept together; its tests are in `session/tests.rs`.)
//!
//! - The cookie carries only a random id (32 bytes from the OS generator, base64url) and is
//!   `Secure; HttpOnly; SameSite=Lax; Path=/` (`Secure` is dropped only when the portal's base
//!   URL is plain-http localhost, for local demos). `SameSite=Lax`, not `Strict`: the NHS login
//!   callback is a cross-site top-level redirect.
//! - Sign-in always gets a **new** id, and a session the browser already had is ended (no
//!   session fixation).
//! - A session ends after 10 minutes without activity (configurable; a warning is due after 9)
//!   and at most 12 hours after sign-in whatever the activity (NHS login's rule for web apps).
//! - [`SessionManager::admit`] is the policy per request: a live session is touched and
//!   returned; a timed-out one means "signed out" unless the NHS App offers SSO; SSO offered to
//!   a live session re-establishes identity first (the device may have changed hands).
//! - Activity is written at most once per [`ACTIVITY_GRANULARITY`] (15 s): a request within 15 s
//!   of the stored `last_seen_at` writes nothing, so most page views make no session write. The
//!   stored activity lags the real one by under 15 s, so the idle rule and the warning are exact
//!   to 15 s and only ever early: a session ends between 9 min 45 s and 10 min after the
//!   patient's last request (never later), and the warning shows between 8 min 45 s and 9 min.
//!   The page's timing is computed from the stored value, so it always matches what the store
//!   will enforce.
//! - The cookie of a session that has ended (timed out, signed out elsewhere, unknown) is
//!   cleared (`Max-Age=0`) by the next response that finds no live session behind it.
//! - Each session has its own CSRF token; compare form tokens with [`SessionManager::check_csrf`]
//!   (constant time).
//!
//! ```
//! # tokio_test_block_on(async {
//! use std::sync::Arc;
//! use nhs_portal_core::store::memory::MemoryStore;
//! use nhs_portal_web::session::{NewSession, SessionConfig, SessionManager, SessionState};
//! let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
//! let patient = nhs_portal_core::NhsNumber::parse("9000000009").unwrap();
//! let (session, set_cookie) = manager
//!     .start(&http::HeaderMap::new(), NewSession::new(patient))
//!     .await
//!     .unwrap();
//! // The browser sends the cookie back:
//! let mut headers = http::HeaderMap::new();
//! let pair = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
//! headers.insert(http::header::COOKIE, pair.parse().unwrap());
//! assert!(matches!(manager.load(&headers).await.unwrap(), SessionState::Active(a) if a.session.id == session.id));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::store::{PatientSession, SessionId, SessionStore, StoreError};

/// The default session cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "nhs_portal_session";

/// The longest a session may last whatever the activity (NHS login: 12 hours of continuous use).
pub const MAX_ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);

/// The granularity of recorded activity: [`SessionManager::admit`] writes `last_seen_at` only
/// when the stored value is at least this old (see the module docs for the bound this puts on
/// the idle rule and the warning).
pub const ACTIVITY_GRANULARITY: Duration = Duration::seconds(15);

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The session store failed.
    #[error("the session store failed")]
    Store(#[from] StoreError),
}

/// Session settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// The cookie's name.
    pub cookie_name: String,
    /// Inactivity after which the session ends (default 10 minutes).
    pub idle_timeout: Duration,
    /// How long before the idle timeout the "you will be signed out" warning is due (default 1
    /// minute, so the warning shows after 9 minutes).
    pub warn_before: Duration,
    /// The session ends this long after sign-in whatever the activity (default and maximum 12
    /// hours; longer values are capped).
    pub absolute_timeout: Duration,
    /// Whether the cookie gets `Secure` (default true).
    pub secure_cookie: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_name: DEFAULT_COOKIE_NAME.into(),
            idle_timeout: Duration::minutes(10),
            warn_before: Duration::minutes(1),
            absolute_timeout: MAX_ABSOLUTE_TIMEOUT,
            secure_cookie: true,
        }
    }
}

impl SessionConfig {
    /// The defaults for a portal served at `base_url`: `Secure` cookies unless it is plain http
    /// on localhost (`localhost`, `127.0.0.1` or `[::1]`).
    ///
    /// ```
    /// use nhs_portal_web::session::SessionConfig;
    /// let local = url::Url::parse("http://localhost:8080").unwrap();
    /// assert!(!SessionConfig::for_base_url(&local).secure_cookie);
    /// let public = url::Url::parse("http://portal.example.nhs.uk").unwrap();
    /// assert!(SessionConfig::for_base_url(&public).secure_cookie);
    /// ```
    pub fn for_base_url(base_url: &url::Url) -> Self {
        let local = matches!(
            base_url.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        );
        Self {
            secure_cookie: !(base_url.scheme() == "http" && local),
            ..Self::default()
        }
    }
}

/// Who is signing in: what the verified NHS login identity gives the session.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The patient.
    pub patient: NhsNumber,
    /// Date of birth, for the under-16 rule.
    pub date_of_birth: Option<NaiveDate>,
    /// Name for the page header.
    pub display_name: Option<String>,
    /// Opened inside the NHS App.
    pub in_nhs_app: bool,
    /// The deep link's tracking id.
    pub tracking_id: Option<String>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("patient", &self.patient)
            .field("in_nhs_app", &self.in_nhs_app)
            .finish_non_exhaustive()
    }
}

impl NewSession {
    /// A sign-in for `patient` with nothing else known.
    pub fn new(patient: NhsNumber) -> Self {
        Self {
            patient,
            date_of_birth: None,
            display_name: None,
            in_nhs_app: false,
            tracking_id: None,
        }
    }

    /// The session a completed NHS login sign-in opens: the verified patient, date of birth
    /// and name, and the NHS App context the sign-in started with.
    pub fn from_login(login: &crate::nhs_login::CompletedLogin) -> Self {
        Self {
            patient: login.identity.nhs_number.clone(),
            date_of_birth: login.identity.date_of_birth,
            display_name: login.identity.display_name(),
            in_nhs_app: login.pending.in_nhs_app,
            tracking_id: login.pending.tracking_id.clone(),
        }
    }
}

/// A live session and its timing, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// The session.
    pub session: PatientSession,
    /// Seconds until it ends if the patient does nothing (the idle or the absolute limit,
    /// whichever is sooner).
    pub seconds_left: i64,
    /// The "you will be signed out soon" warning is due.
    pub warn: bool,
}

/// What a request's cookie leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// A live session.
    Active(Box<ActiveSession>),
    /// The cookie named a session that has timed out (it is now deleted): show "you have been
    /// signed out".
    Expired,
    /// No cookie, or one naming no session (forged, ended, or from before a restart).
    None,
}

/// What a request may do, by the session policy ([`SessionManager::admit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Signed in. The session has been touched: its inactivity timer restarted now (to
    /// [`ACTIVITY_GRANULARITY`]: a session touched less than 15 s ago is not written again), and
    /// the timing is from the recorded activity.
    SignedIn(Box<ActiveSession>),
    /// Not signed in: start a sign-in (through single sign-on when the NHS App offered it).
    SignIn,
    /// Signed in, but the NHS App offers single sign-on (`assertedLoginIdentity`): someone may
    /// have handed the device on, so identity is established again silently (`prompt=none`)
    /// before anything is shown. The session is not touched; the callback keeps it when the
    /// same patient comes back and ends it when another does.
    Reauthenticate(Box<ActiveSession>),
    /// The session timed out and nothing offers a silent sign-in: tell the patient they were
    /// signed out.
    TimedOut,
}

/// Starts, loads, refreshes and ends patient sessions.
#[derive(Clone)]
pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    config: SessionConfig,
}

/// 32 random bytes from the OS generator, base64url (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the OS random generator is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn looks_like_session_id(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager over `store` with the system clock.
    pub fn new(store: Arc<dyn SessionStore>, mut config: SessionConfig) -> Self {
        config.absolute_timeout = config.absolute_timeout.min(MAX_ABSOLUTE_TIMEOUT);
        Self {
            store,
            clock: Arc::new(SystemClock),
            config,
        }
    }

    /// Uses another clock (tests, demos of timeouts).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The session id the request's cookie names, if it is shaped like one of ours.
    pub fn session_id(&self, headers: &HeaderMap) -> Option<SessionId> {
        crate::http_kit::cookie_value(headers, &self.config.cookie_name)
            .filter(|v| looks_like_session_id(v))
            .map(SessionId::new)
    }

    /// Signs a patient in: a new session with a new random id (any session the request already
    /// had is ended), and the `Set-Cookie` value for it.
    pub async fn start(
        &self,
        request_headers: &HeaderMap,
        who: NewSession,
    ) -> Result<(PatientSession, HeaderValue), SessionError> {
        if let Some(old) = self.session_id(request_headers) {
            self.store.delete_session(&old).await?;
        }
        let now = self.clock.now();
        let session = PatientSession {
            id: SessionId::new(random_token()),
            reporting_id: uuid::Uuid::new_v4().to_string(),
            patient: who.patient,
            date_of_birth: who.date_of_birth,
            display_name: who.display_name,
            created_at: now,
            last_seen_at: now,
            absolute_expiry: now + self.config.absolute_timeout,
            in_nhs_app: who.in_nhs_app,
            tracking_id: who.tracking_id,
            csrf_token: random_token(),
        };
        self.store.create_session(&session).await?;
        let cookie = self.set_cookie(&session.id);
        Ok((session, cookie))
    }

    /// The request's session: [`SessionState::Active`], [`SessionState::Expired`] (and deleted),
    /// or [`SessionState::None`]. Does not count as activity; call [`SessionManager::touch`].
    pub async fn load(&self, headers: &HeaderMap) -> Result<SessionState, SessionError> {
        let Some(id) = self.session_id(headers) else {
            return Ok(SessionState::None);
        };
        let Some(session) = self.store.get_session(&id).await? else {
            return Ok(SessionState::None);
        };
        let now = self.clock.now();
        match self.seconds_left_at(&session, now) {
            left if left > 0 => Ok(SessionState::Active(Box::new(ActiveSession {
                warn: left <= self.config.warn_before.num_seconds(),
                seconds_left: left,
                session,
            }))),
            _ => {
                self.store.delete_session(&id).await?;
                Ok(SessionState::Expired)
            }
        }
    }

    /// The session policy for one request: a live session is touched (at most once per
    /// [`ACTIVITY_GRANULARITY`]) and returned (with its timing from the recorded activity); a timed-out one means "signed out", unless the NHS App offers single
    /// sign-on (`sso_offered`: the deep link carries an `assertedLoginIdentity`), which signs
    /// the patient in again without a page in between; no session means sign in. Single
    /// sign-on offered to a live session always re-establishes identity
    /// ([`Admission::Reauthenticate`]): the NHS App's user may not be the session's patient.
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        sso_offered: bool,
    ) -> Result<Admission, SessionError> {
        match self.load(headers).await? {
            SessionState::Active(active) if sso_offered => Ok(Admission::Reauthenticate(active)),
            SessionState::Active(active) => {
                let (mut session, now) = (active.session, self.clock.now());
                // Within the granularity the stored activity stands (no write): see the
                // module docs for the bound.
                if now - session.last_seen_at >= ACTIVITY_GRANULARITY {
                    if !self.store.touch_session(&session.id, now).await? {
                        return Ok(Admission::TimedOut);
                    }
                    session.last_seen_at = now;
                }
                let seconds_left = self.seconds_left_at(&session, now);
                Ok(Admission::SignedIn(Box::new(ActiveSession {
                    warn: seconds_left <= self.config.warn_before.num_seconds(),
                    seconds_left,
                    session,
                })))
            }
            SessionState::Expired if sso_offered => Ok(Admission::SignIn),
            SessionState::Expired => Ok(Admission::TimedOut),
            SessionState::None => Ok(Admission::SignIn),
        }
    }

    /// Whether the request carries a session cookie at all (live, expired or unknown): a
    /// response that finds no live session behind it clears it with
    /// [`SessionManager::clear_cookie`].
    pub fn has_cookie(&self, headers: &HeaderMap) -> bool {
        crate::http_kit::cookie_value(headers, &self.config.cookie_name).is_some()
    }

    /// Records activity now (restarting the inactivity timer). `false` if the session is gone.
    pub async fn touch(&self, session: &PatientSession) -> Result<bool, SessionError> {
        Ok(self
            .store
            .touch_session(&session.id, self.clock.now())
            .await?)
    }

    /// Signs out: deletes the request's session (if any) and returns the `Set-Cookie` value that
    /// clears the cookie.
    pub async fn end(&self, headers: &HeaderMap) -> Result<HeaderValue, SessionError> {
        if let Some(id) = self.session_id(headers) {
            self.store.delete_session(&id).await?;
        }
        Ok(self.clear_cookie())
    }

    /// Seconds until `session` ends if the patient does nothing (0 when it has ended).
    pub fn seconds_left(&self, session: &PatientSession) -> i64 {
        self.seconds_left_at(session, self.clock.now())
    }

    fn seconds_left_at(&self, session: &PatientSession, now: DateTime<Utc>) -> i64 {
        let idle_end = session.last_seen_at + self.config.idle_timeout;
        let end = idle_end.min(session.absolute_expiry);
        (end - now).num_seconds().max(0)
    }

    /// Whether a submitted form's CSRF token is this session's (constant-time comparison).
    pub fn check_csrf(session: &PatientSession, submitted: &str) -> bool {
        crate::nhs_login::constant_time_eq(session.csrf_token.as_bytes(), submitted.as_bytes())
    }

    /// The `Set-Cookie` value carrying a session id.
    pub fn set_cookie(&self, id: &SessionId) -> HeaderValue {
        self.cookie_header(
            Cookie::build((self.config.cookie_name.clone(), id.as_str().to_owned())).build(),
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        let mut c = Cookie::build((self.config.cookie_name.clone(), "")).build();
        c.make_removal();
        self.cookie_header(c)
    }

    fn cookie_header(&self, mut c: Cookie<'static>) -> HeaderValue {
        c.set_path("/");
        c.set_http_only(true);
        c.set_secure(self.config.secure_cookie);
        c.set_same_site(SameSite::Lax);
        HeaderValue::from_str(&c.encoded().to_string())
            .expect("cookie names and base64url values are valid header text")
    }
}

#[cfg(test)]
mod tests;
