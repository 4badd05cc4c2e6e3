//! Group commit: one writer thread commits concurrent audit records and their reporting events
//! in one SQLite transaction, so they share one fsync.
//!
//! A caller hands its write to the writer and waits. The writer takes everything queued (up to
//! [`MAX_BATCH`]) and first checks each job's preconditions (its events serialise); a job that
//! fails them is answered with its own error and left out. Nothing else a job writes can fail on
//! its own (the audit and outbox columns have no constraint a well-typed record can break), so
//! the rest of the batch is written without savepoints: one `IMMEDIATE` transaction inserts every
//! audit record and every event, in order, through two cached prepared statements, and commits.
//! Only then is each caller answered. So an acknowledged write is durable as the batch's
//! durability level says (below); a batch that fails fails every caller in it (it is rolled
//! back whole). While one batch commits, the next one gathers: under load callers share fsyncs,
//! and a lone write commits at once (nobody waits for company); when two or more are queued
//! together, the writer lingers [`LINGER`] for more first.
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
//! **A thread and a synchronous connection of its own** (rusqlite, not sqlx). The writer is one
//! OS thread that blocks on its queue, and SQLite's API is synchronous, so the writer calls it
//! directly. Through sqlx each batch took two more hand-offs between threads (a tokio task
//! passing the statement to sqlx's own SQLite worker thread and waiting for its answer), and
//! the rows went as JSON for `json_each` to parse (docs/benchmarks.md, the run of 2026-12-03
//! 19:10, measures the change). Both crates link the same SQLite (libsqlite3-sys, the version
//! pinned in the workspace's `Cargo.toml`). The connection is opened on the first batch, on the
//! pool's file, with the settings the pool's connections report (`PRAGMA synchronous`,
//! `busy_timeout`, `foreign_keys`; the file is already in WAL mode, which persists), so the
//! pool's connections always keep the store's level; after a failed batch it is reopened. Its
//! checkpoints run on a thread of their own (`checkpoint`), so no batch waits for one.
//!
//! An in-memory database (one shared-cache connection, which another connection could not
//! share) has no writer: each record commits in a transaction of its own through the pool.
//! Nothing there survives a restart anyway.
//!
//! The thread starts on the first record and ends when the last clone of the store is dropped
//! (its queue closes). Should it be gone, a write commits in a transaction of its own.
//!
//! (Just over 400 lines: the queue, the batch's rows and their one transaction are one rule
//! about when a caller is answered, kept together; the checkpoints are apart, in `checkpoint`.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use nhs_portal_core::ReportingEvent;
use nhs_portal_core::store::{AuditAction, AuditRecord, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{OnceCell, oneshot};

use super::{commit_audited, db_err, event_json, micros, write_tx};

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 128;

/// How long the writer lingers for more jobs when it finds two or more queued (a sign of
/// callers arriving together), before it commits them: fewer, larger batches under load (each
/// commit writes every touched page of the audit and outbox tables and their indexes, however
/// few rows changed), in the manner of PostgreSQL's `commit_delay` with `commit_siblings`. A lone
/// job never waits.
const LINGER: Duration = Duration::from_micros(200);

/// One audit row (`?1`..`?7`).
const AUDIT_SQL: &str = "INSERT INTO audit (at, patient, actor, session, action, appointment, detail) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// One outbox row (`?1`..`?3`).
const OUTBOX_SQL: &str = "INSERT INTO outbox (event_code, event, event_at) VALUES (?1, ?2, ?3)";

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

/// The handle to the writer thread (cloned with the store).
#[derive(Clone)]
pub(super) struct GroupCommit {
    /// The writer's queue, made (and the thread started) by the first record; never for an
    /// in-memory database.
    queue: Arc<OnceCell<mpsc::Sender<Job>>>,
    /// The database is in memory: every record commits alone through the pool.
    in_memory: bool,
    /// The `synchronous` level of the writer's connection's last batch (-1 before any, or
    /// without a writer), for the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    level: Arc<AtomicI64>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// The writer for a store; `in_memory` when the store's database lives in its pool's one
    /// connection (no writer then). The thread starts on the first record.
    pub(super) fn new(in_memory: bool) -> Self {
        Self {
            queue: Arc::new(OnceCell::new()),
            in_memory,
            level: Arc::new(AtomicI64::new(-1)),
        }
    }

    /// The `synchronous` level the writer's connection committed its last batch at.
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
        if self.in_memory {
            return commit_alone(pool, audit, events).await;
        }
        let queue = self
            .queue
            .get_or_try_init(|| async {
                let settings = Settings::of(pool).await?;
                spawn_writer(settings, self.level.clone())
            })
            .await?;
        let (done, answer) = oneshot::channel();
        let job = Job {
            audit: audit.clone(),
            events: events.to_vec(),
            done,
        };
        if queue.send(job).is_err() {
            // The writer is gone (it cannot be restarted in place): commit alone.
            return commit_alone(pool, audit, events).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the SQLite writer stopped before its commit finished".into(),
            ))
        })
    }
}

