//! Which files of the npm design-system packages the portal serves, and at which URL: the one
//! list, read by the build script (which embeds them, `build.rs`) and by [`super::Assets::load`]
//! (which reads them from a folder at run time). Only `std`, since the build script compiles it
//! too.

use std::io;
use std::path::{Path, PathBuf};

/// The files under `node_modules` (a folder holding `nhsuk-frontend` and `nhsapp-frontend`), as
/// `(URL path, file)`, sorted by URL path.
///
/// # Errors
/// When a package or one of its folders is missing.
pub(crate) fn files(node_modules: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let nhsuk = node_modules.join("nhsuk-frontend/dist/nhsuk");
    let nhsapp = node_modules.join("nhsapp-frontend/dist");
    let mut files = Vec::new();
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
        files.push((url.to_owned(), existing(nhsuk.join(file))?));
    }
    // nhsapp-frontend ships only a version-stamped minified file (nhsapp-5.0.3.min.css).
    let stamped = names(&nhsapp)?
        .into_iter()
        .find(|n| n.starts_with("nhsapp-") && n.ends_with(".min.css"))
        .ok_or_else(|| missing(&nhsapp.join("nhsapp-*.min.css")))?;
    files.push((
        "/assets/nhsapp/nhsapp.min.css".to_owned(),
        nhsapp.join(stamped),
    ));
    for (url_dir, dir) in [
        ("/assets/images/", nhsuk.join("assets/images")),
        ("/assets/nhsapp/icons/", nhsapp.join("assets/icons")),
    ] {
        for name in names(&dir)? {
            let path = dir.join(&name);
            if path.is_file() {
                files.push((format!("{url_dir}{name}"), path));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn missing(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} is missing", path.display()),
    )
}

fn existing(path: PathBuf) -> io::Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(missing(&path))
    }
}

fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|_| missing(dir))? {
        names.push(e?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
