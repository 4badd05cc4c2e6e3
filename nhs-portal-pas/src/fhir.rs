//! [`FhirPas`]: a [`PasBackend`] over a trust PAS's FHIR R4 REST API.
//!
//! One `FhirPas` talks to one FHIR base URL for one trust, whose [`Capabilities`] are
//! configured (FHIR has no standard way to say "this trust only takes requests").
//!
//! How each operation maps to FHIR REST:
//!
//! | Operation | FHIR |
//! |---|---|
//! | [`patient`](PasBackend::patient) | `GET Patient?identifier=https://fhir.nhs.uk/Id/nhs-number\|…` (birth date; `meta.security` `R`/`V` = restricted; a configurable boolean extension = portal access) |
//! | [`list_appointments`](PasBackend::list_appointments) | the Patient as above, then `GET Appointment?patient=Patient/{id}` (following `next` links) |
//! | [`get_appointment`](PasBackend::get_appointment) | `GET Appointment/{id}`, then a check that the patient is a participant |
//! | [`cancel`](PasBackend::cancel) | read, then `PUT Appointment/{id}` with `status: cancelled`, a cancellation reason and `If-Match` on the version read; a version conflict re-reads and tries again |
//! | [`find_slots`](PasBackend::find_slots) | `GET Slot?status=free&start=ge…&start=lt…` and `schedule=` the current slot's schedule, or else `specialty=` the appointment's Treatment Function Code |
//! | [`reschedule`](PasBackend::reschedule) | claim the slot (`PUT Slot` `status: busy` with `If-Match`: only one of two racing claims can win), then `PUT Appointment` with the new times and slot (`If-Match`; on conflict the slot is released), then free the old slot |
//! | [`poll_events`](PasBackend::poll_events) | `GET Appointment?_lastUpdated=ge…`: cancelled ones are cancellations; booked ones whose start differs from their previous version (`_history`) were moved |
//!
//! Appointments are found through the Patient resource rather than with
//! `Appointment?patient:identifier=…`: Medplum's in-memory repository (our test peer) matches
//! neither `patient:identifier` nor `actor:identifier`, while a reference search works on every
//! FHIR server.
//!
//! Reads are retried with backoff (backon) on timeouts, 429 and 5xx; so are the `PUT`s, which
//! are safe to repeat because `If-Match` guards them: when a retried `PUT` meets a version
//! conflict, the adapter reads the resource again to tell its own earlier write (whose answer was
//! lost) from someone else's. Nothing else is retried. Every call has a
//! timeout. Appointments that cannot be mapped (a missing start, an unknown specialty system)
//! are skipped with a warning that names no patient.
//!
//! The Medplum-backed integration tests (`nhs-portal-pas/tests/fhir_medplum.rs`) run this
//! adapter and the [`conformance`](crate) kit against a FHIR server we did not write.

pub mod map;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RequestOutcome, RescheduleMode};
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus, NhsNumber, Organisation};
use serde_json::{Value, json};
use url::Url;

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

/// The default extension URL for the "portal access allowed" flag on a Patient.
pub const PORTAL_ACCESS_EXTENSION: &str =
    "https://fhir.nhs-portal.example/StructureDefinition/portal-access";

/// How to reach and treat one trust's FHIR PAS.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FhirPasConfig {
    /// The FHIR base URL, such as `https://pas.example.nhs.uk/fhir/R4/`.
    pub base_url: Url,
    /// The trust (used unless an appointment names its ODS code itself).
    pub organisation: Organisation,
    /// What the trust lets patients do online.
    pub capabilities: Capabilities,
    /// The timeout for each HTTP call.
    pub timeout: Duration,
    /// How many times a retryable call is retried.
    pub retries: usize,
    /// The first retry delay (doubling after).
    pub retry_delay: Duration,
    /// The URL of the Patient extension (`valueBoolean`) that says whether the patient may use
    /// the portal; absent means allowed.
    pub portal_access_extension: String,
    /// A bearer token to send, if the PAS needs one.
    pub bearer_token: Option<String>,
}

impl FhirPasConfig {
    /// A configuration with defaults: 5 s timeout, 2 retries from 100 ms.
    pub fn new(base_url: Url, organisation: Organisation, capabilities: Capabilities) -> Self {
        Self {
            base_url,
            organisation,
            capabilities,
            timeout: Duration::from_secs(5),
            retries: 2,
            retry_delay: Duration::from_millis(100),
            portal_access_extension: PORTAL_ACCESS_EXTENSION.into(),
            bearer_token: None,
        }
    }
}

