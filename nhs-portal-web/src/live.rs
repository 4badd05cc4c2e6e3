//! The whole **live** portal, wired once for real services: patients sign in with NHS login
//! (the relying party, `private_key_jwt`, discovery and keys from the issuer), the trust's PAS is
//! whatever [`PasBackend`] the caller gives (the FHIR adapter, several trusts behind
//! `nhs_portal_pas::trusts::TrustsPas`, or the vendor's own), and the PCA Get Appointments API
//! takes the PCA's bearer tokens (checked against its issuer's JWKS URL) with the NHS App's
//! forwarded ID tokens (checked against NHS login's keys). Nothing here comes from the
//! `simulator` module: [`LivePortal::build`] compiles without it, and refuses plain-http URLs
//! except to the machine itself ([`check_public_url`]).
//!
//! The staff worklist's sign-in and the reporting senders are the caller's to add: mount any
//! [`Handler`] with [`LiveSettings::with_mount`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use nhs_portal_web::live::{LivePortal, LiveSettings, PcaBearer};
//! use nhs_portal_web::nhs_login::{Environment, NhsLoginConfig, RsaSigningKey};
//! # async fn example(pas: Arc<dyn nhs_portal_pas::PasBackend>) {
//! let key = RsaSigningKey::from_pem(&std::fs::read_to_string("nhs-login-key.pem").unwrap()).unwrap();
//! let nhs_login = NhsLoginConfig::new(
//!     Environment::Sandpit.issuer(),
//!     "my-client-id",
//!     key,
//!     "https://portal.example.nhs.uk/sign-in/callback",
//! );
//! let pca = PcaBearer {
//!     issuer: "https://pca-auth.example".into(),
//!     jwks_url: "https://pca-auth.example/jwks.json".into(),
//!     audience: "my-portal".into(),
//! };
//! let settings = LiveSettings::new("https://portal.example.nhs.uk", pas, nhs_login, vec!["nhs-app".into()], pca);
//! let live = LivePortal::build(settings).await.unwrap();
//! # let _ = live;
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::deep_link::{DeepLinkBase, DeepLinkError};
use nhs_portal_core::eligibility::Eligibility;
use nhs_portal_core::store::Store;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::PasBackend;

use crate::assets::Assets;
use crate::fhir_api::{FhirApi, FhirApiConfig, JwksBearerValidator};
use crate::http_kit::Handler;
use crate::nhs_login::{
    ForwardedIdentity, ForwardedTokenConfig, ForwardedTokenVerifier, JwksForwardedVerifier,
    NhsLoginConfig, TokenError,
};
use crate::portal::{Portal, PortalError};
use crate::sign_in::NhsLoginSignIn;
use crate::wiring::{ApiEdit, Wiring};

pub use crate::wiring::{CALLBACK_PATH, EXT_SYSTEM_NAME, FHIR_PATH};

/// Why the live portal could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// A URL the portal publishes or calls is plain http to another machine.
    #[error("{what} must be an https:// URL (http:// only to this machine): {url}")]
    InsecureUrl {
        /// Which URL.
        what: &'static str,
        /// The URL as given.
        url: String,
    },
    /// A URL is not an absolute http(s) URL with a host.
    #[error("{what} is not an absolute http(s) URL with a host: {url}")]
    BadUrl {
        /// Which URL.
        what: &'static str,
        /// The URL as given.
        url: String,
    },
    /// The base URL is not usable for deep links.
    #[error("the base URL is not usable: {0}")]
    BaseUrl(#[from] DeepLinkError),
    /// The redirect URI is not where the portal takes NHS login's callback.
    #[error("the NHS login redirect URI must be {expected}, where the portal serves the callback")]
    RedirectUri {
        /// The one that would work.
        expected: String,
    },
    /// No NHS App client id: every forwarded ID token would be refused.
    #[error(
        "at least one NHS App client id is needed (the audience of the tokens the PCA forwards)"
    )]
    NoNhsAppClient,
    /// The HTTP client for the PCA's keys could not be made.
    #[error("the HTTP client could not be made: {0}")]
    Http(String),
    /// The portal could not be built.
    #[error(transparent)]
    Portal(#[from] PortalError),
}

/// Whether `url` names this machine: `localhost`, `127.0.0.1` or `::1`.
pub fn is_loopback(url: &url::Url) -> bool {
    matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    )
}

