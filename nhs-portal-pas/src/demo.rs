//! The demo data set: two fictional trusts, test patients and their appointments, for the
//! [`SimulatedPas`]. **Fictional data for demos and tests.**
//!
//! Everything is built relative to a given `now`, so there are always future and past
//! appointments, and UK wall-clock times ("9:40am") are converted to UTC with the real
//! Europe/London rules. Appointment ids look like random UUIDs (version 4 layout) but are derived
//! from a fixed seed and a name with SHA-256, so they are the same after every restart and cannot
//! be worked out from an NHS number or by counting.
//!
//! The trusts, their ODS codes, names, places, clinicians and postcodes are made up; the NHS
//! numbers are the well-known test numbers (valid check digits) and the specialties are real
//! Treatment Function Codes.
//!
//! | Patient | Who |
//! |---|---|
//! | [`ADULT`] 9000000009 | adult, P9: the main demo patient, appointments at both trusts in every state |
//! | [`SECOND_ADULT`] 9000000017 | adult, P9: own appointments at both trusts (never visible to 9000000009) |
//! | [`UNDER_16`] 9000000025 | a child (9 years old on `now`), with appointments |
//! | [`P5_PATIENT`] 9000000033 | adult whose NHS login is only P5 (identity not fully verified) |
//! | [`NO_PORTAL_ACCESS`] 9000000041 | flagged by the trust as not allowed portal access |
//! | [`RESTRICTED`] 9000000068 | PDS restricted (sensitive) record |
//! | [`NO_APPOINTMENTS`] 9000000076 | adult known to the PAS, with no appointments |
//!
//! ```
//! use std::sync::Arc;
//! use chrono::Utc;
//! use nhs_portal_core::clock::SystemClock;
//! use nhs_portal_core::store::memory::MemoryStore;
//! use nhs_portal_pas::{demo, PasBackend};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let clock = Arc::new(SystemClock);
//! let data = demo::DemoData::build(Utc::now());
//! let pas = data.simulated_pas(clock);
//! let store = MemoryStore::new();
//! demo::seed_store(&store, &data).await.unwrap();
//! let mine = pas.list_appointments(&demo::nhs_number(demo::ADULT)).await.unwrap();
//! assert!(mine.len() >= 8);
//! # });
//! ```

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{Capabilities, RequestKind};
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, RequestStore, StoreError, Submitted,
};
use nhs_portal_core::uk_time::{self, UkLocal};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium,
    Identifier, Location, NhsNumber, OdsCode, Organisation, Priority, Specialty,
    TreatmentFunctionCode,
};
use sha2::{Digest, Sha256};

use crate::simulated::{SimulatedPas, SimulatedSlot, SimulatedTrust};
use crate::{PatientRecord, Slot};

/// The fictional real-time trust's ODS code (cancels and reschedules at once, with free slots).
pub const REAL_TIME_TRUST_ODS: &str = "R9N";
/// The fictional real-time trust's name.
pub const REAL_TIME_TRUST_NAME: &str = "Northfield Teaching Hospitals NHS Foundation Trust";
/// The fictional request-only trust's ODS code (its staff act on patients' requests).
pub const REQUEST_ONLY_TRUST_ODS: &str = "R9E";
/// The fictional request-only trust's name.
pub const REQUEST_ONLY_TRUST_NAME: &str = "Eastmere and Ashby Hospitals NHS Trust";

/// The main demo patient: adult, P9, appointments at both trusts in every state.
pub const ADULT: &str = "9000000009";
/// A second adult (P9) with appointments at both trusts.
pub const SECOND_ADULT: &str = "9000000017";
/// A patient under 16 (9 years old on the `now` the data is built for).
pub const UNDER_16: &str = "9000000025";
/// A patient whose NHS login identity is only P5 (the portal must not show them appointments).
pub const P5_PATIENT: &str = "9000000033";
/// A patient the trust flagged as not allowed portal access (PCA rule SRCBR1a).
pub const NO_PORTAL_ACCESS: &str = "9000000041";
/// A PDS restricted patient (PCA rule SRCBR1b).
pub const RESTRICTED: &str = "9000000068";
/// An adult the PAS knows, with no appointments.
pub const NO_APPOINTMENTS: &str = "9000000076";

