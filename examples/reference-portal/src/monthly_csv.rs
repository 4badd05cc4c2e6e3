//! `nhs-portal-example --monthly-csv YYYY-MM`: the Wayfinder monthly CSV ("Method 1") for one UK
//! month, from the events stored at `NHS_PORTAL_DATABASE_URL`, aggregated by trust, event code
//! and outcome with no NHS numbers or other identifiers
//! ([`nhs_portal_reporting::monthly_csv`], layout in docs/reporting.md: an assumption to confirm
//! with NHS England). The CSV goes to standard output; progress goes to standard error.

use std::io::Write;
use std::process::ExitCode;

use nhs_portal_reporting::MonthlyReport;
use nhs_portal_reporting::monthly_csv::Month;

use crate::settings::Settings;

/// Writes the month's CSV to standard output; exit 0, or 1 naming what failed.
pub fn run(settings: &Settings, month: Month) -> ExitCode {
    let done = tokio::runtime::Runtime::new()
        .map_err(crate::BoxError::from)
        .and_then(|rt| rt.block_on(write(settings, month)));
    match done {
        Ok(events) => {
            eprintln!("monthly CSV for {month}: {events} events counted");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nhs-portal-example: the monthly CSV for {month} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn write(settings: &Settings, month: Month) -> Result<u64, crate::BoxError> {
    let store = crate::open::open_store(settings.database_url.expose()).await?;
    let mut read = 0;
    let report = MonthlyReport::from_store(store.as_ref(), month, |p| {
        read = p.events;
        eprint!("\rmonthly CSV for {month}: {} events read", p.events);
    })
    .await?;
    if read > 0 {
        eprintln!();
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report.write_csv(&mut out)?;
    out.flush()?;
    Ok(report.rows.values().sum())
}
