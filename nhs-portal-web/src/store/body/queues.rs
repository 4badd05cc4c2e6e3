//! [`Outbox`](nhs_portal_core::store::Outbox) and
//! [`RecordQueue`](nhs_portal_core::store::RecordQueue) in SQL, both on one leased-queue
//! implementation.
//!
//! A leased queue is a table with `id`, `state` (`waiting`, then a done state or
//! `quarantined`), `attempts`, `due_at`, `leased_until`, `lease_owner` and `last_error`. A claim
//! is one `UPDATE … WHERE id IN (SELECT … ORDER BY id LIMIT n)` that leases the oldest due rows
//! and counts an attempt; under PostgreSQL the inner `SELECT` takes `FOR UPDATE SKIP LOCKED`, so
//! workers on several instances never hold the same rows. Marking touches waiting rows only.

/// The SQL of one leased queue, built by `leased_queue!` from its table, done state and
/// payload column.
pub(crate) struct LeasedQueueSql {
    /// Leases due rows: binds lease end, worker, now, limit; returns `id, payload, attempts`.
    pub(crate) claim: &'static str,
    /// Marks waiting rows done: binds the id list.
    pub(crate) done: &'static str,
    /// Releases waiting rows until a retry time: binds the id list, `due_at`, `last_error`.
    pub(crate) failed: &'static str,
    /// Sets waiting rows aside: binds the id list, `last_error`.
    pub(crate) quarantine: &'static str,
}

/// The SQL of the leased queue in `table`, whose done state is `done` and whose item is the
/// `payload` expression; `ids_in` and `skip_locked` are the dialect's fragments.
macro_rules! leased_queue {
    (
        table: $table:literal,
        done: $done:literal,
        payload: $payload:literal,
        ids_in: $ids_in:literal,
        skip_locked: $skip_locked:literal
    ) => {
        LeasedQueueSql {
            claim: concat!(
                "UPDATE ",
                $table,
                " SET attempts = attempts + 1, leased_until = $1, lease_owner = $2 \
                 WHERE id IN (SELECT id FROM ",
                $table,
                " WHERE state = 'waiting' \
                 AND (due_at IS NULL OR due_at <= $3) \
                 AND (leased_until IS NULL OR leased_until <= $3) ORDER BY id LIMIT $4",
                $skip_locked,
                ") RETURNING id, ",
                $payload,
                " AS payload, attempts"
            ),
            done: concat!(
                "UPDATE ",
                $table,
                " SET state = '",
                $done,
                "', leased_until = NULL WHERE state = 'waiting' AND ",
                $ids_in
            ),
            failed: concat!(
                "UPDATE ",
                $table,
                " SET due_at = $2, leased_until = NULL, last_error = $3 \
                 WHERE state = 'waiting' AND ",
                $ids_in
            ),
            quarantine: concat!(
                "UPDATE ",
                $table,
                " SET state = 'quarantined', leased_until = NULL, last_error = $2 \
                 WHERE state = 'waiting' AND ",
                $ids_in
            ),
        }
    };
}
pub(crate) use leased_queue;

/// What marking does to waiting rows of a leased queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mark<'a> {
    /// Delivered or sent.
    Done,
    /// Due again from `retry_at`, with the error (if any).
    Failed {
        /// When to retry.
        retry_at: chrono::DateTime<chrono::Utc>,
        /// Why it failed.
        error: Option<&'a str>,
    },
    /// Set aside for good, with the reason.
    Quarantine {
        /// Why.
        reason: &'a str,
    },
}

