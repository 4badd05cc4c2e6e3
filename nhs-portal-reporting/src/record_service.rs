//! The PCA Record Service (v1.0.2): telling the Patient Care Aggregator which patients the trust
//! holds appointments for, so it knows to ask this portal when they open the NHS App.
//!
//! - [`RecordServiceClient`] posts `{"clientId": …, "nhsNumbers": […]}` with the API key as a
//!   bearer token, at most 5,000 numbers per call in production and 200 elsewhere
//!   ([`RecordServiceConfig::max_batch`]), retrying transient failures (5xx including the
//!   service's own 504 after 30 s, timeouts, connection errors) with exponential back-off
//!   (backon) inside the call.
//! - [`RecordSender`] drains the store's [`RecordQueue`]: it claims numbers, leaves out patients
//!   who must not be sent (under 16, sensitive/restricted, or not known) through the caller's
//!   [`PatientEligibility`], sends the rest, and marks them sent only on a 200
//!   (WF-NFR-RS-01/03). Failed numbers stay queued and are retried with back-off
//!   (WF-NFR-RS-02/07).
//! - [`RecordSender::resend_all`] re-queues every number the caller knows (WF-NFR-RS-05/06);
//!   [`RecordSender::sent_record_count`] gives the distinct NHS numbers sent, for reconciliation
//!   (WF-NFR-RS-06/09).
//!
//! ## Decisions where the spec is silent or contradictory
//! - **Endpoint URL.** The servers list ends in `/records` and the path is `/records` too, while
//!   the environment table gives base URLs ending `/records/`. The client takes the *full*
//!   endpoint URL to post to; confirm the exact one at onboarding.
//! - **Excluded patients are not dropped.** A number that must not be sent stays in the queue
//!   (released with a later `retry_at`) instead of being marked sent, so the sent count never
//!   includes it. An under-16 is due again on their 16th birthday (UK date; someone born on
//!   29 February turns 16 on 1 March in a common year), because the spec says patients turning 16
//!   must then be sent. A restricted patient is checked again after
//!   [`RecordSenderConfig::restricted_recheck`], an unknown one after
//!   [`RecordSenderConfig::unknown_recheck`]: both may change.
//! - **Unknown age.** A patient whose date of birth the PAS does not hold is *not* sent: the
//!   rule is "no under-16s", and we cannot show they are not one.
//! - **400 responses.** The error `data` names bad entries as `"nhsNumbers[i]"`. Those numbers are
//!   held back (retried after `retry_max`, logged by index only, WF-NFR-RS-04) and the rest are
//!   sent again at once. A 400 naming no index (for example `clientId mismatch`) is a set-up
//!   problem: the whole batch is kept and retried with back-off, never dropped.
//! - **401** (unrecognised API key) is not retried within the call (it will not fix itself in
//!   seconds); the batch is kept and retried with back-off.
//! - **Resend while live.** [`RecordSender::resend_all`] goes through the same queue as live
//!   sends, so new numbers keep flowing during a replay, behind the replay's backlog (the queue
//!   is first-in first-out: about 5,000 numbers per request).
//! - **Idempotency.** The queue holds one waiting row per number, a batch never carries the same
//!   number twice, and a number is marked sent only after a 200. The service itself is
//!   idempotent, so a batch resent after a lost 200 does no harm.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::Clock;
use nhs_portal_core::eligibility::{Eligibility as EligibilityRule, Ineligible, PatientFacts};
use nhs_portal_core::store::{RecordQueue, StoreError};

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

/// Whether a patient's NHS number may go to the Record Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Send it.
    Eligible,
    /// Under 16: send from this (UK) date, their 16th birthday.
    UnderSixteen {
        /// Their 16th birthday.
        turns_16_on: NaiveDate,
    },
    /// A sensitive or restricted record: never send while it stays so.
    Restricted,
    /// The patient is not known, or their date of birth is not: do not send.
    Unknown,
}

impl Eligibility {
    /// The rule, from what the PAS holds: restricted first, then age on `today` (UK date).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use nhs_portal_reporting::record_service::Eligibility;
    /// let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    /// assert_eq!(Eligibility::from_patient(Some(d(2000, 1, 1)), false, d(2024, 1, 1)), Eligibility::Eligible);
    /// assert_eq!(
    ///     Eligibility::from_patient(Some(d(2010, 5, 2)), false, d(2024, 1, 1)),
    ///     Eligibility::UnderSixteen { turns_16_on: d(2026, 5, 2) }
    /// );
    /// ```
    pub fn from_patient(
        date_of_birth: Option<NaiveDate>,
        restricted: bool,
        today: NaiveDate,
    ) -> Self {
        // The Record Service rule is the portal's (nhs_portal_core::eligibility) without the
        // trust's portal-access flag, which is about the portal, not about the PCA asking.
        let facts = PatientFacts {
            date_of_birth,
            restricted,
            portal_access: true,
        };
        match RULE.check_on(&facts, today) {
            Ok(()) => Self::Eligible,
            Err(Ineligible::TooYoung { eligible_from }) => Self::UnderSixteen {
                turns_16_on: eligible_from,
            },
            Err(Ineligible::Restricted) => Self::Restricted,
            Err(Ineligible::UnknownAge | Ineligible::NoPortalAccess) => Self::Unknown,
        }
    }
}

