use super::*;
use chrono::TimeZone;
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::store::memory::MemoryStore;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn setup() -> (SessionManager, Arc<ManualClock>, Arc<MemoryStore>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Arc::new(MemoryStore::new());
    let m = SessionManager::new(store.clone(), SessionConfig::default()).with_clock(clock.clone());
    (m, clock, store)
}

fn patient() -> NhsNumber {
    NhsNumber::parse("9000000009").unwrap()
}

fn cookie_headers(set_cookie: &HeaderValue) -> HeaderMap {
    let pair = set_cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut h = HeaderMap::new();
    h.insert(
        http::header::COOKIE,
        format!("other=1; {pair}").parse().unwrap(),
    );
    h
}

fn active(state: SessionState) -> ActiveSession {
    match state {
        SessionState::Active(a) => *a,
        other => panic!("expected an active session, got {other:?}"),
    }
}

#[tokio::test]
async fn the_cookie_is_secure_httponly_lax_with_a_random_id() {
    let (m, _, _) = setup();
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let text = c.to_str().unwrap();
    assert!(text.starts_with(&format!("nhs_portal_session={}", s.id.as_str())));
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(text.contains(attr), "{text} lacks {attr}");
    }
    assert_eq!(s.id.as_str().len(), 43);
    assert_ne!(s.csrf_token, s.id.as_str());
    let (s2, _) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    assert_ne!(s.id, s2.id);
}

#[test]
fn secure_is_dropped_only_for_plain_http_localhost() {
    let cases = [
        ("http://localhost:8080", false),
        ("http://127.0.0.1:3000", false),
        ("http://[::1]:3000", false),
        ("https://localhost", true),
        ("http://portal.example", true),
        ("http://localhost.example", true),
        ("https://portal.example", true),
    ];
    for (url, secure) in cases {
        let cfg = SessionConfig::for_base_url(&url::Url::parse(url).unwrap());
        assert_eq!(cfg.secure_cookie, secure, "{url}");
    }
    let m = SessionManager::new(
        Arc::new(MemoryStore::new()),
        SessionConfig::for_base_url(&url::Url::parse("http://localhost:1").unwrap()),
    );
    let text = m
        .set_cookie(&SessionId::new("x".repeat(43)))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !text.contains("Secure") && text.contains("HttpOnly"),
        "{text}"
    );
}

#[tokio::test]
async fn load_finds_the_session_and_warns_after_nine_minutes() {
    let (m, clock, _) = setup();
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let h = cookie_headers(&c);
    let a = active(m.load(&h).await.unwrap());
    assert_eq!(a.session, s);
    assert_eq!(a.seconds_left, 600);
    assert!(!a.warn);
    clock.advance(Duration::minutes(9));
    let a = active(m.load(&h).await.unwrap());
    assert_eq!(a.seconds_left, 60);
    assert!(a.warn);
    // Activity restarts the timer.
    assert!(m.touch(&a.session).await.unwrap());
    let a = active(m.load(&h).await.unwrap());
    assert_eq!(a.seconds_left, 600);
    assert!(!a.warn);
}

#[tokio::test]
async fn an_idle_session_expires_and_is_deleted() {
    let (m, clock, store) = setup();
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let h = cookie_headers(&c);
    clock.advance(Duration::minutes(10));
    assert_eq!(m.load(&h).await.unwrap(), SessionState::Expired);
    assert_eq!(store.get_session(&s.id).await.unwrap(), None);
    // Once deleted, the cookie leads nowhere.
    assert_eq!(m.load(&h).await.unwrap(), SessionState::None);
}

#[tokio::test]
async fn an_active_session_still_ends_at_the_absolute_limit() {
    let (m, clock, _) = setup();
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    assert_eq!(s.absolute_expiry, t0() + Duration::hours(12));
    let h = cookie_headers(&c);
    // Active every 5 minutes for 11h55m.
    for _ in 0..143 {
        clock.advance(Duration::minutes(5));
        let a = active(m.load(&h).await.unwrap());
        m.touch(&a.session).await.unwrap();
    }
    let a = active(m.load(&h).await.unwrap());
    assert_eq!(
        a.seconds_left, 300,
        "the absolute limit is sooner than the idle one"
    );
    clock.advance(Duration::minutes(5));
    assert_eq!(m.load(&h).await.unwrap(), SessionState::Expired);
}

