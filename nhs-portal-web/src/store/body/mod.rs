//! The one SQL body both SQL stores share: every query and every rule, written once.
//!
//! ## How the body is shared, and why this way
//!
//! The body is a set of `macro_rules!` templates ([`sql_store!`] and the one per sub-trait it
//! expands) that each dialect module (`sqlite`, `postgres`) expands once, inside itself. The
//! template is ordinary Rust over concrete sqlx types: it names the dialect's `Db` / `DbRow`
//! type aliases and calls a handful of dialect functions the module defines beside it. Those
//! are the only places the two databases differ:
//!
//! | difference        | SQLite                                    | PostgreSQL                  |
//! |-------------------|-------------------------------------------|-----------------------------|
//! | instants          | `INTEGER` microseconds (`ts`, `get_ts`)   | `TIMESTAMPTZ`               |
//! | request ids       | `TEXT` (`uuid`, `get_uuid`)               | `UUID`                      |
//! | id lists          | JSON array, `json_each` (`ids_in`)        | `BIGINT[]`, `= ANY`         |
//! | JSON column       | `TEXT`                                    | `JSONB` (`jsonb` cast)      |
//! | write locking     | `BEGIN IMMEDIATE` (`write_tx`)            | row locks, `SKIP LOCKED`    |
//! | migrations, pool  | file, WAL, `synchronous=FULL`             | advisory lock, pool size    |
//!
//! Both use `$n` placeholders, `ON CONFLICT … DO NOTHING`, `RETURNING` and `CAST`, so the SQL
//! text is shared too; the few SQL fragments that differ are macro arguments, spliced in with
//! `concat!` so every query is still one `&'static str` checked by nothing at run time.
//!
//! The alternative, a body generic over `sqlx::Database` behind a `Dialect` trait, was weighed
//! and rejected: each method needs a dozen higher-ranked bounds
//! (`for<'c> &'c mut DB::Connection: Executor<'c>`, `Encode`/`Decode`/`Type` for every bound
//! type) that Rust does not imply from a trait, so every impl block would repeat them, and
//! generic sqlx futures inside `async_trait` hit rustc's "not general enough" `Send` errors.
//! A template expanded per dialect keeps each store's code concretely typed (the compiler
//! checks both expansions, and a feature gate can drop one module whole) at the cost of
//! reading the body as a macro.
//!
//! One leased-queue implementation ([`leased_queue!`] and the `LeasedQueue` helpers in
//! `queues`) serves the outbox and the Record Service queue.

pub(super) mod audit;
pub(super) mod feed;
pub(super) mod queues;
pub(super) mod requests;
pub(super) mod rows;
pub(super) mod sessions;
pub(super) mod upkeep;

/// The `sessions` columns, in the order `session_from_row` and the insert use.
macro_rules! session_cols {
    () => {
        "id, reporting_id, patient, date_of_birth, display_name, created_at, last_seen_at, \
         absolute_expiry, in_nhs_app, tracking_id, csrf_token"
    };
}
pub(crate) use session_cols;

/// The `requests` columns, in the order `request_from_row` and the insert use.
macro_rules! request_cols {
    () => {
        "id, idempotency_key, appointment, patient, ods_code, kind, reason, details, state, \
         created_at, resolved_at, resolution_note"
    };
}
pub(crate) use request_cols;

/// The `idempotency_records` columns `action_from_row` reads.
macro_rules! action_cols {
    () => {
        "idempotency_key, patient, appointment, action, new_appointment, new_start, at"
    };
}
pub(crate) use action_cols;

/// Expands the whole store body for `$store` inside a dialect module.
///
/// The module must define `type Db`, `type DbRow`, `static MIGRATOR`, and the functions `ts`,
/// `get_ts`, `get_opt_ts`, `uuid`, `get_uuid`, `id_list` and `write_tx` (see the module docs);
/// `$store` must hold its pool in a field `pool` of type `$pool`, be built by `$store::over(pool)`
/// and commit an audit record with its events in `$store::record_audited` (SQLite: group
/// commit; PostgreSQL: a plain transaction). `has_migrations` is the SQL
/// that answers (as a boolean) whether sqlx's `_sqlx_migrations` table exists, `ids_in` the SQL
/// that matches `id` against the id list bound as `$1`, `skip_locked` what follows a claim's
/// inner `SELECT` (row locking), `jsonb` the cast a JSON parameter needs.
macro_rules! sql_store {
    (
        store: $store:ident,
        pool: $pool:ty,
        has_migrations: $has_migrations:literal,
        ids_in: $ids_in:literal,
        skip_locked: $skip_locked:literal,
        jsonb: $jsonb:literal $(,)?
    ) => {
        $crate::store::body::sql_pool!(
            store: $store,
            pool: $pool,
            has_migrations: $has_migrations
        );
        $crate::store::body::rows::sql_rows!(jsonb: $jsonb);
        $crate::store::body::sessions::sql_sessions!($store);
        $crate::store::body::requests::sql_requests!($store);
        $crate::store::body::audit::sql_audit!($store);
        $crate::store::body::feed::sql_feed!($store);
        $crate::store::body::upkeep::sql_upkeep!($store);
        $crate::store::body::queues::sql_queues!(
            store: $store,
            ids_in: $ids_in,
            skip_locked: $skip_locked
        );
    };
}
pub(crate) use sql_store;

/// The store's migration on open (`migrated`) and its pool accessors, for `$store` over a `$pool`.
///
/// `migrate` refuses a database migrated by a newer build (see [`super::check_schema`])
/// before running this build's migrations.
macro_rules! sql_pool {
    (store: $store:ident, pool: $pool:ty, has_migrations: $has_migrations:literal) => {
        impl $store {
            /// The store over `pool`, migrated.
            async fn migrated(pool: $pool) -> Result<Self, StoreError> {
                let store = Self::over(pool);
                store.migrate().await?;
                Ok(store)
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                let has_table: bool = sqlx::query_scalar($has_migrations)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                if has_table {
                    let applied: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                    )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                    check_schema(applied, &MIGRATOR)?;
                }
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|e| db_err(sqlx::Error::Migrate(Box::new(e))))
            }

            /// The connection pool, for health checks or a vendor's own tables.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }

            /// Closes every connection (waiting for ones in use to come back).
            pub async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}
pub(crate) use sql_pool;
