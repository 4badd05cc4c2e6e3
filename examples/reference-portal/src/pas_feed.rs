//! Learning what the trust did in its PAS: the worklist's sync (`Worklist::sync_loop`) polls the
//! PAS event feed every [`EVERY`] and resolves the pending requests the trust acted on, and
//! reports the trust's own changes (new appointments, no-shows, attendances, hospital
//! cancellations and moves) to Wayfinder through the outbox. Each change is processed once
//! (the store's last-seen record), so the first poll may start well before now.
//!
//! Trusts whose PAS pushes its changes (FHIR Subscriptions, see `trusts`) are subscribed once the
//! portal is serving, their notifications processed by the same worklist at
//! `/fhir-notifications/{ODS code}`, and the poll, now the safety net, runs every
//! [`EVERY_WITH_SUBSCRIPTIONS`].

use std::sync::Arc;
use std::time::Duration;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_web::fhir_notifications::FhirNotifications;

use crate::trusts::Subscribed;

/// How often the feed is polled (the PCA wants PAS-side changes visible within 3 minutes).
pub const EVERY: Duration = Duration::from_secs(60);

/// How often the feed is polled when a trust's PAS also pushes its changes.
pub const EVERY_WITH_SUBSCRIPTIONS: Duration = Duration::from_secs(300);

/// How far back the first poll looks: changes made while the portal was stopped for a
/// redeployment are still seen.
const FIRST_LOOK_BACK: chrono::Duration = chrono::Duration::hours(24);

/// The worklist that processes the feed, polled and pushed alike (one batch at a time).
pub fn worklist(
    store: Arc<dyn Store>,
    pas: Arc<dyn PasBackend>,
    clock: Arc<dyn Clock>,
) -> Worklist {
    let pas: Arc<dyn PasBackend> = Arc::new(nhs_portal_web::metered::MeteredPas::new(pas));
    Worklist::new(store, pas, clock)
}

/// The notification route for the subscribed trusts (`None` when no trust subscribes: nothing
/// is mounted).
pub fn notifications(worklist: &Worklist, subscribed: &[Subscribed]) -> Option<FhirNotifications> {
    let route = subscribed
        .iter()
        .fold(FhirNotifications::new(worklist.clone()), |r, s| {
            r.trust(&s.ods, s.pas.clone(), s.secret.expose())
        });
    (!route.is_empty()).then_some(route)
}

/// Starts the sync on the runtime, and the subscribed trusts' Subscriptions; they run until the
/// process ends.
pub fn start(worklist: Worklist, clock: &dyn Clock, subscribed: Vec<Subscribed>) {
    let since = clock.now() - FIRST_LOOK_BACK;
    let every = if subscribed.is_empty() {
        EVERY
    } else {
        EVERY_WITH_SUBSCRIPTIONS
    };
    tokio::spawn(worklist.sync_loop(since, every));
    tokio::spawn(async move {
        for s in subscribed {
            match s.pas.subscribe().await {
                Ok(Some(_)) => tracing::info!(trust = %s.ods, "FHIR PAS: subscribed to changes"),
                Ok(None) => tracing::warn!(
                    trust = %s.ods,
                    "FHIR PAS: the server offers no Subscriptions; polling only"
                ),
                Err(e) => tracing::warn!(
                    trust = %s.ods,
                    error = %e,
                    "FHIR PAS: could not subscribe; polling only"
                ),
            }
        }
    });
}
