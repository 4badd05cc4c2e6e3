//! A **simulated** PAS, held in memory: for demos, tests and local development only.
//!
//! (Over 400 lines: one store of trusts, patients, appointments and slots with every
//! `PasBackend` method on it, kept together so the locking that prevents double booking is in
//! one place; faults, staff actions and tests are in their own files.)
//!
//! [`SimulatedPas`] is not a hospital system and talks to none. It keeps trusts, patients,
//! appointments and free slots in memory and behaves the way the [`PasBackend`] contract asks:
//! one instance can serve several trusts, each either real time or request only
//! ([`Capabilities`] per trust); real-time cancels are idempotent; a reschedule never double-books
//! a slot, also when two patients race for the same one.
//!
//! For tests and demos it can also misbehave on purpose: a [`FaultPlan`], changeable at run time,
//! adds latency, slowness, timeouts, outages or unreadable data to chosen operations. And it
//! stands in for the trust's staff: [`SimulatedPas::staff_acted`] applies a [`RequestOutcome`](nhs_portal_core::request_status::RequestOutcome)
//! the way staff would in a real PAS, and the change then shows up in
//! [`PasBackend::poll_events`], so the portal's asynchronous request journeys can be finished.
//! (Only these staff actions are events; the portal's own real-time cancels and reschedules are
//! not, as the portal already knows about them.)
//!
//! About 450 lines: the in-memory state and the whole [`PasBackend`] contract it answers belong
//! in one place. The demo data set lives in [`crate::demo`]. Faults are in `faults.rs`, the staff stand-in
//! (and the worklist's [`OutcomeApplier`](crate::worklist::OutcomeApplier) hook) in `staff.rs`.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{Duration, TimeZone, Utc};
//! use nhs_portal_core::clock::ManualClock;
//! use nhs_portal_core::request_status::Capabilities;
//! use nhs_portal_core::{NhsNumber, OdsCode, Organisation};
//! use nhs_portal_pas::simulated::{SimulatedPas, SimulatedTrust};
//! use nhs_portal_pas::PasBackend;
//!
//! # tokio_test_block(async {
//! let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()));
//! let pas = SimulatedPas::new(clock);
//! pas.add_trust(SimulatedTrust {
//!     organisation: Organisation {
//!         ods_code: OdsCode::parse("R9N").unwrap(),
//!         name: "Northfield Teaching Hospitals NHS Foundation Trust".into(),
//!     },
//!     capabilities: Capabilities::REAL_TIME,
//! });
//! let patient = NhsNumber::parse("9000000009").unwrap();
//! assert!(pas.list_appointments(&patient).await.unwrap().is_empty());
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RescheduleMode};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, NhsNumber, OdsCode, Organisation, RequestStatus,
    TreatmentFunctionCode,
};

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// One trust the simulated PAS serves, and what its PAS can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedTrust {
    /// The trust (ODS code and name).
    pub organisation: Organisation,
    /// Real time, request only, or view only; applies to all its appointments.
    pub capabilities: Capabilities,
}

/// A bookable slot in the simulated PAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedSlot {
    /// The trust whose clinic this is.
    pub ods_code: OdsCode,
    /// The specialty the clinic is for: only appointments of this specialty can move here.
    pub specialty: TreatmentFunctionCode,
    /// The slot itself (id, times, location and clinician overrides).
    pub slot: Slot,
}

mod faults;
mod staff;
#[cfg(test)]
mod tests;

pub use faults::{Fault, FaultPlan, FaultRule, InjectedOutage, PasOperation};

/// Why a simulation-only call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// No such appointment in the simulated PAS.
    #[error("no such appointment in the simulated PAS")]
    UnknownAppointment,
    /// The appointment's trust was never added with [`SimulatedPas::add_trust`].
    #[error("the appointment's trust is not configured in the simulated PAS")]
    UnknownTrust,
    /// The outcome cannot be applied to the appointment as it is.
    #[error("the outcome cannot be applied: {0}")]
    NotApplicable(&'static str),
}

