//! What a sign-in reports to Wayfinder: one `SESSION` event per sign-in whose patient is known,
//! with its `Status`, and the deep link's tracking id carried to the page the sign-in returns to
//! (where the jump-off is reported as `APPT-VIEW` or `ADMISSION-VIEW`).
//!
//! - `success`: a session started (with its audit record, in one transaction).
//! - `dobMissmatch` (the spec's spelling): NHS login's date of birth differs from the PAS
//!   record's; no session starts. `Id` is a fresh id for the attempt.
//! - `failed`: NHS login's ID token was authentic (signature, issuer, audience, expiry, nonce)
//!   but a later check refused the sign-in: identity below P9, a vector of trust not asked for,
//!   or userinfo about someone else. `Id` is a fresh id for the attempt.
//!
//! **Failures that cannot be reported** (`SESSION` requires the NHS number, and none is known or
//! trustworthy): the patient refused consent, single sign-on from the NHS App failed
//! (`sso_login_required`, `login_required`), NHS login answered another error or was
//! unavailable, the callback's state was unknown, used or expired, the callback was not started
//! in this browser, and an ID token that failed its signature, issuer, audience, expiry or nonce
//! check (its claims are not NHS login's word).
//!
//! `isOpenInNHSApp` is true when any of the NHS App's markers was seen: its web view's
//! User-Agent (`nhsapp-ios/`, `nhsapp-android/`) on the callback or at the start, or a sign-in
//! by the NHS App's single sign-on (the deep link's `assertedLoginIdentity`, which only the NHS
//! App adds). Only the User-Agent decides how pages look (the NHS App simulator's links open in
//! an ordinary browser).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, header};
use nhs_portal_core::reporting::SessionOutcome;
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::{NhsNumber, ReportingEvent};

use super::super::routes::Ctx;

/// The most characters of `Device` (the spec's `maxLength`).
const MAX_DEVICE_CHARS: usize = 512;

/// Who tried to sign in, as far as the sign-in knows.
pub(super) struct Attempt<'a> {
    /// The patient.
    pub(super) patient: &'a NhsNumber,
    /// The session's reporting id; `None` when no session started (a fresh id is made).
    pub(super) session_id: Option<&'a str>,
    /// The sign-in's record says it started in the NHS App (User-Agent or single sign-on).
    pub(super) in_nhs_app: bool,
    /// The deep link's tracking id, from the sign-in's record.
    pub(super) tracking_id: Option<&'a str>,
}

/// The `SESSION` event for an attempt.
pub(super) fn session_event(
    ctx: &Ctx,
    req: &Request<Bytes>,
    who: Attempt<'_>,
    outcome: SessionOutcome,
    at: DateTime<Utc>,
) -> ReportingEvent {
    ReportingEvent::Session {
        at,
        patient: who.patient.clone(),
        session_id: who
            .session_id
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        in_nhs_app: who.in_nhs_app || ctx.ua_in_app,
        device: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_DEVICE_CHARS).collect()),
        outcome,
        tracking_id: who.tracking_id.map(str::to_owned),
    }
}

/// `target` with `trackingId` added when the sign-in came from a deep link with one and the
/// return path lost it (a query too long to keep whole keeps only the path): the page then
/// reports the jump-off. Unchanged when it already has one, or when adding it would make it
/// unsafe to return to.
pub(super) fn with_tracking_id(target: &str, tracking_id: Option<&str>) -> String {
    let Some(tracking) = tracking_id.filter(|t| !t.is_empty()) else {
        return target.to_owned();
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let has_one = url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, _)| k.eq_ignore_ascii_case("trackingId"));
    if has_one || !path.starts_with("/patient-portal/appointment/") {
        return target.to_owned();
    }
    let mut q = url::form_urlencoded::Serializer::new(query.to_owned());
    q.append_pair("trackingId", tracking);
    let with = format!("{path}?{}", q.finish());
    if is_safe_portal_return(&with) {
        with
    } else {
        target.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::with_tracking_id;

    #[test]
    fn the_tracking_id_is_put_back_only_where_it_was_lost() {
        let page = "/patient-portal/appointment/a-1";
        let cases = [
            (page, Some("t-1"), format!("{page}?trackingId=t-1")),
            (
                "/patient-portal/appointment/a-1?extSystemName=P&trackingId=t-0",
                Some("t-1"),
                "/patient-portal/appointment/a-1?extSystemName=P&trackingId=t-0".to_owned(),
            ),
            (
                "/patient-portal/appointment/a-1?trackingid=t-0",
                Some("t-1"),
                "/patient-portal/appointment/a-1?trackingid=t-0".to_owned(),
            ),
            (
                "/patient-portal/appointment/a-1?x=1",
                Some("t 1"),
                "/patient-portal/appointment/a-1?x=1&trackingId=t+1".to_owned(),
            ),
            (page, None, page.to_owned()),
            (page, Some(""), page.to_owned()),
            (
                "/patient-portal/appointments",
                Some("t-1"),
                "/patient-portal/appointments".to_owned(),
            ),
        ];
        for (target, tracking, want) in cases {
            assert_eq!(
                with_tracking_id(target, tracking),
                want,
                "{target} {tracking:?}"
            );
        }
        let huge = "x".repeat(4000);
        assert_eq!(with_tracking_id(page, Some(&huge)), page);
    }
}
