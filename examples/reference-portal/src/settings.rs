//! The reference portal's settings: one typed definition (clap derive), each read from its
//! command-line flag or, when the flag is absent, its `NHS_PORTAL_*` environment variable. An
//! empty variable counts as unset. `--help` lists them all; README.md's table is checked against
//! this list by `tests/check_config.rs`. Reading them and naming every problem is in `load.rs`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_reporting::monthly_csv::Month;

/// The default store: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/nhs-portal.sqlite3?mode=rwc";

/// Everything the reference portal can be told.
#[derive(Debug, Parser)]
#[command(
    name = "nhs-portal-example",
    version,
    about = "The reference nhs-portal. With no settings it runs in demo mode: a simulated PAS and \
             the NHS login simulator (not NHS login).",
    after_help = "Every setting can be given as a flag or as the environment variable shown; \
                  the flag wins. `--check-config` checks them all and exits."
)]
pub struct Settings {
    /// Check every setting, print a summary of what would run (never a secret) and exit: 0 when
    /// all is well, 2 naming each problem otherwise.
    #[arg(long)]
    pub check_config: bool,

    /// Write the Wayfinder monthly CSV ("Method 1") for this UK month from the events in the
    /// store to standard output and exit: counts by trust, event code and outcome, no NHS
    /// numbers or other identifiers (layout: docs/reporting.md).
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub monthly_csv: Option<Month>,

    /// Address to listen on (port 0 picks a free one).
    #[arg(
        long,
        env = "NHS_PORTAL_ADDR",
        default_value = "127.0.0.1:8080",
        value_name = "HOST:PORT"
    )]
    pub addr: SocketAddr,

    /// Address of a separate listener for the Prometheus metrics at `/metrics` (keep it off the
    /// public network); when unset they are served at `/metrics` on the main address (demo).
    #[arg(long, env = "NHS_PORTAL_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// Public base URL of the portal, used in deep links and NHS login redirects [default:
    /// http://{the address bound}].
    #[arg(long, env = "NHS_PORTAL_BASE_URL", value_name = "URL", value_parser = parse_base_url)]
    pub base_url: Option<BaseUrl>,

    /// The store: `sqlite:…` (one machine) or `postgres://…` (several portal instances). Its
    /// value is never shown, as a PostgreSQL URL may hold a password.
    #[arg(
        long,
        env = "NHS_PORTAL_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_default_value = false,
        hide_env_values = true,
        value_name = "URL",
        value_parser = parse_database_url
    )]
    pub database_url: Secret,

    /// Wayfinder Reporting Service base URL; with it the outbox worker delivers usage events
    /// (then NHS_PORTAL_REPORTING_TOKEN or NHS_PORTAL_REPORTING_API_KEY is required), without it
    /// they wait in the outbox.
    #[arg(long, env = "NHS_PORTAL_REPORTING_URL", value_name = "URL", value_parser = parse_http_url)]
    pub reporting_url: Option<url::Url>,

    /// The client id sent to the Reporting Service [default: the demo's client id].
    #[arg(long, env = "NHS_PORTAL_REPORTING_CLIENT_ID", value_name = "ID")]
    pub reporting_client_id: Option<String>,

    /// Bearer token for the Reporting Service (a secret).
    #[arg(
        long,
        env = "NHS_PORTAL_REPORTING_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub reporting_token: Option<Secret>,

    /// Demo mode without staff OIDC: access code of the trust staff worklist at /staff, at
    /// least 8 characters (a secret) [default: generated and printed at start-up].
    #[arg(
        long,
        env = "NHS_PORTAL_STAFF_CODE",
        hide_env_values = true,
        value_name = "CODE",
        value_parser = parse_staff_code
    )]
    pub staff_code: Option<Secret>,

    /// Patients' inactivity timeout in seconds, 61 to 43200 (the warning comes a minute
    /// before; short values only to demonstrate it).
    #[arg(
        long,
        env = "NHS_PORTAL_SESSION_IDLE_SECONDS",
        default_value_t = 600,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u32).range(61..=43_200)
    )]
    pub session_idle_seconds: u32,

    /// How many portal instances run side by side on one database (1 or more): NHS England's
    /// per-provider limits (60 requests per second on the Get Appointments API, 25 per second to
    /// the Wayfinder Reporting Service) are divided between them. Count the extra instance a
    /// rolling deployment starts.
    #[arg(
        long,
        env = "NHS_PORTAL_INSTANCES",
        default_value_t = std::num::NonZeroU32::MIN,
        value_name = "COUNT"
    )]
    pub instances: std::num::NonZeroU32,

    /// How often, in seconds, housekeeping removes expired sessions, abandoned sign-ins and
    /// spent idempotency records (and audit records past their retention), 1 to 86400.
    #[arg(
        long,
        env = "NHS_PORTAL_HOUSEKEEPING_SECONDS",
        default_value_t = 300,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u32).range(1..=86_400)
    )]
    pub housekeeping_seconds: u32,

    /// Days to keep audit records, 1 to 36500; when unset they are kept for ever (the trust
    /// decides its audit trail's retention).
    #[arg(
        long,
        env = "NHS_PORTAL_AUDIT_RETENTION_DAYS",
        value_name = "DAYS",
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub audit_retention_days: Option<u32>,

    /// Demo mode: the `client_secret` with which the demo PCA client `pca-demo` gets bearer
    /// tokens for the Get Appointments API from the simulator's token endpoint (a secret).
    #[arg(
        long,
        env = "NHS_PORTAL_DEMO_PCA_SECRET",
        default_value = nhs_portal_web::demo::DEMO_PCA_SECRET,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub demo_pca_secret: Secret,

    /// Demo mode: requests per second per PCA client before the Get Appointments API answers
    /// 429, and the burst allowed (the spec's 60); 0 turns the limiter off, for saturation
    /// benchmarks only.
    #[arg(
        long,
        env = "NHS_PORTAL_DEMO_PCA_RATE_LIMIT",
        default_value_t = 60,
        value_name = "PER_SECOND"
    )]
    pub demo_pca_rate_limit: u32,

    /// Serve the design-system files from this npm folder (where `npm ci` installed
    /// nhs-portal-web/assets/package.json) instead of the ones embedded in the binary.
    #[arg(long, env = "NHS_PORTAL_ASSETS_DIR", value_name = "DIR")]
    pub assets_dir: Option<PathBuf>,

    /// Logs, timeouts, load shedding and the drain (`layers.rs`).
    #[command(flatten)]
    pub serve: crate::layers::ServeSettings,

    /// The mode, and what live mode connects to (`live_settings.rs`).
    #[command(flatten)]
    pub live: crate::live_settings::LiveSettings,

    /// How the portal authenticates to the Reporting Service (`reporting.rs`).
    #[command(flatten)]
    pub reporting_auth: crate::reporting::ReportingAuthSettings,

    /// The PCA Record Service sender (`record_service.rs`).
    #[command(flatten)]
    pub record_service: crate::record_service::RecordServiceSettings,

    /// Staff sign-in through the trust's identity provider (`staff_sign_in.rs`).
    #[command(flatten)]
    pub staff_oidc: crate::staff_sign_in::StaffOidcSettings,
}

