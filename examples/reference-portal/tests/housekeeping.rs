//! Housekeeping in the running binary: with `NHS_PORTAL_HOUSEKEEPING_SECONDS=1`, an expired
//! session row put in the portal's own database is gone within seconds, a live one stays, and
//! the count shows in `/metrics` (never in the log).

use std::time::Duration;

use chrono::Utc;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::store::{PatientSession, SessionId, SessionStore};
use nhs_portal_tests::live::start_portal;
use nhs_portal_web::store::SqliteStore;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

fn session(id: &str, last_seen: chrono::DateTime<Utc>) -> PatientSession {
    PatientSession {
        id: SessionId::new(id),
        reporting_id: format!("rep-{id}"),
        patient: NhsNumber::parse("9000000009").unwrap(),
        date_of_birth: None,
        display_name: None,
        created_at: last_seen,
        last_seen_at: last_seen,
        absolute_expiry: last_seen + chrono::Duration::hours(12),
        in_nhs_app: false,
        tracking_id: None,
        csrf_token: format!("csrf-{id}"),
    }
}

#[tokio::test]
async fn an_expired_session_row_is_gone_after_a_housekeeping_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let env: Vec<(String, String)> = [
        ("NHS_PORTAL_ADDR", "127.0.0.1:0"),
        ("NHS_PORTAL_DATABASE_URL", db.as_str()),
        ("NHS_PORTAL_HOUSEKEEPING_SECONDS", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let portal = start_portal(std::path::Path::new(BIN), &env, dir.path());
    let store = SqliteStore::connect(&db).await.unwrap();
    let now = Utc::now();
    let expired = session("expired", now - chrono::Duration::hours(1));
    let live = session("live", now);
    store.create_session(&expired).await.unwrap();
    store.create_session(&live).await.unwrap();

    let mut gone = false;
    for _ in 0..100 {
        if store.get_session(&expired.id).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the expired session row must be removed by housekeeping"
    );
    assert!(
        store.get_session(&live.id).await.unwrap().is_some(),
        "a live session must stay"
    );
    let metrics = reqwest::get(format!("{}/metrics", portal.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let removed: f64 = metrics
        .lines()
        .find(|l| l.starts_with("nhs_portal_housekept_total{kind=\"session\"}"))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no session count in /metrics:\n{metrics}"));
    assert!(removed >= 1.0, "{removed}");
    drop(portal);
}
