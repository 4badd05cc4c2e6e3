//! [`RequestStore`](nhs_portal_core::store::RequestStore) in SQL: requests, their resolution
//! and the request-status overlay.

/// The request queries, expanded in a dialect module (see [`super::sql_store!`]).
///
/// A submit is one `INSERT … ON CONFLICT DO NOTHING`: the unique indexes (one request per
/// idempotency key, one pending request per appointment) decide, also across portal instances.
/// When it inserts nothing, the same transaction reads what it collided with and
/// [`Submitted::refusal`](nhs_portal_core::store::Submitted::refusal) answers. Under
/// PostgreSQL's READ COMMITTED the pending request collided with can be resolved between the
/// insert and the read: then the submit tries again (at most `SUBMIT_ATTEMPTS` times). Under
/// SQLite's `BEGIN IMMEDIATE` nothing changes in between, so the first attempt always decides.
macro_rules! sql_requests {
    ($store:ident) => {
        /// How often a submit retries when the request it collided with was resolved in between.
        const SUBMIT_ATTEMPTS: usize = 3;

        async fn request_where(
            tx: &mut Transaction<'static, Db>,
            sql: &'static str,
            value: &str,
        ) -> Result<Option<PatientRequest>, StoreError> {
            one_row(
                sqlx::query(sql)
                    .bind(value.to_owned())
                    .fetch_optional(&mut **tx)
                    .await,
                request_from_row,
            )
        }

        async fn request_exists(
            tx: &mut Transaction<'static, Db>,
            id: uuid::Uuid,
        ) -> Result<bool, StoreError> {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM requests WHERE id = $1")
                    .bind(uuid(id))
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_err)?;
            Ok(found.is_some())
        }

        impl $store {
            async fn requests_where(
                &self,
                sql: &'static str,
                patient: &str,
            ) -> Result<Vec<PatientRequest>, StoreError> {
                all_rows(
                    sqlx::query(sql)
                        .bind(patient.to_owned())
                        .fetch_all(&self.pool)
                        .await,
                    request_from_row,
                )
            }
        }

        #[async_trait]
        impl RequestStore for $store {
            async fn submit_request(
                &self,
                request: &NewRequest,
                audit: &AuditRecord,
                events: &[ReportingEvent],
            ) -> Result<Submitted, StoreError> {
                let stored = request.pending();
                for _ in 0..SUBMIT_ATTEMPTS {
                    let mut tx = write_tx(&self.pool).await?;
                    let done = sqlx::query(concat!(
                        "INSERT INTO requests (",
                        $crate::store::body::request_cols!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, NULL, NULL) \
                         ON CONFLICT DO NOTHING"
                    ))
                    .bind(uuid(stored.id))
                    .bind(&stored.idempotency_key)
                    .bind(stored.appointment.as_str())
                    .bind(stored.patient.as_str())
                    .bind(stored.ods_code.as_str())
                    .bind(stored.kind.as_str())
                    .bind(&stored.reason)
                    .bind(stored.details.as_deref())
                    .bind(ts(stored.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 1 {
                        commit_audited(tx, audit, events).await?;
                        return Ok(Submitted::Created(stored));
                    }
                    let same_key = request_where(
                        &mut tx,
                        concat!(
                            "SELECT ",
                            $crate::store::body::request_cols!(),
                            " FROM requests WHERE idempotency_key = $1"
                        ),
                        &stored.idempotency_key,
                    )
                    .await?;
                    let pending = request_where(
                        &mut tx,
                        concat!(
                            "SELECT ",
                            $crate::store::body::request_cols!(),
                            " FROM requests WHERE appointment = $1 AND state = 'pending'"
                        ),
                        stored.appointment.as_str(),
                    )
                    .await?;
                    let refusal = Submitted::refusal(same_key, pending);
                    let id_taken = refusal.is_none() && request_exists(&mut tx, stored.id).await?;
                    tx.rollback().await.map_err(db_err)?;
                    if let Some(refusal) = refusal {
                        return Ok(refusal);
                    }
                    if id_taken {
                        return Err(StoreError::Conflict("a request with this id exists"));
                    }
                    // The pending request collided with was resolved in between: try again.
                }
                Err(StoreError::Unavailable(
                    "the appointment's requests kept changing during the submit".into(),
                ))
            }

            async fn get_request(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<PatientRequest>, StoreError> {
                one_row(
                    sqlx::query(concat!(
                        "SELECT ",
                        $crate::store::body::request_cols!(),
                        " FROM requests WHERE id = $1"
                    ))
                    .bind(uuid(id))
                    .fetch_optional(&self.pool)
                    .await,
                    request_from_row,
                )
            }

            async fn pending_request_for(
                &self,
                appointment: &AppointmentId,
            ) -> Result<Option<PatientRequest>, StoreError> {
                let found = self
                    .requests_where(
                        concat!(
                            "SELECT ",
                            $crate::store::body::request_cols!(),
                            " FROM requests WHERE appointment = $1 AND state = 'pending'"
                        ),
                        appointment.as_str(),
                    )
                    .await?;
                Ok(found.into_iter().next())
            }

            async fn pending_requests_for_patient(
                &self,
                patient: &NhsNumber,
            ) -> Result<Vec<PatientRequest>, StoreError> {
                self.requests_where(
                    concat!(
                        "SELECT ",
                        $crate::store::body::request_cols!(),
                        " FROM requests WHERE patient = $1 AND state = 'pending' \
                         ORDER BY created_at, seq"
                    ),
                    patient.as_str(),
                )
                .await
            }

            async fn list_requests(
                &self,
                ods_code: Option<OdsCode>,
                state: Option<RequestState>,
            ) -> Result<Vec<PatientRequest>, StoreError> {
                all_rows(
                    sqlx::query(concat!(
                        "SELECT ",
                        $crate::store::body::request_cols!(),
                        " FROM requests WHERE (CAST($1 AS TEXT) IS NULL OR ods_code = $1) \
                     AND (CAST($2 AS TEXT) IS NULL OR state = $2) ORDER BY created_at, seq"
                    ))
                    .bind(ods_code.as_ref().map(OdsCode::as_str))
                    .bind(state.map(RequestState::as_str))
                    .fetch_all(&self.pool)
                    .await,
                    request_from_row,
                )
            }

            async fn resolve_request(
                &self,
                id: uuid::Uuid,
                resolve: &Resolve,
                audit: &AuditRecord,
                events: &[ReportingEvent],
            ) -> Result<PatientRequest, StoreError> {
                let mut tx = write_tx(&self.pool).await?;
                // Conditional: two staff members resolving at once get one success.
                let row = sqlx::query(concat!(
                    "UPDATE requests SET state = $1, resolved_at = $2, resolution_note = $3 \
                     WHERE id = $4 AND state = 'pending' RETURNING ",
                    $crate::store::body::request_cols!()
                ))
                .bind(resolve.resolution.state().as_str())
                .bind(ts(resolve.at))
                .bind(resolve.note.as_deref())
                .bind(uuid(id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(row) = row else {
                    let exists = request_exists(&mut tx, id).await?;
                    tx.rollback().await.map_err(db_err)?;
                    return Err(Resolve::refusal(exists));
                };
                let resolved = request_from_row(&row)?;
                commit_audited(tx, audit, events).await?;
                Ok(resolved)
            }
        }
    };
}
pub(crate) use sql_requests;
