//! Tests of the staff worklist service over a MemoryStore, the SimulatedPas and a fixed clock.
//!
//! (Over 400 lines: one test per worklist rule and PAS-feed case, sharing the `World` set-up.)

use super::*;
use crate::demo::{self, DemoData};
use crate::simulated::{Fault, FaultPlan, FaultRule, PasOperation, SimulatedPas};
use crate::{PasChange, PasEvent};
use chrono::{Duration, TimeZone};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{AuditLog, Outbox, PasFeedStore, RequestStore};
use nhs_portal_core::{AppointmentStatus, RequestStatus};

struct World {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    pas: Arc<SimulatedPas>,
    data: DemoData,
}

async fn world() -> World {
    let now = Utc.with_ymd_and_hms(2026, 5, 11, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let store = Arc::new(MemoryStore::new());
    let (data, pas, _) = demo::start(clock.clone(), store.as_ref()).await.unwrap();
    let pas = Arc::new(pas);
    World {
        clock,
        store,
        pas,
        data,
    }
}

impl World {
    fn simulated(&self) -> Worklist {
        Worklist::new(self.store.clone(), self.pas.clone(), self.clock.clone())
            .with_applier(self.pas.clone())
    }
    fn real(&self) -> Worklist {
        Worklist::new(self.store.clone(), self.pas.clone(), self.clock.clone())
    }
    fn request(&self, kind: RequestKind) -> PatientRequest {
        self.data
            .requests
            .iter()
            .find(|r| r.kind == kind)
            .unwrap()
            .clone()
    }
    /// The demo appointment a request is about.
    fn appointment_of(&self, req: &PatientRequest) -> Appointment {
        self.data
            .appointments
            .iter()
            .find(|a| a.id == req.appointment)
            .unwrap()
            .clone()
    }
    async fn outbox(&self) -> Vec<ReportingEvent> {
        self.store
            .claim_events("test", 100, self.clock.now(), Duration::minutes(1))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.event)
            .collect()
    }
}

fn ro() -> OdsCode {
    OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap()
}

#[tokio::test]
async fn pending_lists_the_trusts_requests_with_the_overlay() {
    let w = world().await;
    let items = w.simulated().pending(&ro()).await.unwrap();
    assert_eq!(items.len(), 2);
    let statuses: Vec<_> = items
        .iter()
        .map(|i| i.appointment.as_ref().unwrap().request_status)
        .collect();
    assert_eq!(
        statuses,
        [
            Some(RequestStatus::PendingCancellation),
            Some(RequestStatus::PendingReschedule)
        ]
    );
    let rt = OdsCode::parse(demo::REAL_TIME_TRUST_ODS).unwrap();
    assert!(w.simulated().pending(&rt).await.unwrap().is_empty());
    // a PAS outage still lists the requests, without appointments
    w.pas.set_faults(
        FaultPlan::new().rule(FaultRule::new(Fault::Unavailable).on(PasOperation::GetAppointment)),
    );
    let items = w.simulated().pending(&ro()).await.unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.appointment.is_none()));
}

#[tokio::test]
async fn staff_fulfil_a_cancellation_end_to_end() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    w.clock.advance(Duration::hours(2));
    let r = w
        .simulated()
        .fulfil(
            &ro(),
            req.id,
            "Jo Bloggs",
            &RequestOutcome::Cancelled,
            Some("done".into()),
        )
        .await
        .unwrap();
    assert_eq!(r.request.state, RequestState::Fulfilled);
    assert_eq!(r.request.resolved_at, Some(w.clock.now()));
    assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
    assert_eq!(
        w.pas.inspect_appointment(&req.appointment).unwrap().status,
        AppointmentStatus::Cancelled
    );
    // the overlay is gone
    let pending = w
        .store
        .pending_requests_for_patient(&req.patient)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending.iter().all(|p| p.id != req.id));
    // outcome recorded: events in the outbox, audit with the staff actor
    let events = w.outbox().await;
    assert_eq!(events.len(), 2);
    assert!(matches!(
        &events[0],
        ReportingEvent::Appointment {
            status: AppointmentStatus::Cancelled,
            ..
        }
    ));
    assert!(matches!(
        &events[1],
        ReportingEvent::Cancelled { appointment, reason: ChangeReason::Patient, .. } if *appointment == req.appointment
    ));
    assert!(nhs_portal_core::reporting::parents_first(&events));
    let audit = w.store.audit_for_patient(&req.patient, 1).await.unwrap();
    assert_eq!(audit[0].actor, "staff:Jo Bloggs");
    assert_eq!(audit[0].action, AuditAction::RequestFulfilled);
    // twice: not pending any more
    assert!(matches!(
        w.simulated()
            .fulfil(&ro(), req.id, "Jo Bloggs", &RequestOutcome::Cancelled, None)
            .await,
        Err(WorklistError::NotPending)
    ));
    // the PAS event it caused resolves nothing further
    let report = w.simulated().sync_from_pas(w.data.now).await.unwrap();
    assert!(report.resolved.is_empty());
    assert_eq!(report.without_request, 1);
}