#[tokio::test]
async fn admit_touches_live_sessions_and_applies_the_timeout_and_sso_policy() {
    let (m, clock, _) = setup();
    assert_eq!(
        m.admit(&HeaderMap::new(), false).await.unwrap(),
        Admission::SignIn
    );
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let h = cookie_headers(&c);
    clock.advance(Duration::minutes(9));
    let Admission::SignedIn(a) = m.admit(&h, false).await.unwrap() else {
        panic!("expected a signed-in admission");
    };
    // Touched: the idle timer restarted, and the returned session says so.
    assert_eq!(a.session.id, s.id);
    assert_eq!(a.session.last_seen_at, t0() + Duration::minutes(9));
    assert_eq!(a.seconds_left, 600);
    assert!(!a.warn);
    clock.advance(Duration::minutes(10));
    assert_eq!(m.admit(&h, false).await.unwrap(), Admission::TimedOut);
    // Once gone, the cookie leads to a plain sign-in.
    assert_eq!(m.admit(&h, false).await.unwrap(), Admission::SignIn);
    // A timed-out session with the NHS App's SSO assertion signs in again silently.
    let (_, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    clock.advance(Duration::minutes(10));
    assert_eq!(
        m.admit(&cookie_headers(&c), true).await.unwrap(),
        Admission::SignIn
    );
}

#[tokio::test]
async fn sso_offered_to_a_live_session_reauthenticates_without_touching_it() {
    let (m, clock, _) = setup();
    let who = NewSession::new(patient());
    let (s, c) = m.start(&HeaderMap::new(), who).await.unwrap();
    clock.advance(Duration::minutes(5));
    let h = cookie_headers(&c);
    let Admission::Reauthenticate(a) = m.admit(&h, true).await.unwrap() else {
        panic!("expected SSO to re-establish identity");
    };
    assert_eq!(a.session.id, s.id);
    assert_eq!(a.session.last_seen_at, t0(), "not touched");
    assert!(m.has_cookie(&h));
    assert!(!m.has_cookie(&HeaderMap::new()));
}

#[test]
fn the_absolute_limit_is_capped_at_twelve_hours() {
    let cfg = SessionConfig {
        absolute_timeout: Duration::hours(48),
        ..SessionConfig::default()
    };
    let m = SessionManager::new(Arc::new(MemoryStore::new()), cfg);
    assert_eq!(m.config().absolute_timeout, Duration::hours(12));
}

#[tokio::test]
async fn sign_in_replaces_a_session_the_browser_already_had() {
    // Session fixation: an id planted before sign-in must not survive it.
    let (m, _, store) = setup();
    let (old, old_cookie) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let old_headers = cookie_headers(&old_cookie);
    let (new, new_cookie) = m
        .start(
            &old_headers,
            NewSession::new(NhsNumber::parse("9000000017").unwrap()),
        )
        .await
        .unwrap();
    assert_ne!(old.id, new.id);
    assert_eq!(store.get_session(&old.id).await.unwrap(), None);
    assert_eq!(m.load(&old_headers).await.unwrap(), SessionState::None);
    assert_eq!(
        active(m.load(&cookie_headers(&new_cookie)).await.unwrap())
            .session
            .id,
        new.id
    );
}

#[tokio::test]
async fn forged_and_unknown_cookies_are_no_session() {
    let (m, _, _) = setup();
    m.start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let forged = [
        "nhs_portal_session=".to_owned(),
        "nhs_portal_session=admin".to_owned(),
        format!("nhs_portal_session={}", "A".repeat(43)),
        format!("nhs_portal_session={}", "A".repeat(44)),
        "nhs_portal_session=%00%01".to_owned(),
        "garbage;;;=".to_owned(),
    ];
    for c in forged {
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, c.parse().unwrap());
        assert_eq!(m.load(&h).await.unwrap(), SessionState::None, "{c}");
    }
    assert_eq!(m.load(&HeaderMap::new()).await.unwrap(), SessionState::None);
}

#[tokio::test]
async fn sign_out_deletes_the_session_and_clears_the_cookie() {
    let (m, _, store) = setup();
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let h = cookie_headers(&c);
    let clear = m.end(&h).await.unwrap();
    let text = clear.to_str().unwrap();
    assert!(text.starts_with("nhs_portal_session=;"), "{text}");
    assert!(text.contains("Max-Age=0"), "{text}");
    assert_eq!(store.get_session(&s.id).await.unwrap(), None);
    assert_eq!(m.load(&h).await.unwrap(), SessionState::None);
}

