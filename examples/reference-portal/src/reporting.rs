//! Delivers the outbox's usage events to the Wayfinder Reporting Service when a URL is set, and
//! how each request is authorised, by settings (the reporting settings of [`Settings`] and the
//! [`ReportingAuthSettings`] flattened into it):
//! - **signed JWT** (production, NHS England API Management): the API key, a private key file and
//!   its key id; the portal signs a client assertion and exchanges it at the token URL for an
//!   access token ([`SignedJwtTokenSource`]);
//! - **API key** (the integration environment): the API key alone, sent as the `apikey` header;
//! - **a fixed bearer token** (`NHS_PORTAL_REPORTING_TOKEN`, for a stand-in or a proxy).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use nhs_portal_core::clock::Clock;
use nhs_portal_core::store::Store;
use nhs_portal_reporting::token::{SignedJwtConfig, SignedJwtTokenSource, StaticToken};
use nhs_portal_reporting::worker::{OutboxWorker, OutboxWorkerConfig};
use nhs_portal_reporting::{WayfinderClient, WayfinderConfig};
use nhs_portal_web::demo::DEMO_CLIENT_ID;

use crate::BoxError;
use crate::settings::{Secret, Settings, named, parse_http_url};

/// How the portal authenticates to the Reporting Service (flattened into [`Settings`]).
#[derive(Debug, Args)]
pub struct ReportingAuthSettings {
    /// Wayfinder: the API key of the portal's NHS England API Management application (a
    /// secret). Alone it is sent as the `apikey` header (the integration environment); with
    /// NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE it is the signed JWT's issuer and subject.
    #[arg(
        long,
        env = "NHS_PORTAL_REPORTING_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub reporting_api_key: Option<Secret>,

    /// Wayfinder: PEM file of the RSA private key registered with API Management for
    /// signed-JWT authentication.
    #[arg(
        long,
        env = "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
        value_name = "FILE"
    )]
    pub reporting_private_key_file: Option<PathBuf>,

    /// Wayfinder: the key id (`kid`) of that key, as registered with API Management.
    #[arg(long, env = "NHS_PORTAL_REPORTING_KEY_ID", value_name = "KID")]
    pub reporting_key_id: Option<String>,

    /// Wayfinder: API Management's token endpoint for the signed-JWT exchange [default:
    /// /oauth2/token on the host of NHS_PORTAL_REPORTING_URL].
    #[arg(long, env = "NHS_PORTAL_REPORTING_TOKEN_URL", value_name = "URL", value_parser = parse_http_url)]
    pub reporting_token_url: Option<url::Url>,
}

/// How requests to the Reporting Service are authorised.
enum Auth {
    Bearer(Secret),
    ApiKey(Secret),
    SignedJwt(SignedJwtConfig),
}

const URL: &str = "NHS_PORTAL_REPORTING_URL";

/// The authorisation the settings choose (`None` without a Reporting Service URL), or every
/// problem, each naming its setting. Reads and parses the private key file.
fn auth(s: &Settings) -> Result<Option<Auth>, Vec<String>> {
    let a = &s.reporting_auth;
    let set = [
        ("NHS_PORTAL_REPORTING_TOKEN", s.reporting_token.is_some()),
        (
            "NHS_PORTAL_REPORTING_CLIENT_ID",
            s.reporting_client_id.is_some(),
        ),
        (
            "NHS_PORTAL_REPORTING_API_KEY",
            a.reporting_api_key.is_some(),
        ),
        (
            "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
            a.reporting_private_key_file.is_some(),
        ),
        ("NHS_PORTAL_REPORTING_KEY_ID", a.reporting_key_id.is_some()),
        (
            "NHS_PORTAL_REPORTING_TOKEN_URL",
            a.reporting_token_url.is_some(),
        ),
    ];
    let Some(url) = &s.reporting_url else {
        let unused: Vec<String> = set
            .iter()
            .filter(|(_, on)| *on)
            .map(|(env, _)| {
                format!(
                    "{}: set, but {URL} is not (nothing would use it)",
                    named(env)
                )
            })
            .collect();
        return if unused.is_empty() {
            Ok(None)
        } else {
            Err(unused)
        };
    };
    let mut problems = Vec::new();
    let chosen = match (&a.reporting_private_key_file, &a.reporting_api_key) {
        (Some(file), api_key) => {
            for (env, missing) in [
                ("NHS_PORTAL_REPORTING_API_KEY", api_key.is_none()),
                ("NHS_PORTAL_REPORTING_KEY_ID", a.reporting_key_id.is_none()),
            ] {
                if missing {
                    problems.push(format!(
                        "{}: required with NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                        named(env)
                    ));
                }
            }
            let token_url = match &a.reporting_token_url {
                Some(u) => u.to_string(),
                None => url
                    .join("/oauth2/token")
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
            };
            match std::fs::read(file) {
                Err(e) => problems.push(format!(
                    "{}: cannot read {}: {e}",
                    named("NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE"),
                    file.display()
                )),
                Ok(pem) => {
                    let config = SignedJwtConfig::new(
                        token_url,
                        api_key.as_ref().map(|k| k.expose()).unwrap_or_default(),
                        a.reporting_key_id.clone().unwrap_or_default(),
                        pem,
                    );
                    // The same check the token source makes at start-up.
                    match SignedJwtTokenSource::new(config.clone()) {
                        Ok(_) => return finish(problems, s, Auth::SignedJwt(config)),
                        Err(e) => problems.push(format!(
                            "{}: {}: {e}",
                            named("NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE"),
                            file.display()
                        )),
                    }
                }
            }
            None
        }
        (None, Some(key)) => {
            for (env, on) in [
                ("NHS_PORTAL_REPORTING_KEY_ID", a.reporting_key_id.is_some()),
                (
                    "NHS_PORTAL_REPORTING_TOKEN_URL",
                    a.reporting_token_url.is_some(),
                ),
            ] {
                if on {
                    problems.push(format!(
                        "{}: only used with NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                        named(env)
                    ));
                }
            }
            Some(Auth::ApiKey(key.clone()))
        }
        (None, None) => match &s.reporting_token {
            Some(t) => Some(Auth::Bearer(t.clone())),
            None => {
                problems.push(format!(
                    "{}: required when {URL} is set, unless NHS_PORTAL_REPORTING_API_KEY is (with NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE for signed JWT)",
                    named("NHS_PORTAL_REPORTING_TOKEN")
                ));
                None
            }
        },
    };
    match chosen {
        Some(auth) => finish(problems, s, auth),
        None => Err(problems),
    }
}