#[tokio::test]
async fn staff_fulfil_a_reschedule_in_place_and_by_rebooking() {
    let w = world().await;
    let req = w.request(RequestKind::Reschedule);
    let new_start = w.data.now + Duration::days(50);
    let r = w
        .simulated()
        .fulfil(
            &ro(),
            req.id,
            "Jo Bloggs",
            &RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(new_start),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.appointment.start, new_start);
    assert_eq!(r.appointment.status, AppointmentStatus::Booked);
    let events = w.outbox().await;
    assert!(matches!(
        &events[..],
        [
            ReportingEvent::Appointment { status: AppointmentStatus::Booked, appointment_date, .. },
            ReportingEvent::Rescheduled { new_appointment: None, reason: ChangeReason::Patient, .. },
        ] if *appointment_date == new_start
    ));
}

#[tokio::test]
async fn staff_reject_leaves_the_appointment_booked() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    let r = w
        .simulated()
        .reject(&ro(), req.id, "Sam", Some("Please call us".into()))
        .await
        .unwrap();
    assert_eq!(r.request.state, RequestState::Rejected);
    assert_eq!(r.request.resolution_note.as_deref(), Some("Please call us"));
    assert_eq!(r.appointment.status, AppointmentStatus::Booked);
    assert_eq!(r.appointment.request_status, None);
    assert_eq!(
        w.pas.inspect_appointment(&req.appointment).unwrap().status,
        AppointmentStatus::Booked
    );
    let events = w.outbox().await;
    assert!(matches!(
        &events[..],
        [ReportingEvent::Appointment {
            status: AppointmentStatus::Booked,
            ..
        }]
    ));
    let audit = w.store.audit_for_patient(&req.patient, 1).await.unwrap();
    assert_eq!(audit[0].action, AuditAction::RequestRejected);
    assert_eq!(audit[0].actor, "staff:Sam");
}

#[tokio::test]
async fn refusals_are_typed_and_change_nothing() {
    let w = world().await;
    let cancel = w.request(RequestKind::Cancel);
    let resched = w.request(RequestKind::Reschedule);
    let rt = OdsCode::parse(demo::REAL_TIME_TRUST_ODS).unwrap();
    let moved = RequestOutcome::Rescheduled {
        replaced_by: None,
        new_start: Some(w.data.now + Duration::days(3)),
    };
    let wl = w.simulated();
    let cases: Vec<(Result<Resolution, WorklistError>, &str)> = vec![
        (
            wl.fulfil(&rt, cancel.id, "A", &RequestOutcome::Cancelled, None)
                .await,
            "not found",
        ),
        (
            wl.fulfil(
                &ro(),
                uuid::Uuid::new_v4(),
                "A",
                &RequestOutcome::Cancelled,
                None,
            )
            .await,
            "not found",
        ),
        (
            wl.fulfil(&ro(), cancel.id, "A", &moved, None).await,
            "mismatch",
        ),
        (
            wl.fulfil(&ro(), resched.id, "A", &RequestOutcome::Cancelled, None)
                .await,
            "mismatch",
        ),
        (
            wl.fulfil(&ro(), cancel.id, "A", &RequestOutcome::Rejected, None)
                .await,
            "mismatch",
        ),
        (
            wl.fulfil(&ro(), cancel.id, "  ", &RequestOutcome::Cancelled, None)
                .await,
            "name",
        ),
        (wl.reject(&ro(), cancel.id, "A\nB", None).await, "name"),
    ];
    for (got, want) in cases {
        match (got, want) {
            (Err(WorklistError::NotFound), "not found")
            | (Err(WorklistError::Mismatch), "mismatch")
            | (Err(WorklistError::BadStaffName), "name") => {}
            (g, w) => panic!("{g:?} vs {w}"),
        }
    }
    // a PAS fault during fulfilment leaves the request pending and the PAS unchanged
    w.pas.set_faults(
        FaultPlan::new().rule(FaultRule::new(Fault::Timeout).on(PasOperation::GetAppointment)),
    );
    assert!(matches!(
        wl.fulfil(&ro(), cancel.id, "A", &RequestOutcome::Cancelled, None)
            .await,
        Err(WorklistError::Pas(PasError::Timeout))
    ));
    assert_eq!(
        w.store
            .pending_requests_for_patient(&cancel.patient)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        w.pas
            .inspect_appointment(&cancel.appointment)
            .unwrap()
            .status,
        AppointmentStatus::Booked
    );
    assert!(w.outbox().await.is_empty());
}

