//! The Record Service client: its configuration, one call's errors and the batched, retried `POST`.

use std::fmt;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use nhs_portal_core::NhsNumber;

/// Production's limit of NHS numbers per call.
pub const PRODUCTION_MAX_BATCH: usize = 5_000;
/// The limit in non-production environments.
pub const NON_PRODUCTION_MAX_BATCH: usize = 200;

/// Why a Record Service call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordServiceError {
    /// 400 `error.bad-request`: invalid JSON or NHS numbers, or the API key does not match the
    /// client id. `indices` are the positions the service's `data` names (`"nhsNumbers[i]"`).
    #[error("the Record Service refused the request ({code})")]
    BadRequest {
        /// The error code, normally `error.bad-request`.
        code: String,
        /// Positions of refused numbers in the request, when named.
        indices: Vec<usize>,
    },
    /// 401 `error.unauthorized`: the API key is not recognised.
    #[error("the Record Service did not recognise the API key")]
    Unauthorized,
    /// 504: the service timed out (after 30 s).
    #[error("the Record Service timed out (504)")]
    GatewayTimeout,
    /// Another 5xx.
    #[error("the Record Service answered {status}")]
    Unavailable {
        /// The status.
        status: u16,
    },
    /// Another status.
    #[error("the Record Service answered an unexpected {status}")]
    Unexpected {
        /// The status.
        status: u16,
    },
    /// No answer within our timeout.
    #[error("no answer from the Record Service in time")]
    Timeout,
    /// The connection failed.
    #[error("could not reach the Record Service")]
    Transport(#[source] reqwest::Error),
    /// More numbers than one call may carry.
    #[error("{len} NHS numbers is more than the {max} one call may carry")]
    TooMany {
        /// Numbers given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No numbers (the spec requires at least one).
    #[error("no NHS numbers to send")]
    Empty,
}

impl RecordServiceError {
    /// Worth retrying within the same call, after a short wait.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::GatewayTimeout | Self::Unavailable { .. } | Self::Timeout | Self::Transport(_)
        )
    }

    /// A short name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::GatewayTimeout => "gateway_timeout",
            Self::Unavailable { .. } => "unavailable",
            Self::Unexpected { .. } => "unexpected_status",
            Self::Timeout => "timeout",
            Self::Transport(_) => "transport",
            Self::TooMany { .. } => "too_many",
            Self::Empty => "empty",
        }
    }
}

/// Settings for [`RecordServiceClient`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RecordServiceConfig {
    /// The full endpoint URL to post to (see the module docs).
    pub url: String,
    /// The `clientId` issued for the appointments resource type.
    pub client_id: String,
    /// The API key, sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// Most numbers per call: [`PRODUCTION_MAX_BATCH`] or [`NON_PRODUCTION_MAX_BATCH`].
    pub max_batch: usize,
    /// Our timeout per attempt; a little over the service's own 30 s.
    pub timeout: Duration,
    /// Retries of a transient failure within one call.
    pub retries: usize,
    /// First wait before a retry within a call.
    pub retry_min: Duration,
    /// Longest wait between retries within a call.
    pub retry_max: Duration,
}

impl fmt::Debug for RecordServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordServiceConfig")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("max_batch", &self.max_batch)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl RecordServiceConfig {
    /// Production settings: 5,000 per call, 35 s timeout, 3 retries from 1 s.
    pub fn production(
        url: impl Into<String>,
        client_id: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            client_id: client_id.into(),
            api_key: api_key.into(),
            max_batch: PRODUCTION_MAX_BATCH,
            timeout: Duration::from_secs(35),
            retries: 3,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }

    /// Non-production settings: as production but 200 per call.
    pub fn non_production(
        url: impl Into<String>,
        client_id: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        Self {
            max_batch: NON_PRODUCTION_MAX_BATCH,
            ..Self::production(url, client_id, api_key)
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    client_id: &'a str,
    nhs_numbers: Vec<&'a str>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    code: Option<String>,
    data: Option<String>,
}

/// Parses `"nhsNumbers[i]"` positions from a 400's `data`.
pub(crate) fn parse_bad_indices(data: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (pos, _) in data.match_indices("nhsNumbers[") {
        let rest = &data[pos + "nhsNumbers[".len()..];
        if let Some(end) = rest.find(']')
            && let Ok(i) = rest[..end].parse::<usize>()
            && !out.contains(&i)
        {
            out.push(i);
        }
    }
    out
}

/// The Record Service client.
#[derive(Debug, Clone)]
pub struct RecordServiceClient {
    config: RecordServiceConfig,
    http: reqwest::Client,
}

impl RecordServiceClient {
    /// Builds a client.
    pub fn new(config: RecordServiceConfig) -> Result<Self, RecordServiceError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(RecordServiceError::Transport)?;
        Ok(Self { config, http })
    }

    /// The settings.
    pub fn config(&self) -> &RecordServiceConfig {
        &self.config
    }

    /// Sends one batch (1 to `max_batch` numbers), retrying transient failures with back-off.
    pub async fn send(&self, numbers: &[NhsNumber]) -> Result<(), RecordServiceError> {
        if numbers.is_empty() {
            return Err(RecordServiceError::Empty);
        }
        if numbers.len() > self.config.max_batch {
            return Err(RecordServiceError::TooMany {
                len: numbers.len(),
                max: self.config.max_batch,
            });
        }
        let body = serde_json::to_vec(&Body {
            client_id: &self.config.client_id,
            nhs_numbers: numbers.iter().map(NhsNumber::as_str).collect(),
        })
        .expect("the body always serialises");
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.retry_min)
            .with_max_delay(self.config.retry_max)
            .with_max_times(self.config.retries)
            .with_jitter();
        (|| self.attempt(&body, numbers.len()))
            .retry(backoff)
            .when(RecordServiceError::is_transient)
            .notify(|e, wait| {
                tracing::info!(
                    error = e.kind(),
                    wait_ms = wait.as_millis() as u64,
                    "record service retry"
                );
            })
            .await
    }

    async fn attempt(&self, body: &[u8], count: usize) -> Result<(), RecordServiceError> {
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(&self.config.url)
            .bearer_auth(&self.config.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    RecordServiceError::Timeout
                } else {
                    RecordServiceError::Transport(e)
                }
            })?;
        let status = response.status().as_u16();
        tracing::info!(
            numbers = count,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "record service request"
        );
        match status {
            200..=299 => Ok(()),
            400 => {
                let parsed: Option<ErrorBody> = response.json().await.ok();
                let (code, data) = parsed.map(|b| (b.code, b.data)).unwrap_or((None, None));
                Err(RecordServiceError::BadRequest {
                    code: code.unwrap_or_else(|| "error.bad-request".into()),
                    indices: data.as_deref().map(parse_bad_indices).unwrap_or_default(),
                })
            }
            401 => Err(RecordServiceError::Unauthorized),
            504 => Err(RecordServiceError::GatewayTimeout),
            500..=599 => Err(RecordServiceError::Unavailable { status }),
            _ => Err(RecordServiceError::Unexpected { status }),
        }
    }
}
