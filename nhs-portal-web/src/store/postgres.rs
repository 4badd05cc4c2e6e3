//! The PostgreSQL store (see the module docs of [`crate::store`] for the scale-out story).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::store::*;
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a call waits for a free connection (or a new one) before it is `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The store on PostgreSQL: for several portal instances sharing one database.
///
/// ```no_run
/// # async fn open() -> Result<(), nhs_portal_core::store::StoreError> {
/// use nhs_portal_web::store::PgStore;
/// let store = PgStore::connect("postgres://portal:secret@db.internal/portal").await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    fn over(pool: PgPool) -> Self {
        Self { pool }
    }

    /// An audit record with its events in one plain transaction: PostgreSQL groups concurrent
    /// commits into one WAL flush itself.
    async fn record_audited(
        &self,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        let tx = self.pool.begin().await.map_err(db_err)?;
        commit_audited(tx, audit, events).await
    }

    /// Connections per portal instance, by default.
    pub const DEFAULT_POOL_SIZE: u32 = 10;

    /// Connects to the database at `url` (`postgres://…`) with a pool of
    /// [`PgStore::DEFAULT_POOL_SIZE`] connections, and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(db_err)?;
        Self::connect_with(options, Self::DEFAULT_POOL_SIZE).await
    }

    /// Connects with `options` (for example with a `search_path` set through
    /// [`PgConnectOptions::options`]) and a pool of `pool_size` connections, and migrates.
    pub async fn connect_with(
        options: PgConnectOptions,
        pool_size: u32,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Self::migrated(pool).await
    }
}

// ---------------------------------------------------------------------------------------------
// The dialect: what PostgreSQL does differently (see `super::body`).

type Db = Postgres;
type DbRow = PgRow;

/// An instant as bound: `TIMESTAMPTZ`.
fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

fn get_ts(row: &DbRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    row.try_get(column).map_err(db_err)
}

fn get_opt_ts(row: &DbRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get(column).map_err(db_err)
}

/// A request id as bound: `UUID`.
fn uuid(id: uuid::Uuid) -> uuid::Uuid {
    id
}

fn get_uuid(row: &DbRow, column: &str) -> Result<uuid::Uuid, StoreError> {
    row.try_get(column).map_err(db_err)
}

/// The ids as a `BIGINT[]`, for `id = ANY($1)`.
fn id_list(ids: &[i64]) -> Vec<i64> {
    ids.to_vec()
}

/// A transaction that writes: PostgreSQL's row locks and unique indexes order writers, so a
/// plain `BEGIN` (READ COMMITTED) does.
async fn write_tx(pool: &PgPool) -> Result<Transaction<'static, Db>, StoreError> {
    pool.begin().await.map_err(db_err)
}

super::body::sql_store! {
    store: PgStore,
    pool: PgPool,
    has_migrations: "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
    ids_in: "id = ANY($1)",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    jsonb: "::jsonb",
}
