//! The whole **demo** portal, wired once: the demo data in a simulated PAS (not a hospital
//! system), the NHS login simulator (not NHS login) with the portal as its relying party, the
//! patient pages, the staff worklist, the PCA Get Appointments API accepting the simulator's
//! tokens (the demo PCA client `pca-demo` gets them by `client_credentials` with its secret), and
//! the NHS App simulator (not the NHS App) at [`NHS_APP_PATH`]. The reference portal, the
//! examples and the tests build it here instead of copying the wiring.
//!
//! Demo only: everything here signs anyone in as any demo patient. Behind the `simulator`
//! feature. Over 400 lines because it is the one place every demo part is wired together (and
//! its test); splitting the wiring would spread one sequence over files.
//!
//! ```
//! use nhs_portal_web::demo::{DemoPortal, DemoSettings};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let demo = DemoPortal::build(DemoSettings::new("http://127.0.0.1:8080")).await.unwrap();
//! let bearer = demo.pca_bearer_token().unwrap();
//! let id_token = demo.nhs_app_id_token(nhs_portal_pas::demo::ADULT).unwrap();
//! assert!(!bearer.is_empty() && !id_token.is_empty());
//! # });
//! ```

use std::sync::Arc;

use nhs_portal_core::clock::{Clock, SystemClock};
use nhs_portal_core::deep_link::{DeepLinkBase, DeepLinkError};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{Store, StoreError};
use nhs_portal_core::{NhsNumber, Organisation};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::simulated::SimulatedPas;
use nhs_portal_pas::worklist::Worklist;

use crate::assets::Assets;
use crate::fhir_api::auth::JwksBearerValidator;
use crate::fhir_api::{FhirApi, FhirApiConfig};
use crate::nhs_app_simulator::NhsAppSimulator;
use crate::nhs_login::{
    ForwardedTokenConfig, JwksCache, JwksForwardedVerifier, KeyError, NhsLoginConfig, RsaSigningKey,
};
use crate::portal::{DemoInfo, Portal, PortalError};
use crate::sign_in::{NhsLoginSignIn, SignIn};
use crate::simulator::{
    SIMULATED_NHS_APP_CLIENT_ID, Simulator, SimulatorApiClient, SimulatorClient, SimulatorConfig,
    SimulatorError, TestPatient,
};
use crate::staff::{StaffOidc, StaffPages};
use crate::wiring::Wiring;

/// The portal's client id at its own NHS login simulator.
pub const DEMO_CLIENT_ID: &str = "nhs-portal-demo";
/// The audience of the demo PCA API bearer tokens.
pub const DEMO_API_AUDIENCE: &str = "nhs-portal-pca-api";
/// The client id the demo PCA bearer tokens name.
pub const DEMO_PCA_CLIENT_ID: &str = "pca-demo";
/// The demo PCA client's default `client_secret` at the simulator's token endpoint (the
/// reference portal reads `NHS_PORTAL_DEMO_PCA_SECRET`).
pub const DEMO_PCA_SECRET: &str = "demo-pca-secret";
/// Where the NHS App simulator is mounted.
pub const NHS_APP_PATH: &str = "/nhs-app-simulator";
/// Where the NHS login simulator is mounted.
pub const SIMULATOR_PATH: &str = "/nhs-login-simulator";
/// Where the staff worklist is mounted.
pub const STAFF_PATH: &str = "/staff";
pub use crate::wiring::{CALLBACK_PATH, EXT_SYSTEM_NAME, FHIR_PATH};

