//! The PostgreSQL store (see the module docs of [`crate::store`] for the scale-out story).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use nhs_portal_core::store::{
    AuditLog, AuditRecord, Outbox, OutboxItem, OutboxStats, PatientRequest, PatientSession,
    PendingLogin, RecordItem, RecordQueue, RequestState, RequestStore, SessionId, SessionStore,
    StoreError, Submitted,
};
use nhs_portal_core::{AppointmentId, NhsNumber, OdsCode, ReportingEvent};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a call waits for a free connection (or a new one) before it is `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a submit retries when the request it collided with was resolved in between.
const SUBMIT_ATTEMPTS: usize = 3;

macro_rules! session_cols {
    () => {
        "id, reporting_id, patient, date_of_birth, display_name, created_at, last_seen_at, \
         absolute_expiry, in_nhs_app, tracking_id, csrf_token"
    };
}

macro_rules! request_cols {
    () => {
        "id, idempotency_key, appointment, patient, ods_code, kind, reason, details, state, \
         created_at, resolved_at, resolution_note"
    };
}

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
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        if has_table {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection (waiting for ones in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn session_from_row(row: &PgRow) -> Result<PatientSession, StoreError> {
    Ok(PatientSession {
        id: SessionId::new(row.try_get::<String, _>("id").map_err(db_err)?),
        reporting_id: row.try_get("reporting_id").map_err(db_err)?,
        patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
        date_of_birth: row
            .try_get::<Option<NaiveDate>, _>("date_of_birth")
            .map_err(db_err)?,
        display_name: row.try_get("display_name").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        last_seen_at: row.try_get("last_seen_at").map_err(db_err)?,
        absolute_expiry: row.try_get("absolute_expiry").map_err(db_err)?,
        in_nhs_app: row.try_get("in_nhs_app").map_err(db_err)?,
        tracking_id: row.try_get("tracking_id").map_err(db_err)?,
        csrf_token: row.try_get("csrf_token").map_err(db_err)?,
    })
}

fn login_from_row(row: &PgRow) -> Result<PendingLogin, StoreError> {
    Ok(PendingLogin {
        state: row.try_get("state").map_err(db_err)?,
        nonce: row.try_get("nonce").map_err(db_err)?,
        pkce_verifier: row.try_get("pkce_verifier").map_err(db_err)?,
        return_to: row.try_get("return_to").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        in_nhs_app: row.try_get("in_nhs_app").map_err(db_err)?,
        tracking_id: row.try_get("tracking_id").map_err(db_err)?,
        sso: row.try_get("sso").map_err(db_err)?,
    })
}

fn request_from_row(row: &PgRow) -> Result<PatientRequest, StoreError> {
    Ok(PatientRequest {
        id: row.try_get("id").map_err(db_err)?,
        idempotency_key: row.try_get("idempotency_key").map_err(db_err)?,
        appointment: parse_appt(row.try_get("appointment").map_err(db_err)?)?,
        patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
        ods_code: parse_ods(row.try_get("ods_code").map_err(db_err)?)?,
        kind: parse_kind(row.try_get("kind").map_err(db_err)?)?,
        reason: row.try_get("reason").map_err(db_err)?,
        details: row.try_get("details").map_err(db_err)?,
        state: parse_state(row.try_get("state").map_err(db_err)?)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        resolved_at: row.try_get("resolved_at").map_err(db_err)?,
        resolution_note: row.try_get("resolution_note").map_err(db_err)?,
    })
}

fn audit_from_row(row: &PgRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        at: row.try_get("at").map_err(db_err)?,
        patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
        actor: row.try_get("actor").map_err(db_err)?,
        session: row.try_get("session").map_err(db_err)?,
        action: parse_action(row.try_get("action").map_err(db_err)?)?,
        appointment: row
            .try_get::<Option<String>, _>("appointment")
            .map_err(db_err)?
            .map(parse_appt)
            .transpose()?,
        detail: row.try_get("detail").map_err(db_err)?,
    })
}

async fn insert_audit(
    tx: &mut Transaction<'static, Postgres>,
    a: &AuditRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at, patient, actor, session, action, appointment, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.at)
    .bind(a.patient.as_str())
    .bind(&a.actor)
    .bind(a.session.as_deref())
    .bind(a.action.as_str())
    .bind(a.appointment.as_ref().map(AppointmentId::as_str))
    .bind(a.detail.as_deref())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_events(
    tx: &mut Transaction<'static, Postgres>,
    events: &[ReportingEvent],
) -> Result<(), StoreError> {
    for e in events {
        sqlx::query("INSERT INTO outbox (event_code, event, event_at) VALUES ($1, $2::jsonb, $3)")
            .bind(e.event_code())
            .bind(event_json(e)?)
            .bind(e.at())
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, s: &PatientSession) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"
        ))
        .bind(s.id.as_str())
        .bind(&s.reporting_id)
        .bind(s.patient.as_str())
        .bind(s.date_of_birth)
        .bind(s.display_name.as_deref())
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.absolute_expiry)
        .bind(s.in_nhs_app)
        .bind(s.tracking_id.as_deref())
        .bind(&s.csrf_token)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("session id already in use"));
        }
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<PatientSession>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR absolute_expiry <= $2")
                .bind(idle_before)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn put_pending_login(&self, l: &PendingLogin) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_logins \
             (state, nonce, pkce_verifier, return_to, created_at, in_nhs_app, tracking_id, sso) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (state) DO UPDATE SET nonce = excluded.nonce, \
             pkce_verifier = excluded.pkce_verifier, return_to = excluded.return_to, \
             created_at = excluded.created_at, in_nhs_app = excluded.in_nhs_app, \
             tracking_id = excluded.tracking_id, sso = excluded.sso",
        )
        .bind(&l.state)
        .bind(&l.nonce)
        .bind(l.pkce_verifier.as_deref())
        .bind(&l.return_to)
        .bind(l.created_at)
        .bind(l.in_nhs_app)
        .bind(l.tracking_id.as_deref())
        .bind(l.sso)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn take_pending_login(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        // One statement: two callbacks racing for one `state` cannot both get it.
        sqlx::query(
            "DELETE FROM pending_logins WHERE state = $1 RETURNING state, nonce, pkce_verifier, \
             return_to, created_at, in_nhs_app, tracking_id, sso",
        )
        .bind(state)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(login_from_row)
        .transpose()
    }
}

async fn request_by_key(
    tx: &mut Transaction<'static, Postgres>,
    key: &str,
) -> Result<Option<PatientRequest>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        request_cols!(),
        " FROM requests WHERE idempotency_key = $1"
    ))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(request_from_row)
    .transpose()
}

async fn pending_for(
    tx: &mut Transaction<'static, Postgres>,
    appointment: &AppointmentId,
) -> Result<Option<PatientRequest>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        request_cols!(),
        " FROM requests WHERE appointment = $1 AND state = 'pending'"
    ))
    .bind(appointment.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?
    .as_ref()
    .map(request_from_row)
    .transpose()
}

#[async_trait]
impl RequestStore for PgStore {
    async fn submit_request(
        &self,
        request: &PatientRequest,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Submitted, StoreError> {
        let mut stored = request.clone();
        stored.state = RequestState::Pending;
        stored.resolved_at = None;
        stored.resolution_note = None;

        for _ in 0..SUBMIT_ATTEMPTS {
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            // The unique indexes decide, across instances: ON CONFLICT DO NOTHING covers both.
            // A concurrent insert of the same key or appointment makes this one wait until the
            // other commits (then it does nothing) or rolls back (then it inserts).
            let done = sqlx::query(concat!(
                "INSERT INTO requests (",
                request_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, NULL, NULL) \
                 ON CONFLICT DO NOTHING"
            ))
            .bind(stored.id)
            .bind(&stored.idempotency_key)
            .bind(stored.appointment.as_str())
            .bind(stored.patient.as_str())
            .bind(stored.ods_code.as_str())
            .bind(kind_str(stored.kind))
            .bind(&stored.reason)
            .bind(stored.details.as_deref())
            .bind(stored.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 1 {
                insert_audit(&mut tx, audit).await?;
                insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(db_err)?;
                return Ok(Submitted::Created(stored));
            }
            // Each statement below sees everything committed so far (READ COMMITTED).
            let outcome = if let Some(r) = request_by_key(&mut tx, &stored.idempotency_key).await? {
                Some(Submitted::Duplicate(r))
            } else if let Some(r) = pending_for(&mut tx, &stored.appointment).await? {
                Some(Submitted::AlreadyPending(r))
            } else {
                let id_taken: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM requests WHERE id = $1")
                        .bind(stored.id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if id_taken.is_some() {
                    return Err(StoreError::Conflict("a request with this id exists"));
                }
                // The pending request we collided with was resolved in between: try again.
                None
            };
            tx.rollback().await.map_err(db_err)?;
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
        Err(StoreError::Unavailable(
            "the appointment's requests kept changing during the submit".into(),
        ))
    }

    async fn get_request(&self, id: uuid::Uuid) -> Result<Option<PatientRequest>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            request_cols!(),
            " FROM requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(request_from_row)
        .transpose()
    }

    async fn pending_request_for(
        &self,
        appointment: &AppointmentId,
    ) -> Result<Option<PatientRequest>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            request_cols!(),
            " FROM requests WHERE appointment = $1 AND state = 'pending'"
        ))
        .bind(appointment.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(request_from_row)
        .transpose()
    }

    async fn pending_requests_for_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            request_cols!(),
            " FROM requests WHERE patient = $1 AND state = 'pending' ORDER BY created_at, seq"
        ))
        .bind(patient.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn list_requests(
        &self,
        ods_code: Option<OdsCode>,
        state: Option<RequestState>,
    ) -> Result<Vec<PatientRequest>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            request_cols!(),
            " FROM requests WHERE ($1::text IS NULL OR ods_code = $1) \
             AND ($2::text IS NULL OR state = $2) \
             ORDER BY created_at, seq"
        ))
        .bind(ods_code.as_ref().map(OdsCode::as_str))
        .bind(state.map(RequestState::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn resolve_request(
        &self,
        id: uuid::Uuid,
        state: RequestState,
        note: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<PatientRequest, StoreError> {
        if state == RequestState::Pending {
            return Err(StoreError::Conflict(
                "a request cannot be resolved as pending",
            ));
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let row = sqlx::query(concat!(
            "UPDATE requests SET state = $1, resolved_at = $2, resolution_note = $3 \
             WHERE id = $4 AND state = 'pending' RETURNING ",
            request_cols!()
        ))
        .bind(state.as_str())
        .bind(at)
        .bind(note.as_deref())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.rollback().await.map_err(db_err)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("the request is no longer pending"),
                None => StoreError::NotFound,
            });
        };
        let resolved = request_from_row(&row)?;
        insert_audit(&mut tx, audit).await?;
        insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(resolved)
    }
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_audit(&mut tx, record).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn audit_for_patient(
        &self,
        patient: &NhsNumber,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        sqlx::query(
            "SELECT at, patient, actor, session, action, appointment, detail FROM audit \
             WHERE patient = $1 ORDER BY at DESC, seq DESC LIMIT $2",
        )
        .bind(patient.as_str())
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(audit_from_row)
        .collect()
    }
}

#[async_trait]
impl Outbox for PgStore {
    async fn enqueue_events(&self, events: &[ReportingEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_events(&mut tx, events).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_events(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let rows = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, leased_until = $1, lease_owner = $2 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'waiting' \
               AND (due_at IS NULL OR due_at <= $3) \
               AND (leased_until IS NULL OR leased_until <= $3) \
               ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event::text AS event, attempts",
        )
        .bind(now + lease)
        .bind(worker)
        .bind(now)
        .bind(to_i64(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.try_get("id").map_err(db_err)?,
                    event: parse_event(row.try_get("event").map_err(db_err)?)?,
                    attempts: to_u32(row.try_get("attempts").map_err(db_err)?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE outbox SET state = 'delivered', leased_until = NULL \
             WHERE state = 'waiting' AND id = ANY($1)",
        )
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        ids: &[i64],
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE outbox SET due_at = $1, leased_until = NULL, last_error = $2 \
             WHERE state = 'waiting' AND id = ANY($3)",
        )
        .bind(retry_at)
        .bind(error)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn quarantine(&self, ids: &[i64], reason: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE outbox SET state = 'quarantined', leased_until = NULL, last_error = $1 \
             WHERE state = 'waiting' AND id = ANY($2)",
        )
        .bind(reason)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*)::bigint FROM outbox GROUP BY state")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        let mut stats = OutboxStats::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "waiting" => stats.pending = n,
                "delivered" => stats.delivered = n,
                "quarantined" => stats.quarantined = n,
                other => return Err(corrupt("stored outbox state")(other.to_owned())),
            }
        }
        Ok(stats)
    }
}

#[async_trait]
impl RecordQueue for PgStore {
    async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO record_queue (patient) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(patient.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn claim_records(
        &self,
        worker: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<RecordItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE record_queue SET leased_until = $1, lease_owner = $2 \
             WHERE id IN (SELECT id FROM record_queue WHERE state = 'waiting' \
               AND (due_at IS NULL OR due_at <= $3) \
               AND (leased_until IS NULL OR leased_until <= $3) \
               ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, patient",
        )
        .bind(now + lease)
        .bind(worker)
        .bind(now)
        .bind(to_i64(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let mut items = rows
            .into_iter()
            .map(|(id, patient)| {
                Ok(RecordItem {
                    id,
                    patient: parse_nhs(patient)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE record_queue SET state = 'sent', leased_until = NULL \
             WHERE state = 'waiting' AND id = ANY($1)",
        )
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn mark_records_failed(
        &self,
        ids: &[i64],
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE record_queue SET due_at = $1, leased_until = NULL \
             WHERE state = 'waiting' AND id = ANY($2)",
        )
        .bind(retry_at)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn sent_record_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT patient) FROM record_queue WHERE state = 'sent'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
