//! [`MeteredPas`]: any [`PasBackend`] with each call's latency and failures recorded through the
//! [`metrics`] facade, by operation (a fixed name per trait method, never an id). The demo and
//! live portals wrap their PAS in it; without a recorder installed it costs next to nothing.
//! Also the portal's errors by type ([`ERRORS`], [`count_error`]), counted where each error
//! answer is made.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// PAS call latency in seconds, by `operation`.
pub const PAS_SECONDS: &str = "nhs_portal_pas_call_duration_seconds";
/// PAS calls that failed, by `operation` and `error` (the [`PasError`] kind).
pub const PAS_ERRORS: &str = "nhs_portal_pas_errors_total";

/// Errors by `type`: the pages' "problem with the service" page (`service_problem`), the PCA
/// API's server-side failures (`pca_api_unavailable`, `pca_api_timeout`, `pca_api_internal`),
/// and what the binary adds (a store it cannot reach, requests it shed, timed out or caught
/// panicking).
pub const ERRORS: &str = "nhs_portal_errors_total";

/// The error types the portal itself counts, registered at zero by [`register_zero`].
pub const ERROR_TYPES: [&str; 4] = [
    "service_problem",
    "pca_api_unavailable",
    "pca_api_timeout",
    "pca_api_internal",
];

/// Counts one error of `kind` (a fixed name, never an id or a path).
pub fn count_error(kind: &'static str) {
    metrics::counter!(ERRORS, "type" => kind).increment(1);
}

/// The `operation` label of every measured call (one per [`PasBackend`] method).
pub const OPERATIONS: [&str; 11] = [
    "patient",
    "list_appointments",
    "get_appointment",
    "capabilities",
    "appointment_with_capabilities",
    "cancel",
    "find_slots",
    "reschedule",
    "poll_events",
    "confirm_attendance",
    "ping",
];

/// Records zero for the failures worth alerting on (`timeout`, `unavailable`) of every
/// operation, so the series exist before the first failure (an absent series never alerts).
pub fn register_zero() {
    for kind in ERROR_TYPES {
        metrics::counter!(ERRORS, "type" => kind).increment(0);
    }
    for operation in OPERATIONS {
        for error in ["timeout", "unavailable"] {
            metrics::counter!(PAS_ERRORS, "operation" => operation, "error" => error).increment(0);
        }
    }
}

/// A PAS whose calls are measured.
#[derive(Clone)]
pub struct MeteredPas(Arc<dyn PasBackend>);

impl std::fmt::Debug for MeteredPas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeteredPas")
    }
}

impl MeteredPas {
    /// Wraps `pas`.
    pub fn new(pas: Arc<dyn PasBackend>) -> Self {
        Self(pas)
    }
}

/// The error's kind as a label: its variant, no message.
fn kind(e: &PasError) -> &'static str {
    match e {
        PasError::Timeout => "timeout",
        PasError::Unavailable(_) => "unavailable",
        PasError::NotFound => "not_found",
        PasError::NotSupported => "not_supported",
        PasError::SlotUnavailable => "slot_unavailable",
        PasError::InvalidState(_) => "invalid_state",
        PasError::Conflict => "conflict",
        PasError::BadData(_) => "bad_data",
        _ => "other",
    }
}

async fn measured<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, PasError>>,
) -> Result<T, PasError> {
    let started = Instant::now();
    let answer = call.await;
    metrics::histogram!(PAS_SECONDS, "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    if let Err(e) = &answer {
        metrics::counter!(PAS_ERRORS, "operation" => operation, "error" => kind(e)).increment(1);
    }
    answer
}

#[async_trait]
impl PasBackend for MeteredPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        measured("patient", self.0.patient(patient)).await
    }
    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        measured("list_appointments", self.0.list_appointments(patient)).await
    }
    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        measured("get_appointment", self.0.get_appointment(patient, id)).await
    }
    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        measured("capabilities", self.0.capabilities(appointment)).await
    }
    async fn appointment_with_capabilities(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        measured(
            "appointment_with_capabilities",
            self.0.appointment_with_capabilities(patient, id),
        )
        .await
    }
    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        measured("cancel", self.0.cancel(appointment, reason)).await
    }
    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        measured("find_slots", self.0.find_slots(appointment, from, to)).await
    }
    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        measured("reschedule", self.0.reschedule(appointment, slot_id)).await
    }
    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        measured("confirm_attendance", self.0.confirm_attendance(appointment)).await
    }
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        measured("poll_events", self.0.poll_events(since)).await
    }
    async fn ping(&self) -> Option<Result<(), PasError>> {
        let started = Instant::now();
        let answer = self.0.ping().await;
        if answer.is_some() {
            metrics::histogram!(PAS_SECONDS, "operation" => "ping")
                .record(started.elapsed().as_secs_f64());
        }
        if let Some(Err(e)) = &answer {
            metrics::counter!(PAS_ERRORS, "operation" => "ping", "error" => kind(e)).increment(1);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use nhs_portal_pas::conformance::forwarding::{METHODS, unforwarded};

    use super::*;

    #[tokio::test]
    async fn every_call_reaches_the_wrapped_pas() {
        let missed = unforwarded(MeteredPas::new).await;
        assert!(missed.is_empty(), "MeteredPas does not forward {missed:?}");
    }

    #[test]
    fn every_method_has_its_operation_label() {
        assert_eq!(OPERATIONS.len(), METHODS.len());
        for method in METHODS {
            assert!(OPERATIONS.contains(&method), "no label for {method}");
        }
    }
}
