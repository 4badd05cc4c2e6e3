//! Opening the store the settings name.

use std::path::Path;
use std::sync::Arc;

use nhs_portal_core::store::Store;

use crate::BoxError;

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
