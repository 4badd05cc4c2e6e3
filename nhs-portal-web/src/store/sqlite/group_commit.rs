//! Group commit: one writer task commits concurrent audit records and their reporting events in
//! one SQLite transaction, so they share one fsync.
//!
//! A caller hands its write to the writer and waits. The writer takes everything queued (up to
//! [`MAX_BATCH`]) and first checks each job's preconditions (its events serialise); a job that
//! fails them is answered with its own error and left out. Nothing else a job writes can fail on
//! its own (the audit and outbox columns have no constraint a well-typed record can break), so
//! the rest of the batch is written without savepoints: one statement text, sent in **one**
//! call to sqlx's SQLite worker, that begins an `IMMEDIATE` transaction, inserts every audit
//! record (a JSON array read by `json_each`, in order) and every event (likewise), and commits.
//! Only then is each caller answered. So an acknowledged write is durable as the batch's
//! durability level says (below); a batch that fails fails every caller in it (it is rolled
//! back whole). While one batch commits, the next one gathers: under load callers share fsyncs,
//! and a lone write commits at once (nobody waits for company).
//!
//! **Durability by batch** ([`Durability::of`]): a batch made only of page views (the
//! "viewed" audit records and their jump-off events, [`is_view`]) commits at
//! `synchronous=NORMAL`, which in WAL mode survives the process being killed (SIGKILL, a
//! crash) but may lose the last commits to a power cut or kernel panic; any other record in the
//! batch (a sign-in, a real-time cancel audited without a key, a reported PAS change) makes the
//! whole batch commit at the store's own level (`FULL` as recommended). Requests, real-time
//! actions and resolutions do not come through here at all: they commit in their own `FULL`
//! transactions. A later `FULL` commit also makes every earlier `NORMAL` one durable (the same
//! write-ahead log is synced).
//!
//! The writer has a connection of its own (outside the pool, so the pool's connections always
//! keep the store's level), opened on its first batch with the store's options. An in-memory
//! database (one shared-cache connection) is written through the pool instead, at its level:
//! nothing there survives a restart anyway.
//!
//! The writer is a tokio task started when the store opens; it ends when the last clone of the
//! store is dropped. Should it be gone (its runtime shut down), a write commits in a transaction
//! of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use nhs_portal_core::ReportingEvent;
use nhs_portal_core::store::{AuditAction, AuditRecord, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{commit_audited, db_err, event_json, micros, write_tx};

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 128;

/// A whole batch in one statement text: `$1` is the JSON array of audit rows, `$2` that of
/// outbox rows, each inserted in array order.
const BATCH_SQL: &str = "BEGIN IMMEDIATE; \
     INSERT INTO audit (at, patient, actor, session, action, appointment, detail) \
     SELECT value ->> 'at', value ->> 'patient', value ->> 'actor', value ->> 'session', \
     value ->> 'action', value ->> 'appointment', value ->> 'detail' \
     FROM json_each($1) ORDER BY key; \
     INSERT INTO outbox (event_code, event, event_at) \
     SELECT value ->> 'code', value ->> 'event', value ->> 'at' \
     FROM json_each($2) ORDER BY key; \
     COMMIT";

/// Whether an audit action is a page view, whose batch may commit at `synchronous=NORMAL`
/// (see the module docs). Every other action keeps the store's own level.
pub(super) fn is_view(action: AuditAction) -> bool {
    matches!(
        action,
        AuditAction::ViewedAppointment | AuditAction::ViewedAppointments
    )
}

/// How durably a batch commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// `synchronous=NORMAL` (or the store's level, if lower): survives a process crash.
    ProcessCrash,
    /// The store's own level (`FULL` as recommended): survives a power cut too.
    Store,
}

impl Durability {
    /// `ProcessCrash` only when every record in the batch is a page view.
    pub(super) fn of<'a>(mut actions: impl Iterator<Item = &'a AuditAction>) -> Self {
        if actions.all(|a| is_view(*a)) {
            Self::ProcessCrash
        } else {
            Self::Store
        }
    }
}

/// One caller's write and where its answer goes.
struct Job {
    audit: AuditRecord,
    events: Vec<ReportingEvent>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle to the writer task (cloned with the store).
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
    /// The `synchronous` level of the writer's own connection's last batch (-1 before any, or
    /// without one of its own), for the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    level: Arc<AtomicI64>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer over `pool` (inside a tokio runtime, as opening the store is). With
    /// `own_connection`, the writer opens a connection of its own with the pool's options.
    pub(super) fn start(pool: SqlitePool, own_connection: bool) -> Self {
        let (jobs, queued) = mpsc::unbounded_channel();
        let level = Arc::new(AtomicI64::new(-1));
        tokio::spawn(writer(pool, own_connection, queued, level.clone()));
        Self { jobs, level }
    }

    /// The `synchronous` level the writer's own connection committed its last batch at.
    #[cfg(test)]
    pub(super) fn last_level(&self) -> i64 {
        self.level.load(Ordering::SeqCst)
    }

    /// Writes `audit` and `events` (in the next group's transaction) and returns once that
    /// transaction has committed.
    pub(super) async fn record(
        &self,
        pool: &SqlitePool,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job {
            audit: audit.clone(),
            events: events.to_vec(),
            done,
        };
        if self.jobs.send(job).is_err() {
            // No writer (its runtime is gone): commit alone, taking the write lock at the start
            // like every other SQLite write.
            let tx = write_tx(pool).await?;
            return commit_audited(tx, audit, events).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the SQLite writer stopped before its commit finished".into(),
            ))
        })
    }
}