/// Why a FHIR PAS configuration from the environment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FhirConfigError {
    /// A required variable is not set.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{0} is not valid")]
    Invalid(&'static str),
}

impl FhirPasConfig {
    /// Reads a configuration from environment variables; `Ok(None)` when
    /// `NHS_PORTAL_FHIR_PAS_URL` is not set (no FHIR PAS configured).
    ///
    /// | Variable | Meaning |
    /// |---|---|
    /// | `NHS_PORTAL_FHIR_PAS_URL` | the FHIR base URL |
    /// | `NHS_PORTAL_FHIR_PAS_ODS` | the trust's ODS code (required) |
    /// | `NHS_PORTAL_FHIR_PAS_TRUST_NAME` | the trust's name (required) |
    /// | `NHS_PORTAL_FHIR_PAS_MODE` | `real-time`, `request-only` (default) or `view-only` |
    /// | `NHS_PORTAL_FHIR_PAS_TIMEOUT_MS` | per-call timeout, default 5000 |
    /// | `NHS_PORTAL_FHIR_PAS_TOKEN` | a bearer token, if the PAS needs one |
    pub fn from_env() -> Result<Option<Self>, FhirConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`FhirPasConfig::from_env`] over any lookup (for tests and other config sources).
    ///
    /// ```
    /// use nhs_portal_pas::fhir::FhirPasConfig;
    /// let vars = [
    ///     ("NHS_PORTAL_FHIR_PAS_URL", "https://pas.example/fhir/"),
    ///     ("NHS_PORTAL_FHIR_PAS_ODS", "R9N"),
    ///     ("NHS_PORTAL_FHIR_PAS_TRUST_NAME", "Northfield Teaching Hospitals NHS Foundation Trust"),
    ///     ("NHS_PORTAL_FHIR_PAS_MODE", "real-time"),
    /// ];
    /// let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    /// let cfg = FhirPasConfig::from_lookup(lookup).unwrap().unwrap();
    /// assert_eq!(cfg.organisation.ods_code.as_str(), "R9N");
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, FhirConfigError> {
        const URL: &str = "NHS_PORTAL_FHIR_PAS_URL";
        const ODS: &str = "NHS_PORTAL_FHIR_PAS_ODS";
        const NAME: &str = "NHS_PORTAL_FHIR_PAS_TRUST_NAME";
        const MODE: &str = "NHS_PORTAL_FHIR_PAS_MODE";
        const TIMEOUT: &str = "NHS_PORTAL_FHIR_PAS_TIMEOUT_MS";
        const TOKEN: &str = "NHS_PORTAL_FHIR_PAS_TOKEN";
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(url) = get(URL) else {
            return Ok(None);
        };
        let base_url = Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or(FhirConfigError::Invalid(URL))?;
        let ods_code =
            nhs_portal_core::OdsCode::parse(&get(ODS).ok_or(FhirConfigError::Missing(ODS))?)
                .map_err(|_| FhirConfigError::Invalid(ODS))?;
        let name = get(NAME).ok_or(FhirConfigError::Missing(NAME))?;
        let capabilities = match get(MODE).as_deref() {
            None | Some("request-only") => Capabilities::REQUEST_ONLY,
            Some("real-time") => Capabilities::REAL_TIME,
            Some("view-only") => Capabilities::VIEW_ONLY,
            Some(_) => return Err(FhirConfigError::Invalid(MODE)),
        };
        let mut cfg = Self::new(base_url, Organisation { ods_code, name }, capabilities);
        if let Some(ms) = get(TIMEOUT) {
            let ms: u64 = ms
                .parse()
                .ok()
                .filter(|ms| (1..=120_000).contains(ms))
                .ok_or(FhirConfigError::Invalid(TIMEOUT))?;
            cfg.timeout = Duration::from_millis(ms);
        }
        cfg.bearer_token = get(TOKEN);
        Ok(Some(cfg))
    }
}

/// An HTTP status the PAS answered with (the source of [`PasError::Unavailable`]).
#[derive(Debug, thiserror::Error)]
#[error("the PAS answered HTTP {0}")]
pub struct HttpStatus(pub u16);

