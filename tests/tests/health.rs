//! The health endpoints as a load balancer and an orchestrator meet them: `/health/live`
//! needs nothing but the process, `/health/ready` needs the store and goes false while the
//! portal drains, and neither tells the public any internal count.

use bytes::Bytes;
use http::{Request, StatusCode};
use nhs_portal_tests::{TestPortal, body_text};
use nhs_portal_web::demo::{DemoPortal, DemoSettings};
use nhs_portal_web::store::SqliteStore;
use std::sync::Arc;

fn get(path: &str) -> Request<Bytes> {
    Request::get(path).body(Bytes::new()).unwrap()
}

#[tokio::test]
async fn ready_goes_false_while_draining_and_live_stays_true() {
    let t = TestPortal::start().await;
    let mut lb = t.client();
    let cases = [
        (false, "/health/live", StatusCode::OK, "\"status\":\"live\""),
        (false, "/health/ready", StatusCode::OK, "\"status\":\"ok\""),
        (false, "/health", StatusCode::OK, "\"status\":\"ok\""),
        (true, "/health/live", StatusCode::OK, "\"status\":\"live\""),
        (
            true,
            "/health/ready",
            StatusCode::SERVICE_UNAVAILABLE,
            "\"status\":\"draining\"",
        ),
        (
            true,
            "/health",
            StatusCode::SERVICE_UNAVAILABLE,
            "\"status\":\"draining\"",
        ),
    ];
    for (draining, path, status, body) in cases {
        t.portal().set_draining(draining);
        let res = lb.get(path).await;
        let text = body_text(&res);
        assert_eq!(res.status(), status, "{path} draining={draining}: {text}");
        assert!(text.contains(body), "{path} draining={draining}: {text}");
        assert!(
            !text.contains("outbox"),
            "{path} shows no internal counts: {text}"
        );
    }
    // Draining does not refuse the patients' pages in flight.
    t.portal().set_draining(true);
    assert_eq!(lb.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn live_needs_no_store_and_ready_says_the_store_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    let demo = DemoPortal::build(DemoSettings::new("http://127.0.0.1:1").with_store(store.clone()))
        .await
        .unwrap();
    assert_eq!(
        demo.portal.handle(get("/health/ready")).await.status(),
        StatusCode::OK
    );
    store.close().await;
    let live = demo.portal.handle(get("/health/live")).await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = demo.portal.handle(get("/health/ready")).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = body_text(&ready);
    assert!(text.contains("\"store\":\"unreachable\""), "{text}");
}

#[tokio::test]
async fn ready_says_not_migrated_and_reports_the_pas_without_counts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    let demo = DemoPortal::build(DemoSettings::new("http://127.0.0.1:1").with_store(store.clone()))
        .await
        .unwrap();
    let ready = demo.portal.handle(get("/health/ready")).await;
    let text = body_text(&ready);
    assert_eq!(ready.status(), StatusCode::OK, "{text}");
    assert!(text.contains("\"pas\":"), "the PAS is reported: {text}");
    // Someone restored an older backup under a running portal: its schema is behind.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let ready = demo.portal.handle(get("/health/ready")).await;
    let text = body_text(&ready);
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("\"store\":\"not-migrated\""), "{text}");
    assert!(
        !text.chars().any(|c| c.is_ascii_digit()),
        "no versions or counts in the public answer: {text}"
    );
}
