//! The live-mode rules over [`LiveSettings`] and the rest of the settings: every setting live
//! mode needs, https (or this machine) for every URL it publishes or calls, the key file and the
//! trusts file readable and valid, no simulator and no demo-only setting; in demo mode, no live
//! setting. What passes becomes [`Live`], from which `main.rs` builds the live portal.

use nhs_portal_web::live::check_public_url;
use nhs_portal_web::nhs_login::RsaSigningKey;

use crate::live_settings::{LiveSettings, Mode};
use crate::settings::Settings;
use crate::trusts::{self, Trust};

/// `NAME (--flag)`, as the other problems are named.
fn named(env: &str, flag: &str) -> String {
    format!("{env} (--{flag})")
}

/// Live mode's settings, each checked.
#[derive(Debug)]
pub struct Live {
    /// The public base URL.
    pub base_url: String,
    /// The NHS login issuer.
    pub issuer: String,
    /// The NHS login client id.
    pub client_id: String,
    /// The `private_key_jwt` key.
    pub key: RsaSigningKey,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The NHS App client ids.
    pub nhs_app_client_ids: Vec<String>,
    /// The PCA's token issuer.
    pub pca_issuer: String,
    /// Its JWKS URL.
    pub pca_jwks_url: String,
    /// The API's audience.
    pub pca_audience: String,
    /// The trusts.
    pub trusts: Vec<Trust>,
}

impl LiveSettings {
    /// Whether any live-mode setting is set.
    fn any_set(&self) -> Vec<String> {
        let mut set = Vec::new();
        let mut note = |is: bool, env: &str, flag: &str| {
            if is {
                set.push(named(env, flag));
            }
        };
        note(
            self.nhs_login_issuer.is_some(),
            "NHS_PORTAL_NHS_LOGIN_ISSUER",
            "nhs-login-issuer",
        );
        note(
            self.nhs_login_client_id.is_some(),
            "NHS_PORTAL_NHS_LOGIN_CLIENT_ID",
            "nhs-login-client-id",
        );
        note(
            self.nhs_login_key_file.is_some(),
            "NHS_PORTAL_NHS_LOGIN_KEY_FILE",
            "nhs-login-key-file",
        );
        note(
            self.nhs_login_redirect_uri.is_some(),
            "NHS_PORTAL_NHS_LOGIN_REDIRECT_URI",
            "nhs-login-redirect-uri",
        );
        note(
            !self.nhs_app_client_ids.is_empty(),
            "NHS_PORTAL_NHS_APP_CLIENT_IDS",
            "nhs-app-client-ids",
        );
        note(
            self.pca_issuer.is_some(),
            "NHS_PORTAL_PCA_ISSUER",
            "pca-issuer",
        );
        note(
            self.pca_jwks_url.is_some(),
            "NHS_PORTAL_PCA_JWKS_URL",
            "pca-jwks-url",
        );
        note(
            self.pca_audience.is_some(),
            "NHS_PORTAL_PCA_AUDIENCE",
            "pca-audience",
        );
        note(
            self.trusts_file.is_some(),
            "NHS_PORTAL_TRUSTS_FILE",
            "trusts-file",
        );
        set
    }