/// Key of [`ADULT`]'s future real-time appointment (dermatology, in person).
pub const KEY_ADULT_DERMATOLOGY: &str = "adult/r9n/dermatology";
/// Key of [`ADULT`]'s future video consultation at the real-time trust (in BST).
pub const KEY_ADULT_VIDEO: &str = "adult/r9n/orthopaedics-video";
/// Key of [`ADULT`]'s future telephone consultation at the real-time trust (in GMT).
pub const KEY_ADULT_TELEPHONE: &str = "adult/r9n/urology-telephone";
/// Key of [`ADULT`]'s cancelled appointment.
pub const KEY_ADULT_CANCELLED: &str = "adult/r9n/ent-cancelled";
/// Key of [`ADULT`]'s fulfilled (attended) past appointment.
pub const KEY_ADULT_FULFILLED: &str = "adult/r9n/cardiology-fulfilled";
/// Key of [`ADULT`]'s missed (no-show) past appointment.
pub const KEY_ADULT_NO_SHOW: &str = "adult/r9n/respiratory-noshow";
/// Key of [`ADULT`]'s future booked appointment at the request-only trust.
pub const KEY_ADULT_REQUEST_ONLY_BOOKED: &str = "adult/r9e/ophthalmology";
/// Key of [`ADULT`]'s appointment with a pending cancellation request (request-only trust).
pub const KEY_ADULT_PENDING_CANCELLATION: &str = "adult/r9e/gastro-pending-cancellation";
/// Key of [`ADULT`]'s appointment with a pending reschedule request (request-only trust).
pub const KEY_ADULT_PENDING_RESCHEDULE: &str = "adult/r9e/rheumatology-pending-reschedule";

/// The fixed seed behind the demo ids. Changing it changes every demo id.
const SEED: &str = "nhs-portal demo data v1";

/// A stable, random-looking UUID (version 4 layout) from the demo seed and a name.
pub fn stable_uuid(name: &str) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(SEED.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The demo appointment id for a key such as [`KEY_ADULT_DERMATOLOGY`]: the same on every run.
///
/// ```
/// use nhs_portal_pas::demo;
/// let a = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
/// assert_eq!(a, demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY));
/// assert_eq!(a.as_str().len(), 36);
/// ```
pub fn appointment_id(key: &str) -> AppointmentId {
    AppointmentId::parse(&stable_uuid(&format!("appointment:{key}")).to_string())
        .expect("a UUID is a valid appointment id")
}

/// Parses one of this module's NHS number constants.
///
/// # Panics
/// Only if given something other than a valid NHS number; the constants here all are (tested).
pub fn nhs_number(constant: &str) -> NhsNumber {
    NhsNumber::parse(constant).expect("demo NHS numbers are valid")
}

/// The fictional real-time trust.
pub fn real_time_trust() -> Organisation {
    Organisation {
        ods_code: OdsCode::parse(REAL_TIME_TRUST_ODS).expect("valid ODS code"),
        name: REAL_TIME_TRUST_NAME.into(),
    }
}

/// The fictional request-only trust.
pub fn request_only_trust() -> Organisation {
    Organisation {
        ods_code: OdsCode::parse(REQUEST_ONLY_TRUST_ODS).expect("valid ODS code"),
        name: REQUEST_ONLY_TRUST_NAME.into(),
    }
}

/// How far NHS login verified a test patient's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityLevel {
    /// High level of verification (photo ID checked): may see appointments.
    P9,
    /// Medium level: may not.
    P5,
}

