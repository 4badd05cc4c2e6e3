//! The journeys service on its own, without HTTP: a MemoryStore, the SimulatedPas with the demo
//! data (a real-time and a request-only trust) and a fixed clock.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditLog, Outbox, PatientSession, RequestState, RequestStore, SessionId,
};
use nhs_portal_core::{AppointmentStatus, NhsNumber, RequestStatus};
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::simulated::SimulatedPas;

use super::*;

/// The service and what it works on.
struct World {
    data: DemoData,
    journeys: Journeys,
    pas: Arc<SimulatedPas>,
    store: Arc<MemoryStore>,
}

/// The fixed time of every test (a Monday morning in British Summer Time).
fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 11, 9, 0, 0).unwrap()
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let (data, pas, seeded) = demo::start(clock.clone(), store.as_ref()).await.unwrap();
    assert_eq!(seeded, data.requests.len());
    let pas = Arc::new(pas);
    World {
        journeys: Journeys::new(pas.clone(), store.clone(), clock),
        store,
        pas,
        data,
    }
}

fn session(patient: &str) -> PatientSession {
    let now = t0();
    PatientSession {
        id: SessionId::new(format!("s-{patient}")),
        reporting_id: format!("r-{patient}"),
        patient: NhsNumber::parse(patient).unwrap(),
        date_of_birth: None,
        display_name: None,
        created_at: now,
        last_seen_at: now,
        absolute_expiry: now + Duration::hours(12),
        in_nhs_app: false,
        tracking_id: None,
        csrf_token: "csrf".into(),
    }
}

fn answers(reason: &str, details: Option<&str>) -> ReasonAnswers {
    ReasonAnswers {
        reason: reason.into(),
        details: details.map(Into::into),
    }
}

impl World {
    fn id(&self, key: &str) -> AppointmentId {
        self.data.appointment(key).unwrap().id.clone()
    }
    async fn events(&self) -> Vec<ReportingEvent> {
        let now = self.journeys.now();
        self.store
            .claim_events("test", 100, now, Duration::minutes(1))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.event)
            .collect()
    }
    /// The patient's audit trail since the world began (the seeded demo requests are older).
    async fn audit(&self, patient: &str) -> Vec<AuditAction> {
        let start = self.data.now;
        self.store
            .audit_for_patient(&NhsNumber::parse(patient).unwrap(), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.at >= start)
            .map(|r| r.action)
            .collect()
    }
}

#[tokio::test]
async fn the_list_is_the_patients_own_split_and_overlaid() {
    let w = world().await;
    let (upcoming, past) = w
        .journeys
        .appointments(&session(demo::ADULT))
        .await
        .unwrap();
    let now = w.journeys.now();
    assert!(
        upcoming
            .iter()
            .all(|a| a.status == AppointmentStatus::Booked && a.is_future(now))
    );
    assert!(upcoming.windows(2).all(|p| p[0].start <= p[1].start));
    assert!(past.windows(2).all(|p| p[0].start >= p[1].start));
    assert!(
        upcoming
            .iter()
            .chain(&past)
            .all(|a| a.patient.as_str() == demo::ADULT)
    );
    assert_eq!(upcoming.len() + past.len(), 10);
    let pending = upcoming
        .iter()
        .find(|a| a.id == w.id(demo::KEY_ADULT_PENDING_CANCELLATION))
        .unwrap();
    assert_eq!(
        pending.request_status,
        Some(RequestStatus::PendingCancellation)
    );
    assert_eq!(
        w.audit(demo::ADULT).await,
        [AuditAction::ViewedAppointments]
    );
}

