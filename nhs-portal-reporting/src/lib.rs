//! # nhs-portal-reporting
//!
//! Usage reporting for the portal, and the feed that tells the Patient Care Aggregator (PCA)
//! which patients the trust holds appointments for.
//!
//! - [`wire`]: the Wayfinder Reporting Service (v2.6.2) event format, mapped from
//!   [`nhs_portal_core::ReportingEvent`].
//! - [`sink`]: the [`ReportingSink`] seam and [`DeliveryError`].
//! - [`wayfinder`]: [`WayfinderClient`], the Reporting Service API client ("Method 2").
//! - [`monthly_csv`]: [`MonthlyReport`], the monthly CSV ("Method 1"): a month's stored events
//!   aggregated by trust, event code and outcome, with no identifiers (its layout is an
//!   assumption to confirm with NHS England).
//! - [`delivery`]: [`DeliveryRatio`], delivered / total and the oldest undelivered event's age,
//!   for metrics.
//! - [`token`]: bearer tokens, static or NHS APIM signed-JWT client credentials.
//! - [`worker`]: [`OutboxWorker`], which drains the store's outbox into a sink.
//! - [`record_service`]: the PCA Record Service client and queue sender (v1.0.2).
//!
//! ## Wiring it into a portal
//! 1. **Record events where they happen**, in the same store transaction as the action:
//!    `RequestStore::submit_request` / `resolve_request` and `IdempotencyStore::record_action`
//!    take them, `AuditLog::record` writes the rest with their audit record (`SESSION` at
//!    sign-in, `APPT-VIEW` once per deep-link jump-off).
//! 2. **Parent first.** Write every child event with its parent (`APPT`, or `ADMISSION` for an
//!    admission) first, in the same transaction, through
//!    [`nhs_portal_core::reporting::with_parent`], and the parent on its own whenever an
//!    appointment first appears or changes ([`wire::appointment_event`]).
//! 3. **Run one [`OutboxWorker`] per process** with a [`WayfinderClient`], using
//!    [`token::SignedJwtTokenSource`] in real environments. Several processes may share one
//!    store: claims are leased. Trusts on the monthly CSV instead leave events in the store and
//!    export each month with [`MonthlyReport`] (the reference portal's `--monthly-csv`).
//! 4. **Record Service:** enqueue a patient's NHS number when the PAS reports a new appointment
//!    ([`record_service::RecordSender::enqueue`]), run one [`record_service::RecordSender`] per
//!    process with a [`record_service::PatientEligibility`] over the PAS, and expose
//!    `resend_all` and `sent_record_count` to operators.
//!
//! Nothing here logs event content or NHS numbers: logs carry counts, event codes, status codes
//! and correlation ids.
//!
//! ## Example
//! ```no_run
//! use std::sync::Arc;
//! use nhs_portal_core::clock::SystemClock;
//! use nhs_portal_core::store::memory::MemoryStore;
//! use nhs_portal_reporting::{OutboxWorker, OutboxWorkerConfig, WayfinderClient, WayfinderConfig};
//! use nhs_portal_reporting::token::StaticToken;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryStore::new());
//! let client = WayfinderClient::new(
//!     WayfinderConfig::new(nhs_portal_reporting::wayfinder::INTEGRATION_URL, "my-client-id"),
//!     Arc::new(StaticToken::new("token")),
//! )?;
//! let worker = OutboxWorker::new(store, Arc::new(client), Arc::new(SystemClock), OutboxWorkerConfig::default());
//! worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(unreachable_pub)]

pub mod delivery;
pub mod monthly_csv;
mod passes;
pub mod record_service;
pub mod sink;
pub mod token;
pub mod wayfinder;
pub mod wire;
pub mod worker;

pub use delivery::DeliveryRatio;
pub use monthly_csv::MonthlyReport;
pub use sink::{DeliveryError, ReportingSink};
pub use wayfinder::{WayfinderClient, WayfinderConfig};
pub use wire::WayfinderEvent;
pub use worker::{OutboxWorker, OutboxWorkerConfig, RunStats};
