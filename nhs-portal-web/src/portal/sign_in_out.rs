//! Signing in and out: starting an NHS login sign-in, its callback (the date-of-birth check
//! against the PAS record, then a new session, its audit record and reporting event), the page for each way a sign-in can fail, signing out, and
//! "Stay signed in".

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::ReportingEvent;
use nhs_portal_core::eligibility::Ineligible;
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::store::{AuditAction, AuditRecord};

use super::Inner;
use super::change::draft::clear_draft_cookie;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::{Empty, Link, Message};
use crate::http_kit::{self, Form};
use crate::journeys::JourneyError;
use crate::session::NewSession;
use crate::sign_in::{SignInFailure, SignInStart};

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
.link(Link {
    href: "https://help.login.nhs.uk/",
    text: "Get help with NHS login",
    app_home: false,
    appointments: false,
});

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
            SignInStart {
                return_to,
                in_nhs_app: ctx.ua_in_app,
                tracking_id: None,
                asserted_login_identity: None,
            },
        )
        .await
    }

    pub(super) async fn sign_in_callback(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
    ) -> Response<Bytes> {
        let existing = self.optional_session(req).await;
        let signed_in = match self
            .sign_in
            .complete(ctx.query.as_deref().unwrap_or(""))
            .await
        {
            Ok(s) => s,
            // Back button onto a used callback while signed in: carry on, no error page.
            Err(SignInFailure::StateMismatch) if existing.is_some() => {
                return http_kit::redirect(HOME);
            }
            Err(f) => return self.sign_in_failed(ctx, f),
        };
        // A date of birth that differs from the PAS record's may be another person: no session.
        // (The other eligibility rules refuse on every page, with the session kept so the
        // patient can sign out.)
        match self
            .journeys
            .check_eligible(&signed_in.patient, signed_in.date_of_birth, None)
            .await
        {
            Ok(()) => {}
            Err(JourneyError::Ineligible(why @ Ineligible::DateOfBirthMismatch)) => {
                return self.ineligible(ctx, None, why);
            }
            Err(JourneyError::Ineligible(_)) => {}
            Err(e) => {
                tracing::error!(error = %e, "eligibility check at sign-in failed");
                return self.problem(ctx, None);
            }
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
        let event = ReportingEvent::Session {
            at: now,
            patient: session.patient.clone(),
            session_id: session.reporting_id.clone(),
            in_nhs_app: session.in_nhs_app,
            device: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(512).collect()),
            outcome: nhs_portal_core::reporting::SessionOutcome::Success,
            tracking_id: session.tracking_id.clone(),
        };
        // The audit record and its reporting event in one transaction.
        if self.store.record(&audit, &[event]).await.is_err() {
            return self.problem(ctx, None);
        }
        let target = if is_safe_portal_return(&signed_in.return_to) {
            signed_in.return_to.as_str()
        } else {
            HOME
        };
        http_kit::with_cookie(http_kit::redirect(target), cookie)
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
                IDENTITY_TOO_LOW,
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
        match self.sessions.end(req.headers()).await {
            Ok(clear) => http_kit::with_cookie(
                http_kit::with_cookie(http_kit::redirect("/signed-out"), clear),
                clear_draft,
            ),
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
