//! The binary is self-contained: copied alone into an empty folder and started with a minimal
//! environment (a `PATH` with no npm or Node, no source tree to find), it serves the patient
//! pages with their stylesheets, and the demo PCA call with the simulator's tokens answers 200.
//!
//! It runs the binary in `NHS_PORTAL_RELEASE_BIN` when set (for example the release build of the
//! README's first command), else this test's own build of it (scripts/test-all says why CI uses
//! the debug build).

mod common;

use std::process::Command;

use common::json_of;

#[tokio::test]
async fn the_binary_alone_in_an_empty_folder_serves_pages_styles_and_the_pca_api() {
    let built = std::env::var("NHS_PORTAL_RELEASE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_nhs-portal-example").to_owned());
    let folder = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let bin = folder.path().join("nhs-portal-example");
    std::fs::copy(&built, &bin).expect("copy the binary");
    let mut cmd = Command::new(&bin);
    cmd.env_clear()
        .env("PATH", empty_path.path())
        .env("NHS_PORTAL_ADDR", "127.0.0.1:0")
        .current_dir(folder.path());
    let data = folder.path().join("data");
    let running = common::spawn(cmd, vec![folder, empty_path]);
    let base = running.base_url.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .unwrap();

    // The portal's start page and every stylesheet it links.
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert!(home.status().is_success(), "{}", home.status());
    let html = home.text().await.unwrap();
    let sheets: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .filter(|h| h.ends_with(".css"))
        .collect();
    assert!(
        sheets.iter().any(|h| h.contains("nhsuk-frontend")),
        "the NHS.UK stylesheet is linked: {html}"
    );
    for sheet in sheets {
        let url = if sheet.starts_with('/') {
            format!("{base}{sheet}")
        } else {
            sheet.to_owned()
        };
        let css = http.get(&url).send().await.unwrap();
        assert_eq!(css.status(), 200, "{url}");
        let ct = css.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/css"), "{url}: {ct}");
        assert!(css.bytes().await.unwrap().len() > 100, "{url} has content");
    }

    // The demo PCA call with the simulator's two tokens.
    let token = json_of(
        http.post(format!("{base}/nhs-login-simulator/token"))
            .basic_auth("pca-demo", Some("demo-pca-secret"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let id = json_of(
        http.post(format!("{base}/nhs-login-simulator/nhs-app/id-token"))
            .form(&[("nhs_number", "9000000009")]),
    )
    .await;
    let res = http
        .get(format!("{base}/fhir/Appointment"))
        .query(&[(
            "patient:identifier",
            "https://fhir.nhs.uk/Id/nhs-number|9000000009",
        )])
        .bearer_auth(token["access_token"].as_str().expect("a bearer token"))
        .header(
            "NHSD-ID-Token",
            id["id_token"].as_str().expect("an ID token"),
        )
        .header("X-Correlation-ID", "0d7d3c55-3b7e-4d43-9a4c-3b1b2f8d6a10")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bundle: serde_json::Value = res.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert!(data.is_dir(), "its SQLite store is in the folder");
}
