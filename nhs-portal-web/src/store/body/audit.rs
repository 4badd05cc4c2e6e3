//! [`AuditLog`](nhs_portal_core::store::AuditLog) and
//! [`IdempotencyStore`](nhs_portal_core::store::IdempotencyStore) in SQL: the audit trail with
//! its one-transaction record, and the idempotency records of real-time actions.

/// The audit and idempotency queries, expanded in a dialect module (see
/// [`super::sql_store!`]).
macro_rules! sql_audit {
    ($store:ident) => {
        #[async_trait]
        impl AuditLog for $store {
            async fn record(
                &self,
                audit: &AuditRecord,
                events: &[ReportingEvent],
            ) -> Result<(), StoreError> {
                // The dialect decides how it commits (SQLite: its group commit).
                self.record_audited(audit, events).await
            }

            async fn audit_for_patient(
                &self,
                patient: &NhsNumber,
                limit: usize,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                all_rows(
                    sqlx::query(
                        "SELECT at, patient, actor, session, action, appointment, detail \
                         FROM audit WHERE patient = $1 ORDER BY at DESC, seq DESC LIMIT $2",
                    )
                    .bind(patient.as_str())
                    .bind(to_i64(limit))
                    .fetch_all(&self.pool)
                    .await,
                    audit_from_row,
                )
            }
        }

        async fn action_by_key<'e, E>(
            executor: E,
            key: &str,
        ) -> Result<Option<CompletedAction>, StoreError>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            one_row(
                sqlx::query(concat!(
                    "SELECT ",
                    $crate::store::body::action_cols!(),
                    " FROM idempotency_records WHERE idempotency_key = $1"
                ))
                .bind(key.to_owned())
                .fetch_optional(executor)
                .await,
                action_from_row,
            )
        }

        #[async_trait]
        impl IdempotencyStore for $store {
            async fn check_action_key(&self, key: &ActionKey) -> Result<KeyUse, StoreError> {
                let recorded = action_by_key(&self.pool, &key.key).await?;
                Ok(key.check(recorded.as_ref()))
            }

            async fn record_action(
                &self,
                action: &CompletedAction,
                audit: &AuditRecord,
                events: &[ReportingEvent],
            ) -> Result<Recorded, StoreError> {
                let (new_appointment, new_start) = match &action.outcome {
                    ActionOutcome::Cancelled => (None, None),
                    ActionOutcome::Rescheduled { appointment, start } => {
                        (Some(appointment.as_str()), Some(ts(*start)))
                    }
                };
                let mut tx = write_tx(&self.pool).await?;
                // The key's primary key decides, also across portal instances: a concurrent
                // record of the same key waits for this one, then inserts nothing.
                let done = sqlx::query(concat!(
                    "INSERT INTO idempotency_records (",
                    $crate::store::body::action_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
                ))
                .bind(&action.key)
                .bind(action.patient.as_str())
                .bind(action.appointment.as_str())
                .bind(action.outcome.action().as_str())
                .bind(new_appointment)
                .bind(new_start)
                .bind(ts(action.at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 1 {
                    commit_audited(tx, audit, events).await?;
                    return Ok(Recorded::Stored);
                }
                let existing = action_by_key(&mut *tx, &action.key).await?;
                tx.rollback().await.map_err(db_err)?;
                let existing = existing.ok_or(StoreError::Conflict(
                    "the idempotency record changed during the write",
                ))?;
                Ok(Recorded::refusal(action, &existing))
            }
        }
    };
}
pub(crate) use sql_audit;
