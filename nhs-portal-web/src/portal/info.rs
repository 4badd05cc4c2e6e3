//! The pages anyone may see: the landing page, the accessibility statement, privacy and
//! cookies, and `/health` for load balancers.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Serialize;

use super::Inner;
use super::respond::PageOpts;
use super::routes::{Ctx, Route};
use super::views::{DemoModel, Landing, Message};
use crate::http_kit;

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

/// `/health`'s answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Health {
    Ok {
        status: &'static str,
        outbox_pending: u64,
        outbox_quarantined: u64,
    },
    Unavailable {
        status: &'static str,
        reason: &'static str,
    },
}

impl Inner {
    pub(super) async fn health(&self) -> Response<Bytes> {
        match self.store.outbox_stats().await {
            Ok(stats) => http_kit::json(
                StatusCode::OK,
                &Health::Ok {
                    status: "ok",
                    outbox_pending: stats.pending,
                    outbox_quarantined: stats.quarantined,
                },
            ),
            Err(_) => http_kit::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health::Unavailable {
                    status: "unavailable",
                    reason: "store",
                },
            ),
        }
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