/// The eligibility rule the sender applies (16 and over: the Record Service's rule is fixed).
const RULE: EligibilityRule = EligibilityRule::DEFAULT;

/// The date someone born on `dob` turns 16; 29 February birthdays fall on 1 March in common years.
pub fn sixteenth_birthday(dob: NaiveDate) -> NaiveDate {
    RULE.eligible_from(dob)
}

/// Why eligibility could not be decided (the PAS is down, say). The number stays queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EligibilityError {
    /// The source of patient data failed.
    #[error("patient data is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Decides whether a patient may be sent; the caller implements it over the PAS (for example
/// with `nhs_portal_pas::PasBackend::patient` and [`Eligibility::from_patient`]).
#[async_trait]
pub trait PatientEligibility: Send + Sync {
    /// The patient's eligibility on `today` (UK date).
    async fn eligibility(
        &self,
        patient: &NhsNumber,
        today: NaiveDate,
    ) -> Result<Eligibility, EligibilityError>;

    /// The eligibility of several patients, one answer per patient in the same order. The
    /// default asks [`PatientEligibility::eligibility`] for each in turn; override it when the
    /// source can answer in bulk (one SQL query, one FHIR search).
    async fn eligibility_batch(
        &self,
        patients: &[NhsNumber],
        today: NaiveDate,
    ) -> Vec<Result<Eligibility, EligibilityError>> {
        let mut out = Vec::with_capacity(patients.len());
        for p in patients {
            out.push(self.eligibility(p, today).await);
        }
        out
    }
}

/// Settings for [`RecordSender`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordSenderConfig {
    /// This sender's name in claims.
    pub worker_id: String,
    /// How long claimed numbers stay ours; must exceed a send with its retries.
    pub lease: chrono::Duration,
    /// First delay before a failed batch is tried again.
    pub retry_min: Duration,
    /// Longest such delay (also the hold-back for numbers a 400 names).
    pub retry_max: Duration,
    /// When to look again at a restricted patient.
    pub restricted_recheck: chrono::Duration,
    /// When to look again at a patient with no known date of birth.
    pub unknown_recheck: chrono::Duration,
}

impl Default for RecordSenderConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("records-{}", uuid::Uuid::new_v4()),
            lease: chrono::Duration::minutes(10),
            retry_min: Duration::from_secs(60),
            retry_max: Duration::from_secs(60 * 60),
            restricted_recheck: chrono::Duration::days(30),
            unknown_recheck: chrono::Duration::days(1),
        }
    }
}

/// Why a sender pass stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordSenderError {
    /// The store failed.
    #[error("the record queue store failed")]
    Store(#[from] StoreError),
}

/// What a pass did (or, from [`RecordSender::stats`], all passes so far).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Queue rows claimed.
    pub claimed: u64,
    /// Rows marked sent.
    pub sent: u64,
    /// Left out: under 16.
    pub under_16: u64,
    /// Left out: restricted.
    pub restricted: u64,
    /// Left out: unknown patient or age.
    pub unknown: u64,
    /// Released for a retry (send failed, eligibility unavailable, or named in a 400).
    pub deferred: u64,
    /// Requests made (each possibly retried inside the client).
    pub requests: u64,
}

impl RecordStats {
    fn add(&mut self, o: &RecordStats) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.under_16 += o.under_16;
        self.restricted += o.restricted;
        self.unknown += o.unknown;
        self.deferred += o.deferred;
        self.requests += o.requests;
    }
}

/// Drains the store's [`RecordQueue`] into the Record Service. See the module docs.
pub struct RecordSender {
    queue: Arc<dyn RecordQueue>,
    client: RecordServiceClient,
    eligibility: Arc<dyn PatientEligibility>,
    clock: Arc<dyn Clock>,
    config: RecordSenderConfig,
    state: Mutex<(RecordStats, u32)>,
}

