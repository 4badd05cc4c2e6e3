//! The reference portal binary in **live mode**, configured only through its settings, against
//! local stand-ins for the real services:
//!
//! - NHS login: npm `oidc-provider` configured like NHS login ([`OidcProvider`],
//!   `tests/node/oidc-provider`), with the portal's client registered by its public key;
//! - the trust's FHIR PAS: Medplum's FHIR router seeded with the demo data ([`medplum::Medplum`],
//!   `tests/node/medplum`, the FHIR adapter's own test peer);
//! - the PCA's token issuer: a JWKS served here and bearer tokens minted with its key
//!   ([`PcaIssuer`]).
//!
//! [`LiveStandIns::start`] starts them all and writes the portal's files (its NHS login key,
//! the trusts file) into a temporary folder; [`LiveStandIns::env`] is the portal's whole
//! configuration; [`start_portal`] runs a binary with it; [`crate::browser::Browser`] drives it
//! over HTTP, across to the provider's pages and back. Each stand-in that needs Node is skipped
//! (`SKIPPED`, or a failure with `CI` set) when its `node_modules` is missing: [`node_peer`].
//!
//! Beside them, for tests that add them: the trust's staff identity provider ([`StaffIdp`], npm
//! `oidc-provider`'s `staff.mjs`) and a Reporting Service that checks the signed-JWT exchange
//! ([`crate::reporting_service::ReportingService`]); add their settings to the list from
//! [`LiveStandIns::env`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nhs_portal_pas::demo;
use nhs_portal_web::nhs_login::RsaSigningKey;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

/// The FHIR PAS stand-in (the FHIR adapter's test peer, shared with nhs-portal-pas's tests).
#[path = "../../nhs-portal-pas/tests/support/medplum.rs"]
pub mod medplum;

/// The portal's client id at the NHS login stand-in.
pub const PORTAL_CLIENT_ID: &str = "portal-live";
/// The NHS App's client id at the NHS login stand-in (the audience of the tokens it forwards).
pub const NHS_APP_CLIENT_ID: &str = "nhs-app-interop";
/// The audience of the PCA's bearer tokens for the portal's API.
pub const PCA_AUDIENCE: &str = "portal-live-api";

/// A Node peer's folder under `tests/node/`, when its packages are installed; otherwise prints
/// that the running test is skipped and returns `None`.
///
/// # Panics
/// With `CI` set, when the packages are missing (CI installs them).
pub fn node_peer(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node")
        .join(name);
    if dir.join("node_modules").is_dir() {
        return Some(dir);
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the {name} test peer is not installed: run `bash scripts/setup-node`"
    );
    eprintln!("SKIPPED {test}: it needs tests/node/{name}: run `bash scripts/setup-node`");
    None
}

/// A free loopback port. The portal's port must be known before it starts (NHS login's stand-in
/// registers its redirect URI first); another process could take it in between, which a test
/// then reports as a failed start.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port")
        .port()
}

