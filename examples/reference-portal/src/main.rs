//! The reference portal: the whole nhs-portal kit served with hyper 1 + hyper-util.
//!
//! Run with `cargo run --release -p nhs-portal-example` and open the address it prints.
//!
//! It starts in **demo mode**: a simulated PAS with demo data for two trusts (one real time, one
//! request only), the built-in **NHS login simulator** (not NHS login) mounted at
//! `/nhs-login-simulator` with the portal registered as its relying party (a key generated at
//! start-up), the staff worklist at `/staff` (access code printed at start-up, or
//! `NHS_PORTAL_STAFF_CODE`), and the PCA Get Appointments API at `/fhir/Appointment` (accepting
//! tokens the simulator mints).
//!
//! Settings (environment):
//! - `NHS_PORTAL_ADDR`: where to listen (default `127.0.0.1:8080`; port `0` picks a free port);
//! - `NHS_PORTAL_BASE_URL`: the public base URL (default `http://{addr}`);
//! - `NHS_PORTAL_DATABASE_URL`: the store, `sqlite:` or `postgres://` (default the SQLite file
//!   `./data/nhs-portal.sqlite3`);
//! - `NHS_PORTAL_REPORTING_URL`: Wayfinder Reporting Service base URL (optional; with
//!   `NHS_PORTAL_REPORTING_CLIENT_ID` and a bearer token in `NHS_PORTAL_REPORTING_TOKEN`);
//! - `NHS_PORTAL_STAFF_CODE`: the staff worklist access code (default: generated, printed);
//! - `NHS_PORTAL_SESSION_IDLE_SECONDS`: inactivity timeout (default 600; shorter values are for
//!   demonstrating the timeout warning);
//! - `NHS_PORTAL_ASSETS_DIR`: where the front-end npm packages are (default the
//!   `nhs-portal-web/assets` folder of this source tree); `npm ci` runs there when
//!   `node_modules` is missing.
//!
//! The first line on standard output is `nhs-portal listening on {base URL}` (test harnesses read
//! it to find the port).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::store::Store;
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_reporting::token::StaticToken;
use nhs_portal_reporting::worker::{OutboxWorker, OutboxWorkerConfig};
use nhs_portal_reporting::{WayfinderClient, WayfinderConfig};
use nhs_portal_web::assets::Assets;
use nhs_portal_web::fhir_api::auth::JwksBearerValidator;
use nhs_portal_web::fhir_api::{FhirApi, FhirApiConfig};
use nhs_portal_web::nhs_login::{
    ForwardedTokenConfig, JwksCache, JwksForwardedVerifier, NhsLoginConfig, RsaSigningKey,
};
use nhs_portal_web::portal::{DemoInfo, Portal, PortalConfig, PortalParts};
use nhs_portal_web::sign_in::NhsLoginSignIn;
use nhs_portal_web::simulator::{
    SIMULATED_NHS_APP_CLIENT_ID, Simulator, SimulatorClient, SimulatorConfig,
};
use nhs_portal_web::staff::StaffPages;

