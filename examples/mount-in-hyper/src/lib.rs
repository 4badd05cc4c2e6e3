//! `ToyPas`: a small in-memory PAS adapter that keeps every rule of [`PasBackend`], as an
//! example to write yours from. Its tests (`tests/conformance.rs`) run the conformance kit on
//! it, seeded through its [`Seeder`], and show the kit failing two deliberately broken versions.
//!
//! What a real adapter does differently: it reads and writes the trust's PAS (a database view,
//! a booking API, an HL7 v2 feed) instead of a `Mutex<Book>`, and turns the PAS's failures into
//! [`PasError::Timeout`], [`PasError::Unavailable`] and [`PasError::BadData`]. What it does the
//! same: every method that takes an [`Appointment`] re-reads the record ([`Book::own`]), and a
//! reschedule checks and takes the slot in one step (here one lock; in a database one
//! transaction or one conditional `UPDATE ... WHERE taken = false`).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::request_status::{Capabilities, RequestOutcome};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, NhsNumber, OdsCode, TreatmentFunctionCode,
};
use nhs_portal_pas::conformance::{Seeder, TrustAction, TrustStaff};
use nhs_portal_pas::{
    BOOKING_HORIZON_DAYS, CancelReason, PasBackend, PasChange, PasError, PasEvent, PatientRecord,
    Slot,
};

/// A free or taken slot at one trust's clinic for one specialty.
#[derive(Debug, Clone)]
struct ToySlot {
    ods_code: OdsCode,
    specialty: TreatmentFunctionCode,
    slot: Slot,
    taken: bool,
}

/// What the toy PAS holds.
#[derive(Debug, Default)]
pub struct Book {
    patients: HashMap<NhsNumber, PatientRecord>,
    appointments: HashMap<AppointmentId, Appointment>,
    slots: HashMap<String, ToySlot>,
    request_only: HashSet<OdsCode>,
    events: Vec<PasEvent>,
}

impl Book {
    /// The stored record of the appointment the caller gave, if it is that patient's: the
    /// portal's (or anyone's) copy is never trusted for whose it is.
    pub fn own(&self, given: &Appointment) -> Result<&Appointment, PasError> {
        self.appointments
            .get(&given.id)
            .filter(|stored| stored.patient == given.patient)
            .ok_or(PasError::NotFound)
    }

    fn is_request_only(&self, a: &Appointment) -> bool {
        self.request_only.contains(&a.organisation.ods_code)
    }

    /// Whether this slot may be offered to (and booked for) this appointment now.
    fn offers(&self, slot: &ToySlot, a: &Appointment, now: DateTime<Utc>) -> bool {
        !slot.taken
            && slot.ods_code == a.organisation.ods_code
            && slot.specialty == a.specialty.code
            && slot.slot.start > now
            && slot.slot.start < now + Duration::days(BOOKING_HORIZON_DAYS)
    }
}

fn is_past(a: &Appointment, now: DateTime<Utc>) -> bool {
    a.start <= now
        || matches!(
            a.status,
            AppointmentStatus::Fulfilled | AppointmentStatus::NoShow
        )
}

/// An in-memory PAS for several trusts. Not for production: a stand-in for your adapter.
#[derive(Debug, Default)]
pub struct ToyPas(Mutex<Book>);

