//! Tests of the demo data set.

use super::*;
use crate::PasBackend;
use chrono::TimeZone;
use chrono::{Datelike, Duration, Weekday};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::holding::HoldingDisplay;
use nhs_portal_core::request_status::{RescheduleMode, allowed_actions};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::uk_time;
use nhs_portal_core::{AppointmentStatus, AppointmentType, ConsultationMedium};

fn nows() -> Vec<DateTime<Utc>> {
    vec![
        Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 1, 23, 59, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap(),
    ]
}

#[test]
fn constants_are_valid_and_distinct() {
    let all = ALL_PATIENTS;
    for n in all {
        assert!(NhsNumber::parse(n).is_ok(), "{n}");
    }
    let mut v = all.to_vec();
    v.sort();
    v.dedup();
    assert_eq!(v.len(), all.len());
    assert!(OdsCode::parse(REAL_TIME_TRUST_ODS).is_ok());
    assert!(OdsCode::parse(REQUEST_ONLY_TRUST_ODS).is_ok());
}

#[test]
fn ids_are_stable_unique_and_not_derived_from_nhs_numbers() {
    let a = DemoData::build(nows()[0]);
    let b = DemoData::build(nows()[2]);
    let ids_a: Vec<_> = a.appointments.iter().map(|x| x.id.clone()).collect();
    let ids_b: Vec<_> = b.appointments.iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids_a, ids_b, "stable across builds");
    let mut dedup = ids_a.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), ids_a.len());
    for id in &ids_a {
        let u = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(u.get_version_num(), 4);
        for n in [ADULT, SECOND_ADULT, UNDER_16] {
            assert!(!id.as_str().contains(&n[..6]));
        }
    }
    // slot ids are unique
    let mut slots: Vec<_> = a.slots.iter().map(|s| s.slot.id.clone()).collect();
    let n = slots.len();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), n);
    assert!(n > 100);
}

#[test]
fn adult_has_everything_the_demo_needs_whatever_the_date() {
    for now in nows() {
        let d = DemoData::build(now);
        let adult = nhs_number(ADULT);
        let mine: Vec<_> = d
            .appointments
            .iter()
            .filter(|a| a.patient == adult)
            .collect();
        for trust in [REAL_TIME_TRUST_ODS, REQUEST_ONLY_TRUST_ODS] {
            assert!(
                mine.iter()
                    .any(|a| a.organisation.ods_code.as_str() == trust
                        && a.status == AppointmentStatus::Booked
                        && a.is_future(now)),
                "{now}: future booked at {trust}"
            );
        }
        let has = |s: AppointmentStatus, future: bool| {
            mine.iter()
                .any(|a| a.status == s && a.is_future(now) == future)
        };
        assert!(
            mine.iter()
                .any(|a| a.status == AppointmentStatus::Cancelled)
        );
        assert!(has(AppointmentStatus::Fulfilled, false));
        assert!(has(AppointmentStatus::NoShow, false));
        let future_zones: Vec<_> = mine
            .iter()
            .filter(|a| a.is_future(now))
            .map(|a| uk_time::zone_abbreviation(a.start))
            .collect();
        assert!(future_zones.contains(&"BST"), "{now}");
        assert!(future_zones.contains(&"GMT"), "{now}");
        assert!(mine.iter().any(|a| a.medium == ConsultationMedium::Video));
        assert!(
            mine.iter()
                .any(|a| a.medium == ConsultationMedium::Telephone)
        );
        for a in &mine {
            assert_eq!(
                a.medium.is_physical(),
                a.location.is_some(),
                "{}",
                a.description
            );
            let local = uk_time::to_uk(a.start);
            assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
            assert!((7..18).contains(&chrono::Timelike::hour(&local)));
        }
        let specialties: std::collections::HashSet<_> =
            mine.iter().map(|a| a.specialty.code).collect();
        assert!(specialties.len() >= 8);

        // the pending requests are at the request-only trust, on booked future appointments
        assert_eq!(d.requests.len(), 2);
        for r in &d.requests {
            let a = d
                .appointments
                .iter()
                .find(|a| a.id == r.appointment)
                .unwrap();
            assert_eq!(a.organisation.ods_code.as_str(), REQUEST_ONLY_TRUST_ODS);
            assert_eq!(a.status, AppointmentStatus::Booked);
            assert!(a.is_future(now));
            assert_eq!(r.patient, adult);
        }
        let kinds: Vec<_> = d.requests.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [RequestKind::Cancel, RequestKind::Reschedule]);

        // other patients
        let second = nhs_number(SECOND_ADULT);
        for trust in [REAL_TIME_TRUST_ODS, REQUEST_ONLY_TRUST_ODS] {
            assert!(d.appointments.iter().any(|a| a.patient == second
                && a.organisation.ods_code.as_str() == trust
                && a.is_future(now)));
        }
        let inpatient_ends: Vec<_> = d
            .appointments
            .iter()
            .filter(|a| a.patient == second && a.appointment_type == AppointmentType::Inpatient)
            .map(|a| uk_time::uk_date(a.end.unwrap()) > uk_time::uk_date(a.start))
            .collect();
        assert!(inpatient_ends.contains(&true), "an overnight stay");
        assert!(inpatient_ends.contains(&false), "a day case");
        assert!(
            d.appointments
                .iter()
                .any(|a| a.patient == second && a.description == "Pre-assessment appointment")
        );
        let child = d.patient(UNDER_16).unwrap();
        let age_limit = uk_time::uk_date(now).checked_sub_months(chrono::Months::new(16 * 12));
        assert!(Some(child.record.date_of_birth) > age_limit);
        assert!(
            d.appointments
                .iter()
                .any(|a| a.patient.as_str() == UNDER_16)
        );
        assert!(!d.patient(NO_PORTAL_ACCESS).unwrap().record.portal_access);
        assert!(d.patient(RESTRICTED).unwrap().record.restricted);
        assert_eq!(
            d.patient(P5_PATIENT).unwrap().identity_level,
            IdentityLevel::P5
        );
        assert!(
            !d.appointments
                .iter()
                .any(|a| a.patient.as_str() == NO_APPOINTMENTS)
        );
    }
}

