//! The one cache of signing keys (a JWKS) the portal keeps per issuer: NHS login's keys for its
//! ID tokens and forwarded tokens, and the PCA's authorisation server's keys for bearer tokens
//! ([`crate::fhir_api::JwksBearerValidator`]).
//!
//! The rules, each with its setting:
//! - **Freshness**: a fetched set is fresh for the response's `Cache-Control: max-age`, held
//!   between [`JwksCache::with_ttl_bounds`]' floor (1 minute) and ceiling (5 minutes), or the
//!   ceiling when the header is missing. A key the issuer withdraws stops being trusted at the
//!   first refresh after that, so within minutes.
//! - **Refresh failure**: when a refresh fails (network, status, a body that is not a JWKS, one
//!   over the size cap) the cached keys are still served, for at most
//!   [`JwksCache::with_max_stale`] (30 minutes) past their freshness; after that verification
//!   fails as "keys unavailable" (a 503, not a 401) until a refresh succeeds. Failed refreshes
//!   are retried at most every [`JwksCache::with_min_refetch_interval`] (30 seconds).
//! - **Rotation**: a token naming a key id the fresh set lacks triggers one refetch, at most
//!   every [`JwksCache::with_min_refetch_interval`], so made-up key ids cannot make the portal
//!   hammer the issuer.
//! - **Size**: a JWKS body over [`JwksCache::with_max_body_bytes`] (64 KiB) is refused.
//!
//! Time comes from a [`Clock`] ([`JwksCache::with_clock`]), so tests move it by hand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use nhs_portal_core::clock::{Clock, SystemClock};
use tokio::sync::RwLock;

use super::TokenError;

/// The longest a fetched key set is used without a refresh, whatever its `max-age` says.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(300);
/// The shortest time a fetched key set is used before a refresh (a `max-age` of 0 included).
pub const DEFAULT_MIN_TTL: Duration = Duration::from_secs(60);
/// How long past its freshness a key set is still served while refreshes fail.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(30 * 60);
/// The largest JWKS body accepted.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// While no keys have been fetched at all, fetch attempts are this far apart at least.
const MIN_RETRY_WHILE_EMPTY: Duration = Duration::from_secs(1);

/// Where the keys come from.
#[derive(Debug)]
enum Source {
    /// A fixed set (tests, or keys configured by hand); never refetched, never stale.
    Fixed,
    /// Fetched over HTTP.
    Remote { url: String, http: reqwest::Client },
}

/// A fetched key set and how long it is good for.
#[derive(Debug, Clone)]
struct Fetched {
    set: JwkSet,
    fresh_until: DateTime<Utc>,
}

/// Signing keys, cached, refreshed on their `max-age`, served while a refresh fails (for a
/// bounded time), refetched once on an unknown key id. See the [module docs](self).
///
/// ```
/// use nhs_portal_web::nhs_login::JwksCache;
/// let cache = JwksCache::fixed(jsonwebtoken::jwk::JwkSet { keys: vec![] });
/// # let _ = cache;
/// ```
#[derive(Debug)]
pub struct JwksCache {
    source: Source,
    keys: RwLock<Option<Fetched>>,
    /// When the last fetch was attempted.
    last_attempt: Mutex<Option<DateTime<Utc>>>,
    /// One fetch at a time: tasks that need one together wait for one fetch.
    fetch_lock: tokio::sync::Mutex<()>,
    min_refetch_interval: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    max_stale: Duration,
    max_body_bytes: usize,
    clock: Arc<dyn Clock>,
}

/// `t + d`, saturating at the end of time.
fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `max-age` from a `Cache-Control` value (`no-cache` and `no-store` count as 0).
fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    age
}

impl JwksCache {
    fn with_source(source: Source, keys: Option<Fetched>) -> Self {
        Self {
            source,
            keys: RwLock::new(keys),
            last_attempt: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            min_refetch_interval: Duration::from_secs(30),
            min_ttl: DEFAULT_MIN_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            max_stale: DEFAULT_MAX_STALE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            clock: Arc::new(SystemClock),
        }
    }

    /// A cache over a fixed key set, never refetched.
    pub fn fixed(keys: JwkSet) -> Self {
        let fetched = Fetched {
            set: keys,
            fresh_until: DateTime::<Utc>::MAX_UTC,
        };
        Self::with_source(Source::Fixed, Some(fetched))
    }

    /// A cache that fetches `url` on first use, refreshes it as the module docs say, and
    /// refetches on an unknown key id.
    ///
    /// `http` should not follow redirects.
    pub fn remote(url: url::Url, http: reqwest::Client) -> Self {
        Self::from_url(url.to_string(), http)
    }

    /// [`JwksCache::remote`] from a URL string (a URL that does not parse fails every fetch).
    pub fn from_url(url: impl Into<String>, http: reqwest::Client) -> Self {
        let source = Source::Remote {
            url: url.into(),
            http,
        };
        Self::with_source(source, None)
    }