/// Why the demo portal could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The base URL is not usable.
    #[error("the base URL is not usable: {0}")]
    BaseUrl(#[from] DeepLinkError),
    /// A key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The NHS login simulator could not start or mint a token.
    #[error(transparent)]
    Simulator(#[from] SimulatorError),
    /// The portal (or the staff pages) could not be built.
    #[error(transparent)]
    Portal(#[from] PortalError),
    /// The staff pages' templates did not load.
    #[error(transparent)]
    Pages(#[from] crate::pages::PageError),
    /// The simulator's keys could not be read back.
    #[error("the simulator's keys could not be read: {0}")]
    Jwks(#[from] serde_json::Error),
    /// Seeding the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to build. [`DemoSettings::new`] gives the defaults; change fields or use the `with_`
/// methods.
#[derive(Clone)]
#[non_exhaustive]
pub struct DemoSettings {
    /// The portal's public base URL, no trailing slash (for example `http://127.0.0.1:8080`).
    pub base_url: String,
    /// The portal's store (default a new [`MemoryStore`]); the demo requests are seeded into it.
    pub store: Arc<dyn Store>,
    /// The clock of every part (default the system clock). Tests pass a `ManualClock`.
    pub clock: Arc<dyn Clock>,
    /// The front-end files (default every embedded one, [`Assets::embedded`]).
    pub assets: Assets,
    /// The staff worklist's access code (default a random one, see [`DemoPortal::staff_code`]).
    /// Not used when [`DemoSettings::staff_oidc`] is set.
    pub staff_code: Option<String>,
    /// Signs staff in through the trust's OpenID Connect provider instead of the access code
    /// (then no code opens the worklist).
    pub staff_oidc: Option<Arc<StaffOidc>>,
    /// The trusts whose requests the staff worklist shows and acts on (default both demo
    /// trusts).
    pub staff_trusts: Option<Vec<Organisation>>,
    /// Inactivity timeout of patient sessions (default the portal's, 10 minutes). The warning
    /// comes a minute before; values under 61 seconds are raised to 61.
    pub session_idle: Option<chrono::Duration>,
    /// How many portal instances share NHS England's per-provider limit on the PCA API
    /// (default 1); each holds its share ([`nhs_portal_core::limits`]).
    pub instances: std::num::NonZeroU32,
    /// Signs patients in instead of the NHS login simulator (for example a relying party of
    /// another OpenID Connect provider); the simulator is still mounted and mints API tokens.
    pub sign_in: Option<Arc<dyn SignIn>>,
    /// Changes the PCA API's settings before it is built.
    pub fhir_api: Option<fn(&mut FhirApiConfig)>,
    /// Requests per second per PCA client before the API answers 429, and the burst allowed
    /// (default the API's own, 60 and 60); zero turns the limiter off, for saturation
    /// benchmarks only. Applied before [`DemoSettings::fhir_api`].
    pub pca_rate_limit: Option<u32>,
    /// The `client_secret` with which the demo PCA client ([`DEMO_PCA_CLIENT_ID`]) gets API
    /// tokens from the simulator's token endpoint (default [`DEMO_PCA_SECRET`]).
    pub pca_secret: String,
    /// The PAS behind the patient pages and the PCA API instead of the simulated one (for
    /// example a `FhirPas` against a test peer holding the demo patients). The simulated PAS
    /// is still built, and the staff worklist still works on it.
    pub pas: Option<Arc<dyn PasBackend>>,
}

impl std::fmt::Debug for DemoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoSettings")
            .field("base_url", &self.base_url)
            .field("session_idle", &self.session_idle)
            .field("instances", &self.instances)
            .field("custom_sign_in", &self.sign_in.is_some())
            .finish_non_exhaustive()
    }
}

impl DemoSettings {
    /// The defaults for a portal at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            assets: Assets::embedded(),
            staff_code: None,
            staff_oidc: None,
            staff_trusts: None,
            session_idle: None,
            instances: std::num::NonZeroU32::MIN,
            sign_in: None,
            fhir_api: None,
            pca_rate_limit: None,
            pca_secret: DEMO_PCA_SECRET.into(),
            pas: None,
        }
    }

    /// Uses this store.
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Uses this clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses these front-end files.
    pub fn with_assets(mut self, assets: Assets) -> Self {
        self.assets = assets;
        self
    }

    /// Signs patients in with this instead of the simulator.
    pub fn with_sign_in(mut self, sign_in: Arc<dyn SignIn>) -> Self {
        self.sign_in = Some(sign_in);
        self
    }
}

/// The built demo portal: the service and its parts.
#[non_exhaustive]
pub struct DemoPortal {
    /// The portal service, with the simulator, the staff pages and the API mounted.
    pub portal: Arc<Portal>,
    /// Its store (seeded with the demo's pending requests).
    pub store: Arc<dyn Store>,
    /// The simulated PAS holding the demo data.
    pub pas: Arc<SimulatedPas>,
    /// The clock every part reads.
    pub clock: Arc<dyn Clock>,
    /// The NHS login simulator (mounted at [`SIMULATOR_PATH`]).
    pub simulator: Arc<Simulator>,
    /// The staff worklist service (its pages are mounted at [`STAFF_PATH`]).
    pub worklist: Worklist,
    /// The PCA Get Appointments API (mounted at [`FHIR_PATH`]).
    pub fhir_api: Arc<FhirApi>,
    /// The demo data, built for the clock's time at start-up.
    pub data: DemoData,
    /// The public base URL.
    pub base_url: String,
    /// The staff worklist's access code (unused when staff sign in through
    /// [`DemoSettings::staff_oidc`]).
    pub staff_code: String,
    /// How many demo requests seeding added to the store (0 when they were there already).
    pub seeded: usize,
}

impl std::fmt::Debug for DemoPortal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoPortal")
            .field("base_url", &self.base_url)
            .field("seeded", &self.seeded)
            .finish_non_exhaustive()
    }
}

