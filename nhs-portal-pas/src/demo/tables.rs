//! The demo data tables: places, specialties, appointments, patients, slots and the seeded
//! requests (see [`super`]). Data, not logic: long on purpose.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::{PatientRequest, RequestState};
use nhs_portal_core::uk_time::{self, UkLocal};
use nhs_portal_core::{
    Appointment, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium, Contact,
    Identifier, Location, Organisation, Priority, Specialty, TreatmentFunctionCode,
};

use super::*;
use crate::simulated::SimulatedSlot;
use crate::{PatientRecord, Slot};

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
    /// A holding (waiting-list placeholder) record, not an appointment to attend.
    holding: bool,
    /// The PAS's own preparation text (`patientInstruction`).
    preparation: Option<&'static str>,
    /// Who cancelled it (cancelled ones).
    cancelled_by: Option<ChangeReason>,
    /// The PAS's own phone line and its hours.
    contact: Option<(&'static str, &'static str)>,
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
        patient_instruction: s.preparation.map(Into::into),
        cancelled_by: s.cancelled_by,
        contact: s.contact.map(|(phone, hours)| Contact {
            phone: phone.into(),
            hours: Some(hours.into()),
        }),
        identifiers: vec![pas_identifier(&s.trust, s.key)],
        holding: s.holding,
    }
}
/// Every demo appointment, as the PAS holds it, for `now`.
pub(super) fn appointments(now: DateTime<Utc>) -> Vec<Appointment> {
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
        holding: false,
        preparation: None,
        cancelled_by: None,
        contact: None,
    };
    let specs = vec![
        // 9000000009 at the real-time trust
        Spec {
            priority: Some(Priority::TwoWeekWait),
            clinician: Some(("Dr Amira Shah", Some("555123456789"))),
            preparation: Some(DERMATOLOGY_PAS_INSTRUCTION),
            ..base(KEY_ADULT_DERMATOLOGY, ADULT, &rt, "330", 14)
        },
        Spec {
            days: bst_day,
            time: (14, 15),
            medium: Video,
            place: None,
            clinician: Some(("Mr Tomasz Kowalski", None)),
            contact: Some((ORTHOPAEDICS_PAS_PHONE, ORTHOPAEDICS_PAS_HOURS)),
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
            cancelled_by: Some(ChangeReason::Hospital),
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
        // 9000000009's holding records: placeholders about two years ahead for a place on each
        // trust's waiting list. The real-time trust shows its own as "On the waiting list"; the
        // request-only trust hides its own (see `DemoData::build`). Neither goes to the PCA.
        Spec {
            holding: true,
            time: (8, 0),
            clinician: None,
            ..base(KEY_ADULT_HOLDING_SHOWN, ADULT, &rt, "502", 720)
        },
        Spec {
            holding: true,
            time: (8, 0),
            place: Some(&ASHBY_OPD),
            clinician: None,
            ..base(KEY_ADULT_HOLDING_HIDDEN, ADULT, &ro, "100", 730)
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
        Spec {
            clinician: Some(("Dr Laila Ahmed", None)),
            ..base("dob-mismatch/r9n/neurology", DOB_MISMATCH, &rt, "400", 11)
        },
    ];
    specs.iter().map(|s| build_appointment(now, s)).collect()
}

/// One row of the patient table: NHS number, given name, family name, date of birth, portal access, restricted, level, description.
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

/// The date of birth NHS login gives for [`DOB_MISMATCH`]: not the PAS's, on purpose.
fn nhs_login_date_of_birth(nhs: &str) -> Option<NaiveDate> {
    (nhs == DOB_MISMATCH).then(|| NaiveDate::from_ymd_opt(1974, 8, 16).expect("valid date"))
}

pub(super) fn build_patients(now: DateTime<Utc>) -> Vec<DemoPatient> {
    let today = uk_time::uk_date(now);
    let child_dob = today
        .checked_sub_months(chrono::Months::new(9 * 12 + 3))
        .unwrap_or(today);
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    let rows: [PatientRow; 8] = [
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
        (
            DOB_MISMATCH,
            "Margaret",
            "Hale",
            date(1974, 8, 6),
            true,
            false,
            IdentityLevel::P9,
            "Adult whose NHS login date of birth differs from the hospital's",
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
                nhs_login_date_of_birth: nhs_login_date_of_birth(nhs),
                description: description.into(),
            },
        )
        .collect()
}

/// Clinic slots at the real-time trust: weekdays from 2 to 42 days out, three a day, for every
/// specialty the trust has booked appointments in. Slot ids are stable for a date and time.
pub(super) fn build_slots(
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

pub(super) fn build_requests(
    now: DateTime<Utc>,
    appointments: &[Appointment],
) -> Vec<PatientRequest> {
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
