//! The layers the binary serves through (`src/layers.rs`, `src/serve.rs`), seen from outside:
//! a page whose PAS hangs ends within the request timeout on the service-problem page (and the
//! PCA API with a FHIR `OperationOutcome`), a slowly dripped request body is cut off, pages are
//! compressed when asked, pages echo their correlation id, SIGTERM during a slow request lets
//! it finish while `/health/ready` says draining, and SIGTERM while the outbox worker's batch is
//! on its way leaves no claimed-but-undelivered event in the store.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use nhs_portal_pas::demo;
use nhs_portal_tests::browser::Browser;
use nhs_portal_tests::get_appointments_uri;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");
const PROBLEM: &str = "Sorry, there is a problem with the service";

fn pca_call(base: &str, tokens: &(String, String)) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(format!("{base}{}", get_appointments_uri(demo::ADULT)))
        .bearer_auth(&tokens.0)
        .header("x-correlation-id", "serving-test")
        .header("nhsd-id-token", &tokens.1)
}

#[tokio::test]
async fn a_page_whose_pas_hangs_ends_within_its_timeout_on_the_service_problem_page() {
    let portal = common::start_demo(
        BIN,
        &[
            ("NHS_PORTAL_DEMO_PAS_DELAY_MS", "60000"),
            ("NHS_PORTAL_REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    );
    let base = portal.base_url.clone();
    // Signing in and the appointment list both ask the PAS: whichever hop does, it is cut off.
    let started = Instant::now();
    let mut b = Browser::new();
    let page = b
        .get_following(&format!("{base}/patient-portal/appointments"))
        .await;
    let page = b
        .submit(&page, &[("nhs_number", demo::ADULT), ("decision", "allow")])
        .await;
    let took = started.elapsed();
    assert_eq!(page.status, 503, "{}", page.url);
    assert!(page.body.contains(PROBLEM), "{}", page.body);
    assert!(took < Duration::from_secs(8), "took {took:?}");

    // The PCA API: a FHIR OperationOutcome, not the page, with its correlation id.
    let tokens = common::pca_tokens(&base, demo::ADULT).await;
    let started = Instant::now();
    let res = pca_call(&base, &tokens).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(res.status(), 504);
    assert_eq!(res.headers()["x-correlation-id"], "serving-test");
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");

    // Each refusal is counted by type (the page and the API call both timed out).
    assert!(errors_of(&base, "timed_out").await >= 2.0);
    assert!(errors_of(&base, "service_problem").await >= 1.0);
    assert!(errors_of(&base, "pca_api_timeout").await >= 1.0);
    assert_eq!(errors_of(&base, "overloaded").await, 0.0);
}

/// `nhs_portal_errors_total` of `kind` in the running portal's `/metrics`.
async fn errors_of(base: &str, kind: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("nhs_portal_errors_total{{type=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series}in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_request_body_dripped_slowly_is_cut_off() {
    let portal = common::start_demo(BIN, &[("NHS_PORTAL_BODY_TIMEOUT_SECONDS", "2")]);
    let addr = portal.base_url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            format!(
                "POST /sign-out HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // A byte a second (never the 100 promised), until the portal answers.
    while started.elapsed() < Duration::from_secs(20) {
        let _ = stream.write_all(b"a");
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => continue,
        }
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "{answer:?} after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
}

#[tokio::test]
async fn pages_are_compressed_when_asked_and_head_keeps_no_body() {
    let portal = common::start_demo(BIN, &[]);
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{}/nhs-app-simulator", portal.base_url);
    let res = http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let plain = http.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let head = http
        .head(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    // (The portal answers HEAD as an unknown route; compression must still send no body.)
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish_while_ready_says_draining() {
    let mut portal = common::start_demo(
        BIN,
        &[
            ("NHS_PORTAL_DEMO_PAS_DELAY_MS", "3000"),
            ("NHS_PORTAL_DRAIN_SECONDS", "20"),
        ],
    );
    let base = portal.base_url.clone();
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let tokens = common::pca_tokens(&base, demo::ADULT).await;
    let slow = tokio::spawn(pca_call(&base, &tokens).send());
    tokio::time::sleep(Duration::from_millis(800)).await;
    portal.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining", "{body}");
    let res = slow.await.unwrap().expect("the slow request is answered");
    assert_eq!(res.status(), 200, "it finished");
    let bundle: Value = res.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let exit = portal.wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "it stopped cleanly: {exit:?}"
    );
}

#[tokio::test]
async fn a_page_echoes_its_request_id_or_a_generated_correlation_id() {
    let portal = common::start_demo(BIN, &[]);
    let http = reqwest::Client::new();
    let url = format!("{}/health/live", portal.base_url);
    let res = http
        .get(&url)
        .header("x-request-id", "req-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-7");
    let res = http
        .get(&url)
        .header("x-correlation-id", "corr-7")
        .header("x-request-id", "req-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-correlation-id"], "corr-7");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = http.get(&url).send().await.unwrap();
        ids.push(
            res.headers()["x-correlation-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids[0].len(), 36, "a generated UUID: {ids:?}");
    assert_ne!(ids[0], ids[1], "a new one each time");
}

/// SIGTERM while the outbox worker's batch is on its way to a slow Reporting Service: the worker
/// finishes it before the process exits, so the store holds no claimed-but-undelivered event.
#[tokio::test]
async fn sigterm_mid_batch_leaves_no_claimed_but_undelivered_event() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let wayfinder = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .mount(&wayfinder)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("o.sqlite3").display()
    );
    let url = wayfinder.uri();
    let mut portal = common::start_demo(
        BIN,
        &[
            ("NHS_PORTAL_DATABASE_URL", &db),
            ("NHS_PORTAL_REPORTING_URL", &url),
            ("NHS_PORTAL_REPORTING_TOKEN", "wayfinder-test-token"),
        ],
    );
    let mut b = Browser::new();
    let page = b
        .get_following(&format!("{}/patient-portal/appointments", portal.base_url))
        .await;
    let page = b
        .submit(&page, &[("nhs_number", demo::ADULT), ("decision", "allow")])
        .await;
    assert_eq!(page.status, 200);
    let started = Instant::now();
    while wayfinder.received_requests().await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(15), "no batch sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    portal.terminate();
    let exit = portal.wait_exit(Duration::from_secs(15));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
    let store = nhs_portal_web::store::connect(&db).await.unwrap();
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert!(stats.delivered > 0, "{stats:?}");
}

/// Past `NHS_PORTAL_MAX_CONCURRENT_REQUESTS` in flight, a request is refused at once: the PCA
/// API with a FHIR `OperationOutcome` (503), a page with the service-problem page.
#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed_at_once() {
    let portal = common::start_demo(
        BIN,
        &[
            ("NHS_PORTAL_DEMO_PAS_DELAY_MS", "3000"),
            ("NHS_PORTAL_MAX_CONCURRENT_REQUESTS", "1"),
        ],
    );
    let base = portal.base_url.clone();
    let tokens = common::pca_tokens(&base, demo::ADULT).await;
    let slow = tokio::spawn(pca_call(&base, &tokens).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let shed = pca_call(&base, &tokens).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "at once");
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["x-correlation-id"], "serving-test");
    let outcome: Value = shed.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let page = reqwest::get(format!("{base}/signed-out")).await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains(PROBLEM));
    // The health checks are never shed.
    let live = reqwest::get(format!("{base}/health/live")).await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(
        slow.await.unwrap().unwrap().status(),
        200,
        "the one in flight"
    );
    // Once the one in flight is done, /metrics is served again: both shed requests counted.
    assert!(errors_of(&base, "overloaded").await >= 2.0);
}
