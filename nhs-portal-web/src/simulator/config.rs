//! The simulator's configuration: its test patients and registered relying parties.

use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::NhsNumber;
use nhs_portal_pas::demo::{self, DemoPatient};
use sha2::Digest;

use super::{IdentityLevel, SimulatorApiClient};
use crate::nhs_login::RsaSigningKey;

/// A test patient the simulator can sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPatient {
    /// The NHS number.
    pub nhs_number: NhsNumber,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Identity level reached.
    pub identity_level: IdentityLevel,
}

impl From<&DemoPatient> for TestPatient {
    fn from(p: &DemoPatient) -> Self {
        Self {
            nhs_number: p.record.nhs_number.clone(),
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            date_of_birth: p.nhs_login_dob(),
            identity_level: p.identity_level,
        }
    }
}

impl TestPatient {
    /// The demo patients ([`nhs_portal_pas::demo::patients`], the list the simulated PAS holds
    /// too) for `now`, with the date of birth NHS login would give (one, 9000000106, differs
    /// from the PAS's on purpose).
    pub fn demo_patients_on(now: DateTime<Utc>) -> Vec<Self> {
        demo::patients(now).iter().map(Self::from).collect()
    }

    /// The demo patients for today ([`TestPatient::demo_patients_on`]).
    pub fn demo_patients() -> Vec<Self> {
        Self::demo_patients_on(Utc::now())
    }

    pub(super) fn subject(&self) -> String {
        // A stable, opaque subject per patient (like NHS login's), not the NHS number itself.
        let d = sha2::Sha256::digest(format!("nhs-login-simulator:{}", self.nhs_number.as_str()));
        let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("sim-{hex}")
    }
}

/// A relying party registered with the simulator.
#[derive(Debug, Clone)]
pub struct SimulatorClient {
    /// Its client id.
    pub client_id: String,
    /// Exact redirect URIs it may use.
    pub redirect_uris: Vec<String>,
    /// Its public key (an RSA JWK), which its `private_key_jwt` assertions must verify against.
    pub public_key: jsonwebtoken::jwk::Jwk,
}

impl SimulatorClient {
    /// A client with one redirect URI and the public half of `key`.
    pub fn new(
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        key: &RsaSigningKey,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uris: vec![redirect_uri.into()],
            public_key: key.public_jwk(),
        }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulatorConfig {
    /// The issuer URL, also the mount point, with no trailing slash (for example
    /// `http://localhost:8080/nhs-login-simulator`).
    pub issuer: String,
    /// The patients it can sign in.
    pub patients: Vec<TestPatient>,
    /// The relying parties it knows.
    pub clients: Vec<SimulatorClient>,
    /// Its signing key; `None` generates one at start-up.
    pub signing_key: Option<RsaSigningKey>,
    /// API clients that get bearer tokens by `client_credentials` (the demo PCA).
    pub api_clients: Vec<SimulatorApiClient>,
    /// The path its requests arrive at, when that is not the issuer URL's path: mounted in a
    /// portal whose base URL has a path, the portal removes that path first (the issuer
    /// `https://host/hospital/nhs-login-simulator` is then mounted at `/nhs-login-simulator`).
    pub mount_path: Option<String>,
}

impl SimulatorConfig {
    /// The demo patients for today, no clients yet, and a generated key.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            patients: TestPatient::demo_patients(),
            clients: Vec::new(),
            signing_key: None,
            api_clients: Vec::new(),
            mount_path: None,
        }
    }

    /// Sets [`SimulatorConfig::mount_path`]: the path requests arrive at inside a portal.
    pub fn mounted_at(mut self, path: impl Into<String>) -> Self {
        self.mount_path = Some(path.into().trim_end_matches('/').to_owned());
        self
    }

    /// Replaces the patients (for example [`TestPatient::demo_patients_on`] the demo's `now`).
    pub fn with_patients(mut self, patients: Vec<TestPatient>) -> Self {
        self.patients = patients;
        self
    }

    /// Registers an API client (`client_credentials` with a secret).
    pub fn with_api_client(mut self, client: SimulatorApiClient) -> Self {
        self.api_clients.push(client);
        self
    }

    /// Registers a relying party.
    pub fn with_client(mut self, client: SimulatorClient) -> Self {
        self.clients.push(client);
        self
    }
}
