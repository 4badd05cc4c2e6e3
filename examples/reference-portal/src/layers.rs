//! The layers the binary serves the portal through (the web crate owns no sockets, so these
//! belong to the server), and their settings. From the outside in:
//!
//! 1. compression (tower-http: gzip or brotli as the client accepts, for HTML, CSS, JS and
//!    JSON; not for images or responses too small to gain);
//! 2. [`Refusals`]: a refused request answered as the portal would, the NHS "Sorry, there is
//!    a problem with the service" page (503) for people, a FHIR `OperationOutcome` for the PCA
//!    API (503 `transient` when shed, 504 when timed out);
//! 3. load shedding over a concurrency limit (tower): past `NHS_PORTAL_MAX_CONCURRENT_REQUESTS`
//!    in flight a request is refused at once instead of queueing (the health checks go round
//!    this layer and the next, so an overloaded instance still answers them);
//! 4. the request timeout (tower), `NHS_PORTAL_REQUEST_TIMEOUT_SECONDS`, reading the body
//!    included; the PCA API's own 9-second budget answers first inside it;
//! 5. catch-panic (tower-http): a panic becomes the same page, not a dropped connection;
//! 6. [`DeadlineBody`]: the request body must arrive within `NHS_PORTAL_BODY_TIMEOUT_SECONDS` of
//!    the request's start, else 408.
//!
//! Two pieces are written here rather than taken from tower-http: `Refusals`, because the
//! answer depends on the request's path (pages or the API) and tower's error-to-response
//! helpers cannot see the request; and `DeadlineBody`, because tower-http's `TimeoutBody`
//! restarts its timer at every frame, so a body dripped a byte at a time never trips it.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use nhs_portal_web::correlation::Correlation;
use nhs_portal_web::portal::Portal;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use crate::logging::LogFormat;

/// The body every layer answers with.
pub type ResBody = UnsyncBoxBody<Bytes, BoxError>;

/// How the binary serves: logs, timeouts, load shedding, drain.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeSettings {
    /// Log lines as `text` or one JSON object per line (`json`); the level comes from
    /// RUST_LOG (default info).
    #[arg(
        long,
        env = "NHS_PORTAL_LOG_FORMAT",
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    /// Seconds a request may take, reading its body included, before the service-problem page
    /// (503), 1 to 300.
    #[arg(
        long,
        env = "NHS_PORTAL_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u16).range(1..=300)
    )]
    pub request_timeout_seconds: u16,

    /// Seconds from a request's start within which its whole body must arrive (slowly dripped
    /// bodies are cut off with 408), 1 to 300.
    #[arg(
        long,
        env = "NHS_PORTAL_BODY_TIMEOUT_SECONDS",
        default_value_t = 5,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u16).range(1..=300)
    )]
    pub body_timeout_seconds: u16,

    /// Requests handled at once before more are refused with the service-problem page (load
    /// shedding), 1 to 100000.
    #[arg(
        long,
        env = "NHS_PORTAL_MAX_CONCURRENT_REQUESTS",
        default_value_t = 256,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=100_000)
    )]
    pub max_concurrent_requests: u32,

    /// Seconds a shutdown (SIGTERM or Ctrl-C) waits for requests in flight and the outbox
    /// worker's batch to finish, 1 to 300; /health/ready answers draining meanwhile.
    #[arg(
        long,
        env = "NHS_PORTAL_DRAIN_SECONDS",
        default_value_t = 10,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u16).range(1..=300)
    )]
    pub drain_seconds: u16,

    /// Demo mode only, a test hook: every call to the simulated PAS first waits this many
    /// milliseconds (to show timeouts); 0 for none.
    #[arg(
        long,
        env = "NHS_PORTAL_DEMO_PAS_DELAY_MS",
        default_value_t = 0,
        value_name = "MS"
    )]
    pub demo_pas_delay_ms: u64,
}

impl ServeSettings {
    /// The drain deadline.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_seconds.into())
    }

    /// The lines of the `--check-config` summary.
    pub fn summary(&self) -> Vec<String> {
        vec![
            format!("  log format:    {}", self.log_format.as_str()),
            format!(
                "  limits:        requests {} s, bodies {} s, {} at once, drain {} s",
                self.request_timeout_seconds,
                self.body_timeout_seconds,
                self.max_concurrent_requests,
                self.drain_seconds
            ),
        ]
    }
}

/// The portal behind every layer, cheap to clone (one per connection; the concurrency limit
/// is shared by all clones).
pub type Served =
    tower::util::BoxCloneSyncService<Request<hyper::body::Incoming>, Response<ResBody>, BoxError>;

/// Builds the stack described at the top of this file.
pub fn stack(portal: Arc<Portal>, s: &ServeSettings) -> Served {
    let body_deadline = Duration::from_secs(s.body_timeout_seconds.into());
    let inner = (*portal).clone();
    let svc = ServiceBuilder::new()
        .layer(tower_http::compression::CompressionLayer::new())
        .layer_fn(|inner| Refusals {
            inner,
            portal: portal.clone(),
        })
        .load_shed()
        .concurrency_limit(s.max_concurrent_requests as usize)
        .timeout(Duration::from_secs(s.request_timeout_seconds.into()))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .map_request(move |req: Request<hyper::body::Incoming>| {
            req.map(|b| DeadlineBody::new(b, body_deadline))
        })
        .service(inner)
        .map_response(|res| res.map(|b| b.map_err(BoxError::from).boxed_unsync()));
    tower::util::BoxCloneSyncService::new(svc)
}

