//! The in-memory leased queue: one implementation behind both the outbox and the Record
//! Service queue of [`MemoryStore`](super::MemoryStore).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Where a queue row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowState {
    /// Waiting to be claimed (or claimed, until its lease ends).
    Waiting,
    /// Delivered or sent.
    Done,
    /// Set aside for good.
    Quarantined,
}

/// One queued item with its lease.
#[derive(Debug, Clone)]
pub(super) struct Row<T> {
    pub(super) item: T,
    attempts: u32,
    due_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    pub(super) state: RowState,
}

impl<T> Row<T> {
    fn claimable(&self, now: DateTime<Utc>) -> bool {
        self.state == RowState::Waiting
            && self.due_at.is_none_or(|d| d <= now)
            && self.leased_until.is_none_or(|l| l <= now)
    }
}

/// Items keyed by row id (ids come from the store, so they are unique across its queues),
/// claimed oldest first.
#[derive(Debug)]
pub(super) struct LeasedQueue<T> {
    rows: BTreeMap<i64, Row<T>>,
}

impl<T> Default for LeasedQueue<T> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
        }
    }
}

impl<T: Clone> LeasedQueue<T> {
    /// Adds a waiting item.
    pub(super) fn push(&mut self, id: i64, item: T) {
        self.rows.insert(
            id,
            Row {
                item,
                attempts: 0,
                due_at: None,
                leased_until: None,
                state: RowState::Waiting,
            },
        );
    }

    /// Every row, oldest first.
    pub(super) fn rows(&self) -> impl Iterator<Item = &Row<T>> {
        self.rows.values()
    }

    /// Every row with its id, oldest first.
    pub(super) fn rows_with_ids(&self) -> impl Iterator<Item = (i64, &Row<T>)> {
        self.rows.iter().map(|(id, row)| (*id, row))
    }

    /// Leases up to `limit` due items until `until`, oldest first, counting one attempt each:
    /// `(id, item, attempts)`.
    pub(super) fn claim(
        &mut self,
        limit: usize,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<(i64, T, u32)> {
        let mut out = Vec::new();
        for (id, row) in self.rows.iter_mut() {
            if out.len() >= limit {
                break;
            }
            if row.claimable(now) {
                row.leased_until = Some(until);
                row.attempts += 1;
                out.push((*id, row.item.clone(), row.attempts));
            }
        }
        out
    }

    fn waiting(&mut self, ids: &[i64], mut change: impl FnMut(&mut Row<T>)) {
        for id in ids {
            if let Some(row) = self
                .rows
                .get_mut(id)
                .filter(|r| r.state == RowState::Waiting)
            {
                row.leased_until = None;
                change(row);
            }
        }
    }

    /// Marks waiting items done.
    pub(super) fn mark_done(&mut self, ids: &[i64]) {
        self.waiting(ids, |r| r.state = RowState::Done);
    }

    /// Releases waiting items, due again from `retry_at`.
    pub(super) fn mark_failed(&mut self, ids: &[i64], retry_at: DateTime<Utc>) {
        self.waiting(ids, |r| r.due_at = Some(retry_at));
    }

    /// Sets waiting items aside for good.
    pub(super) fn quarantine(&mut self, ids: &[i64]) {
        self.waiting(ids, |r| r.state = RowState::Quarantined);
    }
}
