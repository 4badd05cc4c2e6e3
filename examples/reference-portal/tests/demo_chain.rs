//! The demo chain through the running reference portal binary: README.md's `curl` block (the
//! demo PCA's token, the NHS App's ID token, the Get Appointments call) run as written against
//! it, and a wrong client secret refused with a JSON error.

mod common;

use std::process::Command;

use common::Running;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

fn start(env: &[(&str, &str)]) -> Running {
    common::start_demo(BIN, env)
}

/// The README's shell block after the heading of the command-line section.
fn readme_block() -> String {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("### The Get Appointments API from the command line")
        .nth(1)
        .expect("README.md has the command-line section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has a sh block");
    block.to_owned()
}

fn have_curl() -> bool {
    let ok = Command::new("curl").arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl is missing: CI must run the README's curl block"
        );
        eprintln!(
            "SKIPPED: curl is not installed (apt-get install curl), so the README's curl block was not run"
        );
    }
    ok
}

#[test]
fn the_readmes_curl_calls_get_appointments_from_the_running_portal() {
    if !have_curl() {
        return;
    }
    let portal = start(&[]);
    let block = readme_block();
    assert!(block.contains("BASE=http://127.0.0.1:8080\n"), "{block}");
    let script = block.replace(
        "BASE=http://127.0.0.1:8080\n",
        &format!("BASE={}\n", portal.base_url),
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON answer");
    assert_eq!(bundle["resourceType"], "Bundle", "{stdout}");
    let entries = bundle["entry"].as_array().expect("entries");
    assert!(!entries.is_empty(), "{stdout}");
    assert!(
        stdout.contains("/patient-portal/appointment/"),
        "deep links: {stdout}"
    );
}

#[tokio::test]
async fn the_secret_is_the_configured_one_and_a_wrong_one_is_401_json() {
    let portal = start(&[("NHS_PORTAL_DEMO_PCA_SECRET", "another-demo-secret")]);
    let http = reqwest::Client::new();
    let token_url = format!("{}/nhs-login-simulator/token", portal.base_url);
    for (secret, status) in [
        ("demo-pca-secret", 401),
        ("another-demo-secret", 200),
        ("another-demo-secreT", 401),
    ] {
        let res = http
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "pca-demo"),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{secret}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/json"), "{ct}");
        let body: serde_json::Value = res.json().await.unwrap();
        if status == 401 {
            assert_eq!(body["error"], "invalid_client");
        } else {
            assert!(body["access_token"].is_string());
        }
    }
    let unknown = http
        .post(format!(
            "{}/nhs-login-simulator/nhs-app/id-token",
            portal.base_url
        ))
        .form(&[("nhs_number", "9000000084")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"], "unknown_patient");
}

/// With `NHS_PORTAL_BASE_URL` on a path, the binary serves the portal under it, and nothing
/// outside it.
#[tokio::test]
async fn the_portal_is_served_under_the_path_of_its_base_url() {
    let addr = format!("127.0.0.1:{}", nhs_portal_tests::live::free_port());
    let base = format!("http://{addr}/hospital");
    let portal = start(&[("NHS_PORTAL_ADDR", &addr), ("NHS_PORTAL_BASE_URL", &base)]);
    assert_eq!(portal.base_url, base);
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    assert_eq!(get(format!("{base}/health")).await.status().as_u16(), 200);
    let landing = get(format!("{base}/")).await.text().await.unwrap();
    assert!(
        landing.contains("href=\"/hospital/assets/nhsuk/nhsuk-frontend.min.css\""),
        "{landing}"
    );
    let token = http
        .post(format!("{base}/nhs-login-simulator/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "pca-demo"),
            ("client_secret", "demo-pca-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status().as_u16(), 200);
    for outside in ["/health", "/", "/nhs-login-simulator/token"] {
        let res = get(format!("http://{addr}{outside}")).await;
        assert_eq!(res.status().as_u16(), 404, "{outside}");
    }
}
