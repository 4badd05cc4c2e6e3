//! [`SessionStore`](nhs_portal_core::store::SessionStore) in SQL: sessions and sign-ins.

/// The session queries, expanded in a dialect module (see [`super::sql_store!`]).
macro_rules! sql_sessions {
    ($store:ident) => {
        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &PatientSession) -> Result<(), StoreError> {
                let done = sqlx::query(concat!(
                    "INSERT INTO sessions (",
                    $crate::store::body::session_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"
                ))
                .bind(s.id.as_str())
                .bind(&s.reporting_id)
                .bind(s.patient.as_str())
                .bind(s.date_of_birth)
                .bind(s.display_name.as_deref())
                .bind(ts(s.created_at))
                .bind(ts(s.last_seen_at))
                .bind(ts(s.absolute_expiry))
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
                one_row(
                    sqlx::query(concat!(
                        "SELECT ",
                        $crate::store::body::session_cols!(),
                        " FROM sessions WHERE id = $1"
                    ))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await,
                    session_from_row,
                )
            }

            async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                    .bind(ts(at))
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
                        .bind(ts(idle_before))
                        .bind(ts(now))
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
                .bind(ts(l.created_at))
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
                one_row(
                    sqlx::query(
                        "DELETE FROM pending_logins WHERE state = $1 RETURNING state, nonce, pkce_verifier, \
                         return_to, created_at, in_nhs_app, tracking_id, sso",
                    )
                    .bind(state)
                    .fetch_optional(&self.pool)
                    .await,
                    login_from_row,
                )
            }
        }
    };
}
pub(crate) use sql_sessions;
