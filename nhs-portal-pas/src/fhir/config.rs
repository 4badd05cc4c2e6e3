//! How to reach and treat one trust's FHIR PAS, from code or from the environment.

use std::time::Duration;

use nhs_portal_core::Organisation;
use nhs_portal_core::request_status::Capabilities;
use url::Url;

pub use super::auth::{SecretText, SmartBackendAuth};
pub use super::map::specialties::{SpecialtyMap, SpecialtyMapping};
use super::subscription::SubscriptionConfig;

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
    /// A static bearer token to send, if the PAS needs one (prefer [`FhirPasConfig::smart`]).
    pub bearer_token: Option<String>,
    /// SMART Backend Services: a token from the trust's token endpoint, fetched with a signed
    /// client assertion, cached and refreshed (wins over `bearer_token`).
    pub smart: Option<SmartBackendAuth>,
    /// A client certificate and its key (PEM, both in one text) for mutual TLS, if the trust
    /// asks for one.
    pub client_identity_pem: Option<SecretText>,
    /// The trust's own certificate authority (PEM, one or more certificates), trusted besides
    /// the public roots: servers on private networks such as HSCN often present certificates
    /// from one.
    pub root_certificate_pem: Option<String>,
    /// The most time one portal call may take in the PAS, retries and waits included (default
    /// 8 s: inside the PCA's 9 s budget). When it passes the call is [`PasError::Timeout`](crate::PasError::Timeout).
    pub deadline: Duration,
    /// The longest `Retry-After` the adapter waits out before one retry (default 2 s); a longer
    /// one is answered at once as [`PasError::RateLimited`](crate::PasError::RateLimited) or
    /// unavailable.
    pub max_retry_wait: Duration,
    /// How many pages a search may follow; a search with more fails loudly (default 50).
    pub page_cap: usize,
    /// The trust's own specialty codes (SNOMED CT, local codes) and their Treatment Function
    /// Codes, for appointments that carry no TFC.
    pub specialties: SpecialtyMap,
    /// How the event feed polls.
    pub feed: FeedConfig,
    /// How far ahead the trust offers slots to patients (default
    /// [`BOOKING_HORIZON_DAYS`](crate::BOOKING_HORIZON_DAYS)): slots starting later are neither
    /// offered nor booked.
    pub booking_horizon: chrono::Duration,
    /// A Subscription for pushed changes, where the server offers backport Subscriptions
    /// (registered by [`FhirPas::subscribe`](super::FhirPas::subscribe); polling stays on as
    /// the safety net). `None`: polling only.
    pub subscription: Option<SubscriptionConfig>,
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
            smart: None,
            client_identity_pem: None,
            root_certificate_pem: None,
            deadline: Duration::from_secs(8),
            max_retry_wait: Duration::from_secs(2),
            page_cap: 50,
            specialties: SpecialtyMap::default(),
            feed: FeedConfig::default(),
            booking_horizon: chrono::Duration::days(crate::BOOKING_HORIZON_DAYS),
            subscription: None,
        }
    }

    /// Whether this configuration sends credentials (a token, SMART or a client certificate).
    pub fn has_credentials(&self) -> bool {
        self.bearer_token.is_some() || self.smart.is_some() || self.client_identity_pem.is_some()
    }

    /// Refuses a configuration that would send credentials over plain `http` to anything but
    /// this machine (loopback is allowed for test servers).
    pub fn check(&self) -> Result<(), FhirConfigError> {
        if self.has_credentials() && !secure_or_local(&self.base_url) {
            return Err(FhirConfigError::Insecure("the FHIR base URL"));
        }
        if let Some(smart) = &self.smart
            && !secure_or_local(&smart.token_url)
        {
            return Err(FhirConfigError::Insecure("the SMART token URL"));
        }
        // The secret travels back to the endpoint on every notification.
        if let Some(sub) = &self.subscription
            && !secure_or_local(&sub.endpoint)
        {
            return Err(FhirConfigError::Insecure("the Subscription endpoint"));
        }
        Ok(())
    }
}

/// `https`, or `http` to a loopback address.
pub(super) fn secure_or_local(url: &Url) -> bool {
    match url.host() {
        _ if url.scheme() == "https" => true,
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// How [`FhirPas`](super::FhirPas) polls the PAS for changes
/// ([`PasBackend::poll_events`](crate::PasBackend::poll_events)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedConfig {
    /// How far before `since` each poll looks again (default 2 minutes): servers stamp
    /// `lastUpdated` before the change commits, so a change can appear after a poll with a
    /// time before it. Re-seen changes are dropped by their version.
    pub overlap: chrono::Duration,
    /// Search parameters that scope the poll to this trust (for example
    /// `("actor", "Organization/R9N")` or `("location", "Location/123")`); appointments that
    /// name another trust's ODS code are dropped as well.
    pub scope: Vec<(String, String)>,
    /// How close together a cancellation and a new booking of the same patient, specialty and
    /// trust must be to be read as one move (default 15 minutes).
    pub rebook_window: chrono::Duration,
    /// How long a claimed slot is left alone before a half-done move through it is finished or
    /// undone ([`FhirPas::reconcile`](super::FhirPas::reconcile); default 1 minute, longer than
    /// any portal call, so no move in progress is touched).
    pub reconcile_after: chrono::Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            overlap: chrono::Duration::minutes(2),
            scope: Vec::new(),
            rebook_window: chrono::Duration::minutes(15),
            reconcile_after: chrono::Duration::minutes(1),
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
    /// Credentials would go over plain `http` to another machine.
    #[error("{0} must be https when credentials are configured")]
    Insecure(&'static str),
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
        cfg.check()?;
        Ok(Some(cfg))
    }
}