/// A [`PasBackend`] over FHIR R4 REST. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct FhirPas {
    client: reqwest::Client,
    cfg: Arc<FhirPasConfig>,
    base: String,
    clock: Arc<dyn Clock>,
}

/// A resource read with its version, for `If-Match`.
struct Versioned {
    body: Value,
    version: Option<String>,
}

const SLOT_CLAIM_PREFIX: &str = "nhs-portal booking for Appointment/";
const MAX_PAGES: usize = 50;

fn transient(e: &PasError) -> bool {
    matches!(e, PasError::Timeout | PasError::Unavailable(_))
}

/// FHIR ids in paths: the FHIR id rule, so nothing can step out of the resource path.
fn safe_id(id: &str) -> bool {
    AppointmentId::parse(id).is_ok()
}

impl FhirPas {
    /// An adapter with its own HTTP client (rustls, the configured timeout, no redirects).
    pub fn new(cfg: FhirPasConfig, clock: Arc<dyn Clock>) -> Result<Self, PasError> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PasError::Unavailable(Box::new(e)))?;
        Ok(Self::with_client(cfg, client, clock))
    }

    /// An adapter using a client you built (its timeout should match `cfg.timeout`).
    pub fn with_client(cfg: FhirPasConfig, client: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        let mut base = cfg.base_url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Self {
            client,
            cfg: Arc::new(cfg),
            base,
            clock,
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, PasError> {
        let mut url = Url::parse(&self.base)
            .and_then(|b| b.join(path))
            .map_err(|e| PasError::BadData(format!("bad URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn retry_policy(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.cfg.retry_delay)
            .with_max_times(self.cfg.retries)
            .with_jitter()
    }

    async fn once(&self, req: reqwest::RequestBuilder) -> Result<Option<Versioned>, PasError> {
        let req = req.header(http::header::ACCEPT, "application/fhir+json");
        let req = match &self.cfg.bearer_token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        // `without_url`: request URLs carry NHS numbers, and errors end up in logs.
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                PasError::Timeout
            } else {
                PasError::Unavailable(Box::new(e.without_url()))
            }
        })?;
        let status = res.status().as_u16();
        match status {
            200..=299 => {}
            404 | 410 => return Ok(None),
            409 | 412 => return Err(PasError::Conflict),
            408 => return Err(PasError::Timeout),
            429 | 500..=599 => return Err(PasError::Unavailable(Box::new(HttpStatus(status)))),
            other => {
                return Err(PasError::BadData(format!(
                    "the PAS refused the request (HTTP {other})"
                )));
            }
        }
        let etag = res
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.bytes().await.map_err(|e| {
            if e.is_timeout() {
                PasError::Timeout
            } else {
                PasError::Unavailable(Box::new(e.without_url()))
            }
        })?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                PasError::BadData(format!("the PAS answered with invalid JSON: {e}"))
            })?
        };
        let version = body
            .pointer("/meta/versionId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| etag.map(|t| t.trim_start_matches("W/").trim_matches('"').to_owned()));
        Ok(Some(Versioned { body, version }))
    }

    /// A GET, retried on transient failures; `None` for 404/410.
    async fn get(&self, url: Url) -> Result<Option<Versioned>, PasError> {
        (|| async { self.once(self.client.get(url.clone())).await })
            .retry(self.retry_policy())
            .when(transient)
            .await
    }

    /// A PUT guarded by `If-Match` (so safe to retry).
    async fn put_if_match(
        &self,
        path: &str,
        body: &Value,
        version: &str,
    ) -> Result<Value, PasError> {
        let url = self.url(path, &[])?;
        let etag = format!("W/\"{version}\"");
        let out = (|| async {
            self.once(
                self.client
                    .put(url.clone())
                    .header(http::header::IF_MATCH, etag.clone())
                    .header(http::header::CONTENT_TYPE, "application/fhir+json")
                    .body(body.to_string()),
            )
            .await
        })
        .retry(self.retry_policy())
        .when(transient)
        .await?;
        out.map(|v| v.body).ok_or(PasError::NotFound)
    }

    /// Every resource a search finds, following `next` links (bounded).
    async fn search(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, PasError> {
        let mut url = self.url(resource, query)?;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let bundle = self
                .get(url.clone())
                .await?
                .ok_or_else(|| PasError::BadData(format!("{resource} search not found")))?
                .body;
            if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(PasError::BadData("a search did not answer a Bundle".into()));
            }
            out.extend(
                bundle
                    .get("entry")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|e| {
                        e.pointer("/search/mode")
                            .and_then(Value::as_str)
                            .unwrap_or("match")
                            == "match"
                    })
                    .filter_map(|e| e.get("resource").cloned())
                    .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some(resource)),
            );
            let next = bundle
                .get("link")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("url").and_then(Value::as_str))
                .and_then(|u| Url::parse(u).ok());
            match next {
                // Only follow links to the same server.
                Some(n) if n.origin() == url.origin() => url = n,
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The FHIR Patient for an NHS number, if exactly one.
    async fn find_patient(&self, patient: &NhsNumber) -> Result<Option<Value>, PasError> {
        let found = self
            .search(
                "Patient",
                &[(
                    "identifier",
                    format!("{NHS_NUMBER_SYSTEM}|{}", patient.as_str()),
                )],
            )
            .await?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(PasError::BadData(
                "more than one Patient has this NHS number".into(),
            )),
        }
    }

    fn patient_reference(resource: &Value) -> Option<String> {
        resource
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("Patient/{id}"))
    }

    fn map(&self, resource: &Value, patient: &NhsNumber) -> Result<Option<Appointment>, PasError> {
        map::appointment_from_fhir(resource, patient, &self.cfg.organisation, &self.base)
            .map_err(|e| PasError::BadData(format!("appointment: {e}")))
    }

    /// Reads an appointment and checks it is this patient's; `None` if missing or someone else's.
    async fn read_owned(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Versioned>, PasError> {
        let Some(pat) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let reference = Self::patient_reference(&pat);
        let url = self.url(&format!("Appointment/{}", id.as_str()), &[])?;
        let found = match self.get(url).await {
            Ok(found) => found,
            // An id the server refuses to read is one it does not have.
            Err(PasError::BadData(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(found.filter(|v| {
            v.body.get("resourceType").and_then(Value::as_str) == Some("Appointment")
                && map::has_patient(&v.body, patient, reference.as_deref())
        }))
    }

    /// [`FhirPas::read_owned`] mapped; `NotFound` if missing, someone else's or unmappable.
    async fn load(&self, appointment: &Appointment) -> Result<(Versioned, Appointment), PasError> {
        let v = self
            .read_owned(&appointment.patient, &appointment.id)
            .await?
            .ok_or(PasError::NotFound)?;
        let a = self
            .map(&v.body, &appointment.patient)?
            .ok_or(PasError::InvalidState(
                "the PAS holds this appointment in a status the portal does not show",
            ))?;
        Ok((v, a))
    }

    async fn read_slot(&self, id: &str) -> Result<Option<Versioned>, PasError> {
        if !safe_id(id) {
            return Ok(None);
        }
        match self.get(self.url(&format!("Slot/{id}"), &[])?).await {
            Ok(v) => Ok(
                v.filter(|v| v.body.get("resourceType").and_then(Value::as_str) == Some("Slot"))
            ),
            Err(PasError::BadData(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn slot_from_fhir(v: &Value) -> Option<Slot> {
        let id = v.get("id")?.as_str()?;
        if !safe_id(id) {
            return None;
        }
        let start = map::parse_instant(v.get("start")?.as_str()?)?;
        let end = map::parse_instant(v.get("end")?.as_str()?)?;
        (end > start).then(|| Slot {
            id: id.to_owned(),
            start,
            end,
            location: None,
            clinician: None,
        })
    }

    fn slot_refs(appointment: &Value) -> Vec<String> {
        appointment
            .get("slot")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|r| r.strip_prefix("Slot/"))
            .filter(|id| safe_id(id))
            .map(str::to_owned)
            .collect()
    }

    /// Marks a slot free again (best effort: failures are logged, not returned).
    async fn release_slot(&self, id: &str, only_if_claimed_for: Option<&AppointmentId>) {
        let result = async {
            let Some(v) = self.read_slot(id).await? else {
                return Ok(());
            };
            let mut body = v.body;
            if body.get("status").and_then(Value::as_str) != Some("busy") {
                return Ok(());
            }
            if let Some(appt) = only_if_claimed_for {
                let marker = format!("{SLOT_CLAIM_PREFIX}{}", appt.as_str());
                if body.get("comment").and_then(Value::as_str) != Some(marker.as_str()) {
                    return Ok(());
                }
            }
            body["status"] = json!("free");
            if let Some(o) = body.as_object_mut() {
                o.remove("comment");
            }
            let version = v
                .version
                .ok_or(PasError::BadData("slot without a version".into()))?;
            self.put_if_match(&format!("Slot/{id}"), &body, &version)
                .await
                .map(|_| ())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "FHIR PAS: could not free a slot");
        }
    }

    fn check_future_booked(&self, a: &Appointment) -> Result<(), PasError> {
        if a.status != AppointmentStatus::Booked {
            return Err(PasError::InvalidState("the appointment is not booked"));
        }
        if !a.is_future(self.clock.now()) {
            return Err(PasError::InvalidState("the appointment is in the past"));
        }
        Ok(())
    }
}

#[async_trait]
impl PasBackend for FhirPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        let Some(p) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let date_of_birth =
            map::birth_date(&p).map_err(|e| PasError::BadData(format!("patient: {e}")))?;
        Ok(Some(PatientRecord {
            nhs_number: patient.clone(),
            date_of_birth,
            portal_access: map::boolean_extension(&p, &self.cfg.portal_access_extension)
                .unwrap_or(true),
            restricted: map::is_restricted(&p),
        }))
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let Some(p) = self.find_patient(patient).await? else {
            return Ok(Vec::new());
        };
        let Some(reference) = Self::patient_reference(&p) else {
            return Err(PasError::BadData("a Patient without an id".into()));
        };
        let found = self
            .search(
                "Appointment",
                &[("patient", reference.clone()), ("_count", "100".into())],
            )
            .await?;
        let mut out = Vec::new();
        for resource in found {
            if !map::has_patient(&resource, patient, Some(&reference)) {
                continue;
            }
            match self.map(&resource, patient) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "FHIR PAS: skipped an appointment"),
            }
        }
        out.sort_by_key(|a| a.start);
        Ok(out)
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        match self.read_owned(patient, id).await? {
            Some(v) => match self.map(&v.body, patient) {
                Ok(a) => Ok(a),
                Err(e) => {
                    tracing::warn!(error = %e, "FHIR PAS: unreadable appointment");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        self.read_owned(&appointment.patient, &appointment.id)
            .await?
            .ok_or(PasError::NotFound)?;
        Ok(self.cfg.capabilities)
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        for _ in 0..3 {
            let (v, current) = self.load(appointment).await?;
            if self.cfg.capabilities.cancel != CancelMode::RealTime {
                return Err(PasError::NotSupported);
            }
            if current.status == AppointmentStatus::Cancelled {
                return Ok(current);
            }
            self.check_future_booked(&current)?;
            let version = v
                .version
                .ok_or_else(|| PasError::BadData("appointment without a version".into()))?;
            let mut body = v.body;
            body["status"] = json!("cancelled");
            body["cancelationReason"] = json!({
                "coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "pat"}],
                "text": reason.text.as_deref().unwrap_or(&reason.code),
            });
            match self
                .put_if_match(
                    &format!("Appointment/{}", current.id.as_str()),
                    &body,
                    &version,
                )
                .await
            {
                Ok(updated) => {
                    for slot in Self::slot_refs(&updated) {
                        self.release_slot(&slot, None).await;
                    }
                    return self.map(&updated, &appointment.patient)?.ok_or_else(|| {
                        PasError::BadData("cancelled appointment unreadable".into())
                    });
                }
                // Changed since we read it (or our own retried PUT landed): read again.
                Err(PasError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PasError::Conflict)
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        let (v, current) = self.load(appointment).await?;
        if self.cfg.capabilities.reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        let mut query = vec![
            ("status", "free".to_owned()),
            ("start", format!("ge{}", map::format_instant(from))),
            ("start", format!("lt{}", map::format_instant(to))),
            ("_count", "100".to_owned()),
        ];
        let schedule = match Self::slot_refs(&v.body).first() {
            Some(slot) => self.read_slot(slot).await?.and_then(|s| {
                s.body
                    .pointer("/schedule/reference")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            None => None,
        };
        match schedule {
            Some(s) => query.push(("schedule", s)),
            None => query.push(("specialty", current.specialty.code.as_str().to_owned())),
        }
        let now = self.clock.now();
        let mut slots: Vec<Slot> = self
            .search("Slot", &query)
            .await?
            .iter()
            .filter(|s| s.get("status").and_then(Value::as_str) == Some("free"))
            .filter_map(Self::slot_from_fhir)
            .filter(|s| s.start >= from && s.start < to && s.start > now)
            .collect();
        slots.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        Ok(slots)
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        let (v, current) = self.load(appointment).await?;
        if self.cfg.capabilities.reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        self.check_future_booked(&current)?;
        let slot_v = self
            .read_slot(slot_id)
            .await?
            .ok_or(PasError::SlotUnavailable)?;
        let slot = Self::slot_from_fhir(&slot_v.body).ok_or(PasError::SlotUnavailable)?;
        let free = slot_v.body.get("status").and_then(Value::as_str) == Some("free");
        let specialty_ok = slot_v
            .body
            .get("specialty")
            .and_then(Value::as_array)
            .is_none_or(|ccs| {
                ccs.is_empty()
                    || ccs.iter().any(|cc| {
                        cc.get("coding")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .any(|c| {
                                c.get("code").and_then(Value::as_str)
                                    == Some(current.specialty.code.as_str())
                            })
                    })
            });
        if !free || !specialty_ok || slot.start <= self.clock.now() {
            return Err(PasError::SlotUnavailable);
        }

        // 1. Claim the slot. If-Match makes this the one step two racers cannot both pass.
        let marker = format!("{SLOT_CLAIM_PREFIX}{}", current.id.as_str());
        let mut claimed = slot_v.body.clone();
        claimed["status"] = json!("busy");
        claimed["comment"] = json!(marker);
        let slot_version = slot_v
            .version
            .ok_or_else(|| PasError::BadData("slot without a version".into()))?;
        match self
            .put_if_match(&format!("Slot/{}", slot.id), &claimed, &slot_version)
            .await
        {
            Ok(_) => {}
            Err(PasError::Conflict | PasError::NotFound) => {
                // Someone else changed it first, unless it was our own retried claim.
                let ours = self.read_slot(&slot.id).await?.is_some_and(|s| {
                    s.body.get("comment").and_then(Value::as_str) == Some(marker.as_str())
                });
                if !ours {
                    return Err(PasError::SlotUnavailable);
                }
            }
            Err(e) => return Err(e),
        }

        // 2. Move the appointment into it.
        let old_slots = Self::slot_refs(&v.body);
        let mut body = v.body;
        body["start"] = json!(map::format_instant(slot.start));
        body["end"] = json!(map::format_instant(slot.end));
        body["slot"] = json!([{"reference": format!("Slot/{}", slot.id)}]);
        if body.get("minutesDuration").is_some() {
            body["minutesDuration"] = json!((slot.end - slot.start).num_minutes());
        }
        let version = v
            .version
            .ok_or_else(|| PasError::BadData("appointment without a version".into()));
        let updated = match version {
            Ok(version) => {
                self.put_if_match(
                    &format!("Appointment/{}", current.id.as_str()),
                    &body,
                    &version,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let updated = match updated {
            Ok(u) => u,
            Err(e) => {
                // A conflict may be our own earlier attempt that landed before a timeout: if
                // the appointment already sits in the slot, the move happened.
                let landed = match e {
                    PasError::Conflict | PasError::Timeout | PasError::Unavailable(_) => self
                        .read_owned(&appointment.patient, &current.id)
                        .await
                        .ok()
                        .flatten()
                        .map(|v| v.body)
                        .filter(|b| {
                            Self::slot_refs(b).contains(&slot.id)
                                && b.get("start")
                                    .and_then(Value::as_str)
                                    .and_then(map::parse_instant)
                                    == Some(slot.start)
                        }),
                    _ => None,
                };
                match landed {
                    Some(b) => b,
                    None => {
                        self.release_slot(&slot.id, Some(&current.id)).await;
                        return Err(e);
                    }
                }
            }
        };

        // 3. Free the slot it had.
        for old in old_slots.iter().filter(|s| **s != slot.id) {
            self.release_slot(old, None).await;
        }
        self.map(&updated, &appointment.patient)?
            .ok_or_else(|| PasError::BadData("rescheduled appointment unreadable".into()))
    }

    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        let changed = self
            .search(
                "Appointment",
                &[
                    ("_lastUpdated", format!("ge{}", map::format_instant(since))),
                    ("_count", "100".into()),
                ],
            )
            .await?;
        let mut events = Vec::new();
        for r in changed {
            let (Some(id), Some(at)) = (
                r.get("id")
                    .and_then(Value::as_str)
                    .and_then(|i| AppointmentId::parse(i).ok()),
                r.pointer("/meta/lastUpdated")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant),
            ) else {
                continue;
            };
            match r.get("status").and_then(Value::as_str) {
                Some("cancelled") => events.push(PasEvent {
                    appointment: id,
                    outcome: RequestOutcome::Cancelled,
                    at,
                }),
                Some("booked") => {
                    let Some(start) = r
                        .get("start")
                        .and_then(Value::as_str)
                        .and_then(map::parse_instant)
                    else {
                        continue;
                    };
                    if let Some(previous) = self.previous_start(&id).await?
                        && previous != start
                    {
                        events.push(PasEvent {
                            appointment: id,
                            outcome: RequestOutcome::Rescheduled {
                                replaced_by: None,
                                new_start: Some(start),
                            },
                            at,
                        });
                    }
                }
                _ => {}
            }
        }
        events.sort_by_key(|e| e.at);
        Ok(events)
    }
}

impl FhirPas {
    /// The start of the version before the current one, from `_history`.
    async fn previous_start(&self, id: &AppointmentId) -> Result<Option<DateTime<Utc>>, PasError> {
        let url = self.url(
            &format!("Appointment/{}/_history", id.as_str()),
            &[("_count", "2".into())],
        )?;
        let Some(bundle) = self.get(url).await? else {
            return Ok(None);
        };
        let mut versions: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = bundle
            .body
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("resource"))
            .filter_map(|r| {
                let updated = r
                    .pointer("/meta/lastUpdated")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant)?;
                let start = r
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(map::parse_instant);
                Some((updated, start))
            })
            .collect();
        versions.sort_by_key(|(u, _)| std::cmp::Reverse(*u));
        Ok(versions.get(1).and_then(|(_, s)| *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_the_environment_table() {
        let base = [
            ("NHS_PORTAL_FHIR_PAS_URL", "https://pas.example/fhir/"),
            ("NHS_PORTAL_FHIR_PAS_ODS", "r9n"),
            ("NHS_PORTAL_FHIR_PAS_TRUST_NAME", "Northfield"),
        ];
        let run = |extra: &[(&'static str, &'static str)], drop: &[&str]| {
            let vars: Vec<(&str, &str)> = base
                .iter()
                .chain(extra.iter())
                .filter(|(k, _)| !drop.contains(k))
                .copied()
                .collect();
            FhirPasConfig::from_lookup(|k| {
                vars.iter()
                    .rev()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let cfg = run(&[], &[]).unwrap().unwrap();
        assert_eq!(cfg.capabilities, Capabilities::REQUEST_ONLY);
        assert_eq!(cfg.organisation.ods_code.as_str(), "R9N");
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert!(run(&[], &["NHS_PORTAL_FHIR_PAS_URL"]).unwrap().is_none());
        let cfg = run(
            &[
                ("NHS_PORTAL_FHIR_PAS_MODE", "real-time"),
                ("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS", "1500"),
                ("NHS_PORTAL_FHIR_PAS_TOKEN", "t0ken"),
            ],
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(cfg.capabilities, Capabilities::REAL_TIME);
        assert_eq!(cfg.timeout, Duration::from_millis(1500));
        assert_eq!(cfg.bearer_token.as_deref(), Some("t0ken"));
        type Vars = &'static [(&'static str, &'static str)];
        let errors: [(Vars, &[&str], FhirConfigError); 6] = [
            (
                &[("NHS_PORTAL_FHIR_PAS_URL", "ftp://x")],
                &[],
                FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_URL"),
            ),
            (
                &[("NHS_PORTAL_FHIR_PAS_URL", "not a url")],
                &[],
                FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_URL"),
            ),
            (
                &[],
                &["NHS_PORTAL_FHIR_PAS_ODS"],
                FhirConfigError::Missing("NHS_PORTAL_FHIR_PAS_ODS"),
            ),
            (
                &[("NHS_PORTAL_FHIR_PAS_ODS", "R-9")],
                &[],
                FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_ODS"),
            ),
            (
                &[("NHS_PORTAL_FHIR_PAS_MODE", "sometimes")],
                &[],
                FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_MODE"),
            ),
            (
                &[("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS", "0")],
                &[],
                FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS"),
            ),
        ];
        for (extra, drop, want) in errors {
            assert_eq!(run(extra, drop).unwrap_err(), want);
        }
    }
}