impl IdentityLevel {
    /// The NHS login `identity_proofing_level` claim value.
    pub fn claim(self) -> &'static str {
        match self {
            Self::P9 => "P9",
            Self::P5 => "P5",
        }
    }
}

/// A test patient: the PAS record plus what an NHS login simulator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPatient {
    /// The PAS record (NHS number, date of birth, access flags).
    pub record: PatientRecord,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// NHS login identity level.
    pub identity_level: IdentityLevel,
    /// A one-line description for pickers ("Adult with appointments at both trusts").
    pub description: String,
}

/// The whole demo data set, built for one `now`.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// The instant the data was built for.
    pub now: DateTime<Utc>,
    /// The two trusts.
    pub trusts: Vec<SimulatedTrust>,
    /// The test patients.
    pub patients: Vec<DemoPatient>,
    /// Every appointment, as the PAS holds it (no request statuses: those are the store's).
    pub appointments: Vec<Appointment>,
    /// Free slots at the real-time trust.
    pub slots: Vec<SimulatedSlot>,
    /// The pending requests the portal's store must hold (see [`seed_store`]).
    pub requests: Vec<PatientRequest>,
}

struct Place {
    name: &'static str,
    address: &'static [&'static str],
}

const NORTHFIELD_OPD: Place = Place {
    name: "Northfield General Hospital Outpatients",
    address: &[
        "Northfield General Hospital",
        "Infirmary Road",
        "Northfield",
        "NF1 4RS",
    ],
};
const ASHGROVE_CDC: Place = Place {
    name: "Ashgrove Community Diagnostic Centre",
    address: &[
        "Unit 4, Ashgrove Retail Park",
        "Ashgrove Way",
        "Northfield",
        "NF6 2LT",
    ],
};
const EASTMERE_EYE: Place = Place {
    name: "Eastmere Royal Infirmary Eye Clinic",
    address: &[
        "Eastmere Royal Infirmary",
        "Quayside Lane",
        "Eastmere",
        "EM3 8JD",
    ],
};
const ASHBY_OPD: Place = Place {
    name: "Ashby Hospital Outpatients Clinic C",
    address: &[
        "Ashby Hospital",
        "Ladybridge Road",
        "Ashby-on-Mere",
        "EM9 1QA",
    ],
};

/// Real Treatment Function Codes with their Data Dictionary names, as (code, DISPLAY, title).
const SPECIALTIES: &[(&str, &str, &str)] = &[
    ("100", "GENERAL SURGERY", "General surgery"),
    ("101", "UROLOGY", "Urology"),
    ("110", "TRAUMA AND ORTHOPAEDICS", "Trauma and orthopaedics"),
    ("120", "EAR NOSE AND THROAT", "Ear, nose and throat"),
    ("130", "OPHTHALMOLOGY", "Ophthalmology"),
    ("171", "PAEDIATRIC SURGERY", "Paediatric surgery"),
    (
        "300",
        "GENERAL INTERNAL MEDICINE",
        "General internal medicine",
    ),
    ("301", "GASTROENTEROLOGY", "Gastroenterology"),
    ("320", "CARDIOLOGY", "Cardiology"),
    ("330", "DERMATOLOGY", "Dermatology"),
    ("340", "RESPIRATORY MEDICINE", "Respiratory medicine"),
    ("400", "NEUROLOGY", "Neurology"),
    ("410", "RHEUMATOLOGY", "Rheumatology"),
    ("420", "PAEDIATRICS", "Paediatrics"),
    ("502", "GYNAECOLOGY", "Gynaecology"),
    ("650", "PHYSIOTHERAPY", "Physiotherapy"),
];

fn specialty(code: &str) -> (Specialty, &'static str) {
    let (c, display, title) = SPECIALTIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .copied()
        .expect("demo specialty listed");
    (
        Specialty {
            code: TreatmentFunctionCode::parse(c).expect("three digits"),
            display: display.into(),
        },
        title,
    )
}

