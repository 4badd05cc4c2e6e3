//! Time as a seam: production reads the system clock, tests set it by hand.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A source of the current time.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved: for tests and demos of timeouts.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use nhs_portal_core::clock::{Clock, ManualClock};
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap());
/// clock.advance(Duration::minutes(10));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2025, 1, 1, 9, 10, 0).unwrap());
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock on.
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
