//! (Over 400 lines: the module docs carry the spec's request order and the readings taken where
//! the spec contradicts itself, beside the one request path they describe.)
//!
//! The PCA Get Appointments API: `GET /fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}`,
//! answered with a FHIR R4 `Bundle` (`searchset`) of all the patient's appointments, as NHS
//! England's "Patient Care Aggregator Get Appointments, Documents and Questionnaires API Standard"
//! v3.12.0 (the producer spec) asks.
//!
//! [`FhirApi::handle`] turns an `http::Request<Bytes>` into an `http::Response<Bytes>`. It is a
//! [`crate::http_kit::Handler`], so it mounts in the portal as it is
//! (`portal.mount("/fhir", api)`); mount it under any path (the spec's path is an example) and
//! set [`FhirApiConfig::path`] to match.
//!
//! ## What one request goes through, in order
//! 1. `GET` on the configured path, else 405 / 404.
//! 2. Maintenance flag ([`FhirApi::set_maintenance`], WF-NFR-06) → 503.
//! 3. `X-Correlation-ID` required (echoed on every response that had one) → 400.
//! 4. Everything below runs under one timeout, 9 s by default (WF-NFR-02) → 504.
//! 5. `Authorization: Bearer` through the [`BearerValidator`] → 401. A token that passed is
//!    remembered (by its SHA-256) until its `exp`, so the same token is not verified again on
//!    each call ([`FhirApiConfig::verified_tokens`]); the forwarded ID token (step 9) likewise.
//! 6. A token bucket per authenticated client (the token's client id), 60 requests/s by
//!    default (WF-NFR-03) → 429. After the bearer check, so an unauthenticated flood cannot spend
//!    the PCA's budget, and per client, so one caller cannot spend another's.
//! 7. `NHSD-Target-Identifier`, only when [`FhirApiConfig::target_identifier`] is set → 404.
//! 8. `patient:identifier`: the spec's pattern and a valid Modulus 11 NHS number → 400.
//! 9. `NHSD-ID-Token` through the [`crate::nhs_login::ForwardedTokenVerifier`]; its NHS number must equal the
//!    query's → 401. It must carry a date of birth → 401; under 16 on today's UK date → 403.
//! 10. The PAS patient record, the PAS appointments and the store's pending requests, fetched
//!     together (no cache: a patient's request shows on the very next call, WF-NFR-04). Unknown,
//!     portal-access-flagged (SRCBR1a) or restricted (SRCBR1b) patients get an empty Bundle; a
//!     date of birth that differs from the ID token's is refused (WF-NFR-14 cross-check) → 401.
//! 11. Each appointment is mapped, given its request status (the store's pending request wins over
//!     the PAS's own), its deep link built for this request (`extSystemName`, `trackingId` = this
//!     request's `X-Correlation-ID`), then checked by the [`guard`]; failures are withheld and
//!     counted ([`FhirApi::withheld_count`]). The Bundle of typed resources the guard passed is
//!     serialized once, straight to the response's bytes ([`resource::Bundle::to_json`]).
//!
//! ## Where the spec contradicts itself, and the reading taken
//! - 200 schema: the spec's `appointmentsHappyPath` points its schema at `Appointment` while its
//!   examples are Bundles. The body is a `Bundle` per `#/components/schemas/Bundle`.
//! - Empty result: the Bundle schema requires `entry` (minItems 0) but FHIR JSON forbids empty
//!   arrays and the spec's `emptyBundle` example leaves it out. `entry` is left out when empty.
//! - `specialty` is required by the schema yet absent from every example: it is always sent.
//! - `trackingid` (prose) vs `trackingId` (URL template): links use `trackingId`; the portal's
//!   deep-link parser reads both.
//! - 401 codes, 429 code: see [`outcome`].
//! - 25 TPS (endpoint prose) vs 60 TPS (WF-NFR-03, newer): the limiter defaults to 60/s; the
//!   benchmark shows the endpoint sustains far more than 25.
//! - `X-Request-ID` and `NHSD-Target-Identifier` are commented out of the operation: accepted and
//!   ignored, the target check only runs when configured.
//! - NHS numbers failing Modulus 11 match the spec's pattern but are refused with 400: no NHS
//!   login identity can carry one.
//!
//! ## Example
//! ```
//! use std::sync::Arc;
//! use nhs_portal_core::deep_link::DeepLinkBase;
//! use nhs_portal_web::fhir_api::FhirApiConfig;
//! let config = FhirApiConfig::new(DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap(), "Example Portal");
//! assert_eq!(config.path, "/fhir/Appointment");
//! assert_eq!(config.rate_limit_per_second, 60.0);
//! assert_eq!(config.timeout, std::time::Duration::from_secs(9));
//! ```

