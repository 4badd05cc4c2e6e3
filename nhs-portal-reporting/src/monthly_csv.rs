//! The monthly CSV report ("Method 1"), for trusts not yet sending to the Reporting Service
//! API: the month's stored events, **aggregated** and anonymised.
//!
//! **ASSUMPTION TO CONFIRM WITH NHS ENGLAND.** The Method 1 file layout is not public (it is
//! described only in the Wayfinder SRS given to onboarded suppliers); the guidance describes it
//! as anonymised data aggregated per month. Until it is confirmed, [`MonthlyReport`] writes one
//! row per (trust, event code, outcome) with its count, in this order ([`COLUMNS`]):
//!
//! `Month,ODSCode,EventCode,Outcome,Count`
//!
//! - `Month`: `YYYY-MM`, the calendar month **in UK time** (Europe/London) in which the events
//!   happened (their `Timestamp`).
//! - `ODSCode`: the trust. `APPT` and `ADMISSION` carry it; a child event (`APPT-VIEW`,
//!   `APPT-CANC`, ...) takes its parent's, which the call sites write first in the same
//!   transaction; a child whose parent is not in the month is counted with an empty `ODSCode`,
//!   and so is `SESSION` (a sign-in belongs to no one trust).
//! - `EventCode`: the Reporting Service's code (`SESSION`, `APPT`, `APPT-VIEW`, ...).
//! - `Outcome`: `SESSION`'s `Status` (`success`, `dobMissmatch`, `failed`); the `Status` of
//!   `APPT` and `ADMISSION` (`booked`, `fulfilled`, `cancelled`, `noshow`); the `Reason` of
//!   `APPT-CANC` and `APPT-RESCH` (`PATIENT`, `HOSPITAL`); empty for the rest.
//! - `Count`: how many.
//!
//! Rows are sorted by `ODSCode`, `EventCode`, `Outcome`. No NHS number, session, appointment or
//! tracking id, device or time of day is written: nothing in the file identifies a patient.
//! The layout is the [`RowKey`] and [`COLUMNS`] pair in this file, so a confirmed layout is one
//! change here.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use nhs_portal_core::reporting::SessionOutcome;
use nhs_portal_core::store::{Outbox, StoreError};
use nhs_portal_core::{AppointmentId, AppointmentStatus, ReportingEvent};

/// The assumed columns, in order (see the module docs).
pub const COLUMNS: [&str; 5] = ["Month", "ODSCode", "EventCode", "Outcome", "Count"];

/// Events read from the store per page.
pub const PAGE: usize = 1000;

/// Why a monthly report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonthlyError {
    /// The month is not `YYYY-MM`.
    #[error("the month must be YYYY-MM, such as 2026-11")]
    BadMonth,
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// Writing the CSV failed.
    #[error("could not write the CSV")]
    Csv(#[from] csv::Error),
    /// Writing the output failed.
    #[error("could not write the report")]
    Io(#[from] std::io::Error),
}

/// A calendar month in UK time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// Parses `YYYY-MM`.
    ///
    /// ```
    /// use nhs_portal_reporting::monthly_csv::Month;
    /// assert_eq!(Month::parse("2026-11").unwrap().to_string(), "2026-11");
    /// assert!(Month::parse("2026-13").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, MonthlyError> {
        let (y, m) = s.trim().split_once('-').ok_or(MonthlyError::BadMonth)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(MonthlyError::BadMonth);
        }
        let (y, m) = (
            y.parse().map_err(|_| MonthlyError::BadMonth)?,
            m.parse().map_err(|_| MonthlyError::BadMonth)?,
        );
        NaiveDate::from_ymd_opt(y, m, 1)
            .map(|first| Self { first })
            .ok_or(MonthlyError::BadMonth)
    }

    /// The UK month `t` falls in.
    pub fn of(t: DateTime<Utc>) -> Self {
        let d = nhs_portal_core::uk_time::uk_date(t);
        Self {
            first: d.with_day0(0).unwrap_or(d),
        }
    }

    /// The month's instants: from UK midnight on its first day to UK midnight on the next
    /// month's first day.
    pub fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        let next = self
            .first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
        (uk_midnight(self.first), uk_midnight(next))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

