//! The browser side of the staff sign-in with the trust's provider: starting it (a sign-in kept
//! on the server under a random key, the key in a cookie of this browser) and the callback
//! (that browser's sign-in only, its `state` only, once).

use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Request, Response, StatusCode};

use super::oidc::{PendingStaffLogin, StaffOidc, StaffSignInError};
use super::views::StaffView;
use super::{StaffPages, random_token};
use crate::http_kit::{self, Form};

/// The cookie holding this browser's key of its sign-in in progress.
const LOGIN_COOKIE: &str = "nhs_portal_staff_sign_in";
/// Most sign-ins in progress kept at once (the oldest is forgotten beyond this).
const MAX_LOGINS: usize = 10_000;

impl StaffPages {
    /// The cookie binding a sign-in to this browser: `SameSite=Lax` so that the provider's
    /// top-level redirect back carries it, scoped to the sign-in paths, gone in 10 minutes.
    fn login_cookie(&self, value: &str, remove: bool) -> Option<HeaderValue> {
        let mut c = Cookie::build((LOGIN_COOKIE, value.to_owned()))
            .path("/staff/sign-in")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::minutes(10))
            .build();
        if remove {
            c.make_removal();
        }
        http_kit::set_cookie_value(&c)
    }

    /// `GET /staff/sign-in/start`: keeps the sign-in and redirects to the provider.
    pub(super) fn start_oidc(&self, oidc: &StaffOidc, _req: &Request<Bytes>) -> Response<Bytes> {
        let (url, pending) = oidc.begin();
        let key = random_token();
        let now = self.clock.now();
        let ttl = oidc.config().login_ttl;
        {
            let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
            logins.retain(|_, p| now - p.created_at <= ttl);
            if logins.len() >= MAX_LOGINS
                && let Some(oldest) = logins
                    .iter()
                    .min_by_key(|(_, p)| p.created_at)
                    .map(|(k, _)| k.clone())
            {
                logins.remove(&oldest);
            }
            logins.insert(key.clone(), pending);
        }
        http_kit::with_cookie(
            http_kit::redirect_with(StatusCode::SEE_OTHER, url.as_str()),
            self.login_cookie(&key, false),
        )
    }

    /// This browser's sign-in, taken (so used once), if the callback's `state` is its own.
    fn take_login(&self, req: &Request<Bytes>, state: Option<&str>) -> Option<PendingStaffLogin> {
        let key = http_kit::cookie_value(req.headers(), LOGIN_COOKIE)?;
        let pending = self
            .logins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)?;
        let state = state?;
        crate::nhs_login::constant_time_eq(state.as_bytes(), pending.state.as_bytes())
            .then_some(pending)
    }

    /// `GET /staff/sign-in/callback`: checks the answer and starts the staff session.
    pub(super) async fn oidc_callback(
        &self,
        oidc: &StaffOidc,
        req: &Request<Bytes>,
    ) -> Response<Bytes> {
        let q = Form::query(req.uri().query());
        let result = match self.take_login(req, q.get("state")) {
            Some(pending) => oidc.complete(&pending, q.get("error"), q.get("code")).await,
            None => Err(StaffSignInError::UnknownState),
        };
        let forget = self.login_cookie("", true);
        match result {
            Ok(identity) => {
                // The staff member's name is theirs to see, not the log's.
                tracing::info!("staff signed in through the identity provider");
                let res = http_kit::with_cookie(
                    http_kit::redirect("/staff"),
                    self.start_session(&identity.name),
                );
                http_kit::with_cookie(res, forget)
            }
            Err(e) => {
                tracing::warn!(error = %e, "staff sign-in through the identity provider failed");
                let (status, title, notice) = match &e {
                    StaffSignInError::NotInGroup => (
                        StatusCode::FORBIDDEN,
                        "You cannot use the booking team worklist",
                        "Your account is not in the group allowed to use the worklist. Ask your system administrator for access, or sign in with another account.",
                    ),
                    e if e.is_unavailable() => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Sorry, there is a problem with signing in",
                        "The sign-in service could not be reached. Try again later.",
                    ),
                    _ => (
                        StatusCode::BAD_REQUEST,
                        "Sign-in did not work",
                        "You have not been signed in. Start again from the worklist's sign-in page.",
                    ),
                };
                let view = StaffView::oidc_sign_in().with_notice(notice);
                http_kit::with_cookie(self.html(status, title, &view), forget)
            }
        }
    }
}