pub mod auth;
pub mod guard;
pub mod outcome;
pub mod rate_limit;

/// Appointments the spec guard withheld from an answer (alert on any increase).
pub const WITHHELD: &str = "nhs_portal_pca_withheld_appointments_total";
/// Calls refused with 429 by the per-client rate limit, by `api`.
pub const RATE_LIMITED: &str = "nhs_portal_rate_limited_total";

/// Records zero for the withheld and rate-limited counters, so alerts have a series from the
/// start.
pub fn register_zero() {
    metrics::counter!(WITHHELD).increment(0);
    metrics::counter!(RATE_LIMITED, "api" => "pca").increment(0);
}
pub mod resource;
mod verified;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::Clock;
use nhs_portal_core::deep_link::{DeepLinkBase, LinkQuery};
use nhs_portal_core::eligibility::Eligibility;
use nhs_portal_core::overlay::overlay;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;

use crate::nhs_login::{ForwardedTokenVerifier, TokenError};

pub use auth::{BearerError, BearerValidator, Caller, JwksBearerValidator};
pub use outcome::ApiError;

/// The media type of every response.
pub const FHIR_JSON: &str = "application/fhir+json";
/// The correlation header, required on requests and echoed on responses.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";
/// The forwarded NHS login ID token header.
pub const ID_TOKEN_HEADER: &str = "nhsd-id-token";
/// The BaRS-style target header (checked only when configured).
pub const TARGET_IDENTIFIER_HEADER: &str = "nhsd-target-identifier";
/// The target identifier value the spec gives for this API.
pub const SPEC_TARGET_IDENTIFIER: &str = "db71698b-cd7c-4dd5-95c4-0aa9776595f5";
/// The search parameter.
pub const PATIENT_PARAM: &str = "patient:identifier";
/// The youngest age served by default (WF-NFR-16); see [`FhirApiConfig::eligibility`].
pub const MINIMUM_AGE: i32 = nhs_portal_core::eligibility::DEFAULT_MINIMUM_AGE as i32;
/// Longest `X-Correlation-ID` accepted.
pub const MAX_CORRELATION_ID_LEN: usize = crate::correlation::MAX_LEN;

/// Settings of the API. Build with [`FhirApiConfig::new`] and change fields as needed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FhirApiConfig {
    /// The request path served (default `/fhir/Appointment`).
    pub path: String,
    /// The portal's public base URL, for deep links.
    pub deep_link_base: DeepLinkBase,
    /// `extSystemName` in deep links: the portal's descriptive name.
    pub ext_system_name: String,
    /// The base of `Bundle.entry.fullUrl` (default `{base}/fhir/Appointment`).
    pub full_url_base: String,
    /// The identifier system for the portal's own appointment ids (default
    /// `{base}/fhir/Appointment`).
    pub portal_identifier_system: String,
    /// Requests per second per authenticated client before 429 (default 60, WF-NFR-03); zero
    /// or less disables the limit.
    pub rate_limit_per_second: f64,
    /// How many requests one client may send at once (default 60).
    pub rate_limit_burst: u32,
    /// How many portal instances share the provider's limit (default 1): this instance allows
    /// its share of [`Self::rate_limit_per_second`] and [`Self::rate_limit_burst`]
    /// ([`nhs_portal_core::limits`], the one rule).
    pub instances: std::num::NonZeroU32,
    /// Time allowed before 504 (default 9 s, WF-NFR-02).
    pub timeout: Duration,
    /// Start in maintenance (503); toggle at run time with [`FhirApi::set_maintenance`].
    pub maintenance: bool,
    /// When set, `NHSD-Target-Identifier` must carry this value (404 otherwise). Off by default
    /// because the spec comments the header out; [`SPEC_TARGET_IDENTIFIER`] is the spec's value.
    pub target_identifier: Option<String>,
    /// Who is served (default: 16 and over, not restricted, with portal access).
    pub eligibility: Eligibility,
    /// How many verified bearer tokens, and as many forwarded ID tokens, are remembered until
    /// their expiry so the same token is not verified again on every call (default 1,024; 0
    /// verifies every call). See `verified.rs` for the rules.
    pub verified_tokens: usize,
}

