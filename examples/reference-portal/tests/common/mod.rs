//! What the tests that run the reference portal binary share: starting it and reading its
//! address from the first line, stopping it on drop, and reading JSON answers.
#![allow(dead_code)] // each test file uses only some of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running portal; dropping it stops the process (and removes `dirs`).
pub struct Running {
    child: Child,
    /// The base URL from `nhs-portal listening on {base URL}`.
    pub base_url: String,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` and waits for its first line; `dirs` live as long as the process.
pub fn spawn(mut cmd: Command, dirs: Vec<tempfile::TempDir>) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the portal binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("its first line");
    let base_url = first
        .trim()
        .strip_prefix("nhs-portal listening on ")
        .map(str::to_owned);
    let running = Running {
        child,
        base_url: base_url.clone().unwrap_or_default(),
        _dirs: dirs,
    };
    assert!(base_url.is_some(), "it did not start: {first:?}");
    running
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

pub mod browser;
pub mod stand_in;