/// The UK wall-clock time `hour:minute` on the UK date `days` after `now`'s, as UTC.
fn uk_at(now: DateTime<Utc>, days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    let date = uk_time::uk_date(now) + Duration::days(days);
    let local = date
        .and_hms_opt(hour, minute, 0)
        .expect("valid wall-clock time");
    match uk_time::from_uk_local(local) {
        UkLocal::Exact(t) => t,
        UkLocal::Ambiguous { earliest, .. } => earliest,
        // Only 1am to 2am on the last Sunday of March; demo times are in the day, but be safe.
        UkLocal::Gap => match uk_time::from_uk_local(local + Duration::hours(1)) {
            UkLocal::Exact(t) | UkLocal::Ambiguous { earliest: t, .. } => t,
            UkLocal::Gap => now + Duration::days(days),
        },
    }
}

/// The first weekday at least `min_days` after `now` whose 10am falls in British Summer Time
/// (`bst`) or in GMT (`!bst`).
fn first_day_in(now: DateTime<Utc>, min_days: i64, bst: bool) -> i64 {
    (min_days..min_days + 400)
        .find(|&d| {
            let t = uk_at(now, d, 10, 0);
            let weekday = uk_time::uk_date(t).weekday();
            (uk_time::zone_abbreviation(t) == "BST") == bst
                && !matches!(weekday, Weekday::Sat | Weekday::Sun)
        })
        .unwrap_or(min_days)
}

/// Moves a day offset forward to a weekday (clinics run Monday to Friday).
fn weekday(now: DateTime<Utc>, days: i64) -> i64 {
    (days..days + 7)
        .find(|&d| {
            !matches!(
                uk_time::uk_date(uk_at(now, d, 12, 0)).weekday(),
                Weekday::Sat | Weekday::Sun
            )
        })
        .unwrap_or(days)
}

struct Spec {
    key: &'static str,
    patient: &'static str,
    trust: Organisation,
    status: AppointmentStatus,
    tfc: &'static str,
    days: i64,
    time: (u32, u32),
    minutes: i64,
    medium: ConsultationMedium,
    priority: Option<Priority>,
    place: Option<&'static Place>,
    clinician: Option<(&'static str, Option<&'static str>)>,
    kind: AppointmentType,
    /// Overrides the "{Specialty} appointment" title.
    description: Option<&'static str>,
}

fn pas_identifier(trust: &Organisation, key: &str) -> Identifier {
    let n = stable_uuid(&format!("pas-id:{key}")).as_u128() % 10_000_000;
    if trust.ods_code.as_str() == REAL_TIME_TRUST_ODS {
        Identifier {
            system: "https://pas.northfield-teaching.example/fhir/Appointment".into(),
            value: format!("NTH{n:07}"),
        }
    } else {
        Identifier {
            system: "https://pas.eastmere-ashby.example/fhir/Appointment".into(),
            value: format!("EAH-{n:07}"),
        }
    }
}

fn build_appointment(now: DateTime<Utc>, s: &Spec) -> Appointment {
    let (specialty, title) = specialty(s.tfc);
    let start = uk_at(now, s.days, s.time.0, s.time.1);
    // Overnight stays are discharged at 11am; shorter ones (day cases) end the same day.
    let end = if s.kind == AppointmentType::Inpatient && s.minutes >= 24 * 60 {
        uk_at(now, s.days + s.minutes / (24 * 60), 11, 0)
    } else {
        start + Duration::minutes(s.minutes)
    };
    let end = Some(end);
    let description = match (s.description, s.kind) {
        (Some(d), _) => d.to_owned(),
        (None, AppointmentType::Inpatient) => format!("{title} admission"),
        (None, _) => format!("{title} appointment"),
    };
    Appointment {
        id: appointment_id(s.key),
        patient: nhs_number(s.patient),
        status: s.status,
        request_status: None,
        description,
        specialty,
        start,
        end,
        medium: s.medium,
        priority: s.priority,
        location: s.place.map(|p| Location {
            name: p.name.into(),
            address: p.address.iter().map(|l| (*l).into()).collect(),
        }),
        clinician: s.clinician.map(|(name, sds)| Clinician {
            name: name.into(),
            sds_user_id: sds.map(Into::into),
        }),
        organisation: s.trust.clone(),
        appointment_type: s.kind,
        identifiers: vec![pas_identifier(&s.trust, s.key)],
    }
}

