//! [`FixtureBuilder`]: seeds what a full conformance run needs into a test instance of a PAS,
//! and describes it as a [`ConformanceFixture`].
//!
//! The kit cannot write to your PAS, so you give it a [`Seeder`]: three calls over whatever
//! your test instance offers (its admin API, a test hook, inserts into its test database). The
//! builder then adds two patients; nine appointments (one to cancel, one at the request-only
//! trust, a past one, two that race for slots, one for the unoffered slots, two for the trust's
//! staff to change, one to confirm attendance for); [`RACE_ROUNDS`] free slots both racing appointments are offered; and three
//! slots that must not be offered (another trust's, another specialty's, one beyond the booking
//! horizon). With a [`TrustStaff`] hook ([`FixtureBuilder::staff`]) the events check runs too.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use nhs_portal_core::request_status::RequestOutcome;
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, ConsultationMedium, NhsNumber, OdsCode,
    Organisation, Specialty, TreatmentFunctionCode,
};

use super::{
    ConformanceFixture, EventsFixture, RACE_ROUNDS, RescheduleRace, TrustAction, TrustStaff,
    UnofferedSlots,
};
use crate::{BOOKING_HORIZON_DAYS, PatientRecord, Slot};

/// Adds test data to a test instance of your PAS, for [`FixtureBuilder::seed`]. Each call
/// returns `Err` with a description when it cannot.
#[async_trait]
pub trait Seeder: Send + Sync {
    /// Adds a patient (portal access allowed, not restricted).
    async fn add_patient(&self, patient: &PatientRecord) -> Result<(), String>;
    /// Adds an appointment exactly as given: its id (what `get_appointment` must then find it
    /// by), patient, trust, specialty, status and times.
    async fn add_appointment(&self, appointment: &Appointment) -> Result<(), String>;
    /// Adds a free slot at `organisation`'s clinic for `specialty`.
    async fn add_slot(
        &self,
        organisation: &OdsCode,
        specialty: &TreatmentFunctionCode,
        slot: &Slot,
    ) -> Result<(), String>;
}

/// Seeding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seeding the conformance fixture failed at {what}: {message}")]
pub struct SeedError {
    /// What was being added.
    pub what: String,
    /// The seeder's (or the appointment builder's) description.
    pub message: String,
}

/// Seeds a full fixture into a test instance of a PAS and describes it.
///
/// The kit cannot write to your PAS, so you give it a [`Seeder`]: three calls over whatever
/// your test instance offers (its admin API, a test hook, inserts into its test database).
/// [`seed`](Self::seed) then adds two patients; nine appointments (one to cancel, one at the
/// request-only trust, a past one, two that race for slots, one for the unoffered slots, two for
/// the trust's staff to change, one to confirm attendance for, at the real-time trust); [`RACE_ROUNDS`] free slots both racing appointments are
/// offered; and three slots that must not be offered (another trust's, another specialty's, one
/// beyond the booking horizon). With a [`TrustStaff`] hook ([`FixtureBuilder::staff`]) the
/// events check runs too; without one it is skipped.
///
/// ```no_run
/// # async fn example(seeder: &dyn nhs_portal_pas::conformance::Seeder,
/// #                  pas: std::sync::Arc<dyn nhs_portal_pas::PasBackend>) {
/// use nhs_portal_core::Organisation;
/// use nhs_portal_pas::conformance::{self, FixtureBuilder};
/// let real_time = Organisation::new("RXX", "Real Time Trust").unwrap();
/// let request_only = Organisation::new("RYY", "Requests Trust").unwrap();
/// let fixture = FixtureBuilder::new(real_time, request_only)
///     .seed(seeder)
///     .await
///     .unwrap();
/// let report = conformance::run(pas, &fixture).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
#[must_use = "call `seed` to add the data"]
pub struct FixtureBuilder {
    real_time: Organisation,
    request_only: Organisation,
    specialty: Specialty,
    other_specialty: Specialty,
    patients: [NhsNumber; 3],
    now: DateTime<Utc>,
    staff: Option<Arc<dyn TrustStaff>>,
}

impl std::fmt::Debug for FixtureBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureBuilder")
            .field("real_time", &self.real_time)
            .field("request_only", &self.request_only)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

fn test_number(s: &str) -> NhsNumber {
    NhsNumber::parse(s).expect("a valid test NHS number")
}

fn specialty(code: &str, display: &str) -> Specialty {
    Specialty::new(code, display).expect("a valid Treatment Function Code")
}

impl FixtureBuilder {
    /// A builder for data at two trusts: one the PAS changes in real time, one where it only
    /// takes requests. Defaults: the test NHS numbers 9000000009 and 9000000017 (seeded) and
    /// 9000000084 (never seeded), dermatology (330) with general surgery (100) as the other
    /// specialty, now by the system clock, no staff hook.
    pub fn new(real_time_trust: Organisation, request_only_trust: Organisation) -> Self {
        Self {
            real_time: real_time_trust,
            request_only: request_only_trust,
            specialty: specialty("330", "DERMATOLOGY"),
            other_specialty: specialty("100", "GENERAL SURGERY"),
            patients: [
                test_number("9000000009"),
                test_number("9000000017"),
                test_number("9000000084"),
            ],
            now: Utc::now(),
            staff: None,
        }
    }

    /// Other patients: two to seed, one the PAS must not know.
    pub fn patients(mut self, patient: NhsNumber, other: NhsNumber, unknown: NhsNumber) -> Self {
        self.patients = [patient, other, unknown];
        self
    }

