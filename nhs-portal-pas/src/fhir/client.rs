//! The HTTP side of [`FhirPas`]: one deadline and one correlation id per portal call, credentials
//! (https only), retries with backoff that honour `Retry-After`, `If-Match` writes with
//! `Prefer: return=representation` (and a re-read when the answer is not the resource), and
//! paged searches that follow relative and absolute `next` links and fail loudly at the cap.
//!
//! (Over 400 lines: every HTTP rule the adapter keeps is here, in one place, with its unit tests
//! in `client/tests.rs`.)

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use http::Method;
use nhs_portal_core::AppointmentId;
use nhs_portal_core::clock::Clock;
use serde_json::Value;
use url::Url;

use super::config::secure_or_local;
use super::{FhirConfigError, FhirPas, FhirPasConfig, HttpStatus};
use crate::PasError;

/// What a search found: its matches, and the resources the server added to them (`_include`).
pub(super) struct Found {
    pub(super) matches: Vec<Value>,
    pub(super) included: Vec<Value>,
}

/// A resource read with its version, for `If-Match`.
pub(super) struct Versioned {
    pub(super) body: Value,
    pub(super) version: Option<String>,
}

/// FHIR's JSON media type.
pub(super) const FHIR_JSON: &str = "application/fhir+json";
/// JSON Patch's media type.
pub(super) const JSON_PATCH: &str = "application/json-patch+json";

tokio::task_local! {
    /// The correlation id of the portal call in progress (sent as `X-Correlation-ID`).
    static CORRELATION: String;
}

pub(super) fn transient(e: &PasError) -> bool {
    e.is_transient()
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110), relative to `now`.
pub(super) fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// FHIR ids in paths: the FHIR id rule, so nothing can step out of the resource path.
pub(super) fn safe_id(id: &str) -> bool {
    AppointmentId::parse(id).is_ok()
}

/// The next backoff delay given the server's `Retry-After`: waited when it is at most `max`,
/// else no more retries; `delay` (the backoff's own) when the server named none.
pub(super) fn next_delay(e: &PasError, delay: Option<Duration>, max: Duration) -> Option<Duration> {
    match (e.retry_after(), delay) {
        (_, None) => None,
        (Some(wait), Some(_)) => (wait <= max).then_some(wait),
        (None, delay) => delay,
    }
}

/// Where a `next` link goes: resolved against the base (FHIR's rule for relative links); a
/// link to another origin (a server behind a proxy naming its internal base) is moved onto the
/// base when it names the searched type (or the base itself, as HAPI's `?_getpages=` does),
/// and refused otherwise, so credentials never go to another server.
pub(super) fn next_link(base: &Url, link: &str, resource: &str) -> Option<Url> {
    let url = base.join(link).ok()?;
    if url.origin() == base.origin() {
        return Some(url);
    }
    let last = url.path().trim_end_matches('/').rsplit('/').next()?;
    let tail = if last == resource { resource } else { "" };
    if tail.is_empty() && !url.path().ends_with('/') {
        return None;
    }
    let mut moved = base.join(tail).ok()?;
    moved.set_query(url.query());
    Some(moved)
}

/// The error for a request that got no answer: a timeout, or the PAS unreachable (the URL is
/// dropped: request URLs carry NHS numbers, and errors end up in logs).
pub(super) fn unanswered(e: reqwest::Error) -> PasError {
    if e.is_timeout() {
        PasError::Timeout
    } else {
        PasError::Unavailable(Box::new(e.without_url()))
    }
}

/// Whether `body` is the `kind` resource with `id` (not an OperationOutcome or nothing).
fn is_resource(body: &Value, kind: &str, id: &str) -> bool {
    body.get("resourceType").and_then(Value::as_str) == Some(kind)
        && body.get("id").and_then(Value::as_str) == Some(id)
}