/// The live-mode rule for a URL the portal publishes or calls (`what` names it in the error):
/// `https://`, or `http://` only to this machine (a stand-in beside the portal in a test, or a
/// TLS-terminating proxy on the same host).
///
/// ```
/// use nhs_portal_web::live::check_public_url;
/// assert!(check_public_url("the base URL", "https://portal.example.nhs.uk").is_ok());
/// assert!(check_public_url("the base URL", "http://127.0.0.1:8080").is_ok());
/// assert!(check_public_url("the base URL", "http://portal.example.nhs.uk").is_err());
/// ```
pub fn check_public_url(what: &'static str, url: &str) -> Result<(), LiveError> {
    let bad = || LiveError::BadUrl {
        what,
        url: url.to_owned(),
    };
    let parsed = url::Url::parse(url.trim()).map_err(|_| bad())?;
    if parsed.host().is_none() {
        return Err(bad());
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(LiveError::InsecureUrl {
            what,
            url: url.to_owned(),
        }),
        _ => Err(bad()),
    }
}

/// How the PCA's bearer tokens are checked: a JWT from `issuer`, signed by a key at
/// `jwks_url`, for `audience`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcaBearer {
    /// The `iss` the tokens carry (compared exactly).
    pub issuer: String,
    /// Where the issuer publishes its signing keys (a JWKS).
    pub jwks_url: String,
    /// The `aud` the tokens must carry: this portal's API.
    pub audience: String,
}

/// What to build. [`LiveSettings::new`] takes what has no default; change the other fields as
/// needed.
#[non_exhaustive]
pub struct LiveSettings {
    /// The portal's public base URL, no trailing slash.
    pub base_url: String,
    /// The trust's PAS (or several trusts' behind one backend).
    pub pas: Arc<dyn PasBackend>,
    /// NHS login: issuer, client id, `private_key_jwt` key and redirect URI (which must be
    /// `{base_url}/sign-in/callback`).
    pub nhs_login: NhsLoginConfig,
    /// The client ids whose NHS login ID tokens the PCA forwards in `NHSD-ID-Token` (the NHS
    /// App's).
    pub nhs_app_client_ids: Vec<String>,
    /// The PCA's bearer tokens.
    pub pca: PcaBearer,
    /// The store (default a new [`MemoryStore`], which forgets everything on restart).
    pub store: Arc<dyn Store>,
    /// The clock of every part (default the system clock).
    pub clock: Arc<dyn Clock>,
    /// The front-end files (default the embedded ones).
    pub assets: Assets,
    /// Who is served, on the pages and in the API alike (default 16 and over).
    pub eligibility: Eligibility,
    /// Inactivity timeout of patient sessions (default 10 minutes; under 61 seconds is raised).
    pub session_idle: Option<chrono::Duration>,
    /// How many portal instances share NHS England's per-provider limit on the PCA API
    /// (default 1); each holds its share ([`nhs_portal_core::limits`]).
    pub instances: std::num::NonZeroU32,
    /// Changes the PCA API's settings before it is built (after the eligibility rule is set).
    pub fhir_api: Option<fn(&mut FhirApiConfig)>,
    /// Further handlers to mount, each under its path prefix (the staff worklist, say).
    pub mounts: Vec<(String, Arc<dyn Handler>)>,
    /// Each trust's contacts, preparation, response time and cancel policy warning (default
    /// none).
    pub guidance: nhs_portal_core::guidance::Guidance,
}

impl std::fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSettings")
            .field("base_url", &self.base_url)
            .field("nhs_login", &self.nhs_login)
            .field("nhs_app_client_ids", &self.nhs_app_client_ids)
            .field("pca", &self.pca)
            .field(
                "mounts",
                &self.mounts.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl LiveSettings {
    /// The settings with defaults for the rest.
    pub fn new(
        base_url: impl Into<String>,
        pas: Arc<dyn PasBackend>,
        nhs_login: NhsLoginConfig,
        nhs_app_client_ids: Vec<String>,
        pca: PcaBearer,
    ) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            pas,
            nhs_login,
            nhs_app_client_ids,
            pca,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            assets: Assets::embedded(),
            eligibility: Eligibility::DEFAULT,
            session_idle: None,
            instances: std::num::NonZeroU32::MIN,
            fhir_api: None,
            mounts: Vec::new(),
            guidance: nhs_portal_core::guidance::Guidance::new(),
        }
    }

    /// Mounts `handler` under `prefix` (requests there go to it whole).
    pub fn with_mount(mut self, prefix: impl Into<String>, handler: Arc<dyn Handler>) -> Self {
        self.mounts.push((prefix.into(), handler));
        self
    }
}

