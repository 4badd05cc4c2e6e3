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

mod reporting;
mod serve;
mod settings;

use std::sync::Arc;

use nhs_portal_pas::demo;
use nhs_portal_web::assets::Assets;
use nhs_portal_web::demo::{DemoPortal, DemoSettings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let s = settings::Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(s.addr).await?;
    let local = listener.local_addr()?;
    let base_url = s.base_url.unwrap_or_else(|| format!("http://{local}"));
    settings::ensure_assets(&s.assets_dir)?;
    let (store, store_note) = settings::open_store(&s.database_url).await?;

    let mut demo_settings = DemoSettings::new(&base_url)
        .with_store(store)
        .with_assets(Assets::load(&s.assets_dir)?);
    demo_settings.staff_code = s.staff_code;
    demo_settings.session_idle = s.session_idle_seconds.map(chrono::Duration::seconds);
    let demo = DemoPortal::build(demo_settings).await?;
    let reporting = reporting::start(s.reporting, demo.store.clone(), demo.clock.clone())?;

    println!("nhs-portal listening on {}", demo.base_url);
    eprintln!(
        "  Demo mode: simulated hospital systems and the NHS login simulator (not NHS login)."
    );
    eprintln!(
        "  Store: {store_note}; {} demo requests added; {reporting}.",
        demo.seeded
    );
    eprintln!(
        "  Patients: sign in as {} or {}.",
        demo::ADULT,
        demo::SECOND_ADULT
    );
    eprintln!(
        "  Staff worklist: {}/staff (access code {})",
        demo.base_url, demo.staff_code
    );
    serve::serve(listener, Arc::clone(&demo.portal)).await;
    Ok(())
}
