//! How to reach and treat one trust's FHIR PAS, from code or from the environment.

use std::time::Duration;

use nhs_portal_core::Organisation;
use nhs_portal_core::request_status::Capabilities;
use url::Url;

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
    /// How far ahead the trust offers slots to patients (default
    /// [`BOOKING_HORIZON_DAYS`](crate::BOOKING_HORIZON_DAYS)): slots starting later are neither
    /// offered nor booked.
    pub booking_horizon: chrono::Duration,
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
            booking_horizon: chrono::Duration::days(crate::BOOKING_HORIZON_DAYS),
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
