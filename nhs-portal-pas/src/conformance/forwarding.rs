//! Whether a wrapper around a [`PasBackend`] (a metering, routing or caching layer) hands every
//! call on to the backend it wraps.
//!
//! A wrapper that forgets a method the trait gives a default body ([`PasBackend::ping`],
//! [`PasBackend::confirm_attendance`], [`PasBackend::appointment_with_capabilities`]) still
//! compiles, and silently answers with the default instead of the wrapped adapter. So:
//! [`unforwarded`] wraps a recording backend with your wrapper, calls every method in
//! [`METHODS`] through it, and names each one that did not reach the recording backend as
//! itself.
//!
//! ```
//! # async fn check() {
//! use std::sync::Arc;
//! use nhs_portal_pas::conformance::forwarding::unforwarded;
//! // `Arc<T>` is a PasBackend that forwards everything.
//! let missed = unforwarded(|inner| Arc::new(inner)).await;
//! assert!(missed.is_empty(), "not forwarded: {missed:?}");
//! # }
//! ```
//!
//! The calls carry an appointment of the trust [`RECORDED_ODS`] (a wrapper that routes by ODS
//! code, like [`TrustsPas`](crate::trusts::TrustsPas), must route that trust to the recorder), and the
//! recorder answers every read with that appointment.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// Every [`PasBackend`] method, by name (a test holds this to the trait's source).
pub const METHODS: [&str; 11] = [
    "patient",
    "list_appointments",
    "get_appointment",
    "capabilities",
    "appointment_with_capabilities",
    "cancel",
    "find_slots",
    "reschedule",
    "confirm_attendance",
    "poll_events",
    "ping",
];

/// The ODS code of the appointment every call carries.
pub const RECORDED_ODS: &str = "RJ1";

/// The methods of `wrap(recorder)` that did not call the same method of the recorder, in the
/// order of [`METHODS`]. Empty when the wrapper forwards everything. Needs a tokio runtime if
/// the wrapper does (the recorder itself needs none).
pub async fn unforwarded<W, F>(wrap: F) -> Vec<&'static str>
where
    W: PasBackend,
    F: FnOnce(Arc<dyn PasBackend>) -> W,
{
    let recorder = Arc::new(Recorder::default());
    let wrapper = wrap(recorder.clone());
    let appointment = appointment();
    let patient = appointment.patient.clone();
    let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut missed = Vec::new();
    for method in METHODS {
        recorder
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        // Only whether the call arrived matters, not what the wrapper made of the answer.
        match method {
            "patient" => drop(wrapper.patient(&patient).await),
            "list_appointments" => drop(wrapper.list_appointments(&patient).await),
            "get_appointment" => drop(wrapper.get_appointment(&patient, &appointment.id).await),
            "capabilities" => drop(wrapper.capabilities(&appointment).await),
            "appointment_with_capabilities" => drop(
                wrapper
                    .appointment_with_capabilities(&patient, &appointment.id)
                    .await,
            ),
            "cancel" => drop(wrapper.cancel(&appointment, &reason()).await),
            "find_slots" => drop(
                wrapper
                    .find_slots(&appointment, since, since + Duration::days(7))
                    .await,
            ),
            "reschedule" => drop(wrapper.reschedule(&appointment, "slot-1").await),
            "confirm_attendance" => drop(wrapper.confirm_attendance(&appointment).await),
            "poll_events" => drop(wrapper.poll_events(since).await),
            "ping" => drop(wrapper.ping().await),
            other => unreachable!("METHODS names {other}, which is not called here"),
        }
        let calls = recorder.calls.lock().unwrap_or_else(|e| e.into_inner());
        if !calls.contains(&method) {
            missed.push(method);
        }
    }
    missed
}

fn appointment() -> Appointment {
    Appointment::builder()
        .id("forwarding-1")
        .patient("9000000009")
        .organisation(RECORDED_ODS, "Recorded Trust")
        .specialty("100", "General Surgery")
        .start(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap())
        .duration(Duration::minutes(20))
        .medium(nhs_portal_core::ConsultationMedium::FaceToFace)
        .location("Recorded Clinic", ["1 Test Road"])
        .build()
        .expect("a valid appointment")
}

fn reason() -> CancelReason {
    CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    }
}

