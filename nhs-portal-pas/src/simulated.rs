//! A **simulated** PAS, held in memory: for demos, tests and local development only.
//!
//! [`SimulatedPas`] is not a hospital system and talks to none. It keeps trusts, patients,
//! appointments and free slots in memory and behaves the way the [`PasBackend`] contract asks:
//! one instance can serve several trusts, each either real time or request only
//! ([`Capabilities`] per trust); real-time cancels are idempotent; a reschedule never double-books
//! a slot, also when two patients race for the same one.
//!
//! For tests and demos it can also misbehave on purpose: a [`FaultPlan`], changeable at run time,
//! adds latency, slowness, timeouts, outages or unreadable data to chosen operations. And it
//! stands in for the trust's staff: [`SimulatedPas::staff_acted`] applies a [`RequestOutcome`]
//! the way staff would in a real PAS, and the change then shows up in
//! [`PasBackend::poll_events`], so the portal's asynchronous request journeys can be finished.
//! (Only these staff actions are events; the portal's own real-time cancels and reschedules are
//! not, as the portal already knows about them.)
//!
//! The demo data set lives in [`crate::demo`].
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
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RequestOutcome, RescheduleMode};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, NhsNumber, OdsCode, Organisation,
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

/// A [`PasBackend`] operation, to aim a fault at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasOperation {
    /// [`PasBackend::patient`].
    Patient,
    /// [`PasBackend::list_appointments`].
    ListAppointments,
    /// [`PasBackend::get_appointment`].
    GetAppointment,
    /// [`PasBackend::capabilities`].
    Capabilities,
    /// [`PasBackend::cancel`].
    Cancel,
    /// [`PasBackend::find_slots`].
    FindSlots,
    /// [`PasBackend::reschedule`].
    Reschedule,
    /// [`PasBackend::poll_events`].
    PollEvents,
}

/// A way for the simulated PAS to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer [`PasError::Timeout`] (as a client whose deadline passed would).
    Timeout,
    /// Answer [`PasError::Unavailable`] (an outage or a server error).
    Unavailable,
    /// Answer [`PasError::BadData`] (an answer the adapter cannot read).
    BadData,
    /// Wait this long, then answer normally (to trip the caller's own timeouts).
    Slow(Duration),
}

/// One fault, when it applies, and how many more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    fault: Fault,
    operations: Option<Vec<PasOperation>>,
    remaining: Option<u32>,
}

impl FaultRule {
    /// A rule that applies `fault` to every operation, every time (narrow it with
    /// [`FaultRule::on`] and [`FaultRule::times`]).
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            operations: None,
            remaining: None,
        }
    }

    /// Only for this operation (call again to add more).
    pub fn on(mut self, operation: PasOperation) -> Self {
        self.operations.get_or_insert_with(Vec::new).push(operation);
        self
    }

    /// Only for the next `n` matching calls; then the rule is spent.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, op: PasOperation) -> bool {
        self.remaining != Some(0) && self.operations.as_ref().is_none_or(|ops| ops.contains(&op))
    }
}

/// How the simulated PAS misbehaves: a latency added to every call, then the first matching
/// [`FaultRule`] (rules are tried in the order added). Set it with [`SimulatedPas::set_faults`]
/// at any time.
///
/// ```
/// use std::time::Duration;
/// use nhs_portal_pas::simulated::{Fault, FaultPlan, FaultRule, PasOperation};
/// let plan = FaultPlan::new()
///     .latency(Duration::from_millis(20))
///     .rule(FaultRule::new(Fault::Timeout).on(PasOperation::Cancel).times(1))
///     .rule(FaultRule::new(Fault::Slow(Duration::from_secs(2))).on(PasOperation::ListAppointments));
/// # let _ = plan;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    latency: Duration,
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// No latency, no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds this delay to every call.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Adds a fault rule.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The delay and the fault (if any) for one call, using up a counted rule.
    fn take(&mut self, op: PasOperation) -> (Duration, Option<Fault>) {
        let fault = self.rules.iter_mut().find(|r| r.matches(op)).map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        });
        (self.latency, fault)
    }
}

