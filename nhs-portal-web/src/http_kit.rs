//! The HTTP kit every web room shares: reading cookies, forms and query strings; building
//! responses; the [`Handler`] trait things are mounted in the portal by; and the security
//! headers, chosen by the handler through the [`ResponseKind`] it puts on the response.
//!
//! (About 380 lines of code and 120 of table tests beside them: the kit is one seam, and
//! splitting it would scatter the security-header rule.)
//!
//! Nothing here knows a page or a rule: the patient pages, the staff pages, the PCA API and the
//! NHS login simulator use these helpers instead of private copies.
//!
//! ```
//! use nhs_portal_web::http_kit::{self, Form, ResponseKind};
//! let form = Form::parse(b"reason=other&details=a%20b");
//! assert_eq!(form.get("details"), Some("a b"));
//! let res = http_kit::redirect("/patient-portal/appointments");
//! assert_eq!(res.status(), 303);
//! assert_eq!(ResponseKind::of(&res), ResponseKind::Redirect);
//! ```

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use serde::Serialize;

/// Something mounted in the portal under a path prefix (the PCA API, the NHS login simulator,
/// the staff worklist): [`crate::portal::Portal::mount`] takes any `Handler`.
#[async_trait]
pub trait Handler: Send + Sync {
    /// Handles a request whose path starts with the mount prefix (the mount prefix is kept; the
    /// base URL's path, when the portal has one, is not: write paths as if the portal were at
    /// `/`, and the portal moves root-relative links, redirects and cookie paths under it).
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes>;
}

#[async_trait]
impl<H: Handler + ?Sized> Handler for std::sync::Arc<H> {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        (**self).handle(req).await
    }
}

/// What a response is, set by the handler that made it: the portal's last step adds the
/// security headers that kind needs ([`with_security_headers`]), never by sniffing the
/// `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseKind {
    /// An HTML page from the portal's templates: gets the portal's Content-Security-Policy and
    /// `Cache-Control: no-store`.
    Page,
    /// A redirect.
    Redirect,
    /// A static file (cacheable).
    Asset,
    /// A JSON or FHIR API answer.
    Api,
    /// Anything else (plain text, or HTML with its own policy such as the simulator's):
    /// only the headers every response carries.
    #[default]
    Other,
}

impl ResponseKind {
    /// The kind a response was marked with ([`ResponseKind::Other`] when unmarked).
    pub fn of<B>(res: &Response<B>) -> Self {
        res.extensions().get::<Self>().copied().unwrap_or_default()
    }

    /// Marks a response with this kind.
    pub fn mark<B>(self, mut res: Response<B>) -> Response<B> {
        res.extensions_mut().insert(self);
        res
    }
}

/// The hash of the NHS.UK frontend's inline `js-enabled` snippet (allowed by the CSP).
pub const JS_ENABLED_SNIPPET_HASH: &str = "sha256-tDOvXJi1PXbg0CWjLCCYSNHRXtps26K4JXkE3M6u/c0=";

/// Where the NHS App JavaScript API is loaded from (allowed by the CSP).
pub const NHS_APP_JS_ORIGIN: &str = "https://www.nhsapp.service.nhs.uk";

/// The Content-Security-Policy of the portal's pages.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'self'; script-src 'self' '{JS_ENABLED_SNIPPET_HASH}' {NHS_APP_JS_ORIGIN}; \
         style-src 'self'; img-src 'self' data:; font-src 'self' https://assets.nhs.uk; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    )
}

/// The `Permissions-Policy` of every response: the portal uses no device feature, so none is
/// granted to it or to anything it embeds.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// Whether a request that changes something (a POST) came from another site, by what the
/// browser says: the second CSRF defence beside each form's token. The reading taken:
///
/// - `Sec-Fetch-Site: same-origin` or `none` (typed or bookmarked) passes; `same-site` (a
///   sibling subdomain) and `cross-site` are refused, and so is any other value.
/// - `Origin`, when sent, must be `own_origin` exactly (`scheme://host[:port]`). `Origin: null`
///   says nothing either way and is left to `Sec-Fetch-Site`: browsers send it for the portal's
///   own forms, because every page has `Referrer-Policy: no-referrer`; a sandboxed frame on
///   another site sends it too, with `Sec-Fetch-Site: cross-site`.
/// - Neither header (older browsers, and servers such as the portal's own relying party calling
///   the NHS login simulator's token endpoint): passes, and the form's CSRF token alone decides.
///
/// ```
/// use http::HeaderMap;
/// use nhs_portal_web::http_kit::is_cross_site;
/// let own = "https://portal.example.nhs.uk";
/// let mut h = HeaderMap::new();
/// assert!(!is_cross_site(&h, own));
/// h.insert("origin", "https://evil.example".parse().unwrap());
/// assert!(is_cross_site(&h, own));
/// h.insert("origin", own.parse().unwrap());
/// assert!(!is_cross_site(&h, own));
/// h.insert("sec-fetch-site", "cross-site".parse().unwrap());
/// assert!(is_cross_site(&h, own));
/// ```
pub fn is_cross_site(headers: &HeaderMap, own_origin: &str) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    if fetch_site
        .as_deref()
        .is_some_and(|s| s != "same-origin" && s != "none")
    {
        return true;
    }
    headers.get(header::ORIGIN).is_some_and(|origin| {
        !origin.to_str().is_ok_and(|o| {
            let o = o.trim();
            o == "null" || o.eq_ignore_ascii_case(own_origin.trim_end_matches('/'))
        })
    })
}