impl DemoPortal {
    /// Builds the demo portal. Seeding the store is safe on every start.
    pub async fn build(settings: DemoSettings) -> Result<Self, DemoError> {
        let DemoSettings {
            base_url,
            store,
            clock,
            assets,
            staff_code,
            staff_oidc,
            staff_trusts,
            session_idle,
            instances,
            sign_in,
            fhir_api,
            pca_rate_limit,
            pca_secret,
            pas: pages_pas,
        } = settings;
        let base = DeepLinkBase::parse(&base_url)?;

        let (data, pas, seeded) = demo::start(clock.clone(), store.as_ref()).await?;
        let pas = Arc::new(pas);

        // The NHS login simulator, with this portal as its relying party.
        let issuer = format!("{base_url}{SIMULATOR_PATH}");
        let redirect_uri = format!("{base_url}{CALLBACK_PATH}");
        let client_key = RsaSigningKey::generate()?;
        let simulator = Arc::new(
            Simulator::new(
                SimulatorConfig::new(&issuer)
                    .mounted_at(SIMULATOR_PATH)
                    .with_patients(TestPatient::demo_patients_on(data.now))
                    .with_client(SimulatorClient::new(
                        DEMO_CLIENT_ID,
                        &redirect_uri,
                        &client_key,
                    ))
                    .with_api_client(SimulatorApiClient::new(
                        DEMO_PCA_CLIENT_ID,
                        pca_secret,
                        DEMO_API_AUDIENCE,
                    )),
            )?
            .with_clock(clock.clone()),
        );
        let sign_in = match sign_in {
            Some(s) => s,
            None => Arc::new(NhsLoginSignIn::new(
                NhsLoginConfig::new(&issuer, DEMO_CLIENT_ID, client_key, &redirect_uri),
                store.clone(),
                clock.clone(),
            )),
        };

        // The PCA API, accepting the simulator's tokens.
        let jwks = simulator.jwks();
        let bearer = JwksBearerValidator::from_jwks_json(
            &serde_json::to_string(&jwks)?,
            &issuer,
            [DEMO_API_AUDIENCE],
        )?;
        let id_tokens = JwksForwardedVerifier::new(
            ForwardedTokenConfig::new(&issuer, vec![SIMULATED_NHS_APP_CLIENT_ID.into()]),
            Arc::new(JwksCache::fixed(jwks)),
        );

        // The staff worklist, for both demo trusts unless told otherwise.
        let staff_code =
            staff_code.unwrap_or_else(|| crate::session::random_token()[..12].to_owned());
        let worklist =
            Worklist::new(store.clone(), pas.clone(), clock.clone()).with_applier(pas.clone());
        let trusts = staff_trusts
            .unwrap_or_else(|| vec![demo::real_time_trust(), demo::request_only_trust()]);
        let secure = !base_url.starts_with("http://");
        let staff = match staff_oidc {
            Some(oidc) => {
                StaffPages::with_oidc(worklist.clone(), trusts, oidc, clock.clone(), secure)?
            }
            None => StaffPages::new(worklist.clone(), trusts, &staff_code, clock.clone(), secure)?,
        };

        let (portal, fhir_api) = Wiring {
            base,
            store: store.clone(),
            pas: pages_pas.unwrap_or_else(|| pas.clone() as Arc<dyn PasBackend>),
            clock: clock.clone(),
            sign_in,
            assets,
            bearer: Arc::new(bearer),
            id_tokens: Arc::new(id_tokens),
            fhir_api: Some(Box::new(move |c: &mut FhirApiConfig| {
                if let Some(rate) = pca_rate_limit {
                    c.rate_limit_per_second = f64::from(rate);
                    c.rate_limit_burst = rate;
                }
                if let Some(edit) = fhir_api {
                    edit(c);
                }
            })),
            session_idle,
            instances,
            demo: Some(DemoInfo {
                patients: vec![demo::ADULT.into(), demo::SECOND_ADULT.into()],
                staff_href: Some(STAFF_PATH.into()),
            }),
            guidance: demo::trust_guidance(),
        }
        .build()?;
        let portal = portal
            .mount(SIMULATOR_PATH, simulator.clone())
            .mount(STAFF_PATH, staff)
            .mount(
                NHS_APP_PATH,
                NhsAppSimulator::new(
                    NHS_APP_PATH,
                    &base_url,
                    simulator.clone(),
                    (fhir_api.clone(), FHIR_PATH),
                    (DEMO_PCA_CLIENT_ID, DEMO_API_AUDIENCE),
                ),
            );

        Ok(Self {
            portal: Arc::new(portal),
            store,
            pas,
            clock,
            simulator,
            worklist,
            fhir_api,
            data,
            base_url,
            staff_code,
            seeded,
        })
    }

