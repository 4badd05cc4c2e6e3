//! [`PasFeedStore`](nhs_portal_core::store::PasFeedStore) in SQL: one last-seen row per
//! appointment, replaced by an upsert.

/// The last-seen queries, expanded in a dialect module (see [`super::sql_store!`]).
macro_rules! sql_feed {
    ($store:ident) => {
        fn seen_from_row(row: &DbRow) -> Result<SeenAppointment, StoreError> {
            Ok(SeenAppointment {
                appointment: parse_appt(row.try_get("appointment").map_err(db_err)?)?,
                version: row.try_get("version").map_err(db_err)?,
                status: row.try_get("status").map_err(db_err)?,
                start: get_opt_ts(row, "start_at")?,
                at: get_ts(row, "changed_at")?,
            })
        }

        #[async_trait]
        impl PasFeedStore for $store {
            async fn last_seen(
                &self,
                appointments: &[AppointmentId],
            ) -> Result<Vec<SeenAppointment>, StoreError> {
                // One indexed lookup per appointment: a poll brings a page of them at most.
                let mut out = Vec::new();
                for id in appointments {
                    let found = one_row(
                        sqlx::query(
                            "SELECT appointment, version, status, start_at, changed_at \
                             FROM pas_last_seen WHERE appointment = $1",
                        )
                        .bind(id.as_str())
                        .fetch_optional(&self.pool)
                        .await,
                        seen_from_row,
                    )?;
                    out.extend(found);
                }
                Ok(out)
            }

            async fn record_seen(&self, seen: &SeenAppointment) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO pas_last_seen (appointment, version, status, start_at, changed_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (appointment) DO UPDATE SET version = excluded.version, \
                     status = excluded.status, start_at = excluded.start_at, \
                     changed_at = excluded.changed_at",
                )
                .bind(seen.appointment.as_str())
                .bind(seen.version.as_str())
                .bind(seen.status.as_str())
                .bind(seen.start.map(ts))
                .bind(ts(seen.at))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}
pub(crate) use sql_feed;
