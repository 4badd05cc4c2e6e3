//! Embeds the pinned NHS design-system files (nhsuk-frontend, nhsapp-frontend) in the crate, so
//! a binary serving the patient pages needs no Node, npm or source tree when it runs.
//!
//! Only with the `pages` feature and not on docs.rs (`DOCS_RS`); otherwise the list is empty
//! and nothing runs, so a vendor building only `pca-api` needs no Node. The packages come from,
//! in order: `NHS_PORTAL_NODE_MODULES` (an installed `node_modules` of `assets/package.json`,
//! for offline builds); `assets/node_modules` when `scripts/setup-node` installed it from the
//! current lock file; else `npm ci` of `assets/package-lock.json` in `OUT_DIR`.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/assets/design_system.rs"]
#[allow(dead_code, unreachable_pub)]
mod design_system;

fn main() {
    println!("cargo:rerun-if-changed=assets/package.json");
    println!("cargo:rerun-if-changed=assets/package-lock.json");
    println!("cargo:rerun-if-changed=src/assets/design_system.rs");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    println!("cargo:rerun-if-env-changed=NHS_PORTAL_NODE_MODULES");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let list = out.join("design_system_files.rs");
    if env::var_os("CARGO_FEATURE_PAGES").is_none() || env::var_os("DOCS_RS").is_some() {
        std::fs::write(&list, "&[]\n").expect("write the empty file list");
        return;
    }
    let node_modules = node_modules(&out);
    let files = design_system::files(&node_modules).unwrap_or_else(|e| {
        panic!(
            "the NHS design-system packages in {} are incomplete: {e}",
            node_modules.display()
        )
    });
    let mut code = String::from("&[\n");
    for (url, path) in files {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({url:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("write to a String");
    }
    code.push_str("]\n");
    std::fs::write(&list, code).expect("write the file list");
}

/// An installed `node_modules` of `assets/package.json`.
fn node_modules(out: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("NHS_PORTAL_NODE_MODULES") {
        return PathBuf::from(dir);
    }
    // Read when the script runs (not `env!`): the same compiled script may serve another checkout.
    let manifest = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let assets = Path::new(&manifest).join("assets");
    let lock = assets.join("package-lock.json");
    if is_current(&assets.join("node_modules"), &lock) {
        return assets.join("node_modules");
    }
    let npm_dir = out.join("npm");
    if is_current(&npm_dir.join("node_modules"), &lock) {
        return npm_dir.join("node_modules");
    }
    std::fs::create_dir_all(&npm_dir).expect("make a folder in OUT_DIR");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(assets.join(f), npm_dir.join(f)).expect("copy the npm manifest");
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&npm_dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "nhs-portal-web's `pages` feature embeds the NHS design-system files, fetched with \
                 npm when it is built, but npm cannot run ({e}). Install Node.js 20 with npm, or \
                 set NHS_PORTAL_NODE_MODULES to a node_modules installed from \
                 nhs-portal-web/assets/package.json (`npm ci`)."
            )
        });
    assert!(
        status.success(),
        "`npm ci` failed in {} ({status})",
        npm_dir.display()
    );
    npm_dir.join("node_modules")
}

/// Whether `node_modules` was installed (by `npm ci`) from `lock` as it is now.
fn is_current(node_modules: &Path, lock: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(&node_modules.join(".package-lock.json")),
        modified(lock),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}
