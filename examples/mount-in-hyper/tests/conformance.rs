//! The conformance kit on the example adapter, seeded by the kit's fixture builder, and on two
//! deliberately broken versions of it: each fails with the rule it breaks and the method.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber, OdsCode, Organisation};
use nhs_portal_example_mount::ToyPas;
use nhs_portal_pas::conformance::{self, ConformanceFixture, FixtureBuilder, TrustStaff};
use nhs_portal_pas::{
    BOOKING_HORIZON_DAYS, CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot,
};

fn trust(code: &str, name: &str) -> Organisation {
    Organisation {
        ods_code: OdsCode::parse(code).unwrap(),
        name: name.into(),
    }
}

/// A toy PAS with RYY taking requests only, and a full fixture seeded into it.
async fn seeded() -> (Arc<ToyPas>, ConformanceFixture) {
    let real_time = trust("RXX", "Toy Hospitals NHS Trust");
    let request_only = trust("RYY", "Toy Requests NHS Trust");
    let pas = Arc::new(ToyPas::new([request_only.ods_code.clone()]));
    let fixture = FixtureBuilder::new(real_time, request_only)
        .staff(pas.clone())
        .seed(&*pas)
        .await
        .expect("the toy PAS takes the fixture");
    (pas, fixture)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_adapter_keeps_every_rule() {
    let (pas, fixture) = seeded().await;
    let report = conformance::run(pas, &fixture).await.unwrap();
    assert!(report.skipped().is_empty(), "{report}");
    assert_eq!(report.passed(), conformance::RULES.len(), "{report}");
}

/// The natural first version of `capabilities` and `cancel`: they act on the appointment they
/// are given, looked up by id, without checking it is that patient's.
struct TrustsTheGivenPatient(Arc<ToyPas>);

/// Checks that the slot is free, then books it in a second step with nothing holding the slot
/// in between (as an adapter that calls "is it free?" and then "book" on a PAS API would).
struct ChecksThenBooks(Arc<ToyPas>);

/// Both wrappers pass everything else straight to the toy PAS.
macro_rules! delegate_reads {
    () => {
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
        async fn find_slots(
            &self,
            a: &Appointment,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> Result<Vec<Slot>, PasError> {
            self.0.find_slots(a, from, to).await
        }
        async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
            self.0.poll_events(since).await
        }
    };
}

#[async_trait]
impl PasBackend for TrustsTheGivenPatient {
    delegate_reads!();
    async fn capabilities(&self, a: &Appointment) -> Result<Capabilities, PasError> {
        let stored = self.0.inspect(&a.id).ok_or(PasError::NotFound)?;
        self.0.capabilities(&stored).await
    }
    async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
        let stored = self.0.inspect(&a.id).ok_or(PasError::NotFound)?;
        self.0.cancel(&stored, r).await
    }
    async fn reschedule(&self, a: &Appointment, slot: &str) -> Result<Appointment, PasError> {
        self.0.reschedule(a, slot).await
    }
}

#[async_trait]
impl PasBackend for ChecksThenBooks {
    delegate_reads!();
    async fn capabilities(&self, a: &Appointment) -> Result<Capabilities, PasError> {
        self.0.capabilities(a).await
    }
    async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
        self.0.cancel(a, r).await
    }
    async fn reschedule(&self, a: &Appointment, slot: &str) -> Result<Appointment, PasError> {
        let now = Utc::now();
        let offered = self
            .0
            .find_slots(a, now, now + Duration::days(BOOKING_HORIZON_DAYS))
            .await?;
        let Some(free) = offered.into_iter().find(|s| s.id == slot) else {
            return Err(PasError::SlotUnavailable);
        };
        // The PAS's round trip between the check and the booking (blocking: no await).
        std::thread::sleep(StdDuration::from_millis(5));
        // The booking, as the PAS's own screen makes it: no second look at the slot.
        let action = nhs_portal_pas::conformance::TrustAction {
            patient: a.patient.clone(),
            appointment: a.id.clone(),
            outcome: RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(free.start),
            },
        };
        self.0
            .act(&action)
            .await
            .map_err(|e| PasError::BadData(e))?;
        self.0.inspect(&a.id).ok_or(PasError::NotFound)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_adapters_fail_with_the_rule_they_break() {
    let (pas, fixture) = seeded().await;
    let err = conformance::run(TrustsTheGivenPatient(pas), &fixture)
        .await
        .unwrap_err();
    assert_eq!(
        (err.check, err.method),
        ("own data only", "capabilities"),
        "{err}"
    );
    assert!(err.to_string().contains("`own data only`"), "{err}");

    let (pas, fixture) = seeded().await;
    let err = conformance::run(ChecksThenBooks(pas), &fixture)
        .await
        .unwrap_err();
    assert_eq!(
        (err.check, err.method),
        ("no double booking", "reschedule"),
        "{err}"
    );
    assert!(err.to_string().contains("`no double booking`"), "{err}");
}
