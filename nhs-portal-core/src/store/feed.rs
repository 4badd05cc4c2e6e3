//! What the portal last saw of each appointment in its PAS's change feed: the record an adapter
//! compares a changed appointment against to tell what changed (new, moved, cancelled, ...), and
//! the one consumers de-duplicate the feed by.
//!
//! The feed is delivered at least once: overlapping polls may bring the same change twice.
//! A change is identified by `(appointment, version)`; a consumer processes a change, then
//! records it with [`PasFeedStore::record_seen`], and skips any change whose version is the one
//! already recorded ([`SeenAppointment::is_version`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::AppointmentId;

/// One appointment as the portal last saw it in the PAS feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAppointment {
    /// The appointment.
    pub appointment: AppointmentId,
    /// The PAS's version of it (FHIR `meta.versionId`, or any text unique per change).
    pub version: String,
    /// Its status as the PAS names it (FHIR `Appointment.status`; `withdrawn` once it left the
    /// PAS), at that version.
    pub status: String,
    /// Its start at that version, if it had one.
    pub start: Option<DateTime<Utc>>,
    /// When the PAS says that version was made (FHIR `meta.lastUpdated`).
    pub at: DateTime<Utc>,
}

impl SeenAppointment {
    /// Whether `version` is the change this record holds (so a change with it was processed).
    pub fn is_version(&self, version: &str) -> bool {
        self.version == version
    }
}

/// The last-seen records of the PAS feed, one per appointment.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasFeedStore: Send + Sync {
    /// The records held for these appointments (any order; appointments never seen are left
    /// out).
    async fn last_seen(
        &self,
        appointments: &[AppointmentId],
    ) -> Result<Vec<SeenAppointment>, StoreError>;

    /// Records that the portal processed this version of the appointment, replacing the record
    /// it had. Recording the same record twice changes nothing.
    async fn record_seen(&self, seen: &SeenAppointment) -> Result<(), StoreError>;
}
