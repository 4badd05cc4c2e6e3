//! A cache of NHS login's signing keys (its JWKS), refetched when a token names a key it does
//! not hold (NHS login rotates keys).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::RwLock;

use super::TokenError;

/// Where the keys come from.
#[derive(Debug)]
enum Source {
    /// A fixed set (tests, or keys configured by hand); never refetched.
    Fixed,
    /// Fetched over HTTP from the issuer's `jwks_uri`.
    Remote {
        url: url::Url,
        http: reqwest::Client,
    },
}

/// NHS login's public signing keys, cached, with one refetch when a token's `kid` is unknown.
///
/// Refetches are rate-limited (at most one per [`JwksCache::with_min_refetch_interval`], 30
/// seconds by default) so that a flood of tokens with made-up key ids cannot make the portal
/// hammer NHS login.
///
/// ```
/// use nhs_portal_web::nhs_login::JwksCache;
/// let cache = JwksCache::fixed(jsonwebtoken::jwk::JwkSet { keys: vec![] });
/// # let _ = cache;
/// ```
#[derive(Debug)]
pub struct JwksCache {
    source: Source,
    keys: RwLock<Option<JwkSet>>,
    /// When the last fetch was attempted.
    last_fetch: Mutex<Option<Instant>>,
    /// One fetch at a time: tasks that miss the cache together wait for one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    min_refetch_interval: Duration,
}

/// While no keys have been fetched at all, fetch attempts are this far apart at least.
const MIN_RETRY_WHILE_EMPTY: Duration = Duration::from_secs(1);

impl JwksCache {
    /// A cache over a fixed key set, never refetched.
    pub fn fixed(keys: JwkSet) -> Self {
        Self {
            source: Source::Fixed,
            keys: RwLock::new(Some(keys)),
            last_fetch: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            min_refetch_interval: Duration::from_secs(30),
        }
    }

    /// A cache that fetches `url` on first use and refetches on an unknown key id.
    ///
    /// `http` should not follow redirects.
    pub fn remote(url: url::Url, http: reqwest::Client) -> Self {
        Self {
            source: Source::Remote { url, http },
            keys: RwLock::new(None),
            last_fetch: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            min_refetch_interval: Duration::from_secs(30),
        }
    }

    /// Sets the shortest time between two refetches (default 30 seconds).
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Fills an empty cache with keys already fetched (for example by discovery).
    pub async fn prime(&self, keys: JwkSet) {
        let mut guard = self.keys.write().await;
        if guard.is_none() {
            *guard = Some(keys);
            *self.last_fetch.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }

    /// The key with this id: from the cache, else after one refetch.
    pub async fn key(&self, kid: &str) -> Result<Jwk, TokenError> {
        if let Some(k) = self.cached(kid).await {
            return Ok(k);
        }
        if matches!(self.source, Source::Fixed) {
            return Err(TokenError::UnknownKey);
        }
        let _one_fetch_at_a_time = self.fetch_lock.lock().await;
        // Another task may have fetched the keys while this one waited.
        if let Some(k) = self.cached(kid).await {
            return Ok(k);
        }
        let empty = self.keys.read().await.is_none();
        if !self.fetch_allowed(empty) {
            return Err(if empty {
                TokenError::KeysUnavailable("NHS login's keys could not be fetched".into())
            } else {
                TokenError::UnknownKey
            });
        }
        let fresh = self.fetch().await?;
        let found = fresh.find(kid).cloned();
        *self.keys.write().await = Some(fresh);
        found.ok_or(TokenError::UnknownKey)
    }

    async fn cached(&self, kid: &str) -> Option<Jwk> {
        self.keys
            .read()
            .await
            .as_ref()
            .and_then(|set| set.find(kid))
            .cloned()
    }

    /// Rate limit: a refetch at most every `min_refetch_interval`; while the cache is empty,
    /// a fetch at most every second.
    fn fetch_allowed(&self, empty: bool) -> bool {
        let gap = if empty {
            MIN_RETRY_WHILE_EMPTY.min(self.min_refetch_interval)
        } else {
            self.min_refetch_interval
        };
        let mut last = self.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < gap => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let Source::Remote { url, http } = &self.source else {
            return Err(TokenError::UnknownKey);
        };
        let resp = http
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| TokenError::KeysUnavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(TokenError::KeysUnavailable(format!(
                "the JWKS endpoint answered {}",
                resp.status()
            )));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| TokenError::KeysUnavailable(e.to_string()))?;
        serde_json::from_slice(&body)
            .map_err(|e| TokenError::KeysUnavailable(format!("the JWKS is not valid: {e}")))
    }
}
