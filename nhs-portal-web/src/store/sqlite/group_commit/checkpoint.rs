//! The group-commit writer's checkpoints, on a thread of their own.
//!
//! In WAL mode SQLite copies the log back into the database file (a checkpoint, with its
//! fsyncs) from inside whichever commit takes the log past `wal_autocheckpoint` pages (1,000
//! by default). On the writer that meant one batch in about a hundred waiting several
//! milliseconds for the disk while every page view behind it waited too (measured: 5 to 8 ms,
//! against a batch's usual 0.1 ms). So the writer's connection checkpoints only as a backstop
//! ([`BACKSTOP_PAGES`], when the log has grown that long without a pause in writing), and this
//! thread runs a `PASSIVE` checkpoint (which never waits for the writer or for readers) on a
//! connection of its own whenever the writer has committed since the last one, at most every
//! [`EVERY`]. Durability is unchanged: a commit is durable at its batch's level before its
//! callers are answered; a checkpoint only moves committed pages.
//!
//! The thread ends when the writer does (its `Ticks` are dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

/// The writer's own `wal_autocheckpoint`: only when the log has this many pages (about 32 MB)
/// does a commit checkpoint itself (sustained writing that never leaves a gap for this thread's
/// checkpoints to catch up).
pub(super) const BACKSTOP_PAGES: i64 = 8_000;

/// How often, at most, this thread checkpoints.
const EVERY: Duration = Duration::from_millis(100);

/// The writer's side: marks that it committed.
pub(super) struct Ticks {
    dirty: Arc<AtomicBool>,
    /// Dropped with the writer, which ends the thread.
    _alive: mpsc::Sender<()>,
}

impl Ticks {
    /// After a commit: the next round checkpoints. (No wake-up: the thread looks every
    /// [`EVERY`].)
    pub(super) fn committed(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }
}

/// Starts the thread with `conn` (a connection of its own on the store's file).
pub(super) fn start(conn: Connection) -> std::io::Result<Ticks> {
    let dirty = Arc::new(AtomicBool::new(false));
    let (alive, gone) = mpsc::channel::<()>();
    let seen = dirty.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = gone.recv_timeout(EVERY) {
                if seen.swap(false, Ordering::Relaxed) {
                    checkpoint(&conn);
                }
            }
        })?;
    Ok(Ticks {
        dirty,
        _alive: alive,
    })
}

/// One `PASSIVE` checkpoint. A failure is left for the next round (or the writer's backstop):
/// nothing committed depends on it.
fn checkpoint(conn: &Connection) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        row.get::<_, i64>(0)
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "SQLite checkpoint failed; the next one will retry");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database whose writer never checkpoints, with about a hundred pages in its log;
    /// the main file's size, and the size it has once they are all checkpointed.
    fn logged() -> (tempfile::TempDir, Connection, u64, u64) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.db");
        let writer = Connection::open(&file).unwrap();
        writer
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch(
                "CREATE TABLE t (x); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) \
                 INSERT INTO t SELECT randomblob(1000) FROM n;",
            )
            .unwrap();
        let pages: i64 = writer
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let page: i64 = writer
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        (dir, writer, before, u64::try_from(pages * page).unwrap())
    }

    fn main_file_len(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join("c.db")).unwrap().len()
    }

    #[test]
    fn a_commit_is_checkpointed_by_the_thread() {
        let (dir, _writer, before, full) = logged();
        assert!(before < full, "the pages are still only in the log");
        let ticks = start(Connection::open(dir.path().join("c.db")).unwrap()).unwrap();
        ticks.committed();
        // Wait a bounded number of the thread's rounds for its checkpoint: whether it
        // happened, not how fast.
        let mut len = before;
        for _ in 0..100 {
            std::thread::sleep(EVERY);
            len = main_file_len(&dir);
            if len >= full {
                break;
            }
        }
        assert!(
            len >= full,
            "checkpointed into the main file: {len} of {full} bytes"
        );
    }

    #[test]
    fn without_a_commit_the_thread_leaves_the_log_alone() {
        let (dir, _writer, before, _) = logged();
        let _ticks = start(Connection::open(dir.path().join("c.db")).unwrap()).unwrap();
        std::thread::sleep(EVERY * 4);
        assert_eq!(main_file_len(&dir), before);
    }
}
