//! The conformance kit on the example adapter, seeded by the kit's fixture builder, and on two
//! deliberately broken versions of it: each fails with the rule it breaks and the method.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber, Organisation};
use nhs_portal_example_mount::ToyPas;
use nhs_portal_pas::conformance::{
    self, ConformanceFixture, FixtureBuilder, TrustAction, TrustStaff,
};
use nhs_portal_pas::{
    BOOKING_HORIZON_DAYS, CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot,
};

fn trust(code: &str, name: &str) -> Organisation {
    Organisation::new(code, name).unwrap()
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

/// Two ways to get an adapter wrong, as the toy PAS with one method written badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// The natural first version of `capabilities` and `cancel`: they act on the appointment
    /// they are given, looked up by id, without checking it is that patient's.
    TrustsTheGivenPatient,
    /// `reschedule` checks that the slot is free, then books it in a second step with nothing
    /// holding the slot in between (as an adapter calling "is it free?" and then "book" on a PAS
    /// API would).
    ChecksThenBooks,
}

/// The toy PAS with one bug; everything else passes straight through.
struct Broken(Arc<ToyPas>, Bug);

#[async_trait]
impl PasBackend for Broken {
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
        if self.1 == Bug::TrustsTheGivenPatient {
            let stored = self.0.inspect(&a.id).ok_or(PasError::NotFound)?;
            return self.0.capabilities(&stored).await;
        }
        self.0.capabilities(a).await
    }
    async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
        if self.1 == Bug::TrustsTheGivenPatient {
            let stored = self.0.inspect(&a.id).ok_or(PasError::NotFound)?;
            return self.0.cancel(&stored, r).await;
        }
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
        if self.1 != Bug::ChecksThenBooks {
            return self.0.reschedule(a, slot).await;
        }
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
        let action = TrustAction {
            patient: a.patient.clone(),
            appointment: a.id.clone(),
            outcome: RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(free.start),
            },
        };
        self.0.act(&action).await.map_err(PasError::BadData)?;
        self.0.inspect(&a.id).ok_or(PasError::NotFound)
    }
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.0.poll_events(since).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_adapters_fail_with_the_rule_they_break() {
    let (pas, fixture) = seeded().await;
    let err = conformance::run(Broken(pas, Bug::TrustsTheGivenPatient), &fixture)
        .await
        .unwrap_err();
    assert_eq!(
        (err.check, err.method),
        ("own data only", "capabilities"),
        "{err}"
    );
    assert!(err.to_string().contains("`own data only`"), "{err}");

    let (pas, fixture) = seeded().await;
    let err = conformance::run(Broken(pas, Bug::ChecksThenBooks), &fixture)
        .await
        .unwrap_err();
    assert_eq!(
        (err.check, err.method),
        ("no double booking", "reschedule"),
        "{err}"
    );
    assert!(err.to_string().contains("`no double booking`"), "{err}");
}
