//! Learning what the trust did in its PAS: the worklist's sync (`Worklist::sync_loop`) polls the
//! PAS event feed every [`EVERY`] and resolves the pending requests the trust acted on, and
//! reports the trust's own changes (new appointments, no-shows, attendances, hospital
//! cancellations and moves) to Wayfinder through the outbox. Each change is processed once
//! (the store's last-seen record), so the first poll may start well before now.

use std::sync::Arc;
use std::time::Duration;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::worklist::Worklist;

/// How often the feed is polled (the PCA wants PAS-side changes visible within 3 minutes).
pub const EVERY: Duration = Duration::from_secs(60);

/// How far back the first poll looks: changes made while the portal was stopped for a
/// redeployment are still seen.
const FIRST_LOOK_BACK: chrono::Duration = chrono::Duration::hours(24);

/// Starts the sync on the runtime; it runs until the process ends.
pub fn start(store: Arc<dyn Store>, pas: Arc<dyn PasBackend>, clock: Arc<dyn Clock>) {
    let since = clock.now() - FIRST_LOOK_BACK;
    let pas: Arc<dyn PasBackend> = Arc::new(nhs_portal_web::metered::MeteredPas::new(pas));
    let worklist = Worklist::new(store, pas, clock);
    tokio::spawn(worklist.sync_loop(since, EVERY));
}