/// The error behind an injected [`Fault::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("simulated PAS outage (injected fault)")]
pub struct InjectedOutage;

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
}

impl SimulatedPas {
    /// An empty simulated PAS reading the time from `clock` (for "is it in the past" and event
    /// times).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            faults: Mutex::new(FaultPlan::default()),
            clock,
        }
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

    /// Simulation only: what the trust's staff did in their PAS, applied to an appointment.
    ///
    /// - [`RequestOutcome::Cancelled`]: a booked appointment becomes cancelled.
    /// - [`RequestOutcome::Rescheduled`] with `new_start`: moved in place (its length kept).
    /// - [`RequestOutcome::Rescheduled`] with `replaced_by`: the replacement (added before with
    ///   [`SimulatedPas::add_appointment`], same patient) stands; this one becomes cancelled. Use
    ///   [`SimulatedPas::staff_rebooked`] to have the replacement made for you.
    /// - [`RequestOutcome::Rejected`]: nothing changes in the PAS.
    ///
    /// In every case a [`PasEvent`] is recorded for [`PasBackend::poll_events`].
    pub fn staff_acted(
        &self,
        id: &AppointmentId,
        outcome: &RequestOutcome,
    ) -> Result<Appointment, SimulationError> {
        let now = self.clock.now();
        let mut g = self.lock();
        let i = g.index(id).ok_or(SimulationError::UnknownAppointment)?;
        let current = g.appointments[i].clone();
        if !g.trusts.contains_key(&current.organisation.ods_code) {
            return Err(SimulationError::UnknownTrust);
        }
        let booked = current.status == AppointmentStatus::Booked;
        let mut next = current.clone();
        match outcome {
            RequestOutcome::Rejected => {}
            RequestOutcome::Cancelled => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                next.status = AppointmentStatus::Cancelled;
            }
            RequestOutcome::Rescheduled {
                replaced_by: Some(new_id),
                ..
            } => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                let j = g.index(new_id).ok_or(SimulationError::NotApplicable(
                    "the replacement does not exist",
                ))?;
                if g.appointments[j].patient != current.patient || j == i {
                    return Err(SimulationError::NotApplicable(
                        "the replacement is not a different appointment of the same patient",
                    ));
                }
                next.status = AppointmentStatus::Cancelled;
            }
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: Some(start),
            } => {
                if !booked {
                    return Err(SimulationError::NotApplicable(
                        "the appointment is not booked",
                    ));
                }
                if let Some(end) = next.end {
                    next.end = Some(end + (*start - next.start));
                }
                next.start = *start;
            }
            RequestOutcome::Rescheduled {
                replaced_by: None,
                new_start: None,
            } => {
                return Err(SimulationError::NotApplicable(
                    "a reschedule needs a new start or a replacement",
                ));
            }
        }
        if next.status == AppointmentStatus::Cancelled || next.start != current.start {
            g.free_slot(id);
        }
        g.appointments[i] = next.clone();
        g.events.push(PasEvent {
            appointment: id.clone(),
            outcome: outcome.clone(),
            at: now,
        });
        Ok(next)
    }

    /// Simulation only: staff rebooked the appointment as a new one starting at `new_start` (same
    /// length) and cancelled the old one, as many PAS do. Returns the new appointment; the event
    /// carries `replaced_by`.
    pub fn staff_rebooked(
        &self,
        id: &AppointmentId,
        new_start: DateTime<Utc>,
    ) -> Result<Appointment, SimulationError> {
        let old = self
            .inspect_appointment(id)
            .ok_or(SimulationError::UnknownAppointment)?;
        if old.status != AppointmentStatus::Booked {
            return Err(SimulationError::NotApplicable(
                "the appointment is not booked",
            ));
        }
        let mut new = old.clone();
        new.id = AppointmentId::new_random();
        new.end = old.end.map(|e| e + (new_start - old.start));
        new.start = new_start;
        self.add_appointment(new.clone());
        let outcome = RequestOutcome::Rescheduled {
            replaced_by: Some(new.id.clone()),
            new_start: Some(new_start),
        };
        if let Err(e) = self.staff_acted(id, &outcome) {
            self.lock().appointments.retain(|a| a.id != new.id);
            return Err(e);
        }
        Ok(new)
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
                return Err(PasError::InvalidState("the appointment is not booked"));
            }
        }
        if !stored.is_future(now) {
            return Err(PasError::InvalidState("the appointment is in the past"));
        }
        g.free_slot(&stored.id);
        let a = &mut g.appointments[i];
        a.status = AppointmentStatus::Cancelled;
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
            .filter(|s| s.booked_by.is_none())
            .filter(|s| s.slot.ods_code == stored.organisation.ods_code)
            .filter(|s| s.slot.specialty == stored.specialty.code)
            .filter(|s| s.slot.slot.start >= from && s.slot.slot.start < to)
            .filter(|s| s.slot.slot.start > now)
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
            return Err(PasError::InvalidState("the appointment is not booked"));
        }
        if !stored.is_future(now) {
            return Err(PasError::InvalidState("the appointment is in the past"));
        }
        let slot = match g.slots.get(slot_id) {
            Some(s)
                if s.booked_by.is_none()
                    && s.slot.ods_code == stored.organisation.ods_code
                    && s.slot.specialty == stored.specialty.code
                    && s.slot.slot.start > now =>
            {
                s.slot.slot.clone()
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration as CDuration, TimeZone};
    use nhs_portal_core::clock::ManualClock;
    use nhs_portal_core::{
        AppointmentType, ConsultationMedium, Location, OdsCode, Organisation, Specialty,
    };

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap()
    }

    fn org(code: &str) -> Organisation {
        Organisation {
            ods_code: OdsCode::parse(code).unwrap(),
            name: format!("Trust {code}"),
        }
    }

    fn p(n: &str) -> NhsNumber {
        NhsNumber::parse(n).unwrap()
    }

    fn appt(patient: &str, trust: &str, days: i64) -> Appointment {
        Appointment {
            id: AppointmentId::new_random(),
            patient: p(patient),
            status: AppointmentStatus::Booked,
            request_status: None,
            description: "Dermatology appointment".into(),
            specialty: Specialty {
                code: TreatmentFunctionCode::parse("330").unwrap(),
                display: "DERMATOLOGY".into(),
            },
            start: t0() + CDuration::days(days),
            end: Some(t0() + CDuration::days(days) + CDuration::minutes(20)),
            medium: ConsultationMedium::FaceToFace,
            priority: None,
            location: Some(Location {
                name: "Clinic A".into(),
                address: vec!["1 Road".into()],
            }),
            clinician: None,
            organisation: org(trust),
            appointment_type: AppointmentType::Outpatient,
            identifiers: vec![],
        }
    }

    fn slot(id: &str, trust: &str, days: i64) -> SimulatedSlot {
        SimulatedSlot {
            ods_code: OdsCode::parse(trust).unwrap(),
            specialty: TreatmentFunctionCode::parse("330").unwrap(),
            slot: Slot {
                id: id.into(),
                start: t0() + CDuration::days(days),
                end: t0() + CDuration::days(days) + CDuration::minutes(30),
                location: Some("Clinic B".into()),
                clinician: Some("Dr Slot".into()),
            },
        }
    }

    fn pas() -> (Arc<ManualClock>, SimulatedPas) {
        let clock = Arc::new(ManualClock::new(t0()));
        let pas = SimulatedPas::new(clock.clone());
        pas.add_trust(SimulatedTrust {
            organisation: org("RRT"),
            capabilities: Capabilities::REAL_TIME,
        });
        pas.add_trust(SimulatedTrust {
            organisation: org("RRQ"),
            capabilities: Capabilities::REQUEST_ONLY,
        });
        (clock, pas)
    }

    fn reason() -> CancelReason {
        CancelReason {
            code: "no-longer-needed".into(),
            text: None,
        }
    }

    #[tokio::test]
    async fn only_the_patients_own_appointments_are_visible() {
        let (_, pas) = pas();
        let mine = appt("9000000009", "RRT", 5);
        let theirs = appt("9000000017", "RRT", 5);
        pas.add_appointment(mine.clone());
        pas.add_appointment(theirs.clone());
        let list = pas.list_appointments(&p("9000000009")).await.unwrap();
        assert_eq!(list, vec![mine.clone()]);
        assert!(
            pas.get_appointment(&p("9000000009"), &theirs.id)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            pas.get_appointment(&p("9000000009"), &mine.id)
                .await
                .unwrap(),
            Some(mine)
        );
        // Passing someone else's appointment with my NHS number in it does not work either.
        let mut forged = theirs.clone();
        forged.patient = p("9000000009");
        assert!(matches!(
            pas.cancel(&forged, &reason()).await,
            Err(PasError::NotFound)
        ));
        assert_eq!(
            pas.inspect_appointment(&theirs.id).unwrap().status,
            AppointmentStatus::Booked
        );
    }

    #[tokio::test]
    async fn cancel_rules_table() {
        let (_, pas) = pas();
        let future = appt("9000000009", "RRT", 5);
        let past = appt("9000000009", "RRT", -5);
        let mut fulfilled = appt("9000000009", "RRT", -5);
        fulfilled.status = AppointmentStatus::Fulfilled;
        let request_only = appt("9000000009", "RRQ", 5);
        let unknown_trust = appt("9000000009", "RXX", 5);
        for a in [&future, &past, &fulfilled, &request_only, &unknown_trust] {
            pas.add_appointment(a.clone());
        }
        let cases: Vec<(&Appointment, Result<AppointmentStatus, &str>)> = vec![
            (&future, Ok(AppointmentStatus::Cancelled)),
            // idempotent: a second cancel returns it unchanged
            (&future, Ok(AppointmentStatus::Cancelled)),
            (&past, Err("invalid")),
            (&fulfilled, Err("invalid")),
            (&request_only, Err("unsupported")),
            (&unknown_trust, Err("unsupported")),
        ];
        for (a, want) in cases {
            let got = pas.cancel(a, &reason()).await;
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g.status, w),
                (Err(PasError::InvalidState(_)), Err("invalid")) => {}
                (Err(PasError::NotSupported), Err("unsupported")) => {}
                (g, w) => panic!("{g:?} vs {w:?}"),
            }
        }
    }

    #[tokio::test]
    async fn reschedule_moves_into_a_free_slot_and_frees_the_old_one() {
        let (_, pas) = pas();
        let a = appt("9000000009", "RRT", 5);
        let b = appt("9000000017", "RRT", 6);
        pas.add_appointment(a.clone());
        pas.add_appointment(b.clone());
        pas.add_slot(slot("s1", "RRT", 10));
        pas.add_slot(slot("s2", "RRT", 11));
        pas.add_slot(slot("other-trust", "RRQ", 10));
        pas.add_slot(slot("past", "RRT", -1));
        let slots = pas
            .find_slots(&a, t0(), t0() + CDuration::days(30))
            .await
            .unwrap();
        let ids: Vec<_> = slots.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2"]);

        let moved = pas.reschedule(&a, "s1").await.unwrap();
        assert_eq!(moved.id, a.id);
        assert_eq!(moved.start, t0() + CDuration::days(10));
        assert_eq!(moved.location.unwrap().name, "Clinic B");
        assert_eq!(moved.clinician.unwrap().name, "Dr Slot");
        assert_eq!(pas.slot_holder("s1"), Some(a.id.clone()));
        // s1 is taken now, for everybody
        assert!(matches!(
            pas.reschedule(&b, "s1").await,
            Err(PasError::SlotUnavailable)
        ));
        assert_eq!(pas.inspect_appointment(&b.id).unwrap(), b);
        // moving again frees s1
        pas.reschedule(&a, "s2").await.unwrap();
        assert_eq!(pas.slot_holder("s1"), None);
        pas.reschedule(&b, "s1").await.unwrap();
        for bad in ["other-trust", "past", "nope"] {
            assert!(matches!(
                pas.reschedule(&b, bad).await,
                Err(PasError::SlotUnavailable)
            ));
        }
        // cancelling frees the slot
        pas.cancel(&a, &reason()).await.unwrap();
        assert_eq!(pas.slot_holder("s2"), None);
    }

    #[tokio::test]
    async fn request_only_trust_refuses_real_time_operations() {
        let (_, pas) = pas();
        let a = appt("9000000009", "RRQ", 5);
        pas.add_appointment(a.clone());
        pas.add_slot(slot("s1", "RRQ", 10));
        assert_eq!(
            pas.capabilities(&a).await.unwrap(),
            Capabilities::REQUEST_ONLY
        );
        assert!(matches!(
            pas.find_slots(&a, t0(), t0() + CDuration::days(30)).await,
            Err(PasError::NotSupported)
        ));
        assert!(matches!(
            pas.reschedule(&a, "s1").await,
            Err(PasError::NotSupported)
        ));
        assert!(pas.set_capabilities(&a.organisation.ods_code, Capabilities::REAL_TIME));
        assert!(pas.reschedule(&a, "s1").await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reschedules_to_one_slot_only_one_wins() {
        let (_, pas) = pas();
        let pas = Arc::new(pas);
        pas.add_slot(slot("s1", "RRT", 10));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let a = appt("9000000009", "RRT", 5);
            pas.add_appointment(a.clone());
            let pas = pas.clone();
            tasks.push(tokio::spawn(async move { pas.reschedule(&a, "s1").await }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => wins += 1,
                Err(PasError::SlotUnavailable) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(wins, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slots_stay_consistent_under_a_storm_of_concurrent_changes() {
        let (_, pas) = pas();
        let pas = Arc::new(pas);
        let slot_ids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        for (i, id) in slot_ids.iter().enumerate() {
            pas.add_slot(slot(id, "RRT", 10 + i as i64));
        }
        let appts: Vec<Appointment> = (0..8).map(|_| appt("9000000009", "RRT", 5)).collect();
        for a in &appts {
            pas.add_appointment(a.clone());
        }
        let mut tasks = Vec::new();
        for round in 0..40usize {
            let pas = pas.clone();
            let a = appts[round % appts.len()].clone();
            let target = slot_ids[(round * 7) % slot_ids.len()].clone();
            tasks.push(tokio::spawn(async move {
                if round % 9 == 8 {
                    let _ = pas.cancel(&a, &reason()).await;
                } else {
                    let _ = pas.reschedule(&a, &target).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // every slot has at most one holder, every holder is booked and starts at that slot,
        // and no booked appointment is in two slots
        let mut held = std::collections::HashSet::new();
        for id in &slot_ids {
            if let Some(holder) = pas.slot_holder(id) {
                assert!(held.insert(holder.clone()), "{holder:?} holds two slots");
                let a = pas.inspect_appointment(&holder).unwrap();
                assert_eq!(a.status, AppointmentStatus::Booked);
                let i: i64 = id[1..].parse().unwrap();
                assert_eq!(a.start, t0() + CDuration::days(10 + i));
            }
        }
        for a in &appts {
            let now = pas.inspect_appointment(&a.id).unwrap();
            if now.status == AppointmentStatus::Cancelled {
                assert!(!held.contains(&a.id));
            }
        }
    }

    #[tokio::test]
    async fn staff_actions_change_the_pas_and_are_polled() {
        let (clock, pas) = pas();
        let a = appt("9000000009", "RRQ", 5);
        let b = appt("9000000009", "RRQ", 7);
        let c = appt("9000000009", "RRQ", 9);
        for x in [&a, &b, &c] {
            pas.add_appointment(x.clone());
        }
        let before = clock.now();
        clock.advance(CDuration::minutes(1));
        let cancelled = pas.staff_acted(&a.id, &RequestOutcome::Cancelled).unwrap();
        assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
        assert!(pas.staff_acted(&a.id, &RequestOutcome::Cancelled).is_err());
        clock.advance(CDuration::minutes(1));
        let new_start = t0() + CDuration::days(20);
        let moved = pas
            .staff_acted(
                &b.id,
                &RequestOutcome::Rescheduled {
                    replaced_by: None,
                    new_start: Some(new_start),
                },
            )
            .unwrap();
        assert_eq!(moved.start, new_start);
        assert_eq!(moved.end, Some(new_start + CDuration::minutes(20)));
        clock.advance(CDuration::minutes(1));
        let replacement = pas.staff_rebooked(&c.id, new_start).unwrap();
        assert_ne!(replacement.id, c.id);
        assert_eq!(
            pas.inspect_appointment(&c.id).unwrap().status,
            AppointmentStatus::Cancelled
        );
        assert_eq!(
            pas.list_appointments(&p("9000000009")).await.unwrap().len(),
            4
        );
        assert!(matches!(
            pas.staff_acted(&AppointmentId::new_random(), &RequestOutcome::Rejected),
            Err(SimulationError::UnknownAppointment)
        ));

        let events = pas.poll_events(before).await.unwrap();
        let got: Vec<_> = events.iter().map(|e| e.appointment.clone()).collect();
        assert_eq!(got, vec![a.id.clone(), b.id.clone(), c.id.clone()]);
        assert_eq!(
            events[2].outcome,
            RequestOutcome::Rescheduled {
                replaced_by: Some(replacement.id),
                new_start: Some(new_start)
            }
        );
        // the cursor is inclusive and later cursors see less
        let later = pas.poll_events(events[1].at).await.unwrap();
        assert_eq!(later.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn faults_follow_the_plan() {
        let (_, pas) = pas();
        let me = p("9000000009");
        pas.set_faults(
            FaultPlan::new()
                .rule(
                    FaultRule::new(Fault::Timeout)
                        .on(PasOperation::ListAppointments)
                        .times(1),
                )
                .rule(FaultRule::new(Fault::Unavailable).on(PasOperation::Patient))
                .rule(
                    FaultRule::new(Fault::BadData)
                        .on(PasOperation::PollEvents)
                        .times(2),
                ),
        );
        assert!(matches!(
            pas.list_appointments(&me).await,
            Err(PasError::Timeout)
        ));
        assert!(pas.list_appointments(&me).await.is_ok());
        for _ in 0..3 {
            assert!(matches!(
                pas.patient(&me).await,
                Err(PasError::Unavailable(_))
            ));
        }
        assert!(matches!(
            pas.poll_events(t0()).await,
            Err(PasError::BadData(_))
        ));
        assert!(pas.poll_events(t0()).await.is_err());
        assert!(pas.poll_events(t0()).await.is_ok());

        // latency and slowness: measured on tokio's paused clock, so no real waiting
        pas.set_faults(FaultPlan::new().latency(Duration::from_millis(50)).rule(
            FaultRule::new(Fault::Slow(Duration::from_secs(3))).on(PasOperation::GetAppointment),
        ));
        let start = tokio::time::Instant::now();
        pas.list_appointments(&me).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        let start = tokio::time::Instant::now();
        pas.get_appointment(&me, &AppointmentId::new_random())
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(3050));
        pas.clear_faults();
        let start = tokio::time::Instant::now();
        pas.patient(&me).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
