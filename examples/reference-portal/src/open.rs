//! Opening the store the settings name.

use std::path::Path;
use std::sync::Arc;

use nhs_portal_core::store::Store;
use nhs_portal_core::store::cached::CachedStore;

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

/// Opens the store a serving portal uses: [`open_store`], with sessions and pending requests
/// kept in memory ([`CachedStore`]) when that is safe, see [`keeps_in_memory`].
pub async fn open_portal_store(
    url: &str,
    instances: std::num::NonZeroU32,
) -> Result<Arc<dyn Store>, BoxError> {
    let store = open_store(url).await?;
    Ok(if keeps_in_memory(url, instances) {
        Arc::new(CachedStore::new(store))
    } else {
        store
    })
}

/// Whether the portal may keep sessions and pending requests in memory: only on SQLite with
/// one instance (`NHS_PORTAL_INSTANCES=1`). The cache is invalidated by this process's writes
/// only, so a second instance on the same database would not see a sign-out or a request made
/// through the other (PostgreSQL is for several instances, so it is never cached).
pub fn keeps_in_memory(url: &str, instances: std::num::NonZeroU32) -> bool {
    url.starts_with("sqlite:") && instances.get() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_sqlite_instance_keeps_state_in_memory() {
        let n = |v| std::num::NonZeroU32::new(v).unwrap();
        let table = [
            ("sqlite://data/portal.db", n(1), true),
            ("sqlite::memory:", n(1), true),
            ("sqlite://data/portal.db", n(2), false),
            ("postgres://db/portal", n(1), false),
            ("postgresql://db/portal", n(3), false),
        ];
        for (url, instances, keeps) in table {
            assert_eq!(keeps_in_memory(url, instances), keeps, "{url} x{instances}");
        }
    }
}