#[test]
fn a_completed_login_opens_a_session_for_its_patient() {
    use crate::nhs_login::{CompletedLogin, NhsIdentity};
    use nhs_portal_core::store::PendingLogin;
    let login = CompletedLogin {
        identity: NhsIdentity {
            subject: "s".into(),
            nhs_number: patient(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 2),
            family_name: Some("Smith".into()),
            given_name: Some("Jane".into()),
            vot: "P9.Cp.Cd".into(),
            identity_proofing_level: "P9".into(),
            jti: None,
            expires_at: t0() + chrono::Duration::hours(1),
        },
        pending: PendingLogin {
            state: "st".into(),
            nonce: "n".into(),
            pkce_verifier: None,
            return_to: "/".into(),
            created_at: t0(),
            in_nhs_app: true,
            tracking_id: Some("track-1".into()),
            sso: true,
        },
    };
    let s = NewSession::from_login(&login);
    assert_eq!(s.patient, patient());
    assert_eq!(s.date_of_birth, NaiveDate::from_ymd_opt(1980, 1, 2));
    assert_eq!(s.display_name.as_deref(), Some("Jane Smith"));
    assert!(s.in_nhs_app);
    assert_eq!(s.tracking_id.as_deref(), Some("track-1"));
}

#[tokio::test]
async fn csrf_tokens_are_per_session() {
    let (m, _, _) = setup();
    let (a, _) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let (b, _) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    assert!(SessionManager::check_csrf(&a, &a.csrf_token.clone()));
    assert!(!SessionManager::check_csrf(&a, &b.csrf_token));
    assert!(!SessionManager::check_csrf(&a, ""));
    assert!(!SessionManager::check_csrf(&a, &a.csrf_token[..42]));
}

/// A [`SessionStore`] over a [`MemoryStore`] that counts `touch_session` writes.
#[derive(Default)]
struct CountingTouches {
    inner: MemoryStore,
    touches: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl SessionStore for CountingTouches {
    async fn create_session(&self, s: &PatientSession) -> Result<(), StoreError> {
        self.inner.create_session(s).await
    }
    async fn get_session(&self, id: &SessionId) -> Result<Option<PatientSession>, StoreError> {
        self.inner.get_session(id).await
    }
    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.touches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.touch_session(id, at).await
    }
    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        self.inner.delete_session(id).await
    }
    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.inner.delete_expired_sessions(idle_before, now).await
    }
    async fn put_pending_login(
        &self,
        login: &nhs_portal_core::store::PendingLogin,
    ) -> Result<(), StoreError> {
        self.inner.put_pending_login(login).await
    }
    async fn take_pending_login(
        &self,
        state: &str,
    ) -> Result<Option<nhs_portal_core::store::PendingLogin>, StoreError> {
        self.inner.take_pending_login(state).await
    }
}

#[tokio::test]
async fn activity_is_written_at_most_once_per_granularity() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Arc::new(CountingTouches::default());
    let m = SessionManager::new(store.clone(), SessionConfig::default()).with_clock(clock.clone());
    let touches = || store.touches.load(std::sync::atomic::Ordering::SeqCst);
    let (s, c) = m
        .start(&HeaderMap::new(), NewSession::new(patient()))
        .await
        .unwrap();
    let h = cookie_headers(&c);
    let signed_in = |a: Admission| match a {
        Admission::SignedIn(a) => *a,
        other => panic!("expected a signed-in admission, got {other:?}"),
    };
    // A view 14 s after the recorded activity writes nothing; its timing is from the
    // recorded activity, which is what the store will enforce.
    clock.advance(ACTIVITY_GRANULARITY - Duration::seconds(1));
    let a = signed_in(m.admit(&h, false).await.unwrap());
    assert_eq!(touches(), 0, "no write within the granularity");
    assert_eq!(a.session.last_seen_at, t0());
    assert_eq!(a.seconds_left, 600 - 14);
    // One 15 s after it writes, and the timer restarts from now.
    clock.advance(Duration::seconds(1));
    let a = signed_in(m.admit(&h, false).await.unwrap());
    assert_eq!(touches(), 1, "written once the stored activity is 15 s old");
    assert_eq!(a.session.last_seen_at, t0() + ACTIVITY_GRANULARITY);
    assert_eq!(a.seconds_left, 600);
    let stored = store.get_session(&s.id).await.unwrap().unwrap();
    assert_eq!(stored.last_seen_at, t0() + ACTIVITY_GRANULARITY);
    // The bound: a patient active every 14 s is never written again before 15 s have
    // passed, so the session can end at most 15 s early and never late.
    clock.advance(Duration::seconds(14));
    signed_in(m.admit(&h, false).await.unwrap());
    assert_eq!(touches(), 1);
    clock.advance(Duration::minutes(10) - Duration::seconds(14));
    assert_eq!(m.admit(&h, false).await.unwrap(), Admission::TimedOut);
}