/// The chosen authorisation, unless a fixed token is set beside another kind too.
fn finish(
    mut problems: Vec<String>,
    s: &Settings,
    auth: Auth,
) -> Result<Option<Auth>, Vec<String>> {
    if s.reporting_token.is_some() && !matches!(auth, Auth::Bearer(_)) {
        problems.push(format!(
            "{}: set beside NHS_PORTAL_REPORTING_API_KEY; use one way of authenticating",
            named("NHS_PORTAL_REPORTING_TOKEN")
        ));
    }
    if problems.is_empty() {
        Ok(Some(auth))
    } else {
        Err(problems)
    }
}

/// The reporting settings that do not fit together (or a key file that does not parse); in
/// live mode also a token URL that is not https (the Reporting Service URL is checked with the
/// other live URLs, `live_settings.rs`).
pub fn problems(s: &Settings) -> Vec<String> {
    let mut problems = auth(s).err().unwrap_or_default();
    if s.live.mode == crate::live_settings::Mode::Live
        && let Some(url) = &s.reporting_auth.reporting_token_url
        && let Err(e) =
            nhs_portal_web::live::check_public_url("the reporting token URL", url.as_str())
    {
        problems.push(format!("{}: {e}", named("NHS_PORTAL_REPORTING_TOKEN_URL")));
    }
    problems
}

/// The `--check-config` line.
pub fn summary(s: &Settings) -> String {
    let Some(url) = &s.reporting_url else {
        return "usage events wait in the outbox (no NHS_PORTAL_REPORTING_URL)".into();
    };
    let how = match auth(s) {
        Ok(Some(Auth::SignedJwt(c))) => format!(
            "signed JWT (key id {}, token URL {})",
            c.key_id, c.token_url
        ),
        Ok(Some(Auth::ApiKey(_))) => "the apikey header (key set)".into(),
        _ => "a bearer token (set)".into(),
    };
    format!(
        "usage events sent to {url} as client {}, authorised by {how}",
        client_id(s)
    )
}

fn client_id(s: &Settings) -> String {
    s.reporting_client_id
        .clone()
        .unwrap_or_else(|| DEMO_CLIENT_ID.into())
}

/// The outbox worker's task, if one runs.
pub type Running = Option<tokio::task::JoinHandle<()>>;

/// Starts the outbox worker when a Reporting Service URL (and a way to authenticate) is set, or
/// leaves events waiting; returns a line saying which, and the worker's task. When `stopping`
/// turns true the worker finishes the batch in hand and its task ends.
pub fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<(String, Running), BoxError> {
    let auth = auth(settings).map_err(|p| p.join("; "))?;
    let (Some(url), Some(auth)) = (&settings.reporting_url, auth) else {
        return Ok((
            "reporting events wait in the outbox (set NHS_PORTAL_REPORTING_URL to send them)"
                .into(),
            None,
        ));
    };
    let mut config = WayfinderConfig::new(url.as_str(), client_id(settings));
    // WF-NFR-MI-03's 25 requests per second are the provider's: each instance holds its share.
    config.max_requests_per_second = nhs_portal_core::limits::per_instance_whole(
        nhs_portal_core::limits::WAYFINDER_PER_SECOND,
        settings.instances,
    );
    let (client, how) = match auth {
        Auth::Bearer(token) => (
            WayfinderClient::new(config, Arc::new(StaticToken::new(token.expose())))?,
            "a bearer token",
        ),
        Auth::ApiKey(key) => (
            WayfinderClient::with_api_key(config, key.expose())?,
            "the apikey header",
        ),
        Auth::SignedJwt(jwt) => (
            WayfinderClient::new(config, Arc::new(SignedJwtTokenSource::new(jwt)?))?,
            "signed JWT",
        ),
    };
    let worker = OutboxWorker::new(
        store,
        Arc::new(client),
        clock,
        OutboxWorkerConfig::default(),
    );
    // On shutdown the batch in hand is finished; were the process killed mid-batch, the
    // claimed events are leased and become due again, so nothing is lost either way.
    let task = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok((
        format!("reporting events are sent to {url} ({how})"),
        Some(task),
    ))
}