#[tokio::test]
async fn view_is_the_patients_own_and_reports_deep_link_views() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_DERMATOLOGY);
    let jump_off = JumpOff {
        tracking_id: Some("trk-1"),
    };
    let view = w.journeys.view(&me, &id, Some(jump_off)).await.unwrap();
    assert_eq!(view.appointment.id, id);
    assert_eq!(view.allowed.cancel, Ok(CancelMode::RealTime));
    assert_eq!(view.allowed.reschedule, Ok(RescheduleMode::RealTime));
    assert!(matches!(
        w.events().await.as_slice(),
        [
            ReportingEvent::Appointment { appointment: a, .. },
            ReportingEvent::AppointmentView { tracking_id: Some(t), .. },
        ] if t == "trk-1" && *a == id
    ));
    // A view from inside the portal (not a jump-off) reports nothing.
    w.journeys.view(&me, &id, None).await.unwrap();
    assert!(w.events().await.is_empty());
    // Not yours: the same answer as an id that does not exist, and an audit record.
    let other = session(demo::SECOND_ADULT);
    assert!(matches!(
        w.journeys.view(&other, &id, None).await,
        Err(JourneyError::CannotView)
    ));
    assert!(matches!(
        w.journeys
            .view(&other, &AppointmentId::new_random(), None)
            .await,
        Err(JourneyError::CannotView)
    ));
    assert_eq!(
        w.audit(demo::SECOND_ADULT).await,
        [AuditAction::AccessRefused, AuditAction::AccessRefused]
    );
    // Peeking writes nothing.
    w.journeys.peek(&me, &id).await.unwrap();
    assert_eq!(
        w.audit(demo::ADULT).await,
        [
            AuditAction::ViewedAppointment,
            AuditAction::ViewedAppointment
        ]
    );
}

#[tokio::test]
async fn a_real_time_cancel_happens_once_however_often_it_is_submitted() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_DERMATOLOGY);
    let a = answers("no-longer-needed", None);
    let done = w.journeys.cancel(&me, &id, &a, "key-1").await.unwrap();
    assert!(
        matches!(&done, CancelOutcome::Cancelled(c) if c.status == AppointmentStatus::Cancelled)
    );
    assert_eq!(
        w.pas.inspect_appointment(&id).unwrap().status,
        AppointmentStatus::Cancelled
    );
    let events = w.events().await;
    assert!(
        matches!(
            events.as_slice(),
            [
                ReportingEvent::Appointment {
                    status: AppointmentStatus::Cancelled,
                    ..
                },
                ReportingEvent::Cancelled { .. }
            ]
        ),
        "{events:?}"
    );
    // The double submit: the same answer, no second audit record or event.
    let again = w.journeys.cancel(&me, &id, &a, "key-1").await.unwrap();
    assert!(matches!(again, CancelOutcome::Cancelled(_)));
    assert!(w.events().await.is_empty());
    assert_eq!(w.audit(demo::ADULT).await, [AuditAction::Cancelled]);
    // A new submit on a cancelled appointment is refused.
    assert!(matches!(
        w.journeys.cancel(&me, &id, &a, "key-2").await,
        Err(JourneyError::NotAllowed(_))
    ));
}

#[tokio::test]
async fn a_cancel_at_a_request_only_trust_is_a_request_made_once() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let a = answers("other", Some("  moving away  "));
    let CancelOutcome::Requested(r) = w.journeys.cancel(&me, &id, &a, "key-1").await.unwrap()
    else {
        panic!("a request");
    };
    assert_eq!(r.kind, RequestKind::Cancel);
    assert_eq!(r.details.as_deref(), Some("moving away"));
    // The PAS is untouched; the store's request shows as the request status.
    assert_eq!(
        w.pas.inspect_appointment(&id).unwrap().status,
        AppointmentStatus::Booked
    );
    let view = w.journeys.peek(&me, &id).await.unwrap();
    assert_eq!(
        view.appointment.request_status,
        Some(RequestStatus::PendingCancellation)
    );
    assert!(matches!(
        w.events().await.as_slice(),
        [
            ReportingEvent::Appointment {
                status: AppointmentStatus::Booked,
                ..
            },
            ReportingEvent::CancelRequested { .. }
        ]
    ));
    // Double submit: the same request back, nothing new.
    let CancelOutcome::Requested(same) = w.journeys.cancel(&me, &id, &a, "key-1").await.unwrap()
    else {
        panic!("the same request");
    };
    assert_eq!(same.id, r.id);
    assert!(w.events().await.is_empty());
    // Another key while one is pending: refused.
    assert!(matches!(
        w.journeys.cancel(&me, &id, &a, "key-2").await,
        Err(JourneyError::NotAllowed(Refusal::RequestPending))
    ));
    assert_eq!(
        w.store
            .pending_requests_for_patient(&me.patient)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn answers_are_checked_before_anything_happens() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_DERMATOLOGY);
    let Err(JourneyError::Invalid(errors)) = w
        .journeys
        .cancel(&me, &id, &answers("other", None), "k")
        .await
    else {
        panic!("invalid answers");
    };
    assert_eq!(errors[0].field, "details");
    let Err(JourneyError::Invalid(errors)) = w
        .journeys
        .request_reschedule(&me, &id, &answers("nope", None), "k")
        .await
    else {
        panic!("invalid answers");
    };
    assert_eq!(errors[0].field, "reason");
    assert!(w.audit(demo::ADULT).await.is_empty());
    assert!(w.events().await.is_empty());
}

