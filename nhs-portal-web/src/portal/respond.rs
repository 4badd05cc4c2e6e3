//! The page frame and the pages every room may answer with: not found, cannot view, the
//! problem page, maintenance, timed out, an expired form, and how a journey failure becomes one.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::store::PatientSession;
use serde::Serialize;

use super::Inner;
use super::change::draft::clear_draft_cookie;
use super::routes::Ctx;
use super::views::{Link, Message};
use crate::http_kit;
use crate::journeys::JourneyError;
use crate::pages::{Layout, TimeoutTimes};

/// Options for one page.
#[derive(Debug, Clone, Default)]
pub(super) struct PageOpts {
    pub(super) back: Option<String>,
    pub(super) has_errors: bool,
    pub(super) no_help: bool,
    pub(super) go_home: bool,
    /// Render with this path in the layout instead of the request's (the cannot-view page is
    /// identical whatever id was asked for).
    pub(super) fixed_path: Option<&'static str>,
}

impl PageOpts {
    /// A journey step: a back link, maybe errors.
    pub(super) fn step(back: String, has_errors: bool) -> Self {
        Self {
            back: Some(back),
            has_errors,
            ..Self::default()
        }
    }
}

/// The status of a form page: 422 when it shows errors.
pub(super) fn form_status(has_errors: bool) -> StatusCode {
    if has_errors {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

const NOT_FOUND: Message = Message::new(&[
    "If you typed the web address, check it is correct.",
    "If you pasted the web address, check you copied the entire address.",
])
.link(Link::to_appointments("View your hospital appointments"))
.calm();

const CANNOT_VIEW: Message = Message::new(&[
    "This appointment may have been moved, or the link may be wrong.",
    "If you think you should be able to see it, contact the hospital's booking team using the phone number on your appointment letter.",
])
.link(Link::to_appointments("View your hospital appointments").nhs_app_appointments());

const PROBLEM: Message = Message::new(&[
    "Try again later.",
    "Nothing you asked for has been changed unless we told you it was.",
    "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
]);

const HOSPITAL_REFUSED: Message = Message::new(&[
    "The hospital's booking system did not accept this change, so nothing has been changed.",
    "Contact the hospital's booking team using the phone number on your appointment letter.",
])
.link(Link::to_appointments("View your hospital appointments"));

const MAINTENANCE: Message = Message::new(&[
    "We are making some improvements to this service.",
    "You will be able to use it again later today.",
    "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
]);

const TIMED_OUT_IN_APP: Message = Message::new(&[
    "For your security, we signed you out because you did not do anything for 10 minutes.",
    "Go back to the NHS App home page to continue.",
])
.link(Link::to_appointments("Go back to your appointments").app_home())
.calm();

const TIMED_OUT: Message = Message::new(&[
    "For your security, we signed you out because you did not do anything for 10 minutes.",
    "Close this tab to go back to the NHS App, or sign in again.",
])
.link(Link::to_appointments("Sign in again"))
.calm();

const FORM_EXPIRED: Message =
    Message::new(&["Nothing has been changed. Go back to your appointments and try again."])
        .link(Link::to_appointments("View your hospital appointments"))
        .calm();

const KEY_REUSED: Message = Message::new(&[
    "This form was already used for a different appointment or change, so nothing has been changed.",
    "Go back to your appointments, choose the appointment again and start again.",
])
.link(Link::to_appointments("View your hospital appointments"))
.calm();

const RENDER_FAILED: &str = "<!DOCTYPE html><html lang=\"en\"><head><title>Sorry, there is a problem with the service – NHS</title></head><body><h1>Sorry, there is a problem with the service</h1><p>Try again later.</p></body></html>";

impl Inner {
    fn layout(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        title: &str,
        opts: &PageOpts,
    ) -> Layout {
        let warn_before = (self.cfg.session_idle - self.cfg.session_warning).num_seconds();
        Layout {
            title: title.to_owned(),
            service_name: self.cfg.service_name.clone(),
            in_app: ctx.ua_in_app || session.is_some_and(|s| s.in_nhs_app),
            signed_in: session.is_some(),
            csrf_token: session.map(|s| s.csrf_token.clone()).unwrap_or_default(),
            back_href: opts.back.clone(),
            show_help: !opts.no_help,
            has_errors: opts.has_errors,
            timeout: session.map(|s| {
                let left = self.sessions.seconds_left(s);
                TimeoutTimes {
                    warn_after_seconds: (left - warn_before).max(0),
                    expire_after_seconds: left,
                }
            }),
            path: opts.fixed_path.map(str::to_owned).unwrap_or_else(|| {
                if is_safe_portal_return(&ctx.path) {
                    ctx.path.clone()
                } else {
                    "/patient-portal/appointments".into()
                }
            }),
            go_home: opts.go_home,
        }
    }

    /// A page: the template `template` with the frame and `body`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn page(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        status: StatusCode,
        template: &str,
        title: &str,
        body: &impl Serialize,
        opts: PageOpts,
    ) -> Response<Bytes> {
        let layout = self.layout(ctx, session, title, &opts);
        match self.pages.render_page(template, &layout, body) {
            Ok(html) => http_kit::page(status, html),
            Err(e) => {
                tracing::error!(error = %e, template, "page render failed");
                http_kit::page(StatusCode::INTERNAL_SERVER_ERROR, RENDER_FAILED.into())
            }
        }
    }

    /// A message page.
    pub(super) fn message(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        status: StatusCode,
        title: &str,
        message: &Message,
        opts: PageOpts,
    ) -> Response<Bytes> {
        self.page(ctx, session, status, "message", title, message, opts)
    }

    pub(super) fn not_found(&self, ctx: &Ctx, session: Option<&PatientSession>) -> Response<Bytes> {
        let status = StatusCode::NOT_FOUND;
        self.message(
            ctx,
            session,
            status,
            "Page not found",
            &NOT_FOUND,
            PageOpts::default(),
        )
    }

    /// The page for an appointment that does not exist or is someone else's: identical in both
    /// cases, whatever the id (so ids cannot be probed).
    pub(super) fn cannot_view(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
    ) -> Response<Bytes> {
        self.message(
            ctx,
            session,
            StatusCode::NOT_FOUND,
            "You cannot view this appointment",
            &CANNOT_VIEW,
            PageOpts {
                fixed_path: Some("/patient-portal/appointments"),
                ..PageOpts::default()
            },
        )
    }

    pub(super) fn problem(&self, ctx: &Ctx, session: Option<&PatientSession>) -> Response<Bytes> {
        crate::metered::count_error("service_problem");
        self.message(
            ctx,
            session,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, there is a problem with the service",
            &PROBLEM,
            PageOpts::default(),
        )
    }

    pub(super) fn maintenance_page(&self, ctx: &Ctx) -> Response<Bytes> {
        let mut res = self.message(
            ctx,
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, the service is unavailable",
            &MAINTENANCE,
            PageOpts::default(),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
        res
    }

    pub(super) fn timed_out_page(&self, ctx: &Ctx, in_app: bool) -> Response<Bytes> {
        let ctx = Ctx {
            ua_in_app: ctx.ua_in_app || in_app,
            ..ctx.clone()
        };
        let message = if ctx.ua_in_app {
            &TIMED_OUT_IN_APP
        } else {
            &TIMED_OUT
        };
        let page = self.message(
            &ctx,
            None,
            StatusCode::OK,
            "You have been signed out",
            message,
            PageOpts {
                go_home: ctx.ua_in_app,
                ..PageOpts::default()
            },
        );
        // The session is gone: so is any draft it sealed.
        http_kit::with_cookie(page, clear_draft_cookie(self.secure_cookies))
    }

    pub(super) fn csrf_failed(&self, ctx: &Ctx, session: &PatientSession) -> Response<Bytes> {
        self.message(
            ctx,
            Some(session),
            StatusCode::FORBIDDEN,
            "This page has expired",
            &FORM_EXPIRED,
            PageOpts::default(),
        )
    }

    /// What a failed journey step shows: "cannot view" for someone else's appointment, back to
    /// the appointment when the action is not (or no longer) allowed, back to the slots when the
    /// chosen one was taken, "the hospital could not make this change" when the PAS refused it
    /// under its own rules, the problem page otherwise.
    pub(super) fn journey_error(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: Option<&AppointmentId>,
        e: JourneyError,
    ) -> Response<Bytes> {
        use JourneyError as E;
        match (e, id) {
            (E::CannotView, _) => self.cannot_view(ctx, Some(session)),
            (E::Ineligible(why), _) => self.ineligible(ctx, Some(session), why),
            (E::KeyReused, _) => self.message(
                ctx,
                Some(session),
                StatusCode::CONFLICT,
                "This form has already been used",
                &KEY_REUSED,
                PageOpts::default(),
            ),
            // The PAS's own words stay out of the page and the log: they may name the patient.
            (E::HospitalRefused { .. }, _) => self.message(
                ctx,
                Some(session),
                StatusCode::CONFLICT,
                "The hospital could not make this change",
                &HOSPITAL_REFUSED,
                PageOpts::default(),
            ),
            (E::NotAllowed(_) | E::Invalid(_), Some(id)) => {
                http_kit::redirect(&format!("/patient-portal/appointment/{id}"))
            }
            (E::SlotUnavailable, Some(id)) => http_kit::redirect(&format!(
                "/patient-portal/appointment/{id}/reschedule?taken=1"
            )),
            (E::NotAllowed(_) | E::Invalid(_) | E::SlotUnavailable, None) => {
                http_kit::redirect("/patient-portal/appointments")
            }
            (other, _) => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other).map(ToString::to_string), "journey failed");
                self.problem(ctx, Some(session))
            }
        }
    }
}