impl fmt::Debug for RecordSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSender")
            .field("client", &self.client)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RecordSender {
    /// A sender over `queue`.
    pub fn new(
        queue: Arc<dyn RecordQueue>,
        client: RecordServiceClient,
        eligibility: Arc<dyn PatientEligibility>,
        clock: Arc<dyn Clock>,
        config: RecordSenderConfig,
    ) -> Self {
        Self {
            queue,
            client,
            eligibility,
            clock,
            config,
            state: Mutex::new((RecordStats::default(), 0)),
        }
    }

    /// Totals over every pass.
    pub fn stats(&self) -> RecordStats {
        self.state.lock().expect("stats lock").0
    }

    /// Queues one patient (a new appointment, or a patient turning 16). Already waiting: no-op.
    pub async fn enqueue(&self, patient: &NhsNumber) -> Result<(), RecordSenderError> {
        Ok(self.queue.enqueue_record(patient).await?)
    }

    /// Re-queues every patient the caller knows (WF-NFR-RS-05/06: bulk load, replay), for
    /// example every patient with an appointment in the PAS. Eligibility is checked when each is
    /// sent, so the caller need not filter. Live sends carry on through the same queue. Returns
    /// how many were queued.
    pub async fn resend_all<I>(&self, patients: I) -> Result<u64, RecordSenderError>
    where
        I: IntoIterator<Item = NhsNumber>,
    {
        let mut n = 0;
        for p in patients {
            self.queue.enqueue_record(&p).await?;
            n += 1;
        }
        tracing::info!(queued = n, "record service replay queued");
        Ok(n)
    }

    /// Distinct NHS numbers successfully sent so far, for reconciliation (WF-NFR-RS-06/09).
    pub async fn sent_record_count(&self) -> Result<u64, RecordSenderError> {
        Ok(self.queue.sent_record_count().await?)
    }

    fn failure_delay(&self, consecutive_failures: u32) -> Duration {
        ExponentialBuilder::default()
            .with_min_delay(self.config.retry_min)
            .with_max_delay(self.config.retry_max)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(consecutive_failures.saturating_sub(1) as usize)
            .unwrap_or(self.config.retry_max)
    }

    fn at(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    }

    /// One pass: claim up to a batch, filter, send, record. Returns what it did.
    pub async fn run_once(&self) -> Result<RecordStats, RecordSenderError> {
        let now = self.clock.now();
        let today = nhs_portal_core::uk_time::uk_date(now);
        let max = self.client.config().max_batch;
        let items = self
            .queue
            .claim_records(&self.config.worker_id, max, now, self.config.lease)
            .await?;
        if items.is_empty() {
            return Ok(RecordStats::default());
        }
        let mut stats = RecordStats {
            claimed: items.len() as u64,
            ..Default::default()
        };
        // Distinct numbers in claim order, with every queue row carrying each.
        let mut order: Vec<NhsNumber> = Vec::new();
        let mut rows: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for item in items {
            let ids = rows.entry(item.patient.as_str().to_owned()).or_default();
            if ids.is_empty() {
                order.push(item.patient.clone());
            }
            ids.push(item.id);
        }

        let mut to_send: Vec<NhsNumber> = Vec::new();
        let verdicts = self.eligibility.eligibility_batch(&order, today).await;
        // Numbers held back, grouped by when to look at them again: one store call per time.
        let mut held: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        let mut unavailable = 0usize;
        for (i, patient) in order.into_iter().enumerate() {
            let ids = &rows[patient.as_str()];
            let verdict = verdicts.get(i).map(|v| v.as_ref().map_err(|_| ()));
            let due = match verdict {
                Some(Ok(Eligibility::Eligible)) => {
                    to_send.push(patient);
                    continue;
                }
                Some(Ok(Eligibility::UnderSixteen { turns_16_on })) => {
                    use nhs_portal_core::uk_time::{UkLocal, from_uk_local};
                    stats.under_16 += ids.len() as u64;
                    // UK midnight is never in a clock change gap; fall back to a day's wait.
                    match from_uk_local(turns_16_on.and_time(chrono::NaiveTime::MIN)) {
                        UkLocal::Exact(t) | UkLocal::Ambiguous { earliest: t, .. } => t,
                        _ => now + chrono::Duration::days(1),
                    }
                }
                Some(Ok(Eligibility::Restricted)) => {
                    stats.restricted += ids.len() as u64;
                    now + self.config.restricted_recheck
                }
                Some(Ok(Eligibility::Unknown)) => {
                    stats.unknown += ids.len() as u64;
                    now + self.config.unknown_recheck
                }
                // An error, or an implementation that answered for fewer patients than asked.
                Some(Err(())) | None => {
                    unavailable += 1;
                    stats.deferred += ids.len() as u64;
                    Self::at(now, self.config.retry_min)
                }
            };
            held.entry(due).or_default().extend(ids.iter().copied());
        }
        if unavailable > 0 {
            tracing::warn!(
                patients = unavailable,
                "record eligibility unavailable; will retry"
            );
        }
        for (due, ids) in held {
            self.queue.mark_records_failed(&ids, due).await?;
        }

        let ids_of = |numbers: &[NhsNumber]| -> Vec<i64> {
            numbers
                .iter()
                .flat_map(|n| rows[n.as_str()].iter().copied())
                .collect()
        };
        let mut batch = to_send;
        let mut failed = false;
        // At most two requests: a 400 naming entries holds those back and sends the rest once.
        for round in 0..2 {
            if batch.is_empty() {
                break;
            }
            stats.requests += 1;
            match self.client.send(&batch).await {
                Ok(()) => {
                    let ids = ids_of(&batch);
                    self.queue.mark_records_sent(&ids).await?;
                    stats.sent += ids.len() as u64;
                    batch.clear();
                }
                Err(RecordServiceError::BadRequest { indices, .. })
                    if round == 0
                        && !indices.is_empty()
                        && indices.iter().all(|i| *i < batch.len()) =>
                {
                    tracing::warn!(
                        ?indices,
                        batch = batch.len(),
                        "record service refused entries; holding them back and resending the rest"
                    );
                    let bad: Vec<NhsNumber> = indices.iter().map(|i| batch[*i].clone()).collect();
                    let bad_ids = ids_of(&bad);
                    self.queue
                        .mark_records_failed(&bad_ids, Self::at(now, self.config.retry_max))
                        .await?;
                    stats.deferred += bad_ids.len() as u64;
                    batch = batch
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !indices.contains(i))
                        .map(|(_, n)| n)
                        .collect();
                }
                Err(e) => {
                    failed = true;
                    let consecutive = {
                        let mut s = self.state.lock().expect("stats lock");
                        s.1 += 1;
                        s.1
                    };
                    let ids = ids_of(&batch);
                    tracing::warn!(
                        error = e.kind(),
                        numbers = batch.len(),
                        consecutive_failures = consecutive,
                        "record service send failed; numbers stay queued"
                    );
                    self.queue
                        .mark_records_failed(&ids, Self::at(now, self.failure_delay(consecutive)))
                        .await?;
                    stats.deferred += ids.len() as u64;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            // A second 400 in the same pass: keep them for a later pass.
            let ids = ids_of(&batch);
            self.queue
                .mark_records_failed(&ids, Self::at(now, self.config.retry_min))
                .await?;
            stats.deferred += ids.len() as u64;
        }

        let mut state = self.state.lock().expect("stats lock");
        if !failed && stats.requests > 0 {
            state.1 = 0;
        }
        state.0.add(&stats);
        Ok(stats)
    }

    /// Runs passes until `shutdown` completes, sleeping `idle` when nothing was due.
    pub async fn run(&self, idle: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = tokio::select! {
                _ = &mut shutdown => return,
                r = self.run_once() => match r {
                    Ok(s) if s.claimed as usize >= self.client.config().max_batch && s.deferred == 0 => None,
                    Ok(_) => Some(idle),
                    Err(e) => {
                        tracing::warn!(error = %e, "record sender pass failed");
                        Some(idle)
                    }
                },
            };
            if let Some(p) = pause {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(p) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_indices_cases() {
        for (data, want) in [
            ("\"nhsNumbers[1]\" with value \"abc\" fails", vec![1]),
            (
                r#""nhsNumbers[1]" with value "abc" fails. "nhsNumbers[4]" with value "0" fails"#,
                vec![1, 4],
            ),
            (
                "\"nhsNumbers[2]\" x \"nhsNumbers[2]\" y \"nhsNumbers[0]\"",
                vec![2, 0],
            ),
            ("clientId mismatch", vec![]),
            ("nhsNumbers[x]", vec![]),
            ("nhsNumbers[4", vec![]),
        ] {
            assert_eq!(parse_bad_indices(data), want, "{data}");
        }
    }

    #[test]
    fn transient_errors() {
        assert!(RecordServiceError::GatewayTimeout.is_transient());
        assert!(RecordServiceError::Unavailable { status: 503 }.is_transient());
        assert!(RecordServiceError::Timeout.is_transient());
        assert!(!RecordServiceError::Unauthorized.is_transient());
        assert!(
            !RecordServiceError::BadRequest {
                code: "error.bad-request".into(),
                indices: vec![]
            }
            .is_transient()
        );
    }
}