impl DemoData {
    /// Builds the data set for `now`.
    pub fn build(now: DateTime<Utc>) -> Self {
        use AppointmentStatus::*;
        use ConsultationMedium::*;
        let rt = real_time_trust();
        let ro = request_only_trust();
        let bst_day = first_day_in(now, 20, true);
        let gmt_day = first_day_in(now, 10, false);
        let base = |key, patient, trust: &Organisation, tfc, days| Spec {
            key,
            patient,
            trust: trust.clone(),
            status: Booked,
            tfc,
            days: weekday(now, days),
            time: (9, 40),
            minutes: 20,
            medium: FaceToFace,
            priority: Some(Priority::Routine),
            place: Some(&NORTHFIELD_OPD),
            clinician: None,
            kind: AppointmentType::Outpatient,
            description: None,
        };
        let specs = vec![
            // 9000000009 at the real-time trust
            Spec {
                priority: Some(Priority::TwoWeekWait),
                clinician: Some(("Dr Amira Shah", Some("555123456789"))),
                ..base(KEY_ADULT_DERMATOLOGY, ADULT, &rt, "330", 14)
            },
            Spec {
                days: bst_day,
                time: (14, 15),
                medium: Video,
                place: None,
                clinician: Some(("Mr Tomasz Kowalski", None)),
                ..base(KEY_ADULT_VIDEO, ADULT, &rt, "110", 0)
            },
            Spec {
                days: gmt_day,
                time: (11, 0),
                minutes: 15,
                medium: Telephone,
                place: None,
                clinician: Some(("Ms Rebecca Holt", None)),
                ..base(KEY_ADULT_TELEPHONE, ADULT, &rt, "101", 0)
            },
            Spec {
                status: Cancelled,
                time: (10, 30),
                clinician: Some(("Mr Rhys Pritchard", None)),
                ..base(KEY_ADULT_CANCELLED, ADULT, &rt, "120", 21)
            },
            Spec {
                status: Fulfilled,
                time: (15, 20),
                minutes: 30,
                place: Some(&ASHGROVE_CDC),
                clinician: Some(("Dr Kwame Mensah", None)),
                ..base(KEY_ADULT_FULFILLED, ADULT, &rt, "320", -40)
            },
            Spec {
                status: NoShow,
                time: (8, 50),
                clinician: Some(("Dr Fiona MacLeod", None)),
                ..base(KEY_ADULT_NO_SHOW, ADULT, &rt, "340", -19)
            },
            // 9000000009 at the request-only trust
            Spec {
                place: Some(&EASTMERE_EYE),
                clinician: Some(("Dr Chiara Bellini", None)),
                time: (13, 10),
                ..base(KEY_ADULT_REQUEST_ONLY_BOOKED, ADULT, &ro, "130", 35)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                priority: Some(Priority::Urgent),
                clinician: Some(("Dr Imran Qureshi", None)),
                ..base(KEY_ADULT_PENDING_CANCELLATION, ADULT, &ro, "301", 18)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                time: (16, 0),
                clinician: Some(("Dr Helen Park", None)),
                ..base(KEY_ADULT_PENDING_RESCHEDULE, ADULT, &ro, "410", 25)
            },
            Spec {
                status: Fulfilled,
                place: Some(&ASHBY_OPD),
                minutes: 45,
                clinician: Some(("Ms Jo Whitlock", None)),
                ..base("adult/r9e/physio-fulfilled", ADULT, &ro, "650", -60)
            },
            // 9000000017
            Spec {
                clinician: Some(("Dr Samuel Adeyemi", None)),
                time: (10, 0),
                ..base("second/r9n/neurology", SECOND_ADULT, &rt, "400", 12)
            },
            Spec {
                time: (7, 30),
                minutes: 3 * 24 * 60,
                kind: AppointmentType::Inpatient,
                clinician: Some(("Mr Tomasz Kowalski", None)),
                ..base(
                    "second/r9n/orthopaedics-admission",
                    SECOND_ADULT,
                    &rt,
                    "110",
                    45,
                )
            },
            Spec {
                status: Fulfilled,
                clinician: Some(("Ms Priya Desai", None)),
                ..base(
                    "second/r9n/surgery-fulfilled",
                    SECOND_ADULT,
                    &rt,
                    "100",
                    -30,
                )
            },
            Spec {
                time: (7, 30),
                minutes: 8 * 60,
                kind: AppointmentType::Inpatient,
                clinician: Some(("Ms Rebecca Holt", None)),
                ..base("second/r9n/urology-day-case", SECOND_ADULT, &rt, "101", 22)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                time: (14, 0),
                minutes: 45,
                description: Some("Pre-assessment appointment"),
                ..base("second/r9e/pre-assessment", SECOND_ADULT, &ro, "100", 8)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                time: (11, 45),
                clinician: Some(("Dr Eleanor Vance", None)),
                ..base("second/r9e/gynaecology", SECOND_ADULT, &ro, "502", 30)
            },
            // the child
            Spec {
                clinician: Some(("Dr Nadia Hussain", None)),
                time: (15, 30),
                ..base("child/r9n/paediatrics", UNDER_16, &rt, "420", 16)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                clinician: Some(("Miss Laura Brennan", None)),
                ..base("child/r9e/paediatric-surgery", UNDER_16, &ro, "171", 40)
            },
            // the others
            Spec {
                clinician: Some(("Dr Amira Shah", Some("555123456789"))),
                ..base("p5/r9n/dermatology", P5_PATIENT, &rt, "330", 9)
            },
            Spec {
                place: Some(&ASHGROVE_CDC),
                ..base("no-access/r9n/cardiology", NO_PORTAL_ACCESS, &rt, "320", 20)
            },
            Spec {
                place: Some(&ASHBY_OPD),
                ..base("restricted/r9e/medicine", RESTRICTED, &ro, "300", 15)
            },
        ];
        let appointments: Vec<Appointment> =
            specs.iter().map(|s| build_appointment(now, s)).collect();

        let slots = build_slots(now, &rt, &appointments);
        let patients = build_patients(now);
        let trusts = vec![
            SimulatedTrust {
                organisation: rt,
                capabilities: Capabilities::REAL_TIME,
            },
            SimulatedTrust {
                organisation: ro,
                capabilities: Capabilities::REQUEST_ONLY,
            },
        ];
        let requests = build_requests(now, &appointments);
        Self {
            now,
            trusts,
            patients,
            appointments,
            slots,
            requests,
        }
    }

