//! Where NHS England's published specs are, for the tests that load them: the one helper,
//! compiled into the shared harness (`nhs_portal_tests::specs`) and, through `#[path]`, into
//! the test crates that cannot depend on the harness (nhs-portal-pas, nhs-portal-reporting).
//! It uses only `std`.
//!
//! The specs are `$NHS_PORTAL_SPECS` when set, else the nearest `shared/specs` folder above the
//! crate (`../shared/specs` beside a checkout). When they are absent a test says it was skipped
//! and where to get them, and returns; with `CI` set it fails instead, since CI has them.

#![allow(dead_code)] // each test file uses only some of it

use std::path::{Path, PathBuf};

/// The variable naming the specs folder.
pub const SPECS_ENV: &str = "NHS_PORTAL_SPECS";

/// Where to get the specs, for the skip message.
pub const WHERE_TO_GET_THEM: &str = "NHS England's specification/ folders of \
github.com/NHSDigital/patient-care-aggregator-api (as pca-api/) and \
github.com/NHSDigital/patient-care-aggregator-reporting (as pca-reporting/), in ../shared/specs \
beside the checkout or in a folder named by NHS_PORTAL_SPECS";

/// The specs folder, if there is one (an empty folder named by `NHS_PORTAL_SPECS` counts as
/// none, as on a clean clone: `NHS_PORTAL_SPECS=$(mktemp -d)` runs the tests as they run there).
///
/// # Panics
/// When `NHS_PORTAL_SPECS` names a folder that does not exist (a mistake to report, not skip).
pub fn specs_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(SPECS_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "{SPECS_ENV}={} is not a folder",
            dir.display()
        );
        let empty = std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none());
        return (!empty).then_some(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/specs"))
        .find(|d| d.is_dir())
}

/// The spec file at `rel` (for example `pca-api/patient-care-aggregator-api-producer-api-standards.yaml`),
/// or `None` after printing that the running test is skipped and where to get the specs.
///
/// # Panics
/// With `CI` set, when the file is missing; or when the specs folder exists but lacks `rel`.
pub fn spec_file(rel: &str) -> Option<PathBuf> {
    let Some(dir) = specs_dir() else {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but NHS England's specs are missing: {WHERE_TO_GET_THEM}"
        );
        eprintln!("SKIPPED {test}: it needs {rel}; get {WHERE_TO_GET_THEM}");
        return None;
    };
    let path = dir.join(rel);
    assert!(
        path.is_file(),
        "{} has no {rel}: get {WHERE_TO_GET_THEM}",
        dir.display()
    );
    Some(path)
}
