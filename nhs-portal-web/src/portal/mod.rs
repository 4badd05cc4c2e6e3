//! The portal as a service: `http::Request` in, `http::Response` out.
//!
//! [`Portal`] serves the patient pages, sign-in and sign-out, the static files, `/health`, and
//! whatever else is mounted under a path prefix ([`Portal::mount`] takes any
//! [`Handler`]: the PCA Get Appointments API at `/fhir`, the NHS login simulator at
//! `/nhs-login-simulator`, the staff worklist). It knows nothing about sockets: a vendor calls
//! [`Portal::handle`] (a body already collected), [`Portal::serve`] (any `http_body::Body`,
//! collected with a size limit), or uses it as a `tower::Service` (it is cheap to clone), for
//! example as the fallback of an axum `Router` (see `examples/mount-in-axum`).
//!
//! ```no_run
//! # async fn demo(portal: nhs_portal_web::portal::Portal) {
//! let req = http::Request::get("/health").body(bytes::Bytes::new()).unwrap();
//! let res = portal.handle(req).await;
//! assert_eq!(res.status(), 200);
//! # }
//! ```
//!
//! The rooms: [`routes`] (the route table), `gate` (the session gate), `eligibility` (the
//! eligibility gate's refusal pages), `sign_in_out`,
//! `appointment` (the appointment page), `list` (the list of appointments, the past ones in
//! short pages of their own), `waiting_list` (the page of a holding
//! record its trust shows as "On the waiting list"), `change` (the cancel and reschedule
//! journey, one flow driven by a table of wording), `info` (landing, static pages, health),
//! `respond` (the page frame and the error pages) and `views` (the typed view models).

// Handlers return a ready `Response` as their early-exit value; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::Duration;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;

use crate::assets::Assets;
use crate::http_kit::{self, with_security_headers};
use crate::journeys::Journeys;
use crate::pages::{PageError, Pages};
use crate::session::{SessionConfig, SessionManager};
use crate::sign_in::SignIn;

mod appointment;
mod change;
mod eligibility;
mod gate;
mod guide;
mod info;
mod list;
mod prefix;
mod respond;
pub mod routes;
mod sign_in_out;
pub mod telemetry;
mod views;
mod waiting_list;

pub use crate::http_kit::{
    Handler, JS_ENABLED_SNIPPET_HASH, NHS_APP_JS_ORIGIN, content_security_policy,
};

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
    /// Who may be served: the trust's eligibility rule (default 16 and over), the same as the
    /// PCA API's ([`crate::fhir_api::FhirApiConfig`]'s `eligibility`); applied before every
    /// patient page and journey step.
    pub eligibility: nhs_portal_core::eligibility::Eligibility,
    /// Each trust's contacts, clinic preparation, expected response time and cancel policy
    /// warning ([`nhs_portal_core::guidance`]; default none: the pages then point to the
    /// appointment letter).
    pub guidance: nhs_portal_core::guidance::Guidance,
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
            eligibility: nhs_portal_core::eligibility::Eligibility::DEFAULT,
            guidance: nhs_portal_core::guidance::Guidance::new(),
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

/// The portal's own rooms and their parts (shared by every clone of a [`Portal`]).
struct Inner {
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
    routes: routes::Routes,
    maintenance: AtomicBool,
    /// Set when the process is shutting down: `/health/ready` answers 503 so load balancers
    /// stop sending new requests while those in flight finish.
    draining: AtomicBool,
    /// The base URL's origin (`scheme://host[:port]`), for the cross-site check on POSTs.
    origin: String,
    /// The base URL's path, applied to every request and response in [`Portal::handle`].
    prefix: prefix::PathPrefix,
}

/// One mounted handler.
#[derive(Clone)]
struct Mount {
    prefix: String,
    /// The prefix as the metrics' `route` label, made once.
    label: metrics::SharedString,
    handler: Arc<dyn Handler>,
}

