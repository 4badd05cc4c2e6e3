//! [`TrustsPas`]: several trusts' PASes behind one [`PasBackend`], for a portal that serves
//! patients of more than one trust (each trust's own adapter, a `FhirPas` say, behind it).
//!
//! How each call is answered:
//!
//! | call | answered by |
//! | --- | --- |
//! | [`patient`](PasBackend::patient) | every trust: the first trust (in the order given) that knows the patient gives the date of birth; the record is restricted, or without portal access, when any trust says so |
//! | [`list_appointments`](PasBackend::list_appointments) | every trust at once, merged and sorted by start; if one trust fails, the call fails (a partial list would look like missing appointments) |
//! | [`get_appointment`](PasBackend::get_appointment), [`appointment_with_capabilities`](PasBackend::appointment_with_capabilities) | each trust in turn until one has it (for this patient, under its ODS code) |
//! | [`poll_events`](PasBackend::poll_events) | every trust, merged oldest first |
//! | the rest | the trust whose ODS code the appointment carries; an appointment of no configured trust is not found, and nothing can be done with it online |
//!
//! A trust answers only for the appointments it reports under its own ODS code; any other it
//! reports is left out (another trust's, whose own entry answers for it). So trusts that share one
//! PAS (one FHIR server for a group of trusts) are each listed with that PAS, and every appointment
//! comes once. `FhirPas` reports the ODS code the resource names, else its configured trust's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber, OdsCode};

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// Several trusts' PASes as one. See the [module documentation](self).
#[derive(Clone)]
pub struct TrustsPas {
    trusts: Vec<(OdsCode, Arc<dyn PasBackend>)>,
}

impl std::fmt::Debug for TrustsPas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustsPas")
            .field(
                "trusts",
                &self.trusts.iter().map(|(o, _)| o).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TrustsPas {
    /// The trusts, each by its ODS code with its PAS, in the order asked.
    pub fn new(trusts: Vec<(OdsCode, Arc<dyn PasBackend>)>) -> Self {
        Self { trusts }
    }

    /// The ODS codes served, in order.
    pub fn ods_codes(&self) -> impl Iterator<Item = &OdsCode> {
        self.trusts.iter().map(|(o, _)| o)
    }

    fn of(&self, appointment: &Appointment) -> Option<&Arc<dyn PasBackend>> {
        self.trusts
            .iter()
            .find(|(ods, _)| *ods == appointment.organisation.ods_code)
            .map(|(_, pas)| pas)
    }

    fn owner(&self, appointment: &Appointment) -> Result<&Arc<dyn PasBackend>, PasError> {
        self.of(appointment).ok_or(PasError::NotFound)
    }

    /// Runs `call` on every trust at once; the answers in the trusts' order.
    async fn each<T, F, Fut>(&self, call: F) -> Result<Vec<T>, PasError>
    where
        T: Send + 'static,
        F: Fn(Arc<dyn PasBackend>) -> Fut,
        Fut: std::future::Future<Output = Result<T, PasError>> + Send + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (_, pas)) in self.trusts.iter().enumerate() {
            let answer = call(pas.clone());
            tasks.spawn(async move { (i, answer.await) });
        }
        let mut answers = Vec::with_capacity(self.trusts.len());
        while let Some(done) = tasks.join_next().await {
            let (i, answer) = done.map_err(|e| PasError::Unavailable(Box::new(e)))?;
            answers.push((i, answer?));
        }
        answers.sort_by_key(|(i, _)| *i);
        Ok(answers.into_iter().map(|(_, a)| a).collect())
    }
}

#[async_trait]
impl PasBackend for TrustsPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        let records = self
            .each(|pas| {
                let patient = patient.clone();
                async move { pas.patient(&patient).await }
            })
            .await?;
        let mut known = records.into_iter().flatten();
        let Some(mut first) = known.next() else {
            return Ok(None);
        };
        for other in known {
            first.restricted |= other.restricted;
            first.portal_access &= other.portal_access;
        }
        Ok(Some(first))
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let lists = self
            .each(|pas| {
                let patient = patient.clone();
                async move { pas.list_appointments(&patient).await }
            })
            .await?;
        let mut all: Vec<Appointment> = lists
            .into_iter()
            .zip(&self.trusts)
            .flat_map(|(list, (ods, _))| {
                list.into_iter()
                    .filter(move |a| a.organisation.ods_code == *ods)
            })
            .collect();
        all.sort_by_key(|a| a.start);
        Ok(all)
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        for (ods, pas) in &self.trusts {
            if let Some(found) = pas.get_appointment(patient, id).await?
                && found.organisation.ods_code == *ods
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        match self.of(appointment) {
            Some(pas) => pas.capabilities(appointment).await,
            None => Ok(Capabilities::VIEW_ONLY),
        }
    }

    /// Like [`get_appointment`](PasBackend::get_appointment), each trust asked in one call
    /// for the appointment and its capabilities.
    async fn appointment_with_capabilities(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        for (ods, pas) in &self.trusts {
            if let Some(found) = pas.appointment_with_capabilities(patient, id).await?
                && found.0.organisation.ods_code == *ods
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        self.owner(appointment)?.cancel(appointment, reason).await
    }

    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        self.owner(appointment)?
            .confirm_attendance(appointment)
            .await
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        self.owner(appointment)?
            .find_slots(appointment, from, to)
            .await
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        self.owner(appointment)?
            .reschedule(appointment, slot_id)
            .await
    }

    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        let lists = self
            .each(|pas| async move { pas.poll_events(since).await })
            .await?;
        let mut all: Vec<PasEvent> = lists.into_iter().flatten().collect();
        all.sort_by_key(|e| e.at);
        Ok(all)
    }

    /// The first trust's failure if any fails; `None` when no trust's adapter has a check.
    async fn ping(&self) -> Option<Result<(), PasError>> {
        let mut answer = None;
        for (_, pas) in &self.trusts {
            match pas.ping().await {
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(())) => answer = Some(Ok(())),
                None => {}
            }
        }
        answer
    }
}

#[cfg(test)]
mod tests;
