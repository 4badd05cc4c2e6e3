//! What the store holds, sampled for `/metrics` every [`EVERY`]: the outbox's depth, oldest
//! waiting event's age, quarantined events and delivered/total ratio (WF-NFR-MI-04 and 06), the
//! pending requests by age (so a trust sees requests waiting too long), and the store's own
//! latency (a readiness ping, timed). Counts and ages only; no request or patient is named.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::{RequestState, Store};
use nhs_portal_reporting::DeliveryRatio;

/// How often the gauges are sampled.
pub const EVERY: Duration = Duration::from_secs(15);

/// The age buckets of pending requests: label and upper bound in hours.
const AGES: [(&str, i64); 4] = [
    ("under_1d", 24),
    ("1d_to_3d", 72),
    ("3d_to_7d", 168),
    ("over_7d", i64::MAX),
];

/// Starts sampling (the first sample at once); it runs until the process ends.
pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    // The failure counters exist from the start, at zero (an absent series never alerts).
    nhs_portal_web::metered::register_zero();
    nhs_portal_web::portal::telemetry::register_zero();
    nhs_portal_web::fhir_api::register_zero();
    metrics::counter!(nhs_portal_web::metered::ERRORS, "type" => "store_unavailable").increment(0);
    crate::layers::register_zero();
    metrics::counter!("nhs_portal_housekeeping_failures_total").increment(0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            sample(&*store, &*clock).await;
        }
    });
}

async fn sample(store: &dyn Store, clock: &dyn Clock) {
    let started = Instant::now();
    let ping = store.ping().await;
    metrics::histogram!("nhs_portal_store_ping_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    if ping.is_err() {
        metrics::counter!(nhs_portal_web::metered::ERRORS, "type" => "store_unavailable")
            .increment(1);
        return;
    }
    let now = clock.now();
    if let Ok(r) = DeliveryRatio::read(store, now).await {
        let waiting = r.total - r.delivered - r.quarantined;
        metrics::gauge!("nhs_portal_outbox_depth").set(waiting as f64);
        metrics::gauge!("nhs_portal_outbox_quarantined").set(r.quarantined as f64);
        metrics::gauge!("nhs_portal_outbox_delivered_ratio").set(r.ratio());
        metrics::gauge!("nhs_portal_outbox_oldest_age_seconds").set(
            r.oldest_undelivered_age
                .map_or(0.0, |a| a.num_milliseconds() as f64 / 1000.0),
        );
    }
    if let Ok(pending) = store.list_requests(None, Some(RequestState::Pending)).await {
        let mut counts = [0u64; AGES.len()];
        for request in &pending {
            let hours = (now - request.created_at).num_hours();
            let bucket = AGES
                .iter()
                .position(|(_, max)| hours < *max)
                .unwrap_or(AGES.len() - 1);
            counts[bucket] += 1;
        }
        for ((age, _), n) in AGES.iter().zip(counts) {
            metrics::gauge!("nhs_portal_pending_requests", "age" => *age).set(n as f64);
        }
    }
}
