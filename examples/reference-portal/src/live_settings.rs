//! The mode setting and live mode's settings (flattened into [`crate::settings::Settings`]):
//! NHS login, the PCA's bearer tokens and the trusts file. Their rules are in `live_check.rs`
//! ([`LiveSettings::check`]).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nhs_portal_web::nhs_login::Environment;

/// What the portal runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Mode {
    /// A simulated PAS and the NHS login simulator (not NHS login); needs no other setting.
    #[default]
    Demo,
    /// Real services: NHS login, the trusts' FHIR PASes and the PCA's tokens, from the settings.
    Live,
}

/// The mode, and what live mode connects to.
#[derive(Debug, Args)]
pub struct LiveSettings {
    /// `demo` (simulated services; the default) or `live` (NHS login, the trusts' PASes and the
    /// PCA, configured by the NHS_PORTAL_NHS_LOGIN_*, NHS_PORTAL_NHS_APP_CLIENT_IDS,
    /// NHS_PORTAL_PCA_* and NHS_PORTAL_TRUSTS_FILE settings).
    #[arg(long, env = "NHS_PORTAL_MODE", value_enum, default_value_t = Mode::Demo)]
    pub mode: Mode,

    /// Live mode: the NHS login issuer: `sandpit` (`https://auth.sandpit.signin.nhs.uk`),
    /// `integration` (`https://auth.aos.signin.nhs.uk`), `production`
    /// (`https://auth.login.nhs.uk`), or any issuer URL. Discovery and keys are read from it.
    #[arg(long, env = "NHS_PORTAL_NHS_LOGIN_ISSUER", value_name = "NAME|URL", value_parser = parse_issuer)]
    pub nhs_login_issuer: Option<String>,

    /// Live mode: the client id NHS login issued to this portal.
    #[arg(long, env = "NHS_PORTAL_NHS_LOGIN_CLIENT_ID", value_name = "ID")]
    pub nhs_login_client_id: Option<String>,

    /// Live mode: the PEM file (PKCS#8 or PKCS#1) of the RSA private key whose public half is
    /// registered with NHS login, signing the `private_key_jwt` client assertions (a secret).
    #[arg(long, env = "NHS_PORTAL_NHS_LOGIN_KEY_FILE", value_name = "FILE")]
    pub nhs_login_key_file: Option<PathBuf>,

    /// Live mode: the redirect URI registered with NHS login; it must be {base URL}/sign-in/callback
    /// [default: that].
    #[arg(long, env = "NHS_PORTAL_NHS_LOGIN_REDIRECT_URI", value_name = "URL")]
    pub nhs_login_redirect_uri: Option<String>,

    /// Live mode: the client ids, comma-separated, whose NHS login ID tokens the PCA forwards in
    /// NHSD-ID-Token (the NHS App's, as NHS England tell you at onboarding).
    #[arg(
        long,
        env = "NHS_PORTAL_NHS_APP_CLIENT_IDS",
        value_name = "ID,…",
        value_delimiter = ','
    )]
    pub nhs_app_client_ids: Vec<String>,

    /// Live mode: the issuer (`iss`) of the PCA's bearer tokens for the Get Appointments API.
    #[arg(long, env = "NHS_PORTAL_PCA_ISSUER", value_name = "ISSUER")]
    pub pca_issuer: Option<String>,

    /// Live mode: the JWKS URL where the PCA's token issuer publishes its signing keys.
    #[arg(long, env = "NHS_PORTAL_PCA_JWKS_URL", value_name = "URL")]
    pub pca_jwks_url: Option<String>,

    /// Live mode: the audience (`aud`) the PCA's bearer tokens carry for this portal's API.
    #[arg(long, env = "NHS_PORTAL_PCA_AUDIENCE", value_name = "AUDIENCE")]
    pub pca_audience: Option<String>,

    /// Live mode: the TOML file of the trusts served: for each, ODS code, name, its FHIR PAS's
    /// base URL and auth, capabilities and eligibility threshold (see README.md).
    #[arg(long, env = "NHS_PORTAL_TRUSTS_FILE", value_name = "FILE")]
    pub trusts_file: Option<PathBuf>,
}

fn parse_issuer(s: &str) -> Result<String, String> {
    let s = s.trim();
    let named = match s {
        "sandpit" => Some(Environment::Sandpit),
        "integration" => Some(Environment::Integration),
        "production" => Some(Environment::Production),
        _ => None,
    };
    if let Some(env) = named {
        return Ok(env.issuer().to_owned());
    }
    let url = url::Url::parse(s)
        .map_err(|e| format!("not sandpit, integration, production or a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    // Issuers are compared exactly: keep the text as given, less a trailing slash.
    Ok(s.trim_end_matches('/').to_owned())
}