/// Adds the security headers every response carries, and those its [`ResponseKind`] needs
/// (the CSP on [`ResponseKind::Page`]). Headers the handler set itself are kept.
pub fn with_security_headers(mut res: Response<Bytes>) -> Response<Bytes> {
    let page = ResponseKind::of(&res) == ResponseKind::Page;
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if !h.contains_key(&name)
            && let Ok(v) = HeaderValue::from_str(value)
        {
            h.insert(name, v);
        }
    };
    set(
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    set(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if page {
        set(header::CONTENT_SECURITY_POLICY, &content_security_policy());
        set(header::CACHE_CONTROL, "no-store");
    }
    res
}

fn build(
    status: StatusCode,
    content_type: &'static str,
    kind: ResponseKind,
    body: Bytes,
) -> Response<Bytes> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    kind.mark(res)
}

/// A file the browser saves rather than shows (`Content-Disposition: attachment`), not cached.
/// `filename` must be plain ASCII without quotes.
pub fn download(content_type: &'static str, filename: &str, body: Bytes) -> Response<Bytes> {
    let mut res = build(StatusCode::OK, content_type, ResponseKind::Other, body);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// A page from the portal's templates ([`ResponseKind::Page`]), not cached.
pub fn page(status: StatusCode, html: String) -> Response<Bytes> {
    build(
        status,
        "text/html; charset=utf-8",
        ResponseKind::Page,
        Bytes::from(html),
    )
}

/// HTML that brings its own policy (the simulator's pages), not cached.
pub fn foreign_html(status: StatusCode, html: String) -> Response<Bytes> {
    build(
        status,
        "text/html; charset=utf-8",
        ResponseKind::Other,
        Bytes::from(html),
    )
}

/// Escapes text for HTML content and quoted attribute values (`&`, `<`, `>`, `"`, `'`), for the
/// few pages built without the templates (the simulators').
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A plain-text answer.
pub fn text(status: StatusCode, message: &'static str) -> Response<Bytes> {
    build(
        status,
        "text/plain; charset=utf-8",
        ResponseKind::Other,
        Bytes::from_static(message.as_bytes()),
    )
}

/// A JSON answer of `content_type` (`application/json`, `application/fhir+json`), not cached.
pub fn json_as(
    status: StatusCode,
    content_type: &'static str,
    body: &impl Serialize,
) -> Response<Bytes> {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes_as(status, content_type, Bytes::from(bytes)),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

/// A JSON answer of `content_type` already serialized (as [`json_as`] would, for a caller that
/// writes its own buffer), not cached.
pub fn json_bytes_as(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Bytes> {
    build(status, content_type, ResponseKind::Api, body)
}

/// A JSON answer (`application/json`), not cached.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Bytes> {
    json_as(status, "application/json", body)
}

/// `303 See Other` to `location` (post/redirect/get), not cached.
pub fn redirect(location: &str) -> Response<Bytes> {
    redirect_with(StatusCode::SEE_OTHER, location)
}

/// A redirect with this status (`302 Found` for OAuth redirects), not cached. A location that
/// is not valid header text gets a 500.
pub fn redirect_with(status: StatusCode, location: &str) -> Response<Bytes> {
    let Ok(location) = HeaderValue::from_str(location) else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    };
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = status;
    res.headers_mut().insert(header::LOCATION, location);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ResponseKind::Redirect.mark(res)
}

/// A static file, cacheable for an hour.
pub fn asset(content_type: &'static str, body: Bytes) -> Response<Bytes> {
    let mut res = build(StatusCode::OK, content_type, ResponseKind::Asset, body);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// Adds a `Set-Cookie` header (none when `set_cookie` is `None`).
pub fn with_cookie(
    mut res: Response<Bytes>,
    set_cookie: impl Into<Option<HeaderValue>>,
) -> Response<Bytes> {
    if let Some(v) = set_cookie.into() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The `Set-Cookie` value of a cookie (percent-encoded).
pub fn set_cookie_value(c: &cookie::Cookie<'_>) -> Option<HeaderValue> {
    HeaderValue::from_str(&c.encoded().to_string()).ok()
}

/// One cookie's value from the request headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse_encoded(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The address a request came from, as the server that accepted the connection saw it: a
/// server that knows it inserts this as a request extension (the portal owns no sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// A key for the client a request came from, for per-client limits: the last `X-Forwarded-For`
/// hop (the one the reverse proxy in front of the portal added), else the [`ClientAddr`]
/// extension, else `"unknown"` (all such clients share one key). Without a proxy that sets the
/// header anyone can choose their key, so limits keyed by it need an overall ceiling too.
///
/// ```
/// use nhs_portal_web::http_kit::client_key;
/// let req = http::Request::get("/").header("x-forwarded-for", "198.51.100.1, 203.0.113.9").body(()).unwrap();
/// assert_eq!(client_key(&req), "203.0.113.9");
/// assert_eq!(client_key(&http::Request::get("/").body(()).unwrap()), "unknown");
/// ```
pub fn client_key<B>(req: &Request<B>) -> String {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|hop| !hop.is_empty())
        .map(|hop| hop.chars().take(64).collect());
    forwarded
        .or_else(|| {
            req.extensions()
                .get::<ClientAddr>()
                .map(|a| a.0.to_string())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The bearer token of an `Authorization` header (scheme case-insensitive), if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A `application/x-www-form-urlencoded` form (a request body or a query string), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// Parses a request's query string (none is an empty form).
    pub fn query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or("").as_bytes())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The form as a map (a key given twice keeps its last value).
    pub fn into_map(self) -> std::collections::HashMap<String, String> {
        self.0.into_iter().collect()
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One query parameter's first value.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    Form::query(query).get(key).map(str::to_owned)
}

/// `path` with the query `q`, encoded (just `path` when `q` is empty).
pub fn with_query(path: &str, q: &[(&str, String)]) -> String {
    if q.is_empty() {
        return path.to_owned();
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_their_query_and_encode_it() {
        assert_eq!(with_query("/p", &[]), "/p");
        assert_eq!(
            with_query("/p", &[("site", "a b&c".into()), ("page", "2".into())]),
            "/p?site=a+b%26c&page=2"
        );
    }

    #[test]
    fn forms_and_queries_decode_and_keep_order() {
        let f = Form::parse(b"a=1&b=x+y&a=2&c=%2Fp");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(f.get("b"), Some("x y"));
        assert_eq!(f.get("c"), Some("/p"));
        assert_eq!(f.get("d"), None);
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(
            query_param(Some("return_to=%2Fx"), "return_to").as_deref(),
            Some("/x")
        );
    }

    #[test]
    fn cookies_are_found_among_several_headers() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; b=two%20words"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie_value(&h, "b").as_deref(), Some("two words"));
        assert_eq!(cookie_value(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie_value(&h, "d"), None);
    }

    #[test]
    fn bearer_tokens_need_the_scheme_and_a_value() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer", None),
        ];
        for (value, want) in cases {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&h), want, "{value}");
        }
    }

    #[test]
    fn the_csp_goes_on_pages_only_and_set_headers_are_kept() {
        let p = with_security_headers(page(StatusCode::OK, "<p>x</p>".into()));
        assert!(p.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(p.headers()[header::X_FRAME_OPTIONS], "DENY");
        // HTML that is not one of the portal's pages keeps its own policy (none here)...
        let f = with_security_headers(foreign_html(StatusCode::OK, "<p>x</p>".into()));
        assert!(!f.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(f.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // ...and a JSON body is never a page, whatever it contains.
        let j = with_security_headers(json(StatusCode::OK, &"<html>"));
        assert!(!j.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let a = with_security_headers(asset("text/css", Bytes::new()));
        assert_eq!(a.headers()[header::CACHE_CONTROL], "public, max-age=3600");
    }

    #[test]
    fn cross_site_requests_are_told_by_sec_fetch_site_and_origin() {
        let own = "http://127.0.0.1:8080";
        // (Sec-Fetch-Site, Origin, cross-site)
        let cases = [
            (None, None, false),
            (Some("same-origin"), None, false),
            (Some("none"), None, false),
            (Some("same-origin"), Some(own), false),
            (None, Some(own), false),
            (None, Some("HTTP://127.0.0.1:8080"), false),
            (Some("cross-site"), None, true),
            (Some("same-site"), None, true),
            (Some("weird"), None, true),
            (None, Some("https://evil.example"), true),
            (None, Some("http://127.0.0.1:8081"), true),
            (None, Some("null"), false),
            (Some("same-origin"), Some("null"), false),
            (Some("cross-site"), Some("null"), true),
            (Some("same-origin"), Some("https://evil.example"), true),
            (Some("cross-site"), Some(own), true),
        ];
        for (site, origin, want) in cases {
            let mut h = HeaderMap::new();
            if let Some(s) = site {
                h.insert("sec-fetch-site", HeaderValue::from_static(s));
            }
            if let Some(o) = origin {
                h.insert(header::ORIGIN, HeaderValue::from_static(o));
            }
            assert_eq!(is_cross_site(&h, own), want, "{site:?} {origin:?}");
        }
    }

    #[test]
    fn every_response_has_a_permissions_and_opener_policy() {
        for res in [
            page(StatusCode::OK, String::new()),
            json(StatusCode::OK, &1),
            redirect("/"),
        ] {
            let res = with_security_headers(res);
            assert_eq!(res.headers()["permissions-policy"], PERMISSIONS_POLICY);
            assert_eq!(res.headers()["cross-origin-opener-policy"], "same-origin");
        }
    }

    #[test]
    fn redirects_are_303_and_not_cached() {
        let r = redirect("/x?y=1");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/x?y=1");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            redirect("bad\nheader").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