impl FhirApiConfig {
    /// Defaults from the spec for a portal at `base` called `ext_system_name`.
    pub fn new(base: DeepLinkBase, ext_system_name: impl Into<String>) -> Self {
        let fhir = format!("{}/fhir/Appointment", base.as_str());
        Self {
            path: "/fhir/Appointment".to_owned(),
            deep_link_base: base,
            ext_system_name: ext_system_name.into(),
            full_url_base: fhir.clone(),
            portal_identifier_system: fhir,
            rate_limit_per_second: f64::from(nhs_portal_core::limits::PCA_API_PER_SECOND),
            rate_limit_burst: nhs_portal_core::limits::PCA_API_PER_SECOND,
            instances: std::num::NonZeroU32::MIN,
            timeout: Duration::from_secs(9),
            maintenance: false,
            target_identifier: None,
            eligibility: Eligibility::default(),
            verified_tokens: 1024,
        }
    }
}

/// The Get Appointments API. Share it in an `Arc`; every method takes `&self`.
pub struct FhirApi {
    pas: Arc<dyn PasBackend>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    bearer: Arc<dyn BearerValidator>,
    id_tokens: Arc<dyn ForwardedTokenVerifier>,
    config: FhirApiConfig,
    limits: rate_limit::PerClient,
    maintenance: AtomicBool,
    withheld: AtomicU64,
}

impl std::fmt::Debug for FhirApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirApi")
            .field("config", &self.config)
            .field("maintenance", &self.maintenance)
            .field("withheld", &self.withheld)
            .finish_non_exhaustive()
    }
}

impl FhirApi {
    /// Builds the API from its seams.
    pub fn new(
        pas: Arc<dyn PasBackend>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        bearer: Arc<dyn BearerValidator>,
        id_tokens: Arc<dyn ForwardedTokenVerifier>,
        config: FhirApiConfig,
    ) -> Self {
        Self {
            limits: rate_limit::PerClient::new(
                nhs_portal_core::limits::per_instance(
                    config.rate_limit_per_second,
                    config.instances,
                ),
                nhs_portal_core::limits::per_instance_whole(
                    config.rate_limit_burst,
                    config.instances,
                ),
            ),
            maintenance: AtomicBool::new(config.maintenance),
            withheld: AtomicU64::new(0),
            bearer: Arc::new(verified::RememberedBearer::new(
                bearer,
                config.verified_tokens,
                clock.clone(),
            )),
            id_tokens: Arc::new(verified::RememberedIdTokens::new(
                id_tokens,
                config.verified_tokens,
                clock.clone(),
            )),
            pas,
            store,
            clock,
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &FhirApiConfig {
        &self.config
    }

    /// Switches maintenance mode (503 for every request) on or off.
    pub fn set_maintenance(&self, on: bool) {
        self.maintenance.store(on, Ordering::SeqCst);
    }

    /// Whether maintenance mode is on.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance.load(Ordering::SeqCst)
    }

    /// How many appointments the guard has withheld since start (alert on any increase).
    pub fn withheld_count(&self) -> u64 {
        self.withheld.load(Ordering::Relaxed)
    }

    /// Answers one request. Never panics; every failure is an `OperationOutcome`.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let started = tokio::time::Instant::now();
        let correlation = req
            .headers()
            .get(CORRELATION_ID_HEADER)
            .filter(|v| usable_correlation_id(v))
            .cloned();
        let outcome = self.answer(&req, correlation.as_ref()).await;
        let (response, caller) = match outcome {
            Ok((resp, caller)) => (resp, caller),
            Err(e) => (e.into_response(correlation.as_ref()), None),
        };
        // WF-NFR-09: every PCA request is logged with its correlation id, never patient data.
        tracing::info!(
            target: "nhs_portal_web::fhir_api",
            correlation_id = correlation.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
            client_id = caller.as_ref().and_then(|c| c.client_id.as_deref()).unwrap_or("-"),
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "PCA Get Appointments"
        );
        response
    }

