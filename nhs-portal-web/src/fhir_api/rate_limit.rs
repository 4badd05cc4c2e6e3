//! Token buckets for WF-NFR-03 (429 above 60 requests per second), one per authenticated client.
//!
//! The limit is taken after the bearer check ([`PerClient`], keyed by the validated token's client
//! id), so a flood of unauthenticated requests never spends the PCA's budget, and two clients
//! never share one.
//!
//! Hand-written rather than taken from `governor`: it must run on `tokio::time` so tests can
//! pause and advance time, the keys are a handful of validated client ids, and it is a few dozen
//! lines. `governor` uses its own clock and would add a dependency tree for no gain here.

use std::collections::HashMap;
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

/// Most distinct clients given their own bucket; beyond it, further clients share one (client
/// ids come only from validated tokens, so this is a guard, never reached in practice).
const MAX_CLIENTS: usize = 1024;

/// One [`TokenBucket`] per client id (a token without one counts as the client `""`).
#[derive(Debug)]
pub struct PerClient {
    rate: f64,
    burst: u32,
    buckets: Mutex<HashMap<String, std::sync::Arc<TokenBucket>>>,
    overflow: TokenBucket,
}

impl PerClient {
    /// Buckets of `rate` per second and `burst` each. A `rate` of zero or less disables limiting.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
            overflow: TokenBucket::new(rate, burst),
        }
    }

    /// Takes one token from `client`'s bucket; `false` when it is empty (answer 429).
    pub fn try_acquire(&self, client: Option<&str>) -> bool {
        let key = client.unwrap_or("");
        let bucket = {
            let mut g = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            match g.get(key) {
                Some(b) => Some(b.clone()),
                None if g.len() < MAX_CLIENTS => {
                    let b = std::sync::Arc::new(TokenBucket::new(self.rate, self.burst));
                    g.insert(key.to_owned(), b.clone());
                    Some(b)
                }
                None => None,
            }
        };
        match bucket {
            Some(b) => b.try_acquire(),
            None => self.overflow.try_acquire(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn each_client_has_its_own_budget() {
        let limits = PerClient::new(1.0, 2);
        assert!(limits.try_acquire(Some("pca")));
        assert!(limits.try_acquire(Some("pca")));
        assert!(!limits.try_acquire(Some("pca")), "the PCA's burst is spent");
        assert!(limits.try_acquire(Some("other")), "another client is not");
        assert!(limits.try_acquire(None));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limits.try_acquire(Some("pca")));
    }

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
