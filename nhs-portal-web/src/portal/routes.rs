//! The portal's route table, one [`matchit`] router: a path gives a [`Route`] (and the
//! appointment id it names); the method is checked by the route's handler, because the answer
//! to a wrong method differs by room (a journey step proves ownership first, see below).
//!
//! Routes (the first three are a contract with the NHS App and the PCA):
//! - `GET /patient-portal/appointment/{id}`: the deep link, the appointment page;
//! - `GET /patient-portal/appointments`: upcoming and past appointments;
//! - `/fhir/Appointment`: the PCA API (mounted, not in this table);
//! - `GET|POST /patient-portal/appointment/{id}/cancel/need` (the first question: is the
//!   appointment still needed?), `.../cancel`, `.../cancel/check`, `GET .../cancel/done`;
//! - `GET|POST /patient-portal/appointment/{id}/reschedule`, `.../reschedule/check`,
//!   `GET .../reschedule/done`;
//! - `GET /patient-portal/appointment/{id}/calendar`: the "Add to calendar" file (iCalendar);
//! - `POST /patient-portal/appointment/{id}/confirm-attendance`, `GET .../confirm-attendance/done`;
//! - `GET /sign-in`, `GET /sign-in/callback`, `POST /sign-out`, `GET /signed-out`,
//!   `POST /session/extend`, `GET /session/timed-out`;
//! - `GET /health/live` (no IO), `GET /health/ready` (the store answers; not while draining),
//!   `GET /health` (the same as ready, kept for existing load-balancer checks);
//! - `GET /`, `GET /accessibility`, `GET /privacy`, `GET /assets/...`.
//!
//! Any other step under an appointment (or a wrong method on a step) first proves the
//! appointment is the signed-in patient's, then answers "page not found", so the answer never
//! depends on whose id it is. Under `/patient-portal/`, maintenance mode answers first.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use nhs_portal_core::deep_link::DeepLink;
use nhs_portal_core::request_status::RequestKind;
use std::sync::atomic::Ordering;

use super::{Inner, is_nhs_app};
use crate::http_kit;

/// A step of the change journey (cancel or reschedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The form (`.../cancel`, `.../reschedule`): the reasons, or the free slots.
    Form,
    /// Check your answers (`.../check`), and its confirm POST.
    Check,
    /// The confirmation (`.../done`).
    Done,
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// `/health` and `/health/ready`: ready to take traffic.
    Health,
    /// `/health/live`: the process answers (no IO).
    Live,
    /// `/`.
    Landing,
    /// `/accessibility`.
    Accessibility,
    /// `/privacy`.
    Privacy,
    /// `/sign-in`.
    SignIn,
    /// `/sign-in/callback`.
    SignInCallback,
    /// `/sign-out`.
    SignOut,
    /// `/signed-out`.
    SignedOut,
    /// `/session/extend` ("Stay signed in").
    ExtendSession,
    /// `/session/timed-out`.
    TimedOut,
    /// `/assets/...`.
    Asset,
    /// `/patient-portal/appointments`.
    Appointments,
    /// `/patient-portal/appointment/{id}`.
    Appointment,
    /// A change journey's step: `/patient-portal/appointment/{id}/{cancel|reschedule}[/step]`.
    Change(RequestKind, Step),
    /// `/patient-portal/appointment/{id}/cancel/need`: the cancel journey's first question, "Do
    /// you still need this appointment?" (and, with `?then=contact`, whom to call instead when
    /// the trust does not reschedule online).
    CancelNeed,
    /// `/patient-portal/appointment/{id}/calendar`: the appointment as an iCalendar file.
    Calendar,
    /// `/patient-portal/appointment/{id}/confirm-attendance`: the "Confirm you will attend" POST.
    ConfirmAttendance,
    /// `/patient-portal/appointment/{id}/confirm-attendance/done`: its confirmation page.
    ConfirmAttendanceDone,
    /// Anything else under `/patient-portal/appointment/`.
    OtherStep,
    /// Anything else under `/patient-portal/`.
    OtherPatientPage,
}

