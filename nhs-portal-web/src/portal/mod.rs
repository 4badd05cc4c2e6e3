//! The portal as a service: `http::Request` in, `http::Response` out.
//!
//! [`Portal`] serves the patient pages, sign-in and sign-out, the static files, `/health`, and
//! whatever else is mounted under a path prefix ([`Portal::mount`]: the PCA Get Appointments API
//! at `/fhir`, the NHS login simulator at `/nhs-login-simulator`, the staff worklist). It knows
//! nothing about sockets: a vendor calls [`Portal::handle`] (a body already collected) or
//! [`Portal::serve`] (any `http_body::Body`, collected with a size limit) from any Rust server.
//!
//! ```no_run
//! # async fn demo(portal: std::sync::Arc<nhs_portal_web::portal::Portal>) {
//! let req = http::Request::get("/health").body(bytes::Bytes::new()).unwrap();
//! let res = portal.handle(req).await;
//! assert_eq!(res.status(), 200);
//! # }
//! ```
//!
//! Routes (the first three are a contract with the NHS App and the PCA):
//! - `GET /patient-portal/appointment/{id}`: the deep link, the appointment page;
//! - `GET /patient-portal/appointments`: upcoming and past appointments;
//! - `/fhir/Appointment`: the PCA API (mounted);
//! - `GET|POST /patient-portal/appointment/{id}/cancel`, `.../cancel/check`, `GET .../cancel/done`;
//! - `GET|POST /patient-portal/appointment/{id}/reschedule`, `.../reschedule/check`,
//!   `GET .../reschedule/done`;
//! - `GET /sign-in`, `GET /sign-in/callback`, `POST /sign-out`, `GET /signed-out`,
//!   `POST /session/extend`, `GET /session/timed-out`;
//! - `GET /`, `GET /health`, `GET /accessibility`, `GET /privacy`, `GET /assets/...`.

// Handlers return a ready `Response` as their early-exit value; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Duration;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::store::{AuditAction, AuditRecord, PatientSession, Store};
use nhs_portal_core::{AppointmentId, ReportingEvent};
use nhs_portal_pas::PasBackend;
use serde_json::{Value, json};

use crate::assets::Assets;
use crate::journeys::Journeys;
use crate::pages::{Layout, PageError, Pages, TimeoutTimes};
use crate::sign_in::{SignIn, SignInFailure, SignInStart};

mod journey_pages;

use crate::session::{NewSession, SessionConfig, SessionManager, SessionState};

/// Reads one cookie's value from the request headers.
fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse_encoded(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The hash of the NHS.UK frontend's inline `js-enabled` snippet (allowed by the CSP).
pub const JS_ENABLED_SNIPPET_HASH: &str = "sha256-tDOvXJi1PXbg0CWjLCCYSNHRXtps26K4JXkE3M6u/c0=";

/// Where the NHS App JavaScript API is loaded from (allowed by the CSP).
pub const NHS_APP_JS_ORIGIN: &str = "https://www.nhsapp.service.nhs.uk";

/// Something mounted in the portal under a path prefix (the PCA API, the NHS login simulator,
/// the staff worklist).
#[async_trait]
pub trait Handler: Send + Sync {
    /// Handles a request whose path starts with the mount prefix (the full path is kept).
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes>;
}

/// Why the portal could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The base URL is not a valid absolute http(s) URL.
    #[error("the base URL is not valid")]
    BaseUrl(#[from] nhs_portal_core::deep_link::DeepLinkError),
    /// A template did not parse.
    #[error(transparent)]
    Pages(#[from] PageError),
}

/// What the landing page says in demo mode.
#[derive(Debug, Clone, Default)]
pub struct DemoInfo {
    /// Test patients' NHS numbers to suggest.
    pub patients: Vec<String>,
    /// The staff worklist's address, if mounted.
    pub staff_href: Option<String>,
}

/// Portal settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PortalConfig {
    /// The service name in the header and every `<title>`.
    pub service_name: String,
    /// The public base URL (deep links are built and parsed against it).
    pub base_url: String,
    /// Inactivity limit (10 minutes, PCA NFR-18).
    pub session_idle: Duration,
    /// When the timeout warning opens (9 minutes).
    pub session_warning: Duration,
    /// Absolute session limit (12 hours).
    pub session_absolute: Duration,
    /// Largest request body accepted by [`Portal::serve`].
    pub max_body_bytes: usize,
    /// Demo-mode hints on the landing page.
    pub demo: Option<DemoInfo>,
}

impl PortalConfig {
    /// Defaults for a portal at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            service_name: "Manage your hospital appointments".into(),
            base_url: base_url.into(),
            session_idle: Duration::minutes(10),
            session_warning: Duration::minutes(9),
            session_absolute: Duration::hours(12),
            max_body_bytes: 64 * 1024,
            demo: None,
        }
    }
}