    /// Other specialties: the one the appointments are in, and one whose slots they must not get.
    pub fn specialties(mut self, specialty: Specialty, other: Specialty) -> Self {
        self.specialty = specialty;
        self.other_specialty = other;
        self
    }

    /// The time the data is laid out around (the PAS's "now").
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// The hook that makes trust-side changes, for the events check.
    pub fn staff(mut self, staff: Arc<dyn TrustStaff>) -> Self {
        self.staff = Some(staff);
        self
    }

    fn appointment(
        &self,
        patient: &NhsNumber,
        trust: &Organisation,
        days: i64,
        status: AppointmentStatus,
    ) -> Result<Appointment, SeedError> {
        let start = self.now + Duration::days(days);
        Appointment::builder()
            .patient(patient.as_str())
            .organisation(trust.ods_code.as_str(), trust.name.clone())
            .specialty(self.specialty.code.as_str(), self.specialty.display.clone())
            .status(status)
            .start(start)
            .duration(Duration::minutes(20))
            .medium(ConsultationMedium::FaceToFace)
            .location("Conformance Clinic", ["1 Test Road"])
            .build()
            .map_err(|e| SeedError {
                what: "an appointment".into(),
                message: e.to_string(),
            })
    }

    /// Adds the data through `seeder` and describes it.
    pub async fn seed(self, seeder: &dyn Seeder) -> Result<ConformanceFixture, SeedError> {
        let failed = |what: &str| {
            let what = what.to_owned();
            move |message: String| SeedError { what, message }
        };
        let [patient, other, unknown] = self.patients.clone();
        for nhs_number in [&patient, &other] {
            let record = PatientRecord {
                nhs_number: nhs_number.clone(),
                date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1).expect("a valid date"),
                portal_access: true,
                restricted: false,
            };
            seeder
                .add_patient(&record)
                .await
                .map_err(failed("a patient"))?;
        }
        let (rt, ro) = (&self.real_time, &self.request_only);
        let booked = AppointmentStatus::Booked;
        let cancellable = self.appointment(&patient, rt, 10, booked)?;
        let request_only = self.appointment(&patient, ro, 12, booked)?;
        let past = self.appointment(&patient, rt, -30, AppointmentStatus::Fulfilled)?;
        let first = self.appointment(&patient, rt, 14, booked)?;
        let second = self.appointment(&other, rt, 15, booked)?;
        let unoffered = self.appointment(&patient, rt, 20, booked)?;
        let staff_cancels = self.appointment(&patient, rt, 16, booked)?;
        let staff_moves = self.appointment(&patient, rt, 18, booked)?;
        let confirmable = self.appointment(&patient, rt, 19, booked)?;
        for a in [
            &cancellable,
            &request_only,
            &past,
            &first,
            &second,
            &unoffered,
            &staff_cancels,
            &staff_moves,
            &confirmable,
        ] {
            seeder
                .add_appointment(a)
                .await
                .map_err(failed(&format!("appointment {}", a.id)))?;
        }

        let slot = |days: i64, hours: i64| {
            let start = self.now + Duration::days(days) + Duration::hours(hours);
            Slot {
                id: format!("conformance-{}", AppointmentId::new_random()),
                start,
                end: start + Duration::minutes(20),
                location: None,
                clinician: None,
            }
        };
        let code = &self.specialty.code;
        for round in 0..RACE_ROUNDS {
            let s = slot(21, round as i64);
            seeder
                .add_slot(&rt.ods_code, code, &s)
                .await
                .map_err(failed("a free slot"))?;
        }
        let unoffered_slots = [
            (&ro.ods_code, code, slot(10, 0)),
            (&rt.ods_code, &self.other_specialty.code, slot(10, 1)),
            (&rt.ods_code, code, slot(BOOKING_HORIZON_DAYS + 7, 0)),
        ];
        let mut unoffered_ids = Vec::new();
        for (trust, specialty, s) in &unoffered_slots {
            seeder
                .add_slot(trust, specialty, s)
                .await
                .map_err(failed("an unoffered slot"))?;
            unoffered_ids.push(s.id.clone());
        }

        let mut fixture = ConformanceFixture::new(patient.clone(), other.clone(), unknown);
        fixture.cancellable = Some(cancellable.id);
        fixture.request_only = Some(request_only.id);
        fixture.past = Some(past.id);
        fixture.confirmable = Some(confirmable.id);
        fixture.reschedule_race = Some(RescheduleRace {
            first: (patient.clone(), first.id),
            second: (other, second.id),
            from: self.now,
            to: self.now + Duration::days(BOOKING_HORIZON_DAYS),
        });
        fixture.unoffered_slots = Some(UnofferedSlots {
            appointment: (patient.clone(), unoffered.id),
            slots: unoffered_ids,
        });
        fixture.events = self.staff.map(|staff| EventsFixture {
            staff,
            actions: vec![
                TrustAction {
                    patient: patient.clone(),
                    appointment: staff_cancels.id,
                    outcome: RequestOutcome::Cancelled,
                },
                TrustAction {
                    patient,
                    appointment: staff_moves.id,
                    outcome: RequestOutcome::Rescheduled {
                        replaced_by: None,
                        new_start: Some(self.now + Duration::days(30)),
                    },
                },
            ],
        });
        Ok(fixture)
    }
}
