//! The reference portal's settings, read from the environment (see the crate docs in `main.rs`
//! and README.md for each one and its default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nhs_portal_core::store::Store;

use crate::BoxError;

/// Everything the reference portal reads from its environment.
pub struct Settings {
    /// `NHS_PORTAL_ADDR` (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `NHS_PORTAL_BASE_URL` (default `http://{the address bound}`).
    pub base_url: Option<String>,
    /// `NHS_PORTAL_DATABASE_URL` (default the SQLite file `./data/nhs-portal.sqlite3`).
    pub database_url: String,
    /// `NHS_PORTAL_ASSETS_DIR` (default the web crate's `assets` folder).
    pub assets_dir: PathBuf,
    /// `NHS_PORTAL_STAFF_CODE` (default generated).
    pub staff_code: Option<String>,
    /// `NHS_PORTAL_SESSION_IDLE_SECONDS` (default 600).
    pub session_idle_seconds: Option<i64>,
    /// `NHS_PORTAL_REPORTING_URL`, `NHS_PORTAL_REPORTING_CLIENT_ID`, `NHS_PORTAL_REPORTING_TOKEN`.
    pub reporting: Option<(String, Option<String>, String)>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// Reads the settings.
    pub fn from_env() -> Result<Self, BoxError> {
        Ok(Self {
            addr: env("NHS_PORTAL_ADDR")
                .unwrap_or_else(|| "127.0.0.1:8080".into())
                .parse()?,
            base_url: env("NHS_PORTAL_BASE_URL"),
            database_url: env("NHS_PORTAL_DATABASE_URL")
                .unwrap_or_else(|| "sqlite://data/nhs-portal.sqlite3?mode=rwc".into()),
            assets_dir: env("NHS_PORTAL_ASSETS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(nhs_portal_web::assets::default_dir),
            staff_code: env("NHS_PORTAL_STAFF_CODE"),
            session_idle_seconds: env("NHS_PORTAL_SESSION_IDLE_SECONDS")
                .and_then(|s| s.parse().ok()),
            reporting: env("NHS_PORTAL_REPORTING_URL").map(|url| {
                (
                    url,
                    env("NHS_PORTAL_REPORTING_CLIENT_ID"),
                    env("NHS_PORTAL_REPORTING_TOKEN").unwrap_or_default(),
                )
            }),
        })
    }
}

/// Installs the front-end npm packages if they are missing.
pub fn ensure_assets(dir: &Path) -> Result<(), BoxError> {
    if dir.join("node_modules/nhsuk-frontend").is_dir()
        && dir.join("node_modules/nhsapp-frontend").is_dir()
    {
        return Ok(());
    }
    eprintln!(
        "Installing the NHS front-end packages (npm ci in {})…",
        dir.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .map_err(|e| -> BoxError {
            format!(
                "cannot run npm ({e}). Install Node.js 20 and npm, or run `npm ci` in {} yourself",
                dir.display()
            )
            .into()
        })?;
    if !status.success() {
        return Err(format!("`npm ci` failed in {} ({status})", dir.display()).into());
    }
    Ok(())
}

/// Opens the store at `url` (making a relative SQLite file's folder), with a name to show.
pub async fn open_store(url: &str) -> Result<(Arc<dyn Store>, String), BoxError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        && let Some(dir) = Path::new(path.split('?').next().unwrap_or("")).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let store = nhs_portal_web::store::connect(url).await?;
    let shown = url.split('?').next().unwrap_or(url);
    let shown = if shown.starts_with("postgres") {
        "PostgreSQL"
    } else {
        shown
    };
    Ok((store, shown.to_owned()))
}
