//! Signing in and out: starting an NHS login sign-in, its callback (the date-of-birth check
//! against the PAS record, then a new session, its audit record and reporting event), the page
//! for each way a sign-in can fail, signing out, and "Stay signed in".
//!
//! (About 470 lines: the callback's cases, browser binding, SSO over a live session and
//! the date-of-birth refusal, read together; the binding cookie is in `binding`, the `SESSION`
//! events in `reporting`.)
//!
//! - The callback is completed only in the browser that started the sign-in ([`binding`]);
//!   from any other it ends on "Sign in again", signs nobody in and leaves that browser's own
//!   session alone.
//! - Single sign-on over a live session (see [`crate::session::Admission::Reauthenticate`]):
//!   the same patient keeps their session; another patient's sign-in ends it first; a failed
//!   one ends it too (the device has changed hands, and the NHS App's user is not known).
//! - Signing out leaves a marker cookie, so the next sign-in in this browser asks NHS login for
//!   a fresh sign-in (`prompt=login`) rather than reusing NHS login's own session.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use nhs_portal_core::ReportingEvent;
use nhs_portal_core::eligibility::Ineligible;
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::store::{AuditAction, AuditRecord};

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use nhs_portal_core::store::PatientSession;

use super::Inner;
use super::change::draft::clear_draft_cookie;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::{Empty, Link, Message};
use crate::http_kit::{self, Form};
use crate::journeys::JourneyError;
use crate::session::NewSession;
use crate::sign_in::{FailedSignIn, SignInFailure, SignInStart};
use nhs_portal_core::reporting::SessionOutcome;

pub(super) mod binding;
mod reporting;

/// The marker a sign-out leaves: the next sign-in in this browser sends `prompt=login`.
const SIGNED_OUT_COOKIE: &str = "nhs_portal_signed_out";

/// How long the sign-out marker lasts (a week: a shared device's next user may come days later).
const SIGNED_OUT_MAX_AGE: cookie::time::Duration = cookie::time::Duration::days(7);

const HOME: &str = "/patient-portal/appointments";

const SSO_FAILED: Message = Message::new(&[
    "We could not sign you in from the NHS App.",
    "Go back to the NHS App, log in again and try again.",
])
.link(Link::to_appointments("Go back to the NHS App").app_home());

const IDENTITY_TOO_LOW: Message = Message::new(&[
    "To see and change your hospital appointments, your NHS login needs to be fully verified. This means proving who you are with photo ID or with details from your GP surgery.",
    "You can do this in the NHS App or on the NHS login website. Checks can take up to 24 hours.",
    "Until then, you can contact the hospital's booking team using the phone number on your appointment letter.",
])
.link(NHS_LOGIN_HELP);

/// The identity-too-low page's way on in a browser: NHS login's own help with proving who you are.
const NHS_LOGIN_HELP: Link = Link {
    href: "https://help.login.nhs.uk/",
    text: "Get help with NHS login",
    app_home: false,
    appointments: false,
    uplift: false,
};

/// Inside the NHS App: the app's own journey for proving who you are (`portal.mjs` calls the JS
/// API's `goToPage(UPLIFT)`); without the script the link leads to NHS login's help.
const NHS_APP_UPLIFT: Link = Link {
    text: "Prove who you are in the NHS App",
    uplift: true,
    ..NHS_LOGIN_HELP
};

const SIGN_IN_EXPIRED: Message = Message::new(&[
    "This can happen if you used the back button, or took a long time to sign in. Nothing has been changed.",
])
.link(Link::to_appointments("Try signing in again"));

const UNAVAILABLE: Message = Message::new(&[
    "NHS login is not working at the moment. Try again later.",
    "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
])
.link(Link::to_appointments("Try signing in again"));

const FAILED: Message = Message::new(&[
    "We could not sign you in with NHS login. Try again, or go back to the NHS App.",
])
.link(Link::to_appointments("Try signing in again"));

const SIGN_IN_AGAIN: Message = Message::new(&[
    "We could not finish signing you in. The sign-in was not started in this browser, or it has already been used. Nothing has been changed.",
    "If someone sent you a link to sign in, do not use it. Sign in again yourself.",
])
.link(Link::to_appointments("Sign in again"));

const SIGNED_OUT: Message = Message::new(&[
    "Close this tab to go back to the NHS App, or sign in again to see your appointments.",
])
.link(Link::to_appointments("Sign in again"))
.calm();

