//! Errors of the Get Appointments API and the FHIR `OperationOutcome` each one is answered with.
//!
//! The PCA producer spec (v3.12.0) maps errors in a table under `components.responses.4XX` and
//! `5XX` and again in its examples, and the two disagree. The reading chosen for each status is
//! written on the variant; in short:
//!
//! | HTTP | `issue.code` | `diagnostics` | Spec reading |
//! |------|--------------|---------------|--------------|
//! | 400 | `exception` | `"patient:identifier" is required` / `... fails to match the required pattern ...` | table and examples agree |
//! | 401 | `processing` + `details.coding` `Spine-ErrorOrWarningCode` `ACCESS_DENIED` | why the bearer token was refused | the table says `processing`, the example `forbidden` + `ACCESS_DENIED`: the table's code is kept and the example's Spine coding is added |
//! | 401 | `processing` | NHS number / date of birth does not match the NHS login ID token | the table says `processing`, the example `exception`: the table wins |
//! | 403 | `forbidden` | `UNDER_16_DENIED` | table and example agree |
//! | 404 | `not-found` | `NOT_FOUND` | only when the `NHSD-Target-Identifier` check is switched on |
//! | 429 | `exception` | `Too Many Requests` | the table's `TOO_MANY_REQUESTS` is not a FHIR issue type (the R4 schema refuses it), so the example's `exception` is used |
//! | 503 | `transient` | maintenance / dependency down | WF-NFR-06 names only the status |
//! | 504 | `exception` | `Gateway Timeout` | table and example agree |
//!
//! Diagnostics never contain an NHS number or any other patient data (the spec's mismatch example
//! echoes both numbers; this implementation does not).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::{CORRELATION_ID_HEADER, FHIR_JSON};

/// The code system of Spine error codes the spec's 401 example uses.
pub const SPINE_ERROR_SYSTEM: &str = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode";