fn uk_midnight(d: NaiveDate) -> DateTime<Utc> {
    use nhs_portal_core::uk_time::{UkLocal, from_uk_local};
    let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    // UK clocks change at 01:00 or 02:00, never at midnight, so midnight is always exact.
    match from_uk_local(local) {
        UkLocal::Exact(t) | UkLocal::Ambiguous { earliest: t, .. } => t,
        UkLocal::Gap => Utc.from_utc_datetime(&local),
    }
}

/// What one row counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// The trust, or empty (see the module docs).
    pub ods_code: String,
    /// The Wayfinder event code.
    pub event_code: &'static str,
    /// The outcome, or empty.
    pub outcome: &'static str,
}

/// Progress of a long export, after each page read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events read so far.
    pub events: u64,
}

/// One month's aggregated counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyReport {
    /// The month.
    pub month: Month,
    /// Counts by row, in row order.
    pub rows: BTreeMap<RowKey, u64>,
}

fn status(s: AppointmentStatus) -> &'static str {
    s.fhir_code()
}

fn outcome(e: &ReportingEvent) -> &'static str {
    use nhs_portal_core::reporting::ChangeReason;
    let reason = |r: &ChangeReason| match r {
        ChangeReason::Patient => "PATIENT",
        ChangeReason::Hospital => "HOSPITAL",
    };
    match e {
        ReportingEvent::Session { outcome, .. } => match outcome {
            SessionOutcome::Success => "success",
            SessionOutcome::DobMismatch => "dobMissmatch",
            SessionOutcome::Failed => "failed",
        },
        ReportingEvent::Appointment { status: s, .. }
        | ReportingEvent::Admission { status: s, .. } => status(*s),
        ReportingEvent::Cancelled { reason: r, .. }
        | ReportingEvent::Rescheduled { reason: r, .. } => reason(r),
        _ => "",
    }
}

impl MonthlyReport {
    /// Counts `month`'s stored events (any delivery state), reading the store a page at a time
    /// and telling `progress` after each page.
    pub async fn from_store(
        outbox: &dyn Outbox,
        month: Month,
        mut progress: impl FnMut(Progress),
    ) -> Result<Self, MonthlyError> {
        let (from, to) = month.bounds();
        let mut report = Self {
            month,
            rows: BTreeMap::new(),
        };
        let mut trusts: HashMap<AppointmentId, String> = HashMap::new();
        let (mut after, mut read) = (0, 0u64);
        loop {
            let page = outbox.events_between(from, to, after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            read += page.len() as u64;
            for (_, event) in &page {
                report.count(event, &mut trusts);
            }
            progress(Progress { events: read });
            if page.len() < PAGE {
                break;
            }
        }
        Ok(report)
    }

    fn count(&mut self, event: &ReportingEvent, trusts: &mut HashMap<AppointmentId, String>) {
        let ods = match event {
            ReportingEvent::Appointment {
                appointment,
                ods_code,
                ..
            }
            | ReportingEvent::Admission {
                appointment,
                ods_code,
                ..
            } => {
                trusts.insert(appointment.clone(), ods_code.as_str().to_owned());
                ods_code.as_str().to_owned()
            }
            other => other
                .appointment()
                .and_then(|a| trusts.get(a).cloned())
                .unwrap_or_default(),
        };
        let key = RowKey {
            ods_code: ods,
            event_code: event.event_code(),
            outcome: outcome(event),
        };
        *self.rows.entry(key).or_default() += 1;
    }

    /// Writes the CSV, header first ([`COLUMNS`]).
    pub fn write_csv(&self, out: impl std::io::Write) -> Result<(), MonthlyError> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(COLUMNS)?;
        let month = self.month.to_string();
        for (k, n) in &self.rows {
            w.write_record([
                month.as_str(),
                &k.ods_code,
                k.event_code,
                k.outcome,
                &n.to_string(),
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
