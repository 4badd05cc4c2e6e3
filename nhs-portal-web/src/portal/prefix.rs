//! The portal under a path prefix: the one place that moves it off `/`.
//!
//! Everything inside the portal is written as if it were served at `/`: the route table, every
//! mounted [`Handler`](crate::http_kit::Handler) (the PCA API, the simulators, the staff pages),
//! every template and view model, every redirect and cookie. When the base URL has a path
//! (`https://trust.example/hospital`), [`Portal::handle`](super::Portal::handle) applies a
//! [`PathPrefix`] to each request and its response, and nothing else needs to know:
//!
//! - **in**: a request under the prefix has it removed from its path (`/hospital` alone becomes
//!   `/`); any other path is "not found" before anything else sees it;
//! - **out**: a root-relative `Location` (`/…`, not `//…`) gets the prefix; so does a `Path`
//!   attribute of each `Set-Cookie`; and in an HTML body (`Content-Type: text/html`), each
//!   root-relative value of a double-quoted `href`, `src`, `action` or `formaction` attribute,
//!   and of any `data-…-href` attribute (the page script reads those). Absolute URLs (deep links,
//!   NHS login, the base URL itself) are left alone: they are built from the base URL and carry
//!   the prefix already.
//!
//! So a new route, template or mounted handler is served under the prefix without doing
//! anything, as long as its URLs are root-relative in those places. The page script and style
//! sheets reference other assets by relative URLs (`../nhsuk/…`), never by root-relative ones.
//! `tests/tests/path_prefix.rs` walks the demo portal under `/hospital` and fails on any link,
//! form, redirect, cookie or asset that leaves it.
//!
//! Written by hand rather than with an HTML rewriting crate: the pages are our own templates,
//! whose attributes are always double-quoted, and the scan is a few dozen lines.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri, header};

/// A base URL's path (`/hospital`; empty for a portal at `/`), applied to requests and responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPrefix(String);

/// Attributes whose root-relative values are moved under the prefix.
const URL_ATTRIBUTES: [&str; 4] = ["href", "src", "action", "formaction"];

impl PathPrefix {
    /// The prefix of a base URL's path (a trailing `/` is dropped; `/` alone is no prefix).
    pub(crate) fn new(base_path: &str) -> Self {
        Self(base_path.trim_end_matches('/').to_owned())
    }

