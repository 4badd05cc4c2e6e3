//! The details a patient needs beside an appointment, each rule written once: whom to contact
//! (a phone number and its opening hours), how to prepare, and what happens next.
//!
//! A trust configures [`TrustGuidance`] (a default contact, per-clinic contacts and preparation
//! text, how long its booking team usually takes to answer a request, and a policy warning shown
//! before a patient cancels); [`Guidance`] holds every trust's, keyed by ODS code. The rules:
//!
//! - **Contact** ([`Guidance::contact`]): the PAS's own line for the appointment
//!   ([`Appointment::contact`], which the FHIR adapter reads from the `HealthcareService` or
//!   `Location` the appointment names), else the first clinic of the appointment's trust that
//!   matches it (by specialty and, when the clinic names one, location) and has a contact, else
//!   the trust's default contact, else none (the page then falls back to the appointment
//!   letter). At every step a contact with a blank phone is no contact (opening hours alone
//!   give the patient nothing to call) and the next source is asked.
//! - **Preparation** ([`Guidance::preparation`]): only for an upcoming booked appointment; the
//!   PAS's own instruction (FHIR `Appointment.patientInstruction`) first, else the matching
//!   clinic's text.
//! - **What happens next** ([`next_steps`]): one [`NextSteps`] per status and request state. Which
//!   actions are offered is *not* decided here: that is [`crate::request_status::allowed_actions`]
//!   alone (a hospital-cancelled or past appointment is never booked-and-future, so it offers
//!   nothing); the tests below hold the two together.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::reporting::ChangeReason;
use crate::request_status::RequestKind;
use crate::{Appointment, AppointmentStatus, OdsCode, TreatmentFunctionCode};

pub use crate::appointment::Contact;

/// One clinic's guidance. A clinic matches an appointment of its trust with its specialty and,
/// when `location` is set, at that location (the patient-friendly name the PAS sends).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clinic {
    /// The clinic's specialty (Treatment Function Code).
    pub specialty: TreatmentFunctionCode,
    /// The location's name, when the clinic is only at one place.
    pub location: Option<String>,
    /// The clinic's own phone line.
    pub contact: Option<Contact>,
    /// How to prepare, when the PAS gives no instruction of its own.
    pub preparation: Option<String>,
}

impl Clinic {
    fn matches(&self, a: &Appointment) -> bool {
        self.specialty == a.specialty.code
            && self
                .location
                .as_deref()
                .is_none_or(|l| a.location.as_ref().is_some_and(|al| al.name == l))
    }
}

/// One trust's guidance (every part optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustGuidance {
    /// The booking team's contact: the default for clinics without their own.
    pub contact: Option<Contact>,
    /// Per-clinic contacts and preparation; the first that matches wins.
    pub clinics: Vec<Clinic>,
    /// How soon the booking team usually answers a request ("within 2 working days").
    pub expected_response: Option<String>,
    /// A policy warning shown before a patient cancels ("If you cancel twice, you may be
    /// referred back to your GP").
    pub cancel_warning: Option<String>,
}

/// Where a contact came from (for the configuration check and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactSource {
    /// The PAS's line for the appointment ([`Appointment::contact`]).
    Pas,
    /// The clinic's own line, as the trust configured it.
    Clinic,
    /// The trust's booking team.
    Trust,
}

/// Where preparation text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreparationSource {
    /// The PAS (`Appointment.patientInstruction`).
    Pas,
    /// The trust's per-clinic text.
    Clinic,
}

/// Every trust's guidance, by ODS code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guidance {
    trusts: BTreeMap<OdsCode, TrustGuidance>,
}

impl Guidance {
    /// No guidance for anyone.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `trust`'s guidance set (replacing any before).
    #[must_use]
    pub fn with_trust(mut self, ods_code: OdsCode, trust: TrustGuidance) -> Self {
        self.trusts.insert(ods_code, trust);
        self
    }

    /// The guidance of the trust with `ods_code`, if it has any.
    pub fn trust(&self, ods_code: &OdsCode) -> Option<&TrustGuidance> {
        self.trusts.get(ods_code)
    }

    /// The trusts with guidance, in ODS-code order.
    pub fn trusts(&self) -> impl Iterator<Item = (&OdsCode, &TrustGuidance)> {
        self.trusts.iter()
    }