/// The built live portal: the service and its parts.
#[non_exhaustive]
pub struct LivePortal {
    /// The portal service, with the API and the caller's handlers mounted.
    pub portal: Arc<Portal>,
    /// Its store.
    pub store: Arc<dyn Store>,
    /// The PAS.
    pub pas: Arc<dyn PasBackend>,
    /// The clock every part reads.
    pub clock: Arc<dyn Clock>,
    /// NHS login sign-in (discovery happens on first use).
    pub sign_in: Arc<NhsLoginSignIn>,
    /// The PCA Get Appointments API (mounted at [`FHIR_PATH`]).
    pub fhir_api: Arc<FhirApi>,
    /// The public base URL.
    pub base_url: String,
}

impl std::fmt::Debug for LivePortal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePortal")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LivePortal {
    /// Builds the live portal. Nothing is fetched here: NHS login's discovery document and keys
    /// and the PCA's keys are read when first needed, so the portal starts while they are down.
    pub async fn build(settings: LiveSettings) -> Result<Self, LiveError> {
        let LiveSettings {
            base_url,
            pas,
            nhs_login,
            nhs_app_client_ids,
            pca,
            store,
            clock,
            assets,
            eligibility,
            session_idle,
            instances,
            fhir_api,
            mounts,
            guidance,
        } = settings;
        check_public_url("the base URL", &base_url)?;
        check_public_url("the NHS login issuer", &nhs_login.issuer)?;
        check_public_url("the PCA's JWKS URL", &pca.jwks_url)?;
        let base = DeepLinkBase::parse(&base_url)?;
        let expected = format!("{}{CALLBACK_PATH}", base.as_str());
        if nhs_login.redirect_uri != expected {
            return Err(LiveError::RedirectUri { expected });
        }
        if nhs_app_client_ids.iter().all(|c| c.trim().is_empty()) {
            return Err(LiveError::NoNhsAppClient);
        }

        let forwarded = ForwardedTokenConfig::new(&nhs_login.issuer, nhs_app_client_ids);
        let sign_in = Arc::new(NhsLoginSignIn::new(nhs_login, store.clone(), clock.clone()));
        let id_tokens = NhsLoginKeysVerifier {
            sign_in: sign_in.clone(),
            config: forwarded,
            clock: clock.clone(),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| LiveError::Http(e.to_string()))?;
        let bearer =
            JwksBearerValidator::from_jwks_url(pca.jwks_url, pca.issuer, [pca.audience], http);
        let edit: ApiEdit = Box::new(move |c: &mut FhirApiConfig| {
            c.eligibility = eligibility;
            if let Some(edit) = fhir_api {
                edit(c);
            }
        });
        let (mut portal, fhir_api) = Wiring {
            base: base.clone(),
            store: store.clone(),
            pas: pas.clone(),
            clock: clock.clone(),
            sign_in: sign_in.clone(),
            assets,
            bearer: Arc::new(bearer),
            id_tokens: Arc::new(id_tokens),
            fhir_api: Some(edit),
            session_idle,
            instances,
            demo: None,
            guidance,
        }
        .build()?;
        for (prefix, handler) in mounts {
            portal = portal.mount(prefix, handler);
        }
        Ok(Self {
            portal: Arc::new(portal),
            store,
            pas,
            clock,
            sign_in,
            fhir_api,
            base_url: base.as_str().to_owned(),
        })
    }
}

/// The forwarded-token check on NHS login's own key cache: the relying party's (discovered from
/// the issuer on first use), so the portal keeps one cache of NHS login's keys.
#[derive(Debug)]
struct NhsLoginKeysVerifier {
    sign_in: Arc<NhsLoginSignIn>,
    config: ForwardedTokenConfig,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl ForwardedTokenVerifier for NhsLoginKeysVerifier {
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<ForwardedIdentity, TokenError> {
        let keys = self.sign_in.keys().await.map_err(|_| {
            TokenError::KeysUnavailable("NHS login's discovery document could not be read".into())
        })?;
        JwksForwardedVerifier::new(self.config.clone(), keys)
            .with_clock(self.clock.clone())
            .verify(token, expected)
            .await
    }
}

#[cfg(test)]
mod tests;
