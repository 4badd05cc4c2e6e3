//! What the tests that run the reference portal binary share: starting it (the shared harness's
//! `live::spawn_portal`, which reads its address from the first line and stops it on drop) with
//! the folders it uses, and reading JSON answers.
#![allow(dead_code)] // each test file uses only some of it

use std::process::Command;

use nhs_portal_tests::live::{PortalProcess, spawn_portal};

/// The running portal; dropping it stops the process (and then removes `dirs`).
pub struct Running {
    process: PortalProcess,
    /// The base URL from `nhs-portal listening on {base URL}`.
    pub base_url: String,
    _dirs: Vec<tempfile::TempDir>,
}

/// Starts `cmd` and waits for its first line; `dirs` live as long as the process.
pub fn spawn(cmd: Command, dirs: Vec<tempfile::TempDir>) -> Running {
    let process = spawn_portal(cmd);
    Running {
        base_url: process.base_url.clone(),
        process,
        _dirs: dirs,
    }
}

/// Starts the binary `bin` in demo mode on a free loopback port with a fresh SQLite database in
/// a temporary folder (also its working folder), no `NHS_PORTAL_*` setting from the test's own
/// environment, and `env` on top.
pub fn start_demo(bin: &str, env: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NHS_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NHS_PORTAL_ADDR", "127.0.0.1:0")
        .env("NHS_PORTAL_DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .current_dir(dir.path());
    spawn(cmd, vec![dir])
}

/// Sends `req` and reads the answer as JSON.
pub async fn json_of(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a JSON answer")
}
