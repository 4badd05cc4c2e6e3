//! Durability: what the SQLite store acknowledged survives the process being killed.
//!
//! The test re-runs its own binary as a child (selected by an environment variable). The child
//! opens the store and submits cancel requests one after another, printing `ACK <key>` only
//! after each `submit_request` returned. The parent reads acknowledgements, SIGKILLs the child
//! (`Child::kill`) while it is in the middle of further writes, reopens the database and checks
//! that every acknowledged request is there with its audit record and reporting event.
//!
//! A second round does the same under concurrent load: the child runs [`WRITERS`] tasks, each
//! writing audit records with a reporting event through `AuditLog::record` (which SQLite commits
//! in groups, one transaction and one fsync for many callers), printing `ACK <key>` as each call
//! returns; after the SIGKILL every acknowledged audit record and its event must be there.
//!
//! SIGKILL tests the process-crash half of durability; the power-loss half rests on
//! `synchronous=FULL` (see `nhs_portal_web::store`), which a test cannot cut the power to check.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use chrono::Utc;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::{
    AuditAction, AuditLog, AuditRecord, NewRequest, Outbox, RequestStore, Submitted,
};
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};
use nhs_portal_web::store::SqliteStore;

const CHILD_ENV: &str = "NHS_PORTAL_DURABILITY_CHILD_DB";
/// Set (to anything) for the concurrent audit-and-event child.
const CONCURRENT_ENV: &str = "NHS_PORTAL_DURABILITY_CONCURRENT";
/// Tasks writing at once in the concurrent round.
const WRITERS: usize = 16;
/// Acknowledgements the parent waits for before it kills the child.
const ACKS: usize = 40;

fn patient() -> NhsNumber {
    NhsNumber::parse("9000000009").unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match std::env::var(CHILD_ENV) {
        Ok(url) if std::env::var_os(CONCURRENT_ENV).is_some() => {
            runtime.block_on(concurrent_child(&url))
        }
        Ok(url) => runtime.block_on(child(&url)),
        Err(_) => {
            runtime.block_on(parent());
            println!("test acknowledged_requests_survive_sigkill ... ok");
            runtime.block_on(concurrent_parent());
            println!("test acknowledged_audit_and_events_under_load_survive_sigkill ... ok");
        }
    }
}

/// Submits requests forever, acknowledging each once the store call returned.
async fn child(url: &str) {
    let store = SqliteStore::connect(url).await.expect("child: open store");
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        let key = format!("key-{n}");
        let appointment = AppointmentId::parse(&format!("appt-{n}")).unwrap();
        let now = Utc::now();
        let request = NewRequest {
            id: uuid::Uuid::new_v4(),
            idempotency_key: key.clone(),
            appointment: appointment.clone(),
            patient: patient(),
            ods_code: OdsCode::parse("RJ1").unwrap(),
            kind: RequestKind::Cancel,
            reason: "no-longer-needed".into(),
            details: None,
            created_at: now,
        };
        let audit = AuditRecord {
            at: now,
            patient: patient(),
            actor: "patient".into(),
            session: None,
            action: AuditAction::CancelRequested,
            appointment: Some(appointment.clone()),
            detail: Some(key.clone()),
        };
        let event = ReportingEvent::CancelRequested {
            at: now,
            appointment,
            session_id: "rep".into(),
        };
        match store.submit_request(&request, &audit, &[event]).await {
            Ok(Submitted::Created(_)) => {}
            other => panic!("child: unexpected {other:?}"),
        }
        writeln!(out, "ACK {key}").expect("child: stdout");
        out.flush().expect("child: flush");
    }
}

