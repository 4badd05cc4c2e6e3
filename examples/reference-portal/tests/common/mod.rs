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

/// Sends `req` and reads the answer as JSON.
pub async fn json_of(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a JSON answer")
}
