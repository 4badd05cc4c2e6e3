//! Housekeeping on a schedule: every `NHS_PORTAL_HOUSEKEEPING_SECONDS` the store removes
//! expired sessions (which hold NHS numbers), abandoned sign-ins and spent idempotency records,
//! and audit records past `NHS_PORTAL_AUDIT_RETENTION_DAYS` when that is set. What was removed
//! goes to metrics as counts (`nhs_portal_housekept_total{kind}`), never to the log.
//!
//! Several instances on one database may all run it: each deletion is idempotent.

use std::sync::Arc;
use std::time::Duration;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::{HousekeepingPolicy, Housekept, Store};

use crate::settings::Settings;

/// The policy the settings give.
pub fn policy(s: &Settings) -> HousekeepingPolicy {
    HousekeepingPolicy {
        session_idle: chrono::Duration::seconds(s.session_idle_seconds.into()),
        audit_retention: s
            .audit_retention_days
            .map(|d| chrono::Duration::days(d.into())),
        ..HousekeepingPolicy::default()
    }
}

/// Starts housekeeping on the runtime: the first run one interval after start, so the metrics
/// recorder is installed by then; it runs until the process ends.
pub fn start(s: &Settings, store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let every = Duration::from_secs(s.housekeeping_seconds.into());
    let policy = policy(s);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.housekeep(clock.now(), &policy).await {
                Ok(done) => record(&done),
                Err(e) => {
                    metrics::counter!("nhs_portal_housekeeping_failures_total").increment(1);
                    tracing::warn!(error = %e, "housekeeping failed; it runs again next interval");
                }
            }
        }
    });
}

fn record(done: &Housekept) {
    metrics::counter!("nhs_portal_housekeeping_runs_total").increment(1);
    for (kind, n) in [
        ("session", done.sessions),
        ("pending_login", done.pending_logins),
        ("idempotency_record", done.idempotency_records),
        ("audit_record", done.audit_records),
    ] {
        metrics::counter!("nhs_portal_housekept_total", "kind" => kind).increment(n);
    }
}
