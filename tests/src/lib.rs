//! The one shared test harness for nhs-portal's cross-crate and end-to-end tests (`tests/tests/`).
//!
//! [`TestPortal::start`] builds the **demo portal** through
//! [`DemoPortal`] (simulated PAS, NHS login simulator, staff
//! worklist, PCA API) on a settable [`ManualClock`] and a [`MemoryStore`] or a temporary SQLite
//! file, and serves it on a loopback port (the portal's NHS login relying party talks to the
//! simulator over HTTP, as it would to NHS login). Tests then drive it:
//!
//! - in-process with [`Client`], a cookie-jar browser that calls [`Portal::handle`] directly
//!   (redirects to the portal's own base URL are followed in-process too);
//! - over HTTP at [`TestPortal::base_url`] with any HTTP client;
//! - through the parts: [`TestPortal::demo`] (store, PAS, simulator, worklist, API, data) and
//!   [`TestPortal::clock`].
//!
//! [`live`] runs the reference portal binary in live mode against local stand-ins (NHS login,
//! the FHIR PAS, the PCA's token issuer) and drives it over HTTP.
//!
//! [`fhir_peer::FhirPeer`] is a test peer for the FHIR adapter: a versioned FHIR stand-in that
//! answers requests concurrently (for races the Medplum peer cannot show).
//!
//! ```no_run
//! # async fn example() {
//! use nhs_portal_tests::TestPortal;
//! let portal = TestPortal::start().await;
//! let mut patient = portal.client();
//! let list = patient.sign_in_as(nhs_portal_pas::demo::ADULT).await;
//! assert_eq!(list.status(), 200);
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use nhs_portal_core::Organisation;
use nhs_portal_core::clock::{Clock, ManualClock};
use nhs_portal_core::store::Store;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_web::demo::{DemoPortal, DemoSettings};
use nhs_portal_web::fhir_api::FhirApiConfig;
use nhs_portal_web::portal::Portal;
use nhs_portal_web::sign_in::SignIn;
use nhs_portal_web::simulator::NOT_NHS_LOGIN;

pub mod browser;
pub mod fhir_peer;
pub mod live;
pub mod pca_spec;
pub mod reporting_service;
pub mod specs;

/// The form field the simulator's sign-in page takes.
pub const NHS_NUMBER_FIELD: &str = "nhs_number";

/// Which store the portal gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// A new [`MemoryStore`].
    #[default]
    Memory,
    /// A SQLite file in a temporary folder, removed when the [`TestPortal`] is dropped.
    Sqlite,
    /// The same SQLite file store behind
    /// [`CachedStore`](nhs_portal_core::store::cached::CachedStore), as the reference portal
    /// runs one SQLite instance.
    CachedSqlite,
}

/// Makes the portal's sign-in from its store and clock (see [`TestPortalBuilder::sign_in`]).
pub type SignInFactory = Box<dyn FnOnce(Arc<dyn Store>, Arc<dyn Clock>) -> Arc<dyn SignIn>>;

/// How to build a [`TestPortal`]: [`TestPortal::builder`], change what the test needs, then
/// [`TestPortalBuilder::start`].
#[derive(Default)]
pub struct TestPortalBuilder {
    now: Option<DateTime<Utc>>,
    store: StoreKind,
    store_url: Option<String>,
    sign_in: Option<SignInFactory>,
    session_idle: Option<chrono::Duration>,
    fhir_api: Option<fn(&mut FhirApiConfig)>,
    staff_trusts: Option<Vec<Organisation>>,
    base_path: String,
    pas: Option<Arc<dyn nhs_portal_pas::PasBackend>>,
}

impl std::fmt::Debug for TestPortalBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPortalBuilder")
            .field("now", &self.now)
            .field("store", &self.store)
            .field("custom_sign_in", &self.sign_in.is_some())
            .finish_non_exhaustive()
    }
}

impl TestPortalBuilder {
    /// The clock's start (default: now). Tokens the simulator mints carry this time, and the NHS
    /// login checks compare them with the real time, so tests that sign in keep it near now.
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The store.
    pub fn store(mut self, store: StoreKind) -> Self {
        self.store = store;
        self
    }