    /// The first of `a`'s trust's clinics that matches `a` and gives `f` an answer.
    fn first_clinic<'a, T>(
        &'a self,
        a: &Appointment,
        f: impl Fn(&'a Clinic) -> Option<T>,
    ) -> Option<T> {
        self.trust(&a.organisation.ods_code)?
            .clinics
            .iter()
            .filter(|c| c.matches(a))
            .find_map(f)
    }

    /// Whom the patient contacts about `a`: the PAS's line for it, else the first matching
    /// clinic's, else the trust's; a contact with a blank phone is skipped at every step.
    pub fn contact<'a>(&'a self, a: &'a Appointment) -> Option<(&'a Contact, ContactSource)> {
        let usable = |c: &&Contact| c.has_phone();
        a.contact
            .as_ref()
            .filter(usable)
            .map(|c| (c, ContactSource::Pas))
            .or_else(|| {
                self.first_clinic(a, |c| c.contact.as_ref().filter(usable))
                    .map(|c| (c, ContactSource::Clinic))
            })
            .or_else(|| {
                self.trust(&a.organisation.ods_code)
                    .and_then(|t| t.contact.as_ref())
                    .filter(usable)
                    .map(|c| (c, ContactSource::Trust))
            })
    }

    /// How to prepare for `a`, only while it is booked and upcoming at `now`: the PAS's
    /// instruction first, else the first matching clinic's text.
    pub fn preparation<'a>(
        &'a self,
        a: &'a Appointment,
        now: DateTime<Utc>,
    ) -> Option<(&'a str, PreparationSource)> {
        if a.status != AppointmentStatus::Booked || !a.is_future(now) {
            return None;
        }
        a.patient_instruction
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| (t, PreparationSource::Pas))
            .or_else(|| {
                self.first_clinic(a, |c| c.preparation.as_deref())
                    .map(|t| (t, PreparationSource::Clinic))
            })
    }

    /// How soon the trust of `a` usually answers a request, if it says.
    pub fn expected_response(&self, a: &Appointment) -> Option<&str> {
        self.trust(&a.organisation.ods_code)
            .and_then(|t| t.expected_response.as_deref())
    }

    /// The policy warning the trust of `a` shows before a patient cancels, if any.
    pub fn cancel_warning(&self, a: &Appointment) -> Option<&str> {
        self.trust(&a.organisation.ods_code)
            .and_then(|t| t.cancel_warning.as_deref())
    }
}

/// A patient's request still waiting for the trust: what it is and when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentRequest {
    /// Cancel or reschedule.
    pub kind: RequestKind,
    /// When the patient sent it.
    pub sent_at: DateTime<Utc>,
}

/// What happens next, by the appointment's status and request state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSteps {
    /// Booked and upcoming, nothing waiting: the page's actions say what can be done.
    Upcoming,
    /// A request waits for the trust's booking team.
    RequestSent(SentRequest),
    /// The hospital cancelled it: what happens now and whom to contact.
    CancelledByHospital,
    /// Cancelled as the patient asked.
    CancelledByPatient,
    /// Cancelled, and the PAS does not say by whom.
    Cancelled,
    /// Its time has passed (attended, missed, or booked in the past).
    Past,
}

/// What happens next for `a` at `now`, given the patient's pending request (if any).
///
/// A request is only "sent" while the appointment is booked and upcoming (a request on a
/// finished or hospital-cancelled appointment is resolved, see
/// [`crate::request_status::stale_request`]); a cancelled appointment says who cancelled it
/// whether or not its time has passed.
pub fn next_steps(a: &Appointment, pending: Option<SentRequest>, now: DateTime<Utc>) -> NextSteps {
    match a.status {
        AppointmentStatus::Cancelled => match a.cancelled_by {
            Some(ChangeReason::Hospital) => NextSteps::CancelledByHospital,
            Some(ChangeReason::Patient) => NextSteps::CancelledByPatient,
            None => NextSteps::Cancelled,
        },
        AppointmentStatus::Fulfilled | AppointmentStatus::NoShow => NextSteps::Past,
        AppointmentStatus::Booked if !a.is_future(now) => NextSteps::Past,
        AppointmentStatus::Booked => match pending {
            Some(sent) => NextSteps::RequestSent(sent),
            None => NextSteps::Upcoming,
        },
    }
}

#[cfg(test)]
mod tests;