impl Route {
    /// A short, fixed name for metrics and logs (never the path: it would carry ids).
    pub fn label(self) -> &'static str {
        match self {
            Self::Health => "health-ready",
            Self::Live => "health-live",
            Self::Landing => "landing",
            Self::Accessibility => "accessibility",
            Self::Privacy => "privacy",
            Self::SignIn => "sign-in",
            Self::SignInCallback => "sign-in-callback",
            Self::SignOut => "sign-out",
            Self::SignedOut => "signed-out",
            Self::ExtendSession => "session-extend",
            Self::TimedOut => "session-timed-out",
            Self::Asset => "asset",
            Self::Appointments => "appointments",
            Self::Appointment => "appointment",
            Self::CancelNeed => "cancel-need",
            Self::Calendar => "calendar",
            Self::ConfirmAttendance => "confirm-attendance",
            Self::ConfirmAttendanceDone => "confirm-attendance-done",
            Self::Change(RequestKind::Cancel, Step::Form) => "cancel",
            Self::Change(RequestKind::Cancel, Step::Check) => "cancel-check",
            Self::Change(RequestKind::Cancel, Step::Done) => "cancel-done",
            Self::Change(RequestKind::Reschedule, Step::Form) => "reschedule",
            Self::Change(RequestKind::Reschedule, Step::Check) => "reschedule-check",
            Self::Change(RequestKind::Reschedule, Step::Done) => "reschedule-done",
            Self::OtherStep | Self::OtherPatientPage => "other",
        }
    }
}

/// The table.
#[derive(Debug)]
pub struct Routes(matchit::Router<Route>);

const APPOINTMENT: &str = "/patient-portal/appointment";

impl Routes {
    /// The portal's routes.
    pub fn new() -> Self {
        let mut r = matchit::Router::new();
        let fixed = [
            ("/health", Route::Health),
            ("/health/ready", Route::Health),
            ("/health/live", Route::Live),
            ("/", Route::Landing),
            ("/accessibility", Route::Accessibility),
            ("/privacy", Route::Privacy),
            ("/sign-in", Route::SignIn),
            ("/sign-in/callback", Route::SignInCallback),
            ("/sign-out", Route::SignOut),
            ("/signed-out", Route::SignedOut),
            ("/session/extend", Route::ExtendSession),
            ("/session/timed-out", Route::TimedOut),
            ("/assets/{*file}", Route::Asset),
            ("/patient-portal/appointments", Route::Appointments),
            ("/patient-portal/{*rest}", Route::OtherPatientPage),
            ("/patient-portal/appointment/", Route::OtherStep),
            ("/patient-portal/appointment/{id}", Route::Appointment),
            ("/patient-portal/appointment/{id}/", Route::OtherStep),
            ("/patient-portal/appointment/{id}/calendar", Route::Calendar),
            (
                "/patient-portal/appointment/{id}/cancel/need",
                Route::CancelNeed,
            ),
            (
                "/patient-portal/appointment/{id}/confirm-attendance",
                Route::ConfirmAttendance,
            ),
            (
                "/patient-portal/appointment/{id}/confirm-attendance/done",
                Route::ConfirmAttendanceDone,
            ),
            ("/patient-portal/appointment/{id}/{*step}", Route::OtherStep),
        ];
        let steps = [
            ("", Step::Form),
            ("/check", Step::Check),
            ("/done", Step::Done),
        ];
        let kinds = [
            ("cancel", RequestKind::Cancel),
            ("reschedule", RequestKind::Reschedule),
        ];
        let changes = kinds.iter().flat_map(|(k, kind)| {
            steps.iter().map(move |(s, step)| {
                (
                    format!("{APPOINTMENT}/{{id}}/{k}{s}"),
                    Route::Change(*kind, *step),
                )
            })
        });
        for (path, route) in fixed
            .into_iter()
            .map(|(p, r)| (p.to_owned(), r))
            .chain(changes)
        {
            r.insert(path, route)
                .expect("the portal's route table has no conflicts");
        }
        Self(r)
    }

    /// The route of `path` and the appointment id in it (empty when it names none).
    pub fn at<'p>(&self, path: &'p str) -> Option<(Route, &'p str)> {
        let m = self.0.at(path).ok()?;
        let id = m.params.get("id").unwrap_or("");
        Some((*m.value, id))
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

/// Per-request facts the pages need, read once.
#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub(super) path: String,
    pub(super) query: Option<String>,
    pub(super) ua_in_app: bool,
    /// The NHS App's deep link, parsed once: only a `GET` of the appointment page carries one.
    pub(super) deep_link: Option<DeepLink>,
}

impl Ctx {
    /// The facts of `req` (no deep link yet: the appointment route parses it).
    pub(super) fn of(req: &Request<Bytes>) -> Self {
        Self {
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            ua_in_app: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(is_nhs_app),
            deep_link: None,
        }
    }
}