/// npm `oidc-provider` configured like NHS login (not NHS login).
#[derive(Debug)]
pub struct OidcProvider {
    /// Its issuer, `http://127.0.0.1:{port}`.
    pub issuer: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

impl OidcProvider {
    /// Starts it from `dir` (see [`node_peer`]) with one relying party: `client_id`, its public
    /// JWK and redirect URI.
    pub async fn start(
        dir: &Path,
        client_id: &str,
        client_jwk: &Value,
        redirect_uri: &str,
    ) -> Self {
        let mut child = tokio::process::Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_JWK", client_jwk.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let issuer = ready_issuer(&mut child).await;
        Self {
            issuer,
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    async fn mint(&self, route: &str, nhs_number: &str) -> String {
        let res = self
            .http
            .post(format!("{}{route}?nhs_number={nhs_number}", self.issuer))
            .send()
            .await
            .expect("the provider answers");
        assert!(res.status().is_success(), "{route}: {}", res.status());
        res.text().await.expect("a token")
    }

    /// What the NHS App appends to a deep link as `assertedLoginIdentity` for this patient.
    pub async fn sso_assertion(&self, nhs_number: &str) -> String {
        self.mint("/test/sso-assertion", nhs_number).await
    }

    /// The ID token the provider issued to the NHS App for this patient (audience
    /// [`NHS_APP_CLIENT_ID`]): what the PCA forwards in `NHSD-ID-Token`.
    pub async fn nhs_app_id_token(&self, nhs_number: &str) -> String {
        self.mint("/test/nhs-app-id-token", nhs_number).await
    }
}

/// The portal's client id at the staff identity provider stand-in.
pub const STAFF_CLIENT_ID: &str = "worklist-live";
/// The portal's client secret there.
const STAFF_CLIENT_SECRET: &str = "live-staff-client-secret";
/// The group that opens the worklist (the stand-in's `sam` is in it, `alex` is not).
pub const STAFF_GROUP: &str = "booking-team";

/// The trust's staff identity provider: npm `oidc-provider` (`staff.mjs`: PKCE required, a
/// `groups` claim), not a real provider.
#[derive(Debug)]
pub struct StaffIdp {
    /// Its issuer, `http://127.0.0.1:{port}`.
    pub issuer: String,
    _child: tokio::process::Child,
}

impl StaffIdp {
    /// Starts it from `dir` (see [`node_peer`]) with the portal's client, redirecting to
    /// `{base_url}/staff/sign-in/callback`.
    pub async fn start(dir: &Path, base_url: &str) -> Self {
        Self::start_with(dir, base_url, None).await
    }

    /// Like [`StaffIdp::start`]; with `client_jwk` the portal authenticates with
    /// `private_key_jwt` (that public JWK) instead of the client secret.
    pub async fn start_with(dir: &Path, base_url: &str, client_jwk: Option<&Value>) -> Self {
        let mut cmd = tokio::process::Command::new("node");
        match client_jwk {
            Some(jwk) => cmd.env("CLIENT_JWK", jwk.to_string()),
            None => cmd.env("CLIENT_SECRET", STAFF_CLIENT_SECRET),
        };
        let mut child = cmd
            .arg("staff.mjs")
            .current_dir(dir)
            .env("CLIENT_ID", STAFF_CLIENT_ID)
            .env("REDIRECT_URI", format!("{base_url}/staff/sign-in/callback"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let issuer = ready_issuer(&mut child).await;
        Self {
            issuer,
            _child: child,
        }
    }

    /// Makes the next ID token it issues claim `iss` (re-signed with its own key): a token from
    /// another issuer, as a mix-up would bring.
    pub async fn forge_next_id_token_issuer(&self, iss: &str) {
        let res = reqwest::Client::new()
            .post(format!(
                "{}/test/forge-next-id-token?iss={iss}",
                self.issuer
            ))
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    }

    /// The portal's staff sign-in settings for this provider (with the client secret).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("NHS_PORTAL_STAFF_OIDC_ISSUER", self.issuer.as_str()),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", STAFF_CLIENT_ID),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET", STAFF_CLIENT_SECRET),
            ("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP", STAFF_GROUP),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// Reads a Node stand-in's ready line `{"issuer": ...}` from its standard output.
async fn ready_issuer(child: &mut tokio::process::Child) -> String {
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("its ready line");
    let ready: Value = serde_json::from_str(&line).expect("a JSON ready line");
    ready["issuer"].as_str().expect("an issuer").to_owned()
}

/// The PCA's token issuer: a key, its JWKS served on loopback, and bearer tokens it signs.
#[derive(Debug)]
pub struct PcaIssuer {
    /// The `iss` of its tokens.
    pub issuer: String,
    /// Where its JWKS is served.
    pub jwks_url: String,
    key: RsaSigningKey,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for PcaIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl PcaIssuer {
    /// A new key, its JWKS served on a free loopback port.
    pub async fn start() -> Self {
        let key = RsaSigningKey::generate().expect("a key");
        let jwks = bytes::Bytes::from(json!({"keys": [key.public_jwk_json()]}).to_string());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let at = format!("http://{}", listener.local_addr().expect("an address"));
        let server = tokio::spawn(crate::serve(listener, move |_req| {
            let jwks = jwks.clone();
            async move {
                http::Response::builder()
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(jwks)
                    .expect("a response")
            }
        }));
        Self {
            issuer: format!("{at}/pca-auth"),
            jwks_url: format!("{at}/pca-auth/jwks.json"),
            key,
            server,
        }
    }

    /// A bearer token for `audience`, five minutes long, from this issuer.
    pub fn token(&self, audience: &str) -> String {
        self.token_from(&self.issuer, audience)
    }

    /// A token signed with this issuer's key but naming `issuer` (another one, to be refused).
    pub fn token_from(&self, issuer: &str, audience: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.key
            .sign(&json!({
                "iss": issuer, "aud": audience, "sub": "pca-live-test", "client_id": "pca-live-test",
                "iat": now, "exp": now + 300,
            }))
            .expect("a token")
    }
}

/// The stand-ins for live mode, and the portal's files, for a portal on `port`.
#[derive(Debug)]
pub struct LiveStandIns {
    /// NHS login's stand-in.
    pub nhs_login: OidcProvider,
    /// The PAS stand-in, seeded with the demo data.
    pub pas: medplum::Medplum,
    /// The PCA's token issuer.
    pub pca: PcaIssuer,
    /// The portal's port.
    pub port: u16,
    /// Holds the portal's key file, trusts file and store.
    pub dir: tempfile::TempDir,
}

impl LiveStandIns {
    /// Starts every stand-in, or returns `None` (announced as skipped) when a Node peer is not
    /// installed.
    pub async fn start() -> Option<Self> {
        let op_dir = node_peer("oidc-provider")?;
        node_peer("medplum")?;
        let port = free_port();
        let key = RsaSigningKey::generate().expect("a key");
        let redirect_uri = format!("http://127.0.0.1:{port}/sign-in/callback");
        let nhs_login = OidcProvider::start(
            &op_dir,
            PORTAL_CLIENT_ID,
            &key.public_jwk_json(),
            &redirect_uri,
        )
        .await;
        let pas = medplum::start().await;
        let pca = PcaIssuer::start().await;
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("nhs-login-key.pem"), key.private_key_pem())
            .expect("the key file");
        std::fs::write(dir.path().join("pas-token"), "live-test-pas-token\n")
            .expect("the PAS token file");
        // Both demo trusts, sharing the one Medplum server (as trusts of a group share a PAS):
        // the first changes appointments in real time, the second only takes requests.
        let trusts: String = [
            (demo::real_time_trust(), "real-time"),
            (demo::request_only_trust(), "request-only"),
        ]
        .iter()
        .map(|(trust, capabilities)| {
            format!(
                "[[trust]]\nods_code = \"{}\"\nname = \"{}\"\nfhir_base_url = \"{}\"\n\
                 capabilities = \"{capabilities}\"\nminimum_age = 16\n\n[trust.auth]\n\
                 bearer_token_file = \"pas-token\"\n\n",
                trust.ods_code.as_str(),
                trust.name,
                pas.base
            )
        })
        .collect();
        std::fs::write(dir.path().join("trusts.toml"), trusts).expect("the trusts file");
        Some(Self {
            nhs_login,
            pas,
            pca,
            port,
            dir,
        })
    }

    /// The portal's base URL.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The portal's whole configuration for these stand-ins (its `NHS_PORTAL_*` variables).
    pub fn env(&self) -> Vec<(String, String)> {
        let file = |name: &str| self.dir.path().join(name).display().to_string();
        [
            ("NHS_PORTAL_MODE", "live".to_owned()),
            ("NHS_PORTAL_ADDR", format!("127.0.0.1:{}", self.port)),
            ("NHS_PORTAL_BASE_URL", self.base_url()),
            (
                "NHS_PORTAL_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", file("portal.sqlite3")),
            ),
            ("NHS_PORTAL_NHS_LOGIN_ISSUER", self.nhs_login.issuer.clone()),
            (
                "NHS_PORTAL_NHS_LOGIN_CLIENT_ID",
                PORTAL_CLIENT_ID.to_owned(),
            ),
            ("NHS_PORTAL_NHS_LOGIN_KEY_FILE", file("nhs-login-key.pem")),
            (
                "NHS_PORTAL_NHS_APP_CLIENT_IDS",
                NHS_APP_CLIENT_ID.to_owned(),
            ),
            ("NHS_PORTAL_PCA_ISSUER", self.pca.issuer.clone()),
            ("NHS_PORTAL_PCA_JWKS_URL", self.pca.jwks_url.clone()),
            ("NHS_PORTAL_PCA_AUDIENCE", PCA_AUDIENCE.to_owned()),
            ("NHS_PORTAL_TRUSTS_FILE", file("trusts.toml")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A running portal binary; dropping it stops the process.
#[derive(Debug)]
pub struct PortalProcess {
    child: Child,
    /// The base URL from its first line, `nhs-portal listening on {base URL}`.
    pub base_url: String,
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PortalProcess {
    /// Sends SIGTERM to the process (by its id), as a process manager stopping it would.
    ///
    /// # Panics
    /// When `kill` cannot be run.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `within` for the process to exit; its exit status, or `None` if it still
    /// runs.
    pub fn wait_exit(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

/// Starts `cmd` (the portal binary) and waits for its first line; its standard error is the
/// test's.
///
/// # Panics
/// When it does not start or its first line is not the listening line.
pub fn spawn_portal(cmd: Command) -> PortalProcess {
    spawn_portal_logging(cmd, Stdio::inherit())
}

/// Like [`spawn_portal`], with the process's standard error (its log lines) sent to `logs`
/// (a file, say, for a test that reads every line).
///
/// # Panics
/// When it does not start or its first line is not the listening line.
pub fn spawn_portal_logging(mut cmd: Command, logs: impl Into<Stdio>) -> PortalProcess {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(logs)
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
    let running = PortalProcess {
        child,
        base_url: base_url.clone().unwrap_or_default(),
    };
    assert!(base_url.is_some(), "it did not start: {first:?}");
    running
}

/// Runs `bin` with only `env` of the `NHS_PORTAL_*` variables (none inherited), in `dir`.
pub fn start_portal(bin: &Path, env: &[(String, String)], dir: &Path) -> PortalProcess {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NHS_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir);
    spawn_portal(cmd)
}
