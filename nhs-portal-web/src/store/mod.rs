//! SQL stores: SQLite for one machine with no set-up, PostgreSQL for several portal instances.
//!
//! Both implement [`nhs_portal_core::store::Store`] and pass its contract suite. Pick one with
//! [`connect`] from a database URL; the reference portal reads it from the environment variable
//! [`DATABASE_URL_ENV`] (`NHS_PORTAL_DATABASE_URL`) and, when it is unset, uses
//! [`default_sqlite_url`] under its data directory.
//!
//! ```no_run
//! # async fn start() -> Result<(), nhs_portal_core::store::StoreError> {
//! let url = std::env::var(nhs_portal_web::store::DATABASE_URL_ENV).unwrap_or_else(|_| {
//!     nhs_portal_web::store::default_sqlite_url(std::path::Path::new("./data"))
//! });
//! let store = nhs_portal_web::store::connect(&url).await?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! Both stores are one SQL body (`body`, expanded in each dialect module; see there for why a
//! template rather than generics): `sqlite.rs` and `postgres.rs` hold only the connection
//! set-up, the migrations and the real dialect differences (instants, uuid encoding, id lists,
//! the JSON column, write locking and `SKIP LOCKED`).
//!
//! On start-up the store runs its migrations (embedded in the binary: `migrations/sqlite` and
//! `migrations/postgres`). A database already migrated by a *newer* portal is refused with
//! [`StoreError::SchemaTooNew`] before anything is changed, so an accidental downgrade cannot
//! damage it.
//!
//! ## Durability (SQLite)
//!
//! The SQLite store runs in WAL mode with `synchronous=FULL`: every commit is fsynced to the
//! write-ahead log before the call returns. A patient who is told "your request has been sent"
//! keeps that request through a process crash **and** a power cut or kernel panic.
//! `synchronous=NORMAL` would only survive process crashes (the last commits can roll back on
//! power loss); the cost of `FULL` is measured in `docs/benchmarks.md` and is small next to a web
//! request. Audit records and their reporting events (`AuditLog::record`, one per page view) go
//! through a **group commit**: one writer task commits every record queued at that moment in one
//! transaction and one fsync (one statement text sent in one call, no savepoints: each record's
//! preconditions are checked first), and answers each caller only after that commit
//! (`sqlite/group_commit.rs`). A batch made only of page views (the "viewed" audit records and
//! their jump-off events) commits at `synchronous=NORMAL`: it survives the process being killed,
//! but the last such commits may be lost to a power cut or kernel panic (an audit gap of at most
//! the views acknowledged since the last `FULL` commit or checkpoint). Every other record, and
//! every request, real-time action and resolution, commits at `FULL`. PostgreSQL groups concurrent commits itself, so there each
//! call is a plain transaction. Foreign keys are on, a busy timeout of 5 seconds makes writers queue for the single
//! SQLite write lock instead of failing, and writes that read before they write (submitting a
//! request, claims) use `BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade. The
//! pool is small (4 connections): SQLite has one writer at a time anyway, and WAL lets readers
//! run beside it. The database file's directory is created if missing.
//!
//! Several processes may open one SQLite file (the tests run two pools on one file), but this
//! only suits one machine: SQLite file locks do not work reliably over network file systems.
//!
//! ## Scale-out (PostgreSQL)
//!
//! Run any number of portal instances against one PostgreSQL database (`postgres://` URL). The
//! rules that must hold across instances are enforced by the database, not by the portal:
//!
//! - one request per idempotency key: a unique index; one pending request per appointment: a
//!   partial unique index `WHERE state = 'pending'`. Two instances submitting the same cancel at
//!   the same moment both `INSERT … ON CONFLICT DO NOTHING`; PostgreSQL lets exactly one win and
//!   the other reads the winner back as `Duplicate` / `AlreadyPending`.
//! - outbox and Record Service claims use `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming
//!   `UPDATE`, plus a lease (`leased_until`), so workers on every instance drain the queues
//!   without ever holding the same rows.
//! - one idempotency record per real-time action key: its primary key, `INSERT … ON CONFLICT
//!   DO NOTHING`, the loser reads the winner back as `Duplicate` or `Refused`.
//! - resolving a request is a conditional `UPDATE … WHERE state = 'pending'`: two staff members
//!   resolving at once get one success and one [`StoreError::Conflict`].
//! - migrations take PostgreSQL's advisory lock, so instances starting together migrate once.
//!
//! Each instance holds a pool of 10 connections by default. Sessions live in the database, so a
//! load balancer needs no sticky sessions.
//!
//! ## Errors
//!
//! Database errors map to [`StoreError::Unavailable`] when retrying later may work (database
//! unreachable, SQLite locked past the busy timeout, pool timed out, PostgreSQL shutting down or
//! out of connections, serialization failures) and to [`StoreError::Backend`] otherwise. Stored
//! values that no longer parse give [`StoreError::Corrupt`]. No call panics. Error messages
//! carry the database's message, never the values bound to the query.