/// What the portal is built from.
pub struct PortalParts {
    /// The portal's store.
    pub store: Arc<dyn Store>,
    /// The trust's PAS.
    pub pas: Arc<dyn PasBackend>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// NHS login.
    pub sign_in: Arc<dyn SignIn>,
    /// The static files.
    pub assets: Assets,
}

impl std::fmt::Debug for PortalParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalParts").finish_non_exhaustive()
    }
}

/// The portal service.
pub struct Portal {
    cfg: PortalConfig,
    base: DeepLinkBase,
    pages: Pages,
    journeys: Journeys,
    sessions: SessionManager,
    secure_cookies: bool,
    sign_in: Arc<dyn SignIn>,
    assets: Assets,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mounts: Vec<(String, Arc<dyn Handler>)>,
    maintenance: AtomicBool,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("base", &self.base)
            .field(
                "mounts",
                &self.mounts.iter().map(|m| &m.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Per-request facts the pages need.
#[derive(Debug, Clone)]
struct Ctx {
    path: String,
    query: Option<String>,
    ua_in_app: bool,
}

/// Whether a User-Agent is the NHS App's web view.
pub fn is_nhs_app(user_agent: &str) -> bool {
    user_agent.contains("nhsapp-ios/") || user_agent.contains("nhsapp-android/")
}

/// Whether `path` is a safe place inside the portal to send a patient back to.
pub fn is_safe_return(path: &str) -> bool {
    path.starts_with("/patient-portal/")
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("..")
        && path.len() < 512
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// Options for one page.
#[derive(Debug, Clone, Default)]
struct PageOpts {
    back: Option<String>,
    has_errors: bool,
    no_help: bool,
    go_home: bool,
    /// Render with this path in the layout instead of the request's (the cannot-view page is
    /// identical whatever id was asked for).
    fixed_path: Option<&'static str>,
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn query_get(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl Portal {
    /// Builds the portal (templates are parsed here; a bad one fails start-up).
    pub fn new(cfg: PortalConfig, parts: PortalParts) -> Result<Self, PortalError> {
        let base = DeepLinkBase::parse(&cfg.base_url)?;
        let url = url::Url::parse(base.as_str()).map_err(|_| {
            PortalError::BaseUrl(nhs_portal_core::deep_link::DeepLinkError::BadBase)
        })?;
        let session_cfg = SessionConfig {
            idle_timeout: cfg.session_idle,
            warn_before: cfg.session_idle - cfg.session_warning,
            absolute_timeout: cfg.session_absolute,
            ..SessionConfig::for_base_url(&url)
        };
        let secure_cookies = session_cfg.secure_cookie;
        Ok(Self {
            pages: Pages::new()?,
            journeys: Journeys::new(parts.pas, parts.store.clone(), parts.clock.clone()),
            sessions: SessionManager::new(parts.store.clone(), session_cfg)
                .with_clock(parts.clock.clone()),
            secure_cookies,
            sign_in: parts.sign_in,
            assets: parts.assets,
            store: parts.store,
            clock: parts.clock,
            mounts: Vec::new(),
            maintenance: AtomicBool::new(false),
            base,
            cfg,
        })
    }

    /// Mounts a handler under a path prefix such as `/fhir` (requests to the prefix itself and
    /// below go to it, with their full path).
    pub fn mount(mut self, prefix: impl Into<String>, handler: Arc<dyn Handler>) -> Self {
        self.mounts
            .push((prefix.into().trim_end_matches('/').to_owned(), handler));
        self
    }

    /// The journeys service (for the staff pages and tests).
    pub fn journeys(&self) -> &Journeys {
        &self.journeys
    }

    /// Switches maintenance mode: patient pages answer 503 with the maintenance page.
    pub fn set_maintenance(&self, on: bool) {
        self.maintenance.store(on, Ordering::SeqCst);
    }

    /// Serves a request with any body type: the body is collected up to the configured limit
    /// (a larger one gets 413).
    pub async fn serve<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let res = match Limited::new(body, self.cfg.max_body_bytes).collect().await {
            Ok(collected) => {
                self.handle(Request::from_parts(parts, collected.to_bytes()))
                    .await
            }
            Err(_) => with_security_headers(
                Response::builder()
                    .status(StatusCode::PAYLOAD_TOO_LARGE)
                    .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(Bytes::from_static(b"Request body too large"))
                    .unwrap_or_default(),
                false,
            ),
        };
        res.map(Full::new)
    }

    /// Handles a request whose body is already collected.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        for (prefix, handler) in &self.mounts {
            if path == *prefix || path.starts_with(&format!("{prefix}/")) {
                let res = handler.handle(req).await;
                return with_security_headers(res, false);
            }
        }
        let ctx = Ctx {
            path: path.clone(),
            query: req.uri().query().map(str::to_owned),
            ua_in_app: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(is_nhs_app),
        };
        let res = self.route(&ctx, req).await;
        let html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        with_security_headers(res, html)
    }

    async fn route(&self, ctx: &Ctx, req: Request<Bytes>) -> Response<Bytes> {
        let method = req.method().clone();
        let path = ctx.path.as_str();
        if let Some(asset) = path.strip_prefix("/assets/").and(self.assets.get(path)) {
            if method != Method::GET && method != Method::HEAD {
                return self.method_not_allowed();
            }
            return Response::builder()
                .header(header::CONTENT_TYPE, asset.content_type)
                .header(header::CACHE_CONTROL, "public, max-age=3600")
                .body(asset.body.clone())
                .unwrap_or_default();
        }
        match (method.clone(), path) {
            (Method::GET, "/health") => return self.health().await,
            (Method::GET, "/") => return self.landing(ctx, &req).await,
            (Method::GET, "/accessibility") => {
                return self.static_page(ctx, &req, "accessibility").await;
            }
            (Method::GET, "/privacy") => return self.static_page(ctx, &req, "privacy").await,
            (Method::GET, "/sign-in") => return self.sign_in_start(ctx, &req).await,
            (Method::GET, "/sign-in/callback") => return self.sign_in_callback(ctx, &req).await,
            (Method::POST, "/sign-out") => return self.sign_out(ctx, &req).await,
            (Method::GET, "/signed-out") => return self.signed_out(ctx).await,
            (Method::POST, "/session/extend") => return self.extend(ctx, &req).await,
            (Method::GET, "/session/timed-out") => return self.timed_out_page(ctx, false),
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/patient-portal/") {
            if self.maintenance.load(Ordering::SeqCst) {
                return self.maintenance_page(ctx);
            }
            if rest == "appointments" {
                return match method {
                    Method::GET => self.appointments(ctx, &req).await,
                    _ => self.method_not_allowed(),
                };
            }
            if let Some(rest) = rest.strip_prefix("appointment/") {
                let (id, step) = rest.split_once('/').unwrap_or((rest, ""));
                return self.appointment_route(ctx, req, id, step).await;
            }
        }
        self.not_found(ctx, None)
    }

    // ----- responses -----

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
                if is_safe_return(&ctx.path) {
                    ctx.path.clone()
                } else {
                    "/patient-portal/appointments".into()
                }
            }),
            go_home: opts.go_home,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        status: StatusCode,
        template: &str,
        title: &str,
        mut data: Value,
        opts: PageOpts,
    ) -> Response<Bytes> {
        let layout = self.layout(ctx, session, title, &opts);
        if let Value::Object(map) = &mut data {
            map.insert("layout".into(), json!(layout));
        }
        match self.pages.render(template, &data) {
            Ok(html) => html_response(status, html),
            Err(e) => {
                tracing::error!(error = %e, template, "page render failed");
                html_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!DOCTYPE html><html lang=\"en\"><head><title>Sorry, there is a problem with the service – NHS</title></head><body><h1>Sorry, there is a problem with the service</h1><p>Try again later.</p></body></html>".into(),
                )
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        status: StatusCode,
        title: &str,
        paragraphs: &[&str],
        extra: Value,
        opts: PageOpts,
    ) -> Response<Bytes> {
        let mut data = json!({"paragraphs": paragraphs, "urgent": true});
        if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
            d.extend(e);
        }
        self.page(ctx, session, status, "message", title, data, opts)
    }

