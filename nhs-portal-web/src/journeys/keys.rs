//! One change at a time per idempotency key, inside one portal instance.
//!
//! A double submit (two clicks, or a browser's retry) of a real-time reschedule sends two
//! confirms with the same key at once. Without a lock both find the key unused, both ask the
//! PAS, the first books the slot and the second is told the slot is taken, though the
//! patient's change succeeded. Holding the key's lock for the whole step, the second waits for
//! the first, then finds its idempotency record and shows the same success.
//!
//! The locks are striped (a fixed set, chosen by a hash of patient and key), so nothing grows or
//! needs cleaning up; two different keys on one stripe only wait for each other briefly. Across
//! portal instances the store's idempotency record is the answer: a confirm that meets a taken
//! slot checks the record once more before it says so (see `Journeys::reschedule`).

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use nhs_portal_core::NhsNumber;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 64;

/// The striped locks (cheap to clone: the clones share them).
#[derive(Debug, Clone)]
pub(super) struct KeyLocks {
    stripes: Arc<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl KeyLocks {
    /// Waits for, then holds, the lock of `patient`'s `key`.
    pub(super) async fn lock(&self, patient: &NhsNumber, key: &str) -> MutexGuard<'_, ()> {
        let mut h = self.hasher.build_hasher();
        patient.as_str().hash(&mut h);
        key.hash(&mut h);
        let i = (std::hash::Hasher::finish(&h) as usize) % self.stripes.len();
        self.stripes[i].lock().await
    }
}
