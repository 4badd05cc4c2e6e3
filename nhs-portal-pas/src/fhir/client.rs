//! The HTTP side of [`FhirPas`]: URLs, retries with backoff, `If-Match` writes and paged searches.

use std::sync::Arc;

use backon::{ExponentialBuilder, Retryable};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::clock::Clock;
use serde_json::Value;
use url::Url;

use super::{FhirPas, FhirPasConfig, HttpStatus};
use crate::PasError;

/// A resource read with its version, for `If-Match`.
pub(super) struct Versioned {
    pub(super) body: Value,
    pub(super) version: Option<String>,
}

pub(super) const MAX_PAGES: usize = 50;

pub(super) fn transient(e: &PasError) -> bool {
    e.is_transient()
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110), relative to `now`.
pub(super) fn retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
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

    pub(super) async fn once(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Option<Versioned>, PasError> {
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

    /// A GET, retried on transient failures; `None` for 404/410.
    pub(super) async fn get(&self, url: Url) -> Result<Option<Versioned>, PasError> {
        (|| async { self.once(self.client.get(url.clone())).await })
            .retry(self.retry_policy())
            .when(transient)
            .await
    }

    /// A PUT guarded by `If-Match` (so safe to retry).
    pub(super) async fn put_if_match(
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
    pub(super) async fn search(
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
}
