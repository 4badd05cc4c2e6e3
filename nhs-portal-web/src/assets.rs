//! Static files: the NHS.UK frontend and NHS App frontend `dist` files (installed by `npm ci` in
//! `nhs-portal-web/assets`, never committed) and the portal's own small script and stylesheet
//! (embedded in the binary).
//!
//! Every file is read into memory once at start-up from an allow-list, so a request path is
//! only ever a key in a map: nothing a client sends reaches the file system.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// The portal's own browser script (an ES module): initialises the NHS.UK frontend, wires the
/// NHS App JS API when present, and runs the session-timeout warning.
pub const PORTAL_JS: &str = include_str!("../static/portal.mjs");
/// The portal's own stylesheet (the timeout dialog).
pub const PORTAL_CSS: &str = include_str!("../static/portal.css");

/// Why the static files could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetsError {
    /// The npm packages are not installed.
    #[error(
        "the front-end packages are not installed in {0}: run `npm ci` in that folder (the reference portal does this itself on start-up)"
    )]
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
    /// Only the portal's own embedded files (for tests that do not need the npm packages).
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
            "/assets/portal/portal.css".into(),
            Asset {
                content_type: content_type("x.css"),
                body: Bytes::from_static(PORTAL_CSS.as_bytes()),
            },
        );
    }

    /// Loads the files from `dir` (the folder holding `package.json` and `node_modules`).
    pub fn load(dir: &Path) -> Result<Self, AssetsError> {
        let nhsuk = dir.join("node_modules/nhsuk-frontend/dist/nhsuk");
        let nhsapp = dir.join("node_modules/nhsapp-frontend/dist");
        if !nhsuk.is_dir() || !nhsapp.is_dir() {
            return Err(AssetsError::NotInstalled(dir.to_owned()));
        }
        let mut a = Self::default();
        a.add_embedded();
        let read = |p: PathBuf| {
            std::fs::read(&p)
                .map(Bytes::from)
                .map_err(|source| AssetsError::Read { path: p, source })
        };
        for (url, file) in [
            (
                "/assets/nhsuk/nhsuk-frontend.min.css",
                "nhsuk-frontend.min.css",
            ),
            (
                "/assets/nhsuk/nhsuk-frontend.min.js",
                "nhsuk-frontend.min.js",
            ),
            ("/assets/manifest.json", "assets/manifest.json"),
        ] {
            a.files.insert(
                url.into(),
                Asset {
                    content_type: content_type(file),
                    body: read(nhsuk.join(file))?,
                },
            );
        }
        // nhsapp-frontend ships only a version-stamped minified file (nhsapp-5.0.3.min.css).
        let stamped = std::fs::read_dir(&nhsapp)
            .map_err(|source| AssetsError::Read {
                path: nhsapp.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("nhsapp-") && n.ends_with(".min.css"))
            .ok_or_else(|| AssetsError::NotInstalled(dir.to_owned()))?;
        a.files.insert(
            "/assets/nhsapp/nhsapp.min.css".into(),
            Asset {
                content_type: content_type(&stamped),
                body: read(nhsapp.join(&stamped))?,
            },
        );
        for (url_dir, fs_dir) in [
            ("/assets/images/", nhsuk.join("assets/images")),
            ("/assets/nhsapp/icons/", nhsapp.join("assets/icons")),
        ] {
            let entries = std::fs::read_dir(&fs_dir).map_err(|source| AssetsError::Read {
                path: fs_dir.clone(),
                source,
            })?;
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_file() {
                    a.files.insert(
                        format!("{url_dir}{name}"),
                        Asset {
                            content_type: content_type(&name),
                            body: read(e.path())?,
                        },
                    );
                }
            }
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

/// The default assets folder of this crate's source tree (`nhs-portal-web/assets`).
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
        assert!(a.get("/assets/portal/../portal/portal.mjs").is_none());
        assert!(a.get("/assets/portal/").is_none());
    }

    #[test]
    fn a_missing_install_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Assets::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("npm ci"));
    }
}