use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "sqlite")]
use chrono::{DateTime, Utc};
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::{AuditAction, RequestState, Store, StoreError};
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};

mod body;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

/// The environment variable the reference portal reads its database URL from.
pub const DATABASE_URL_ENV: &str = "NHS_PORTAL_DATABASE_URL";

/// The default database: `sqlite://{data_dir}/nhs-portal.db`.
///
/// ```
/// let url = nhs_portal_web::store::default_sqlite_url(std::path::Path::new("/var/lib/portal"));
/// assert_eq!(url, "sqlite:///var/lib/portal/nhs-portal.db");
/// ```
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("nhs-portal.db").display())
}

/// Opens the store a database URL names, runs its migrations and returns it ready to use.
///
/// `sqlite://path/to/file.db` (or `sqlite:path`, `sqlite::memory:`) opens SQLite, creating the
/// file and its directory if missing; `postgres://…` or `postgresql://…` opens PostgreSQL.
/// Anything else, or a backend whose cargo feature (`sqlite`, `postgres`) this build lacks, is
/// [`StoreError::Backend`]. An unreachable database is [`StoreError::Unavailable`]; one migrated
/// by a newer portal is [`StoreError::SchemaTooNew`].
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok(Arc::new(SqliteStore::connect(url).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(StoreError::Backend(
            "this build has no SQLite store (cargo feature `sqlite`)".into(),
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(PgStore::connect(url).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::Backend(
            "this build has no PostgreSQL store (cargo feature `postgres`)".into(),
        ));
    }
    Err(StoreError::Backend(
        "the database URL must start with sqlite: or postgres://".into(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Maps a sqlx error to the store's error: transient failures are `Unavailable`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Io(_)
        | E::Tls(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Protocol(_)
        | E::BeginFailed => StoreError::Unavailable(Box::new(e)),
        E::Database(d) if is_transient(from_sqlite(d.as_ref()), d.code().as_deref()) => {
            StoreError::Unavailable(Box::new(e))
        }
        E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) => {
            StoreError::Corrupt(e.to_string())
        }
        E::Migrate(m) => match &**m {
            sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _)
                if matches!(
                    inner,
                    E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed
                ) =>
            {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Backend(Box::new(e)),
        },
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// Whether a database error came from SQLite (whose codes are numbers, not SQLSTATEs).
fn from_sqlite(d: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "sqlite")]
    return d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
    #[cfg(not(feature = "sqlite"))]
    return {
        let _ = d;
        false
    };
}

/// Database error codes worth retrying: SQLite's (extended) result codes and PostgreSQL's
/// SQLSTATEs.
fn is_transient(from_sqlite: bool, code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if from_sqlite {
        let Ok(sqlite) = code.parse::<i32>() else {
            return false;
        };
        // The primary code is the low byte of an extended code.
        return matches!(
            sqlite & 0xff,
            5 /* BUSY */ | 6 /* LOCKED */ | 10 /* IOERR */ | 13 /* FULL */ | 14 /* CANTOPEN */
        );
    }
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code == "57014" // statement timeout / cancelled
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
        || code == "55P03" // lock not available
}

pub(crate) fn corrupt(what: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |detail| StoreError::Corrupt(format!("{what}: {detail}"))
}

pub(crate) fn parse_nhs(s: String) -> Result<NhsNumber, StoreError> {
    NhsNumber::parse(&s).map_err(|e| StoreError::Corrupt(format!("stored NHS number: {e}")))
}

pub(crate) fn parse_appt(s: String) -> Result<AppointmentId, StoreError> {
    AppointmentId::parse(&s).map_err(|e| corrupt("stored appointment id")(e.to_string()))
}

pub(crate) fn parse_ods(s: String) -> Result<OdsCode, StoreError> {
    OdsCode::parse(&s).map_err(|e| corrupt("stored ODS code")(e.to_string()))
}

pub(crate) fn parse_kind(s: String) -> Result<RequestKind, StoreError> {
    RequestKind::parse(&s).ok_or_else(|| corrupt("stored request kind")(s))
}

pub(crate) fn parse_state(s: String) -> Result<RequestState, StoreError> {
    RequestState::parse(&s).ok_or_else(|| corrupt("stored request state")(s))
}

pub(crate) fn parse_action(s: String) -> Result<AuditAction, StoreError> {
    AuditAction::parse(&s).ok_or_else(|| corrupt("stored audit action")(s))
}

pub(crate) fn event_json(e: &ReportingEvent) -> Result<String, StoreError> {
    serde_json::to_string(e).map_err(|e| StoreError::Backend(Box::new(e)))
}

pub(crate) fn parse_event(s: String) -> Result<ReportingEvent, StoreError> {
    serde_json::from_str(&s).map_err(|e| corrupt("stored reporting event")(e.to_string()))
}

pub(crate) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Microseconds since the Unix epoch (SQLite keeps instants as integers so they sort and compare
/// exactly).
#[cfg(feature = "sqlite")]
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

#[cfg(feature = "sqlite")]
pub(crate) fn from_micros(v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| corrupt("stored instant")(v.to_string()))
}

/// The row an optional lookup fetched, read by `from_row`: the tail every `fetch_optional`
/// in the SQL body shares.
pub(crate) fn one_row<R, T>(
    fetched: Result<Option<R>, sqlx::Error>,
    from_row: impl FnOnce(&R) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    fetched.map_err(db_err)?.as_ref().map(from_row).transpose()
}

/// The rows a query fetched, each read by `from_row`: the tail every `fetch_all` in the SQL
/// body shares.
pub(crate) fn all_rows<R, T>(
    fetched: Result<Vec<R>, sqlx::Error>,
    from_row: impl FnMut(&R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    fetched.map_err(db_err)?.iter().map(from_row).collect()
}

/// Refuses a database whose newest applied migration is newer than any this build knows.
pub(crate) fn check_schema(
    applied: Option<i64>,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), StoreError> {
    let supported = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied {
        Some(found) if found > supported => Err(StoreError::SchemaTooNew { found, supported }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_are_recognised() {
        let sqlite = true;
        let pg = false;
        let table = [
            (sqlite, Some("5"), true),     // SQLITE_BUSY
            (sqlite, Some("517"), true),   // SQLITE_BUSY_SNAPSHOT
            (sqlite, Some("6"), true),     // SQLITE_LOCKED
            (sqlite, Some("14"), true),    // SQLITE_CANTOPEN
            (sqlite, Some("2067"), false), // SQLITE_CONSTRAINT_UNIQUE
            (sqlite, Some("1"), false),    // SQLITE_ERROR
            (sqlite, None, false),
            (pg, Some("08006"), true),  // connection failure
            (pg, Some("53300"), true),  // too many connections
            (pg, Some("57P01"), true),  // admin shutdown
            (pg, Some("40001"), true),  // serialization failure
            (pg, Some("40P01"), true),  // deadlock
            (pg, Some("23505"), false), // unique violation
            (pg, Some("42P01"), false), // undefined table
            (pg, Some("5"), false),
            (pg, None, false),
        ];
        for (from_sqlite, code, transient) in table {
            assert_eq!(is_transient(from_sqlite, code), transient, "{code:?}");
        }
    }

    #[test]
    fn sqlx_errors_map_to_store_errors() {
        assert!(matches!(
            db_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::Io(std::io::Error::other("refused"))),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Corrupt(_)
        ));
    }

    #[test]
    fn default_url_is_under_the_data_dir() {
        assert_eq!(
            default_sqlite_url(Path::new("data")),
            "sqlite://data/nhs-portal.db"
        );
    }

    #[tokio::test]
    async fn unknown_scheme_is_refused() {
        let err = connect("mysql://localhost/x").await.err();
        assert!(matches!(err, Some(StoreError::Backend(_))), "{err:?}");
    }
}