/// The writer's own connection and the two synchronous levels it switches between.
struct OwnConnection {
    conn: SqliteConnection,
    /// The store's level, as `PRAGMA synchronous` reads it (0 off, 1 normal, 2 full, 3 extra).
    store_level: i64,
    /// The level the connection is at now.
    current: i64,
}

impl OwnConnection {
    async fn open(options: &SqliteConnectOptions) -> Result<Self, StoreError> {
        let mut conn = options.connect().await.map_err(db_err)?;
        let store_level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut conn)
            .await
            .map_err(db_err)?;
        Ok(Self {
            conn,
            store_level,
            current: store_level,
        })
    }

    /// Sets the connection's level for a batch of `durability`, when it differs.
    async fn prepare(&mut self, durability: Durability) -> Result<(), StoreError> {
        let wanted = match durability {
            Durability::ProcessCrash => self.store_level.min(1),
            Durability::Store => self.store_level,
        };
        if wanted != self.current {
            // A fixed statement per level: nothing is formatted into SQL.
            let pragma = match wanted {
                0 => "PRAGMA synchronous = OFF",
                1 => "PRAGMA synchronous = NORMAL",
                2 => "PRAGMA synchronous = FULL",
                _ => "PRAGMA synchronous = EXTRA",
            };
            sqlx::query(pragma)
                .execute(&mut self.conn)
                .await
                .map_err(db_err)?;
            self.current = wanted;
        }
        Ok(())
    }
}

async fn writer(
    pool: SqlitePool,
    own_connection: bool,
    mut queued: mpsc::UnboundedReceiver<Job>,
    level: Arc<AtomicI64>,
) {
    let options = pool.connect_options();
    let mut own: Option<OwnConnection> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, mut outcomes) = prepare_rows(&batch);
        let durability = Durability::of(
            batch
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.is_ok())
                .map(|(j, _)| &j.audit.action),
        );
        let written = if rows.is_empty() {
            Ok(())
        } else if own_connection {
            write_own(&mut own, &options, &rows, durability, &level).await
        } else {
            match pool.acquire().await.map_err(db_err) {
                Ok(mut conn) => commit_rows(&mut conn, &rows).await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = written {
            let failed = format!("group commit: {e}");
            for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *outcome = Err(StoreError::Unavailable(failed.clone().into()));
            }
        }
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            // A caller that stopped waiting (a dropped request) is no error.
            let _ = job.done.send(outcome);
        }
    }
}

/// The batch on the writer's own connection (opened, or reopened after a failure, here).
async fn write_own(
    own: &mut Option<OwnConnection>,
    options: &SqliteConnectOptions,
    rows: &Rows,
    durability: Durability,
    level: &AtomicI64,
) -> Result<(), StoreError> {
    let conn = match own {
        Some(conn) => conn,
        None => own.insert(OwnConnection::open(options).await?),
    };
    let written = match conn.prepare(durability).await {
        Ok(()) => commit_rows(&mut conn.conn, rows).await,
        Err(e) => Err(e),
    };
    level.store(conn.current, Ordering::SeqCst);
    if written.is_err() {
        // Start the next batch on a fresh connection: this one's state is in doubt.
        if let Some(broken) = own.take() {
            let _ = broken.conn.close().await;
        }
    }
    written
}

/// A batch's rows, as the JSON arrays [`BATCH_SQL`] reads.
struct Rows {
    audit: Vec<serde_json::Value>,
    outbox: Vec<serde_json::Value>,
}

impl Rows {
    fn is_empty(&self) -> bool {
        self.audit.is_empty()
    }
}

/// Checks each job's preconditions (its events serialise) and collects the rows of those that
/// pass; the outcome so far of each job (`Ok` until the commit says otherwise).
fn prepare_rows(batch: &[Job]) -> (Rows, Vec<Result<(), StoreError>>) {
    let mut rows = Rows {
        audit: Vec::with_capacity(batch.len()),
        outbox: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let events: Result<Vec<_>, StoreError> = job
            .events
            .iter()
            .map(|e| {
                Ok(serde_json::json!({
                    "code": e.event_code(),
                    "event": event_json(e)?,
                    "at": micros(e.at()),
                }))
            })
            .collect();
        match events {
            Ok(events) => {
                let a = &job.audit;
                rows.audit.push(serde_json::json!({
                    "at": micros(a.at),
                    "patient": a.patient.as_str(),
                    "actor": a.actor,
                    "session": a.session,
                    "action": a.action.as_str(),
                    "appointment": a.appointment.as_ref().map(|id| id.as_str()),
                    "detail": a.detail,
                }));
                rows.outbox.extend(events);
                outcomes.push(Ok(()));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    (rows, outcomes)
}

/// Writes and commits `rows` on `conn` in one call; on failure rolls back whatever began.
async fn commit_rows(conn: &mut SqliteConnection, rows: &Rows) -> Result<(), StoreError> {
    let audit = serde_json::Value::from(rows.audit.as_slice()).to_string();
    let outbox = serde_json::Value::from(rows.outbox.as_slice()).to_string();
    let done = sqlx::query(BATCH_SQL)
        .bind(audit)
        .bind(outbox)
        .execute(&mut *conn)
        .await;
    match done {
        Ok(_) => Ok(()),
        Err(e) => {
            // Leave no transaction open (an error if none began, which is fine).
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(db_err(e))
        }
    }
}

#[cfg(test)]
mod tests;
