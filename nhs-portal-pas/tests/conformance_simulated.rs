//! The conformance kit against the simulated PAS with the demo data, and against deliberately
//! broken backends (to show the kit catches them).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use nhs_portal_pas::conformance::{self, ConformanceFixture, RescheduleRace};
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::simulated::SimulatedPas;
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

fn fixture(data: &DemoData) -> ConformanceFixture {
    let adult = demo::nhs_number(demo::ADULT);
    let mut f = ConformanceFixture::new(
        adult.clone(),
        demo::nhs_number(demo::SECOND_ADULT),
        NhsNumber::parse("9000000084").unwrap(),
    );
    f.cancellable = Some(demo::appointment_id(demo::KEY_ADULT_TELEPHONE));
    f.request_only = Some(demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED));
    f.past = Some(demo::appointment_id(demo::KEY_ADULT_FULFILLED));
    f.reschedule_race = Some(RescheduleRace {
        first: (adult, demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY)),
        second: (
            demo::nhs_number(demo::P5_PATIENT),
            demo::appointment_id("p5/r9n/dermatology"),
        ),
        from: data.now,
        to: data.now + Duration::days(60),
    });
    f
}

fn demo_pas() -> (DemoData, SimulatedPas) {
    let data = DemoData::build(Utc::now());
    let pas = data.simulated_pas(Arc::new(SystemClock));
    (data, pas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_pas_conforms() {
    let (data, pas) = demo_pas();
    let report = conformance::run(&pas, &fixture(&data)).await.unwrap();
    assert_eq!(report.passed(), 7, "{report}");
    assert!(report.skipped().is_empty());
}

#[tokio::test]
async fn missing_fixture_parts_are_skipped_not_passed() {
    let (data, pas) = demo_pas();
    let mut f = fixture(&data);
    f.cancellable = None;
    f.reschedule_race = None;
    f.past = None;
    let report = conformance::run(&pas, &f).await.unwrap();
    assert_eq!(
        report.skipped(),
        ["idempotent cancel", "no double booking", "past stays past"]
    );
    assert_eq!(report.passed(), 4);
}

/// Ways to break the contract on purpose.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    LeaksOtherPatients,
    CancelNotIdempotent,
    DoubleBooks,
    IgnoresRequestOnly,
}

struct Broken {
    inner: SimulatedPas,
    bug: Bug,
}

#[async_trait]
impl PasBackend for Broken {
    async fn patient(&self, p: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        self.inner.patient(p).await
    }
    async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.inner.list_appointments(p).await
    }
    async fn get_appointment(
        &self,
        p: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        if self.bug == Bug::LeaksOtherPatients {
            return Ok(self.inner.inspect_appointment(id));
        }
        self.inner.get_appointment(p, id).await
    }
    async fn capabilities(&self, a: &Appointment) -> Result<Capabilities, PasError> {
        let caps = self.inner.capabilities(a).await?;
        if self.bug == Bug::IgnoresRequestOnly {
            return Ok(Capabilities::REAL_TIME);
        }
        Ok(caps)
    }
    async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
        let before = self.inner.inspect_appointment(&a.id);
        let out = match self.inner.cancel(a, r).await {
            Err(PasError::NotSupported) if self.bug == Bug::IgnoresRequestOnly => {
                let mut a = a.clone();
                a.status = nhs_portal_core::AppointmentStatus::Cancelled;
                return Ok(a);
            }
            other => other?,
        };
        if self.bug == Bug::CancelNotIdempotent
            && before.is_some_and(|b| b.status == nhs_portal_core::AppointmentStatus::Cancelled)
        {
            return Err(PasError::InvalidState("already cancelled"));
        }
        Ok(out)
    }
    async fn find_slots(
        &self,
        a: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        self.inner.find_slots(a, from, to).await
    }
    async fn reschedule(&self, a: &Appointment, slot: &str) -> Result<Appointment, PasError> {
        match self.inner.reschedule(a, slot).await {
            Err(PasError::SlotUnavailable)
                if self.bug == Bug::DoubleBooks && !slot.starts_with("no-such") =>
            {
                Ok(a.clone())
            }
            other => other,
        }
    }
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.inner.poll_events(since).await
    }
}

#[tokio::test]
async fn the_kit_catches_broken_backends() {
    let cases = [
        (Bug::LeaksOtherPatients, "own data only"),
        (Bug::CancelNotIdempotent, "idempotent cancel"),
        (Bug::DoubleBooks, "no double booking"),
        (Bug::IgnoresRequestOnly, "capabilities honoured"),
    ];
    for (bug, check) in cases {
        let (data, inner) = demo_pas();
        let broken = Broken { inner, bug };
        let err = conformance::run(&broken, &fixture(&data))
            .await
            .unwrap_err();
        assert_eq!(err.check, check, "{bug:?}: {err}");
    }
}
