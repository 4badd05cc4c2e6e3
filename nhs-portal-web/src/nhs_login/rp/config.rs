//! Which NHS login environment and client this portal signs in with.

use chrono::Duration;

use crate::nhs_login::{DEFAULT_P9_VECTORS, KeyError, RsaSigningKey};

/// The NHS login environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Sandpit: self-service, test users, no PDS.
    Sandpit,
    /// Integration (AOS): for conformance testing.
    Integration,
    /// Production.
    Production,
}

impl Environment {
    /// The environment's issuer (no trailing slash; compared exactly).
    pub fn issuer(self) -> &'static str {
        match self {
            Self::Sandpit => crate::nhs_login::SANDPIT_ISSUER,
            Self::Integration => crate::nhs_login::INTEGRATION_ISSUER,
            Self::Production => crate::nhs_login::PRODUCTION_ISSUER,
        }
    }
}

/// Relying-party settings.
#[derive(Clone)]
#[non_exhaustive]
pub struct NhsLoginConfig {
    /// The issuer: an [`Environment::issuer`], the simulator's, or any other.
    pub issuer: String,
    /// The client id NHS login issued.
    pub client_id: String,
    /// The private key whose public half is registered with NHS login (PKCS#8 or PKCS#1 PEM).
    pub key: RsaSigningKey,
    /// The registered redirect URI (exact).
    pub redirect_uri: String,
    /// Scopes (default `openid profile`; `openid` is always sent).
    pub scopes: Vec<String>,
    /// The vectors of trust asked for (default the P9 set `["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]`).
    pub vtr: Vec<String>,
    /// The `vot` values accepted back (default: the same as `vtr`).
    pub accepted_vot: Vec<String>,
    /// Clock leeway for token times, seconds (default 60).
    pub leeway_secs: i64,
    /// Lifetime of each client assertion, seconds (default 60).
    pub assertion_ttl_secs: i64,
    /// How long a sign-in may take from redirect to callback (default 10 minutes).
    pub pending_login_ttl: Duration,
    /// Whether to call userinfo after the token request (default true).
    pub fetch_userinfo: bool,
    /// Whether to send a PKCE challenge (S256). Off by default: NHS login does not document
    /// PKCE for confidential clients.
    pub use_pkce: bool,
    /// The shortest time between two refetches of NHS login's keys (default 30 seconds).
    pub jwks_min_refetch_interval: std::time::Duration,
}

impl std::fmt::Debug for NhsLoginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NhsLoginConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("vtr", &self.vtr)
            .finish_non_exhaustive()
    }
}

impl NhsLoginConfig {
    /// Settings with the defaults above.
    ///
    /// ```
    /// use nhs_portal_web::nhs_login::{Environment, NhsLoginConfig, RsaSigningKey};
    /// let key = RsaSigningKey::generate().unwrap();
    /// let config = NhsLoginConfig::new(Environment::Sandpit.issuer(), "my-client", key,
    ///     "https://portal.example/auth/callback");
    /// assert_eq!(config.scopes, ["openid", "profile"]);
    /// assert_eq!(config.vtr, ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"]);
    /// ```
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        key: RsaSigningKey,
        redirect_uri: impl Into<String>,
    ) -> Self {
        let vtr: Vec<String> = DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect();
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            key,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "profile".into()],
            accepted_vot: vtr.clone(),
            vtr,
            leeway_secs: 60,
            assertion_ttl_secs: 60,
            pending_login_ttl: Duration::minutes(10),
            fetch_userinfo: true,
            use_pkce: false,
            jwks_min_refetch_interval: std::time::Duration::from_secs(30),
        }
    }

    /// Loads the private key from PEM (PKCS#8 or PKCS#1).
    pub fn key_from_pem(pem: &str) -> Result<RsaSigningKey, KeyError> {
        RsaSigningKey::from_pem(pem)
    }
}