    async fn answer(
        &self,
        req: &Request<Bytes>,
        correlation: Option<&HeaderValue>,
    ) -> Result<(Response<Bytes>, Option<Caller>), ApiError> {
        if req.uri().path() != self.config.path {
            return Err(ApiError::UnknownPath);
        }
        if req.method() != Method::GET {
            return Err(ApiError::MethodNotAllowed);
        }
        if self.in_maintenance() {
            return Err(ApiError::Maintenance);
        }
        let correlation = correlation.ok_or(ApiError::MissingCorrelationId)?;
        let tracking_id = correlation
            .to_str()
            .map_err(|_| ApiError::MissingCorrelationId)?;
        match tokio::time::timeout(self.config.timeout, self.search(req, tracking_id)).await {
            Ok(Ok((body, caller))) => {
                let mut resp =
                    crate::http_kit::json_bytes_as(StatusCode::OK, FHIR_JSON, Bytes::from(body));
                resp.headers_mut()
                    .insert(CORRELATION_ID_HEADER, correlation.clone());
                Ok((resp, Some(caller)))
            }
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Err(ApiError::Timeout),
        }
    }

    async fn search(
        &self,
        req: &Request<Bytes>,
        tracking_id: &str,
    ) -> Result<(Vec<u8>, Caller), ApiError> {
        let headers = req.headers();
        let token = crate::http_kit::bearer_token(headers)
            .ok_or(ApiError::Unauthorised("no bearer token"))?;
        let caller = self
            .bearer
            .validate(token)
            .await
            .map_err(|e| ApiError::Unauthorised(e.reason()))?;
        if !self.limits.try_acquire(caller.client_id.as_deref()) {
            metrics::counter!(RATE_LIMITED, "api" => "pca").increment(1);
            return Err(ApiError::RateLimited);
        }

        if let Some(expected) = &self.config.target_identifier {
            let ok = headers
                .get(TARGET_IDENTIFIER_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| target_identifier_matches(v, expected));
            if !ok {
                return Err(ApiError::TargetNotFound);
            }
        }

        let patient = patient_from_query(req.uri().query())?;

        let id_token = headers
            .get(ID_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ApiError::InvalidIdToken("no NHSD-ID-Token"))?;
        let verified = self
            .id_tokens
            .verify(id_token, &patient)
            .await
            .map_err(|e| match e {
                TokenError::NhsNumberMismatch => ApiError::NhsNumberMismatch,
                TokenError::IdentityLevelTooLow(_) | TokenError::VotNotAccepted => {
                    ApiError::InvalidIdToken("identity not verified to P9")
                }
                e if e.is_unavailable() => ApiError::Unavailable,
                _ => ApiError::InvalidIdToken("ID token not valid"),
            })?;
        // Defence in depth: the verifier already compared them.
        if verified.nhs_number != patient {
            return Err(ApiError::NhsNumberMismatch);
        }
        let dob = verified
            .date_of_birth
            .ok_or(ApiError::InvalidIdToken("no birthdate in ID token"))?;
        let now = self.clock.now();
        guard::check_age(&self.config.eligibility, dob, now)?;

        let (record, appointments, pending) = tokio::join!(
            self.pas.patient(&patient),
            self.pas.list_appointments(&patient),
            self.store.pending_requests_for_patient(&patient),
        );
        let record = record.map_err(pas_error)?;
        let served = guard::patient_served(&self.config.eligibility, record.as_ref(), dob, now)?;
        let mut appointments = if served {
            appointments.map_err(pas_error)?
        } else {
            Vec::new()
        };
        // The PCA's "ghost appointment" rule: a trust's holding records never reach it.
        appointments.retain(nhs_portal_core::holding::in_pca_feed);
        if !appointments.is_empty() {
            overlay(
                &mut appointments,
                &pending.map_err(|_| ApiError::Unavailable)?,
            );
        }

        let query = LinkQuery::new(&self.config.ext_system_name, tracking_id);
        let ctx = resource::LinkContext {
            base: &self.config.deep_link_base,
            query: &query,
            portal_identifier_system: &self.config.portal_identifier_system,
        };
        let mut entry = Vec::with_capacity(appointments.len());
        for a in &appointments {
            let resource = resource::appointment(a, a.request_status, &ctx);
            let checked = if a.patient == patient {
                guard::check_appointment(&resource, &patient, &self.config.deep_link_base)
            } else {
                Err(guard::Violation("appointment of another patient"))
            };
            match checked {
                Ok(()) => entry.push(resource::Entry {
                    full_url: format!("{}/{}", self.config.full_url_base, a.id),
                    search: resource::Search { mode: "match" },
                    resource,
                }),
                Err(v) => {
                    self.withheld.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!(WITHHELD).increment(1);
                    tracing::warn!(
                        target: "nhs_portal_web::fhir_api",
                        appointment_id = %a.id,
                        correlation_id = tracking_id,
                        rule = v.0,
                        "appointment withheld from the PCA: it breaks the spec"
                    );
                }
            }
        }
        let bundle = resource::Bundle {
            resource_type: "Bundle",
            id: uuid::Uuid::new_v4().to_string(),
            kind: "searchset",
            total: entry.len(),
            entry,
        };
        // Straight to bytes: the typed Bundle the guard passed is what goes out.
        let body = bundle.to_json().map_err(|_| ApiError::Internal)?;
        Ok((body, caller))
    }
}