/// A backend that notes each method called and answers with [`appointment`].
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<&'static str>>,
}

impl Recorder {
    fn note(&self, method: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(method);
    }
}

#[async_trait]
impl PasBackend for Recorder {
    async fn patient(&self, _: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        self.note("patient");
        Ok(None)
    }
    async fn list_appointments(&self, _: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.note("list_appointments");
        Ok(vec![appointment()])
    }
    async fn get_appointment(
        &self,
        _: &NhsNumber,
        _: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        self.note("get_appointment");
        Ok(Some(appointment()))
    }
    async fn capabilities(&self, _: &Appointment) -> Result<Capabilities, PasError> {
        self.note("capabilities");
        Ok(Capabilities::VIEW_ONLY)
    }
    async fn appointment_with_capabilities(
        &self,
        _: &NhsNumber,
        _: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        self.note("appointment_with_capabilities");
        Ok(Some((appointment(), Capabilities::VIEW_ONLY)))
    }
    async fn cancel(&self, _: &Appointment, _: &CancelReason) -> Result<Appointment, PasError> {
        self.note("cancel");
        Ok(appointment())
    }
    async fn find_slots(
        &self,
        _: &Appointment,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        self.note("find_slots");
        Ok(Vec::new())
    }
    async fn reschedule(&self, _: &Appointment, _: &str) -> Result<Appointment, PasError> {
        self.note("reschedule");
        Ok(appointment())
    }
    async fn confirm_attendance(&self, _: &Appointment) -> Result<Appointment, PasError> {
        self.note("confirm_attendance");
        Ok(appointment())
    }
    async fn poll_events(&self, _: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.note("poll_events");
        Ok(Vec::new())
    }
    async fn ping(&self) -> Option<Result<(), PasError>> {
        self.note("ping");
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`METHODS`] is exactly the trait's methods, in the trait's order.
    #[test]
    fn methods_are_the_traits() {
        let source = include_str!("../backend.rs");
        let start = source.find("pub trait PasBackend").unwrap();
        let end = start + source[start..].find("\n}\n").unwrap();
        let declared: Vec<&str> = source[start..end]
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("async fn "))
            .map(|l| l.split('(').next().unwrap())
            .collect();
        assert_eq!(declared, METHODS);
    }

    /// A wrapper that forgets the methods with default bodies.
    struct Forgetful(Arc<dyn PasBackend>);

    #[async_trait]
    impl PasBackend for Forgetful {
        async fn patient(&self, p: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
            self.0.patient(p).await
        }
        async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
            self.0.list_appointments(p).await
        }
        async fn get_appointment(
            &self,
            p: &NhsNumber,
            id: &AppointmentId,
        ) -> Result<Option<Appointment>, PasError> {
            self.0.get_appointment(p, id).await
        }
        async fn capabilities(&self, a: &Appointment) -> Result<Capabilities, PasError> {
            self.0.capabilities(a).await
        }
        async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
            self.0.cancel(a, r).await
        }
        async fn find_slots(
            &self,
            a: &Appointment,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> Result<Vec<Slot>, PasError> {
            self.0.find_slots(a, from, to).await
        }
        async fn reschedule(&self, a: &Appointment, slot: &str) -> Result<Appointment, PasError> {
            self.0.reschedule(a, slot).await
        }
        async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
            self.0.poll_events(since).await
        }
    }

    #[tokio::test]
    async fn a_forgetful_wrapper_is_caught() {
        assert_eq!(
            unforwarded(Forgetful).await,
            [
                "appointment_with_capabilities",
                "confirm_attendance",
                "ping"
            ]
        );
    }

    #[tokio::test]
    async fn the_recorder_itself_and_arc_forward_everything() {
        assert!(unforwarded(|inner| inner).await.is_empty());
        assert!(unforwarded(Arc::new).await.is_empty());
    }

    #[tokio::test]
    async fn trusts_pas_forwards_everything() {
        let ods = nhs_portal_core::OdsCode::parse(RECORDED_ODS).unwrap();
        let missed = unforwarded(|inner| crate::trusts::TrustsPas::new(vec![(ods, inner)])).await;
        assert!(missed.is_empty(), "TrustsPas does not forward {missed:?}");
    }
}