/// Why a Get Appointments request was not answered with a Bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is not `GET`: 405 (`not-supported`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The path is not the configured Appointment search path: 404 (`not-found`).
    #[error("no such endpoint")]
    UnknownPath,
    /// `X-Correlation-ID` is missing or not printable ASCII: 400 (`exception`).
    #[error("the X-Correlation-ID header is required")]
    MissingCorrelationId,
    /// `patient:identifier` is missing: 400 (`exception`).
    #[error("\"patient:identifier\" is required")]
    MissingNhsNumber,
    /// `patient:identifier` does not match the pattern or is not a valid NHS number: 400
    /// (`exception`). Holds the offending value only when it carries no NHS number digits.
    #[error("\"patient:identifier\" fails to match the required pattern")]
    InvalidNhsNumber,
    /// The bearer token is missing or refused: 401 (`processing`, Spine `ACCESS_DENIED`).
    #[error("missing or invalid OAuth 2.0 bearer token: {0}")]
    Unauthorised(&'static str),
    /// The `NHSD-ID-Token` is missing or not valid: 401 (`processing`).
    #[error("missing or invalid NHSD-ID-Token: {0}")]
    InvalidIdToken(&'static str),
    /// The NHS number in the query is not the ID token's: 401 (`processing`).
    #[error("the NHS number in the request does not match the NHS login ID token")]
    NhsNumberMismatch,
    /// The date of birth in the ID token does not match the trust's record (WF-NFR-14): 401
    /// (`processing`).
    #[error("the date of birth in the NHS login ID token does not match the patient record")]
    DateOfBirthMismatch,
    /// The patient is under 16 (date of birth from the verified ID token): 403 (`forbidden`).
    #[error("UNDER_16_DENIED")]
    Under16,
    /// `NHSD-Target-Identifier` is missing or wrong while that check is switched on: 404
    /// (`not-found`).
    #[error("NOT_FOUND")]
    TargetNotFound,
    /// More requests than the configured rate: 429 (`exception`).
    #[error("Too Many Requests")]
    RateLimited,
    /// The maintenance flag is set: 503 (`transient`).
    #[error("the service is down for maintenance")]
    Maintenance,
    /// The PAS or the store could not be reached: 503 (`transient`).
    #[error("a system this service depends on is unavailable")]
    Unavailable,
    /// The configured time (9 s by default, WF-NFR-02) ran out: 504 (`exception`).
    #[error("Gateway Timeout")]
    Timeout,
    /// Anything else that went wrong on this side: 500 (`exception`).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnknownPath | Self::TargetNotFound => StatusCode::NOT_FOUND,
            Self::MissingCorrelationId | Self::MissingNhsNumber | Self::InvalidNhsNumber => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorised(_)
            | Self::InvalidIdToken(_)
            | Self::NhsNumberMismatch
            | Self::DateOfBirthMismatch => StatusCode::UNAUTHORIZED,
            Self::Under16 => StatusCode::FORBIDDEN,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Maintenance | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The FHIR `issue.code` (an R4 IssueType code).
    pub fn issue_code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "not-supported",
            Self::UnknownPath | Self::TargetNotFound => "not-found",
            Self::MissingCorrelationId | Self::MissingNhsNumber | Self::InvalidNhsNumber => {
                "exception"
            }
            Self::Unauthorised(_)
            | Self::InvalidIdToken(_)
            | Self::NhsNumberMismatch
            | Self::DateOfBirthMismatch => "processing",
            Self::Under16 => "forbidden",
            Self::RateLimited | Self::Timeout | Self::Internal => "exception",
            Self::Maintenance | Self::Unavailable => "transient",
        }
    }

    /// The `diagnostics` text (no patient data).
    pub fn diagnostics(&self) -> String {
        match self {
            Self::InvalidNhsNumber => {
                "\"patient:identifier\" fails to match the required pattern: \
                 /^https://fhir.nhs.uk/Id/nhs-number|[1-9][0-9]{9}$/ with a valid NHS number"
                    .to_owned()
            }
            Self::Maintenance => "Service Unavailable: planned maintenance".to_owned(),
            other => other.to_string(),
        }
    }

    /// The `OperationOutcome` body.
    pub fn operation_outcome(&self) -> serde_json::Value {
        let mut issue = json!({
            "severity": "error",
            "code": self.issue_code(),
            "diagnostics": self.diagnostics(),
        });
        if matches!(self, Self::Unauthorised(_)) {
            issue["details"] = json!({
                "coding": [{
                    "system": SPINE_ERROR_SYSTEM,
                    "version": "1",
                    "code": "ACCESS_DENIED",
                    "display": "Invalid access token",
                }]
            });
        }
        json!({ "resourceType": "OperationOutcome", "issue": [issue] })
    }

    /// The whole response, echoing `X-Correlation-ID` when the request had a usable one.
    pub fn into_response(self, correlation_id: Option<&HeaderValue>) -> Response<Bytes> {
        match self {
            Self::Unavailable => crate::metered::count_error("pca_api_unavailable"),
            Self::Timeout => crate::metered::count_error("pca_api_timeout"),
            Self::Internal => crate::metered::count_error("pca_api_internal"),
            _ => {}
        }
        let mut res = crate::http_kit::json_as(self.status(), FHIR_JSON, &self.operation_outcome());
        let h = res.headers_mut();
        if let Some(id) = correlation_id {
            h.insert(CORRELATION_ID_HEADER, id.clone());
        }
        match self {
            Self::MethodNotAllowed => {
                h.insert(http::header::ALLOW, HeaderValue::from_static("GET"));
            }
            Self::RateLimited => {
                h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthorised(_) => {
                h.insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer"),
                );
            }
            _ => {}
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(ApiError, u16, &str)] = &[
            (ApiError::MissingNhsNumber, 400, "exception"),
            (ApiError::InvalidNhsNumber, 400, "exception"),
            (ApiError::MissingCorrelationId, 400, "exception"),
            (ApiError::Unauthorised("x"), 401, "processing"),
            (ApiError::InvalidIdToken("x"), 401, "processing"),
            (ApiError::NhsNumberMismatch, 401, "processing"),
            (ApiError::DateOfBirthMismatch, 401, "processing"),
            (ApiError::Under16, 403, "forbidden"),
            (ApiError::TargetNotFound, 404, "not-found"),
            (ApiError::RateLimited, 429, "exception"),
            (ApiError::Maintenance, 503, "transient"),
            (ApiError::Timeout, 504, "exception"),
            (ApiError::MethodNotAllowed, 405, "not-supported"),
        ];
        for (err, status, code) in cases {
            let resp = err.clone().into_response(None);
            assert_eq!(resp.status().as_u16(), *status, "{err:?}");
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["resourceType"], "OperationOutcome");
            assert_eq!(body["issue"][0]["code"], *code, "{err:?}");
            assert_eq!(body["issue"][0]["severity"], "error");
        }
    }

    #[test]
    fn spec_diagnostics() {
        assert_eq!(
            ApiError::MissingNhsNumber.diagnostics(),
            "\"patient:identifier\" is required"
        );
        assert_eq!(ApiError::Under16.diagnostics(), "UNDER_16_DENIED");
        assert_eq!(ApiError::TargetNotFound.diagnostics(), "NOT_FOUND");
        assert_eq!(ApiError::RateLimited.diagnostics(), "Too Many Requests");
        assert_eq!(ApiError::Timeout.diagnostics(), "Gateway Timeout");
        let body = ApiError::Unauthorised("expired").operation_outcome();
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["code"],
            "ACCESS_DENIED"
        );
    }

    #[test]
    fn echoes_correlation_id() {
        let id = HeaderValue::from_static("c93e2449-a2ef-4476-ad15-13491036be22");
        let resp = ApiError::RateLimited.into_response(Some(&id));
        assert_eq!(resp.headers()[CORRELATION_ID_HEADER], id);
        assert_eq!(resp.headers()[http::header::RETRY_AFTER], "1");
        assert_eq!(resp.headers()[http::header::CONTENT_TYPE], FHIR_JSON);
    }
}
