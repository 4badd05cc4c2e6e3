//! Nesting nhs-portal in an axum `Router`, beside your own routes.
//!
//! The portal is a `tower::Service` (and cheap to clone), so it goes in as the router's
//! fallback: your routes answer first (here `/hello`), everything else (the patient pages, the
//! mounted NHS login simulator, `/health`, the static files) goes to the portal with its full
//! path. A fallback rather than `nest_service`, because the portal's paths are a contract with
//! the NHS App and the PCA (`/patient-portal/appointment/{id}`) and must not be stripped.
//!
//! Run with `cargo run -p nhs-portal-example-axum` and open <http://127.0.0.1:8091/>, or
//! `cargo run -p nhs-portal-example-axum -- --self-test` to ask both sides once and exit.
//! The PAS is the simulated demo PAS, sign-in the built-in NHS login simulator (not NHS login),
//! the store in memory: put your own PAS adapter, NHS login settings and store in their place.
//!
//! Logs go to stderr (`RUST_LOG=debug` for more). When sign-in fails, look for `NHS login
//! discovery failed` (the issuer URL is wrong or unreachable from the server), `NHS login
//! sign-in failed` (its `error` names the check that failed) and `sign-in callback refused`
//! (the sign-in cookie did not come back). Without a subscriber the patient sees "Sorry, there
//! is a problem with the service" and nothing says why.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::demo::DemoData;
use nhs_portal_web::nhs_login::{NhsLoginConfig, RsaSigningKey};
use nhs_portal_web::portal::{Portal, PortalConfig, PortalParts};
use nhs_portal_web::sign_in::NhsLoginSignIn;
use nhs_portal_web::simulator::{Simulator, SimulatorClient, SimulatorConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ADDR: &str = "127.0.0.1:8091";

/// The portal, built for `base` from the demo parts.
fn portal(base: &str) -> Result<Portal, BoxError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(MemoryStore::new());
    let pas = Arc::new(DemoData::build(clock.now()).simulated_pas(clock.clone()));
    let (issuer, callback) = (
        format!("{base}/nhs-login-simulator"),
        format!("{base}/sign-in/callback"),
    );
    let key = RsaSigningKey::generate()?;
    let simulator = Simulator::new(SimulatorConfig::new(&issuer).with_client(SimulatorClient {
        client_id: "axum-example".into(),
        redirect_uris: vec![callback.clone()],
        public_key: key.public_jwk(),
    }))?;
    let sign_in = NhsLoginSignIn::new(
        NhsLoginConfig::new(&issuer, "axum-example", key, &callback),
        store.clone(),
        clock.clone(),
    );
    let parts = PortalParts {
        store,
        pas,
        clock,
        sign_in: Arc::new(sign_in),
        assets: nhs_portal_web::assets::Assets::embedded(),
    };
    Ok(Portal::new(PortalConfig::new(base), parts)?.mount("/nhs-login-simulator", simulator))
}

/// Your application: your own routes, and the portal for everything else.
fn app(portal: Portal) -> Router {
    Router::new()
        .route(
            "/hello",
            get(|| async { "hello from the vendor's own route" }),
        )
        .fallback_service(portal)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if std::env::args().any(|a| a == "--self-test") {
        let addr = start("127.0.0.1:0").await?;
        check(addr).await?;
        println!("both the vendor's route and the portal answered");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(ADDR).await?;
    println!("listening on http://{ADDR}");
    axum::serve(listener, app(portal(&format!("http://{ADDR}"))?)).await?;
    Ok(())
}

/// Serves the app on `addr` in the background (port 0: any free port), with the portal's base
/// URL where it listens; the address it listens on.
async fn start(addr: &str) -> Result<std::net::SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = app(portal(&format!("http://{addr}"))?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Asks the vendor's route, the portal and the simulator mounted in the portal, over the
/// socket: each must give its own answer.
async fn check(addr: std::net::SocketAddr) -> Result<(), BoxError> {
    let base = format!("http://{addr}");
    let simulator_authorize = format!("location: {base}/nhs-login-simulator/authorize?");
    let issuer = format!("\"issuer\":\"{base}/nhs-login-simulator\"");
    let cases: [(&str, &str, &str); 5] = [
        ("/hello", "200", "hello from the vendor's own route"),
        ("/health", "200", "\"status\":\"ok\""),
        ("/", "200", "Manage your hospital appointments"),
        // The full path reached the portal, which sends the patient to sign in at the NHS
        // login simulator it mounts.
        ("/patient-portal/appointments", "303", &simulator_authorize),
        (
            "/nhs-login-simulator/.well-known/openid-configuration",
            "200",
            &issuer,
        ),
    ];
    for (path, status, contains) in cases {
        let answer = http_get(addr, path).await?;
        let got = answer.split_whitespace().nth(1).unwrap_or("none");
        println!("GET {path}: {got}");
        if got != status
            || !answer
                .to_ascii_lowercase()
                .contains(&contains.to_ascii_lowercase())
        {
            return Err(
                format!("GET {path}: expected {status} with {contains:?}, got:\n{answer}").into(),
            );
        }
    }
    Ok(())
}

/// A minimal HTTP/1.1 GET: the whole answer as text.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<String, BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_vendors_route_and_the_portal_both_answer() {
        let addr = super::start("127.0.0.1:0").await.unwrap();
        super::check(addr).await.unwrap();
    }
}
