//! The eligibility gate of the patient pages: the core rule ([`nhs_portal_core::eligibility`],
//! the one the PCA Get Appointments API applies, with the trust's minimum age) on the PAS's
//! record of the signed-in patient and NHS login's date of birth. The web layer asks it before
//! every patient page and journey step, and at sign-in (a date of birth that differs from the
//! PAS record's makes no session).

use chrono::NaiveDate;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::eligibility::{Eligibility, PatientFacts};
use nhs_portal_core::store::{AuditAction, AuditRecord};

use super::{JourneyError, Journeys};

impl Journeys {
    /// The same service with the trust's eligibility rule (default: [`Eligibility::DEFAULT`],
    /// 16 and over).
    pub fn with_eligibility(mut self, rule: Eligibility) -> Self {
        self.eligibility = rule;
        self
    }

    /// The eligibility rule in force.
    pub fn eligibility_rule(&self) -> Eligibility {
        self.eligibility
    }

    /// Whether `patient`, whose NHS login date of birth is `login_dob`, may be shown anything:
    /// [`Eligibility::check_signed_in`] on the PAS's record of them, now. A refusal is
    /// [`JourneyError::Ineligible`] and leaves an `AccessRefused` audit record naming the rule
    /// (`session` is the session's reporting id, when there is one).
    pub async fn check_eligible(
        &self,
        patient: &NhsNumber,
        login_dob: Option<NaiveDate>,
        session: Option<&str>,
    ) -> Result<(), JourneyError> {
        let record = self.pas.patient(patient).await?;
        let facts = record
            .filter(|r| &r.nhs_number == patient)
            .map(|r| PatientFacts {
                date_of_birth: Some(r.date_of_birth),
                restricted: r.restricted,
                portal_access: r.portal_access,
            });
        let now = self.now();
        let Err(refused) = self
            .eligibility
            .check_signed_in(login_dob, facts.as_ref(), now)
        else {
            return Ok(());
        };
        self.store
            .append_audit(&AuditRecord {
                at: now,
                patient: patient.clone(),
                actor: "patient".into(),
                session: session.map(str::to_owned),
                action: AuditAction::AccessRefused,
                appointment: None,
                detail: Some(format!("ineligible={}", refused.code())),
            })
            .await?;
        Err(JourneyError::Ineligible(refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use chrono::Utc;
    use nhs_portal_core::clock::ManualClock;
    use nhs_portal_core::eligibility::Ineligible;
    use nhs_portal_core::store::AuditLog;
    use nhs_portal_core::store::memory::MemoryStore;
    use nhs_portal_pas::demo;

    #[tokio::test]
    async fn each_demo_patient_meets_its_rule_and_refusals_are_audited() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let data = demo::DemoData::build(now);
        let store = Arc::new(MemoryStore::new());
        let journeys = Journeys::new(
            Arc::new(data.simulated_pas(clock.clone())),
            store.clone(),
            clock,
        );
        let cases: [(&str, Result<(), &str>); 6] = [
            (demo::ADULT, Ok(())),
            (demo::SECOND_ADULT, Ok(())),
            (demo::UNDER_16, Err("under-minimum-age")),
            (demo::NO_PORTAL_ACCESS, Err("no-portal-access")),
            (demo::RESTRICTED, Err("restricted")),
            (demo::DOB_MISMATCH, Err("date-of-birth-mismatch")),
        ];
        for (nhs, want) in cases {
            let patient = data.patient(nhs).unwrap();
            let got = journeys
                .check_eligible(
                    &patient.record.nhs_number,
                    Some(patient.nhs_login_dob()),
                    Some("r-1"),
                )
                .await;
            let got = got.map_err(|e| match e {
                JourneyError::Ineligible(i) => i.code(),
                other => panic!("{other:?}"),
            });
            assert_eq!(got, want, "{nhs}");
            let audit = store
                .audit_for_patient(&patient.record.nhs_number, 5)
                .await
                .unwrap();
            match want {
                Ok(()) => assert!(audit.is_empty(), "{nhs}"),
                Err(code) => {
                    assert_eq!(audit[0].action, AuditAction::AccessRefused);
                    assert_eq!(
                        audit[0].detail.as_deref(),
                        Some(format!("ineligible={code}").as_str())
                    );
                }
            }
        }
        // A trust's higher threshold is the same rule.
        let adult = data.patient(demo::ADULT).unwrap();
        let strict = journeys.with_eligibility(Eligibility::with_minimum_age(200));
        assert!(matches!(
            strict
                .check_eligible(&adult.record.nhs_number, Some(adult.nhs_login_dob()), None)
                .await,
            Err(JourneyError::Ineligible(Ineligible::TooYoung { .. }))
        ));
    }
}
