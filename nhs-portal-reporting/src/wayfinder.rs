//! The Wayfinder Reporting Service client (`POST /`, v2.6.2).
//!
//! Each call sends one JSON array of events with a fresh `X-Correlation-ID` (UUID v4), the
//! `client-id` issued by the Wayfinder team and either a bearer token from an
//! [`AccessTokenSource`] ([`WayfinderClient::new`]: production's signed-JWT exchange) or the
//! spec's `ApiKeyAuth` security scheme, the API key in the `apikey` header
//! ([`WayfinderClient::with_api_key`]: the integration environment's key from the portal's
//! testing app).
//! The spec's non-functional requirements are built in:
//! - **WF-NFR-MI-02**: a 20 second timeout with a single retry after a timeout (the retry gets a
//!   new correlation id; the API is idempotent, so a request that did arrive is harmless twice).
//! - **WF-NFR-MI-03**: at most 25 requests per second per client, paced by spacing requests at
//!   least 40 ms apart (a 429 is still handled, as a retry-later answer). The limit is per
//!   client and its clones, so per process: with several portal instances reporting under one
//!   `client-id`, set [`WayfinderConfig::max_requests_per_second`] to 25 divided by their number.
//! - **WF-NFR-MI-05**: batches above 2 MB are refused before sending ([`DeliveryError::TooLarge`]);
//!   the worker splits batches below the limit. "2 MB" is read as 2,000,000 bytes, the stricter
//!   reading.
//! - **WF-NFR-MI-11**: every request is logged (correlation id, event count, size, status,
//!   duration), never its payload.
//!
//! A 401 drops the cached token and is retried once at once with a fresh one (the spec's 401
//! example is an expired token, and it allows retrying "a transient issue with the APIM Identity
//! Service"); a second 401 is returned for the worker's back-off.
//!
//! Only 200, 400 and 401 are documented responses; the text adds 503. Any 5xx is treated as 503;
//! other statuses are kept and retried rather than lost (see [`DeliveryError::Unexpected`]).
//!
//! The pacer is twelve lines rather than a rate-limiting crate: one client, one fixed rate, no
//! burst allowance needed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::sink::{DeliveryError, ReportingSink, parse_rejected_index};
use crate::token::{AccessToken, AccessTokenSource};
use crate::wire::WayfinderEvent;

/// The 2 MB batch limit (WF-NFR-MI-05), read as 2,000,000 bytes.
pub const MAX_BATCH_BYTES: usize = 2_000_000;
/// The request timeout (WF-NFR-MI-02).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The request rate limit (WF-NFR-MI-03).
pub const MAX_REQUESTS_PER_SECOND: u32 = 25;

/// The integration (AOS) base URL.
pub const INTEGRATION_URL: &str =
    "https://int.api.service.nhs.uk/patient-care-aggregator-reporting";
/// The production base URL.
pub const PRODUCTION_URL: &str = "https://api.service.nhs.uk/patient-care-aggregator-reporting";

/// Settings for [`WayfinderClient`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WayfinderConfig {
    /// The base URL ([`INTEGRATION_URL`], [`PRODUCTION_URL`], or a test server); events are
    /// posted to `{base_url}/`.
    pub base_url: String,
    /// The `client-id` header, issued by the Wayfinder team.
    pub client_id: String,
    /// Per-request timeout; [`REQUEST_TIMEOUT`] unless testing.
    pub timeout: Duration,
    /// Largest batch in bytes; [`MAX_BATCH_BYTES`].
    pub max_batch_bytes: usize,
    /// Request rate cap; [`MAX_REQUESTS_PER_SECOND`].
    pub max_requests_per_second: u32,
}

impl WayfinderConfig {
    /// The spec's limits for `base_url` and `client_id`.
    pub fn new(base_url: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            timeout: REQUEST_TIMEOUT,
            max_batch_bytes: MAX_BATCH_BYTES,
            max_requests_per_second: MAX_REQUESTS_PER_SECOND,
        }
    }
}

/// Spaces requests at least `interval` apart.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The Wayfinder Reporting Service client. Cheap to clone; clones share the rate limit.
#[derive(Debug, Clone)]
pub struct WayfinderClient {
    config: WayfinderConfig,
    url: String,
    http: reqwest::Client,
    auth: Auth,
    pacer: Arc<Pacer>,
}