    /// A [`SimulatedPas`] holding this data, reading the time from `clock`.
    pub fn simulated_pas(&self, clock: Arc<dyn Clock>) -> SimulatedPas {
        let pas = SimulatedPas::new(clock);
        for t in &self.trusts {
            pas.add_trust(t.clone());
        }
        for p in &self.patients {
            pas.add_patient(p.record.clone());
        }
        for a in &self.appointments {
            pas.add_appointment(a.clone());
        }
        for s in &self.slots {
            pas.add_slot(s.clone());
        }
        pas
    }

    /// One appointment by key (such as [`KEY_ADULT_DERMATOLOGY`]), as the PAS holds it.
    pub fn appointment(&self, key: &str) -> Option<&Appointment> {
        let id = appointment_id(key);
        self.appointments.iter().find(|a| a.id == id)
    }

    /// One test patient.
    pub fn patient(&self, nhs_number: &str) -> Option<&DemoPatient> {
        self.patients
            .iter()
            .find(|p| p.record.nhs_number.as_str() == nhs_number)
    }
}

/// NHS number, given name, family name, date of birth, portal access, restricted, level, description.
type PatientRow = (
    &'static str,
    &'static str,
    &'static str,
    NaiveDate,
    bool,
    bool,
    IdentityLevel,
    &'static str,
);

