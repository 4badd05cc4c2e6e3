//! Which patients' NHS numbers may go to the Record Service (16 and over, not restricted, known).

use async_trait::async_trait;
use chrono::NaiveDate;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::eligibility::{Eligibility as EligibilityRule, Ineligible, PatientFacts};

/// Whether a patient's NHS number may go to the Record Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Send it.
    Eligible,
    /// Under 16: send from this (UK) date, their 16th birthday.
    UnderSixteen {
        /// Their 16th birthday.
        turns_16_on: NaiveDate,
    },
    /// A sensitive or restricted record: never send while it stays so.
    Restricted,
    /// The patient is not known, or their date of birth is not: do not send.
    Unknown,
}

impl Eligibility {
    /// The rule, from what the PAS holds: restricted first, then age on `today` (UK date).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use nhs_portal_reporting::record_service::Eligibility;
    /// let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    /// assert_eq!(Eligibility::from_patient(Some(d(2000, 1, 1)), false, d(2024, 1, 1)), Eligibility::Eligible);
    /// assert_eq!(
    ///     Eligibility::from_patient(Some(d(2010, 5, 2)), false, d(2024, 1, 1)),
    ///     Eligibility::UnderSixteen { turns_16_on: d(2026, 5, 2) }
    /// );
    /// ```
    pub fn from_patient(
        date_of_birth: Option<NaiveDate>,
        restricted: bool,
        today: NaiveDate,
    ) -> Self {
        // The Record Service rule is the portal's (nhs_portal_core::eligibility) without the
        // trust's portal-access flag, which is about the portal, not about the PCA asking.
        let facts = PatientFacts {
            date_of_birth,
            restricted,
            portal_access: true,
        };
        match RULE.check_on(&facts, today) {
            Ok(()) => Self::Eligible,
            Err(Ineligible::TooYoung { eligible_from }) => Self::UnderSixteen {
                turns_16_on: eligible_from,
            },
            Err(Ineligible::Restricted) => Self::Restricted,
            Err(
                Ineligible::UnknownAge
                | Ineligible::NoPortalAccess
                | Ineligible::DateOfBirthMismatch,
            ) => Self::Unknown,
        }
    }
}

/// The eligibility rule the sender applies (16 and over: the Record Service's rule is fixed).
const RULE: EligibilityRule = EligibilityRule::DEFAULT;

/// The date someone born on `dob` turns 16; 29 February birthdays fall on 1 March in common years.
pub fn sixteenth_birthday(dob: NaiveDate) -> NaiveDate {
    RULE.eligible_from(dob)
}

/// Why eligibility could not be decided (the PAS is down, say). The number stays queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EligibilityError {
    /// The source of patient data failed.
    #[error("patient data is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Decides whether a patient may be sent; the caller implements it over the PAS (for example
/// with `nhs_portal_pas::PasBackend::patient` and [`Eligibility::from_patient`]).
#[async_trait]
pub trait PatientEligibility: Send + Sync {
    /// The patient's eligibility on `today` (UK date).
    async fn eligibility(
        &self,
        patient: &NhsNumber,
        today: NaiveDate,
    ) -> Result<Eligibility, EligibilityError>;

    /// The eligibility of several patients, one answer per patient in the same order. The
    /// default asks [`PatientEligibility::eligibility`] for each in turn; override it when the
    /// source can answer in bulk (one SQL query, one FHIR search).
    async fn eligibility_batch(
        &self,
        patients: &[NhsNumber],
        today: NaiveDate,
    ) -> Vec<Result<Eligibility, EligibilityError>> {
        let mut out = Vec::with_capacity(patients.len());
        for p in patients {
            out.push(self.eligibility(p, today).await);
        }
        out
    }
}
