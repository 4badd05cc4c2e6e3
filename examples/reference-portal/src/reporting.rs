//! Delivers the outbox's usage events to the Wayfinder Reporting Service when a URL is set.

use std::sync::Arc;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::Store;
use nhs_portal_reporting::token::StaticToken;
use nhs_portal_reporting::worker::{OutboxWorker, OutboxWorkerConfig};
use nhs_portal_reporting::{WayfinderClient, WayfinderConfig};
use nhs_portal_web::demo::DEMO_CLIENT_ID;

use crate::BoxError;
use crate::settings::Settings;

/// Starts the outbox worker when a Reporting Service URL (and token) is set, or leaves events waiting; returns
/// a line saying which.
pub fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<String, BoxError> {
    let (Some(url), Some(token)) = (&settings.reporting_url, &settings.reporting_token) else {
        return Ok(
            "reporting events wait in the outbox (set NHS_PORTAL_REPORTING_URL to send them)"
                .into(),
        );
    };
    let client = WayfinderClient::new(
        WayfinderConfig::new(
            url.as_str(),
            settings
                .reporting_client_id
                .clone()
                .unwrap_or_else(|| DEMO_CLIENT_ID.into()),
        ),
        Arc::new(StaticToken::new(token.expose())),
    )?;
    let worker = OutboxWorker::new(
        store,
        Arc::new(client),
        clock,
        OutboxWorkerConfig::default(),
    );
    // Claimed events are leased, so stopping the process mid-batch loses nothing.
    tokio::spawn(async move { worker.run(std::future::pending::<()>()).await });
    Ok(format!("reporting events are sent to {url}"))
}