impl ToyPas {
    /// An empty PAS; appointments at `request_only` trusts can only be changed by request.
    pub fn new(request_only: impl IntoIterator<Item = OdsCode>) -> Self {
        Self(Mutex::new(Book {
            request_only: request_only.into_iter().collect(),
            ..Book::default()
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a patient.
    pub fn add_patient(&self, record: PatientRecord) {
        self.lock()
            .patients
            .insert(record.nhs_number.clone(), record);
    }

    /// Adds (or replaces) an appointment.
    pub fn add_appointment(&self, appointment: Appointment) {
        self.lock()
            .appointments
            .insert(appointment.id.clone(), appointment);
    }

    /// Adds a free slot at a trust's clinic for a specialty.
    pub fn add_slot(&self, ods_code: OdsCode, specialty: TreatmentFunctionCode, slot: Slot) {
        self.lock().slots.insert(
            slot.id.clone(),
            ToySlot {
                ods_code,
                specialty,
                slot,
                taken: false,
            },
        );
    }

    /// An appointment as stored, whoever's it is (for tests; the trait never does this).
    pub fn inspect(&self, id: &AppointmentId) -> Option<Appointment> {
        self.lock().appointments.get(id).cloned()
    }

    /// What the trust's staff do in their PAS: cancel or move an appointment, or decline a
    /// request; each is reported once by `poll_events`.
    pub fn staff_acted(
        &self,
        id: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<(), PasError> {
        let mut guard = self.lock();
        let book = &mut *guard;
        let a = book.appointments.get_mut(id).ok_or(PasError::NotFound)?;
        match outcome {
            RequestOutcome::Cancelled => a.status = AppointmentStatus::Cancelled,
            RequestOutcome::Rescheduled {
                new_start: Some(start),
                ..
            } => {
                let length = a.end.map(|end| end - a.start);
                a.start = *start;
                a.end = length.map(|l| *start + l);
            }
            RequestOutcome::Rescheduled { .. } | RequestOutcome::Rejected => {}
        }
        // Never older than the last event, so the feed stays oldest first.
        let at = book
            .events
            .last()
            .map_or_else(Utc::now, |last| last.at.max(Utc::now()));
        let version = book.events.len() + 1;
        let event = PasEvent::new(
            id.clone(),
            a.patient.clone(),
            PasChange::from_request_outcome(outcome),
            at,
            version.to_string(),
        )
        .with_snapshot(a.clone());
        book.events.push(event);
        Ok(())
    }
}

#[async_trait]
impl PasBackend for ToyPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        Ok(self.lock().patients.get(patient).cloned())
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let mut list: Vec<Appointment> = self
            .lock()
            .appointments
            .values()
            .filter(|a| a.patient == *patient)
            .cloned()
            .collect();
        list.sort_by_key(|a| a.start);
        Ok(list)
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        let book = self.lock();
        Ok(book
            .appointments
            .get(id)
            .filter(|a| a.patient == *patient)
            .cloned())
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        let book = self.lock();
        let stored = book.own(appointment)?;
        Ok(if book.is_request_only(stored) {
            Capabilities::REQUEST_ONLY
        } else {
            Capabilities::REAL_TIME
        })
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        _reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        let mut book = self.lock();
        let stored = book.own(appointment)?;
        if book.is_request_only(stored) {
            return Err(PasError::NotSupported);
        }
        if stored.status == AppointmentStatus::Cancelled {
            return Ok(stored.clone());
        }
        if is_past(stored, Utc::now()) {
            return Err(PasError::InvalidState(
                "the appointment is in the past".into(),
            ));
        }
        let a = book
            .appointments
            .get_mut(&appointment.id)
            .ok_or(PasError::NotFound)?;
        a.status = AppointmentStatus::Cancelled;
        Ok(a.clone())
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        let book = self.lock();
        let stored = book.own(appointment)?;
        if book.is_request_only(stored) {
            return Err(PasError::NotSupported);
        }
        let now = Utc::now();
        let mut slots: Vec<Slot> = book
            .slots
            .values()
            .filter(|s| book.offers(s, stored, now))
            .filter(|s| s.slot.start >= from && s.slot.start < to)
            .map(|s| s.slot.clone())
            .collect();
        slots.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        Ok(slots)
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        // One lock from the check to the take: two calls into one slot cannot both win.
        let mut book = self.lock();
        let stored = book.own(appointment)?.clone();
        if book.is_request_only(&stored) {
            return Err(PasError::NotSupported);
        }
        let now = Utc::now();
        if is_past(&stored, now) || stored.status == AppointmentStatus::Cancelled {
            return Err(PasError::InvalidState(
                "only a booked, future appointment can move".into(),
            ));
        }
        let slot = match book.slots.get(slot_id) {
            Some(s) if book.offers(s, &stored, now) => s.slot.clone(),
            _ => return Err(PasError::SlotUnavailable),
        };
        if let Some(s) = book.slots.get_mut(slot_id) {
            s.taken = true;
        }
        let a = book
            .appointments
            .get_mut(&stored.id)
            .ok_or(PasError::NotFound)?;
        a.start = slot.start;
        a.end = Some(slot.end);
        Ok(a.clone())
    }

    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        // Inclusive: an event at exactly `since` is reported (the caller drops what it saw).
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|e| e.at >= since)
            .cloned()
            .collect())
    }
}

/// The conformance kit's fixture builder seeds the toy PAS through this (a real adapter's
/// seeder writes to the PAS's test instance).
#[async_trait]
impl Seeder for ToyPas {
    async fn add_patient(&self, patient: &PatientRecord) -> Result<(), String> {
        ToyPas::add_patient(self, patient.clone());
        Ok(())
    }
    async fn add_appointment(&self, appointment: &Appointment) -> Result<(), String> {
        ToyPas::add_appointment(self, appointment.clone());
        Ok(())
    }
    async fn add_slot(
        &self,
        organisation: &OdsCode,
        specialty: &TreatmentFunctionCode,
        slot: &Slot,
    ) -> Result<(), String> {
        ToyPas::add_slot(self, organisation.clone(), *specialty, slot.clone());
        Ok(())
    }
}

/// The trust's staff, for the kit's events check.
#[async_trait]
impl TrustStaff for ToyPas {
    async fn act(&self, action: &TrustAction) -> Result<(), String> {
        self.staff_acted(&action.appointment, &action.outcome)
            .map_err(|e| e.to_string())
    }
}
