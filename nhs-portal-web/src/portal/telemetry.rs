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
