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
//! start-up), the staff worklist at `/staff` (staff sign in through the trust's OpenID Connect
//! provider when `NHS_PORTAL_STAFF_OIDC_ISSUER` is set, else with the access code printed at
//! start-up or `NHS_PORTAL_STAFF_CODE`), and the PCA Get Appointments API at `/fhir/Appointment`
//! (accepting tokens the simulator mints). Usage events go to Wayfinder and NHS numbers to the PCA
//! Record Service when their settings are given (`reporting.rs`, `record_service.rs`).
//!
//! The first line on standard output is `nhs-portal listening on {base URL}` (test harnesses read
//! it to find the port). Settings that are wrong are each named on standard error, exit code 2.

/// mimalloc instead of the C library's malloc: the page path allocates and frees many small
/// values per request (the template models, handlebars' JSON), and glibc's malloc spent much of
/// its time consolidating them under load (docs/benchmarks.md, "The allocator"). Built with
/// mimalloc's `no_thp` (no transparent huge pages asked for): with them, the resident set grew by
/// about 15 MB and passed 64 MB with 10,000 sessions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod gauges;
mod housekeeping;
mod layers;
mod live_check;
mod live_settings;
mod load;
mod logging;
mod metrics;
mod monthly_csv;
mod open;
mod pas_feed;
mod record_service;
mod reporting;
mod serve;
mod settings;
mod staff_sign_in;
mod trusts;

use std::process::ExitCode;
use std::sync::Arc;

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
    logging::init(s.serve.log_format);
    let run = tokio::runtime::Runtime::new().map_err(BoxError::from);
    let run = run.and_then(|rt| match s.live.mode {
        live_settings::Mode::Demo => rt.block_on(run_demo(s)),
        live_settings::Mode::Live => rt.block_on(run_live(s)),
    });
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "nhs-portal-example stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run_demo(s: settings::Settings) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(s.addr).await?;
    let local = listener.local_addr()?;
    let base_url = s.base_url_for(local);
    let store = open::open_portal_store(s.database_url.expose(), s.instances).await?;

    let mut demo_settings =
        DemoSettings::new(&base_url)
            .with_store(store)
            .with_assets(match &s.assets_dir {
                Some(dir) => Assets::load(dir)?,
                None => Assets::embedded(),
            });
    demo_settings.staff_code = s.staff_code.as_ref().map(|c| c.expose().to_owned());
    demo_settings.staff_oidc = s
        .staff_oidc
        .build(&base_url, demo_settings.clock.clone())
        .await?;
    let staff_sign_in = match &demo_settings.staff_oidc {
        Some(oidc) => format!("sign in through {}", oidc.config().issuer),
        None => "access code {code}".to_owned(),
    };
    demo_settings.pca_secret = s.demo_pca_secret.expose().to_owned();
    demo_settings.pca_rate_limit = Some(s.demo_pca_rate_limit);
    demo_settings.session_idle = Some(chrono::Duration::seconds(s.session_idle_seconds.into()));
    demo_settings.instances = s.instances;
    let demo = DemoPortal::build(demo_settings).await?;
    if s.serve.demo_pas_delay_ms > 0 {
        // The test hook: every simulated PAS call waits first.
        demo.pas.set_faults(
            nhs_portal_pas::simulated::FaultPlan::new()
                .latency(std::time::Duration::from_millis(s.serve.demo_pas_delay_ms)),
        );
    }
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let (reporting, worker) =
        reporting::start(&s, demo.store.clone(), demo.clock.clone(), stop_rx.clone())?;
    let mut record_patients: Vec<_> = demo
        .data
        .appointments
        .iter()
        .map(|a| a.patient.clone())
        .collect();
    record_patients.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    record_patients.dedup();
    let (records, sender) = s
        .record_service
        .start(
            demo.store.clone(),
            demo.pas.clone(),
            demo.clock.clone(),
            record_patients,
            stop_rx,
        )
        .await?;

    println!("nhs-portal listening on {}", demo.base_url);
    let base = &demo.base_url;
    // No patient data in any log line, this one included: the simulator's sign-in page lists
    // the demo patients.
    tracing::info!(
        "Demo mode: simulated hospital systems and the NHS login simulator (not NHS login). \
         Store: {}; {} demo requests added; {reporting}; {records}. \
         Patients: pick a demo patient on the sign-in page ({base}/patient-portal/appointments). \
         NHS App simulator (not the NHS App): {base}{}. \
         Staff worklist: {base}/staff ({})",
        s.store_name(),
        demo.seeded,
        nhs_portal_web::demo::NHS_APP_PATH,
        staff_sign_in.replace("{code}", &demo.staff_code)
    );
    let portal = metrics::start(s.metrics_addr, Arc::clone(&demo.portal)).await?;
    // After the recorder is installed, so what they record from the first run is kept.
    housekeeping::start(&s, demo.store.clone(), demo.clock.clone());
    gauges::start(demo.store.clone(), demo.clock.clone());
    pas_feed::start(
        pas_feed::worklist(demo.store.clone(), demo.pas.clone(), demo.clock.clone()),
        demo.clock.as_ref(),
        Vec::new(),
    );
    let deadline = serve::serve(listener, portal, &s.serve, stopping).await;
    finish([worker, sender], deadline).await;
    Ok(())
}