/// The leased-queue implementation, expanded in a dialect module (see [`super::sql_store!`]).
macro_rules! sql_queues {
    (store: $store:ident, ids_in: $ids_in:literal, skip_locked: $skip_locked:literal) => {
        use $crate::store::body::queues::{LeasedQueueSql, Mark};

        /// The reporting outbox.
        const OUTBOX: LeasedQueueSql = $crate::store::body::queues::leased_queue!(
            table: "outbox",
            done: "delivered",
            payload: "CAST(event AS TEXT)",
            ids_in: $ids_in,
            skip_locked: $skip_locked
        );
        /// The Record Service queue (its states allow no quarantine).
        const RECORDS: LeasedQueueSql = $crate::store::body::queues::leased_queue!(
            table: "record_queue",
            done: "sent",
            payload: "patient",
            ids_in: $ids_in,
            skip_locked: $skip_locked
        );

        impl $store {
            /// Leases up to `limit` due rows of `queue` until `now + lease`, oldest first:
            /// `(id, payload, attempts)`.
            async fn claim(
                &self,
                queue: &LeasedQueueSql,
                worker: &str,
                limit: usize,
                now: DateTime<Utc>,
                lease: chrono::Duration,
            ) -> Result<Vec<(i64, String, u32)>, StoreError> {
                if limit == 0 {
                    return Ok(Vec::new());
                }
                let mut tx = write_tx(&self.pool).await?;
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(queue.claim)
                    .bind(ts(now + lease))
                    .bind(worker)
                    .bind(ts(now))
                    .bind(to_i64(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                let mut rows: Vec<_> = rows
                    .into_iter()
                    .map(|(id, payload, attempts)| (id, payload, to_u32(attempts)))
                    .collect();
                rows.sort_by_key(|r| r.0);
                Ok(rows)
            }

            /// Marks waiting rows `ids` of `queue`; unknown or no longer waiting ids are left
            /// alone.
            async fn mark(
                &self,
                queue: &LeasedQueueSql,
                ids: &[i64],
                mark: Mark<'_>,
            ) -> Result<(), StoreError> {
                if ids.is_empty() {
                    return Ok(());
                }
                let query = match mark {
                    Mark::Done => sqlx::query(queue.done).bind(id_list(ids)),
                    Mark::Failed { retry_at, error } => sqlx::query(queue.failed)
                        .bind(id_list(ids))
                        .bind(ts(retry_at))
                        .bind(error.map(str::to_owned)),
                    Mark::Quarantine { reason } => sqlx::query(queue.quarantine)
                        .bind(id_list(ids))
                        .bind(reason.to_owned()),
                };
                query.execute(&self.pool).await.map_err(db_err)?;
                Ok(())
            }
        }

        #[async_trait]
        impl Outbox for $store {
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
                self.claim(&OUTBOX, worker, limit, now, lease)
                    .await?
                    .into_iter()
                    .map(|(id, event, attempts)| {
                        Ok(OutboxItem {
                            id,
                            event: parse_event(event)?,
                            attempts,
                        })
                    })
                    .collect()
            }

            async fn mark_delivered(&self, ids: &[i64]) -> Result<(), StoreError> {
                self.mark(&OUTBOX, ids, Mark::Done).await
            }

            async fn mark_failed(
                &self,
                ids: &[i64],
                error: &str,
                retry_at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                self.mark(
                    &OUTBOX,
                    ids,
                    Mark::Failed {
                        retry_at,
                        error: Some(error),
                    },
                )
                .await
            }

            async fn quarantine(&self, ids: &[i64], reason: &str) -> Result<(), StoreError> {
                self.mark(&OUTBOX, ids, Mark::Quarantine { reason }).await
            }

            async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
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

            async fn oldest_waiting_event_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
                let row = sqlx::query(
                    "SELECT event_at FROM outbox WHERE state = 'waiting' \
                     ORDER BY event_at LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                row.map(|r| get_ts(&r, "event_at")).transpose()
            }

            async fn events_between(
                &self,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                after_id: i64,
                limit: usize,
            ) -> Result<Vec<(i64, ReportingEvent)>, StoreError> {
                if limit == 0 {
                    return Ok(Vec::new());
                }
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT id, CAST(event AS TEXT) FROM outbox \
                     WHERE event_at >= $1 AND event_at < $2 AND id > $3 ORDER BY id LIMIT $4",
                )
                .bind(ts(from))
                .bind(ts(to))
                .bind(after_id)
                .bind(to_i64(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.into_iter()
                    .map(|(id, event)| Ok((id, parse_event(event)?)))
                    .collect()
            }
        }

        #[async_trait]
        impl RecordQueue for $store {
            async fn enqueue_record(&self, patient: &NhsNumber) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO record_queue (patient) VALUES ($1) ON CONFLICT DO NOTHING",
                )
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
                self.claim(&RECORDS, worker, limit, now, lease)
                    .await?
                    .into_iter()
                    .map(|(id, patient, _)| {
                        Ok(RecordItem {
                            id,
                            patient: parse_nhs(patient)?,
                        })
                    })
                    .collect()
            }

            async fn mark_records_sent(&self, ids: &[i64]) -> Result<(), StoreError> {
                self.mark(&RECORDS, ids, Mark::Done).await
            }

            async fn mark_records_failed(
                &self,
                ids: &[i64],
                retry_at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                self.mark(
                    &RECORDS,
                    ids,
                    Mark::Failed {
                        retry_at,
                        error: None,
                    },
                )
                .await
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
    };
}
pub(crate) use sql_queues;
