//! Static files: the NHS.UK frontend and NHS App frontend `dist` files and the portal's own small
//! script and stylesheet, all embedded in the binary ([`Assets::embedded`]): the design-system
//! files are fetched by npm when the crate is built (pinned by `assets/package-lock.json`, never
//! committed; see `build.rs`), so nothing is read from disk at run time. [`Assets::load`] reads
//! the same files from an npm folder instead (to serve other versions without rebuilding).
//!
//! The files come from one allow-list (`assets/design_system.rs`), so a request path is only
//! ever a key in a map: nothing a client sends reaches the file system.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

mod design_system;

/// The design-system files the build script embedded, by URL path.
static DESIGN_SYSTEM: &[(&str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/design_system_files.rs"));

/// The portal's own browser script (an ES module): initialises the NHS.UK frontend, wires the
/// NHS App JS API when present, and runs the session-timeout warning.
pub const PORTAL_JS: &str = include_str!("../static/portal.mjs");
/// The portal's NHS App navigation module (imported by [`PORTAL_JS`]): links marked
/// `data-nhsapp-appointments` or `data-nhsapp-uplift` go to the NHS App's own pages through its
/// JS API v2 inside the app, and stay ordinary links elsewhere.
pub const NAVIGATION_JS: &str = include_str!("../static/navigation.mjs");
/// The portal's own stylesheet (the timeout dialog).
pub const PORTAL_CSS: &str = include_str!("../static/portal.css");

/// Why the static files could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetsError {
    /// The npm packages are not installed.
    #[error("the front-end packages are not installed in {0}: run `npm ci` in that folder")]
    NotInstalled(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// One static file.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The bytes.
    pub body: Bytes,
}

/// The static files, by URL path.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

impl Assets {
    /// Every file, as embedded when the crate was built: the portal's own and the pinned NHS
    /// design-system files. What the demo and the reference portal serve.
    pub fn embedded() -> Self {
        let mut a = Self::embedded_only();
        for (url, body) in DESIGN_SYSTEM {
            a.files.insert(
                (*url).to_owned(),
                Asset {
                    content_type: content_type(url),
                    body: Bytes::from_static(body),
                },
            );
        }
        a
    }

    /// Only the portal's own embedded files, without the design systems'.
    pub fn embedded_only() -> Self {
        let mut a = Self::default();
        a.add_embedded();
        a
    }

    fn add_embedded(&mut self) {
        self.files.insert(
            "/assets/portal/portal.mjs".into(),
            Asset {
                content_type: content_type("x.mjs"),
                body: Bytes::from_static(PORTAL_JS.as_bytes()),
            },
        );
        self.files.insert(
            "/assets/portal/navigation.mjs".into(),
            Asset {
                content_type: content_type("x.mjs"),
                body: Bytes::from_static(NAVIGATION_JS.as_bytes()),
            },
        );
        self.files.insert(
            "/assets/portal/portal.css".into(),
            Asset {
                content_type: content_type("x.css"),
                body: Bytes::from_static(PORTAL_CSS.as_bytes()),
            },
        );
    }

    /// Loads the design-system files from `dir` (a folder where `npm ci` installed
    /// `package.json` of `nhs-portal-web/assets`, holding `node_modules`) instead of the
    /// embedded ones, with the portal's own embedded files.
    pub fn load(dir: &Path) -> Result<Self, AssetsError> {
        let files = design_system::files(&dir.join("node_modules"))
            .map_err(|_| AssetsError::NotInstalled(dir.to_owned()))?;
        let mut a = Self::embedded_only();
        for (url, path) in files {
            let body = std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|source| AssetsError::Read { path, source })?;
            a.files.insert(
                url.clone(),
                Asset {
                    content_type: content_type(&url),
                    body,
                },
            );
        }
        Ok(a)
    }

    /// The file at a URL path, if it is one of ours.
    pub fn get(&self, path: &str) -> Option<&Asset> {
        self.files.get(path)
    }

    /// How many files are served.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is served.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The npm folder of this crate's source tree (`nhs-portal-web/assets`), for
/// [`Assets::load`] from a checkout.
pub fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_are_served_and_paths_are_keys_only() {
        let a = Assets::embedded_only();
        assert!(a.get("/assets/portal/portal.mjs").is_some());
        let nav = a
            .get("/assets/portal/navigation.mjs")
            .expect("the navigation module");
        assert_eq!(nav.content_type, "text/javascript; charset=utf-8");
        assert!(a.get("/assets/portal/../portal/portal.mjs").is_none());
        assert!(a.get("/assets/portal/").is_none());
    }

    #[test]
    fn the_design_system_files_are_embedded_with_their_types() {
        let a = Assets::embedded();
        let css = a
            .get("/assets/nhsuk/nhsuk-frontend.min.css")
            .expect("embedded");
        assert_eq!(css.content_type, "text/css; charset=utf-8");
        assert!(css.body.len() > 10_000);
        let app = a.get("/assets/nhsapp/nhsapp.min.css").expect("embedded");
        assert!(app.body.len() > 1_000);
        assert!(a.get("/assets/nhsuk/nhsuk-frontend.min.js").is_some());
        assert!(a.len() > Assets::embedded_only().len() + 20);
        // The same list as an npm folder gives.
        let loaded = Assets::load(&default_dir());
        if let Ok(loaded) = loaded {
            assert_eq!(loaded.len(), a.len());
        }
    }

    #[test]
    fn a_missing_install_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Assets::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("npm ci"));
    }
}
