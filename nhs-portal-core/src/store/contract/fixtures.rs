//! Fixtures every case shares.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use crate::request_status::RequestKind;
use crate::store::*;
use crate::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};

/// A fixed instant with microseconds, so stores that keep microseconds round-trip it exactly.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).unwrap() + Duration::microseconds(123_456)
}

pub(crate) fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

/// The `n`th valid NHS number in a deterministic series (Modulus 11 check digit computed).
pub(crate) fn nhs(n: u32) -> NhsNumber {
    let mut base = 900_000_000 + n * 7;
    loop {
        let digits: Vec<u32> = base
            .to_string()
            .chars()
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * (10 - i as u32))
            .sum();
        let check = (11 - sum % 11) % 11;
        if check != 10 {
            return NhsNumber::parse(&format!("{base}{check}")).expect("valid by construction");
        }
        base += 1;
    }
}

pub(crate) fn appt(n: u32) -> AppointmentId {
    AppointmentId::parse(&format!("appt-{n}")).unwrap()
}

pub(crate) fn ods(code: &str) -> OdsCode {
    OdsCode::parse(code).unwrap()
}

pub(crate) fn session(id: &str, at: DateTime<Utc>) -> PatientSession {
    PatientSession {
        id: SessionId::new(id),
        reporting_id: format!("rep-{id}"),
        patient: nhs(1),
        date_of_birth: Some(NaiveDate::from_ymd_opt(1980, 2, 29).unwrap()),
        display_name: Some("Ann O'Neil".into()),
        created_at: at,
        last_seen_at: at,
        absolute_expiry: at + Duration::hours(12),
        in_nhs_app: true,
        tracking_id: Some("track-1".into()),
        csrf_token: format!("csrf-{id}"),
    }
}

pub(crate) fn login(state: &str) -> PendingLogin {
    PendingLogin {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: Some("verifier".into()),
        return_to: "/patient-portal/appointment/appt-1".into(),
        created_at: t0(),
        in_nhs_app: false,
        tracking_id: None,
        sso: true,
    }
}

pub(crate) fn request(key: &str, appointment: AppointmentId, patient: NhsNumber) -> NewRequest {
    NewRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: key.into(),
        appointment,
        patient,
        ods_code: ods("RJ1"),
        kind: RequestKind::Cancel,
        reason: "no-longer-needed".into(),
        details: None,
        created_at: t0(),
    }
}

pub(crate) fn audit(patient: &NhsNumber, action: AuditAction, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        at,
        patient: patient.clone(),
        actor: "patient".into(),
        session: Some("rep-s1".into()),
        action,
        appointment: Some(appt(1)),
        detail: Some("no-longer-needed".into()),
    }
}

pub(crate) fn cancel_event(appointment: &AppointmentId, at: DateTime<Utc>) -> ReportingEvent {
    ReportingEvent::CancelRequested {
        at,
        appointment: appointment.clone(),
        session_id: "rep-s1".into(),
    }
}

pub(crate) fn view_event(n: i64) -> ReportingEvent {
    ReportingEvent::AppointmentView {
        at: t0() + Duration::seconds(n),
        appointment: appt(n as u32),
        session_id: "rep-s1".into(),
        tracking_id: None,
    }
}

pub(crate) async fn submit_new(store: &dyn Store, req: &NewRequest) -> PatientRequest {
    let a = audit(&req.patient, AuditAction::CancelRequested, req.created_at);
    match store
        .submit_request(req, &a, &[cancel_event(&req.appointment, req.created_at)])
        .await
    {
        Ok(Submitted::Created(r)) => r,
        other => panic!("submit_request of a new request: expected Created, got {other:?}"),
    }
}

pub(crate) async fn claim_all(store: &dyn Store, now: DateTime<Utc>) -> Vec<OutboxItem> {
    store
        .claim_events("contract", 1000, now, mins(5))
        .await
        .expect("claim_events")
}

pub(crate) fn ids(items: &[OutboxItem]) -> Vec<i64> {
    items.iter().map(|i| i.id).collect()
}

/// A resolution at `at`.
pub(crate) fn resolve(resolution: Resolution, note: Option<&str>, at: DateTime<Utc>) -> Resolve {
    Resolve {
        resolution,
        note: note.map(str::to_owned),
        at,
    }
}