#[tokio::test]
async fn a_real_time_reschedule_moves_once() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_DERMATOLOGY);
    let (_, slots) = w.journeys.slots(&me, &id).await.unwrap();
    assert!(slots.windows(2).all(|p| p[0].start <= p[1].start));
    let slot = &slots[0];
    let moved = w
        .journeys
        .reschedule(&me, &id, &slot.id, "key-1")
        .await
        .unwrap();
    assert_eq!(moved.start, slot.start);
    assert_eq!(w.pas.slot_holder(&slot.id), Some(moved.id.clone()));
    let events = w.events().await;
    assert!(matches!(
        events.as_slice(),
        [
            ReportingEvent::Appointment { .. },
            ReportingEvent::Rescheduled { .. }
        ]
    ));
    // The double submit returns the moved appointment and changes nothing.
    let again = w
        .journeys
        .reschedule(&me, &id, &slot.id, "key-1")
        .await
        .unwrap();
    assert_eq!(again.id, moved.id);
    assert_eq!(again.start, slot.start);
    assert!(w.events().await.is_empty());
    assert_eq!(w.audit(demo::ADULT).await, [AuditAction::Rescheduled]);
}

#[tokio::test]
async fn a_reschedule_at_a_request_only_trust_is_a_request() {
    let w = world().await;
    let me = session(demo::ADULT);
    let id = w.id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    // No slots there: real time is not offered.
    assert!(matches!(
        w.journeys.slots(&me, &id).await,
        Err(JourneyError::NotAllowed(_))
    ));
    let a = answers("commitments", Some("Mornings after 10am"));
    let r = w
        .journeys
        .request_reschedule(&me, &id, &a, "key-1")
        .await
        .unwrap();
    assert_eq!(r.kind, RequestKind::Reschedule);
    assert_eq!(r.state, RequestState::Pending);
    let same = w
        .journeys
        .request_reschedule(&me, &id, &a, "key-1")
        .await
        .unwrap();
    assert_eq!(same.id, r.id);
    assert!(matches!(
        w.events().await.as_slice(),
        [
            ReportingEvent::Appointment { .. },
            ReportingEvent::RescheduleRequested { .. }
        ]
    ));
    // At the real-time trust, a reschedule request is not what is offered.
    let rt = w.id(demo::KEY_ADULT_DERMATOLOGY);
    assert!(matches!(
        w.journeys.request_reschedule(&me, &rt, &a, "key-2").await,
        Err(JourneyError::NotAllowed(Refusal::NotOffered))
    ));
}

#[tokio::test]
async fn another_patients_appointment_cannot_be_changed() {
    let w = world().await;
    let other = session(demo::SECOND_ADULT);
    let before = w
        .pas
        .list_appointments(&NhsNumber::parse(demo::ADULT).unwrap())
        .await
        .unwrap();
    for key in [
        demo::KEY_ADULT_DERMATOLOGY,
        demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
    ] {
        let id = w.id(key);
        let a = answers("no-longer-needed", None);
        assert!(matches!(
            w.journeys.cancel(&other, &id, &a, "k").await,
            Err(JourneyError::CannotView)
        ));
        let a = answers("unwell", None);
        assert!(matches!(
            w.journeys.request_reschedule(&other, &id, &a, "k").await,
            Err(JourneyError::CannotView)
        ));
        assert!(matches!(
            w.journeys.slots(&other, &id).await,
            Err(JourneyError::CannotView)
        ));
        assert!(matches!(
            w.journeys.reschedule(&other, &id, "any-slot", "k").await,
            Err(JourneyError::CannotView)
        ));
    }
    let after = w
        .pas
        .list_appointments(&NhsNumber::parse(demo::ADULT).unwrap())
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(w.store.list_requests(None, None).await.unwrap().len(), 2);
    assert!(w.events().await.is_empty());
}