#[derive(Debug, Default)]
struct State {
    trusts: HashMap<OdsCode, SimulatedTrust>,
    patients: HashMap<NhsNumber, PatientRecord>,
    /// Insertion order is kept for stable listings.
    appointments: Vec<Appointment>,
    slots: BTreeMap<String, SimSlotState>,
    /// Which slot an appointment sits in, for appointments booked into simulated slots.
    slot_of: HashMap<AppointmentId, String>,
    events: Vec<PasEvent>,
}

#[derive(Debug, Clone)]
struct SimSlotState {
    slot: SimulatedSlot,
    booked_by: Option<AppointmentId>,
}

impl State {
    fn index(&self, id: &AppointmentId) -> Option<usize> {
        self.appointments.iter().position(|a| &a.id == id)
    }

    /// The index of `id` if it is `patient`'s; otherwise `NotFound` (whoever owns it).
    fn owned_index(&self, patient: &NhsNumber, id: &AppointmentId) -> Result<usize, PasError> {
        self.index(id)
            .filter(|&i| &self.appointments[i].patient == patient)
            .ok_or(PasError::NotFound)
    }

    fn capabilities_of(&self, ods: &OdsCode) -> Capabilities {
        self.trusts
            .get(ods)
            .map_or(Capabilities::VIEW_ONLY, |t| t.capabilities)
    }

    fn free_slot(&mut self, id: &AppointmentId) {
        if let Some(slot_id) = self.slot_of.remove(id)
            && let Some(s) = self.slots.get_mut(&slot_id)
        {
            s.booked_by = None;
        }
    }
}

/// A simulated, in-memory PAS for several trusts: **a simulation, not a hospital system**.
///
/// See the [module documentation](self). Cheap to share: wrap it in an `Arc` and hand it out as
/// `Arc<dyn PasBackend>`; keep a typed `Arc<SimulatedPas>` too for the simulation-only calls.
#[derive(Debug)]
pub struct SimulatedPas {
    state: Mutex<State>,
    faults: Mutex<FaultPlan>,
    clock: Arc<dyn Clock>,
    horizon: chrono::Duration,
}

