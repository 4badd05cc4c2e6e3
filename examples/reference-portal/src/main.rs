//! The reference portal: the whole nhs-portal kit served with hyper 1 + hyper-util.
//!
//! Run with `cargo run --release -p nhs-portal-example` and open the address it prints;
//! `nhs-portal-example --help` lists every setting (flags, or `NHS_PORTAL_*` environment
//! variables: see `settings.rs` and README.md) and `--check-config` checks them and exits.
//!
//! With `NHS_PORTAL_MODE=live` it runs in **live mode** instead: NHS login, the trusts' FHIR
//! PASes (`NHS_PORTAL_TRUSTS_FILE`) and the PCA's bearer tokens, wired by
//! `nhs_portal_web::live::LivePortal` with no simulator (`run_live`).
//!
//! With no settings it starts in **demo mode**: a simulated PAS with demo data for two trusts (one real time, one
//! request only), the built-in **NHS login simulator** (not NHS login) mounted at
//! `/nhs-login-simulator` with the portal registered as its relying party (a key generated at
//! start-up), the staff worklist at `/staff` (access code printed at start-up, or
//! `NHS_PORTAL_STAFF_CODE`), and the PCA Get Appointments API at `/fhir/Appointment` (accepting
//! tokens the simulator mints).
//!
//! The first line on standard output is `nhs-portal listening on {base URL}` (test harnesses read
//! it to find the port). Settings that are wrong are each named on standard error, exit code 2.

mod live_check;
mod live_settings;
mod load;
mod metrics;
mod monthly_csv;
mod open;
mod reporting;
mod serve;
mod settings;
mod trusts;

use std::process::ExitCode;
use std::sync::Arc;

use nhs_portal_pas::demo;
use nhs_portal_web::assets::Assets;
use nhs_portal_web::demo::{DemoPortal, DemoSettings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let s = match load::load(std::env::args_os().collect()) {
        Ok(s) => s,
        Err(problems) => {
            eprintln!("nhs-portal-example: the configuration has problems:");
            for p in problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    if s.check_config {
        println!("{}", load::summary(&s));
        return ExitCode::SUCCESS;
    }
    if let Some(month) = s.monthly_csv {
        return monthly_csv::run(&s, month);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let run = tokio::runtime::Runtime::new().map_err(BoxError::from);
    let run = run.and_then(|rt| match s.live.mode {
        live_settings::Mode::Demo => rt.block_on(run_demo(s)),
        live_settings::Mode::Live => rt.block_on(run_live(s)),
    });
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhs-portal-example: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_demo(s: settings::Settings) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(s.addr).await?;
    let local = listener.local_addr()?;
    let base_url = s.base_url_for(local);
    let store = open::open_store(s.database_url.expose()).await?;

    let mut demo_settings =
        DemoSettings::new(&base_url)
            .with_store(store)
            .with_assets(match &s.assets_dir {
                Some(dir) => Assets::load(dir)?,
                None => Assets::embedded(),
            });
    demo_settings.staff_code = s.staff_code.as_ref().map(|c| c.expose().to_owned());
    demo_settings.pca_secret = s.demo_pca_secret.expose().to_owned();
    demo_settings.session_idle = Some(chrono::Duration::seconds(s.session_idle_seconds.into()));
    let demo = DemoPortal::build(demo_settings).await?;
    let reporting = reporting::start(&s, demo.store.clone(), demo.clock.clone())?;

    println!("nhs-portal listening on {}", demo.base_url);
    let base = &demo.base_url;
    eprintln!(
        "  Demo mode: simulated hospital systems and the NHS login simulator (not NHS login).\n  \
         Store: {}; {} demo requests added; {reporting}.\n  \
         Patients: sign in as {} or {}.\n  \
         NHS App simulator (not the NHS App): {base}{}\n  \
         Staff worklist: {base}/staff (access code {})",
        s.store_name(),
        demo.seeded,
        demo::ADULT,
        demo::SECOND_ADULT,
        nhs_portal_web::demo::NHS_APP_PATH,
        demo.staff_code
    );
    let portal = metrics::start(s.metrics_addr, Arc::clone(&demo.portal)).await?;
    serve::serve(listener, portal).await;
    Ok(())
}

/// Live mode: the settings were checked by `load` (checked again here, to have them typed).
async fn run_live(s: settings::Settings) -> Result<(), BoxError> {
    let (problems, live) = s.live.check(&s);
    let live = live.ok_or_else(|| problems.join("; "))?;
    let listener = tokio::net::TcpListener::bind(s.addr).await?;
    let store = open::open_store(s.database_url.expose()).await?;
    let clock: Arc<dyn nhs_portal_core::clock::Clock> =
        Arc::new(nhs_portal_core::clock::SystemClock);
    let pas = trusts::pas(&live.trusts, clock.clone())?;
    let nhs_login = nhs_portal_web::nhs_login::NhsLoginConfig::new(
        &live.issuer,
        &live.client_id,
        live.key.clone(),
        &live.redirect_uri,
    );
    let pca = nhs_portal_web::live::PcaBearer {
        issuer: live.pca_issuer.clone(),
        jwks_url: live.pca_jwks_url.clone(),
        audience: live.pca_audience.clone(),
    };
    let mut settings = nhs_portal_web::live::LiveSettings::new(
        &live.base_url,
        Arc::new(pas),
        nhs_login,
        live.nhs_app_client_ids.clone(),
        pca,
    );
    settings.store = store;
    settings.clock = clock;
    if let Some(dir) = &s.assets_dir {
        settings.assets = Assets::load(dir)?;
    }
    settings.eligibility = nhs_portal_core::eligibility::Eligibility::with_minimum_age(
        trusts::minimum_age(&live.trusts),
    );
    settings.session_idle = Some(chrono::Duration::seconds(s.session_idle_seconds.into()));
    let portal = nhs_portal_web::live::LivePortal::build(settings).await?;
    let reporting = reporting::start(&s, portal.store.clone(), portal.clock.clone())?;

    println!("nhs-portal listening on {}", portal.base_url);
    eprintln!(
        "  Live mode: NHS login at {}, {} trust(s), PCA tokens from {}.\n  \
         Store: {}; {reporting}.",
        live.issuer,
        live.trusts.len(),
        live.pca_issuer,
        s.store_name(),
    );
    // Live mode serves metrics only on their own listener, never to the public.
    let served = match s.metrics_addr {
        Some(addr) => metrics::start(Some(addr), Arc::clone(&portal.portal)).await?,
        None => Arc::clone(&portal.portal),
    };
    serve::serve(listener, served).await;
    Ok(())
}