impl Inner {
    pub(super) async fn sign_in_start(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        if self.optional_session(req).await.is_some() {
            return http_kit::redirect(HOME);
        }
        let return_to = http_kit::query_param(ctx.query.as_deref(), "return_to")
            .filter(|r| is_safe_portal_return(r))
            .unwrap_or_else(|| HOME.into());
        self.begin_sign_in(
            ctx,
            req,
            SignInStart {
                return_to,
                in_nhs_app: ctx.ua_in_app,
                tracking_id: None,
                asserted_login_identity: None,
                force_login: false,
            },
        )
        .await
    }

    /// The callback: only in the browser that started the sign-in (the `state` is bound to it),
    /// except NHS login's error answer without a state, which signs nobody in.
    pub(super) async fn sign_in_callback(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
    ) -> Response<Bytes> {
        let query = ctx.query.as_deref().unwrap_or("");
        let state = http_kit::query_param(Some(query), "state").filter(|s| !s.is_empty());
        let existing = self.optional_session(req).await;
        let bound = match &state {
            Some(s) => binding::is_bound(req.headers(), s),
            None => http_kit::query_param(Some(query), "error").is_some(),
        };
        if !bound {
            tracing::warn!(
                signed_in = existing.is_some(),
                "sign-in callback refused: not started in this browser"
            );
            return self.message(
                ctx,
                existing.as_ref(),
                StatusCode::BAD_REQUEST,
                "Sign in again",
                &SIGN_IN_AGAIN,
                PageOpts::default(),
            );
        }
        let unbind = state
            .as_deref()
            .and_then(|s| binding::unbind(req.headers(), s, self.secure_cookies));
        let res = self.finish_sign_in(ctx, req, query, existing).await;
        http_kit::with_cookie(res, unbind)
    }