/// Audit records with one event each from [`WRITERS`] tasks at once, forever, acknowledging
/// each once `record` returned. The key is in the audit detail and, as the appointment id, in
/// the event.
async fn concurrent_child(url: &str) {
    let store = std::sync::Arc::new(SqliteStore::connect(url).await.expect("child: open store"));
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<String>();
    for w in 0..WRITERS {
        let (store, acks) = (store.clone(), acks.clone());
        tokio::spawn(async move {
            for n in 0.. {
                let key = format!("w{w}-n{n}");
                let appointment = AppointmentId::parse(&key).unwrap();
                let now = Utc::now();
                let audit = AuditRecord {
                    at: now,
                    patient: patient(),
                    actor: "patient".into(),
                    session: None,
                    action: AuditAction::ViewedAppointment,
                    appointment: Some(appointment.clone()),
                    detail: Some(key.clone()),
                };
                let event = ReportingEvent::CancelRequested {
                    at: now,
                    appointment,
                    session_id: "rep".into(),
                };
                store.record(&audit, &[event]).await.expect("child: record");
                if acks.send(key).is_err() {
                    return;
                }
            }
        });
    }
    drop(acks);
    let mut out = std::io::stdout().lock();
    while let Some(key) = acked.recv().await {
        writeln!(out, "ACK {key}").expect("child: stdout");
        out.flush().expect("child: flush");
    }
}

async fn concurrent_parent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    // More acknowledgements than writers, so groups of several commits are among them.
    let acked = run_and_kill(&url, true, WRITERS * 20);
    let store = SqliteStore::connect(&url).await.expect("reopen after kill");
    let audit = store
        .audit_for_patient(&patient(), 1_000_000)
        .await
        .expect("audit");
    let audited: HashSet<_> = audit.iter().filter_map(|a| a.detail.clone()).collect();
    let from = Utc::now() - chrono::Duration::days(1);
    let to = Utc::now() + chrono::Duration::days(1);
    let events = store
        .events_between(from, to, 0, 1_000_000)
        .await
        .expect("events");
    let evented: HashSet<_> = events
        .iter()
        .filter_map(|(_, e)| match e {
            ReportingEvent::CancelRequested { appointment, .. } => {
                Some(appointment.as_str().to_owned())
            }
            _ => None,
        })
        .collect();
    for key in &acked {
        assert!(
            audited.contains(key),
            "acknowledged audit record {key} was lost"
        );
        assert!(evented.contains(key), "acknowledged event {key} was lost");
    }
    // Nothing half-written: each audit record has its event (one savepoint in one commit).
    assert_eq!(audited, evented, "audit records and events match");
    eprintln!(
        "durability under load: {} acknowledged, {} found after SIGKILL",
        acked.len(),
        audit.len()
    );
}

/// Starts the child on `url`, reads `acks` acknowledgements, SIGKILLs it mid-flight and returns
/// the acknowledged keys.
fn run_and_kill(url: &str, concurrent: bool, acks: usize) -> Vec<String> {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    command.env(CHILD_ENV, url);
    if concurrent {
        command.env(CONCURRENT_ENV, "1");
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    while acked.len() < acks {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            other => {
                let _ = child.kill();
                panic!("child stopped before {acks} acknowledgements: {other:?}");
            }
        };
        let key = line
            .strip_prefix("ACK ")
            .unwrap_or_else(|| panic!("unexpected child output {line:?}"));
        acked.push(key.to_owned());
    }
    // The child is still writing: kill it mid-flight (SIGKILL on Unix, no clean shutdown).
    child.kill().expect("kill child");
    let status = child.wait().expect("reap child");
    assert!(!status.success(), "the child was killed, not finished");
    acked
}

async fn parent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let acked = run_and_kill(&url, false, ACKS);
    let store = SqliteStore::connect(&url).await.expect("reopen after kill");
    let requests = store.list_requests(None, None).await.expect("list");
    let stored_keys: HashSet<_> = requests.iter().map(|r| r.idempotency_key.clone()).collect();
    for key in &acked {
        assert!(
            stored_keys.contains(key),
            "acknowledged request {key} was lost"
        );
    }
    let audit = store
        .audit_for_patient(&patient(), 1_000_000)
        .await
        .expect("audit");
    let audited: HashSet<_> = audit.iter().filter_map(|a| a.detail.clone()).collect();
    for key in &acked {
        assert!(audited.contains(key), "audit record for {key} was lost");
    }
    // Whatever the child managed beyond the acknowledgements is whole, never half-written:
    // every request has exactly its audit record and its event (one transaction).
    assert_eq!(
        audit.len(),
        requests.len(),
        "requests and audit records match"
    );
    let stats = store.outbox_stats().await.expect("stats");
    assert_eq!(
        stats.pending,
        requests.len() as u64,
        "requests and outbox events match"
    );
    eprintln!(
        "durability: {} acknowledged, {} found after SIGKILL",
        acked.len(),
        requests.len()
    );
}
