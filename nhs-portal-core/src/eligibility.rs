//! Who the portal may serve: the patient eligibility rule, in one place.
//!
//! A patient is served when they are old enough on today's **UK** date (16 by default, NHS
//! England's rule for the NHS App's hospital appointments: WF-NFR-16; configurable), their
//! record is not restricted (PDS sensitive, PCA rule SRCBR1b) and the trust has not flagged them
//! as not allowed portal access (SRCBR1a). A date of birth nobody holds counts as "not shown to
//! be old enough".
//!
//! Ages are whole years; someone born on 29 February turns a year older on 1 March in common
//! years (so they turn 16 on 1 March when their 16th birthday year is not a leap year).
//!
//! For a patient identified by NHS login (the patient pages and the PCA Get Appointments API),
//! [`Eligibility::check_signed_in`] adds the date-of-birth cross-check: NHS login's date of birth
//! must be the PAS record's, and the age is counted from NHS login's.
//!
//! The PCA Get Appointments API, the patient pages' gate, the Record Service sender and the NHS
//! login simulator's age label all use this module.
//!
//! ```
//! use chrono::{NaiveDate, TimeZone, Utc};
//! use nhs_portal_core::eligibility::{Eligibility, Ineligible, PatientFacts};
//! let rule = Eligibility::default();
//! let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
//! let facts = PatientFacts::new(Some(d(2010, 5, 2)));
//! let now = Utc.with_ymd_and_hms(2026, 5, 1, 23, 30, 0).unwrap(); // 2 May 00:30 in the UK
//! assert_eq!(rule.check(&facts, now), Ok(()));
//! let earlier = Utc.with_ymd_and_hms(2026, 5, 1, 22, 30, 0).unwrap(); // 1 May 23:30 in the UK
//! assert_eq!(
//!     rule.check(&facts, earlier),
//!     Err(Ineligible::TooYoung { eligible_from: d(2026, 5, 2) })
//! );
//! ```

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::uk_time;

/// The youngest age served by default (WF-NFR-16).
pub const DEFAULT_MINIMUM_AGE: u32 = 16;

/// What the rule needs to know about a patient (from the PAS, or from an NHS login token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientFacts {
    /// Date of birth, if known.
    pub date_of_birth: Option<NaiveDate>,
    /// A PDS restricted (sensitive) record.
    pub restricted: bool,
    /// Whether the trust allows this patient portal access.
    pub portal_access: bool,
}

impl PatientFacts {
    /// An unrestricted patient with portal access, born on `date_of_birth`.
    pub fn new(date_of_birth: Option<NaiveDate>) -> Self {
        Self {
            date_of_birth,
            restricted: false,
            portal_access: true,
        }
    }
}

/// Why a patient may not be served, in the order the rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    /// A restricted (sensitive) record.
    #[error("restricted record")]
    Restricted,
    /// The trust flagged the patient as not allowed portal access.
    #[error("no portal access")]
    NoPortalAccess,
    /// No date of birth is known, so the patient is not shown to be old enough.
    #[error("age unknown")]
    UnknownAge,
    /// Too young today; eligible from this UK date (their birthday at the minimum age).
    #[error("under the minimum age")]
    TooYoung {
        /// The first UK date they are old enough.
        eligible_from: NaiveDate,
    },
    /// NHS login's date of birth is not the PAS record's: the two may not be the same person.
    #[error("date of birth differs from the PAS record")]
    DateOfBirthMismatch,
}

impl Ineligible {
    /// A stable name (safe to log and to put in an audit record: it names no patient).
    pub fn code(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::NoPortalAccess => "no-portal-access",
            Self::UnknownAge => "age-unknown",
            Self::TooYoung { .. } => "under-minimum-age",
            Self::DateOfBirthMismatch => "date-of-birth-mismatch",
        }
    }
}

/// The eligibility rule, with its minimum age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eligibility {
    minimum_age: u32,
}

impl Default for Eligibility {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Eligibility {
    /// The default rule: [`DEFAULT_MINIMUM_AGE`].
    pub const DEFAULT: Self = Self::with_minimum_age(DEFAULT_MINIMUM_AGE);

    /// The rule with another minimum age (a trust's local policy; the default is
    /// [`DEFAULT_MINIMUM_AGE`]).
    pub const fn with_minimum_age(minimum_age: u32) -> Self {
        Self { minimum_age }
    }

    /// The minimum age.
    pub fn minimum_age(&self) -> u32 {
        self.minimum_age
    }