/// After the connections drained: waits for the outbox worker and the Record Service sender to
/// finish their batches, until the drain deadline.
async fn finish(tasks: [reporting::Running; 2], deadline: tokio::time::Instant) {
    for task in tasks.into_iter().flatten() {
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            tracing::warn!(
                "a background sender did not finish its batch within the drain deadline"
            );
        }
    }
    tracing::info!("stopped");
}

/// Live mode: the settings were checked by `load` (checked again here, to have them typed).
async fn run_live(s: settings::Settings) -> Result<(), BoxError> {
    let (problems, live) = s.live.check(&s);
    let live = live.ok_or_else(|| problems.join("; "))?;
    let listener = tokio::net::TcpListener::bind(s.addr).await?;
    let store = open::open_portal_store(s.database_url.expose(), s.instances).await?;
    let clock: Arc<dyn nhs_portal_core::clock::Clock> =
        Arc::new(nhs_portal_core::clock::SystemClock);
    let (trusts_pas, subscribed) =
        trusts::pas(&live.trusts, clock.clone(), &live.base_url, store.clone())?;
    let pas: Arc<dyn nhs_portal_pas::PasBackend> = Arc::new(trusts_pas);
    // Polled and pushed changes go through one worklist.
    let feed = pas_feed::worklist(store.clone(), pas.clone(), clock.clone());
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
        pas.clone(),
        nhs_login,
        live.nhs_app_client_ids.clone(),
        pca,
    );
    settings.store = store;
    settings.clock = clock.clone();
    if let Some(dir) = &s.assets_dir {
        settings.assets = Assets::load(dir)?;
    }
    settings.eligibility = nhs_portal_core::eligibility::Eligibility::with_minimum_age(
        trusts::minimum_age(&live.trusts),
    );
    settings.session_idle = Some(chrono::Duration::seconds(s.session_idle_seconds.into()));
    settings.instances = s.instances;
    settings.guidance = trusts::guidance(&live.trusts);
    for w in trusts::warnings(&live.trusts) {
        tracing::warn!("trusts file: {w}");
    }
    // The staff worklist, only through the trust's identity provider (never a shared code).
    let staff = match s.staff_oidc.build(&live.base_url, clock.clone()).await? {
        Some(oidc) => {
            let worklist = nhs_portal_pas::worklist::Worklist::new(
                settings.store.clone(),
                pas.clone(),
                clock.clone(),
            );
            let pages = nhs_portal_web::staff::StaffPages::with_oidc(
                worklist,
                live.trusts.iter().map(|t| t.organisation.clone()).collect(),
                oidc.clone(),
                clock.clone(),
                !live.base_url.starts_with("http://"),
            )?;
            settings = settings.with_mount("/staff", Arc::new(pages));
            format!("staff sign in through {}", oidc.config().issuer)
        }
        None => "no staff worklist (no NHS_PORTAL_STAFF_OIDC_ISSUER)".to_owned(),
    };
    if let Some(route) = pas_feed::notifications(&feed, &subscribed) {
        settings = settings.with_mount(nhs_portal_web::fhir_notifications::PATH, Arc::new(route));
    }
    let portal = nhs_portal_web::live::LivePortal::build(settings).await?;
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let (reporting, worker) = reporting::start(
        &s,
        portal.store.clone(),
        portal.clock.clone(),
        stop_rx.clone(),
    )?;
    // The trust's PAS feed queues patients as they get appointments; nothing to queue at start.
    let (records, sender) = s
        .record_service
        .start(portal.store.clone(), pas, clock, Vec::new(), stop_rx)
        .await?;

    println!("nhs-portal listening on {}", portal.base_url);
    tracing::info!(
        "Live mode: NHS login at {}, {} trust(s), PCA tokens from {}. \
         Store: {}; {reporting}; {records}; {staff}.",
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
    housekeeping::start(&s, portal.store.clone(), portal.clock.clone());
    gauges::start(portal.store.clone(), portal.clock.clone());
    pas_feed::start(feed, portal.clock.as_ref(), subscribed);
    let deadline = serve::serve(listener, served, &s.serve, stopping).await;
    finish([worker, sender], deadline).await;
    Ok(())
}
