//! Binding a sign-in to the browser that started it (login CSRF).
//!
//! The pending NHS login lives on the server, keyed by its `state`. Without more, whoever holds
//! a callback link (`/sign-in/callback?code=..&state=..`) can finish it in any browser: an
//! attacker who starts a sign-in and picks their own account could sign someone else's browser
//! in as themselves. So when a sign-in starts, the browser gets a short-lived cookie carrying a
//! digest of its `state` (`HttpOnly`, `Secure` unless plain-http localhost, `SameSite=Lax` so
//! that NHS login's top-level redirect back still carries it), and the callback is completed only
//! when its `state`'s digest is in that cookie. The cookie keeps the last few sign-ins (one per
//! tab) and each is removed once used.
//!
//! The digest is SHA-256 of the state with a domain-separation prefix, base64url: the cookie never
//! carries the state itself, so a leaked cookie cannot be turned into a callback.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use crate::http_kit;

/// The cookie's name.
pub(crate) const COOKIE: &str = "nhs_portal_sign_in";

/// How long a started sign-in stays bound (NHS login's pending-login lifetime, 10 minutes).
const MAX_AGE: cookie::time::Duration = cookie::time::Duration::minutes(10);

/// How many sign-ins in progress one browser keeps bound (tabs started one after another).
const KEEP: usize = 4;

fn digest(state: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"nhs-portal sign-in binding\0");
    h.update(state.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// The digests the browser holds (only well-shaped ones).
fn held(headers: &HeaderMap) -> Vec<String> {
    http_kit::cookie_value(headers, COOKIE)
        .map(|v| {
            v.split('.')
                .filter(|d| d.len() == 43)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `state` of an authorization URL, if it has one.
pub(super) fn state_of(authorize_url: &str) -> Option<String> {
    let url = url::Url::parse(authorize_url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .filter(|s| !s.is_empty())
}

/// Whether the sign-in with this `state` was started in this browser (constant-time compare).
pub(super) fn is_bound(headers: &HeaderMap, state: &str) -> bool {
    let want = digest(state);
    held(headers).iter().fold(false, |found, d| {
        found | crate::nhs_login::constant_time_eq(d.as_bytes(), want.as_bytes())
    })
}

/// The `Set-Cookie` that binds `state` to this browser (beside its other sign-ins in progress).
pub(super) fn bind(headers: &HeaderMap, state: &str, secure: bool) -> Option<HeaderValue> {
    let mut digests = held(headers);
    digests.push(digest(state));
    let from = digests.len().saturating_sub(KEEP);
    cookie_header(&digests[from..].join("."), secure)
}

/// The `Set-Cookie` that forgets `state` (and the cookie once nothing is left in it).
pub(super) fn unbind(headers: &HeaderMap, state: &str, secure: bool) -> Option<HeaderValue> {
    let gone = digest(state);
    let left: Vec<String> = held(headers).into_iter().filter(|d| *d != gone).collect();
    cookie_header(&left.join("."), secure)
}

fn cookie_header(value: &str, secure: bool) -> Option<HeaderValue> {
    let mut c = Cookie::build((COOKIE, value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(MAX_AGE)
        .build();
    if value.is_empty() {
        c.make_removal();
    }
    http_kit::set_cookie_value(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_after(set: &HeaderValue) -> HeaderMap {
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, pair.parse().unwrap());
        h
    }

    #[test]
    fn a_state_is_bound_only_in_the_browser_that_started_it() {
        let set = bind(&HeaderMap::new(), "state-a", true).unwrap();
        let s = set.to_str().unwrap();
        assert!(s.contains("HttpOnly") && s.contains("Secure") && s.contains("SameSite=Lax"));
        assert!(
            !s.contains("state-a"),
            "the cookie carries a digest, not the state"
        );
        let mine = headers_after(&set);
        assert!(is_bound(&mine, "state-a"));
        assert!(!is_bound(&mine, "state-b"));
        assert!(!is_bound(&HeaderMap::new(), "state-a"));
        // Two tabs: both stay bound; using one forgets only that one.
        let both = headers_after(&bind(&mine, "state-b", true).unwrap());
        assert!(is_bound(&both, "state-a") && is_bound(&both, "state-b"));
        let after = headers_after(&unbind(&both, "state-a", true).unwrap());
        assert!(!is_bound(&after, "state-a") && is_bound(&after, "state-b"));
        let last = unbind(&after, "state-b", false).unwrap();
        assert!(last.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn only_the_last_few_sign_ins_are_kept() {
        let mut h = HeaderMap::new();
        for i in 0..6 {
            h = headers_after(&bind(&h, &format!("s{i}"), true).unwrap());
        }
        assert!(!is_bound(&h, "s0") && !is_bound(&h, "s1"));
        assert!((2..6).all(|i| is_bound(&h, &format!("s{i}"))));
        assert_eq!(
            state_of("https://x.example/a?b=1&state=s%2F1").as_deref(),
            Some("s/1")
        );
        assert_eq!(state_of("https://x.example/a?b=1"), None);
    }
}