/// Marks the response catch-panic makes, for [`Refusals`] to replace with the page.
#[derive(Clone, Copy)]
struct Panicked;

fn panicked(_: Box<dyn Any + Send + 'static>) -> Response<Full<Bytes>> {
    // The panic's message may quote data: it is not logged.
    tracing::error!("a request handler panicked");
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    res.extensions_mut().insert(Panicked);
    res
}

/// Turns the errors of the layers inside (shed, timed out) and a caught panic into the
/// portal's own answers (see the top of this file).
#[derive(Clone)]
pub struct Refusals<S> {
    inner: S,
    portal: Arc<Portal>,
}

impl<S, B, RB> Service<Request<B>> for Refusals<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    RB: Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<UnsyncBoxBody<Bytes, BoxError>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        use tracing::Instrument;
        let uri = req.uri().clone();
        // The PCA's own header, echoed on its refusals (a call without one is not given one).
        let correlation = req
            .headers()
            .get(nhs_portal_web::correlation::CORRELATION_ID)
            .filter(|v| nhs_portal_web::correlation::usable(v))
            .cloned();
        // The request's id, chosen once here and handed to the portal, so the lines logged
        // here and there name the same one.
        let id = Correlation::of_request(&req);
        req.extensions_mut().insert(id.clone());
        // At ERROR level, so it is on whenever any line is.
        let span = tracing::error_span!("server", correlation_id = id.as_str());
        let portal = self.portal.clone();
        if is_health(uri.path()) {
            // Health checks go round the limit and the timeout: an overloaded instance is
            // still alive, and its load balancer must hear so rather than restart it.
            return Box::pin(async move {
                let res = portal.serve(req).await;
                Ok(res.map(|b| b.map_err(BoxError::from).boxed_unsync()))
            });
        }
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                let refused = match fut.await {
                    Ok(res) if res.extensions().get::<Panicked>().is_none() => {
                        return Ok(res.map(|b| b.map_err(Into::into).boxed_unsync()));
                    }
                    Ok(_) => Refused::Panicked,
                    Err(e) => {
                        let e: BoxError = e.into();
                        if e.is::<tower::load_shed::error::Overloaded>() {
                            Refused::Shed
                        } else if e.is::<tower::timeout::error::Elapsed>() {
                            Refused::TimedOut
                        } else {
                            return Err(e);
                        }
                    }
                };
                tracing::warn!(reason = refused.as_str(), "request refused by the server");
                nhs_portal_web::metered::count_error(refused.error_type());
                let mut res = if is_api(uri.path()) {
                    let api = match refused {
                        Refused::TimedOut => nhs_portal_web::fhir_api::ApiError::Timeout,
                        Refused::Shed => nhs_portal_web::fhir_api::ApiError::Unavailable,
                        Refused::Panicked => nhs_portal_web::fhir_api::ApiError::Internal,
                    };
                    api.into_response(correlation.as_ref())
                } else {
                    portal.service_problem_page(&uri)
                };
                if correlation.is_some() || !is_api(uri.path()) {
                    id.echo(res.headers_mut());
                }
                Ok(res.map(|b| Full::new(b).map_err(BoxError::from).boxed_unsync()))
            }
            .instrument(span),
        )
    }
}

#[derive(Clone, Copy)]
enum Refused {
    Shed,
    TimedOut,
    Panicked,
}

/// Records zero for each way the server refuses a request, so the series exist before the
/// first refusal (an absent series never alerts).
pub fn register_zero() {
    for refused in [Refused::Shed, Refused::TimedOut, Refused::Panicked] {
        metrics::counter!(nhs_portal_web::metered::ERRORS, "type" => refused.error_type())
            .increment(0);
    }
}

impl Refused {
    /// The `type` label of `nhs_portal_errors_total`.
    fn error_type(self) -> &'static str {
        match self {
            Self::Shed => "overloaded",
            Self::TimedOut => "timed_out",
            Self::Panicked => "panicked",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Shed => "overloaded",
            Self::TimedOut => "timed out",
            Self::Panicked => "panicked",
        }
    }
}

/// Whether a path is the PCA API's (answered with FHIR, not pages), under any base path.
fn is_api(path: &str) -> bool {
    path.split('/').any(|seg| seg == "fhir")
}

/// Whether a path is a health check's (`/health/live`, `/health/ready`, under any base path).
fn is_health(path: &str) -> bool {
    path.ends_with("/health/live") || path.ends_with("/health/ready")
}

/// A request body that must arrive whole by a deadline set when the request starts; after it,
/// reading fails with an `io::Error` of kind `TimedOut`, which the portal answers with 408.
pub struct DeadlineBody<B> {
    body: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> DeadlineBody<B> {
    /// `body`, due within `within` from now.
    pub fn new(body: B, within: Duration) -> Self {
        Self {
            body,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body not received in time",
            ))));
        }
        Pin::new(&mut self.body)
            .poll_frame(cx)
            .map_err(|e| std::io::Error::other(e.into()))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Used by `serve.rs`: one request through the stack.
pub async fn call(
    svc: Served,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<ResBody>, BoxError> {
    svc.oneshot(req).await
}