#[tokio::test]
async fn the_simulated_pas_offers_slots_and_request_only_where_expected() {
    let now = nows()[0];
    let d = DemoData::build(now);
    let pas = d.simulated_pas(Arc::new(ManualClock::new(now)));
    let derm = d.appointment(KEY_ADULT_DERMATOLOGY).unwrap();
    let caps = pas.capabilities(derm).await.unwrap();
    assert_eq!(
        allowed_actions(derm, caps, now).reschedule,
        Ok(RescheduleMode::RealTime)
    );
    let slots = pas
        .find_slots(derm, now, now + Duration::days(60))
        .await
        .unwrap();
    assert!(slots.len() >= 20);
    let moved = pas.reschedule(derm, &slots[0].id).await.unwrap();
    assert_eq!(moved.start, slots[0].start);

    let pending = d.appointment(KEY_ADULT_PENDING_CANCELLATION).unwrap();
    assert_eq!(
        pas.capabilities(pending).await.unwrap(),
        Capabilities::REQUEST_ONLY
    );
    let adults = pas.list_appointments(&nhs_number(ADULT)).await.unwrap();
    // Ten appointments, and a holding record at each trust.
    assert_eq!(adults.len(), 12);
    let holding: Vec<_> = adults.iter().filter(|a| a.holding).map(|a| &a.id).collect();
    assert_eq!(
        holding,
        [
            &appointment_id(KEY_ADULT_HOLDING_SHOWN),
            &appointment_id(KEY_ADULT_HOLDING_HIDDEN)
        ]
    );
    let shown = d.appointment(KEY_ADULT_HOLDING_SHOWN).unwrap();
    assert_eq!(
        pas.capabilities(shown).await.unwrap().holding,
        HoldingDisplay::WaitingList
    );
    let hidden = d.appointment(KEY_ADULT_HOLDING_HIDDEN).unwrap();
    assert_eq!(
        pas.capabilities(hidden).await.unwrap().holding,
        HoldingDisplay::Hidden
    );
    assert!(
        pas.patient(&nhs_number(NO_APPOINTMENTS))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        pas.patient(&NhsNumber::parse("9000000084").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn seeding_the_store_is_idempotent() {
    let now = nows()[0];
    let d = DemoData::build(now);
    let store = MemoryStore::new();
    assert_eq!(seed_store(&store, &d).await.unwrap(), 2);
    assert_eq!(seed_store(&store, &d).await.unwrap(), 0);
    let pending = store
        .pending_requests_for_patient(&nhs_number(ADULT))
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending_requests(now), d.requests);
}

#[test]
fn one_patient_list_with_one_named_dob_mismatch() {
    let now = nows()[0];
    let list = patients(now);
    let numbers: Vec<&str> = list.iter().map(|p| p.record.nhs_number.as_str()).collect();
    assert_eq!(numbers, ALL_PATIENTS);
    assert_eq!(DemoData::build(now).patients, list);
    for p in &list {
        let n = p.record.nhs_number.as_str();
        assert!(n.starts_with("900000"), "{n} is in the test range");
        if n == DOB_MISMATCH {
            assert_ne!(p.nhs_login_dob(), p.record.date_of_birth);
        } else {
            assert_eq!(p.nhs_login_dob(), p.record.date_of_birth, "{n}");
        }
    }
    // The mismatch patient is otherwise eligible and has an appointment, so only the date of
    // birth can be why the API refuses them.
    let d = DemoData::build(now);
    let m = d.patient(DOB_MISMATCH).unwrap();
    assert!(m.record.portal_access && !m.record.restricted);
    assert_eq!(m.identity_level, IdentityLevel::P9);
    assert!(
        d.appointments
            .iter()
            .any(|a| a.patient.as_str() == DOB_MISMATCH && a.is_future(now))
    );
}