#[tokio::test]
async fn with_a_real_pas_the_change_must_be_made_there_first() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    assert!(matches!(
        w.real()
            .fulfil(&ro(), req.id, "A", &RequestOutcome::Cancelled, None)
            .await,
        Err(WorklistError::PasNotUpdated)
    ));
    // staff cancel in "their PAS" (the simulation's staff hook)
    w.pas
        .staff_acted(&req.appointment, &RequestOutcome::Cancelled)
        .unwrap();
    let r = w
        .real()
        .fulfil(&ro(), req.id, "A", &RequestOutcome::Cancelled, None)
        .await
        .unwrap();
    assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn the_sync_loop_resolves_requests_in_the_background() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    let since = w.clock.now();
    // the first sync fails: the loop carries on
    w.pas.set_faults(
        FaultPlan::new().rule(
            FaultRule::new(Fault::Unavailable)
                .on(PasOperation::PollEvents)
                .times(1),
        ),
    );
    let task = tokio::spawn(
        w.real()
            .sync_loop(since, std::time::Duration::from_secs(30)),
    );
    w.pas
        .staff_acted(&req.appointment, &RequestOutcome::Cancelled)
        .unwrap();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    }
    task.abort();
    let resolved = w.store.get_request(req.id).await.unwrap().unwrap();
    assert_eq!(resolved.state, RequestState::Fulfilled);
    let recent = w.real().recent(&ro(), 10).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(
        recent[1].id, req.id,
        "newest first: the reschedule request is newer"
    );
}

#[tokio::test]
async fn a_rebooking_in_the_pas_reports_both_appointments() {
    let w = world().await;
    let req = w.request(RequestKind::Reschedule);
    let new_start = w.data.now + Duration::days(40);
    // staff rebook in their PAS as a new appointment, then record it on the worklist
    let new = w.pas.staff_rebooked(&req.appointment, new_start).unwrap();
    let outcome = RequestOutcome::Rescheduled {
        replaced_by: Some(new.id.clone()),
        new_start: Some(new_start),
    };
    let r = w
        .real()
        .fulfil(&ro(), req.id, "Jo", &outcome, None)
        .await
        .unwrap();
    assert_eq!(r.appointment.status, AppointmentStatus::Cancelled);
    let events = w.outbox().await;
    assert!(matches!(
        &events[..],
        [
            ReportingEvent::Appointment { status: AppointmentStatus::Cancelled, .. },
            ReportingEvent::Appointment { status: AppointmentStatus::Booked, appointment, .. },
            ReportingEvent::Rescheduled { new_appointment: Some(n), .. },
        ] if *n == new.id && *appointment == new.id
    ));
    assert!(nhs_portal_core::reporting::parents_first(&events));
}

#[tokio::test]
async fn an_event_for_a_vanished_appointment_does_not_stall_the_sync() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    let at = w.clock.now();
    let mut pas = crate::MockPasBackend::new();
    let id = req.appointment.clone();
    let patient = req.patient.clone();
    pas.expect_poll_events().returning(move |_| {
        Ok(vec![PasEvent::new(
            id.clone(),
            patient.clone(),
            PasChange::Cancelled {
                by: ChangeReason::Hospital,
            },
            at,
            "2",
        )])
    });
    pas.expect_get_appointment().returning(|_, _| Ok(None));
    let wl = Worklist::new(w.store.clone(), Arc::new(pas), w.clock.clone());
    let report = wl.sync_from_pas(at).await.unwrap();
    assert_eq!(report.left_pending, 1);
    assert!(report.resolved.is_empty());
    assert_eq!(report.next_since, at);
    assert_eq!(
        w.store.get_request(req.id).await.unwrap().unwrap().state,
        RequestState::Pending
    );
}