impl SimulatedPas {
    /// An empty simulated PAS reading the time from `clock` (for "is it in the past" and event
    /// times).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            faults: Mutex::new(FaultPlan::default()),
            clock,
            horizon: chrono::Duration::days(crate::BOOKING_HORIZON_DAYS),
        }
    }

    /// The same PAS offering slots only up to `horizon` ahead (default
    /// [`BOOKING_HORIZON_DAYS`](crate::BOOKING_HORIZON_DAYS)).
    pub fn with_booking_horizon(mut self, horizon: chrono::Duration) -> Self {
        self.horizon = horizon;
        self
    }

    /// Whether `slot` is one this PAS offers `stored` at `now`: free, the same trust and
    /// specialty, in the future and within the booking horizon. The one rule behind both
    /// [`PasBackend::find_slots`] and [`PasBackend::reschedule`].
    fn offers(&self, slot: &SimSlotState, stored: &Appointment, now: DateTime<Utc>) -> bool {
        slot.booked_by.is_none()
            && slot.slot.ods_code == stored.organisation.ods_code
            && slot.slot.specialty == stored.specialty.code
            && slot.slot.slot.start > now
            && slot.slot.slot.start < now + self.horizon
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a trust.
    pub fn add_trust(&self, trust: SimulatedTrust) {
        self.lock()
            .trusts
            .insert(trust.organisation.ods_code.clone(), trust);
    }

    /// Changes a trust's capabilities at run time (for example to show a trust moving from
    /// request only to real time). Returns `false` if the trust is unknown.
    pub fn set_capabilities(&self, ods: &OdsCode, capabilities: Capabilities) -> bool {
        match self.lock().trusts.get_mut(ods) {
            Some(t) => {
                t.capabilities = capabilities;
                true
            }
            None => false,
        }
    }

    /// Adds (or replaces) a patient record.
    pub fn add_patient(&self, record: PatientRecord) {
        self.lock()
            .patients
            .insert(record.nhs_number.clone(), record);
    }

    /// Adds (or replaces, by id) an appointment. Its `request_status` is dropped: a PAS does not
    /// hold the portal's request overlay.
    pub fn add_appointment(&self, mut appointment: Appointment) {
        appointment.request_status = None;
        let mut g = self.lock();
        match g.index(&appointment.id) {
            Some(i) => g.appointments[i] = appointment,
            None => g.appointments.push(appointment),
        }
    }

    /// Adds (or replaces, by id) a free slot.
    pub fn add_slot(&self, slot: SimulatedSlot) {
        self.lock().slots.insert(
            slot.slot.id.clone(),
            SimSlotState {
                slot,
                booked_by: None,
            },
        );
    }

    /// Replaces the fault plan; takes effect on the next call.
    pub fn set_faults(&self, plan: FaultPlan) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = plan;
    }

    /// Removes all latency and faults.
    pub fn clear_faults(&self) {
        self.set_faults(FaultPlan::default());
    }

    /// Simulation only: an appointment as the PAS holds it, whoever the patient is (for tests
    /// and the staff side of demos; the portal uses [`PasBackend::get_appointment`]).
    pub fn inspect_appointment(&self, id: &AppointmentId) -> Option<Appointment> {
        let g = self.lock();
        g.index(id).map(|i| g.appointments[i].clone())
    }

    /// Simulation only: the appointment booked into a slot, if any.
    pub fn slot_holder(&self, slot_id: &str) -> Option<AppointmentId> {
        self.lock()
            .slots
            .get(slot_id)
            .and_then(|s| s.booked_by.clone())
    }

    /// Applies the fault plan for one call: waits, then maybe fails.
    async fn gate(&self, op: PasOperation) -> Result<(), PasError> {
        let (latency, fault) = self
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(op);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fault {
            None => Ok(()),
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(Fault::Timeout) => Err(PasError::Timeout),
            Some(Fault::Unavailable) => Err(PasError::Unavailable(Box::new(InjectedOutage))),
            Some(Fault::BadData) => Err(PasError::BadData(
                "simulated unreadable answer (injected fault)".into(),
            )),
        }
    }

    /// Finds the stored appointment the caller passed, checking it is that patient's.
    fn checked_index(g: &State, appointment: &Appointment) -> Result<usize, PasError> {
        g.owned_index(&appointment.patient, &appointment.id)
    }
}