    /// Sets the shortest time between two refetches (default 30 seconds).
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Sets the floor and ceiling of a fetched set's freshness (defaults 1 and 5 minutes): its
    /// `max-age` is held between them, and a response without one gets the ceiling.
    pub fn with_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min.min(max);
        self.max_ttl = max;
        self
    }

    /// Sets how long past its freshness a key set is served while refreshes fail (default
    /// 30 minutes).
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Sets the largest JWKS body accepted (default 64 KiB).
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Uses another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Fills an empty cache with keys already fetched (for example by discovery), fresh for the
    /// freshness ceiling.
    pub async fn prime(&self, keys: JwkSet) {
        let mut guard = self.keys.write().await;
        if guard.is_none() {
            let now = self.clock.now();
            *guard = Some(Fetched {
                set: keys,
                fresh_until: later(now, self.max_ttl),
            });
            *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        }
    }

    /// The key with this id.
    pub async fn key(&self, kid: &str) -> Result<Jwk, TokenError> {
        self.key_for(Some(kid)).await
    }

    /// The key with this id, or without one the set's only key.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let pick = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => set.find(kid).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        let now = self.clock.now();
        if let Some(found) = self.fresh(now, &pick).await? {
            return Ok(found);
        }
        let _one_fetch_at_a_time = self.fetch_lock.lock().await;
        // Another task may have refreshed the keys while this one waited.
        if let Some(found) = self.fresh(now, &pick).await? {
            return Ok(found);
        }
        let cached = self.keys.read().await.clone();
        let fresh = cached.as_ref().is_some_and(|f| now < f.fresh_until);
        let mut failure = None;
        if self.attempt_allowed(now, cached.is_none()) {
            match self.fetch().await {
                Ok((set, ttl)) => {
                    let found = pick(&set);
                    *self.keys.write().await = Some(Fetched {
                        set,
                        fresh_until: later(now, ttl),
                    });
                    return found.ok_or(TokenError::UnknownKey);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "signing keys could not be refreshed");
                    failure = Some(e);
                }
            }
        }
        match cached {
            // Fresh but without this key, and no fetch found it: an unknown key.
            Some(f) if fresh => pick(&f.set).ok_or(failure.unwrap_or(TokenError::UnknownKey)),
            // Stale and not refreshed: still served, for a bounded time.
            Some(f) if now < later(f.fresh_until, self.max_stale) => match pick(&f.set) {
                Some(k) => Ok(k),
                None => Err(failure.unwrap_or(TokenError::UnknownKey)),
            },
            Some(_) => Err(TokenError::KeysUnavailable(
                "the signing keys are out of date and could not be refreshed".into(),
            )),
            None => Err(failure.unwrap_or_else(|| {
                TokenError::KeysUnavailable("the signing keys could not be fetched".into())
            })),
        }
    }

    /// The key from a fresh set: `Some` when found, `None` when a fetch is needed (stale,
    /// empty, or an unknown id), an error for a fixed set without it.
    async fn fresh(
        &self,
        now: DateTime<Utc>,
        pick: &impl Fn(&JwkSet) -> Option<Jwk>,
    ) -> Result<Option<Jwk>, TokenError> {
        let guard = self.keys.read().await;
        match (&self.source, guard.as_ref()) {
            (Source::Fixed, Some(f)) => pick(&f.set).map(Some).ok_or(TokenError::UnknownKey),
            (Source::Fixed, None) => Err(TokenError::UnknownKey),
            (Source::Remote { .. }, Some(f)) if now < f.fresh_until => Ok(pick(&f.set)),
            (Source::Remote { .. }, _) => Ok(None),
        }
    }

    /// Rate limit: a fetch at most every `min_refetch_interval`; while the cache is empty, at
    /// most every second.
    fn attempt_allowed(&self, now: DateTime<Utc>, empty: bool) -> bool {
        let gap = if empty {
            MIN_RETRY_WHILE_EMPTY.min(self.min_refetch_interval)
        } else {
            self.min_refetch_interval
        };
        let mut last = self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now >= t && now < later(t, gap) => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    /// Fetches the set: its keys and how long they are fresh.
    async fn fetch(&self) -> Result<(JwkSet, Duration), TokenError> {
        let Source::Remote { url, http } = &self.source else {
            return Err(TokenError::UnknownKey);
        };
        let unavailable = |e: String| TokenError::KeysUnavailable(e);
        let mut resp = http
            .get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!(
                "the JWKS endpoint answered {}",
                resp.status()
            )));
        }
        let too_big = || unavailable(format!("the JWKS is over {} bytes", self.max_body_bytes));
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(too_big());
        }
        let ttl = resp
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .map_or(self.max_ttl, |s| {
                Duration::from_secs(s).clamp(self.min_ttl, self.max_ttl)
            });
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unavailable(e.to_string()))? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let set = serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("the JWKS is not valid: {e}")))?;
        Ok((set, ttl))
    }
}

#[cfg(test)]
mod tests;