#[tokio::test]
async fn sync_from_pas_resolves_requests_the_trust_acted_on() {
    let w = world().await;
    let since = w.clock.now();
    let cancel = w.request(RequestKind::Cancel);
    let resched = w.request(RequestKind::Reschedule);
    w.clock.advance(Duration::minutes(5));
    // staff act in the PAS only: cancel the first, and cancel (not move) the second
    w.pas
        .staff_acted(&cancel.appointment, &RequestOutcome::Cancelled)
        .unwrap();
    w.clock.advance(Duration::minutes(1));
    w.pas
        .staff_acted(&resched.appointment, &RequestOutcome::Cancelled)
        .unwrap();
    // and an unrelated PAS-side change
    w.pas
        .staff_acted(
            &demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED),
            &RequestOutcome::Cancelled,
        )
        .unwrap();
    let report = w.real().sync_from_pas(since).await.unwrap();
    assert_eq!(report.resolved.len(), 1);
    assert_eq!(report.resolved[0].id, cancel.id);
    assert_eq!(report.resolved[0].state, RequestState::Fulfilled);
    assert_eq!(
        report.left_pending, 1,
        "a cancelled appointment with a pending reschedule"
    );
    assert_eq!(report.without_request, 1);
    assert_eq!(report.next_since, w.clock.now());
    let audit = w.store.audit_for_patient(&cancel.patient, 1).await.unwrap();
    assert_eq!(audit[0].actor, "pas:R9E");
    // Each cancellation reported once, parent first: the request's (by its resolution), then
    // the two the feed reports on its own (no request answered by them).
    let events = w.outbox().await;
    let codes: Vec<_> = events.iter().map(ReportingEvent::event_code).collect();
    assert_eq!(codes, ["APPT", "APPT-CANC"].repeat(3), "the parent first");
    assert!(nhs_portal_core::reporting::parents_first(&events));
    let cancelled: Vec<_> = events
        .iter()
        .filter(|e| e.event_code() == "APPT-CANC")
        .filter_map(ReportingEvent::appointment)
        .collect();
    assert_eq!(
        cancelled,
        [
            &cancel.appointment,
            &resched.appointment,
            &demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED)
        ]
    );
    assert_eq!(report.reported, 4, "the feed's own: two pairs");
    // syncing again (inclusive cursor) changes nothing
    let again = w.real().sync_from_pas(report.next_since).await.unwrap();
    assert!(again.resolved.is_empty());
    assert!(w.outbox().await.is_empty());

    // a rejection recorded in the PAS clears the reschedule request
    w.clock.advance(Duration::minutes(1));
    w.pas
        .staff_acted(&resched.appointment, &RequestOutcome::Rejected)
        .unwrap();
    let report = w.real().sync_from_pas(again.next_since).await.unwrap();
    assert_eq!(report.resolved.len(), 1);
    assert_eq!(report.resolved[0].state, RequestState::Rejected);
    assert!(
        w.store
            .pending_requests_for_patient(&resched.patient)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A mocked PAS whose feed holds `events` and whose appointment read answers `current`.
fn feed(events: Vec<PasEvent>, current: Option<Appointment>) -> crate::MockPasBackend {
    let mut pas = crate::MockPasBackend::new();
    pas.expect_poll_events()
        .returning(move |_| Ok(events.clone()));
    pas.expect_get_appointment()
        .returning(move |_, _| Ok(current.clone()));
    pas
}

#[tokio::test]
async fn changes_that_make_a_request_moot_resolve_it_as_stale() {
    // (change, does the PAS still give the appointment, what the feed reports on its own)
    let cases: [(PasChange, bool, &[&str]); 3] = [
        (PasChange::NoShow, true, &["APPT", "APPT-DNA"]),
        (PasChange::Attended, true, &["APPT"]),
        (PasChange::Withdrawn, false, &[]),
    ];
    for (change, still_there, reported) in cases {
        let w = world().await;
        let req = w.request(RequestKind::Reschedule);
        let at = w.clock.now();
        let appointment = w
            .data
            .appointments
            .iter()
            .find(|a| a.id == req.appointment)
            .unwrap()
            .clone();
        let event = PasEvent::new(
            req.appointment.clone(),
            req.patient.clone(),
            change.clone(),
            at,
            "7",
        )
        .with_snapshot(appointment.clone());
        let pas = feed(vec![event], still_there.then_some(appointment));
        let wl = Worklist::new(w.store.clone(), Arc::new(pas), w.clock.clone());
        let report = wl.sync_from_pas(at).await.unwrap();
        assert_eq!(report.resolved.len(), 1, "{change:?}");
        assert_eq!(
            report.resolved[0].state,
            RequestState::Rejected,
            "{change:?}"
        );
        // the patient did nothing: the request's resolution reports nothing, the change is
        // reported as the trust's
        let codes: Vec<_> = w
            .outbox()
            .await
            .iter()
            .map(ReportingEvent::event_code)
            .collect();
        assert_eq!(codes, reported, "{change:?}");
        let audit = w.store.audit_for_patient(&req.patient, 2).await.unwrap();
        let stale = audit
            .iter()
            .find(|a| a.action == AuditAction::RequestRejected)
            .expect("the resolution's record");
        assert_eq!(stale.detail.as_deref(), Some("stale request"), "{change:?}");
    }
}

#[tokio::test]
async fn an_event_naming_another_patient_resolves_nothing() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    let at = w.clock.now();
    let appointment = w.appointment_of(&req);
    let other = demo::nhs_number(demo::SECOND_ADULT);
    assert_ne!(other, req.patient);
    let event = PasEvent::new(
        req.appointment.clone(),
        other,
        PasChange::Cancelled {
            by: ChangeReason::Patient,
        },
        at,
        "3",
    );
    let pas = feed(vec![event], Some(appointment));
    let wl = Worklist::new(w.store.clone(), Arc::new(pas), w.clock.clone());
    let report = wl.sync_from_pas(at).await.unwrap();
    assert!(report.resolved.is_empty());
    assert_eq!(report.left_pending, 1);
    assert_eq!(
        w.store.get_request(req.id).await.unwrap().unwrap().state,
        RequestState::Pending
    );
}

