//! Serves the portal with hyper 1 + hyper-util: HTTP/1 and HTTP/2, a 10-second header timeout,
//! the layers of `layers.rs`, and a graceful drain on Ctrl-C or SIGTERM: `/health/ready` says
//! draining, no new connections are taken, and requests in flight get the drain deadline
//! (`NHS_PORTAL_DRAIN_SECONDS`) to finish.

use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use nhs_portal_web::portal::Portal;
use tokio::time::Instant;

use crate::layers::{self, ServeSettings};

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Accepts connections on `listener` until a shutdown signal, then drains: `stopping` is told
/// (for the background workers) and connections get until the returned instant, the drain
/// deadline, to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    portal: Arc<Portal>,
    settings: &ServeSettings,
    stopping: tokio::sync::watch::Sender<bool>,
) -> Instant {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let stack = layers::stack(portal.clone(), settings);
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let stack = stack.clone();
                let service = service_fn(move |mut req: Request<Incoming>| {
                    // The peer address, for per-client limits (`http_kit::client_key`).
                    req.extensions_mut()
                        .insert(nhs_portal_web::http_kit::ClientAddr(peer.ip()));
                    layers::call(stack.clone(), req)
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => {
                // Not ready from now on (`/health/ready` answers 503), so load balancers stop
                // sending; requests in flight finish below.
                portal.set_draining(true);
                let _ = stopping.send(true);
                tracing::info!(
                    deadline_seconds = settings.drain_seconds,
                    "shutting down: finishing requests in flight"
                );
                break;
            }
        }
    }
    let deadline = Instant::now() + settings.drain();
    // While the connections in flight finish, new ones are still served, one request each
    // (no keep-alive), so a load balancer asking `/health/ready` hears "draining" rather than
    // a refused connection; the drain ends when those in flight are done, or at the deadline.
    let mut late = auto::Builder::new(TokioExecutor::new());
    late.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(false);
    let mut during = tokio::task::JoinSet::new();
    let finished = tokio::time::timeout_at(deadline, graceful.shutdown());
    tokio::pin!(finished);
    loop {
        tokio::select! {
            done = &mut finished => {
                if done.is_err() {
                    tracing::warn!("some connections did not finish within the drain deadline");
                }
                break;
            }
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let stack = stack.clone();
                let service = service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut()
                        .insert(nhs_portal_web::http_kit::ClientAddr(peer.ip()));
                    layers::call(stack.clone(), req)
                });
                let conn = late.serve_connection(TokioIo::new(stream), service).into_owned();
                during.spawn(async move {
                    let _ = conn.await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout_at(deadline, async {
        while during.join_next().await.is_some() {}
    })
    .await;
    deadline
}