impl Inner {
    /// The answer to `req` from the route its path names, and that route's
    /// [`label`](Route::label) (`not-found` when it names none), matched once.
    pub(super) async fn route(&self, req: Request<Bytes>) -> (&'static str, Response<Bytes>) {
        let found = self
            .routes
            .at(req.uri().path())
            .map(|(route, id)| (route, id.to_owned()));
        let label = found
            .as_ref()
            .map_or("not-found", |(route, _)| route.label());
        (label, self.answer(req, found).await)
    }

    async fn answer(&self, req: Request<Bytes>, found: Option<(Route, String)>) -> Response<Bytes> {
        let mut ctx = Ctx::of(&req);
        let get = req.method() == Method::GET;
        let Some((route, id)) = found else {
            return self.not_found(&ctx, None);
        };
        if ctx.path.starts_with("/patient-portal/") && self.maintenance.load(Ordering::SeqCst) {
            return self.maintenance_page(&ctx);
        }
        match route {
            Route::Asset => self.asset(&ctx, req.method()),
            Route::Health if get => self.health().await,
            Route::Live if get => Self::live(),
            Route::Landing if get => self.landing(&ctx, &req).await,
            Route::Accessibility if get => self.static_page(&ctx, &req, route).await,
            Route::Privacy if get => self.static_page(&ctx, &req, route).await,
            Route::SignIn if get => self.sign_in_start(&ctx, &req).await,
            Route::SignInCallback if get => self.sign_in_callback(&ctx, &req).await,
            Route::SignOut if req.method() == Method::POST => self.sign_out(&ctx, &req).await,
            Route::SignedOut if get => self.signed_out(&ctx),
            Route::ExtendSession if req.method() == Method::POST => self.extend(&ctx, &req).await,
            Route::TimedOut if get => self.timed_out_page(&ctx, false),
            Route::Appointments if get => self.appointments(&ctx, &req).await,
            Route::Appointments => {
                http_kit::text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
            }
            Route::Appointment
            | Route::Change(..)
            | Route::Calendar
            | Route::CancelNeed
            | Route::ConfirmAttendance
            | Route::ConfirmAttendanceDone
            | Route::OtherStep => {
                if route == Route::Appointment && get {
                    let full = format!("{}{}", self.base.path_prefix(), ctx.path);
                    ctx.deep_link = self
                        .base
                        .parse_path_and_query(&full, ctx.query.as_deref())
                        .ok();
                    if ctx.deep_link.is_some() {
                        super::telemetry::deep_link_launch();
                    }
                }
                self.appointment_route(&ctx, &req, route, &id).await
            }
            _ => self.not_found(&ctx, None),
        }
    }

    fn asset(&self, ctx: &Ctx, method: &Method) -> Response<Bytes> {
        match self.assets.get(&ctx.path) {
            None => self.not_found(ctx, None),
            Some(_) if method != Method::GET && method != Method::HEAD => {
                http_kit::text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
            }
            Some(a) => http_kit::asset(a.content_type, a.body.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes_and_ids() {
        let r = Routes::new();
        let cases = [
            ("/", Some((Route::Landing, ""))),
            ("/assets/nhsuk/x.css", Some((Route::Asset, ""))),
            (
                "/patient-portal/appointments",
                Some((Route::Appointments, "")),
            ),
            (
                "/patient-portal/appointment/a-1",
                Some((Route::Appointment, "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/cancel",
                Some((Route::Change(RequestKind::Cancel, Step::Form), "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/reschedule/check",
                Some((Route::Change(RequestKind::Reschedule, Step::Check), "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/cancel/done",
                Some((Route::Change(RequestKind::Cancel, Step::Done), "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/confirm-attendance",
                Some((Route::ConfirmAttendance, "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/confirm-attendance/done",
                Some((Route::ConfirmAttendanceDone, "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/cancel/x",
                Some((Route::OtherStep, "a-1")),
            ),
            (
                "/patient-portal/appointment/a-1/",
                Some((Route::OtherStep, "a-1")),
            ),
            ("/patient-portal/appointment/", Some((Route::OtherStep, ""))),
            ("/patient-portal/other", Some((Route::OtherPatientPage, ""))),
            ("/nowhere", None),
        ];
        for (path, want) in cases {
            assert_eq!(r.at(path), want, "{path}");
        }
    }
}