#[tokio::test]
async fn a_change_delivered_twice_is_processed_once() {
    let w = world().await;
    let req = w.request(RequestKind::Cancel);
    let at = w.clock.now();
    let appointment = w.appointment_of(&req);
    let mut cancelled = appointment.clone();
    cancelled.status = AppointmentStatus::Cancelled;
    let event = PasEvent::new(
        req.appointment.clone(),
        req.patient.clone(),
        PasChange::Cancelled {
            by: ChangeReason::Hospital,
        },
        at,
        "9",
    )
    .with_snapshot(cancelled.clone());
    // the same change twice in one poll (an overlap), and again in the next poll
    let pas = Arc::new(feed(vec![event.clone(), event], Some(cancelled)));
    let wl = Worklist::new(w.store.clone(), pas, w.clock.clone());
    let first = wl.sync_from_pas(at).await.unwrap();
    assert_eq!(first.resolved.len(), 1);
    assert_eq!(first.duplicates, 1);
    let events_after_first = w.outbox().await.len();
    assert!(events_after_first > 0);
    let again = wl.sync_from_pas(first.next_since).await.unwrap();
    assert!(again.resolved.is_empty());
    assert_eq!(again.duplicates, 2);
    assert!(
        w.outbox().await.is_empty(),
        "no second set of reporting events"
    );
    let seen = w
        .store
        .last_seen(std::slice::from_ref(&req.appointment))
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].version.as_str(), seen[0].status.as_str()),
        ("9", "cancelled")
    );
}

