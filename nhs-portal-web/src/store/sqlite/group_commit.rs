//! Group commit: one writer task commits concurrent audit records and their reporting events in
//! one SQLite transaction, so they share one fsync (`synchronous=FULL` is unchanged).
//!
//! A caller hands its write to the writer and waits. The writer takes everything queued (up to
//! [`MAX_BATCH`]), writes each job inside its own savepoint (a job that fails is rolled back
//! alone and answered with its own error), commits once, and only then answers each caller with
//! the outcome. So an acknowledged write is durable exactly as before; a batch whose commit fails
//! fails every caller in it (nothing of it was written). While one batch commits, the next one
//! gathers: under load callers share fsyncs, and a lone write commits at once (nobody waits for
//! company).
//!
//! The writer is a tokio task started when the store opens; it ends when the last clone of the
//! store is dropped. Should it be gone (its runtime shut down), a write commits in a transaction
//! of its own.

use nhs_portal_core::ReportingEvent;
use nhs_portal_core::store::{AuditRecord, StoreError};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::{commit_audited, db_err, insert_audited, write_tx};

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 128;

/// One caller's write and where its answer goes.
struct Job {
    audit: AuditRecord,
    events: Vec<ReportingEvent>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle to the writer task (cloned with the store).
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer over `pool` (inside a tokio runtime, as opening the store is).
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (jobs, queued) = mpsc::unbounded_channel();
        tokio::spawn(writer(pool, queued));
        Self { jobs }
    }

    /// Writes `audit` and `events` durably (in the next group's transaction) and returns once
    /// that transaction has committed.
    pub(super) async fn record(
        &self,
        pool: &SqlitePool,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job {
            audit: audit.clone(),
            events: events.to_vec(),
            done,
        };
        if self.jobs.send(job).is_err() {
            // No writer (its runtime is gone): commit alone, taking the write lock at the start
            // like every other SQLite write.
            let tx = write_tx(pool).await?;
            return commit_audited(tx, audit, events).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the SQLite writer stopped before its commit finished".into(),
            ))
        })
    }
}

async fn writer(pool: SqlitePool, mut queued: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcomes = commit_batch(&pool, &batch).await;
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            // A caller that stopped waiting (a dropped request) is no error.
            let _ = job.done.send(outcome);
        }
    }
}

/// The batch in one transaction: each job's outcome, all known only after the commit.
async fn commit_batch(pool: &SqlitePool, batch: &[Job]) -> Vec<Result<(), StoreError>> {
    let failed = |e: &StoreError| {
        batch
            .iter()
            .map(|_| Err(StoreError::Unavailable(format!("group commit: {e}").into())))
            .collect()
    };
    let mut tx = match write_tx(pool).await {
        Ok(tx) => tx,
        Err(e) => return failed(&e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let step = async {
            sqlx::query("SAVEPOINT grouped")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let written = insert_audited(&mut tx, &job.audit, &job.events).await;
            if written.is_err() {
                sqlx::query("ROLLBACK TO grouped")
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            sqlx::query("RELEASE grouped")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            Ok::<_, StoreError>(written)
        };
        match step.await {
            Ok(written) => outcomes.push(written),
            // The savepoint itself failed: the transaction is in doubt, so none of it is kept.
            Err(e) => return failed(&e),
        }
    }
    match tx.commit().await.map_err(db_err) {
        Ok(()) => outcomes,
        Err(e) => failed(&e),
    }
}
