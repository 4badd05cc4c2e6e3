//! The PCA Record Service sender, by settings (flattened into `Settings`): with a URL, client id and API key it drains the
//! store's record queue on a schedule ([`RecordSender::run`]), leaving out the patients the PAS
//! says must not be sent (under 16, restricted, unknown) through [`PasEligibility`]. In demo mode
//! every demo patient with an appointment is queued at start-up (`resend_all`), so the demo shows
//! the feed; a live portal's PAS feed queues patients as appointments are booked.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use clap::Args;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;
use nhs_portal_reporting::record_service::{
    Eligibility, EligibilityError, PatientEligibility, RecordSender, RecordSenderConfig,
    RecordServiceClient, RecordServiceConfig,
};
use nhs_portal_web::live::check_public_url;

use crate::BoxError;
use crate::settings::{Secret, Settings, named, parse_http_url};

/// The Record Service settings (flattened into `Settings`).
#[derive(Debug, Args)]
pub struct RecordServiceSettings {
    /// PCA Record Service: the full endpoint URL to post NHS numbers to; with it the sender runs
    /// on a schedule (then the client id and API key are required).
    #[arg(long, env = "NHS_PORTAL_RECORD_SERVICE_URL", value_name = "URL", value_parser = parse_http_url)]
    pub record_service_url: Option<url::Url>,

    /// PCA Record Service: the `clientId` issued for the appointments resource type.
    #[arg(long, env = "NHS_PORTAL_RECORD_SERVICE_CLIENT_ID", value_name = "ID")]
    pub record_service_client_id: Option<String>,

    /// PCA Record Service: the API key, sent as a bearer token (a secret).
    #[arg(
        long,
        env = "NHS_PORTAL_RECORD_SERVICE_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub record_service_api_key: Option<Secret>,

    /// PCA Record Service: seconds between the sender's passes when nothing is waiting, 1 to
    /// 86400.
    #[arg(
        long,
        env = "NHS_PORTAL_RECORD_SERVICE_INTERVAL_SECONDS",
        default_value_t = 300,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u32).range(1..=86_400)
    )]
    pub record_service_interval_seconds: u32,

    /// PCA Record Service: most NHS numbers per call, 1 to 5000 (production allows 5000, other
    /// environments 200).
    #[arg(
        long,
        env = "NHS_PORTAL_RECORD_SERVICE_MAX_BATCH",
        default_value_t = 200,
        value_name = "COUNT",
        value_parser = clap::value_parser!(u16).range(1..=5_000)
    )]
    pub record_service_max_batch: u16,
}

impl RecordServiceSettings {
    /// The settings that do not fit together, each naming its setting.
    pub fn problems(&self, s: &Settings) -> Vec<String> {
        let others = [
            (
                "NHS_PORTAL_RECORD_SERVICE_CLIENT_ID",
                self.record_service_client_id.is_none(),
            ),
            (
                "NHS_PORTAL_RECORD_SERVICE_API_KEY",
                self.record_service_api_key.is_none(),
            ),
        ];
        let why = if self.record_service_url.is_some() {
            "required when NHS_PORTAL_RECORD_SERVICE_URL is set"
        } else {
            "set, but NHS_PORTAL_RECORD_SERVICE_URL is not (nothing would use it)"
        };
        let mut problems: Vec<String> = others
            .into_iter()
            .filter(|(_, missing)| *missing == self.record_service_url.is_some())
            .map(|(env, _)| format!("{}: {why}", named(env)))
            .collect();
        if s.live.mode == crate::live_settings::Mode::Live
            && let Some(url) = &self.record_service_url
            && let Err(e) = check_public_url("the Record Service URL", url.as_str())
        {
            problems.push(format!("{}: {e}", named("NHS_PORTAL_RECORD_SERVICE_URL")));
        }
        problems
    }

    /// The `--check-config` line.
    pub fn summary(&self) -> String {
        match &self.record_service_url {
            Some(url) => format!(
                "NHS numbers sent to {url} as client {} (key set), up to {} a call, every {} seconds when idle",
                self.record_service_client_id.as_deref().unwrap_or("?"),
                self.record_service_max_batch,
                self.record_service_interval_seconds
            ),
            None => "not sent (no NHS_PORTAL_RECORD_SERVICE_URL)".into(),
        }
    }

    /// Starts the sender on a schedule when a URL is set, queueing `patients` first; returns a
    /// line saying what runs and the sender's task, which ends after its pass in hand once
    /// `stopping` turns true.
    pub async fn start(
        &self,
        store: Arc<dyn Store>,
        pas: Arc<dyn PasBackend>,
        clock: Arc<dyn Clock>,
        patients: Vec<NhsNumber>,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(String, Option<tokio::task::JoinHandle<()>>), BoxError> {
        let (Some(url), Some(client_id), Some(key)) = (
            &self.record_service_url,
            &self.record_service_client_id,
            &self.record_service_api_key,
        ) else {
            return Ok((
                "the Record Service is not sent to (no NHS_PORTAL_RECORD_SERVICE_URL)".into(),
                None,
            ));
        };
        let mut config = RecordServiceConfig::non_production(url.as_str(), client_id, key.expose());
        config.max_batch = self.record_service_max_batch.into();
        let client = RecordServiceClient::new(config)?;
        let sender = Arc::new(RecordSender::new(
            store,
            client,
            Arc::new(PasEligibility(pas)),
            clock,
            RecordSenderConfig::default(),
        ));
        let queued = sender.resend_all(patients).await?;
        let idle = Duration::from_secs(self.record_service_interval_seconds.into());
        let run = sender.clone();
        let task = tokio::spawn(async move {
            run.run(idle, async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            })
            .await
        });
        Ok((
            format!(
                "the Record Service sender runs every {} seconds when idle ({queued} patients queued)",
                self.record_service_interval_seconds
            ),
            Some(task),
        ))
    }
}

/// Which patients may go to the Record Service, from the PAS's record of each.
struct PasEligibility(Arc<dyn PasBackend>);

#[async_trait]
impl PatientEligibility for PasEligibility {
    async fn eligibility(
        &self,
        patient: &NhsNumber,
        today: NaiveDate,
    ) -> Result<Eligibility, EligibilityError> {
        match self.0.patient(patient).await {
            Ok(Some(record)) => Ok(Eligibility::from_patient(
                Some(record.date_of_birth),
                record.restricted,
                today,
            )),
            Ok(None) => Ok(Eligibility::Unknown),
            Err(e) => Err(EligibilityError::Unavailable(Box::new(e))),
        }
    }
}
