//! Pending requests that no longer fit their appointment ([`nhs_portal_core::overlay`]'s
//! [`StaleRequest`]s: a request on an attended or missed appointment, a cancellation request on
//! one the hospital cancelled) are resolved in the store when a page reads them, so no invalid
//! status pair reaches a page, the PCA, or the staff worklist's pending list.

use nhs_portal_core::overlay::StaleRequest;
use nhs_portal_core::store::{AuditAction, AuditRecord, Resolution, Resolve, StoreError};

use super::{JourneyError, Journeys};

impl Journeys {
    /// Resolves each stale request (fulfilled or rejected, as the overlay decided) with an
    /// audit record; one resolved meanwhile (by staff, or a sync) is left alone. No reporting
    /// event: the patient did nothing, and the PAS change that made it stale is the trust's.
    pub(super) async fn resolve_stale(&self, stale: Vec<StaleRequest>) -> Result<(), JourneyError> {
        for s in stale {
            let at = self.now();
            let (action, note) = match s.resolution {
                Resolution::Fulfilled => (
                    AuditAction::RequestFulfilled,
                    "the hospital cancelled the appointment",
                ),
                Resolution::Rejected => (AuditAction::RequestRejected, "the appointment is over"),
            };
            let audit = AuditRecord {
                at,
                patient: s.request.patient.clone(),
                actor: "portal".into(),
                session: None,
                action,
                appointment: Some(s.request.appointment.clone()),
                detail: Some("stale request".into()),
            };
            let resolve = Resolve {
                resolution: s.resolution,
                note: Some(note.into()),
                at,
            };
            match self
                .store
                .resolve_request(s.request.id, &resolve, &audit, &[])
                .await
            {
                Ok(_) | Err(StoreError::Conflict(_) | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