    /// The first date someone born on `date_of_birth` is old enough.
    pub fn eligible_from(&self, date_of_birth: NaiveDate) -> NaiveDate {
        birthday(date_of_birth, self.minimum_age)
    }

    /// Whether someone born on `date_of_birth` is old enough on the UK date `today`.
    pub fn old_enough_on(
        &self,
        date_of_birth: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), Ineligible> {
        let eligible_from = self.eligible_from(date_of_birth);
        if today >= eligible_from {
            Ok(())
        } else {
            Err(Ineligible::TooYoung { eligible_from })
        }
    }

    /// Whether someone born on `date_of_birth` is old enough at `now` (on its UK date).
    pub fn old_enough(
        &self,
        date_of_birth: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), Ineligible> {
        self.old_enough_on(date_of_birth, uk_time::uk_date(now))
    }

    /// The whole rule on the UK date `today`: restricted, then portal access, then age.
    pub fn check_on(&self, facts: &PatientFacts, today: NaiveDate) -> Result<(), Ineligible> {
        if facts.restricted {
            return Err(Ineligible::Restricted);
        }
        if !facts.portal_access {
            return Err(Ineligible::NoPortalAccess);
        }
        let dob = facts.date_of_birth.ok_or(Ineligible::UnknownAge)?;
        self.old_enough_on(dob, today)
    }

    /// The whole rule at `now` (on its UK date).
    pub fn check(&self, facts: &PatientFacts, now: DateTime<Utc>) -> Result<(), Ineligible> {
        self.check_on(facts, uk_time::uk_date(now))
    }

    /// The rule for a patient identified by NHS login, on the UK date `today`: `login_dob` is
    /// NHS login's date of birth, `record` the PAS's facts (`None`: the PAS does not know the
    /// patient, so there is no record to contradict and no flag set).
    ///
    /// In order: a PAS date of birth that differs from NHS login's
    /// ([`Ineligible::DateOfBirthMismatch`]), then [`Eligibility::check_on`] with the PAS's flags
    /// and NHS login's date of birth.
    pub fn check_signed_in_on(
        &self,
        login_dob: Option<NaiveDate>,
        record: Option<&PatientFacts>,
        today: NaiveDate,
    ) -> Result<(), Ineligible> {
        if let (Some(login), Some(pas)) = (login_dob, record.and_then(|r| r.date_of_birth))
            && login != pas
        {
            return Err(Ineligible::DateOfBirthMismatch);
        }
        let facts = PatientFacts {
            date_of_birth: login_dob,
            ..record.copied().unwrap_or(PatientFacts::new(None))
        };
        self.check_on(&facts, today)
    }

