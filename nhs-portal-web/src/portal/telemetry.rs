//! What the portal records about each request, through the [`metrics`] facade: no IO here.
//! The binary that serves the portal installs a recorder and exports it (the reference portal:
//! Prometheus text at `/metrics`); without one, recording costs next to nothing.
//!
//! Labels are fixed names (a route's [`label`](super::routes::Route::label), a mount's prefix)
//! and status codes, never a path, an id or anything a patient typed.

use std::time::Duration;

/// Requests answered, by `route` and `status`.
pub const REQUESTS: &str = "nhs_portal_http_requests_total";
/// Time to answer, in seconds, by `route`.
pub const REQUEST_SECONDS: &str = "nhs_portal_http_request_duration_seconds";

/// Records one answered request.
pub(super) fn request(route: metrics::SharedString, status: http::StatusCode, took: Duration) {
    metrics::counter!(REQUESTS, "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "route" => route).record(took.as_secs_f64());
}

/// Sign-ins finished, by `outcome` (`success`, `dob_mismatch`, or the failure's kind) and
/// `sso` (`true` for single sign-on from the NHS App): the SSO success rate is
/// `outcome="success",sso="true"` over `sso="true"`.
pub const SIGN_INS: &str = "nhs_portal_sign_ins_total";
/// Deep links into an appointment page that arrived (from the NHS App or anywhere else).
pub const DEEP_LINK_LAUNCHES: &str = "nhs_portal_deep_link_launches_total";

/// The outcome labels, each recorded at zero from the start (so an alert has a series).
const OUTCOMES: [&str; 8] = [
    "success",
    "dob_mismatch",
    "consent_refused",
    "sso_failed",
    "identity_too_low",
    "state_mismatch",
    "unavailable",
    "failed",
];

/// Records zero for every sign-in outcome and for deep-link launches.
pub fn register_zero() {
    for outcome in OUTCOMES {
        for sso in ["true", "false"] {
            metrics::counter!(SIGN_INS, "outcome" => outcome, "sso" => sso).increment(0);
        }
    }
    metrics::counter!(DEEP_LINK_LAUNCHES).increment(0);
}

/// Records one finished sign-in.
pub(super) fn sign_in(outcome: &'static str, sso: bool) {
    metrics::counter!(SIGN_INS, "outcome" => outcome, "sso" => if sso { "true" } else { "false" })
        .increment(1);
}

/// The label of a failed sign-in: its kind, never its message.
pub(super) fn failure(f: &crate::sign_in::SignInFailure) -> &'static str {
    use crate::sign_in::SignInFailure as F;
    match f {
        F::ConsentRefused => "consent_refused",
        F::SsoFailed => "sso_failed",
        F::IdentityTooLow => "identity_too_low",
        F::StateMismatch => "state_mismatch",
        F::Unavailable => "unavailable",
        _ => "failed",
    }
}

/// Records one deep link that arrived.
pub(super) fn deep_link_launch() {
    metrics::counter!(DEEP_LINK_LAUNCHES).increment(1);
}