    /// A bearer token for the PCA API, as the (demo) PCA presents it.
    pub fn pca_bearer_token(&self) -> Result<String, DemoError> {
        Ok(self
            .simulator
            .mint_client_credentials_token(DEMO_PCA_CLIENT_ID, DEMO_API_AUDIENCE)?)
    }

    /// An NHS login ID token for a demo patient, as the NHS App holds it and the PCA forwards it
    /// in `NHSD-ID-Token` (with the NHS login date of birth: see `demo::DOB_MISMATCH`).
    pub fn nhs_app_id_token(&self, nhs_number: &str) -> Result<String, DemoError> {
        Ok(self
            .simulator
            .mint_id_token(&demo_nhs_number(nhs_number)?, SIMULATED_NHS_APP_CLIENT_ID)?)
    }

    /// What the NHS App appends to a deep link as `assertedLoginIdentity` for a demo patient.
    pub fn sso_assertion(&self, nhs_number: &str) -> Result<String, DemoError> {
        Ok(self
            .simulator
            .mint_sso_assertion(&demo_nhs_number(nhs_number)?)?)
    }
}

fn demo_nhs_number(nhs_number: &str) -> Result<NhsNumber, DemoError> {
    NhsNumber::parse(nhs_number).map_err(|_| DemoError::Simulator(SimulatorError::UnknownPatient))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::Request;

    #[tokio::test]
    async fn the_demo_portal_is_wired_to_its_own_simulator() {
        let demo = DemoPortal::build(DemoSettings::new("http://127.0.0.1:9/"))
            .await
            .unwrap();
        assert_eq!(demo.base_url, "http://127.0.0.1:9");
        assert_eq!(demo.seeded, 2);
        assert_eq!(
            demo.simulator.issuer(),
            "http://127.0.0.1:9/nhs-login-simulator"
        );
        assert_eq!(demo.staff_code.len(), 12);
        // The PCA API takes the simulator's tokens for the same patient.
        let req = Request::get(format!(
            "/fhir/Appointment?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C{}",
            demo::ADULT
        ))
        .header("authorization", format!("Bearer {}", demo.pca_bearer_token().unwrap()))
        .header("x-correlation-id", "c-1")
        .header("nhsd-id-token", demo.nhs_app_id_token(demo::ADULT).unwrap())
        .body(Bytes::new())
        .unwrap();
        let res = demo.portal.handle(req).await;
        assert_eq!(res.status(), http::StatusCode::OK);
        assert!(matches!(
            demo.nhs_app_id_token("9000000084"),
            Err(DemoError::Simulator(SimulatorError::UnknownPatient))
        ));
        // Seeding again adds nothing.
        let again = DemoPortal::build(
            DemoSettings::new("http://127.0.0.1:9").with_store(demo.store.clone()),
        )
        .await
        .unwrap();
        assert_eq!(again.seeded, 0);
    }
}
