//! Starting the Node stand-ins under tests/node (npm packages we did not write) and finding a
//! free port for the portal before it starts, when a stand-in must know the portal's URL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running stand-in; dropping it stops it.
pub struct StandIn {
    child: Child,
    /// Its issuer (base URL), from its ready line.
    pub issuer: String,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The folder of the Node harness `name` (under tests/node), when Node and its packages are
/// installed; otherwise says it is skipped (and fails under `CI`).
pub fn node_harness(name: &str, package: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/node")
        .join(name);
    let have_node = Command::new("node").arg("--version").output().is_ok();
    if have_node && dir.join("node_modules").join(package).is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "node or tests/node/{name}'s packages are missing: CI must run this test"
    );
    eprintln!(
        "SKIPPED: node or tests/node/{name}/node_modules is missing (run `bash scripts/setup-node`)"
    );
    None
}

/// Starts `script` in `dir` with `env` and reads its ready line `{"issuer": ...}`.
pub fn start(dir: &PathBuf, script: &str, env: &[(&str, String)]) -> StandIn {
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("its ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("a JSON ready line");
    StandIn {
        issuer: ready["issuer"].as_str().expect("an issuer").to_owned(),
        child,
    }
}

/// A loopback port free just now (for a process that must be told its URL before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