/// The portal's client id at its own NHS login simulator.
const DEMO_CLIENT_ID: &str = "nhs-portal-demo";
/// The audience of the demo PCA API bearer tokens.
const DEMO_API_AUDIENCE: &str = "nhs-portal-pca-api";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Installs the front-end npm packages if they are missing.
fn ensure_assets(dir: &Path) -> Result<(), BoxError> {
    if dir.join("node_modules/nhsuk-frontend").is_dir()
        && dir.join("node_modules/nhsapp-frontend").is_dir()
    {
        return Ok(());
    }
    eprintln!(
        "Installing the NHS front-end packages (npm ci in {})…",
        dir.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .map_err(|e| -> BoxError {
            format!(
                "cannot run npm ({e}). Install Node.js 20 and npm, or run `npm ci` in {} yourself",
                dir.display()
            )
            .into()
        })?;
    if !status.success() {
        return Err(format!("`npm ci` failed in {} ({status})", dir.display()).into());
    }
    Ok(())
}

async fn open_store(url: &str) -> Result<(Arc<dyn Store>, String), BoxError> {
    // A relative SQLite file path: make its folder (for the default `./data/`).
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        && let Some(dir) = Path::new(path.split('?').next().unwrap_or("")).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let store = nhs_portal_web::store::connect(url).await?;
    let shown = url.split('?').next().unwrap_or(url);
    let shown = if shown.starts_with("postgres") {
        "PostgreSQL"
    } else {
        shown
    };
    Ok((store, shown.to_owned()))
}

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

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let addr: SocketAddr = env("NHS_PORTAL_ADDR")
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let base_url = env("NHS_PORTAL_BASE_URL").unwrap_or_else(|| format!("http://{local}"));
    let base_url = base_url.trim_end_matches('/').to_owned();
    let database_url = env("NHS_PORTAL_DATABASE_URL")
        .unwrap_or_else(|| "sqlite://data/nhs-portal.sqlite3?mode=rwc".into());

    let assets_dir = env("NHS_PORTAL_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(nhs_portal_web::assets::default_dir);
    ensure_assets(&assets_dir)?;
    let assets = Assets::load(&assets_dir)?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, store_note) = open_store(&database_url).await?;

    // Demo data: the simulated PAS and the matching pending requests in the store.
    let data = DemoData::build(clock.now());
    let pas = Arc::new(data.simulated_pas(clock.clone()));
    let seeded = demo::seed_store(store.as_ref(), &data).await?;

    // The NHS login simulator, with this portal as its relying party.
    let issuer = format!("{base_url}/nhs-login-simulator");
    let redirect_uri = format!("{base_url}/sign-in/callback");
    let client_key = RsaSigningKey::generate()?;
    let simulator = Simulator::new(SimulatorConfig::new(&issuer).with_client(SimulatorClient {
        client_id: DEMO_CLIENT_ID.into(),
        redirect_uris: vec![redirect_uri.clone()],
        public_key: client_key.public_jwk(),
    }))?;
    let simulator_jwks = simulator.jwks();
    let sign_in = NhsLoginSignIn::new(
        NhsLoginConfig::new(&issuer, DEMO_CLIENT_ID, client_key, &redirect_uri),
        store.clone(),
        clock.clone(),
    );

    // The PCA API, accepting the simulator's tokens.
    let bearer = JwksBearerValidator::from_jwks_json(
        &serde_json::to_string(&simulator_jwks)?,
        &issuer,
        [DEMO_API_AUDIENCE],
    )?;
    let id_tokens = JwksForwardedVerifier::new(
        ForwardedTokenConfig::new(&issuer, vec![SIMULATED_NHS_APP_CLIENT_ID.into()]),
        Arc::new(JwksCache::fixed(simulator_jwks)),
    );
    let fhir = FhirApi::new(
        pas.clone(),
        store.clone(),
        clock.clone(),
        Arc::new(bearer),
        Arc::new(id_tokens),
        FhirApiConfig::new(
            DeepLinkBase::parse(&base_url)?,
            "nhs-portal reference portal",
        ),
    );

    // The staff worklist for both demo trusts.
    let staff_code = env("NHS_PORTAL_STAFF_CODE")
        .unwrap_or_else(|| nhs_portal_web::session::random_token()[..12].to_owned());
    let trusts = vec![demo::real_time_trust(), demo::request_only_trust()];
    let worklist =
        Worklist::new(store.clone(), pas.clone(), clock.clone()).with_applier(pas.clone());
    let secure = !base_url.starts_with("http://");
    let staff = StaffPages::new(worklist, trusts, &staff_code, clock.clone(), secure)?;

    let mut config = PortalConfig::new(&base_url);
    if let Some(secs) = env("NHS_PORTAL_SESSION_IDLE_SECONDS").and_then(|s| s.parse::<i64>().ok()) {
        // For demonstrating and testing the timeout: the warning still comes a minute before.
        config.session_idle = chrono::Duration::seconds(secs.max(61));
        config.session_warning = config.session_idle - chrono::Duration::seconds(60);
    }
    config.demo = Some(DemoInfo {
        patients: vec![demo::ADULT.into(), demo::SECOND_ADULT.into()],
        staff_href: Some("/staff".into()),
    });
    let portal = Arc::new(
        Portal::new(
            config,
            PortalParts {
                store: store.clone(),
                pas,
                clock: clock.clone(),
                sign_in: Arc::new(sign_in),
                assets,
            },
        )?
        .mount("/nhs-login-simulator", simulator)
        .mount("/staff", staff)
        .mount("/fhir", fhir),
    );

    // Reporting: deliver the outbox's usage events to Wayfinder when a URL is configured.
    let reporting = match env("NHS_PORTAL_REPORTING_URL") {
        Some(url) => {
            let client = WayfinderClient::new(
                WayfinderConfig::new(
                    &url,
                    env("NHS_PORTAL_REPORTING_CLIENT_ID").unwrap_or_else(|| DEMO_CLIENT_ID.into()),
                ),
                Arc::new(StaticToken::new(
                    env("NHS_PORTAL_REPORTING_TOKEN").unwrap_or_default(),
                )),
            )?;
            let worker = OutboxWorker::new(
                store.clone(),
                Arc::new(client),
                clock.clone(),
                OutboxWorkerConfig::default(),
            );
            // Claimed events are leased, so stopping the process mid-batch loses nothing.
            tokio::spawn(async move { worker.run(std::future::pending::<()>()).await });
            format!("reporting events are sent to {url}")
        }
        None => {
            "reporting events wait in the outbox (set NHS_PORTAL_REPORTING_URL to send them)".into()
        }
    };
    println!("nhs-portal listening on {base_url}");
    eprintln!(
        "  Demo mode: simulated hospital systems and the NHS login simulator (not NHS login)."
    );
    eprintln!("  Store: {store_note}; {seeded} demo requests added; {reporting}.");
    eprintln!(
        "  Patients: sign in as {} or {}.",
        demo::ADULT,
        demo::SECOND_ADULT
    );
    eprintln!("  Staff worklist: {base_url}/staff (access code {staff_code})");

    serve(listener, portal).await;
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, portal: Arc<Portal>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let portal = portal.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let portal = portal.clone();
                    async move { Ok::<_, std::convert::Infallible>(portal.serve(req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => {
                eprintln!("Shutting down: finishing requests in flight…");
                break;
            }
        }
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("Some connections did not finish in 10 seconds");
    }
}