#[async_trait]
impl PasBackend for SimulatedPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        self.gate(PasOperation::Patient).await?;
        Ok(self.lock().patients.get(patient).cloned())
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.gate(PasOperation::ListAppointments).await?;
        Ok(self
            .lock()
            .appointments
            .iter()
            .filter(|a| &a.patient == patient)
            .cloned()
            .collect())
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        self.gate(PasOperation::GetAppointment).await?;
        let g = self.lock();
        Ok(g.owned_index(patient, id)
            .ok()
            .map(|i| g.appointments[i].clone()))
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        self.gate(PasOperation::Capabilities).await?;
        let g = self.lock();
        Self::checked_index(&g, appointment)?;
        Ok(g.capabilities_of(&appointment.organisation.ods_code))
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        _reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        self.gate(PasOperation::Cancel).await?;
        let now = self.clock.now();
        let mut g = self.lock();
        let i = Self::checked_index(&g, appointment)?;
        let stored = g.appointments[i].clone();
        if g.capabilities_of(&stored.organisation.ods_code).cancel != CancelMode::RealTime {
            return Err(PasError::NotSupported);
        }
        match stored.status {
            AppointmentStatus::Cancelled => return Ok(stored),
            AppointmentStatus::Booked => {}
            AppointmentStatus::Fulfilled | AppointmentStatus::NoShow => {
                return Err(PasError::InvalidState(
                    "the appointment is not booked".into(),
                ));
            }
        }
        if !stored.is_future(now) {
            return Err(PasError::InvalidState(
                "the appointment is in the past".into(),
            ));
        }
        g.free_slot(&stored.id);
        let a = &mut g.appointments[i];
        a.status = AppointmentStatus::Cancelled;
        a.cancelled_by = Some(nhs_portal_core::reporting::ChangeReason::Patient);
        Ok(a.clone())
    }

    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        self.gate(PasOperation::ConfirmAttendance).await?;
        let now = self.clock.now();
        let mut g = self.lock();
        let i = Self::checked_index(&g, appointment)?;
        let stored = g.appointments[i].clone();
        if !g
            .capabilities_of(&stored.organisation.ods_code)
            .confirm_attendance
        {
            return Err(PasError::NotSupported);
        }
        if stored.status != AppointmentStatus::Booked {
            return Err(PasError::InvalidState(
                "the appointment is not booked".into(),
            ));
        }
        if !stored.is_future(now) {
            return Err(PasError::InvalidState(
                "the appointment is in the past".into(),
            ));
        }
        let a = &mut g.appointments[i];
        a.request_status = Some(RequestStatus::ConfirmedAttendance);
        Ok(a.clone())
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        self.gate(PasOperation::FindSlots).await?;
        let now = self.clock.now();
        let g = self.lock();
        let i = Self::checked_index(&g, appointment)?;
        let stored = &g.appointments[i];
        if g.capabilities_of(&stored.organisation.ods_code).reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        let mut out: Vec<Slot> = g
            .slots
            .values()
            .filter(|s| self.offers(s, stored, now))
            .filter(|s| s.slot.slot.start >= from && s.slot.slot.start < to)
            .map(|s| s.slot.slot.clone())
            .collect();
        out.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        self.gate(PasOperation::Reschedule).await?;
        let now = self.clock.now();
        // One lock for the whole check-and-book: two reschedules to one slot cannot both win.
        let mut g = self.lock();
        let i = Self::checked_index(&g, appointment)?;
        let stored = g.appointments[i].clone();
        if g.capabilities_of(&stored.organisation.ods_code).reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        if stored.status != AppointmentStatus::Booked {
            return Err(PasError::InvalidState(
                "the appointment is not booked".into(),
            ));
        }
        if !stored.is_future(now) {
            return Err(PasError::InvalidState(
                "the appointment is in the past".into(),
            ));
        }
        let slot = match g.slots.get(slot_id) {
            Some(s) if self.offers(s, &stored, now) => s.slot.slot.clone(),
            _ => return Err(PasError::SlotUnavailable),
        };
        g.free_slot(&stored.id);
        if let Some(s) = g.slots.get_mut(slot_id) {
            s.booked_by = Some(stored.id.clone());
        }
        g.slot_of.insert(stored.id.clone(), slot_id.to_owned());
        let a = &mut g.appointments[i];
        a.start = slot.start;
        a.end = Some(slot.end);
        if let Some(place) = slot.location {
            let address = a
                .location
                .as_ref()
                .map(|l| l.address.clone())
                .unwrap_or_default();
            a.location = Some(nhs_portal_core::Location {
                name: place,
                address,
            });
        }
        if let Some(name) = slot.clinician {
            a.clinician = Some(nhs_portal_core::Clinician {
                name,
                sds_user_id: None,
            });
        }
        Ok(a.clone())
    }

    /// The simulated PAS lives in the portal's own process: always reachable.
    async fn ping(&self) -> Option<Result<(), PasError>> {
        Some(Ok(()))
    }

    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.gate(PasOperation::PollEvents).await?;
        let mut out: Vec<PasEvent> = self
            .lock()
            .events
            .iter()
            .filter(|e| e.at >= since)
            .cloned()
            .collect();
        out.sort_by_key(|e| e.at);
        Ok(out)
    }
}