    fn redirect(&self, location: &str) -> Response<Bytes> {
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, location)
            .header(header::CACHE_CONTROL, "no-store")
            .body(Bytes::new())
            .unwrap_or_default()
    }

    fn method_not_allowed(&self) -> Response<Bytes> {
        Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Bytes::from_static(b"Method not allowed"))
            .unwrap_or_default()
    }

    fn not_found(&self, ctx: &Ctx, session: Option<&PatientSession>) -> Response<Bytes> {
        self.message(
            ctx,
            session,
            StatusCode::NOT_FOUND,
            "Page not found",
            &[
                "If you typed the web address, check it is correct.",
                "If you pasted the web address, check you copied the entire address.",
            ],
            json!({"link": {"href": "/patient-portal/appointments", "text": "View your hospital appointments"}, "urgent": false}),
            PageOpts::default(),
        )
    }

    /// The page for an appointment that does not exist or is someone else's: identical in both
    /// cases, whatever the id (so ids cannot be probed).
    fn cannot_view(&self, ctx: &Ctx, session: Option<&PatientSession>) -> Response<Bytes> {
        self.message(
            ctx,
            session,
            StatusCode::NOT_FOUND,
            "You cannot view this appointment",
            &[
                "This appointment may have been moved, or the link may be wrong.",
                "If you think you should be able to see it, contact the hospital's booking team using the phone number on your appointment letter.",
            ],
            json!({"link": {"href": "/patient-portal/appointments", "text": "View your hospital appointments", "appointments": true}}),
            PageOpts {
                fixed_path: Some("/patient-portal/appointments"),
                ..PageOpts::default()
            },
        )
    }

    fn problem(&self, ctx: &Ctx, session: Option<&PatientSession>) -> Response<Bytes> {
        self.message(
            ctx,
            session,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, there is a problem with the service",
            &[
                "Try again later.",
                "Nothing you asked for has been changed unless we told you it was.",
                "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
            ],
            json!({}),
            PageOpts::default(),
        )
    }

    fn maintenance_page(&self, ctx: &Ctx) -> Response<Bytes> {
        let mut res = self.message(
            ctx,
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, the service is unavailable",
            &[
                "We are making some improvements to this service.",
                "You will be able to use it again later today.",
                "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
            ],
            json!({}),
            PageOpts::default(),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
        res
    }

    fn timed_out_page(&self, ctx: &Ctx, in_app: bool) -> Response<Bytes> {
        let ctx = Ctx {
            ua_in_app: ctx.ua_in_app || in_app,
            ..ctx.clone()
        };
        let paragraphs: &[&str] = if ctx.ua_in_app {
            &[
                "For your security, we signed you out because you did not do anything for 10 minutes.",
                "Go back to the NHS App home page to continue.",
            ]
        } else {
            &[
                "For your security, we signed you out because you did not do anything for 10 minutes.",
                "Close this tab to go back to the NHS App, or sign in again.",
            ]
        };
        let link = if ctx.ua_in_app {
            json!({"href": "/patient-portal/appointments", "text": "Go back to your appointments", "app_home": true})
        } else {
            json!({"href": "/patient-portal/appointments", "text": "Sign in again"})
        };
        self.message(
            &ctx,
            None,
            StatusCode::OK,
            "You have been signed out",
            paragraphs,
            json!({"link": link, "urgent": false}),
            PageOpts {
                go_home: ctx.ua_in_app,
                ..PageOpts::default()
            },
        )
    }

    // ----- sessions -----

    /// The signed-in patient, or the response to send instead (sign-in, or timed out).
    async fn patient(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        deep_link: Option<&nhs_portal_core::deep_link::DeepLink>,
    ) -> Result<PatientSession, Response<Bytes>> {
        let state = match self.sessions.load(req.headers()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "session store failed");
                return Err(self.problem(ctx, None));
            }
        };
        match state {
            SessionState::Active(active) => {
                let mut s = active.session;
                match self.sessions.touch(&s).await {
                    Ok(true) => {}
                    Ok(false) => return Err(self.timed_out_page(ctx, false)),
                    Err(e) => {
                        tracing::error!(error = %e, "session store failed");
                        return Err(self.problem(ctx, None));
                    }
                }
                s.last_seen_at = self.clock.now();
                Ok(s)
            }
            SessionState::Expired => {
                let sso = deep_link.is_some_and(|d| d.asserted_login_identity.is_some());
                if req.method() != Method::GET {
                    Err(self.redirect("/session/timed-out"))
                } else if sso {
                    Err(self
                        .begin_sign_in(ctx, self.sign_in_start_for(ctx, deep_link))
                        .await)
                } else {
                    Err(self.timed_out_page(ctx, false))
                }
            }
            SessionState::None => Err(self
                .begin_sign_in(ctx, self.sign_in_start_for(ctx, deep_link))
                .await),
        }
    }

    fn sign_in_start_for(
        &self,
        ctx: &Ctx,
        deep_link: Option<&nhs_portal_core::deep_link::DeepLink>,
    ) -> SignInStart {
        SignInStart {
            return_to: if is_safe_return(&ctx.path) {
                ctx.path.clone()
            } else {
                "/patient-portal/appointments".into()
            },
            in_nhs_app: ctx.ua_in_app,
            tracking_id: deep_link.and_then(|d| d.tracking_id.clone()),
            asserted_login_identity: deep_link.and_then(|d| d.asserted_login_identity.clone()),
        }
    }

    fn csrf_ok(&self, session: &PatientSession, form: &[(String, String)]) -> bool {
        form_get(form, "csrf_token").is_some_and(|t| SessionManager::check_csrf(session, t))
    }

    fn csrf_failed(&self, ctx: &Ctx, session: &PatientSession) -> Response<Bytes> {
        self.message(
            ctx,
            Some(session),
            StatusCode::FORBIDDEN,
            "This page has expired",
            &["Nothing has been changed. Go back to your appointments and try again."],
            json!({"link": {"href": "/patient-portal/appointments", "text": "View your hospital appointments"}, "urgent": false}),
            PageOpts::default(),
        )
    }

    async fn begin_sign_in(&self, ctx: &Ctx, start: SignInStart) -> Response<Bytes> {
        match self.sign_in.begin(start).await {
            Ok(url) => self.redirect(&url),
            Err(f) => self.sign_in_failed(ctx, f),
        }
    }

    // ----- simple pages -----

    async fn optional_session(&self, req: &Request<Bytes>) -> Option<PatientSession> {
        match self.sessions.load(req.headers()).await {
            Ok(SessionState::Active(s)) => Some(s.session),
            _ => None,
        }
    }

    async fn health(&self) -> Response<Bytes> {
        let (status, body) = match self.store.outbox_stats().await {
            Ok(stats) => (
                StatusCode::OK,
                json!({"status": "ok", "outbox_pending": stats.pending, "outbox_quarantined": stats.quarantined}),
            ),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable", "reason": "store"}),
            ),
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Bytes::from(body.to_string()))
            .unwrap_or_default()
    }

    async fn landing(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = self.optional_session(req).await;
        let demo = self
            .cfg
            .demo
            .as_ref()
            .map(|d| json!({"patients": d.patients, "staff_href": d.staff_href}));
        self.page(
            ctx,
            session.as_ref(),
            StatusCode::OK,
            "landing",
            &self.cfg.service_name,
            json!({"demo": demo}),
            PageOpts::default(),
        )
    }

    async fn static_page(&self, ctx: &Ctx, req: &Request<Bytes>, which: &str) -> Response<Bytes> {
        let session = self.optional_session(req).await;
        let (title, paragraphs): (&str, &[&str]) = match which {
            "accessibility" => (
                "Accessibility statement",
                &[
                    "This service is built to meet the Web Content Accessibility Guidelines (WCAG) 2.2 at level AA.",
                    "It uses the NHS design system and the NHS App design system, works without JavaScript, and can be used with a keyboard and a screen reader.",
                    "If you find a problem, contact the hospital's booking team and tell them what you were trying to do.",
                ],
            ),
            _ => (
                "Privacy and cookies",
                &[
                    "This service uses one cookie to keep you signed in. It is deleted when you sign out or after 10 minutes without activity.",
                    "While you change an appointment, a second cookie keeps your answers until you confirm. It is deleted after 30 minutes.",
                    "We record what you do with your appointments so the hospital can act on your requests and keep a record.",
                ],
            ),
        };
        self.message(
            ctx,
            session.as_ref(),
            StatusCode::OK,
            title,
            paragraphs,
            json!({"urgent": false}),
            PageOpts::default(),
        )
    }

    // ----- sign-in and sign-out -----

    async fn sign_in_start(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        if self.optional_session(req).await.is_some() {
            return self.redirect("/patient-portal/appointments");
        }
        let return_to = query_get(ctx.query.as_deref(), "return_to")
            .filter(|r| is_safe_return(r))
            .unwrap_or_else(|| "/patient-portal/appointments".into());
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

    async fn sign_in_callback(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let existing = self.optional_session(req).await;
        match self
            .sign_in
            .complete(ctx.query.as_deref().unwrap_or(""))
            .await
        {
            Ok(signed_in) => {
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
                if self.store.record(&audit, &[event]).await.is_err() {
                    return self.problem(ctx, None);
                }
                let target = if is_safe_return(&signed_in.return_to) {
                    signed_in.return_to.as_str()
                } else {
                    "/patient-portal/appointments"
                };
                let mut res = self.redirect(target);
                res.headers_mut().append(header::SET_COOKIE, cookie);
                res
            }
            // Back button onto a used callback while signed in: carry on, no error page.
            Err(SignInFailure::StateMismatch) if existing.is_some() => {
                self.redirect("/patient-portal/appointments")
            }
            Err(f) => self.sign_in_failed(ctx, f),
        }
    }

    fn sign_in_failed(&self, ctx: &Ctx, failure: SignInFailure) -> Response<Bytes> {
        let back_to_app = json!({"href": "/patient-portal/appointments", "text": "Go back to the NHS App", "app_home": true});
        let again = json!({"href": "/patient-portal/appointments", "text": "Try signing in again"});
        match failure {
            SignInFailure::ConsentRefused => self.page(
                ctx,
                None,
                StatusCode::FORBIDDEN,
                "consent",
                "You cannot continue without sharing your information",
                json!({}),
                PageOpts {
                    no_help: true,
                    ..PageOpts::default()
                },
            ),
            SignInFailure::SsoFailed => self.message(
                ctx,
                None,
                StatusCode::UNAUTHORIZED,
                "There is a problem signing you in",
                &["We could not sign you in from the NHS App.", "Go back to the NHS App, log in again and try again."],
                json!({"link": back_to_app}),
                PageOpts::default(),
            ),
            SignInFailure::IdentityTooLow => self.message(
                ctx,
                None,
                StatusCode::FORBIDDEN,
                "You need to prove who you are to use this service",
                &[
                    "To see and change your hospital appointments, your NHS login needs to be fully verified. This means proving who you are with photo ID or with details from your GP surgery.",
                    "You can do this in the NHS App or on the NHS login website. Checks can take up to 24 hours.",
                    "Until then, you can contact the hospital's booking team using the phone number on your appointment letter.",
                ],
                json!({"link": {"href": "https://help.login.nhs.uk/", "text": "Get help with NHS login"}}),
                PageOpts::default(),
            ),
            SignInFailure::StateMismatch => self.message(
                ctx,
                None,
                StatusCode::BAD_REQUEST,
                "Your sign-in has expired",
                &["This can happen if you used the back button, or took a long time to sign in. Nothing has been changed."],
                json!({"link": again}),
                PageOpts::default(),
            ),
            SignInFailure::Unavailable => self.message(
                ctx,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                "Sorry, you cannot sign in at the moment",
                &[
                    "NHS login is not working at the moment. Try again later.",
                    "If you need to change an appointment urgently, contact the hospital's booking team using the phone number on your appointment letter.",
                ],
                json!({"link": again}),
                PageOpts::default(),
            ),
            SignInFailure::Failed(reference) => self.message(
                ctx,
                None,
                StatusCode::UNAUTHORIZED,
                "There is a problem signing you in",
                &["We could not sign you in with NHS login. Try again, or go back to the NHS App."],
                json!({"link": again, "reference": reference}),
                PageOpts::default(),
            ),
        }
    }

    async fn sign_out(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let Some(session) = self.optional_session(req).await else {
            return self.redirect("/signed-out");
        };
        let form = parse_form(req.body());
        if !self.csrf_ok(&session, &form) {
            return self.csrf_failed(ctx, &session);
        }
        let now = self.clock.now();
        let _ = self
            .store
            .append_audit(&AuditRecord {
                at: now,
                patient: session.patient.clone(),
                actor: "patient".into(),
                session: Some(session.reporting_id.clone()),
                action: AuditAction::SignedOut,
                appointment: None,
                detail: None,
            })
            .await;
        let clear = match self.sessions.end(req.headers()).await {
            Ok(c) => c,
            Err(_) => return self.problem(ctx, Some(&session)),
        };
        let mut res = self.redirect("/signed-out");
        res.headers_mut().append(header::SET_COOKIE, clear);
        res
    }

    async fn signed_out(&self, ctx: &Ctx) -> Response<Bytes> {
        self.message(
            ctx,
            None,
            StatusCode::OK,
            "You have signed out",
            &["Close this tab to go back to the NHS App, or sign in again to see your appointments."],
            json!({"link": {"href": "/patient-portal/appointments", "text": "Sign in again"}, "urgent": false}),
            PageOpts::default(),
        )
    }

    async fn extend(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = match self.patient(ctx, req, None).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        let form = parse_form(req.body());
        if !self.csrf_ok(&session, &form) {
            return self.csrf_failed(ctx, &session);
        }
        let back = form_get(&form, "return_to")
            .filter(|r| is_safe_return(r))
            .unwrap_or("/patient-portal/appointments")
            .to_owned();
        self.redirect(&back)
    }

    // ----- appointments -----

    async fn appointments(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = match self.patient(ctx, req, None).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        match self.journeys.appointments(&session).await {
            Ok((upcoming, past)) => {
                let count = match upcoming.len() {
                    1 => "1 upcoming appointment".to_owned(),
                    n => format!("{n} upcoming appointments"),
                };
                let data = json!({
                    "upcoming": upcoming.iter().map(crate::pages::card_model).collect::<Vec<_>>(),
                    "past": past.iter().map(crate::pages::card_model).collect::<Vec<_>>(),
                    "upcoming_count": count,
                });
                self.page(
                    ctx,
                    Some(&session),
                    StatusCode::OK,
                    "appointments",
                    "Your hospital appointments",
                    data,
                    PageOpts::default(),
                )
            }
            Err(e) => self.journey_error(ctx, &session, None, e),
        }
    }

    fn journey_error(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: Option<&AppointmentId>,
        e: crate::journeys::JourneyError,
    ) -> Response<Bytes> {
        use crate::journeys::JourneyError as E;
        match e {
            E::CannotView => self.cannot_view(ctx, Some(session)),
            E::NotAllowed(_) | E::Invalid(_) => match id {
                Some(id) => self.redirect(&format!("/patient-portal/appointment/{id}")),
                None => self.redirect("/patient-portal/appointments"),
            },
            E::SlotUnavailable => match id {
                Some(id) => self.redirect(&format!(
                    "/patient-portal/appointment/{id}/reschedule?taken=1"
                )),
                None => self.redirect("/patient-portal/appointments"),
            },
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other).map(ToString::to_string), "journey failed");
                self.problem(ctx, Some(session))
            }
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(html))
        .unwrap_or_default()
}

/// The Content-Security-Policy of the portal's pages.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'self'; script-src 'self' '{JS_ENABLED_SNIPPET_HASH}' {NHS_APP_JS_ORIGIN}; \
         style-src 'self'; img-src 'self' data:; font-src 'self' https://assets.nhs.uk; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    )
}

/// Adds the security headers every response carries (the CSP only on the portal's own HTML
/// pages; mounted handlers keep theirs).
fn with_security_headers(mut res: Response<Bytes>, own_html: bool) -> Response<Bytes> {
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if !h.contains_key(&name)
            && let Ok(v) = HeaderValue::from_str(value)
        {
            h.insert(name, v);
        }
    };
    set(
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    if own_html {
        set(header::CONTENT_SECURITY_POLICY, &content_security_policy());
        set(header::CACHE_CONTROL, "no-store");
    }
    res
}

#[cfg(test)]
mod tests;
