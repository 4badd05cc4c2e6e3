//! Reading rows into the core's types, and the writes every one-transaction call shares
//! (an audit record, reporting events).

/// Row mappers and shared inserts, expanded in a dialect module (see [`super::sql_store!`]).
macro_rules! sql_rows {
    (jsonb: $jsonb:literal) => {
        fn session_from_row(row: &DbRow) -> Result<PatientSession, StoreError> {
            Ok(PatientSession {
                id: SessionId::new(row.try_get::<String, _>("id").map_err(db_err)?),
                reporting_id: row.try_get("reporting_id").map_err(db_err)?,
                patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
                date_of_birth: row
                    .try_get::<Option<NaiveDate>, _>("date_of_birth")
                    .map_err(db_err)?,
                display_name: row.try_get("display_name").map_err(db_err)?,
                created_at: get_ts(row, "created_at")?,
                last_seen_at: get_ts(row, "last_seen_at")?,
                absolute_expiry: get_ts(row, "absolute_expiry")?,
                in_nhs_app: row.try_get("in_nhs_app").map_err(db_err)?,
                tracking_id: row.try_get("tracking_id").map_err(db_err)?,
                csrf_token: row.try_get("csrf_token").map_err(db_err)?,
            })
        }

        fn login_from_row(row: &DbRow) -> Result<PendingLogin, StoreError> {
            Ok(PendingLogin {
                state: row.try_get("state").map_err(db_err)?,
                nonce: row.try_get("nonce").map_err(db_err)?,
                pkce_verifier: row.try_get("pkce_verifier").map_err(db_err)?,
                return_to: row.try_get("return_to").map_err(db_err)?,
                created_at: get_ts(row, "created_at")?,
                in_nhs_app: row.try_get("in_nhs_app").map_err(db_err)?,
                tracking_id: row.try_get("tracking_id").map_err(db_err)?,
                sso: row.try_get("sso").map_err(db_err)?,
            })
        }

        fn request_from_row(row: &DbRow) -> Result<PatientRequest, StoreError> {
            Ok(PatientRequest {
                id: get_uuid(row, "id")?,
                idempotency_key: row.try_get("idempotency_key").map_err(db_err)?,
                appointment: parse_appt(row.try_get("appointment").map_err(db_err)?)?,
                patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
                ods_code: parse_ods(row.try_get("ods_code").map_err(db_err)?)?,
                kind: parse_kind(row.try_get("kind").map_err(db_err)?)?,
                reason: row.try_get("reason").map_err(db_err)?,
                details: row.try_get("details").map_err(db_err)?,
                state: parse_state(row.try_get("state").map_err(db_err)?)?,
                created_at: get_ts(row, "created_at")?,
                resolved_at: get_opt_ts(row, "resolved_at")?,
                resolution_note: row.try_get("resolution_note").map_err(db_err)?,
            })
        }

        fn audit_from_row(row: &DbRow) -> Result<AuditRecord, StoreError> {
            Ok(AuditRecord {
                at: get_ts(row, "at")?,
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

        fn action_from_row(row: &DbRow) -> Result<CompletedAction, StoreError> {
            let action: String = row.try_get("action").map_err(db_err)?;
            let new_appointment: Option<String> = row.try_get("new_appointment").map_err(db_err)?;
            let outcome = match (
                action.as_str(),
                new_appointment,
                get_opt_ts(row, "new_start")?,
            ) {
                ("cancel", None, None) => ActionOutcome::Cancelled,
                ("reschedule", Some(appointment), Some(start)) => ActionOutcome::Rescheduled {
                    appointment: parse_appt(appointment)?,
                    start,
                },
                _ => return Err(corrupt("stored idempotency record")(action)),
            };
            Ok(CompletedAction {
                key: row.try_get("idempotency_key").map_err(db_err)?,
                patient: parse_nhs(row.try_get("patient").map_err(db_err)?)?,
                appointment: parse_appt(row.try_get("appointment").map_err(db_err)?)?,
                outcome,
                at: get_ts(row, "at")?,
            })
        }

        /// Writes an audit record and reporting events inside `tx` and commits it: the shared
        /// end of every one-transaction call.
        async fn commit_audited(
            mut tx: Transaction<'static, Db>,
            a: &AuditRecord,
            events: &[ReportingEvent],
        ) -> Result<(), StoreError> {
            insert_audited(&mut tx, a, events).await?;
            tx.commit().await.map_err(db_err)
        }

        /// Writes an audit record and reporting events on `conn` (inside a transaction the
        /// caller commits: [`commit_audited`] or SQLite's group commit).
        async fn insert_audited(
            conn: &mut <Db as sqlx::Database>::Connection,
            a: &AuditRecord,
            events: &[ReportingEvent],
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO audit (at, patient, actor, session, action, appointment, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(ts(a.at))
            .bind(a.patient.as_str())
            .bind(&a.actor)
            .bind(a.session.as_deref())
            .bind(a.action.as_str())
            .bind(a.appointment.as_ref().map(AppointmentId::as_str))
            .bind(a.detail.as_deref())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            insert_events(conn, events).await
        }

        async fn insert_events(
            conn: &mut <Db as sqlx::Database>::Connection,
            events: &[ReportingEvent],
        ) -> Result<(), StoreError> {
            for e in events {
                sqlx::query(concat!(
                    "INSERT INTO outbox (event_code, event, event_at) VALUES ($1, $2",
                    $jsonb,
                    ", $3)"
                ))
                .bind(e.event_code())
                .bind(event_json(e)?)
                .bind(ts(e.at()))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            Ok(())
        }
    };
}
pub(crate) use sql_rows;
