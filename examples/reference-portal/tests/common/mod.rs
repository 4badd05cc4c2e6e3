//! What the tests that run the reference portal binary share: starting it (the shared harness's
//! `live::spawn_portal`, which reads its address from the first line and stops it on drop) with
//! the folders it uses, and reading JSON answers.
#![allow(dead_code)] // each test file uses only some of it

use std::process::Command;

use nhs_portal_tests::live::{PortalProcess, spawn_portal, start_portal};

/// The running portal; dropping it stops the process (and then removes `dirs`).
pub struct Running {
    process: PortalProcess,
    /// The base URL from `nhs-portal listening on {base URL}`.
    pub base_url: String,
    _dirs: Vec<tempfile::TempDir>,
}

impl Running {
    /// `process`, with `dirs` kept as long as it runs.
    fn new(process: PortalProcess, dirs: Vec<tempfile::TempDir>) -> Self {
        Self {
            base_url: process.base_url.clone(),
            process,
            _dirs: dirs,
        }
    }
}

impl std::ops::Deref for Running {
    type Target = PortalProcess;
    fn deref(&self) -> &PortalProcess {
        &self.process
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut PortalProcess {
        &mut self.process
    }
}

/// Starts `cmd` and waits for its first line; `dirs` live as long as the process.
pub fn spawn(cmd: Command, dirs: Vec<tempfile::TempDir>) -> Running {
    Running::new(spawn_portal(cmd), dirs)
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
    let settings: Vec<(String, String)> = [
        ("NHS_PORTAL_ADDR", "127.0.0.1:0"),
        ("NHS_PORTAL_DATABASE_URL", &db),
    ]
    .iter()
    .chain(env)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let process = start_portal(std::path::Path::new(bin), &settings, dir.path());
    Running::new(process, vec![dir])
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

/// The demo PCA client's bearer token (the simulator's `client_credentials` grant for
/// `pca-demo`) and the NHS App's ID token for `patient`, from the running demo portal at `base`.
pub async fn pca_tokens(base: &str, patient: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let token = json_of(
        http.post(format!("{base}/nhs-login-simulator/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "pca-demo"),
                ("client_secret", nhs_portal_web::demo::DEMO_PCA_SECRET),
            ]),
    )
    .await;
    let id = json_of(
        http.post(format!("{base}/nhs-login-simulator/nhs-app/id-token"))
            .form(&[("nhs_number", patient)]),
    )
    .await;
    (
        token["access_token"]
            .as_str()
            .expect("a bearer token")
            .to_owned(),
        id["id_token"].as_str().expect("an ID token").to_owned(),
    )
}
