//! Prometheus metrics: installs the `metrics` recorder the libraries record to (see
//! `nhs_portal_web::portal::telemetry`) and serves its text at `/metrics`: on its own listener
//! (`NHS_PORTAL_METRICS_ADDR`, for an address the public cannot reach), or else on the portal's
//! own listener, which only the demo does.
//!
//! The exporter crate's own HTTP listener is not used (its default features pull a second
//! HTTP stack); the separate listener here is a few lines of the hyper the binary already has.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use nhs_portal_web::http_kit::Handler;
use nhs_portal_web::portal::Portal;

use crate::BoxError;

/// Latency buckets, in seconds (a page answers in milliseconds; the PCA's budget is 9 s).
const SECONDS_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 9.0,
];

/// `/metrics` mounted on the portal.
struct MetricsPage(PrometheusHandle);

#[async_trait]
impl Handler for MetricsPage {
    async fn handle(&self, _req: Request<Bytes>) -> Response<Bytes> {
        text(&self.0)
    }
}

fn text(handle: &PrometheusHandle) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(handle.render()));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

/// Installs the recorder and starts serving it; returns the portal to serve (with `/metrics`
/// mounted when there is no separate listener).
pub async fn start(addr: Option<SocketAddr>, portal: Arc<Portal>) -> Result<Arc<Portal>, BoxError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let Some(addr) = addr else {
        return Ok(Arc::new(
            (*portal).clone().mount("/metrics", MetricsPage(handle)),
        ));
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let res = if req.uri().path() == "/metrics" {
                    text(&handle)
                } else {
                    let mut res = Response::new(Bytes::from_static(b"Not found"));
                    *res.status_mut() = StatusCode::NOT_FOUND;
                    res
                };
                async move { Ok::<_, std::convert::Infallible>(res.map(Full::new)) }
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(portal)
}
