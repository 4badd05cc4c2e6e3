//! How many failed staff sign-ins are allowed: [`MAX_PER_CLIENT`] per client in a
//! [`WINDOW`], and [`MAX_OVERALL`] from all clients together in the same window (a client key
//! taken from `X-Forwarded-For` can be forged by anyone not behind a proxy that sets it, so the
//! overall ceiling bounds guessing whatever the keys say). A client over its limit, or anyone
//! while the overall limit is reached, is refused before the code is even compared, until the
//! window has passed since the failures that filled it. A successful sign-in clears that client's
//! failures.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Failed sign-ins one client may make in a [`WINDOW`].
pub(super) const MAX_PER_CLIENT: usize = 5;
/// Failed sign-ins all clients together may make in a [`WINDOW`].
pub(super) const MAX_OVERALL: usize = 50;
/// The window failures are counted over.
pub(super) const WINDOW: Duration = Duration::minutes(15);
/// Most clients remembered (the oldest failures are forgotten first beyond this).
const MAX_CLIENTS: usize = 10_000;

/// Failed attempts, per client key and overall.
#[derive(Debug, Default)]
pub(super) struct Attempts {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    by_client: HashMap<String, VecDeque<DateTime<Utc>>>,
    overall: VecDeque<DateTime<Utc>>,
}

impl Log {
    fn forget_before(&mut self, since: DateTime<Utc>) {
        while self.overall.front().is_some_and(|t| *t <= since) {
            self.overall.pop_front();
        }
        self.by_client.retain(|_, times| {
            while times.front().is_some_and(|t| *t <= since) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }
}

impl Attempts {
    /// Whether `client` may try to sign in now.
    pub(super) fn allowed(&self, client: &str, now: DateTime<Utc>) -> bool {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        log.forget_before(now - WINDOW);
        log.overall.len() < MAX_OVERALL
            && log.by_client.get(client).map_or(0, VecDeque::len) < MAX_PER_CLIENT
    }

    /// Counts a failed attempt by `client`.
    pub(super) fn failed(&self, client: &str, now: DateTime<Utc>) {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if log.by_client.len() >= MAX_CLIENTS && !log.by_client.contains_key(client) {
            log.by_client.clear();
        }
        log.by_client
            .entry(client.to_owned())
            .or_default()
            .push_back(now);
        log.overall.push_back(now);
    }

    /// Clears `client`'s failures after a successful sign-in.
    pub(super) fn succeeded(&self, client: &str) {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        log.by_client.remove(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn failures_are_limited_per_client_and_overall_within_the_window() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let a = Attempts::default();
        for _ in 0..MAX_PER_CLIENT {
            assert!(a.allowed("a", t0));
            a.failed("a", t0);
        }
        assert!(!a.allowed("a", t0), "client a is over its limit");
        assert!(a.allowed("b", t0), "client b is not");
        assert!(!a.allowed("a", t0 + WINDOW - Duration::seconds(1)));
        assert!(a.allowed("a", t0 + WINDOW), "the window has passed");
        // The overall ceiling, whatever the client keys.
        let b = Attempts::default();
        for i in 0..MAX_OVERALL {
            b.failed(&format!("k{i}"), t0);
        }
        assert!(!b.allowed("fresh", t0));
        // Success clears the client's own failures.
        let c = Attempts::default();
        c.failed("a", t0);
        c.succeeded("a");
        assert!(c.allowed("a", t0));
    }
}