#[tokio::test]
async fn the_trusts_own_changes_are_reported_from_the_feed_once_each() {
    let w = world().await;
    let mut since = w.clock.now();
    let id = demo::appointment_id;
    let neurology = id("second/r9n/neurology");
    let mut booked = w
        .pas
        .inspect_appointment(&id(demo::KEY_ADULT_VIDEO))
        .unwrap();
    booked.id = AppointmentId::new_random();
    booked.start += Duration::days(20);
    let booked_id = booked.id.clone();
    let portal_cancelled = id(demo::KEY_ADULT_TELEPHONE);
    type Act<'a> = Box<dyn Fn(&World) + 'a>;
    type Case<'a> = (&'a str, Act<'a>, Vec<(&'a str, &'a str)>);
    // (what the trust does in its PAS, what the feed reports: code and its Status or Reason);
    // the last case is a change the portal made itself, audited at the PAS's time.
    let cases: Vec<Case> = vec![
        (
            "a no-show",
            Box::new(|w| {
                w.pas
                    .staff_recorded(&id(demo::KEY_ADULT_DERMATOLOGY), PasChange::NoShow)
                    .unwrap();
            }),
            vec![("APPT", "noshow"), ("APPT-DNA", "")],
        ),
        (
            "an attendance",
            Box::new(|w| {
                w.pas
                    .staff_recorded(&id(demo::KEY_ADULT_VIDEO), PasChange::Attended)
                    .unwrap();
            }),
            vec![("APPT", "fulfilled")],
        ),
        (
            "a hospital cancellation",
            Box::new(|w| {
                let by = ChangeReason::Hospital;
                w.pas
                    .staff_recorded(
                        &id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED),
                        PasChange::Cancelled { by },
                    )
                    .unwrap();
            }),
            vec![("APPT", "cancelled"), ("APPT-CANC", "Hospital")],
        ),
        (
            "a new appointment",
            Box::new(|w| {
                w.pas.staff_booked(booked.clone());
            }),
            vec![("APPT", "booked")],
        ),
        (
            "a move by the hospital into a new appointment",
            Box::new(|w| {
                let start = w.clock.now() + Duration::days(40);
                w.pas.staff_rebooked(&neurology, start).unwrap();
            }),
            vec![
                ("APPT", "cancelled"),
                ("APPT", "booked"),
                ("APPT-RESCH", "Hospital"),
            ],
        ),
        (
            "a cancellation the portal made in real time (reported then)",
            Box::new(|w| {
                let by = ChangeReason::Patient;
                w.pas
                    .staff_recorded(&portal_cancelled, PasChange::Cancelled { by })
                    .unwrap();
            }),
            vec![],
        ),
    ];
    for (what, act, want) in cases {
        w.clock.advance(Duration::minutes(1));
        act(&w);
        if what.contains("the portal made") {
            let record = nhs_portal_core::store::AuditRecord {
                at: w.clock.now(),
                patient: nhs_portal_core::NhsNumber::parse(demo::ADULT).unwrap(),
                actor: "patient".into(),
                session: Some("s".into()),
                action: AuditAction::Cancelled,
                appointment: Some(portal_cancelled.clone()),
                detail: None,
            };
            w.store.append_audit(&record).await.unwrap();
        }
        let report = w.real().sync_from_pas(since).await.unwrap();
        since = report.next_since;
        // Taken for good (the clock moves on past any lease).
        let items = w
            .store
            .claim_events("test", 100, w.clock.now(), Duration::days(1))
            .await
            .unwrap();
        let ids: Vec<_> = items.iter().map(|i| i.id).collect();
        w.store.mark_delivered(&ids).await.unwrap();
        let events: Vec<_> = items.into_iter().map(|i| i.event).collect();
        let got: Vec<(&str, String)> = events
            .iter()
            .map(|e| {
                let detail = match e {
                    ReportingEvent::Appointment { status, .. } => status.fhir_code().to_owned(),
                    ReportingEvent::Cancelled { reason, .. }
                    | ReportingEvent::Rescheduled { reason, .. } => format!("{reason:?}"),
                    _ => String::new(),
                };
                (e.event_code(), detail)
            })
            .collect();
        let want: Vec<(&str, String)> = want.iter().map(|(c, d)| (*c, d.to_string())).collect();
        assert_eq!(got, want, "{what}");
        assert!(nhs_portal_core::reporting::parents_first(&events), "{what}");
        assert_eq!(report.reported, want.len(), "{what}");
        assert!(
            events.iter().all(|e| e.at() == w.clock.now()),
            "{what}: at the change's time"
        );
    }
    // The new appointment's APPT names it; the move names its replacement.
    assert!(w.pas.inspect_appointment(&booked_id).is_some());
    // Polling again from the start: every change already seen, nothing reported twice.
    let again = w.real().sync_from_pas(w.data.now).await.unwrap();
    assert_eq!(again.reported, 0);
    assert!(w.outbox().await.is_empty());
}
