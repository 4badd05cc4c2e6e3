//! `/metrics` of the running reference portal: Prometheus text that a Prometheus parser reads
//! line by line, with request counters that move after requests, labelled by route (never by a
//! path with an id in it); on the main address by default, on `NHS_PORTAL_METRICS_ADDR` alone
//! when that is set.

mod common;

use std::collections::BTreeMap;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

/// The samples of a Prometheus text body, `name{labels}` to value; panics on a line that is
/// neither a comment nor `series value`.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let kind = comment.split_whitespace().next();
            assert!(matches!(kind, Some("HELP" | "TYPE")), "comment {line:?}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name in {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "labels in {line:?}");
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        out.insert(series.to_owned(), value);
    }
    out
}

fn requests(s: &BTreeMap<String, f64>, route: &str, status: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| {
            k.starts_with("nhs_portal_http_requests_total{")
                && k.contains(&format!("route=\"{route}\""))
                && k.contains(&format!("status=\"{status}\""))
        })
        .map(|(_, v)| *v)
        .sum()
}

async fn get(url: &str) -> (u16, String) {
    let res = reqwest::get(url).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_counters_move_after_requests_and_parse_as_prometheus_text() {
    let portal = common::start_demo(BIN, &[]);
    let base = &portal.base_url;
    for _ in 0..3 {
        assert_eq!(get(&format!("{base}/")).await.0, 200);
    }
    let appointment = format!("{base}/patient-portal/appointment/a-secret-looking-id");
    get(&appointment).await;
    let (status, before) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let before = samples(&before);
    assert_eq!(requests(&before, "landing", "200"), 3.0, "{before:?}");
    assert!(
        before
            .keys()
            .any(|k| k.starts_with("nhs_portal_http_request_duration_seconds_bucket{")),
        "a latency histogram: {before:?}"
    );
    assert!(
        !before.keys().any(|k| k.contains("a-secret-looking-id")),
        "no path or id in a label"
    );
    get(&format!("{base}/")).await;
    let after = samples(&get(&format!("{base}/metrics")).await.1);
    assert_eq!(requests(&after, "landing", "200"), 4.0);
    assert_eq!(
        requests(&after, "appointment", "303"),
        requests(&before, "appointment", "303")
    );
}

#[tokio::test]
async fn with_its_own_address_metrics_leave_the_main_listener() {
    let addr = format!("127.0.0.1:{}", nhs_portal_tests::live::free_port());
    let portal = common::start_demo(BIN, &[("NHS_PORTAL_METRICS_ADDR", &addr)]);
    let base = &portal.base_url;
    assert_eq!(get(&format!("{base}/")).await.0, 200);
    assert_eq!(get(&format!("{base}/metrics")).await.0, 404);
    let mut text = String::new();
    for _ in 0..100 {
        // The metrics listener starts just after the main one has printed its address.
        match reqwest::get(format!("http://{addr}/metrics")).await {
            Ok(res) => {
                text = res.text().await.unwrap();
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(requests(&samples(&text), "landing", "200"), 1.0, "{text}");
}

/// The sum of the samples of `family` whose labels contain every one of `labels`.
fn family(s: &BTreeMap<String, f64>, family: &str, labels: &[&str]) -> Option<f64> {
    let hits: Vec<f64> = s
        .iter()
        .filter(|(k, _)| {
            (k.as_str() == family || k.starts_with(&format!("{family}{{")))
                && labels.iter().all(|l| k.contains(l))
        })
        .map(|(_, v)| *v)
        .collect();
    (!hits.is_empty()).then(|| hits.iter().sum())
}

/// The README's Get Appointments block (curl: the demo PCA's token, the NHS App's ID token, the
/// call) run against `base`: a scripted PCA journey.
fn pca_journey(base: &str) {
    let readme = include_str!("../../../README.md");
    let block = readme
        .split("### The Get Appointments API from the command line")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|b| b.split("```").next())
        .expect("README.md has the command-line block");
    let script = block.replace("BASE=http://127.0.0.1:8080\n", &format!("BASE={base}\n"));
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash and curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_operational_families_are_present_and_move_after_a_pca_journey() {
    let portal = common::start_demo(BIN, &[]);
    let base = &portal.base_url;
    // The gauges' first sample and the PAS feed's first poll come just after start-up.
    let mut before = BTreeMap::new();
    for _ in 0..100 {
        before = samples(&get(&format!("{base}/metrics")).await.1);
        if family(&before, "nhs_portal_pending_requests", &[]).is_some()
            && family(&before, "nhs_portal_pas_call_duration_seconds_count", &[]).is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for name in [
        "nhs_portal_outbox_depth",
        "nhs_portal_outbox_quarantined",
        "nhs_portal_outbox_delivered_ratio",
        "nhs_portal_outbox_oldest_age_seconds",
        "nhs_portal_store_ping_duration_seconds_count",
        "nhs_portal_sign_ins_total",
        "nhs_portal_deep_link_launches_total",
        "nhs_portal_pca_withheld_appointments_total",
        "nhs_portal_rate_limited_total",
        "nhs_portal_pas_errors_total",
        "nhs_portal_errors_total",
    ] {
        assert!(family(&before, name, &[]).is_some(), "{name} in {before:?}");
    }
    assert_eq!(
        family(&before, "nhs_portal_pending_requests", &[]),
        Some(2.0),
        "the demo's two seeded requests, by age: {before:?}"
    );
    let list = "operation=\"list_appointments\"";
    let calls = |s: &BTreeMap<String, f64>| {
        family(s, "nhs_portal_pas_call_duration_seconds_count", &[list]).unwrap_or(0.0)
    };
    pca_journey(base);
    // A deep link from the NHS App (not signed in: on to NHS login).
    get(&format!(
        "{base}/patient-portal/appointment/appt-1?tracking_id=t-1"
    ))
    .await;
    let after = samples(&get(&format!("{base}/metrics")).await.1);
    let launches = |s: &BTreeMap<String, f64>| {
        family(s, "nhs_portal_deep_link_launches_total", &[]).unwrap_or(0.0)
    };
    assert!(
        launches(&after) > launches(&before),
        "the deep link is counted: {after:?}"
    );
    assert!(
        calls(&after) > calls(&before),
        "the PCA's call reached the PAS, measured: {after:?}"
    );
    assert!(
        !after.keys().any(|k| k.contains("9000000009")),
        "no NHS number in a label"
    );
}

/// A metric family's name: a histogram's `_bucket`, `_sum` and `_count` series are its own.
fn base_name(series: &str) -> String {
    let name = &series[..series.find('{').unwrap_or(series.len())];
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
        .to_owned()
}

/// The `nhs_portal_*` names in a PromQL expression.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("nhs_portal_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(base_name(&tail[..end]));
        rest = &tail[end..];
    }
    out
}

fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_is_exported() {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/grafana-dashboard.json"))
            .expect("docs/grafana-dashboard.json is JSON");
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(!queries.is_empty(), "the dashboard queries something");
    let queried: std::collections::BTreeSet<String> =
        queries.iter().flat_map(|q| names_in(q)).collect();

    let portal = common::start_demo(BIN, &[("NHS_PORTAL_HOUSEKEEPING_SECONDS", "1")]);
    let base = &portal.base_url;
    get(&format!("{base}/")).await;
    let mut exported = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let text = get(&format!("{base}/metrics")).await.1;
        exported = samples(&text).keys().map(|k| base_name(k)).collect();
        if queried.is_subset(&exported) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let missing: Vec<_> = queried.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the portal does not export: {missing:?}"
    );
}
