//! Opening what the settings name: the store and the front-end files.

use std::path::Path;
use std::sync::Arc;

use nhs_portal_core::store::Store;

use crate::BoxError;

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
        // Standard output carries only the "listening on" line (harnesses read it).
        .stdout(std::io::stderr())
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

/// Opens the store at `url` (making a relative SQLite file's folder).
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, BoxError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        && let Some(dir) = Path::new(path.split('?').next().unwrap_or("")).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(nhs_portal_web::store::connect(url).await?)
}
