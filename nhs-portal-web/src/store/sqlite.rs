//! The SQLite store (see the module docs of [`crate::store`] for the durability choice).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::store::*;
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::*;

mod group_commit;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Connections in the pool: one writer at a time anyway; WAL lets readers run beside it.
const POOL_SIZE: u32 = 4;
/// How long a writer waits for SQLite's write lock before the call is `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store on one SQLite file: the zero-set-up default for a single machine.
///
/// ```no_run
/// # async fn open() -> Result<(), nhs_portal_core::store::StoreError> {
/// use nhs_portal_web::store::SqliteStore;
/// let store = SqliteStore::connect("sqlite://./data/nhs-portal.db").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The writer that commits concurrent audit records and events together (`group_commit`).
    group: group_commit::GroupCommit,
}

impl SqliteStore {
    fn over(pool: SqlitePool) -> Self {
        // An in-memory database lives in its one pooled connection: no writer of its own.
        Self {
            group: group_commit::GroupCommit::new(in_memory(&pool.connect_options())),
            pool,
        }
    }

    /// An audit record with its events, committed in the writer's next group (one fsync for
    /// every caller in it); returns once durable.
    async fn record_audited(
        &self,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        self.group.record(&self.pool, audit, events).await
    }

    /// Opens (creating if missing, with its directory) the SQLite database at `url`
    /// (`sqlite://path`, `sqlite:path` or `sqlite::memory:`) with the recommended settings, and
    /// migrates it. `sqlite::memory:` gives a private database that lives as long as the store
    /// (for demos and tests; nothing survives a restart).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db_err)?
            .create_if_missing(true);
        Self::connect_with(Self::recommended(options)).await
    }

    /// The recommended settings on top of `options`: WAL, `synchronous=FULL`, foreign keys and
    /// a 5 second busy timeout.
    pub fn recommended(options: SqliteConnectOptions) -> SqliteConnectOptions {
        options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
    }

    /// Opens the database with `options` exactly as given (see [`SqliteStore::recommended`]),
    /// creating the file's directory if missing, and migrates it.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let file = options.get_filename();
        let in_memory = in_memory(&options);
        if !in_memory && let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        }
        // An in-memory database is shared between pooled connections through SQLite's shared
        // cache, whose table locks ignore the busy timeout: use one connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { POOL_SIZE })
            .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(1))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Self::migrated(pool).await
    }
}

/// Whether `options` name an in-memory database (`sqlite::memory:` and the like).
fn in_memory(options: &SqliteConnectOptions) -> bool {
    let file = options.get_filename();
    file.to_string_lossy().starts_with("file:")
        || file.as_os_str() == ":memory:"
        || file.as_os_str().is_empty()
}

// ---------------------------------------------------------------------------------------------
// The dialect: what SQLite does differently (see `super::body`).

type Db = Sqlite;
type DbRow = SqliteRow;

/// An instant as bound: microseconds since the Unix epoch (they compare and sort exactly).
fn ts(t: DateTime<Utc>) -> i64 {
    micros(t)
}

fn get_ts(row: &DbRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    from_micros(row.try_get(column).map_err(db_err)?)
}

fn get_opt_ts(row: &DbRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)
        .map_err(db_err)?
        .map(from_micros)
        .transpose()
}

/// A request id as bound: its text.
fn uuid(id: uuid::Uuid) -> String {
    id.to_string()
}

fn get_uuid(row: &DbRow, column: &str) -> Result<uuid::Uuid, StoreError> {
    let id: String = row.try_get(column).map_err(db_err)?;
    uuid::Uuid::parse_str(&id).map_err(|e| corrupt("stored request id")(e.to_string()))
}

/// The ids as a JSON array, for `IN (SELECT value FROM json_each($1))`: one statement, any
/// number of ids, no SQL built at run time.
fn id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

/// A transaction that writes: `BEGIN IMMEDIATE` takes SQLite's write lock up front, so two
/// writers that read before they write never deadlock on a lock upgrade.
async fn write_tx(pool: &SqlitePool) -> Result<Transaction<'static, Db>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
}

super::body::sql_store! {
    store: SqliteStore,
    pool: SqlitePool,
    has_migrations: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    ids_in: "id IN (SELECT value FROM json_each($1))",
    skip_locked: "",
    jsonb: "",
}
