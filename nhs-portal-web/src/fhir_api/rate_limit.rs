//! A token bucket for WF-NFR-03 (429 above 60 requests per second).
//!
//! Hand-written rather than taken from `governor`: the API needs one global bucket (the PCA is the
//! only caller), it must run on `tokio::time` so tests can pause and advance time, and it is a
//! dozen lines. `governor` keys buckets, uses its own clock and would add a dependency tree for
//! no gain here.

use std::sync::Mutex;

use tokio::time::Instant;

/// A token bucket: holds up to `burst` tokens and refills `rate` tokens per second.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket. A `rate` of zero or less disables limiting.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes one token; `false` when the bucket is empty (the caller answers 429).
    pub fn try_acquire(&self) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let refilled =
            (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn limits_and_refills() {
        let bucket = TokenBucket::new(60.0, 60);
        for i in 0..60 {
            assert!(bucket.try_acquire(), "request {i}");
        }
        assert!(!bucket.try_acquire(), "61st in the same instant");
        tokio::time::advance(Duration::from_millis(17)).await;
        assert!(bucket.try_acquire(), "one token back after 1/60 s");
        assert!(!bucket.try_acquire());
        tokio::time::advance(Duration::from_secs(5)).await;
        let granted = (0..100).filter(|_| bucket.try_acquire()).count();
        assert_eq!(granted, 60, "never more than the burst");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_rate_is_unlimited() {
        let bucket = TokenBucket::new(0.0, 1);
        assert!((0..1000).all(|_| bucket.try_acquire()));
    }
}