    /// The problems of these settings with the rest of `s`; in live mode, also the checked
    /// settings when there are none.
    pub fn check(&self, s: &Settings) -> (Vec<String>, Option<Live>) {
        if self.mode == Mode::Demo {
            let problems = self
                .any_set()
                .into_iter()
                .map(|n| {
                    format!("{n}: set, but NHS_PORTAL_MODE is not live (nothing would use it)")
                })
                .collect();
            return (problems, None);
        }
        let mut problems = Vec::new();
        let mut need = |v: Option<&str>, env: &str, flag: &str| -> Option<String> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => Some(v.to_owned()),
                None => {
                    problems.push(format!("{}: required in live mode", named(env, flag)));
                    None
                }
            }
        };
        let base_url = need(
            s.base_url.as_ref().map(|b| b.as_str()),
            "NHS_PORTAL_BASE_URL",
            "base-url",
        );
        let issuer = need(
            self.nhs_login_issuer.as_deref(),
            "NHS_PORTAL_NHS_LOGIN_ISSUER",
            "nhs-login-issuer",
        );
        let client_id = need(
            self.nhs_login_client_id.as_deref(),
            "NHS_PORTAL_NHS_LOGIN_CLIENT_ID",
            "nhs-login-client-id",
        );
        let key_file = self
            .nhs_login_key_file
            .as_ref()
            .map(|p| p.display().to_string());
        let key_file = need(
            key_file.as_deref(),
            "NHS_PORTAL_NHS_LOGIN_KEY_FILE",
            "nhs-login-key-file",
        );
        let pca_issuer = need(
            self.pca_issuer.as_deref(),
            "NHS_PORTAL_PCA_ISSUER",
            "pca-issuer",
        );
        let pca_jwks_url = need(
            self.pca_jwks_url.as_deref(),
            "NHS_PORTAL_PCA_JWKS_URL",
            "pca-jwks-url",
        );
        let pca_audience = need(
            self.pca_audience.as_deref(),
            "NHS_PORTAL_PCA_AUDIENCE",
            "pca-audience",
        );
        let trusts_file = self.trusts_file.as_ref().map(|p| p.display().to_string());
        let trusts_file = need(
            trusts_file.as_deref(),
            "NHS_PORTAL_TRUSTS_FILE",
            "trusts-file",
        );
        let nhs_app_client_ids: Vec<String> = self
            .nhs_app_client_ids
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        if nhs_app_client_ids.is_empty() {
            problems.push(format!(
                "{}: required in live mode",
                named("NHS_PORTAL_NHS_APP_CLIENT_IDS", "nhs-app-client-ids")
            ));
        }

        // Every URL the portal publishes or calls: https, or this machine.
        let mut url_rule = |url: Option<&str>, env: &str, flag: &str| {
            if let Some(url) = url
                && let Err(e) = check_public_url("the URL", url)
            {
                let why = e.to_string().replacen("the URL ", "", 1);
                problems.push(format!("{}: {why}", named(env, flag)));
            }
        };
        url_rule(base_url.as_deref(), "NHS_PORTAL_BASE_URL", "base-url");
        url_rule(
            issuer.as_deref(),
            "NHS_PORTAL_NHS_LOGIN_ISSUER",
            "nhs-login-issuer",
        );
        url_rule(
            self.nhs_login_redirect_uri.as_deref(),
            "NHS_PORTAL_NHS_LOGIN_REDIRECT_URI",
            "nhs-login-redirect-uri",
        );
        url_rule(
            pca_jwks_url.as_deref(),
            "NHS_PORTAL_PCA_JWKS_URL",
            "pca-jwks-url",
        );
        url_rule(
            s.reporting_url.as_ref().map(url::Url::as_str),
            "NHS_PORTAL_REPORTING_URL",
            "reporting-url",
        );

        // The redirect URI is where the portal serves NHS login's callback.
        let redirect_uri = base_url
            .as_ref()
            .map(|b| format!("{b}{}", nhs_portal_web::live::CALLBACK_PATH));
        if let (Some(set), Some(expected)) = (&self.nhs_login_redirect_uri, &redirect_uri)
            && set.trim().trim_end_matches('/') != expected
        {
            problems.push(format!(
                "{}: must be {expected}, where the portal serves the sign-in callback",
                named(
                    "NHS_PORTAL_NHS_LOGIN_REDIRECT_URI",
                    "nhs-login-redirect-uri"
                )
            ));
        }

        // No simulator: the portal's own NHS login simulator is not mounted in live mode.
        if let Some(base) = &base_url {
            let simulator = format!("{base}{}", nhs_portal_web::demo::SIMULATOR_PATH);
            for (value, env, flag) in [
                (
                    issuer.as_deref(),
                    "NHS_PORTAL_NHS_LOGIN_ISSUER",
                    "nhs-login-issuer",
                ),
                (pca_issuer.as_deref(), "NHS_PORTAL_PCA_ISSUER", "pca-issuer"),
                (
                    pca_jwks_url.as_deref(),
                    "NHS_PORTAL_PCA_JWKS_URL",
                    "pca-jwks-url",
                ),
            ] {
                if value.is_some_and(|v| v.starts_with(&simulator)) {
                    problems.push(format!(
                        "{}: names the portal's NHS login simulator, which only demo mode has",
                        named(env, flag)
                    ));
                }
            }
        }
        // Demo-only settings.
        if s.staff_code.is_some() {
            problems.push(format!(
                "{}: the demo staff access code is for demo mode only (live mode has no shared code)",
                named("NHS_PORTAL_STAFF_CODE", "staff-code")
            ));
        }
        if s.demo_pca_secret.expose() != nhs_portal_web::demo::DEMO_PCA_SECRET {
            problems.push(format!(
                "{}: demo mode only (live mode takes the PCA's own tokens)",
                named("NHS_PORTAL_DEMO_PCA_SECRET", "demo-pca-secret")
            ));
        }
        if s.demo_pca_rate_limit != 60 {
            problems.push(format!(
                "{}: demo mode only (live mode keeps the spec's 60 per second)",
                named("NHS_PORTAL_DEMO_PCA_RATE_LIMIT", "demo-pca-rate-limit")
            ));
        }

        let key = key_file.as_ref().and_then(|path| {
            let fail = |why: String| {
                format!(
                    "{}: {path}: {why}",
                    named("NHS_PORTAL_NHS_LOGIN_KEY_FILE", "nhs-login-key-file")
                )
            };
            match std::fs::read_to_string(path) {
                Err(e) => {
                    problems.push(fail(format!("cannot be read ({e})")));
                    None
                }
                Ok(pem) => match RsaSigningKey::from_pem(&pem) {
                    Ok(k) => Some(k),
                    Err(_) => {
                        problems.push(fail(
                            "is not an RSA private key in PEM (PKCS#8 or PKCS#1)".into(),
                        ));
                        None
                    }
                },
            }
        });
        let trusts =
            trusts_file
                .as_ref()
                .and_then(|path| match trusts::load(std::path::Path::new(path)) {
                    Ok(t) => Some(t),
                    Err(p) => {
                        let at = named("NHS_PORTAL_TRUSTS_FILE", "trusts-file");
                        problems.extend(p.into_iter().map(|p| format!("{at}: {path}: {p}")));
                        None
                    }
                });
        if !problems.is_empty() {
            return (problems, None);
        }
        match (
            base_url,
            issuer,
            client_id,
            key,
            redirect_uri,
            pca_issuer,
            pca_jwks_url,
            pca_audience,
            trusts,
        ) {
            (
                Some(base_url),
                Some(issuer),
                Some(client_id),
                Some(key),
                Some(redirect_uri),
                Some(pca_issuer),
                Some(pca_jwks_url),
                Some(pca_audience),
                Some(trusts),
            ) => (
                Vec::new(),
                Some(Live {
                    base_url,
                    issuer,
                    client_id,
                    key,
                    redirect_uri,
                    nhs_app_client_ids,
                    pca_issuer,
                    pca_jwks_url,
                    pca_audience,
                    trusts,
                }),
            ),
            _ => (
                vec!["live mode: a required setting is missing".into()],
                None,
            ),
        }
    }
}

impl Live {
    /// What `--check-config` prints for live mode (no secret).
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![
            "  mode:          live (NHS login, the trusts' FHIR PASes, the PCA's tokens; no simulator)".to_owned(),
            format!(
                "  NHS login:     {} as client {} (private key loaded, kid {})",
                self.issuer,
                self.client_id,
                self.key.kid()
            ),
            format!("  redirect URI:  {}", self.redirect_uri),
            format!("  NHS App ids:   {}", self.nhs_app_client_ids.join(", ")),
            format!(
                "  PCA tokens:    issuer {}, keys {}, audience {}",
                self.pca_issuer, self.pca_jwks_url, self.pca_audience
            ),
            format!(
                "  eligibility:   {} and over (the highest of the trusts')",
                trusts::minimum_age(&self.trusts)
            ),
        ];
        lines.extend(
            trusts::summary(&self.trusts)
                .into_iter()
                .map(|t| format!("  trust:         {t}")),
        );
        lines.extend(
            trusts::warnings(&self.trusts)
                .into_iter()
                .map(|w| format!("  warning:       {w}")),
        );
        lines
    }
}
