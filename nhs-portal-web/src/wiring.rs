//! What every whole portal wires the same way, demo or live: the PCA Get Appointments API over
//! the PAS and the store, mounted at [`FHIR_PATH`], and the patient pages with the same
//! eligibility rule as the API. [`crate::demo::DemoPortal`] adds the simulators and the demo
//! staff pages; [`crate::live::LivePortal`] adds what the caller mounts. Crate-private: the two
//! builders are the public ways in.

use std::sync::Arc;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasBackend;

use crate::assets::Assets;
use crate::fhir_api::auth::BearerValidator;
use crate::fhir_api::{FhirApi, FhirApiConfig};
use crate::nhs_login::ForwardedTokenVerifier;
use crate::portal::{DemoInfo, Portal, PortalConfig, PortalError, PortalParts};
use crate::sign_in::SignIn;

/// Where the PCA API is mounted.
pub const FHIR_PATH: &str = "/fhir";
/// Where NHS login sends patients back: the path of the redirect URI registered with it.
pub const CALLBACK_PATH: &str = "/sign-in/callback";
/// The deep links' `extSystemName`.
pub const EXT_SYSTEM_NAME: &str = "nhs-portal reference portal";
/// The shortest inactivity timeout a whole portal takes (the warning comes a minute before).
const SHORTEST_IDLE: chrono::Duration = chrono::Duration::seconds(61);

/// A change to the API's settings, applied before it is built.
pub(crate) type ApiEdit = Box<dyn FnOnce(&mut FhirApiConfig) + Send>;

/// The parts a whole portal is made of.
pub(crate) struct Wiring {
    pub(crate) base: DeepLinkBase,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) pas: Arc<dyn PasBackend>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sign_in: Arc<dyn SignIn>,
    pub(crate) assets: Assets,
    pub(crate) bearer: Arc<dyn BearerValidator>,
    pub(crate) id_tokens: Arc<dyn ForwardedTokenVerifier>,
    /// Applied to the API's settings (the eligibility rule among them) before it is built.
    pub(crate) fhir_api: Option<ApiEdit>,
    /// Inactivity timeout of patient sessions (values under 61 seconds are raised to 61).
    pub(crate) session_idle: Option<chrono::Duration>,
    /// How many portal instances share the PCA's per-provider limit.
    pub(crate) instances: std::num::NonZeroU32,
    pub(crate) demo: Option<DemoInfo>,
    /// The trusts' guidance for the pages.
    pub(crate) guidance: nhs_portal_core::guidance::Guidance,
}

impl Wiring {
    /// The portal with the API mounted at [`FHIR_PATH`], and the API.
    pub(crate) fn build(self) -> Result<(Portal, Arc<FhirApi>), PortalError> {
        // Every PAS call the pages and the API make is measured (latency, errors by operation).
        let pas: Arc<dyn PasBackend> = Arc::new(crate::metered::MeteredPas::new(self.pas));
        let mut api_config = FhirApiConfig::new(self.base.clone(), EXT_SYSTEM_NAME);
        api_config.instances = self.instances;
        if let Some(edit) = self.fhir_api {
            edit(&mut api_config);
        }
        // The pages apply the same eligibility rule as the API.
        let eligibility = api_config.eligibility;
        let fhir_api = Arc::new(FhirApi::new(
            pas.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.bearer,
            self.id_tokens,
            api_config,
        ));
        let mut config = PortalConfig::new(self.base.as_str());
        config.eligibility = eligibility;
        if let Some(idle) = self.session_idle {
            config.session_idle = idle.max(SHORTEST_IDLE);
            config.session_warning = config.session_idle - chrono::Duration::seconds(60);
        }
        config.demo = self.demo;
        config.guidance = self.guidance;
        let portal = Portal::new(
            config,
            PortalParts {
                store: self.store,
                pas,
                clock: self.clock,
                sign_in: self.sign_in,
                assets: self.assets,
            },
        )?
        .mount(FHIR_PATH, fhir_api.clone());
        Ok((portal, fhir_api))
    }
}