/// One record in a transaction of its own, taking the write lock at the start like every
/// other SQLite write.
async fn commit_alone(
    pool: &SqlitePool,
    audit: &AuditRecord,
    events: &[ReportingEvent],
) -> Result<(), StoreError> {
    let tx = write_tx(pool).await?;
    commit_audited(tx, audit, events).await
}

/// What the writer's connection is opened with: the pool's file and its connections' settings.
#[derive(Debug, Clone)]
struct Settings {
    file: PathBuf,
    /// The store's level, as `PRAGMA synchronous` reads it (0 off, 1 normal, 2 full, 3 extra).
    store_level: i64,
    busy_timeout: Duration,
    foreign_keys: bool,
}

impl Settings {
    /// Read from one of the pool's connections.
    async fn of(pool: &SqlitePool) -> Result<Self, StoreError> {
        let mut conn = pool.acquire().await.map_err(db_err)?;
        let mut pragma = async |name: &'static str| -> Result<i64, StoreError> {
            sqlx::query_scalar(name)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)
        };
        let store_level = pragma("PRAGMA synchronous").await?;
        let busy_ms = pragma("PRAGMA busy_timeout").await?;
        let foreign_keys = pragma("PRAGMA foreign_keys").await? != 0;
        Ok(Self {
            file: pool.connect_options().get_filename().to_path_buf(),
            store_level,
            busy_timeout: Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)),
            foreign_keys,
        })
    }
}

fn spawn_writer(
    settings: Settings,
    level: Arc<AtomicI64>,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let (queue, queued) = mpsc::channel();
    std::thread::Builder::new()
        .name("sqlite-group-commit".into())
        .spawn(move || writer(&settings, &queued, &level))
        .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
    Ok(queue)
}

/// The writer's connection, the level it is at now, and its checkpoint thread.
struct OwnConnection {
    conn: Connection,
    current: i64,
    checkpoints: checkpoint::Ticks,
}

impl OwnConnection {
    fn open(s: &Settings) -> rusqlite::Result<Self> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(
                &s.file,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(s.busy_timeout)?;
            Ok(conn)
        };
        let conn = open()?;
        conn.pragma_update(None, "foreign_keys", s.foreign_keys)?;
        conn.pragma_update(None, "synchronous", s.store_level)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
        let checkpoints = checkpoint::start(open()?).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("the checkpoint thread did not start: {e}")),
            )
        })?;
        Ok(Self {
            conn,
            current: s.store_level,
            checkpoints,
        })
    }

    /// Sets the connection's level for a batch of `durability`, when it differs.
    fn prepare(&mut self, s: &Settings, durability: Durability) -> rusqlite::Result<()> {
        let wanted = match durability {
            Durability::ProcessCrash => s.store_level.min(1),
            Durability::Store => s.store_level,
        };
        if wanted != self.current {
            self.conn.pragma_update(None, "synchronous", wanted)?;
            self.current = wanted;
        }
        Ok(())
    }
}

