//! A test-only adapter from `PasBackend::patient` to the Record Service's `PatientEligibility`,
//! run against the simulated PAS: the sender's exclusions (under 16, restricted, unknown) work
//! from PAS patient records, and a PAS outage keeps numbers queued instead of sending them
//! unchecked.
//!
//! This is **not** the portal's wiring: the reference portal builds its sender with its own
//! adapter (`examples/reference-portal/src/record_service.rs`, tested through the binary in
//! `tests/reporting_services.rs` there). This crate does not depend on `nhs-portal-pas` outside
//! its tests.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use common::*;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::simulated::{Fault, FaultPlan, FaultRule, PasOperation, SimulatedPas};
use nhs_portal_pas::{PasBackend, PatientRecord};
use nhs_portal_reporting::record_service::{
    Eligibility, EligibilityError, PatientEligibility, RecordSender, RecordSenderConfig,
    RecordServiceClient, RecordServiceConfig,
};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `PatientEligibility` over any PAS backend: defined here, for this test only.
struct PasEligibility(Arc<dyn PasBackend>);

#[async_trait]
impl PatientEligibility for PasEligibility {
    async fn eligibility(
        &self,
        patient: &NhsNumber,
        today: NaiveDate,
    ) -> Result<Eligibility, EligibilityError> {
        match self.0.patient(patient).await {
            Ok(Some(record)) => Ok(Eligibility::from_patient(
                Some(record.date_of_birth),
                record.restricted,
                today,
            )),
            Ok(None) => Ok(Eligibility::Unknown),
            Err(e) => Err(EligibilityError::Unavailable(Box::new(e))),
        }
    }
}

#[tokio::test]
async fn a_test_only_pas_adapter_drives_the_exclusions() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": "success"})))
        .mount(&server)
        .await;
    let clock = Arc::new(ManualClock::new(t("2024-06-01T09:00:00Z")));
    let pas = Arc::new(SimulatedPas::new(clock.clone()));
    let n = valid_numbers(4);
    let record = |i: usize, dob: NaiveDate, restricted: bool| PatientRecord {
        nhs_number: n[i].clone(),
        date_of_birth: dob,
        portal_access: true,
        restricted,
    };
    pas.add_patient(record(
        0,
        NaiveDate::from_ymd_opt(1980, 5, 1).unwrap(),
        false,
    ));
    pas.add_patient(record(
        1,
        NaiveDate::from_ymd_opt(2012, 5, 1).unwrap(),
        false,
    ));
    pas.add_patient(record(
        2,
        NaiveDate::from_ymd_opt(1960, 5, 1).unwrap(),
        true,
    ));
    // n[3]: not in the PAS.

    let store = Arc::new(MemoryStore::new());
    let sender = RecordSender::new(
        store,
        RecordServiceClient::new(RecordServiceConfig::non_production(
            server.uri(),
            "pep-01",
            "key",
        ))
        .unwrap(),
        Arc::new(PasEligibility(pas.clone())),
        clock.clone(),
        RecordSenderConfig::default(),
    );
    sender.resend_all(n.clone()).await.unwrap();
    let s = sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.under_16, s.restricted, s.unknown), (1, 1, 1, 1));
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["nhsNumbers"], json!([n[0].as_str()]));
    assert_eq!(
        schema_errors(&record_validator(), &body),
        Vec::<String>::new()
    );

    // The PAS going down keeps numbers queued rather than sending them unchecked.
    pas.set_faults(
        FaultPlan::new().rule(FaultRule::new(Fault::Unavailable).on(PasOperation::Patient)),
    );
    sender.enqueue(&n[0]).await.unwrap();
    let s = sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.deferred), (0, 1));
    pas.clear_faults();
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(sender.run_once().await.unwrap().sent, 1);
}