/// A slot the PAS itself would book (its own horizon is wide) but the portal's offer does not
/// hold (beyond the portal's search window): the journeys service never sends it to the PAS.
#[tokio::test]
async fn only_a_slot_in_the_offer_read_at_confirm_reaches_the_pas() {
    use nhs_portal_pas::simulated::SimulatedSlot;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let (data, pas, _) = demo::start(clock.clone(), store.as_ref()).await.unwrap();
    let pas = Arc::new(pas.with_booking_horizon(Duration::days(400)));
    let journeys = Journeys::new(pas.clone(), store.clone(), clock);
    let me = session(demo::ADULT);
    let derm = data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap()
        .clone();
    let start = t0() + Duration::days(SLOT_SEARCH_DAYS + 20);
    pas.add_slot(SimulatedSlot {
        ods_code: derm.organisation.ods_code.clone(),
        specialty: derm.specialty.code,
        slot: nhs_portal_pas::Slot {
            id: "beyond-the-window".into(),
            start,
            end: start + Duration::minutes(20),
            location: None,
            clinician: None,
        },
    });
    let (_, offer) = journeys.slots(&me, &derm.id).await.unwrap();
    assert!(!offer.iter().any(|s| s.id == "beyond-the-window"));
    for slot in ["beyond-the-window", "made-up", ""] {
        assert!(
            matches!(
                journeys.reschedule(&me, &derm.id, slot, "key-forged").await,
                Err(JourneyError::SlotUnavailable)
            ),
            "{slot}"
        );
    }
    assert_eq!(pas.slot_holder("beyond-the-window"), None);
    assert_eq!(pas.inspect_appointment(&derm.id).unwrap().start, derm.start);
    // The PAS alone would have booked it: the refusal above was the journeys' own check.
    assert!(pas.reschedule(&derm, "beyond-the-window").await.is_ok());
}

#[tokio::test]
async fn an_idempotency_key_is_bound_to_its_appointment_and_request() {
    let w = world().await;
    let me = session(demo::ADULT);
    let booked = w.id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let answers = ReasonAnswers {
        reason: CANCEL_REASONS[0].code.into(),
        details: None,
    };
    w.journeys
        .cancel(&me, &booked, &answers, "key-shared")
        .await
        .unwrap();
    // Another request-only appointment of the same patient, with the same key.
    let mut second = w.pas.inspect_appointment(&booked).unwrap();
    second.id = AppointmentId::parse("second-request-only").unwrap();
    w.pas.add_appointment(second.clone());
    assert!(matches!(
        w.journeys
            .cancel(&me, &second.id, &answers, "key-shared")
            .await,
        Err(JourneyError::KeyReused)
    ));
    assert!(
        w.store
            .pending_request_for(&second.id)
            .await
            .unwrap()
            .is_none()
    );
    // A real-time action's key on another appointment is refused the same way.
    let derm = w.id(demo::KEY_ADULT_DERMATOLOGY);
    let (_, slots) = w.journeys.slots(&me, &derm).await.unwrap();
    w.journeys
        .reschedule(&me, &derm, &slots[0].id, "key-rt")
        .await
        .unwrap();
    let phone = w.id(demo::KEY_ADULT_TELEPHONE);
    assert!(matches!(
        w.journeys.cancel(&me, &phone, &answers, "key-rt").await,
        Err(JourneyError::KeyReused)
    ));
    assert_eq!(
        w.pas.inspect_appointment(&phone).unwrap().status,
        AppointmentStatus::Booked
    );
}
