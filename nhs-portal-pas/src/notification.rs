//! Changes the PAS pushes to the portal, rather than the portal polling for them: the seam
//! between a PAS's notifications (for FHIR, a Subscription's rest-hook `history` Bundles, read
//! by `fhir::FhirPas`) and whatever receives them over HTTP (the web crate's
//! `fhir_notifications` route), which hands the changes to
//! [`Worklist::sync_events`](crate::worklist::Worklist::sync_events).
//!
//! A notification's changes are the same [`PasEvent`]s polling reports, with the same
//! `(appointment, version)` identity, so a change seen both ways is processed once.

use async_trait::async_trait;

use crate::{PasError, PasEvent};

/// What one notification said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// Nothing changed: a handshake, a heartbeat or a status report.
    Nothing,
    /// Appointments changed (possibly none the portal reports, such as another trust's).
    Changes(Vec<PasEvent>),
}

/// Reads the notifications one PAS pushes.
#[async_trait]
pub trait NotificationReader: Send + Sync {
    /// The changes in a notification's body (reading the PAS for any it names without their
    /// content). [`PasError::BadData`] when the body is not a notification; the transient
    /// errors when the PAS could not be read, so the sender should try again later.
    async fn read_notification(&self, body: &[u8]) -> Result<Notification, PasError>;
}
