//! The readiness ping and housekeeping, for `$store`.

/// Expands `impl Upkeep for $store`.
macro_rules! sql_upkeep {
    ($store:ident) => {
        #[async_trait]
        impl Upkeep for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                // One indexed read that also says whether this build's migrations have run.
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)?;
                let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                match found {
                    Some(v) if v >= expected => Ok(()),
                    _ => Err(StoreError::NotMigrated { found, expected }),
                }
            }

            async fn housekeep(
                &self,
                now: DateTime<Utc>,
                policy: &HousekeepingPolicy,
            ) -> Result<Housekept, StoreError> {
                let mut tx = write_tx(&self.pool).await?;
                let sessions = sqlx::query(
                    "DELETE FROM sessions WHERE last_seen_at < $1 OR absolute_expiry <= $2",
                )
                .bind(ts(now - policy.session_idle))
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                let pending_logins =
                    sqlx::query("DELETE FROM pending_logins WHERE created_at < $1")
                        .bind(ts(now - policy.pending_login_max_age))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                let idempotency_records =
                    sqlx::query("DELETE FROM idempotency_records WHERE at < $1")
                        .bind(ts(now - policy.idempotency_max_age))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected();
                let audit_records = match policy.audit_retention {
                    Some(retention) => sqlx::query("DELETE FROM audit WHERE at < $1")
                        .bind(ts(now - retention))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .rows_affected(),
                    None => 0,
                };
                tx.commit().await.map_err(db_err)?;
                Ok(Housekept {
                    sessions,
                    pending_logins,
                    idempotency_records,
                    audit_records,
                })
            }
        }
    };
}
pub(crate) use sql_upkeep;