impl FhirPas {
    /// An adapter with its own HTTP client (rustls, the configured timeout, no redirects, the
    /// client certificate and the trust's own root certificate if configured). Refuses a configuration that would send credentials
    /// over plain `http` ([`FhirPasConfig::check`]).
    pub fn new(cfg: FhirPasConfig, clock: Arc<dyn Clock>) -> Result<Self, PasError> {
        cfg.check()
            .map_err(|e| PasError::Unavailable(Box::new(e)))?;
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &cfg.client_identity_pem {
            let identity = reqwest::Identity::from_pem(pem.0.as_bytes()).map_err(|_| {
                PasError::Unauthorised("the client certificate cannot be read".into())
            })?;
            builder = builder.identity(identity);
        }
        if let Some(pem) = &cfg.root_certificate_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|roots| !roots.is_empty())
                .ok_or_else(|| {
                    PasError::Unavailable(Box::new(FhirConfigError::Invalid(
                        "the root certificate",
                    )))
                })?;
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        let client = builder
            .build()
            .map_err(|e| PasError::Unavailable(Box::new(e)))?;
        Ok(Self::with_client(cfg, client, clock))
    }

    /// An adapter using a client you built (its timeout should match `cfg.timeout`). Credentials
    /// are still never sent over plain `http` to another machine: such calls fail.
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
            tokens: Arc::default(),
            server: Arc::default(),
            last_seen: None,
        }
    }

    pub(super) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, PasError> {
        let mut url = Url::parse(&self.base)
            .and_then(|b| b.join(path))
            .map_err(|e| PasError::BadData(format!("bad URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub(super) fn retry_policy(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.cfg.retry_delay)
            .with_max_times(self.cfg.retries)
            .with_jitter()
    }

    /// Runs one portal call: one correlation id for all its HTTP calls and one deadline
    /// ([`FhirPasConfig::deadline`]) over them, retries and waits included. A call made inside
    /// another (a reschedule's slot search) shares the outer one's.
    pub(super) async fn call<T>(
        &self,
        work: impl Future<Output = Result<T, PasError>>,
    ) -> Result<T, PasError> {
        if CORRELATION.try_with(|_| ()).is_ok() {
            return work.await;
        }
        let id = uuid::Uuid::new_v4().to_string();
        match tokio::time::timeout(self.cfg.deadline, CORRELATION.scope(id.clone(), work)).await {
            Ok(Err(e)) if e.is_transient() => {
                tracing::warn!(correlation_id = %id, error = %e, "FHIR PAS: call failed");
                Err(e)
            }
            Ok(out) => out,
            Err(_) => {
                tracing::warn!(correlation_id = %id, "FHIR PAS: the call's deadline passed");
                Err(PasError::Timeout)
            }
        }
    }

    /// One HTTP exchange: `Accept`, `X-Correlation-ID` and credentials (a SMART token the PAS
    /// refuses is renewed once); the typed error for a refusal; `None` for 404/410.
    pub(super) async fn once(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Option<Versioned>, PasError> {
        let correlation = CORRELATION
            .try_with(Clone::clone)
            .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string());
        let mut token = self.bearer().await?;
        let mut renewed = false;
        loop {
            let mut req = build()
                .header(http::header::ACCEPT, FHIR_JSON)
                .header("x-correlation-id", correlation.as_str());
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let req = req
                .build()
                .map_err(|e| PasError::BadData(format!("bad request: {}", e.without_url())))?;
            if self.cfg.has_credentials() && !secure_or_local(req.url()) {
                return Err(PasError::Unavailable(Box::new(FhirConfigError::Insecure(
                    "a PAS URL",
                ))));
            }
            let res = self.client.execute(req).await.map_err(unanswered)?;
            let status = res.status().as_u16();
            if status == 401
                && !renewed
                && let Some(refused) = token.as_deref()
                && let Some(fresh) = self.renew_token(refused).await?
            {
                token = Some(fresh);
                renewed = true;
                continue;
            }
            if !(200..=299).contains(&status) {
                return match status {
                    404 | 410 => Ok(None),
                    _ => Err(self.refusal(status, res).await),
                };
            }
            let etag = res
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = res.bytes().await.map_err(unanswered)?;
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
            return Ok(Some(Versioned { body, version }));
        }
    }

    /// The typed error for a non-2xx answer other than 404/410 (reads the OperationOutcome of
    /// a refusal; its text goes into [`PasError::BusinessRule`], never into a log).
    async fn refusal(&self, status: u16, res: reqwest::Response) -> PasError {
        let wait = res
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, self.clock.now()));
        match status {
            401 => PasError::Unauthorised(format!("HTTP {status}")),
            403 => PasError::Forbidden(format!("HTTP {status}")),
            408 => PasError::Timeout,
            409 | 412 => PasError::Conflict,
            429 => PasError::RateLimited { retry_after: wait },
            // The method is not offered for this resource (a PUT where only PATCH is taken).
            405 => PasError::NotSupported,
            400 | 422 | 423 => {
                let body: Value = res
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                PasError::BusinessRule {
                    text: super::map::outcome_text(&body),
                }
            }
            500..=599 => PasError::Unavailable(Box::new(HttpStatus {
                status,
                retry_after: wait,
            })),
            other => PasError::BadData(format!("the PAS refused the request (HTTP {other})")),
        }
    }

    /// A GET, retried on transient failures (waiting out a short `Retry-After`); `None` for
    /// 404/410.
    pub(super) async fn get(&self, url: Url) -> Result<Option<Versioned>, PasError> {
        let max = self.cfg.max_retry_wait;
        (|| async { self.once(|| self.client.get(url.clone())).await })
            .retry(self.retry_policy())
            .when(transient)
            .adjust(move |e, delay| next_delay(e, delay, max))
            .await
    }

    /// A write (`PUT`, JSON Patch `PATCH`, or an operation's `POST`) of `path`, asking for the
    /// resource back (`Prefer: return=representation`). Guarded by `If-Match` when `version`
    /// is given, and then safe to retry. Returns the resource as now stored: the answer's body,
    /// or a read of it when the server answered minimally or with an OperationOutcome.
    pub(super) async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        content_type: &'static str,
        version: Option<&str>,
    ) -> Result<Value, PasError> {
        let url = self.url(path, &[])?;
        let etag = version.map(|v| format!("W/\"{v}\""));
        let text = body.to_string();
        let send = || async {
            self.once(|| {
                let req = self
                    .client
                    .request(method.clone(), url.clone())
                    .header(http::header::CONTENT_TYPE, content_type)
                    .header("prefer", "return=representation")
                    .body(text.clone());
                match &etag {
                    Some(e) => req.header(http::header::IF_MATCH, e.as_str()),
                    None => req,
                }
            })
            .await
        };
        let max = self.cfg.max_retry_wait;
        let out = if etag.is_some() {
            send.retry(self.retry_policy())
                .when(transient)
                .adjust(move |e, delay| next_delay(e, delay, max))
                .await?
        } else {
            send().await?
        };
        let out = out.ok_or(PasError::NotFound)?;
        let mut parts = path.split('/');
        let (kind, id) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if is_resource(&out.body, kind, id) {
            return Ok(out.body);
        }
        self.get(self.url(&format!("{kind}/{id}"), &[])?)
            .await?
            .map(|v| v.body)
            .filter(|b| is_resource(b, kind, id))
            .ok_or(PasError::NotFound)
    }

    /// Every resource a search finds, following `next` links ([`next_link`]); more than
    /// [`FhirPasConfig::page_cap`] pages is an error, never a silently short answer.
    pub(super) async fn search(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, PasError> {
        Ok(self.search_including(resource, query).await?.matches)
    }

    /// [`FhirPas::search`], keeping the resources the server included (an entry whose mode is
    /// `include`, or of another type than the one searched).
    pub(super) async fn search_including(
        &self,
        resource: &str,
        query: &[(&str, String)],
    ) -> Result<Found, PasError> {
        let base =
            Url::parse(&self.base).map_err(|e| PasError::BadData(format!("bad URL: {e}")))?;
        let mut url = self.url(resource, query)?;
        let mut out = Found {
            matches: Vec::new(),
            included: Vec::new(),
        };
        for _ in 0..self.cfg.page_cap {
            let bundle = self
                .get(url.clone())
                .await?
                .ok_or_else(|| PasError::BadData(format!("{resource} search not found")))?
                .body;
            if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(PasError::BadData("a search did not answer a Bundle".into()));
            }
            for entry in bundle
                .get("entry")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(r) = entry.get("resource") else {
                    continue;
                };
                let mode = entry.pointer("/search/mode").and_then(Value::as_str);
                let kind = r.get("resourceType").and_then(Value::as_str);
                match (mode.unwrap_or("match"), kind == Some(resource)) {
                    ("match", true) => out.matches.push(r.clone()),
                    ("match" | "include", _) => out.included.push(r.clone()),
                    _ => {}
                }
            }
            let next = bundle
                .get("link")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("url").and_then(Value::as_str));
            match next {
                None => return Ok(out),
                Some(link) => {
                    url = next_link(&base, link, resource).ok_or_else(|| {
                        PasError::BadData(format!(
                            "a {resource} search's next link goes to another server"
                        ))
                    })?;
                }
            }
        }
        tracing::error!(
            resource,
            pages = self.cfg.page_cap,
            "FHIR PAS: a search has more pages than the cap; refusing a partial answer"
        );
        Err(PasError::BadData(format!(
            "the {resource} search has more than {} pages",
            self.cfg.page_cap
        )))
    }
}

#[cfg(test)]
mod tests;
