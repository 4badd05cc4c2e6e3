//! The conformance kit against the simulated PAS with the demo data, and against deliberately
//! broken backends (to show the kit catches them).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use nhs_portal_pas::conformance::{
    self, ConformanceFixture, EventsFixture, RescheduleRace, TrustAction, TrustStaff,
    UnofferedSlots,
};
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::simulated::{SimulatedPas, SimulatedSlot};
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// The simulated PAS's stand-in for trust staff, as the events check's hook.
struct Staff(Arc<SimulatedPas>);

#[async_trait]
impl TrustStaff for Staff {
    async fn act(&self, action: &TrustAction) -> Result<(), String> {
        self.0
            .staff_acted(&action.appointment, &action.outcome)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Free slots the adult's dermatology appointment must not get, added to the PAS: the
/// request-only trust's, another specialty's at its own trust, and one beyond the horizon.
fn add_unoffered_slots(data: &DemoData, pas: &SimulatedPas) -> Vec<String> {
    let derm = data.appointment(demo::KEY_ADULT_DERMATOLOGY).unwrap();
    let other_specialty = nhs_portal_core::TreatmentFunctionCode::parse("502").unwrap();
    let cases = [
        (
            "unoffered-other-trust",
            demo::request_only_trust().ods_code,
            derm.specialty.code,
            10,
        ),
        (
            "unoffered-other-specialty",
            derm.organisation.ods_code.clone(),
            other_specialty,
            10,
        ),
        (
            "unoffered-beyond-horizon",
            derm.organisation.ods_code.clone(),
            derm.specialty.code,
            nhs_portal_pas::BOOKING_HORIZON_DAYS + 7,
        ),
    ];
    cases
        .into_iter()
        .map(|(id, ods_code, specialty, days)| {
            let start = data.now + Duration::days(days);
            pas.add_slot(SimulatedSlot {
                ods_code,
                specialty,
                slot: Slot {
                    id: id.into(),
                    start,
                    end: start + Duration::minutes(20),
                    location: None,
                    clinician: None,
                },
            });
            id.to_owned()
        })
        .collect()
}

/// A future booked appointment at the real-time trust (which offers confirm attendance) for the
/// confirm attendance check, added to the PAS.
fn add_confirmable(data: &DemoData, pas: &SimulatedPas) -> AppointmentId {
    let mut a = data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap()
        .clone();
    a.id = AppointmentId::parse("conformance-confirm").unwrap();
    a.start = data.now + Duration::days(3);
    a.end = Some(a.start + Duration::minutes(20));
    pas.add_appointment(a.clone());
    a.id
}

fn fixture(data: &DemoData, pas: &Arc<SimulatedPas>) -> ConformanceFixture {
    let adult = demo::nhs_number(demo::ADULT);
    let mut f = ConformanceFixture::new(
        adult.clone(),
        demo::nhs_number(demo::SECOND_ADULT),
        NhsNumber::parse("9000000084").unwrap(),
    );
    f.cancellable = Some(demo::appointment_id(demo::KEY_ADULT_TELEPHONE));
    f.request_only = Some(demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED));
    f.past = Some(demo::appointment_id(demo::KEY_ADULT_FULFILLED));
    f.confirmable = Some(add_confirmable(data, pas));
    f.unoffered_slots = Some(UnofferedSlots {
        appointment: (
            adult.clone(),
            demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY),
        ),
        slots: add_unoffered_slots(data, pas),
    });
    f.reschedule_race = Some(RescheduleRace {
        first: (adult, demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY)),
        second: (
            demo::nhs_number(demo::P5_PATIENT),
            demo::appointment_id("p5/r9n/dermatology"),
        ),
        from: data.now,
        to: data.now + Duration::days(60),
    });
    let action = |key: &str, outcome| TrustAction {
        patient: demo::nhs_number(demo::ADULT),
        appointment: demo::appointment_id(key),
        outcome,
    };
    f.events = Some(EventsFixture {
        staff: Arc::new(Staff(pas.clone())),
        actions: vec![
            action(demo::KEY_ADULT_VIDEO, RequestOutcome::Cancelled),
            action(
                demo::KEY_ADULT_PENDING_RESCHEDULE,
                RequestOutcome::Rescheduled {
                    replaced_by: None,
                    new_start: Some(data.now + Duration::days(20)),
                },
            ),
            action(
                demo::KEY_ADULT_PENDING_CANCELLATION,
                RequestOutcome::Rejected,
            ),
        ],
    });
    f
}

