//! The asynchronous request journey end to end, with the in-memory store and the simulated PAS:
//! a patient asks a request-only trust to cancel or reschedule → the request shows as pending →
//! trust staff fulfil or reject it on the worklist → the appointment's status and request status
//! change → the outcome is recorded (audit trail and reporting events in the outbox).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use nhs_portal_core::clock::{Clock, ManualClock};
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::{
    DisplayStatus, RequestKind, RequestOutcome, allowed_actions, display_status,
};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditLog, AuditRecord, Outbox, PatientRequest, RequestState, RequestStore,
    Submitted,
};
use nhs_portal_core::{Appointment, AppointmentId, ReportingEvent};
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::simulated::SimulatedPas;
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_pas::{PasBackend, PasError};

struct World {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    pas: Arc<SimulatedPas>,
    worklist: Worklist,
}

fn world() -> World {
    let now = Utc.with_ymd_and_hms(2026, 9, 14, 8, 30, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let pas = Arc::new(DemoData::build(now).simulated_pas(clock.clone()));
    let store = Arc::new(MemoryStore::new());
    let worklist =
        Worklist::new(store.clone(), pas.clone(), clock.clone()).with_applier(pas.clone());
    World {
        clock,
        store,
        pas,
        worklist,
    }
}

impl World {
    /// What the portal shows the patient: the PAS appointment with the store's overlay.
    async fn patient_view(&self, id: &AppointmentId) -> (Appointment, DisplayStatus) {
        let me = demo::nhs_number(demo::ADULT);
        let mut a = self.pas.get_appointment(&me, id).await.unwrap().unwrap();
        a.request_status = self
            .store
            .pending_request_for(id)
            .await
            .unwrap()
            .and_then(|r| r.request_status());
        let shown = display_status(a.status, a.request_status);
        (a, shown)
    }

    /// The patient submits a request, as the web layer does.
    async fn submit(&self, id: &AppointmentId, kind: RequestKind) -> PatientRequest {
        let me = demo::nhs_number(demo::ADULT);
        let a = self.pas.get_appointment(&me, id).await.unwrap().unwrap();
        let caps = self.pas.capabilities(&a).await.unwrap();
        let allowed = allowed_actions(&a, caps, self.clock.now());
        assert!(allowed.cancel.is_ok() && allowed.reschedule.is_ok());
        let now = self.clock.now();
        let request = PatientRequest {
            id: uuid::Uuid::new_v4(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            appointment: id.clone(),
            patient: me.clone(),
            ods_code: a.organisation.ods_code.clone(),
            kind,
            reason: "cannot-attend".into(),
            details: None,
            state: RequestState::Pending,
            created_at: now,
            resolved_at: None,
            resolution_note: None,
        };
        let audit = AuditRecord {
            at: now,
            patient: me,
            actor: "patient".into(),
            session: Some("s1".into()),
            action: match kind {
                RequestKind::Cancel => AuditAction::CancelRequested,
                RequestKind::Reschedule => AuditAction::RescheduleRequested,
            },
            appointment: Some(id.clone()),
            detail: None,
        };
        let event = match kind {
            RequestKind::Cancel => ReportingEvent::CancelRequested {
                at: now,
                appointment: id.clone(),
                session_id: "s1".into(),
            },
            RequestKind::Reschedule => ReportingEvent::RescheduleRequested {
                at: now,
                appointment: id.clone(),
                session_id: "s1".into(),
            },
        };
        match self
            .store
            .submit_request(&(&request).into(), &audit, &[event])
            .await
            .unwrap()
        {
            Submitted::Created(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// The events written since the last look (marked delivered, as the outbox worker would).
    async fn outbox_codes(&self) -> Vec<&'static str> {
        let items = self
            .store
            .claim_events("t", 100, self.clock.now(), Duration::minutes(1))
            .await
            .unwrap();
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        self.store.mark_delivered(&ids).await.unwrap();
        items.iter().map(|i| i.event.event_code()).collect()
    }
}

fn ods() -> nhs_portal_core::OdsCode {
    nhs_portal_core::OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap()
}

#[tokio::test]
async fn cancel_request_fulfilled_by_staff() {
    let w = world();
    let id = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    assert_eq!(w.patient_view(&id).await.1, DisplayStatus::Booked);

    let request = w.submit(&id, RequestKind::Cancel).await;
    let (a, shown) = w.patient_view(&id).await;
    assert_eq!(shown, DisplayStatus::PendingCancellation);
    assert_eq!(a.status, nhs_portal_core::AppointmentStatus::Booked);
    // a real-time cancel is still refused at this trust
    assert!(matches!(
        w.pas.cancel(&a, &cancel_reason()).await,
        Err(PasError::NotSupported)
    ));
    assert_eq!(w.outbox_codes().await, ["APPT-REQUEST-CANC"]);

    // staff see it and act
    let pending = w.worklist.pending(&ods()).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request.id, request.id);
    w.clock.advance(Duration::hours(20));
    w.worklist
        .fulfil(
            &ods(),
            request.id,
            "Alex Morgan",
            &RequestOutcome::Cancelled,
            None,
        )
        .await
        .unwrap();

    let (a, shown) = w.patient_view(&id).await;
    assert_eq!(shown, DisplayStatus::Cancelled);
    assert_eq!(a.request_status, None);
    assert!(w.worklist.pending(&ods()).await.unwrap().is_empty());
    assert_eq!(w.outbox_codes().await, ["APPT", "APPT-CANC"]);
    let audit = w
        .store
        .audit_for_patient(&demo::nhs_number(demo::ADULT), 2)
        .await
        .unwrap();
    assert_eq!(audit[0].action, AuditAction::RequestFulfilled);
    assert_eq!(audit[0].actor, "staff:Alex Morgan");
    assert_eq!(audit[1].action, AuditAction::CancelRequested);
}

#[tokio::test]
async fn reschedule_request_fulfilled_then_another_rejected() {
    let w = world();
    let id = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let request = w.submit(&id, RequestKind::Reschedule).await;
    assert_eq!(
        w.patient_view(&id).await.1,
        DisplayStatus::PendingReschedule
    );
    let new_start: DateTime<Utc> = w.clock.now() + Duration::days(50);
    let outcome = RequestOutcome::Rescheduled {
        replaced_by: None,
        new_start: Some(new_start),
    };
    w.worklist
        .fulfil(&ods(), request.id, "Alex", &outcome, None)
        .await
        .unwrap();
    let (a, shown) = w.patient_view(&id).await;
    assert_eq!(shown, DisplayStatus::Booked);
    assert_eq!(a.start, new_start);
    let _ = w.outbox_codes().await;

    // the patient asks again; this time the trust says no
    let again = w.submit(&id, RequestKind::Cancel).await;
    assert_eq!(
        w.patient_view(&id).await.1,
        DisplayStatus::PendingCancellation
    );
    let r = w
        .worklist
        .reject(
            &ods(),
            again.id,
            "Alex",
            Some("Please phone the clinic".into()),
        )
        .await
        .unwrap();
    assert_eq!(r.request.state, RequestState::Rejected);
    let (a, shown) = w.patient_view(&id).await;
    assert_eq!(shown, DisplayStatus::Booked);
    assert_eq!(a.start, new_start);
    let events = w
        .store
        .claim_events("t", 100, w.clock.now(), Duration::minutes(1))
        .await
        .unwrap();
    let codes: Vec<_> = events.iter().map(|i| i.event.event_code()).collect();
    assert_eq!(codes, ["APPT-REQUEST-CANC", "APPT"]);
    assert!(!events.iter().any(|i| matches!(
        i.event,
        ReportingEvent::Cancelled {
            reason: ChangeReason::Patient,
            ..
        }
    )));
}

#[tokio::test]
async fn staff_acting_in_the_pas_resolves_the_request_on_the_next_sync() {
    let w = world();
    let id = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let since = w.clock.now();
    let request = w.submit(&id, RequestKind::Cancel).await;
    w.clock.advance(Duration::minutes(2));
    // staff cancel in the PAS itself, never opening the worklist
    w.pas.staff_acted(&id, &RequestOutcome::Cancelled).unwrap();
    // Already before the sync, the hospital's "cancelled" stands: a pending cancellation on a
    // cancelled appointment is not a valid pair (request_status::VALID_PAIRS), so it is never
    // shown.
    assert_eq!(w.patient_view(&id).await.1, DisplayStatus::Cancelled);
    let report = w.worklist.sync_from_pas(since).await.unwrap();
    assert_eq!(report.resolved.len(), 1);
    assert_eq!(report.resolved[0].id, request.id);
    assert_eq!(w.patient_view(&id).await.1, DisplayStatus::Cancelled);
}

fn cancel_reason() -> nhs_portal_pas::CancelReason {
    nhs_portal_pas::CancelReason {
        code: "cannot-attend".into(),
        text: None,
    }
}
