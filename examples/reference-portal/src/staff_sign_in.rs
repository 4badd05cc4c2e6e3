//! The staff worklist's sign-in settings: the trust's OpenID Connect identity provider (issuer,
//! client, secret or private key, the allowed group claim, redirect URI), their cross-checks and
//! `--check-config` line, and building the staff relying party at start-up. Without an issuer
//! the demo's shared access code opens the worklist.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use nhs_portal_core::clock::Clock;
use nhs_portal_web::live::check_public_url;
use nhs_portal_web::nhs_login::RsaSigningKey;
use nhs_portal_web::staff::{StaffClientCredential, StaffOidc, StaffOidcConfig};

use crate::BoxError;
use crate::settings::{Secret, Settings, named, parse_http_url};

/// The staff sign-in settings (flattened into [`Settings`]).
#[derive(Debug, Args)]
pub struct StaffOidcSettings {
    /// Staff sign-in: issuer URL of the trust's OpenID Connect identity provider. With it,
    /// staff sign in there (code flow with PKCE) and no access code opens the worklist.
    #[arg(long, env = "NHS_PORTAL_STAFF_OIDC_ISSUER", value_name = "URL", value_parser = exact_url)]
    pub staff_oidc_issuer: Option<String>,

    /// Staff sign-in: the portal's client id at the identity provider.
    #[arg(long, env = "NHS_PORTAL_STAFF_OIDC_CLIENT_ID", value_name = "ID")]
    pub staff_oidc_client_id: Option<String>,

    /// Staff sign-in: the client secret (a secret); or set NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE.
    #[arg(
        long,
        env = "NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub staff_oidc_client_secret: Option<Secret>,

    /// Staff sign-in: PEM file of the RSA private key registered for `private_key_jwt`
    /// (instead of a client secret).
    #[arg(
        long,
        env = "NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE",
        value_name = "FILE"
    )]
    pub staff_oidc_private_key_file: Option<PathBuf>,

    /// Staff sign-in: the ID-token claim listing the person's groups or roles.
    #[arg(
        long,
        env = "NHS_PORTAL_STAFF_OIDC_GROUP_CLAIM",
        default_value = "groups",
        value_name = "CLAIM"
    )]
    pub staff_oidc_group_claim: String,

    /// Staff sign-in: the value of the group claim that opens the worklist (required with the
    /// issuer).
    #[arg(
        long,
        env = "NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP",
        value_name = "GROUP"
    )]
    pub staff_oidc_allowed_group: Option<String>,

    /// Staff sign-in: the redirect URI registered at the identity provider [default: {base
    /// URL}/staff/sign-in/callback].
    #[arg(long, env = "NHS_PORTAL_STAFF_OIDC_REDIRECT_URI", value_name = "URL", value_parser = exact_url)]
    pub staff_oidc_redirect_uri: Option<String>,
}

/// An http(s) URL kept exactly as written (an issuer and a redirect URI are compared exactly).
fn exact_url(s: &str) -> Result<String, String> {
    parse_http_url(s)?;
    Ok(s.trim().to_owned())
}

const ISSUER: &str = "NHS_PORTAL_STAFF_OIDC_ISSUER";

fn is_live(s: &Settings) -> bool {
    s.live.mode == crate::live_settings::Mode::Live
}

impl StaffOidcSettings {
    /// Whether staff sign in through the identity provider.
    pub fn enabled(&self) -> bool {
        self.staff_oidc_issuer.is_some()
    }

    fn credential(&self) -> Result<Option<StaffClientCredential>, String> {
        match (
            &self.staff_oidc_client_secret,
            &self.staff_oidc_private_key_file,
        ) {
            (Some(s), None) => Ok(Some(StaffClientCredential::Secret(s.expose().to_owned()))),
            (None, Some(file)) => {
                let pem = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                let key = RsaSigningKey::from_pem(&pem)
                    .map_err(|e| format!("{} is not an RSA private key: {e}", file.display()))?;
                Ok(Some(StaffClientCredential::PrivateKey(key)))
            }
            (Some(_), Some(_)) => Err("set a client secret or a private key file, not both".into()),
            (None, None) => Ok(None),
        }
    }