/// The writer thread: a batch at a time until the queue closes.
fn writer(settings: &Settings, queued: &mpsc::Receiver<Job>, level: &AtomicI64) {
    let mut own: Option<OwnConnection> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queued.recv() {
        batch.push(first);
        take_queued(queued, &mut batch);
        if batch.len() >= 2 && batch.len() < MAX_BATCH {
            std::thread::sleep(LINGER);
            take_queued(queued, &mut batch);
        }
        let (rows, mut outcomes) = prepare_rows(&batch);
        let durability = Durability::of(rows.audit.iter().map(|a| &a.action));
        let written = if rows.is_empty() {
            Ok(())
        } else {
            write_own(&mut own, settings, &rows, durability, level)
        };
        if let Err(e) = written {
            let failed = format!("group commit: {e}");
            for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *outcome = Err(StoreError::Unavailable(failed.clone().into()));
            }
        }
        drop(rows);
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            // A caller that stopped waiting (a dropped request) is no error.
            let _ = job.done.send(outcome);
        }
    }
}

/// Moves what is queued now into `batch`, up to [`MAX_BATCH`].
fn take_queued(queued: &mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match queued.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// The batch on the writer's connection (opened, or reopened after a failure, here).
fn write_own(
    own: &mut Option<OwnConnection>,
    settings: &Settings,
    rows: &Rows<'_>,
    durability: Durability,
    level: &AtomicI64,
) -> rusqlite::Result<()> {
    let conn = match own {
        Some(conn) => conn,
        None => own.insert(OwnConnection::open(settings)?),
    };
    let written = conn
        .prepare(settings, durability)
        .and_then(|()| commit_rows(&mut conn.conn, rows));
    level.store(conn.current, Ordering::SeqCst);
    if written.is_ok() {
        conn.checkpoints.committed();
    } else {
        // Start the next batch on a fresh connection: this one's state is in doubt.
        *own = None;
    }
    written
}

/// One event as its outbox row.
struct EventRow {
    code: &'static str,
    event: String,
    at: i64,
}

/// A batch's rows: the audit records of the jobs that passed their preconditions, and all
/// their events, each in order.
struct Rows<'a> {
    audit: Vec<&'a AuditRecord>,
    outbox: Vec<EventRow>,
}

impl Rows<'_> {
    fn is_empty(&self) -> bool {
        self.audit.is_empty()
    }
}

/// Checks each job's preconditions (its events serialise) and collects the rows of those that
/// pass; the outcome so far of each job (`Ok` until the commit says otherwise).
fn prepare_rows(batch: &[Job]) -> (Rows<'_>, Vec<Result<(), StoreError>>) {
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
                Ok(EventRow {
                    code: e.event_code(),
                    event: event_json(e)?,
                    at: micros(e.at()),
                })
            })
            .collect();
        match events {
            Ok(events) => {
                rows.audit.push(&job.audit);
                rows.outbox.extend(events);
                outcomes.push(Ok(()));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    (rows, outcomes)
}

/// Writes and commits `rows` in one `IMMEDIATE` transaction; on failure it is rolled back
/// (dropping an uncommitted rusqlite transaction rolls it back).
fn commit_rows(conn: &mut Connection, rows: &Rows<'_>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut audit = tx.prepare_cached(AUDIT_SQL)?;
        for a in &rows.audit {
            audit.execute(params![
                micros(a.at),
                a.patient.as_str(),
                a.actor,
                a.session,
                a.action.as_str(),
                a.appointment.as_ref().map(|id| id.as_str()),
                a.detail,
            ])?;
        }
        let mut outbox = tx.prepare_cached(OUTBOX_SQL)?;
        for e in &rows.outbox {
            outbox.execute(params![e.code, e.event, e.at])?;
        }
    }
    tx.commit()
}

mod checkpoint;
#[cfg(test)]
mod tests;
