//! Two trusts' simulated PASes, each holding only its own trust's share of the demo data, behind
//! one `TrustsPas`: it answers as the one PAS holding everything would, routes changes to the
//! owning trust, and merges patient flags conservatively.

use std::sync::Arc;

use chrono::Utc;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::{AppointmentStatus, Organisation};

use super::*;
use crate::demo::{self, DemoData};
use crate::simulated::{Fault, FaultPlan, FaultRule, SimulatedPas};

/// The demo data split by trust: (data, the real-time trust's PAS, the request-only trust's).
fn split() -> (DemoData, Arc<SimulatedPas>, Arc<SimulatedPas>) {
    let data = DemoData::build(Utc::now());
    let one = |org: &Organisation| {
        let pas = SimulatedPas::new(Arc::new(SystemClock));
        for t in data.trusts.iter().filter(|t| t.organisation == *org) {
            pas.add_trust(t.clone());
        }
        for p in &data.patients {
            pas.add_patient(p.record.clone());
        }
        for a in data.appointments.iter().filter(|a| a.organisation == *org) {
            pas.add_appointment(a.clone());
        }
        for s in data.slots.iter().filter(|s| s.ods_code == org.ods_code) {
            pas.add_slot(s.clone());
        }
        Arc::new(pas)
    };
    let rt = one(&demo::real_time_trust());
    let ro = one(&demo::request_only_trust());
    (data, rt, ro)
}

fn both(rt: &Arc<SimulatedPas>, ro: &Arc<SimulatedPas>) -> TrustsPas {
    TrustsPas::new(vec![
        (
            demo::real_time_trust().ods_code,
            rt.clone() as Arc<dyn PasBackend>,
        ),
        (
            demo::request_only_trust().ods_code,
            ro.clone() as Arc<dyn PasBackend>,
        ),
    ])
}

#[tokio::test]
async fn it_answers_as_one_pas_holding_every_trust() {
    let (data, rt, ro) = split();
    let pas = both(&rt, &ro);
    let adult = demo::nhs_number(demo::ADULT);
    let mut want: Vec<_> = data
        .appointments
        .iter()
        .filter(|a| a.patient == adult)
        .cloned()
        .collect();
    want.sort_by_key(|a| a.start);
    let got = pas.list_appointments(&adult).await.unwrap();
    assert_eq!(got, want);
    assert!(
        got.iter()
            .any(|a| a.organisation == demo::real_time_trust())
            && got
                .iter()
                .any(|a| a.organisation == demo::request_only_trust()),
        "both trusts' appointments"
    );
    for a in &want {
        assert_eq!(
            pas.get_appointment(&adult, &a.id).await.unwrap().as_ref(),
            Some(a)
        );
        let second = demo::nhs_number(demo::SECOND_ADULT);
        assert_eq!(pas.get_appointment(&second, &a.id).await.unwrap(), None);
    }
    let record = pas.patient(&adult).await.unwrap().unwrap();
    assert_eq!(record, data.patient(demo::ADULT).unwrap().record);
}

#[tokio::test]
async fn trusts_sharing_one_pas_give_each_appointment_once() {
    let data = DemoData::build(Utc::now());
    let shared: Arc<dyn PasBackend> = Arc::new(data.simulated_pas(Arc::new(SystemClock)));
    let pas = TrustsPas::new(vec![
        (demo::real_time_trust().ods_code, shared.clone()),
        (demo::request_only_trust().ods_code, shared.clone()),
    ]);
    let adult = demo::nhs_number(demo::ADULT);
    let got = pas.list_appointments(&adult).await.unwrap();
    let mut want = shared.list_appointments(&adult).await.unwrap();
    want.sort_by_key(|a| a.start);
    assert_eq!(got, want, "each once, in start order");
    // Only the trusts served: one trust alone over the shared PAS lists only its own.
    let one = TrustsPas::new(vec![(demo::request_only_trust().ods_code, shared.clone())]);
    let own = one.list_appointments(&adult).await.unwrap();
    assert!(
        !own.is_empty()
            && own
                .iter()
                .all(|a| a.organisation == demo::request_only_trust())
    );
    let elsewhere = data.appointment(demo::KEY_ADULT_TELEPHONE).unwrap();
    assert_eq!(
        one.get_appointment(&adult, &elsewhere.id).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn changes_go_to_the_owning_trust() {
    let (data, rt, ro) = split();
    let pas = both(&rt, &ro);
    let real_time = data.appointment(demo::KEY_ADULT_TELEPHONE).unwrap().clone();
    assert_eq!(real_time.organisation, demo::real_time_trust());
    assert_eq!(
        pas.capabilities(&real_time).await.unwrap(),
        Capabilities::REAL_TIME
            .with_confirm_attendance()
            .with_slot_filters(nhs_portal_core::slot_choice::SlotFilters {
                time_of_day: true,
                site: true,
                clinician: false,
            })
            .with_holding(nhs_portal_core::holding::HoldingDisplay::WaitingList),
        "the demo's real-time trust offers confirming attendance, slot filters by time of day and site, and shows its holding records"
    );
    let reason = CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    };
    let cancelled = pas.cancel(&real_time, &reason).await.unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(
        rt.inspect_appointment(&real_time.id).unwrap().status,
        AppointmentStatus::Cancelled
    );

    let request_only = data
        .appointments
        .iter()
        .find(|a| {
            a.organisation == demo::request_only_trust() && a.status == AppointmentStatus::Booked
        })
        .unwrap()
        .clone();
    assert_eq!(
        pas.capabilities(&request_only).await.unwrap(),
        Capabilities::REQUEST_ONLY
    );
    assert!(matches!(
        pas.cancel(&request_only, &reason).await,
        Err(PasError::NotSupported)
    ));

    // An appointment of a trust not served: nothing offered, not found.
    let mut elsewhere = real_time.clone();
    elsewhere.organisation.ods_code = OdsCode::parse("RXX").unwrap();
    assert_eq!(
        pas.capabilities(&elsewhere).await.unwrap(),
        Capabilities::VIEW_ONLY
    );
    assert!(matches!(
        pas.cancel(&elsewhere, &reason).await,
        Err(PasError::NotFound)
    ));
    let now = Utc::now();
    assert!(matches!(
        pas.find_slots(&elsewhere, now, now + chrono::Duration::days(7))
            .await,
        Err(PasError::NotFound)
    ));
}

#[tokio::test]
async fn flags_from_any_trust_hold_and_one_trust_down_fails_the_list() {
    let (data, rt, ro) = split();
    let adult = demo::nhs_number(demo::ADULT);
    let mut record = data.patient(demo::ADULT).unwrap().record.clone();
    record.portal_access = false;
    ro.add_patient(record);
    let pas = both(&rt, &ro);
    let merged = pas.patient(&adult).await.unwrap().unwrap();
    assert!(!merged.portal_access, "one trust's flag is enough");

    ro.set_faults(FaultPlan::new().rule(FaultRule::new(Fault::Unavailable)));
    assert!(pas.list_appointments(&adult).await.is_err());
    let unknown = NhsNumber::parse("9000000092").unwrap();
    rt.clear_faults();
    ro.clear_faults();
    assert_eq!(pas.patient(&unknown).await.unwrap(), None);
}