#[async_trait::async_trait]
impl crate::http_kit::Handler for FhirApi {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        FhirApi::handle(self, req).await
    }
}

fn pas_error(e: nhs_portal_pas::PasError) -> ApiError {
    use nhs_portal_pas::PasError;
    match e {
        PasError::Timeout => ApiError::Timeout,
        // The PAS is down, slowing us down, or refusing this portal's credentials: a system this
        // service depends on is not answering it (the reason is logged where it happened).
        PasError::Unavailable(_)
        | PasError::RateLimited { .. }
        | PasError::Unauthorised(_)
        | PasError::Forbidden(_) => ApiError::Unavailable,
        _ => ApiError::Internal,
    }
}

fn usable_correlation_id(v: &HeaderValue) -> bool {
    crate::correlation::usable(v)
}

/// Reads `patient:identifier` from the raw query: exactly once, the spec's pattern, and a valid
/// NHS number.
pub(crate) fn patient_from_query(query: Option<&str>) -> Result<NhsNumber, ApiError> {
    let query = crate::http_kit::Form::query(query);
    let mut values = query.all(PATIENT_PARAM);
    let value = values.next().ok_or(ApiError::MissingNhsNumber)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidNhsNumber);
    }
    if value.is_empty() {
        return Err(ApiError::MissingNhsNumber);
    }
    NhsNumber::from_fhir_identifier(value).map_err(|_| ApiError::InvalidNhsNumber)
}

/// Whether a base64 `NHSD-Target-Identifier` names `{"system":"urn:ietf:rfc:3986","value":expected}`.
///
/// The spec's own examples put no-break spaces (U+00A0) in the JSON; they are read as spaces.
pub(crate) fn target_identifier_matches(header: &str, expected: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Ok(raw) = engine.decode(header.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(raw) else {
        return false;
    };
    let text = text.replace('\u{a0}', " ");
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v.get("system").and_then(|s| s.as_str()) == Some("urn:ietf:rfc:3986")
        && v.get("value").and_then(|s| s.as_str()) == Some(expected)
}

#[cfg(test)]
mod tests;
