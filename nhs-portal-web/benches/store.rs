//! Storage throughput: request inserts per second and outbox claims per second, on SQLite
//! (`synchronous=FULL`, the default, and `NORMAL` for comparison) and PostgreSQL.
//!
//! Run: `cargo bench -p nhs-portal-web --bench store` (PostgreSQL too when
//! `NHS_PORTAL_TEST_PG_URL` is set; it works in a throw-away schema). Results go to
//! `docs/benchmarks.md` under "Storage".
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a few operations of each
//! kind and checks them, so the benchmark code itself stays tested.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::{AuditAction, AuditRecord, NewRequest, Store, Submitted};
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};
use nhs_portal_web::store::{PgStore, SqliteStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};

struct Sizes {
    inserts: usize,
    events: usize,
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = if bench {
        Sizes {
            inserts: 2_000,
            events: 20_000,
        }
    } else {
        Sizes {
            inserts: 20,
            events: 200,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(sizes));
}

async fn run(sizes: Sizes) {
    println!("| store | operation | clients | ops | seconds | per second |");
    println!("|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().expect("temp dir");
    for (label, sync) in [
        ("SQLite FULL", SqliteSynchronous::Full),
        ("SQLite NORMAL", SqliteSynchronous::Normal),
    ] {
        for clients in [1, 8] {
            let path = dir
                .path()
                .join(format!("{label}-{clients}.db").replace(' ', "-"));
            let options = SqliteStore::recommended(
                SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                    .expect("url")
                    .create_if_missing(true),
            )
            .synchronous(sync);
            let store: Arc<dyn Store> =
                Arc::new(SqliteStore::connect_with(options).await.expect("open"));
            bench_inserts(label, &store, clients, sizes.inserts).await;
            if clients == 1 {
                bench_claims(label, &store, 1, sizes.events).await;
            }
        }
    }

    match std::env::var("NHS_PORTAL_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .expect("schema");
            let options = PgConnectOptions::from_str(&url)
                .expect("url")
                .options([("search_path", schema.as_str())]);
            let store: Arc<dyn Store> =
                Arc::new(PgStore::connect_with(options, 10).await.expect("open"));
            for clients in [1, 8] {
                bench_inserts("PostgreSQL", &store, clients, sizes.inserts).await;
            }
            for workers in [1, 4] {
                bench_claims("PostgreSQL", &store, workers, sizes.events).await;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .expect("drop schema");
        }
        _ => eprintln!("SKIPPED: PostgreSQL benchmark (set NHS_PORTAL_TEST_PG_URL)"),
    }
}

fn row(store: &str, op: &str, clients: usize, ops: usize, took: StdDuration) {
    let secs = took.as_secs_f64();
    println!(
        "| {store} | {op} | {clients} | {ops} | {secs:.2} | {:.0} |",
        ops as f64 / secs
    );
}

fn request(n: usize, clients: usize) -> (NewRequest, AuditRecord, ReportingEvent) {
    let patient = NhsNumber::parse("9000000009").expect("nhs");
    let appointment = AppointmentId::parse(&format!(
        "bench-{clients}-{n}-{}",
        uuid::Uuid::new_v4().simple()
    ))
    .expect("id");
    let now = Utc::now();
    (
        NewRequest {
            id: uuid::Uuid::new_v4(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            appointment: appointment.clone(),
            patient: patient.clone(),
            ods_code: OdsCode::parse("RJ1").expect("ods"),
            kind: RequestKind::Cancel,
            reason: "no-longer-needed".into(),
            details: None,
            created_at: now,
        },
        AuditRecord {
            at: now,
            patient,
            actor: "patient".into(),
            session: Some("rep".into()),
            action: AuditAction::CancelRequested,
            appointment: Some(appointment.clone()),
            detail: None,
        },
        ReportingEvent::CancelRequested {
            at: now,
            appointment,
            session_id: "rep".into(),
        },
    )
}

/// `submit_request` (request + audit record + event, one transaction) from `clients` tasks.
async fn bench_inserts(label: &str, store: &Arc<dyn Store>, clients: usize, total: usize) {
    let per_client = total / clients;
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..per_client {
                    let (req, audit, event) = request(n, c);
                    match store.submit_request(&req, &audit, &[event]).await {
                        Ok(Submitted::Created(_)) => {}
                        other => panic!("submit: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    row(
        label,
        "submit_request",
        clients,
        per_client * clients,
        start.elapsed(),
    );
}

/// Claim (batches of 50) and mark delivered, by `workers` tasks, until the outbox is empty.
async fn bench_claims(label: &str, store: &Arc<dyn Store>, workers: usize, total: usize) {
    // Drain what the insert benchmarks left, so only the fresh events are counted.
    let now = Utc::now() + Duration::days(1);
    loop {
        let left = store
            .claim_events("drain", 1000, now, Duration::hours(1))
            .await
            .expect("drain");
        if left.is_empty() {
            break;
        }
        let ids: Vec<_> = left.iter().map(|i| i.id).collect();
        store.mark_delivered(&ids).await.expect("deliver");
    }
    let events: Vec<_> = (0..total)
        .map(|n| ReportingEvent::AppointmentView {
            at: Utc::now(),
            appointment: AppointmentId::parse(&format!("view-{n}")).expect("id"),
            session_id: "rep".into(),
            tracking_id: None,
        })
        .collect();
    for chunk in events.chunks(1000) {
        store.enqueue_events(chunk).await.expect("enqueue");
    }
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = 0;
                loop {
                    let got = store
                        .claim_events(&format!("w{w}"), 50, now, Duration::minutes(5))
                        .await
                        .expect("claim");
                    if got.is_empty() {
                        return claimed;
                    }
                    claimed += got.len();
                    let ids: Vec<_> = got.iter().map(|i| i.id).collect();
                    store.mark_delivered(&ids).await.expect("deliver");
                }
            })
        })
        .collect();
    let mut claimed = 0;
    for t in tasks {
        claimed += t.await.expect("task");
    }
    let took = start.elapsed();
    assert_eq!(claimed, total, "every event claimed exactly once");
    row(
        label,
        "claim_events(50) + mark_delivered",
        workers,
        claimed,
        took,
    );
}