    /// [`Eligibility::check_signed_in_on`] at `now` (on its UK date).
    pub fn check_signed_in(
        &self,
        login_dob: Option<NaiveDate>,
        record: Option<&PatientFacts>,
        now: DateTime<Utc>,
    ) -> Result<(), Ineligible> {
        self.check_signed_in_on(login_dob, record, uk_time::uk_date(now))
    }
}

/// The date someone born on `date_of_birth` turns `age`: their birthday that year, or 1 March
/// when they were born on 29 February and that year is not a leap year.
pub fn birthday(date_of_birth: NaiveDate, age: u32) -> NaiveDate {
    let year = date_of_birth.year() + age as i32;
    NaiveDate::from_ymd_opt(year, date_of_birth.month(), date_of_birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// Age in whole years on `today` (a 29 February birthday counts from 1 March in common years).
pub fn age_on(date_of_birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - date_of_birth.year();
    if (today.month(), today.day()) < (date_of_birth.month(), date_of_birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ages_and_birthdays() {
        // (born, today, age on today, 16th birthday)
        let cases = [
            ("2010-03-10", "2026-03-09", 15, "2026-03-10"),
            ("2010-03-10", "2026-03-10", 16, "2026-03-10"),
            ("2008-02-29", "2024-02-28", 15, "2024-02-29"),
            ("2008-02-29", "2024-02-29", 16, "2024-02-29"),
            ("2012-02-29", "2028-02-28", 15, "2028-02-29"),
            ("2011-02-28", "2027-02-28", 16, "2027-02-28"),
            ("2009-02-28", "2025-02-27", 15, "2025-02-28"),
            ("1968-04-12", "2026-12-01", 58, "1984-04-12"),
        ];
        for (born, today, age, sixteen) in cases {
            assert_eq!(age_on(d(born), d(today)), age, "{born} on {today}");
            assert_eq!(birthday(d(born), 16), d(sixteen), "{born}");
        }
        // 29 February in a common year: 1 March.
        assert_eq!(birthday(d("2004-02-29"), 17), d("2021-03-01"));
        assert_eq!(age_on(d("2004-02-29"), d("2021-02-28")), 16);
        assert_eq!(age_on(d("2004-02-29"), d("2021-03-01")), 17);
    }

    #[test]
    fn the_rule_table() {
        use Ineligible::*;
        let today = d("2026-05-12");
        let facts = |dob: Option<&str>, restricted, portal_access| PatientFacts {
            date_of_birth: dob.map(d),
            restricted,
            portal_access,
        };
        let cases: [(PatientFacts, u32, Result<(), Ineligible>); 9] = [
            (facts(Some("1980-01-01"), false, true), 16, Ok(())),
            (facts(Some("2010-05-12"), false, true), 16, Ok(())),
            (
                facts(Some("2010-05-13"), false, true),
                16,
                Err(TooYoung {
                    eligible_from: d("2026-05-13"),
                }),
            ),
            (facts(Some("2010-05-13"), false, true), 15, Ok(())),
            (
                facts(Some("2008-05-13"), false, true),
                18,
                Err(TooYoung {
                    eligible_from: d("2026-05-13"),
                }),
            ),
            (facts(None, false, true), 16, Err(UnknownAge)),
            (facts(Some("1980-01-01"), true, true), 16, Err(Restricted)),
            (
                facts(Some("1980-01-01"), false, false),
                16,
                Err(NoPortalAccess),
            ),
            // restricted is checked first, then access, then age
            (facts(Some("2020-01-01"), true, false), 16, Err(Restricted)),
        ];
        for (f, age, want) in cases {
            assert_eq!(
                Eligibility::with_minimum_age(age).check_on(&f, today),
                want,
                "{f:?} {age}"
            );
        }
        assert_eq!(Eligibility::default().minimum_age(), DEFAULT_MINIMUM_AGE);
    }

    #[test]
    fn the_signed_in_rule_table() {
        use Ineligible::*;
        let today = d("2026-05-12");
        let record = |dob: &str, restricted, portal_access| PatientFacts {
            date_of_birth: Some(d(dob)),
            restricted,
            portal_access,
        };
        // (NHS login's date of birth, the PAS record, the answer)
        type Case<'a> = (
            Option<&'a str>,
            Option<PatientFacts>,
            Result<(), Ineligible>,
        );
        let cases: [Case; 9] = [
            (
                Some("1980-01-01"),
                Some(record("1980-01-01", false, true)),
                Ok(()),
            ),
            (
                Some("1980-01-01"),
                Some(record("1980-01-02", false, true)),
                Err(DateOfBirthMismatch),
            ),
            // the mismatch is checked first, even for a child or a flagged record
            (
                Some("2015-01-01"),
                Some(record("1980-01-02", true, false)),
                Err(DateOfBirthMismatch),
            ),
            (
                Some("1980-01-01"),
                Some(record("1980-01-01", true, true)),
                Err(Restricted),
            ),
            (
                Some("1980-01-01"),
                Some(record("1980-01-01", false, false)),
                Err(NoPortalAccess),
            ),
            (
                Some("2015-01-01"),
                Some(record("2015-01-01", false, true)),
                Err(TooYoung {
                    eligible_from: d("2031-01-01"),
                }),
            ),
            // unknown to the PAS: only the age, from NHS login
            (Some("1980-01-01"), None, Ok(())),
            (
                Some("2015-01-01"),
                None,
                Err(TooYoung {
                    eligible_from: d("2031-01-01"),
                }),
            ),
            (
                None,
                Some(record("1980-01-01", false, true)),
                Err(UnknownAge),
            ),
        ];
        for (login, pas, want) in cases {
            assert_eq!(
                Eligibility::default().check_signed_in_on(login.map(d), pas.as_ref(), today),
                want,
                "{login:?} {pas:?}"
            );
        }
    }

    #[test]
    fn the_uk_date_decides_not_the_utc_one() {
        let rule = Eligibility::default();
        let born = d("2010-07-01");
        // 30 June 23:30 UTC is 1 July 00:30 BST: their 16th birthday in the UK.
        let late = Utc.with_ymd_and_hms(2026, 6, 30, 23, 30, 0).unwrap();
        assert_eq!(rule.old_enough(born, late), Ok(()));
        let earlier = Utc.with_ymd_and_hms(2026, 6, 30, 22, 59, 0).unwrap();
        assert!(rule.old_enough(born, earlier).is_err());
        // In winter the UK is on UTC.
        let born = d("2010-12-01");
        let before = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 0).unwrap();
        assert!(rule.old_enough(born, before).is_err());
    }
}