    /// The store at this URL (`sqlite:…` or `postgres://…`) instead of [`StoreKind`]: a test
    /// that restarts the portal starts a second one on the same URL. The test owns the file.
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self
    }

    /// Signs patients in with what `make` returns (given the portal's store and clock) instead
    /// of the simulator: another NHS login, or a test stand-in.
    pub fn sign_in(
        mut self,
        make: impl FnOnce(Arc<dyn Store>, Arc<dyn Clock>) -> Arc<dyn SignIn> + 'static,
    ) -> Self {
        self.sign_in = Some(Box::new(make));
        self
    }

    /// The sessions' inactivity timeout.
    pub fn session_idle(mut self, idle: chrono::Duration) -> Self {
        self.session_idle = Some(idle);
        self
    }

    /// Changes the PCA API's settings.
    pub fn fhir_api(mut self, edit: fn(&mut FhirApiConfig)) -> Self {
        self.fhir_api = Some(edit);
        self
    }

    /// The trusts the staff worklist serves (default both demo trusts): staff signed in to it
    /// see and act on these trusts' requests only.
    pub fn staff_trusts(mut self, trusts: Vec<Organisation>) -> Self {
        self.staff_trusts = Some(trusts);
        self
    }

    /// Serves the patient pages and the PCA API from `pas` instead of the simulated PAS (for
    /// example a `FhirPas` against [`fhir_peer::FhirPeer`] holding a demo patient with the
    /// date of birth NHS login gives); the staff worklist stays on the simulated PAS.
    pub fn pas(mut self, pas: Arc<dyn nhs_portal_pas::PasBackend>) -> Self {
        self.pas = Some(pas);
        self
    }

    /// Serves the portal under a path (`/hospital`): its base URL becomes
    /// `http://127.0.0.1:{port}/hospital`, and every path a test sends must start with it.
    pub fn base_path(mut self, path: &str) -> Self {
        self.base_path = path.trim_end_matches('/').to_owned();
        self
    }

    /// Builds the demo portal and serves it on `127.0.0.1`, a free port.
    ///
    /// # Panics
    /// When the portal cannot be built or served: this is a test harness.
    pub async fn start(self) -> TestPortal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let base_url = format!("http://{addr}{}", self.base_path);
        let clock = Arc::new(ManualClock::new(self.now.unwrap_or_else(Utc::now)));
        let (store, tempdir): (Arc<dyn Store>, _) = match self.store {
            _ if self.store_url.is_some() => {
                let url = self.store_url.as_deref().unwrap_or_default();
                let store = nhs_portal_web::store::connect(url)
                    .await
                    .expect("the store at the URL given");
                (store, None)
            }
            StoreKind::Memory => (Arc::new(MemoryStore::new()), None),
            StoreKind::Sqlite | StoreKind::CachedSqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("portal.sqlite3").display()
                );
                let mut store = nhs_portal_web::store::connect(&url)
                    .await
                    .expect("a SQLite store");
                if self.store == StoreKind::CachedSqlite {
                    store = Arc::new(nhs_portal_core::store::cached::CachedStore::new(store));
                }
                (store, Some(dir))
            }
        };
        let mut settings = DemoSettings::new(&base_url)
            .with_store(store.clone())
            .with_clock(clock.clone());
        settings.session_idle = self.session_idle;
        settings.sign_in = self.sign_in.map(|make| make(store, clock.clone()));
        settings.fhir_api = self.fhir_api;
        settings.staff_trusts = self.staff_trusts;
        settings.pas = self.pas;
        let demo = DemoPortal::build(settings)
            .await
            .expect("the demo portal builds");
        let portal = demo.portal.clone();
        let server = tokio::spawn(serve(listener, move |req| {
            let portal = portal.clone();
            async move { portal.handle(req).await }
        }));
        TestPortal {
            demo,
            clock,
            addr,
            server,
            _tempdir: tempdir,
        }
    }
}

/// The demo portal, built and served for a test. Dropping it stops the server.
#[derive(Debug)]
pub struct TestPortal {
    /// The demo portal and its parts.
    pub demo: DemoPortal,
    /// The clock every part reads; move it with [`ManualClock::advance`] or `set`.
    pub clock: Arc<ManualClock>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    _tempdir: Option<tempfile::TempDir>,
}

impl Drop for TestPortal {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestPortal {
    /// How to build one other than the default.
    pub fn builder() -> TestPortalBuilder {
        TestPortalBuilder::default()
    }