    async fn finish_sign_in(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        query: &str,
        existing: Option<PatientSession>,
    ) -> Response<Bytes> {
        let signed_in = match (self.sign_in.complete(query).await, &existing) {
            (Ok(s), _) => s,
            // Back button onto a used callback while signed in: carry on, no error page.
            (Err(f), Some(_)) if f.failure == SignInFailure::StateMismatch => {
                return http_kit::redirect(HOME);
            }
            // Single sign-on failed over a live session: the NHS App's user is not known, and
            // may not be the session's patient, so that session ends.
            (Err(f), Some(old)) if f.failure == SignInFailure::SsoFailed => {
                super::telemetry::sign_in("sso_failed", true);
                self.report_failed_sign_in(ctx, req, &f).await;
                let res = self.sign_in_failed(ctx, f.failure);
                return self.end_live_session(ctx, req, old, res).await;
            }
            (Err(f), _) => {
                let sso = f.failure == SignInFailure::SsoFailed;
                super::telemetry::sign_in(super::telemetry::failure(&f.failure), sso);
                self.report_failed_sign_in(ctx, req, &f).await;
                return self.sign_in_failed(ctx, f.failure);
            }
        };
        let target = if is_safe_portal_return(&signed_in.return_to) {
            signed_in.return_to.clone()
        } else {
            HOME.to_owned()
        };
        // The deep link's jump-off is reported on the page it returns to (APPT-VIEW with its
        // tracking id), whichever way the sign-in went.
        let target = reporting::with_tracking_id(&target, signed_in.tracking_id.as_deref());
        // A date of birth that differs from the PAS record's may be another person: no session,
        // and a live session of someone else on this browser ends too (shared device). (The
        // other eligibility rules refuse on every page, with the session kept so the patient
        // can sign out.)
        match self
            .journeys
            .check_eligible(&signed_in.patient, signed_in.date_of_birth, None)
            .await
        {
            Ok(()) => {}
            Err(JourneyError::Ineligible(why @ Ineligible::DateOfBirthMismatch)) => {
                let event = reporting::session_event(
                    ctx,
                    req,
                    reporting::Attempt {
                        patient: &signed_in.patient,
                        session_id: None,
                        in_nhs_app: signed_in.in_nhs_app || signed_in.nhs_app_sso,
                        tracking_id: signed_in.tracking_id.as_deref(),
                    },
                    SessionOutcome::DobMismatch,
                    self.clock.now(),
                );
                super::telemetry::sign_in("dob_mismatch", signed_in.nhs_app_sso);
                self.enqueue_session_event(event).await;
                let res = self.ineligible(ctx, None, why);
                return match &existing {
                    Some(old) if old.patient != signed_in.patient => {
                        self.end_live_session(ctx, req, old, res).await
                    }
                    _ => res,
                };
            }
            Err(JourneyError::Ineligible(_)) => {}
            Err(e) => {
                tracing::error!(error = %e, "eligibility check at sign-in failed");
                return self.problem(ctx, None);
            }
        }
        let forget_sign_out = self.forget_sign_out(req.headers());
        match &existing {
            // The same patient again (single sign-on over their own session): it carries on.
            Some(old) if old.patient == signed_in.patient => {
                return http_kit::with_cookie(http_kit::redirect(&target), forget_sign_out);
            }
            // Another patient: the previous one's session ends (`start` deletes it).
            Some(old) => self.audit_signed_out(old).await,
            None => {}
        }
        let now = self.clock.now();
        // A new sign-in always gets a new session id (no fixation); any old one ends.
        let who = NewSession {
            patient: signed_in.patient.clone(),
            date_of_birth: signed_in.date_of_birth,
            display_name: signed_in.display_name.clone(),
            in_nhs_app: signed_in.in_nhs_app || ctx.ua_in_app,
            tracking_id: signed_in.tracking_id.clone(),
        };
        let (session, cookie) = match self.sessions.start(req.headers(), who).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "could not start a session");
                return self.problem(ctx, None);
            }
        };
        let audit = AuditRecord {
            at: now,
            patient: session.patient.clone(),
            actor: "patient".into(),
            session: Some(session.reporting_id.clone()),
            action: AuditAction::SignedIn,
            appointment: None,
            detail: None,
        };
        let event = reporting::session_event(
            ctx,
            req,
            reporting::Attempt {
                patient: &session.patient,
                session_id: Some(&session.reporting_id),
                in_nhs_app: session.in_nhs_app || signed_in.nhs_app_sso,
                tracking_id: session.tracking_id.as_deref(),
            },
            SessionOutcome::Success,
            now,
        );
        // The audit record and its reporting event in one transaction.
        if self.store.record(&audit, &[event]).await.is_err() {
            return self.problem(ctx, None);
        }
        super::telemetry::sign_in("success", signed_in.nhs_app_sso);
        let res = http_kit::with_cookie(http_kit::redirect(&target), cookie);
        http_kit::with_cookie(res, forget_sign_out)
    }

    /// Reports a failed sign-in (`SESSION` with `Status: failed`) when its patient is known
    /// (see [`crate::sign_in::FailedSignIn::patient`]); the others cannot be reported (see
    /// `reporting`).
    async fn report_failed_sign_in(&self, ctx: &Ctx, req: &Request<Bytes>, f: &FailedSignIn) {
        let Some(patient) = &f.patient else { return };
        let event = reporting::session_event(
            ctx,
            req,
            reporting::Attempt {
                patient,
                session_id: None,
                in_nhs_app: f.in_nhs_app,
                tracking_id: f.tracking_id.as_deref(),
            },
            SessionOutcome::Failed,
            self.clock.now(),
        );
        self.enqueue_session_event(event).await;
    }

    /// Queues a refused sign-in's `SESSION` event (no session, so no audit record goes with
    /// it); a store failure is logged and the patient still gets their page.
    async fn enqueue_session_event(&self, event: ReportingEvent) {
        if let Err(e) = self.store.enqueue_events(&[event]).await {
            tracing::error!(error = %e, "could not queue a refused sign-in's SESSION event");
        }
    }

    /// The `Set-Cookie` that binds a sign-in starting at `authorize_url` to this browser; `None`
    /// when the URL has no `state` (nothing to bind: the sign-in must not start).
    pub(super) fn bind_sign_in(
        &self,
        req: &Request<Bytes>,
        authorize_url: &str,
    ) -> Option<HeaderValue> {
        let state = binding::state_of(authorize_url)?;
        binding::bind(req.headers(), &state, self.secure_cookies)
    }

    /// Whether someone signed out in this browser since its last sign-in.
    pub(super) fn signed_out_here(&self, req: &Request<Bytes>) -> bool {
        http_kit::cookie_value(req.headers(), SIGNED_OUT_COOKIE).is_some()
    }

    fn signed_out_cookie(&self, remove: bool) -> Option<HeaderValue> {
        let mut c = Cookie::build((SIGNED_OUT_COOKIE, "1"))
            .path("/")
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(SIGNED_OUT_MAX_AGE)
            .build();
        if remove {
            c.make_removal();
        }
        http_kit::set_cookie_value(&c)
    }

    /// Removes the sign-out marker, if the browser has one.
    fn forget_sign_out(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        http_kit::cookie_value(headers, SIGNED_OUT_COOKIE)
            .and_then(|_| self.signed_out_cookie(true))
    }

    /// Ends this browser's live session `old` (audited as a sign-out) and answers `res` with
    /// the session cookie cleared; the service-problem page if the store cannot end it.
    async fn end_live_session(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        old: &PatientSession,
        res: Response<Bytes>,
    ) -> Response<Bytes> {
        self.audit_signed_out(old).await;
        match self.sessions.end(req.headers()).await {
            Ok(clear) => http_kit::with_cookie(res, clear),
            Err(_) => self.problem(ctx, None),
        }
    }

    async fn audit_signed_out(&self, session: &PatientSession) {
        let _ = self
            .store
            .append_audit(&AuditRecord {
                at: self.clock.now(),
                patient: session.patient.clone(),
                actor: "patient".into(),
                session: Some(session.reporting_id.clone()),
                action: AuditAction::SignedOut,
                appointment: None,
                detail: None,
            })
            .await;
    }

    /// Each way a sign-in can fail has its own page.
    pub(super) fn sign_in_failed(&self, ctx: &Ctx, failure: SignInFailure) -> Response<Bytes> {
        let (status, title, message) = match failure {
            SignInFailure::ConsentRefused => {
                // NHS login's mandated page: nothing else on it, not even "Get help".
                return self.page(
                    ctx,
                    None,
                    StatusCode::FORBIDDEN,
                    "consent",
                    "You cannot continue without sharing your information",
                    &Empty {},
                    PageOpts {
                        no_help: true,
                        ..PageOpts::default()
                    },
                );
            }
            SignInFailure::SsoFailed => (
                StatusCode::UNAUTHORIZED,
                "There is a problem signing you in",
                SSO_FAILED,
            ),
            SignInFailure::IdentityTooLow => (
                StatusCode::FORBIDDEN,
                "You need to prove who you are to use this service",
                if ctx.ua_in_app {
                    IDENTITY_TOO_LOW.link(NHS_APP_UPLIFT)
                } else {
                    IDENTITY_TOO_LOW
                },
            ),
            SignInFailure::StateMismatch => (
                StatusCode::BAD_REQUEST,
                "Your sign-in has expired",
                SIGN_IN_EXPIRED,
            ),
            SignInFailure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sorry, you cannot sign in at the moment",
                UNAVAILABLE,
            ),
            SignInFailure::Failed(reference) => (
                StatusCode::UNAUTHORIZED,
                "There is a problem signing you in",
                Message {
                    reference,
                    ..FAILED
                },
            ),
        };
        self.message(ctx, None, status, title, &message, PageOpts::default())
    }

    pub(super) async fn sign_out(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let clear_draft = clear_draft_cookie(self.secure_cookies);
        let Some(session) = self.optional_session(req).await else {
            return http_kit::with_cookie(http_kit::redirect("/signed-out"), clear_draft);
        };
        if let Err(res) = self.csrf_form(ctx, req, &session) {
            return res;
        }
        self.audit_signed_out(&session).await;
        match self.sessions.end(req.headers()).await {
            Ok(clear) => {
                let res = http_kit::with_cookie(http_kit::redirect("/signed-out"), clear);
                let res = http_kit::with_cookie(res, clear_draft);
                http_kit::with_cookie(res, self.signed_out_cookie(false))
            }
            Err(_) => self.problem(ctx, Some(&session)),
        }
    }

    pub(super) fn signed_out(&self, ctx: &Ctx) -> Response<Bytes> {
        let title = "You have signed out";
        self.message(
            ctx,
            None,
            StatusCode::OK,
            title,
            &SIGNED_OUT,
            PageOpts::default(),
        )
    }

    /// "Stay signed in": the gate has touched the session; back to the page.
    pub(super) async fn extend(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = match self.patient(ctx, req).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        let form: Form = match self.csrf_form(ctx, req, &session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        let back = form
            .get("return_to")
            .filter(|r| is_safe_portal_return(r))
            .unwrap_or(HOME);
        http_kit::redirect(back)
    }
}