fn build_patients(now: DateTime<Utc>) -> Vec<DemoPatient> {
    let today = uk_time::uk_date(now);
    let child_dob = today
        .checked_sub_months(chrono::Months::new(9 * 12 + 3))
        .unwrap_or(today);
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    let rows: [PatientRow; 7] = [
        (
            ADULT,
            "Sarah",
            "Whitfield",
            date(1968, 4, 12),
            true,
            false,
            IdentityLevel::P9,
            "Adult with appointments at both trusts, in every state",
        ),
        (
            SECOND_ADULT,
            "David",
            "Okafor",
            date(1985, 11, 2),
            true,
            false,
            IdentityLevel::P9,
            "Adult with appointments at both trusts",
        ),
        (
            UNDER_16,
            "Leo",
            "Whitfield",
            child_dob,
            true,
            false,
            IdentityLevel::P9,
            "Child under 16 (not shown to the NHS App)",
        ),
        (
            P5_PATIENT,
            "Priya",
            "Nair",
            date(1992, 7, 19),
            true,
            false,
            IdentityLevel::P5,
            "Adult whose NHS login identity is only P5",
        ),
        (
            NO_PORTAL_ACCESS,
            "Thomas",
            "Reed",
            date(1957, 1, 30),
            false,
            false,
            IdentityLevel::P9,
            "Adult the trust flagged as not allowed portal access",
        ),
        (
            RESTRICTED,
            "Hannah",
            "Lowe",
            date(1979, 9, 5),
            true,
            true,
            IdentityLevel::P9,
            "Adult with a restricted (sensitive) record",
        ),
        (
            NO_APPOINTMENTS,
            "George",
            "Ellis",
            date(1990, 3, 22),
            true,
            false,
            IdentityLevel::P9,
            "Adult with no appointments",
        ),
    ];
    rows.into_iter()
        .map(
            |(nhs, given, family, dob, access, restricted, level, description)| DemoPatient {
                record: PatientRecord {
                    nhs_number: nhs_number(nhs),
                    date_of_birth: dob,
                    portal_access: access,
                    restricted,
                },
                given_name: given.into(),
                family_name: family.into(),
                identity_level: level,
                description: description.into(),
            },
        )
        .collect()
}

/// Clinic slots at the real-time trust: weekdays from 2 to 42 days out, three a day, for every
/// specialty the trust has booked appointments in. Slot ids are stable for a date and time.
fn build_slots(
    now: DateTime<Utc>,
    trust: &Organisation,
    appointments: &[Appointment],
) -> Vec<SimulatedSlot> {
    let mut specialties: Vec<TreatmentFunctionCode> = appointments
        .iter()
        .filter(|a| a.organisation == *trust && a.status == AppointmentStatus::Booked)
        .map(|a| a.specialty.code)
        .collect();
    specialties.sort();
    specialties.dedup();
    let clinicians = ["Dr Laila Ahmed", "Dr Owen Griffiths"];
    let mut slots = Vec::new();
    for tfc in specialties {
        for day in 2..=42 {
            let noon = uk_at(now, day, 12, 0);
            let date = uk_time::uk_date(noon);
            if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                continue;
            }
            for (n, (h, m)) in [(9, 0), (11, 20), (14, 40)].into_iter().enumerate() {
                let start = uk_at(now, day, h, m);
                slots.push(SimulatedSlot {
                    ods_code: trust.ods_code.clone(),
                    specialty: tfc,
                    slot: Slot {
                        id: stable_uuid(&format!(
                            "slot:{}:{tfc}:{date}:{h:02}{m:02}",
                            trust.ods_code
                        ))
                        .to_string(),
                        start,
                        end: start + Duration::minutes(20),
                        location: (n == 2).then(|| ASHGROVE_CDC.name.to_owned()),
                        clinician: Some(clinicians[(day as usize + n) % 2].to_owned()),
                    },
                });
            }
        }
    }
    slots
}