    /// The settings that do not fit together, each naming its setting.
    pub fn problems(&self, s: &Settings) -> Vec<String> {
        let mut problems = Vec::new();
        let others = [
            (
                "NHS_PORTAL_STAFF_OIDC_CLIENT_ID",
                self.staff_oidc_client_id.is_some(),
            ),
            (
                "NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET",
                self.staff_oidc_client_secret.is_some(),
            ),
            (
                "NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE",
                self.staff_oidc_private_key_file.is_some(),
            ),
            (
                "NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP",
                self.staff_oidc_allowed_group.is_some(),
            ),
            (
                "NHS_PORTAL_STAFF_OIDC_REDIRECT_URI",
                self.staff_oidc_redirect_uri.is_some(),
            ),
        ];
        if !self.enabled() {
            for (env, set) in others {
                if set {
                    problems.push(format!(
                        "{}: set, but {ISSUER} is not (nothing would use it)",
                        named(env)
                    ));
                }
            }
            return problems;
        }
        let required = format!("required when {ISSUER} is set");
        if self.staff_oidc_client_id.is_none() {
            problems.push(format!(
                "{}: {required}",
                named("NHS_PORTAL_STAFF_OIDC_CLIENT_ID")
            ));
        }
        if self.staff_oidc_allowed_group.is_none() {
            problems.push(format!(
                "{}: {required}",
                named("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP")
            ));
        }
        if self.staff_oidc_group_claim.trim().is_empty() {
            problems.push(format!(
                "{}: must not be empty",
                named("NHS_PORTAL_STAFF_OIDC_GROUP_CLAIM")
            ));
        }
        match self.credential() {
            Ok(Some(_)) => {}
            Ok(None) => problems.push(format!(
                "{}: {required} (or NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE)",
                named("NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET")
            )),
            Err(e) => problems.push(format!(
                "{}: {e}",
                named("NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE")
            )),
        }
        if is_live(s) {
            for (url, env, what) in [
                (
                    self.staff_oidc_issuer.as_deref(),
                    ISSUER,
                    "the staff identity provider's issuer",
                ),
                (
                    self.staff_oidc_redirect_uri.as_deref(),
                    "NHS_PORTAL_STAFF_OIDC_REDIRECT_URI",
                    "the staff redirect URI",
                ),
            ] {
                if let Some(url) = url
                    && let Err(e) = check_public_url(what, url)
                {
                    problems.push(format!("{}: {e}", named(env)));
                }
            }
        }
        // Live mode refuses the shared code whatever else is set (`live_settings.rs`).
        if s.staff_code.is_some() && !is_live(s) {
            problems.push(format!(
                "{}: the shared access code is only for demo mode without staff sign-in through {ISSUER}",
                named("NHS_PORTAL_STAFF_CODE")
            ));
        }
        problems
    }

    /// The `--check-config` line.
    pub fn summary(&self, s: &Settings) -> String {
        match &self.staff_oidc_issuer {
            Some(issuer) => format!(
                "sign-in through {issuer} as client {} ({}), admitting {} = {}",
                self.staff_oidc_client_id.as_deref().unwrap_or("?"),
                if self.staff_oidc_private_key_file.is_some() {
                    "private key"
                } else {
                    "secret set"
                },
                self.staff_oidc_group_claim,
                self.staff_oidc_allowed_group.as_deref().unwrap_or("?"),
            ),
            None if is_live(s) => {
                "no worklist (live mode signs staff in only through NHS_PORTAL_STAFF_OIDC_ISSUER)"
                    .into()
            }
            None if s.staff_code.is_some() => "access code set (hidden)".into(),
            None => "access code generated at start-up".into(),
        }
    }

    /// The staff relying party (discovery at the issuer), when an issuer is set.
    pub async fn build(
        &self,
        base_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Arc<StaffOidc>>, BoxError> {
        let (Some(issuer), Some(client_id), Some(group), Some(credential)) = (
            &self.staff_oidc_issuer,
            &self.staff_oidc_client_id,
            &self.staff_oidc_allowed_group,
            self.credential()?,
        ) else {
            return Ok(None);
        };
        let redirect = self
            .staff_oidc_redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{base_url}/staff/sign-in/callback"));
        let config = StaffOidcConfig::new(
            issuer,
            client_id,
            credential,
            redirect,
            &self.staff_oidc_group_claim,
            group,
        );
        let oidc = StaffOidc::discover(config).await?.with_clock(clock);
        Ok(Some(Arc::new(oidc)))
    }
}