/// A setting whose value is never printed (Debug and Display show `(hidden)`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(hidden)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The public base URL: absolute http(s), no query or fragment, no trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// The URL, with no trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn parse_base_url(s: &str) -> Result<BaseUrl, String> {
    let trimmed = s.trim().trim_end_matches('/');
    parse_http_url(trimmed)?;
    DeepLinkBase::parse(trimmed).map_err(|e| e.to_string())?;
    Ok(BaseUrl(trimmed.to_owned()))
}

/// A setting's name as problems give it: `NHS_PORTAL_X_Y (--x-y)`.
pub(crate) fn named(env: &str) -> String {
    let flag = env
        .trim_start_matches("NHS_PORTAL_")
        .to_ascii_lowercase()
        .replace('_', "-");
    format!("{env} (--{flag})")
}

pub(crate) fn parse_http_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

fn parse_database_url(s: &str) -> Result<Secret, String> {
    let s = s.trim();
    if s.starts_with("sqlite:") {
        return Ok(Secret(s.to_owned()));
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        url::Url::parse(s).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
        return Ok(Secret(s.to_owned()));
    }
    Err("must start with sqlite: or postgres://".into())
}

fn parse_month(s: &str) -> Result<Month, String> {
    Month::parse(s).map_err(|e| e.to_string())
}

fn parse_staff_code(s: &str) -> Result<Secret, String> {
    if s.trim().chars().count() < 8 {
        return Err("must be at least 8 characters".into());
    }
    Ok(Secret(s.trim().to_owned()))
}

impl Settings {
    /// What the store is, without credentials: the SQLite file, or PostgreSQL's host and
    /// database.
    pub fn store_name(&self) -> String {
        let url = self.database_url.expose();
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let file = rest.split('?').next().unwrap_or(rest);
            return format!("SQLite {file}");
        }
        match url::Url::parse(url) {
            Ok(u) => format!("PostgreSQL on {}{}", u.host_str().unwrap_or("?"), u.path()),
            Err(_) => "PostgreSQL".into(),
        }
    }

    /// The public base URL: the one set, else `http://{bound}`.
    pub fn base_url_for(&self, bound: SocketAddr) -> String {
        self.base_url
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}