fn build_requests(now: DateTime<Utc>, appointments: &[Appointment]) -> Vec<PatientRequest> {
    let find = |key: &str| {
        let id = appointment_id(key);
        appointments
            .iter()
            .find(|a| a.id == id)
            .expect("demo appointment exists")
            .clone()
    };
    let cancel = find(KEY_ADULT_PENDING_CANCELLATION);
    let reschedule = find(KEY_ADULT_PENDING_RESCHEDULE);
    vec![
        PatientRequest {
            id: stable_uuid("request:pending-cancellation"),
            idempotency_key: "demo-seed-pending-cancellation".into(),
            appointment: cancel.id.clone(),
            patient: cancel.patient.clone(),
            ods_code: cancel.organisation.ods_code.clone(),
            kind: RequestKind::Cancel,
            reason: "no-longer-needed".into(),
            details: None,
            state: RequestState::Pending,
            created_at: now - Duration::days(2),
            resolved_at: None,
            resolution_note: None,
        },
        PatientRequest {
            id: stable_uuid("request:pending-reschedule"),
            idempotency_key: "demo-seed-pending-reschedule".into(),
            appointment: reschedule.id.clone(),
            patient: reschedule.patient.clone(),
            ods_code: reschedule.organisation.ods_code.clone(),
            kind: RequestKind::Reschedule,
            reason: "cannot-attend".into(),
            details: Some("Any weekday morning after 10am would suit me better.".into()),
            state: RequestState::Pending,
            created_at: now - Duration::days(1) - Duration::hours(3),
            resolved_at: None,
            resolution_note: None,
        },
    ]
}

/// The demo's pending requests for `now` (the same as [`DemoData::requests`]).
pub fn pending_requests(now: DateTime<Utc>) -> Vec<PatientRequest> {
    DemoData::build(now).requests
}

/// Puts the demo's pending requests into the portal's store (with an audit record each, and no
/// reporting events: demo data is not usage). Safe to run on every start: requests already
/// stored (same idempotency key) are left alone. Returns how many were added.
pub async fn seed_store<S>(store: &S, data: &DemoData) -> Result<usize, StoreError>
where
    S: RequestStore + ?Sized,
{
    let mut added = 0;
    for r in &data.requests {
        let audit = AuditRecord {
            at: r.created_at,
            patient: r.patient.clone(),
            actor: "patient".into(),
            session: None,
            action: match r.kind {
                RequestKind::Cancel => AuditAction::CancelRequested,
                RequestKind::Reschedule => AuditAction::RescheduleRequested,
            },
            appointment: Some(r.appointment.clone()),
            detail: Some("demo data".into()),
        };
        if let Submitted::Created(_) = store.submit_request(&r.into(), &audit, &[]).await? {
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PasBackend;
    use chrono::TimeZone;
    use nhs_portal_core::clock::ManualClock;
    use nhs_portal_core::request_status::{RescheduleMode, allowed_actions};
    use nhs_portal_core::store::memory::MemoryStore;

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
        let all = [
            ADULT,
            SECOND_ADULT,
            UNDER_16,
            P5_PATIENT,
            NO_PORTAL_ACCESS,
            RESTRICTED,
            NO_APPOINTMENTS,
        ];
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
        assert_eq!(
            pas.list_appointments(&nhs_number(ADULT))
                .await
                .unwrap()
                .len(),
            10
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
}