/// How each request is authorised.
#[derive(Debug, Clone)]
enum Auth {
    /// `Authorization: Bearer …` from the source.
    Bearer(Arc<dyn AccessTokenSource>),
    /// `apikey: …` (the spec's `ApiKeyAuth`); redacted in `Debug` like a token.
    ApiKey(AccessToken),
}

#[derive(serde::Deserialize)]
struct RejectedBody {
    message: Option<String>,
}

impl WayfinderClient {
    /// Builds a client that sends a bearer token from `tokens` with each request.
    pub fn new(
        config: WayfinderConfig,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Self, DeliveryError> {
        Self::build(config, Auth::Bearer(tokens))
    }

    /// Builds a client that sends `api_key` in the `apikey` header (the spec's `ApiKeyAuth`
    /// scheme, for the integration environment) and no bearer token.
    pub fn with_api_key(
        config: WayfinderConfig,
        api_key: impl Into<String>,
    ) -> Result<Self, DeliveryError> {
        Self::build(config, Auth::ApiKey(AccessToken::new(api_key)))
    }

    fn build(config: WayfinderConfig, auth: Auth) -> Result<Self, DeliveryError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(DeliveryError::Transport)?;
        let url = format!("{}/", config.base_url.trim_end_matches('/'));
        let rate = config.max_requests_per_second.max(1);
        Ok(Self {
            pacer: Arc::new(Pacer {
                interval: Duration::from_secs(1) / rate,
                next: Mutex::new(None),
            }),
            config,
            url,
            http,
            auth,
        })
    }

    /// The settings.
    pub fn config(&self) -> &WayfinderConfig {
        &self.config
    }

    async fn attempt(&self, body: &[u8], count: usize) -> Result<(), DeliveryError> {
        let token = match &self.auth {
            Auth::Bearer(tokens) => Some(tokens.token().await?),
            Auth::ApiKey(_) => None,
        };
        self.pacer.wait().await;
        let correlation_id = uuid::Uuid::new_v4();
        let started = Instant::now();
        let mut request = self
            .http
            .post(&self.url)
            .header("X-Correlation-ID", correlation_id.to_string())
            .header("client-id", &self.config.client_id)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        request = match (&self.auth, &token) {
            (Auth::ApiKey(key), _) => request.header("apikey", key.secret()),
            (Auth::Bearer(_), Some(token)) => request.bearer_auth(token.secret()),
            (Auth::Bearer(_), None) => request,
        };
        let result = request.body(body.to_vec()).send().await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let timeout = e.is_timeout();
                tracing::warn!(
                    %correlation_id, events = count, bytes = body.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    timeout, "wayfinder request failed"
                );
                return Err(if timeout {
                    DeliveryError::Timeout
                } else {
                    DeliveryError::Transport(e)
                });
            }
        };
        let status = response.status().as_u16();
        tracing::info!(
            %correlation_id, events = count, bytes = body.len(), status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wayfinder request"
        );
        match status {
            200..=299 => Ok(()),
            400 => {
                let text = response.text().await.unwrap_or_default();
                let message = serde_json::from_str::<RejectedBody>(&text)
                    .ok()
                    .and_then(|b| b.message)
                    .unwrap_or(text);
                Err(DeliveryError::Rejected {
                    index: parse_rejected_index(&message),
                    message: message.chars().take(500).collect(),
                })
            }
            401 => {
                if let Auth::Bearer(tokens) = &self.auth {
                    tokens.invalidate().await;
                }
                Err(DeliveryError::Unauthorized)
            }
            429 => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Err(DeliveryError::RateLimited { retry_after })
            }
            500..=599 => Err(DeliveryError::Unavailable { status }),
            _ => Err(DeliveryError::Unexpected { status }),
        }
    }
}

#[async_trait]
impl ReportingSink for WayfinderClient {
    async fn deliver(&self, events: &[WayfinderEvent]) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(events).expect("wire events always serialise");
        if body.len() > self.config.max_batch_bytes {
            return Err(DeliveryError::TooLarge {
                bytes: body.len(),
                max: self.config.max_batch_bytes,
            });
        }
        match self.attempt(&body, events.len()).await {
            // WF-NFR-MI-02: a single retry for a timeout.
            Err(DeliveryError::Timeout) => self.attempt(&body, events.len()).await,
            // An expired token (the spec's 401 example) is fixed by a fresh one: try once more
            // at once; a second 401 goes back to the worker's back-off.
            Err(DeliveryError::Unauthorized) => self.attempt(&body, events.len()).await,
            other => other,
        }
    }

    fn max_batch_bytes(&self) -> usize {
        self.config.max_batch_bytes
    }
}
