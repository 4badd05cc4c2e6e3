use std::sync::Arc;

use chrono::{DateTime, Utc};
use nhs_portal_core::reporting::{ChangeReason, SessionOutcome};
use nhs_portal_core::store::Outbox;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::{AppointmentId, AppointmentStatus, NhsNumber, OdsCode, ReportingEvent};

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn appt(at: &str, id: &str, ods: &str, status: AppointmentStatus) -> ReportingEvent {
    ReportingEvent::Appointment {
        at: t(at),
        patient: NhsNumber::parse("9000000009").unwrap(),
        appointment: AppointmentId::parse(id).unwrap(),
        appointment_date: t("2026-12-01T10:00:00Z"),
        ods_code: OdsCode::parse(ods).unwrap(),
        status,
    }
}

fn view(at: &str, id: &str) -> ReportingEvent {
    ReportingEvent::AppointmentView {
        at: t(at),
        appointment: AppointmentId::parse(id).unwrap(),
        session_id: "sess-secret-1".into(),
        tracking_id: Some("95c487ab-d152-4cba-9c75-e8fd91a65906".into()),
    }
}

fn session(at: &str, outcome: SessionOutcome) -> ReportingEvent {
    ReportingEvent::Session {
        at: t(at),
        patient: NhsNumber::parse("9000000017").unwrap(),
        session_id: "sess-secret-2".into(),
        in_nhs_app: true,
        device: Some("Mozilla/5.0 nhsapp-ios/2.0".into()),
        outcome,
        tracking_id: None,
    }
}

#[test]
fn months_are_uk_calendar_months() {
    // (month, first instant, first instant of the next month)
    let cases = [
        // GMT all through.
        ("2026-01", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        // Starts in GMT, ends in BST (clocks go forward on 29 March 2026).
        ("2026-03", "2026-03-01T00:00:00Z", "2026-03-31T23:00:00Z"),
        // BST all through.
        ("2026-07", "2026-06-30T23:00:00Z", "2026-07-31T23:00:00Z"),
        // Year end.
        ("2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ];
    for (m, from, to) in cases {
        let month = Month::parse(m).unwrap();
        assert_eq!(month.bounds(), (t(from), t(to)), "{m}");
        assert_eq!(month.to_string(), m);
        assert_eq!(Month::of(t(from)), month, "{m} starts in itself");
        assert_ne!(
            Month::of(t(to)),
            month,
            "{m} ends before the next month's first instant"
        );
    }
    for bad in [
        "2026-13", "2026-00", "26-01", "2026/01", "2026-1", "", "2026-011",
    ] {
        assert!(Month::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn a_months_events_are_counted_by_trust_code_and_outcome_with_no_identifiers() {
    let store = Arc::new(MemoryStore::new());
    store
        .enqueue_events(&[
            // October (23:30 UTC on 31 October is still October in GMT).
            appt(
                "2026-10-31T23:30:00Z",
                "old",
                "R9N",
                AppointmentStatus::Booked,
            ),
            // November.
            session("2026-11-02T09:00:00Z", SessionOutcome::Success),
            session("2026-11-02T09:05:00Z", SessionOutcome::DobMismatch),
            session("2026-11-03T09:00:00Z", SessionOutcome::Success),
            appt(
                "2026-11-02T09:01:00Z",
                "a-1",
                "R9N",
                AppointmentStatus::Booked,
            ),
            view("2026-11-02T09:01:00Z", "a-1"),
            appt(
                "2026-11-03T09:01:00Z",
                "a-2",
                "R9E",
                AppointmentStatus::Booked,
            ),
            view("2026-11-03T09:01:00Z", "a-2"),
            appt(
                "2026-11-04T09:01:00Z",
                "a-1",
                "R9N",
                AppointmentStatus::Booked,
            ),
            view("2026-11-04T09:01:00Z", "a-1"),
            appt(
                "2026-11-05T10:00:00Z",
                "a-1",
                "R9N",
                AppointmentStatus::Cancelled,
            ),
            ReportingEvent::Cancelled {
                at: t("2026-11-05T10:00:00Z"),
                appointment: AppointmentId::parse("a-1").unwrap(),
                reason: ChangeReason::Hospital,
            },
            // A child whose parent is in October: no trust known this month.
            view("2026-11-06T10:00:00Z", "old"),
            // December.
            session("2026-12-01T00:00:00Z", SessionOutcome::Failed),
        ])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let report = MonthlyReport::from_store(store.as_ref(), Month::parse("2026-11").unwrap(), |p| {
        seen.push(p.events)
    })
    .await
    .unwrap();
    assert_eq!(seen, [12]);
    let mut out = Vec::new();
    report.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "Month,ODSCode,EventCode,Outcome,Count\n\
         2026-11,,APPT-VIEW,,1\n\
         2026-11,,SESSION,dobMissmatch,1\n\
         2026-11,,SESSION,success,2\n\
         2026-11,R9E,APPT,booked,1\n\
         2026-11,R9E,APPT-VIEW,,1\n\
         2026-11,R9N,APPT,booked,2\n\
         2026-11,R9N,APPT,cancelled,1\n\
         2026-11,R9N,APPT-CANC,HOSPITAL,1\n\
         2026-11,R9N,APPT-VIEW,,2\n"
    );
    for secret in [
        "9000000009",
        "9000000017",
        "sess-secret",
        "a-1",
        "95c487ab",
        "nhsapp",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn a_long_export_reads_in_pages_and_reports_progress() {
    let store = Arc::new(MemoryStore::new());
    let events: Vec<_> = (0..(2 * PAGE + 5))
        .map(|_| session("2026-11-10T12:00:00Z", SessionOutcome::Success))
        .collect();
    store.enqueue_events(&events).await.unwrap();
    let mut seen = Vec::new();
    let report = MonthlyReport::from_store(store.as_ref(), Month::parse("2026-11").unwrap(), |p| {
        seen.push(p.events)
    })
    .await
    .unwrap();
    let n = (2 * PAGE + 5) as u64;
    assert_eq!(seen, [PAGE as u64, 2 * PAGE as u64, n]);
    assert_eq!(report.rows.values().sum::<u64>(), n);
}
