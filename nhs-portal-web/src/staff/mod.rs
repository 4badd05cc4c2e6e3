//! The trust staff worklist page: the booking team sees patients' pending cancel and reschedule
//! requests and marks each done (fulfilled) or rejected, through
//! [`nhs_portal_pas::worklist::Worklist`]. Mounted in the portal at `/staff`.
//!
//! Staff sign in one of two ways, chosen when the pages are built:
//! - **The trust's OpenID Connect identity provider** ([`StaffPages::with_oidc`], `oidc`):
//!   `/staff/sign-in/start` redirects to the provider (code flow, PKCE, state and nonce), and
//!   `/staff/sign-in/callback` admits only members of the allowed group (`oidc_flow`). The
//!   sign-in in progress is kept on the server under a random key held in a short-lived cookie
//!   of the browser that started it, so a callback in another browser, a forged `state` or a
//!   used one is refused. No shared code is accepted.
//! - **A shared access code** ([`StaffPages::new`], demo mode only): staff give their name and
//!   the code from configuration (the reference portal prints a generated one). Failed sign-ins
//!   are limited per client and overall (`attempts`): over the limit the sign-in page answers
//!   429 without checking the code.
//!
//! Staff sessions are kept in this process's memory, in an `HttpOnly` cookie scoped to `/staff`
//! (`SameSite=Strict` with the access code; `SameSite=Lax` after the provider's sign-in, since a
//! browser withholds a `Strict` cookie on the redirect chain that began at the provider), and
//! every POST carries the staff session's CSRF token.
//!
//! Over 400 lines because the one handler routes both ways of signing in and the worklist's
//! actions; the provider's flow itself is in `oidc` and `oidc_flow`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{RequestKind, RequestOutcome};
use nhs_portal_core::uk_time::{self, UkLocal};
use nhs_portal_core::{OdsCode, Organisation};
use nhs_portal_pas::worklist::{Worklist, WorklistError};

use crate::http_kit::{self, Form, Handler};
use crate::pages::{Layout, Pages};
use crate::session::random_token;
use views::{ItemView, StaffView, TrustView};

mod attempts;
pub mod oidc;
mod oidc_flow;
mod views;

pub use oidc::{
    StaffClientCredential, StaffIdentity, StaffOidc, StaffOidcConfig, StaffSignInError,
};

const COOKIE: &str = "nhs_portal_staff";
const STAFF_SESSION: Duration = Duration::hours(8);
const TOO_MANY_ATTEMPTS: &str = "There have been too many attempts to sign in. Wait 15 minutes, then try again. If you have forgotten the access code, ask your system administrator.";

#[derive(Debug, Clone)]
pub(crate) struct StaffSession {
    pub(crate) name: String,
    pub(crate) csrf: String,
    expires: DateTime<Utc>,
}

/// How staff prove who they are.
enum SignIn {
    /// The shared access code (demo mode).
    AccessCode(String),
    /// The trust's OpenID Connect provider.
    Oidc(Arc<StaffOidc>),
}

/// The staff worklist pages.
pub struct StaffPages {
    worklist: Worklist,
    trusts: Vec<Organisation>,
    sign_in: SignIn,
    pages: Pages,
    clock: Arc<dyn Clock>,
    secure: bool,
    sessions: Mutex<HashMap<String, StaffSession>>,
    attempts: attempts::Attempts,
    /// Sign-ins with the provider in progress, by the key in each browser's cookie.
    logins: Mutex<HashMap<String, oidc::PendingStaffLogin>>,
}

impl std::fmt::Debug for StaffPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffPages")
            .field("trusts", &self.trusts)
            .finish_non_exhaustive()
    }
}

impl StaffPages {
    /// Staff pages over a worklist for these trusts, opened by `access_code` (demo mode only:
    /// a live portal signs staff in with [`StaffPages::with_oidc`]). `secure` marks the
    /// cookie `Secure` (false only on plain-http localhost).
    pub fn new(
        worklist: Worklist,
        trusts: Vec<Organisation>,
        access_code: impl Into<String>,
        clock: Arc<dyn Clock>,
        secure: bool,
    ) -> Result<Self, crate::pages::PageError> {
        Self::build(
            worklist,
            trusts,
            SignIn::AccessCode(access_code.into()),
            clock,
            secure,
        )
    }

    /// Staff pages over a worklist for these trusts, signing staff in through the trust's
    /// OpenID Connect provider (no access code is accepted). `secure` as for
    /// [`StaffPages::new`].
    pub fn with_oidc(
        worklist: Worklist,
        trusts: Vec<Organisation>,
        oidc: Arc<StaffOidc>,
        clock: Arc<dyn Clock>,
        secure: bool,
    ) -> Result<Self, crate::pages::PageError> {
        Self::build(worklist, trusts, SignIn::Oidc(oidc), clock, secure)
    }