fn demo_pas() -> (DemoData, Arc<SimulatedPas>) {
    let data = DemoData::build(Utc::now());
    let pas = Arc::new(data.simulated_pas(Arc::new(SystemClock)));
    (data, pas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_pas_conforms() {
    let (data, pas) = demo_pas();
    let report = conformance::run(pas.clone(), &fixture(&data, &pas))
        .await
        .unwrap();
    assert_eq!(report.passed(), 9, "{report}");
    assert!(report.skipped().is_empty());
}

#[tokio::test]
async fn missing_fixture_parts_are_skipped_not_passed() {
    let (data, pas) = demo_pas();
    let mut f = fixture(&data, &pas);
    f.cancellable = None;
    f.reschedule_race = None;
    f.past = None;
    f.events = None;
    f.unoffered_slots = None;
    f.confirmable = None;
    let report = conformance::run(pas.clone(), &f).await.unwrap();
    assert_eq!(
        report.skipped(),
        [
            "idempotent cancel",
            "no double booking",
            "past stays past",
            "offered slots only",
            "events",
            "confirm attendance"
        ]
    );
    assert_eq!(report.passed(), 3);
}

/// The race needs two threads: on a current-thread runtime the check fails (by name) rather
/// than passing on a race that never happened.
#[tokio::test]
async fn the_race_refuses_a_current_thread_runtime() {
    let (data, pas) = demo_pas();
    let err = conformance::run(pas.clone(), &fixture(&data, &pas))
        .await
        .unwrap_err();
    assert_eq!(err.check, "no double booking", "{err}");
    assert!(err.message.contains("multi-threaded"), "{err}");
}

/// Ways to break the contract on purpose.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    LeaksOtherPatients,
    /// The natural first version: `capabilities` and `cancel` act on the appointment they are
    /// given without re-reading whose it is (a forged `patient` field is believed).
    TrustsTheGivenPatient,
    CancelNotIdempotent,
    DoubleBooks,
    /// Books in two steps ("is the slot free?", then "book it") with nothing holding the slot
    /// in between: only two calls that really overlap both get it. Taking turns, it is correct.
    ChecksThenBooks,
    IgnoresRequestOnly,
    /// `poll_events` always answers an empty list.
    NoEvents,
    /// The newest event is missing.
    DropsAnEvent,
    /// The oldest change is reported twice, as two different changes (another version).
    DuplicatesAnEvent,
    /// Newest first.
    EventsOutOfOrder,
    /// Everything, whatever `since` says.
    IgnoresSince,
    /// Books any free slot it is given (another trust's, another specialty's, beyond the
    /// horizon), though it offers only the right ones.
    BooksUnofferedSlots,
    /// `confirm_attendance` answers the appointment confirmed but keeps nothing.
    ForgetsConfirmations,
    /// `confirm_attendance` confirms anything: a cancelled or past appointment too.
    ConfirmsAnything,
    /// `confirm_attendance` is not offered at all (the trait's default), though the trust
    /// offers it.
    NeverConfirms,
}

struct Broken {
    inner: Arc<SimulatedPas>,
    bug: Bug,
    /// The fixture's unoffered slots (what [`Bug::BooksUnofferedSlots`] books anyway).
    unoffered: Vec<String>,
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
        if self.bug == Bug::TrustsTheGivenPatient
            && let Some(stored) = self.inner.inspect_appointment(&a.id)
        {
            return self.inner.capabilities(&stored).await;
        }
        let caps = self.inner.capabilities(a).await?;
        if self.bug == Bug::IgnoresRequestOnly {
            return Ok(Capabilities::REAL_TIME);
        }
        Ok(caps)
    }
    async fn cancel(&self, a: &Appointment, r: &CancelReason) -> Result<Appointment, PasError> {
        if self.bug == Bug::TrustsTheGivenPatient
            && let Some(stored) = self.inner.inspect_appointment(&a.id)
        {
            return self.inner.cancel(&stored, r).await;
        }
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
            return Err(PasError::InvalidState("already cancelled".into()));
        }
        Ok(out)
    }
    async fn confirm_attendance(&self, a: &Appointment) -> Result<Appointment, PasError> {
        match self.bug {
            Bug::NeverConfirms => Err(PasError::NotSupported),
            // Every check right, the answer right, but nothing written.
            Bug::ForgetsConfirmations => {
                if !self.inner.capabilities(a).await?.confirm_attendance {
                    return Err(PasError::NotSupported);
                }
                let mut got = self
                    .inner
                    .get_appointment(&a.patient, &a.id)
                    .await?
                    .ok_or(PasError::NotFound)?;
                if got.status != nhs_portal_core::AppointmentStatus::Booked
                    || !got.is_future(Utc::now())
                {
                    return Err(PasError::InvalidState("not booked".into()));
                }
                got.request_status = Some(nhs_portal_core::RequestStatus::ConfirmedAttendance);
                Ok(got)
            }
            Bug::ConfirmsAnything => match self.inner.confirm_attendance(a).await {
                Err(PasError::InvalidState(_)) => {
                    let mut got = a.clone();
                    got.request_status = Some(nhs_portal_core::RequestStatus::ConfirmedAttendance);
                    Ok(got)
                }
                other => other,
            },
            _ => self.inner.confirm_attendance(a).await,
        }
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
        if self.bug == Bug::ChecksThenBooks {
            let now = Utc::now();
            let wanted = self
                .inner
                .find_slots(a, now - Duration::days(400), now + Duration::days(400))
                .await?
                .into_iter()
                .find(|s| s.id == slot);
            // The PAS's round trip between the check and the booking (blocking: no await).
            std::thread::sleep(StdDuration::from_millis(5));
            return match (self.inner.reschedule(a, slot).await, wanted) {
                // What a PAS that does not hold the slot would have done: booked it again.
                (Err(PasError::SlotUnavailable), Some(s)) => {
                    let mut moved = a.clone();
                    moved.start = s.start;
                    Ok(moved)
                }
                (other, _) => other,
            };
        }
        match self.inner.reschedule(a, slot).await {
            Err(PasError::SlotUnavailable)
                if self.bug == Bug::DoubleBooks && !slot.starts_with("no-such") =>
            {
                Ok(a.clone())
            }
            Err(PasError::SlotUnavailable)
                if self.bug == Bug::BooksUnofferedSlots
                    && self.unoffered.iter().any(|s| s == slot) =>
            {
                let mut moved = a.clone();
                moved.start += Duration::days(1);
                Ok(moved)
            }
            other => other,
        }
    }
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        let mut events = self.inner.poll_events(since).await?;
        match self.bug {
            Bug::NoEvents => events.clear(),
            Bug::DropsAnEvent => {
                events.pop();
            }
            Bug::DuplicatesAnEvent => {
                if let Some(mut first) = events.first().cloned() {
                    first.version.push_str("-again");
                    events.insert(0, first);
                }
            }
            Bug::EventsOutOfOrder => events.reverse(),
            Bug::IgnoresSince => events = self.inner.poll_events(DateTime::UNIX_EPOCH).await?,
            _ => {}
        }
        Ok(events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_catches_broken_backends() {
    // The rule each bug breaks, and the method the failure names.
    let cases = [
        (Bug::LeaksOtherPatients, "own data only", "get_appointment"),
        (Bug::TrustsTheGivenPatient, "own data only", "capabilities"),
        (Bug::CancelNotIdempotent, "idempotent cancel", "cancel"),
        (Bug::DoubleBooks, "no double booking", "reschedule"),
        (Bug::ChecksThenBooks, "no double booking", "reschedule"),
        (
            Bug::IgnoresRequestOnly,
            "capabilities honoured",
            "capabilities",
        ),
        (Bug::NoEvents, "events", "poll_events"),
        (Bug::DropsAnEvent, "events", "poll_events"),
        (Bug::DuplicatesAnEvent, "events", "poll_events"),
        (Bug::EventsOutOfOrder, "events", "poll_events"),
        (Bug::IgnoresSince, "events", "poll_events"),
        (Bug::BooksUnofferedSlots, "offered slots only", "reschedule"),
        (
            Bug::ForgetsConfirmations,
            "confirm attendance",
            "get_appointment",
        ),
        (
            Bug::ConfirmsAnything,
            "confirm attendance",
            "confirm_attendance",
        ),
        (
            Bug::NeverConfirms,
            "confirm attendance",
            "confirm_attendance",
        ),
    ];
    for (bug, check, method) in cases {
        let (data, inner) = demo_pas();
        let f = fixture(&data, &inner);
        let unoffered = f.unoffered_slots.as_ref().unwrap().slots.clone();
        let broken = Broken {
            inner,
            bug,
            unoffered,
        };
        let err = conformance::run(broken, &f).await.unwrap_err();
        assert_eq!((err.check, err.method), (check, method), "{bug:?}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{check}`")) && text.contains(&format!("PasBackend::{method}")),
            "{text}"
        );
    }
}

/// Taking turns, the check-then-book backend is right every time: only a real race shows its
/// bug, which is why the kit races on two threads.
#[tokio::test]
async fn the_check_then_book_backend_is_right_when_calls_take_turns() {
    let (data, inner) = demo_pas();
    let broken = Broken {
        inner,
        bug: Bug::ChecksThenBooks,
        unoffered: vec![],
    };
    let a = broken
        .get_appointment(
            &demo::nhs_number(demo::ADULT),
            &demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY),
        )
        .await
        .unwrap()
        .unwrap();
    let b = broken
        .get_appointment(
            &demo::nhs_number(demo::P5_PATIENT),
            &demo::appointment_id("p5/r9n/dermatology"),
        )
        .await
        .unwrap()
        .unwrap();
    let slots = broken
        .find_slots(&a, data.now, data.now + Duration::days(60))
        .await
        .unwrap();
    for slot in slots.iter().take(5) {
        let (ra, rb) = tokio::join!(
            broken.reschedule(&a, &slot.id),
            broken.reschedule(&b, &slot.id)
        );
        assert!(ra.is_ok(), "{ra:?}");
        assert!(matches!(rb, Err(PasError::SlotUnavailable)), "{rb:?}");
    }
}
