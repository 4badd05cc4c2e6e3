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
//! [`ADULT`] also has a holding (waiting-list placeholder) record at each trust: the real-time
//! trust shows its own as "On the waiting list" ([`KEY_ADULT_HOLDING_SHOWN`]), the request-only
//! trust hides its own ([`KEY_ADULT_HOLDING_HIDDEN`]); neither goes to the PCA.
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
//! | [`DOB_MISMATCH`] 9000000106 | adult whose NHS login date of birth (16 Aug 1974) is not the PAS's (6 Aug 1974) |
//!
//! The same list ([`patients`]) feeds the simulated PAS ([`DemoData::simulated_pas`]) and the
//! NHS login simulator in the web crate, so the two agree on every patient except, on purpose,
//! [`DOB_MISMATCH`] ([`DemoPatient::nhs_login_date_of_birth`]).
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

use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::holding::HoldingDisplay;
use nhs_portal_core::request_status::{Capabilities, RequestKind};
use nhs_portal_core::slot_choice::SlotFilters;
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestStore, StoreError, Submitted,
};
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber, OdsCode, Organisation};
use sha2::{Digest, Sha256};

mod guidance;
pub use guidance::*;

use crate::PatientRecord;
use crate::simulated::{SimulatedPas, SimulatedSlot, SimulatedTrust};

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
/// An adult, P9, with an appointment, whose NHS login date of birth differs from the PAS's on
/// purpose (the PCA API's date-of-birth cross-check refuses them).
pub const DOB_MISMATCH: &str = "9000000106";
/// Every demo patient's NHS number, in the order of [`patients`].
pub const ALL_PATIENTS: [&str; 8] = [
    ADULT,
    SECOND_ADULT,
    UNDER_16,
    P5_PATIENT,
    NO_PORTAL_ACCESS,
    RESTRICTED,
    NO_APPOINTMENTS,
    DOB_MISMATCH,
];

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

/// Key of [`ADULT`]'s holding record at the real-time trust, which shows it as "On the waiting
/// list" (gynaecology; never sent to the PCA).
pub const KEY_ADULT_HOLDING_SHOWN: &str = "adult/r9n/gynaecology-holding";
/// Key of [`ADULT`]'s holding record at the request-only trust, which keeps its holding records
/// off the pages (general surgery; never sent to the PCA).
pub const KEY_ADULT_HOLDING_HIDDEN: &str = "adult/r9e/general-surgery-holding";

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
    /// The date of birth NHS login holds when it differs from the PAS's (only for
    /// [`DOB_MISMATCH`], on purpose); `None`: the same as [`PatientRecord::date_of_birth`].
    pub nhs_login_date_of_birth: Option<NaiveDate>,
    /// A one-line description for pickers ("Adult with appointments at both trusts").
    pub description: String,
}

impl DemoPatient {
    /// The date of birth NHS login (here its simulator) gives for this patient.
    pub fn nhs_login_dob(&self) -> NaiveDate {
        self.nhs_login_date_of_birth
            .unwrap_or(self.record.date_of_birth)
    }
}

/// The demo patients, for `now` (the child's date of birth moves with it, so they stay 9): the
/// one list both the simulated PAS and the NHS login simulator read.
pub fn patients(now: DateTime<Utc>) -> Vec<DemoPatient> {
    tables::build_patients(now)
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

mod tables;
#[cfg(test)]
mod tests;

impl DemoData {
    /// Builds the data set for `now`.
    pub fn build(now: DateTime<Utc>) -> Self {
        let rt = real_time_trust();
        let ro = request_only_trust();
        let appointments = tables::appointments(now);
        let slots = tables::build_slots(now, &rt, &appointments);
        let patients = tables::build_patients(now);
        let trusts = vec![
            SimulatedTrust {
                organisation: rt,
                // Its free slots narrow by morning or afternoon and by site (it has two).
                capabilities: Capabilities::REAL_TIME
                    .with_confirm_attendance()
                    .with_slot_filters(SlotFilters {
                        time_of_day: true,
                        site: true,
                        clinician: false,
                    })
                    .with_holding(HoldingDisplay::WaitingList),
            },
            SimulatedTrust {
                organisation: ro,
                capabilities: Capabilities::REQUEST_ONLY.with_holding(HoldingDisplay::Hidden),
            },
        ];
        let requests = tables::build_requests(now, &appointments);
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

/// The demo at `clock`'s now, ready to use: the data, a [`SimulatedPas`] holding it (reading
/// `clock`), and its pending requests put into `store` ([`seed_store`]). Returns the data, the
/// PAS and how many requests seeding added.
pub async fn start<S>(
    clock: Arc<dyn Clock>,
    store: &S,
) -> Result<(DemoData, SimulatedPas, usize), StoreError>
where
    S: RequestStore + ?Sized,
{
    let data = DemoData::build(clock.now());
    let pas = data.simulated_pas(clock);
    let added = seed_store(store, &data).await?;
    Ok((data, pas, added))
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