    fn build(
        worklist: Worklist,
        trusts: Vec<Organisation>,
        sign_in: SignIn,
        clock: Arc<dyn Clock>,
        secure: bool,
    ) -> Result<Self, crate::pages::PageError> {
        Ok(Self {
            worklist,
            trusts,
            sign_in,
            pages: Pages::new()?,
            clock,
            secure,
            sessions: Mutex::new(HashMap::new()),
            attempts: attempts::Attempts::default(),
            logins: Mutex::new(HashMap::new()),
        })
    }

    /// Starts a staff session for `name`; returns the cookie that carries it.
    fn start_session(&self, name: &str) -> Option<HeaderValue> {
        let token = random_token();
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                StaffSession {
                    name: name.to_owned(),
                    csrf: random_token(),
                    expires: self.clock.now() + STAFF_SESSION,
                },
            );
        self.cookie(&token, false)
    }

    fn session(&self, req: &Request<Bytes>) -> Option<StaffSession> {
        let token = http_kit::cookie_value(req.headers(), COOKIE)?;
        let now = self.clock.now();
        let mut g = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        g.retain(|_, s| s.expires > now);
        g.get(&token).cloned()
    }

    fn cookie(&self, value: &str, remove: bool) -> Option<HeaderValue> {
        let mut c = Cookie::build((COOKIE, value.to_owned()))
            .path("/staff")
            .http_only(true)
            .secure(self.secure)
            .same_site(match self.sign_in {
                SignIn::AccessCode(_) => SameSite::Strict,
                SignIn::Oidc(_) => SameSite::Lax,
            })
            .build();
        if remove {
            c.make_removal();
        }
        http_kit::set_cookie_value(&c)
    }

    fn html(&self, status: StatusCode, title: &str, view: &StaffView<'_>) -> Response<Bytes> {
        let layout = Layout {
            title: title.to_owned(),
            service_name: "Booking team worklist".into(),
            in_app: false,
            signed_in: false,
            csrf_token: String::new(),
            back_href: None,
            show_help: false,
            has_errors: !view.errors.is_empty(),
            timeout: None,
            path: "/staff".into(),
            go_home: false,
        };
        match self.pages.render_page("staff", &layout, view) {
            // A page of the portal's templates: the portal adds its CSP (ResponseKind::Page).
            Ok(html) => http_kit::page(status, html),
            Err(e) => {
                tracing::error!(error = %e, "staff page render failed");
                http_kit::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the worklist",
                )
            }
        }
    }

    fn sign_in_page(&self, error: bool) -> Response<Bytes> {
        let status = if error {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        let title = "Sign in to the booking team worklist";
        let view = match self.sign_in {
            SignIn::AccessCode(_) => StaffView::sign_in(error),
            SignIn::Oidc(_) => StaffView::oidc_sign_in(),
        };
        self.html(status, title, &view)
    }

    async fn list(&self, staff: &StaffSession, notice: Option<&str>) -> Response<Bytes> {
        let mut trusts = Vec::new();
        for org in &self.trusts {
            let items = match self.worklist.pending(&org.ods_code).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "worklist failed");
                    let view = StaffView::list(staff, Some("Try again later."), Vec::new());
                    let title = "Sorry, there is a problem with the worklist";
                    return self.html(StatusCode::SERVICE_UNAVAILABLE, title, &view);
                }
            };
            trusts.push(TrustView {
                name: org.name.clone(),
                ods: org.ods_code.as_str().to_owned(),
                items: items.iter().map(ItemView::of).collect(),
            });
        }
        let view = StaffView::list(staff, notice, trusts);
        self.html(StatusCode::OK, "Booking team worklist", &view)
    }

    async fn resolve(
        &self,
        staff: &StaffSession,
        id: &str,
        action: &str,
        f: &Form,
    ) -> Response<Bytes> {
        let (Ok(id), Some(ods)) = (
            uuid::Uuid::parse_str(id),
            f.get("ods")
                .and_then(|o| OdsCode::parse(o).ok())
                .filter(|o| self.trusts.iter().any(|t| &t.ods_code == o)),
        ) else {
            return self.list(staff, Some("That request was not found.")).await;
        };
        let result = if action == "reject" {
            self.worklist.reject(&ods, id, &staff.name, None).await
        } else {
            let pending = match self.worklist.pending(&ods).await {
                Ok(p) => p,
                Err(_) => {
                    return self
                        .list(
                            staff,
                            Some("Sorry, there is a problem with the worklist. Try again."),
                        )
                        .await;
                }
            };
            let Some(item) = pending.iter().find(|i| i.request.id == id) else {
                return self
                    .list(staff, Some("That request is no longer waiting."))
                    .await;
            };
            let outcome = match item.request.kind {
                RequestKind::Cancel => RequestOutcome::Cancelled,
                RequestKind::Reschedule => {
                    let start = f
                        .get("new_start")
                        .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
                        .and_then(|local| match uk_time::from_uk_local(local) {
                            UkLocal::Exact(t) => Some(t),
                            UkLocal::Ambiguous { earliest, .. } => Some(earliest),
                            _ => None,
                        });
                    match start {
                        Some(t) if t > self.clock.now() => RequestOutcome::Rescheduled {
                            replaced_by: None,
                            new_start: Some(t),
                        },
                        _ => {
                            return self
                                .list(
                                    staff,
                                    Some("Enter a new date and time in the future (UK time)."),
                                )
                                .await;
                        }
                    }
                }
            };
            self.worklist
                .fulfil(&ods, id, &staff.name, &outcome, None)
                .await
        };
        match result {
            Ok(_) => http_kit::redirect("/staff?done=1"),
            Err(WorklistError::NotPending | WorklistError::NotFound) => {
                self.list(staff, Some("That request is no longer waiting."))
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "worklist action failed");
                self.list(
                    staff,
                    Some("That could not be done. Nothing has been changed. Try again."),
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Handler for StaffPages {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        let session = self.session(&req);
        match (req.method().clone(), path.as_str(), session) {
            (Method::GET, "/staff", None) => self.sign_in_page(false),
            (Method::GET, "/staff", Some(s)) => {
                let done = req.uri().query().is_some_and(|q| q.contains("done=1"));
                self.list(
                    &s,
                    done.then_some("Done. The patient's appointment has been updated."),
                )
                .await
            }
            (Method::GET, "/staff/sign-in/start", _) => match &self.sign_in {
                SignIn::Oidc(oidc) => self.start_oidc(oidc, &req),
                SignIn::AccessCode(_) => http_kit::redirect("/staff"),
            },
            (Method::GET, "/staff/sign-in/callback", _) => match &self.sign_in {
                SignIn::Oidc(oidc) => self.oidc_callback(oidc, &req).await,
                SignIn::AccessCode(_) => http_kit::redirect("/staff"),
            },
            (Method::POST, "/staff/sign-in", _) => {
                let SignIn::AccessCode(access_code) = &self.sign_in else {
                    // No shared code opens a worklist whose staff sign in with the provider.
                    return self.sign_in_page(false);
                };
                let (client, now) = (http_kit::client_key(&req), self.clock.now());
                if !self.attempts.allowed(&client, now) {
                    tracing::warn!("staff sign-in refused: too many failed attempts");
                    let view = StaffView::sign_in(false).with_notice(TOO_MANY_ATTEMPTS);
                    let title = "Too many sign-in attempts";
                    return self.html(StatusCode::TOO_MANY_REQUESTS, title, &view);
                }
                let f = Form::parse(req.body());
                let name = f.get("name").map(|n| n.trim()).unwrap_or("");
                let code_ok = f.get("code").is_some_and(|c| {
                    crate::nhs_login::constant_time_eq(c.as_bytes(), access_code.as_bytes())
                });
                if name.is_empty() || name.chars().count() > 100 || !code_ok {
                    self.attempts.failed(&client, now);
                    return self.sign_in_page(true);
                }
                self.attempts.succeeded(&client);
                http_kit::with_cookie(http_kit::redirect("/staff"), self.start_session(name))
            }
            (Method::POST, p, Some(s)) => {
                let f = Form::parse(req.body());
                if !f.get("csrf_token").is_some_and(|t| {
                    crate::nhs_login::constant_time_eq(t.as_bytes(), s.csrf.as_bytes())
                }) {
                    let notice = "Nothing has been changed. Go back to the worklist and try again.";
                    let view = StaffView::list(&s, Some(notice), Vec::new());
                    return self.html(StatusCode::FORBIDDEN, "This page has expired", &view);
                }
                if p == "/staff/sign-out" {
                    self.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|_, v| v.csrf != s.csrf);
                    return http_kit::with_cookie(
                        http_kit::redirect("/staff"),
                        self.cookie("", true),
                    );
                }
                let parts: Vec<&str> = p
                    .trim_start_matches("/staff/requests/")
                    .split('/')
                    .collect();
                match parts.as_slice() {
                    [id, action @ ("fulfil" | "reject")] => self.resolve(&s, id, action, &f).await,
                    _ => http_kit::redirect("/staff"),
                }
            }
            (Method::POST, _, None) => http_kit::redirect("/staff"),
            _ => http_kit::redirect("/staff"),
        }
    }
}