    /// The default: now, a memory store, the simulator signing in.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// The portal service (for in-process calls).
    pub fn portal(&self) -> &Arc<Portal> {
        &self.demo.portal
    }

    /// Its base URL, `http://127.0.0.1:{port}` (and the [`TestPortalBuilder::base_path`], if
    /// any), where it is served.
    pub fn base_url(&self) -> &str {
        &self.demo.base_url
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Now, by the portal's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A new in-process browser with an empty cookie jar.
    pub fn client(&self) -> Client {
        Client {
            portal: self.demo.portal.clone(),
            base_url: self.demo.base_url.clone(),
            origin: format!("http://{}", self.addr),
            cookies: BTreeMap::new(),
        }
    }

    /// A Get Appointments request as the PCA sends it for `patient`, with a bearer token and the
    /// NHS App's ID token for `id_token_patient`, both minted by the simulator.
    pub fn pca_request(&self, patient: &str, id_token_patient: &str) -> Request<Bytes> {
        Request::get(get_appointments_uri(patient))
            .header(
                header::AUTHORIZATION,
                format!(
                    "Bearer {}",
                    self.demo.pca_bearer_token().expect("a bearer token")
                ),
            )
            .header("x-correlation-id", uuid::Uuid::new_v4().to_string())
            .header(
                "nhsd-id-token",
                self.demo
                    .nhs_app_id_token(id_token_patient)
                    .expect("an ID token for a demo patient"),
            )
            .body(Bytes::new())
            .expect("a valid request")
    }

    /// Calls the Get Appointments API in-process for a patient with their own tokens.
    pub async fn get_appointments(&self, patient: &str) -> Response<Bytes> {
        self.demo
            .portal
            .handle(self.pca_request(patient, patient))
            .await
    }

    /// The FHIR Appointment the PCA is given for `patient`'s appointment `id` (through
    /// [`TestPortal::get_appointments`]), or `None` when the Bundle does not hold it.
    ///
    /// # Panics
    /// When the API does not answer 200 with a JSON Bundle.
    pub async fn pca_appointment(&self, patient: &str, id: &str) -> Option<serde_json::Value> {
        let res = self.get_appointments(patient).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
        let bundle: serde_json::Value = serde_json::from_slice(res.body()).expect("a JSON Bundle");
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| &e["resource"])
            .find(|r| r["id"] == id)
            .cloned()
    }
}

/// `/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{patient}`, encoded.
pub fn get_appointments_uri(patient: &str) -> String {
    format!(
        "/fhir/Appointment?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C{patient}"
    )
}

/// Serves `handle` on `listener` with HTTP/1 until the task is dropped or aborted (bodies are
/// collected whole: for tests only).
pub async fn serve<F, Fut>(listener: tokio::net::TcpListener, handle: F)
where
    F: Fn(Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Bytes>> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handle = handle.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let res = handle(Request::from_parts(parts, body)).await;
                    Ok::<_, hyper::Error>(res.map(Full::new))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An in-process browser: a cookie jar in front of [`Portal::handle`].
#[derive(Debug, Clone)]
pub struct Client {
    portal: Arc<Portal>,
    base_url: String,
    /// `http://127.0.0.1:{port}`: absolute URLs on it are sent in-process by their path.
    origin: String,
    cookies: BTreeMap<String, String>,
}

impl Client {
    /// Sends a request with the jar's cookies, and keeps the cookies the response sets (an
    /// empty value or `Max-Age=0` removes one).
    pub async fn send(&mut self, mut req: Request<Bytes>) -> Response<Bytes> {
        if !self.cookies.is_empty() {
            let header = self.cookie_header();
            req.headers_mut().insert(
                header::COOKIE,
                header.parse().expect("cookie values are header-safe"),
            );
        }
        let res = self.portal.handle(req).await;
        keep_cookies(&mut self.cookies, res.headers());
        res
    }

    /// `GET uri` (a path, or an absolute URL on the portal's base URL).
    pub async fn get(&mut self, uri: &str) -> Response<Bytes> {
        let req = Request::get(self.local(uri))
            .body(Bytes::new())
            .expect("a valid request");
        self.send(req).await
    }

    /// `POST uri` with a URL-encoded form.
    pub async fn post_form(&mut self, uri: &str, form: &[(&str, &str)]) -> Response<Bytes> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = Request::post(self.local(uri))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .expect("a valid request");
        self.send(req).await
    }

    /// Follows redirects from `res` (at most 10), each with `GET`, while they stay on the
    /// portal's base URL. Returns the last response and the path it came from.
    pub async fn follow(
        &mut self,
        mut res: Response<Bytes>,
        mut at: String,
    ) -> (Response<Bytes>, String) {
        for _ in 0..10 {
            if !res.status().is_redirection() {
                break;
            }
            let Some(next) = location(&res) else { break };
            if next.starts_with("http") && !next.starts_with(&self.base_url) {
                break;
            }
            at = self.local(&next);
            res = self.get(&at).await;
        }
        (res, at)
    }

    /// `GET uri`, following redirects ([`Client::follow`]).
    pub async fn get_following(&mut self, uri: &str) -> (Response<Bytes>, String) {
        let res = self.get(uri).await;
        self.follow(res, self.local(uri)).await
    }

    /// Signs in as a demo patient through the simulator's real pages: asks for the appointment
    /// list, is sent to NHS login (the simulator), chooses the patient on its sign-in page, and
    /// follows the redirects back. Returns the page it ends on (the list, for an eligible
    /// patient).
    ///
    /// # Panics
    /// When the way there is not the expected one.
    pub async fn sign_in_as(&mut self, nhs_number: &str) -> Response<Bytes> {
        self.sign_in_at("/patient-portal/appointments", nhs_number)
            .await
    }

    /// Like [`Client::sign_in_as`], starting from `path` (a deep link, say).
    pub async fn sign_in_at(&mut self, path: &str, nhs_number: &str) -> Response<Bytes> {
        let (page, at) = self.get_following(path).await;
        assert_eq!(page.status(), StatusCode::OK, "the sign-in page at {at}");
        let html = body_text(&page);
        assert!(
            html.contains(NOT_NHS_LOGIN),
            "the simulator's page at {at}: {html}"
        );
        let action = form_action(&html).unwrap_or(at);
        let res = self
            .post_form(
                &action,
                &[(NHS_NUMBER_FIELD, nhs_number), ("decision", "allow")],
            )
            .await;
        self.follow(res, action).await.0
    }

    /// Fills the first step of a change journey (`{base}/cancel` or `{base}/reschedule`) with
    /// `form` and its CSRF token; returns the path it sends the browser to (the check page).
    /// A cancel first answers "Do you still need this appointment?" with "No"
    /// ([`Client::no_longer_needed`]).
    ///
    /// # Panics
    /// When the form has no CSRF token or the answer is not a redirect.
    pub async fn answer(&mut self, base: &str, step: &str, form: &[(&str, &str)]) -> String {
        if step == "cancel" {
            self.no_longer_needed(base).await;
        }
        let path = format!("{base}/{step}");
        let html = body_text(&self.get(&path).await);
        let csrf = csrf_token(&html).expect("a CSRF token on the form");
        let mut form = form.to_vec();
        form.push(("csrf_token", &csrf));
        let res = self.post_form(&path, &form).await;
        location(&res).unwrap_or_else(|| panic!("{path}: {}", body_text(&res)))
    }

    /// Answers the cancel journey's first question, "Do you still need this appointment?"
    /// (`{base}/cancel/need`), with `answer` (`no-longer-needed` or `cannot-make-it`); returns
    /// the response (a redirect, or the form again with errors).
    ///
    /// # Panics
    /// When the question page has no CSRF token.
    pub async fn still_needed(&mut self, base: &str, answer: Option<&str>) -> Response<Bytes> {
        let path = format!("{base}/cancel/need");
        let html = body_text(&self.get(&path).await);
        let csrf = csrf_token(&html).unwrap_or_else(|| panic!("a CSRF token on {path}: {html}"));
        let mut form = vec![("csrf_token", csrf.as_str())];
        if let Some(a) = answer {
            form.push(("still_needed", a));
        }
        self.post_form(&path, &form).await
    }

    /// Answers "No, I no longer need it", so the cancel journey's reasons follow.
    ///
    /// # Panics
    /// When the answer does not lead to the reasons.
    pub async fn no_longer_needed(&mut self, base: &str) {
        let res = self.still_needed(base, Some("no-longer-needed")).await;
        assert_eq!(
            location(&res).as_deref(),
            Some(format!("{base}/cancel").as_str()),
            "{}",
            body_text(&res)
        );
    }

    /// The confirmation a check page's form posts: its CSRF token, idempotency key and (for a
    /// reschedule) the chosen slot.
    ///
    /// # Panics
    /// When the page has no CSRF token or idempotency key.
    pub fn confirm_form(html: &str) -> Vec<(String, String)> {
        let mut form = vec![
            (
                "csrf_token".to_owned(),
                csrf_token(html).expect("a CSRF token"),
            ),
            (
                "idempotency_key".to_owned(),
                input_value(html, "idempotency_key").expect("an idempotency key"),
            ),
        ];
        if let Some(slot) = input_value(html, "slot") {
            form.push(("slot".to_owned(), slot));
        }
        form
    }

    /// `POST path` with owned form pairs.
    pub async fn post_pairs(&mut self, path: &str, form: &[(String, String)]) -> Response<Bytes> {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post_form(path, &form).await
    }

    /// Signs in to the staff worklist (`POST /staff/sign-in`) with a name and access code and
    /// follows the redirect; returns the page it ends on (the worklist, when the code is right;
    /// the sign-in page again, 401, when it is not).
    pub async fn sign_in_as_staff(&mut self, name: &str, code: &str) -> Response<Bytes> {
        let res = self
            .post_form("/staff/sign-in", &[("name", name), ("code", code)])
            .await;
        self.follow(res, "/staff/sign-in".to_owned()).await.0
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// The `Cookie` header this client sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn local(&self, uri: &str) -> String {
        match uri.strip_prefix(&self.origin) {
            Some("") => "/".to_owned(),
            Some(rest) => rest.to_owned(),
            None => uri.to_owned(),
        }
    }
}

/// Keeps in `jar` the cookies a response sets (an empty value or `Max-Age=0` removes one;
/// other attributes are not enforced).
pub fn keep_cookies(jar: &mut BTreeMap<String, String>, headers: &http::HeaderMap) {
    for set in headers.get_all(header::SET_COOKIE) {
        let set = set.to_str().unwrap_or("");
        let mut parts = set.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        if value.is_empty() || expired {
            jar.remove(name.trim());
        } else {
            jar.insert(name.trim().to_owned(), value.to_owned());
        }
    }
}

/// A response's body as text.
pub fn body_text(res: &Response<Bytes>) -> String {
    String::from_utf8_lossy(res.body()).into_owned()
}

/// A redirect's `Location`.
pub fn location(res: &Response<Bytes>) -> Option<String> {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The first CSRF token on a page (`name="csrf_token" value="…"`).
pub fn csrf_token(html: &str) -> Option<String> {
    attribute_after(html, "name=\"csrf_token\"", "value")
}

/// The `value` of the first `<input>` named `name` on a page (attributes in any order), HTML
/// entities undone.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let wanted = format!("name=\"{name}\"");
    html.match_indices("<input").find_map(|(at, _)| {
        let tag = &html[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if !tag.contains(&wanted) {
            return None;
        }
        let start = tag.find("value=\"")? + "value=\"".len();
        tag[start..].split('"').next().map(unescape)
    })
}

/// The first form's `action` on a page, HTML entities undone.
pub fn form_action(html: &str) -> Option<String> {
    attribute_after(html, "<form", "action")
}

fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let from = html.find(marker)?;
    let rest = &html[from..];
    let end = rest.find('>').unwrap_or(rest.len());
    let tag = &rest[..end];
    let key = format!("{attribute}=\"");
    let start = tag.find(&key)? + key.len();
    let value = tag[start..].split('"').next()?;
    Some(unescape(value))
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_actions_are_read_from_pages() {
        let html = r#"<form method="post" action="/a?b=1&amp;c=2"><input type="hidden" name="csrf_token" value="t-1"></form>"#;
        assert_eq!(csrf_token(html).as_deref(), Some("t-1"));
        assert_eq!(form_action(html).as_deref(), Some("/a?b=1&c=2"));
        assert_eq!(csrf_token("<p>none</p>"), None);
        let radios = r#"<input id="s" name="slot" type="radio" value="s-1"><input value="k&amp;1" name="key">"#;
        assert_eq!(input_value(radios, "slot").as_deref(), Some("s-1"));
        assert_eq!(input_value(radios, "key").as_deref(), Some("k&1"));
        assert_eq!(input_value(radios, "other"), None);
    }
}