    /// The request with the prefix removed from its path, or `None` when its path is not under
    /// the prefix.
    pub(crate) fn inward(&self, mut req: Request<Bytes>) -> Option<Request<Bytes>> {
        if self.0.is_empty() {
            return Some(req);
        }
        let path = req.uri().path();
        let inner = match path.strip_prefix(self.0.as_str())? {
            "" => "/",
            rest if rest.starts_with('/') => rest,
            _ => return None,
        };
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{inner}?{q}"),
            None => inner.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query.parse().ok()?);
        *req.uri_mut() = Uri::from_parts(parts).ok()?;
        Some(req)
    }

    /// The response with its root-relative redirect, cookie paths and HTML links moved under
    /// the prefix.
    pub(crate) fn outward(&self, mut res: Response<Bytes>) -> Response<Bytes> {
        if self.0.is_empty() {
            return res;
        }
        let headers = res.headers_mut();
        if let Some(moved) = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.url(v))
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::LOCATION, moved);
        }
        if let header::Entry::Occupied(cookies) = headers.entry(header::SET_COOKIE) {
            let (_, values) = cookies.remove_entry_mult();
            let moved: Vec<HeaderValue> = values.map(|v| self.cookie(v)).collect();
            for v in moved {
                headers.append(header::SET_COOKIE, v);
            }
        }
        let html = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if html && let Ok(body) = std::str::from_utf8(res.body()) {
            let moved = self.html(body);
            *res.body_mut() = Bytes::from(moved);
        }
        res
    }

    /// `url` under the prefix, when it is root-relative.
    fn url(&self, url: &str) -> Option<String> {
        (url.starts_with('/') && !url.starts_with("//")).then(|| format!("{}{url}", self.0))
    }

    /// A `Set-Cookie` value with its `Path` under the prefix.
    fn cookie(&self, value: HeaderValue) -> HeaderValue {
        let Ok(text) = value.to_str() else {
            return value;
        };
        let moved: Vec<String> = text
            .split(';')
            .map(|attr| {
                let trimmed = attr.trim_start();
                match trimmed.get(..5) {
                    Some(name) if name.eq_ignore_ascii_case("path=") => {
                        let path = &trimmed[5..];
                        let lead = &attr[..attr.len() - trimmed.len()];
                        match self.url(path) {
                            // `Path=/` is the whole portal: the prefix itself.
                            Some(_) if path == "/" => format!("{lead}Path={}", self.0),
                            Some(p) => format!("{lead}Path={p}"),
                            None => attr.to_owned(),
                        }
                    }
                    _ => attr.to_owned(),
                }
            })
            .collect();
        HeaderValue::from_str(&moved.join(";")).unwrap_or(value)
    }

    /// An HTML page with each root-relative URL attribute moved under the prefix.
    fn html(&self, body: &str) -> String {
        let mut out = String::with_capacity(body.len() + 256);
        let mut rest = body;
        while let Some(at) = rest.find("=\"/") {
            let (before, after) = rest.split_at(at + 2);
            out.push_str(before);
            let name_start = before[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let name = before[name_start..at].to_ascii_lowercase();
            let is_url = URL_ATTRIBUTES.contains(&name.as_str())
                || (name.starts_with("data-") && name.ends_with("-href"));
            if is_url && !after.starts_with("//") {
                out.push_str(&self.0);
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hospital() -> PathPrefix {
        PathPrefix::new("/hospital/")
    }

    #[test]
    fn requests_under_the_prefix_lose_it_and_others_are_refused() {
        let cases = [
            ("/hospital", Some("/")),
            ("/hospital/", Some("/")),
            ("/hospital/sign-in?x=1", Some("/sign-in?x=1")),
            (
                "/hospital/patient-portal/appointments",
                Some("/patient-portal/appointments"),
            ),
            ("/hospitals/sign-in", None),
            ("/sign-in", None),
            ("/", None),
        ];
        for (path, want) in cases {
            let req = Request::get(path).body(Bytes::new()).unwrap();
            let got = hospital().inward(req).map(|r| r.uri().to_string());
            assert_eq!(got.as_deref(), want, "{path}");
        }
        let root = PathPrefix::new("/");
        let req = Request::get("/sign-in").body(Bytes::new()).unwrap();
        assert_eq!(root.inward(req).unwrap().uri(), "/sign-in");
    }

    #[test]
    fn redirects_and_cookie_paths_move_under_the_prefix() {
        let cases = [
            (
                "/patient-portal/appointments",
                "/hospital/patient-portal/appointments",
            ),
            (
                "https://login.example/authorize?a=1",
                "https://login.example/authorize?a=1",
            ),
            ("//elsewhere.example/x", "//elsewhere.example/x"),
        ];
        for (location, want) in cases {
            let mut res = Response::new(Bytes::new());
            res.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(location));
            let res = hospital().outward(res);
            assert_eq!(res.headers()[header::LOCATION], want, "{location}");
        }
        let mut res = Response::new(Bytes::new());
        for c in [
            "portal_session=abc; HttpOnly; Path=/; Secure",
            "staff=1; path=/staff; SameSite=Strict",
            "other=2; Max-Age=0",
        ] {
            res.headers_mut()
                .append(header::SET_COOKIE, HeaderValue::from_static(c));
        }
        let res = hospital().outward(res);
        let got: Vec<&str> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "portal_session=abc; HttpOnly; Path=/hospital; Secure",
                "staff=1; Path=/hospital/staff; SameSite=Strict",
                "other=2; Max-Age=0",
            ]
        );
    }

    #[test]
    fn html_url_attributes_move_and_nothing_else_does() {
        let page = concat!(
            r#"<link href="/assets/a.css"><a href="/privacy">x</a>"#,
            r#"<form action="/sign-out"><button formaction="/session/extend">"#,
            r#"<script src="/assets/p.mjs"></script><a href="https://111.nhs.uk/">"#,
            r##"<a href="//cdn.example/x"><a href="#main"><div data-timed-out-href="/session/timed-out">"##,
            r#"<p title="/not-a-link" data-x="/nor-this">/plain text="/also-not"</p>"#,
        );
        let mut res = Response::new(Bytes::from(page));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let res = hospital().outward(res);
        let want = concat!(
            r#"<link href="/hospital/assets/a.css"><a href="/hospital/privacy">x</a>"#,
            r#"<form action="/hospital/sign-out"><button formaction="/hospital/session/extend">"#,
            r#"<script src="/hospital/assets/p.mjs"></script><a href="https://111.nhs.uk/">"#,
            r##"<a href="//cdn.example/x"><a href="#main"><div data-timed-out-href="/hospital/session/timed-out">"##,
            r#"<p title="/not-a-link" data-x="/nor-this">/plain text="/also-not"</p>"#,
        );
        assert_eq!(std::str::from_utf8(res.body()).unwrap(), want);
        // Not HTML: untouched.
        let mut json = Response::new(Bytes::from_static(br#"{"href":"/x"}"#));
        json.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let json = hospital().outward(json);
        assert_eq!(json.body().as_ref(), br#"{"href":"/x"}"#);
    }

    #[test]
    fn no_prefix_changes_nothing() {
        let root = PathPrefix::new("");
        let mut res = Response::new(Bytes::from_static(br#"<a href="/x">"#));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        res.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/y"));
        let res = root.outward(res);
        assert_eq!(res.headers()[header::LOCATION], "/y");
        assert_eq!(res.body().as_ref(), br#"<a href="/x">"#);
    }
}
