//! The pages anyone may see: the landing page, the accessibility statement, privacy and
//! cookies, and the health endpoints for load balancers and orchestrators.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Serialize;
use std::sync::atomic::Ordering;

use super::Inner;
use super::respond::PageOpts;
use super::routes::{Ctx, Route};
use super::views::{DemoModel, Landing, Message};
use crate::http_kit;
use nhs_portal_core::store::StoreError;

const ACCESSIBILITY: Message = Message::new(&[
    "This service is built to meet the Web Content Accessibility Guidelines (WCAG) 2.2 at level AA.",
    "It uses the NHS design system and the NHS App design system, works without JavaScript, and can be used with a keyboard and a screen reader.",
    "If you find a problem, contact the hospital's booking team and tell them what you were trying to do.",
])
.calm();

const PRIVACY: Message = Message::new(&[
    "This service uses one cookie to keep you signed in. It is deleted when you sign out or after 10 minutes without activity.",
    "While you change an appointment, a second cookie keeps your answers until you confirm, encrypted so that only your signed-in session can read them. It is deleted when you sign out, and expires after 30 minutes.",
    "We record what you do with your appointments so the hospital can act on your requests and keep a record.",
])
.calm();

/// The health endpoints' answer: a status and, for readiness, what was checked. Never an
/// internal count (outbox depths and the like are for `/metrics`, not for anyone who asks).
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pas: Option<&'static str>,
}

/// How long readiness waits for the PAS's answer before reporting it unreachable.
const PAS_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Inner {
    /// `/health/live`: the process is up and serving. No IO, so a slow or lost database never
    /// gets a live process restarted.
    pub(super) fn live() -> Response<Bytes> {
        http_kit::json(
            StatusCode::OK,
            &Health {
                status: "live",
                store: None,
                pas: None,
            },
        )
    }

    /// `/health/ready` (and `/health`): 200 when the store answers its ping (reachable and
    /// migrated) and the portal is not draining; 503 otherwise, saying which.
    ///
    /// The PAS's reachability is reported (`ok`, `unreachable`, or `unchecked` when its adapter
    /// has no check) but never makes the portal unready: the PAS belongs to the trust, every
    /// instance shares it, and taking them all out of the load balancer would also take away
    /// the pages that say the service has a problem.
    pub(super) async fn health(&self) -> Response<Bytes> {
        if self.draining.load(Ordering::SeqCst) {
            return http_kit::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health {
                    status: "draining",
                    store: None,
                    pas: None,
                },
            );
        }
        let (store, pas) = tokio::join!(self.store.ping(), async {
            tokio::time::timeout(PAS_PING_TIMEOUT, self.journeys.pas().ping()).await
        });
        let (status, code, store) = match store {
            Ok(()) => ("ok", StatusCode::OK, "ok"),
            Err(StoreError::NotMigrated { .. }) => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "not-migrated",
            ),
            Err(_) => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "unreachable",
            ),
        };
        let pas = match pas {
            Ok(None) => "unchecked",
            Ok(Some(Ok(()))) => "ok",
            Ok(Some(Err(_))) | Err(_) => "unreachable",
        };
        http_kit::json(
            code,
            &Health {
                status,
                store: Some(store),
                pas: Some(pas),
            },
        )
    }

    pub(super) async fn landing(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = self.optional_session(req).await;
        let demo = self.cfg.demo.as_ref().map(|d| DemoModel {
            patients: &d.patients,
            staff_href: d.staff_href.as_deref(),
        });
        self.page(
            ctx,
            session.as_ref(),
            StatusCode::OK,
            "landing",
            &self.cfg.service_name,
            &Landing { demo },
            PageOpts::default(),
        )
    }

    pub(super) async fn static_page(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        which: Route,
    ) -> Response<Bytes> {
        let session = self.optional_session(req).await;
        let (title, message) = match which {
            Route::Accessibility => ("Accessibility statement", &ACCESSIBILITY),
            _ => ("Privacy and cookies", &PRIVACY),
        };
        self.message(
            ctx,
            session.as_ref(),
            StatusCode::OK,
            title,
            message,
            PageOpts::default(),
        )
    }
}