impl Mount {
    fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// The portal service. Cloning it is cheap (the clones share everything).
#[derive(Clone)]
pub struct Portal {
    inner: Arc<Inner>,
    mounts: Arc<Vec<Mount>>,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("base", &self.inner.base)
            .field(
                "mounts",
                &self.mounts.iter().map(|m| &m.prefix).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Whether a User-Agent is the NHS App's web view.
pub fn is_nhs_app(user_agent: &str) -> bool {
    user_agent.contains("nhsapp-ios/") || user_agent.contains("nhsapp-android/")
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
        let inner = Inner {
            pages: Pages::new()?,
            journeys: Journeys::new(parts.pas, parts.store.clone(), parts.clock.clone())
                .with_eligibility(cfg.eligibility),
            sessions: SessionManager::new(parts.store.clone(), session_cfg)
                .with_clock(parts.clock.clone()),
            secure_cookies,
            sign_in: parts.sign_in,
            assets: parts.assets,
            store: parts.store,
            clock: parts.clock,
            routes: routes::Routes::new(),
            maintenance: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            origin: url.origin().ascii_serialization(),
            prefix: prefix::PathPrefix::new(base.path_prefix()),
            base,
            cfg,
        };
        Ok(Self {
            inner: Arc::new(inner),
            mounts: Arc::new(Vec::new()),
        })
    }

    /// Mounts a handler under a path prefix such as `/fhir` (requests to the prefix itself and
    /// below go to it, with their path inside the portal: the base URL's path, if any, is
    /// already removed, and added back to what it answers). Anything implementing [`Handler`] mounts the same
    /// way: `FhirApi`, `Simulator`, `StaffPages`, or an `Arc` of one.
    pub fn mount(mut self, prefix: impl Into<String>, handler: impl Handler + 'static) -> Self {
        let prefix = prefix.into().trim_end_matches('/').to_owned();
        Arc::make_mut(&mut self.mounts).push(Mount {
            label: metrics::SharedString::from(prefix.clone()),
            prefix,
            handler: Arc::new(handler),
        });
        self
    }

    /// The journeys service (for the staff pages and tests).
    pub fn journeys(&self) -> &Journeys {
        &self.inner.journeys
    }

    /// Switches maintenance mode: patient pages answer 503 with the maintenance page.
    pub fn set_maintenance(&self, on: bool) {
        self.inner.maintenance.store(on, Ordering::SeqCst);
    }

    /// Marks the portal as draining (shutting down): `/health/ready` then answers 503
    /// `{"status":"draining"}` while every other route keeps serving, so requests in flight and
    /// those a load balancer sends before it notices still succeed.
    pub fn set_draining(&self, on: bool) {
        self.inner.draining.store(on, Ordering::SeqCst);
    }

    /// The NHS "Sorry, there is a problem with the service" page (503) as the portal would answer
    /// a request for `uri` with no session, security headers on: for a server's own refusals
    /// around the portal (load shed, a request timeout, a caught panic), so they look like the
    /// portal's. Machines (the PCA API) get `fhir_api::ApiError::Unavailable` instead.
    pub fn service_problem_page(&self, uri: &http::Uri) -> Response<Bytes> {
        let req = Request::get(uri.clone())
            .body(Bytes::new())
            .unwrap_or_default();
        let prefix = &self.inner.prefix;
        let res = match prefix.inward(req) {
            Some(req) => self.inner.problem(&routes::Ctx::of(&req), None),
            None => http_kit::text(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        };
        with_security_headers(prefix.outward(res))
    }

    /// Serves a request with any body type: the body is collected up to the configured limit
    /// (a larger one gets 413). A body that fails with an `std::io::Error` of kind `TimedOut`
    /// (how a server's read deadline reports a slowly dripped body) gets 408; any other body
    /// error 400.
    pub async fn serve<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send,
        B::Data: Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let res = match Limited::new(body, self.inner.cfg.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => {
                self.handle(Request::from_parts(parts, collected.to_bytes()))
                    .await
            }
            Err(e) => with_security_headers(body_refused(e.as_ref())),
        };
        res.map(Full::new)
    }

    /// Handles a request whose body is already collected.
    ///
    /// When the base URL has a path (`https://trust.example/hospital`), the portal answers only
    /// under it: this is the one place that removes it from requests and adds it to redirects,
    /// cookie paths and the links of HTML pages (see `portal/prefix.rs`), so the routes, the
    /// mounted handlers and the templates are all written as if the portal were at `/`.
    ///
    /// A request that could change something (any method but `GET`, `HEAD` and `OPTIONS`) sent
    /// from another site ([`http_kit::is_cross_site`]) is refused here, for the patient pages
    /// and every mounted handler alike, before anything reads its body.
    ///
    /// Each request is handled inside one `tracing` span, `request`, carrying its correlation
    /// id (`correlation_id`, chosen by
    /// [`Correlation::of_request`](crate::correlation::Correlation::of_request)),
    /// which is echoed on the response; so a vendor mounting the portal in its own server gets
    /// the same log lines and headers as the reference binary.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        use tracing::Instrument;
        let correlation = crate::correlation::Correlation::of_request(&req);
        // At ERROR level, so the span is on whenever any line is (a `warn` filter keeps it).
        let span = tracing::error_span!(
            "request",
            correlation_id = correlation.as_str(),
            method = %req.method(),
        );
        let prefix = &self.inner.prefix;
        let mut res = async {
            let res = match prefix.inward(req) {
                Some(req) => self.dispatch(req).await,
                None => http_kit::text(StatusCode::NOT_FOUND, "Page not found"),
            };
            with_security_headers(prefix.outward(res))
        }
        .instrument(span)
        .await;
        correlation.echo(res.headers_mut());
        res
    }

    /// The cross-site refusal, then a mounted handler or the portal's own routes (the path
    /// already inside the prefix).
    async fn dispatch(&self, req: Request<Bytes>) -> Response<Bytes> {
        let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe_method && http_kit::is_cross_site(req.headers(), &self.inner.origin) {
            return self.inner.cross_site_refused(&req);
        }
        let started = std::time::Instant::now();
        let path = req.uri().path();
        let (label, res) = match self.mounts.iter().find(|m| m.matches(path)) {
            Some(mount) => (mount.label.clone(), mount.handler.handle(req).await),
            None => {
                let (label, res) = self.inner.route(req).await;
                (metrics::SharedString::const_str(label), res)
            }
        };
        telemetry::request(label, res.status(), started.elapsed());
        res
    }
}

/// The answer to a request whose body could not be read (see [`Portal::serve`]).
fn body_refused(e: &(dyn std::error::Error + 'static)) -> Response<Bytes> {
    if e.is::<http_body_util::LengthLimitError>() {
        return http_kit::text(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    }
    match e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::TimedOut) => http_kit::text(
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time",
        ),
        _ => http_kit::text(
            StatusCode::BAD_REQUEST,
            "The request body could not be read",
        ),
    }
}

/// The portal as a `tower::Service`: any `http_body::Body` in (collected up to the configured
/// limit, as [`Portal::serve`]), never an error out.
impl<B> tower_service::Service<Request<B>> for Portal
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let portal = self.clone();
        Box::pin(async move { Ok(portal.serve(req).await) })
    }
}

#[cfg(test)]
mod tests;
