//! A **test peer, not a FHIR server**: a small in-process stand-in for a trust PAS's FHIR R4
//! REST API that behaves the way real servers do where the FHIR adapter must cope, and answers
//! requests concurrently (the Medplum peer handles one request at a time).
//!
//! What it serves, on a loopback port ([`FhirPeer::start_with`] and [`PeerOptions`]):
//!
//! - reads (`GET {type}/{id}`, with `ETag`) and searches as `searchset` Bundles (`search`), paged
//!   when [`PeerOptions::page_size`] is set, with `next` links relative to the base, absolute,
//!   or naming another origin (a proxy's internal base, [`NextLinks`]); unknown search
//!   parameters are refused with 400, as HAPI does by default;
//! - writes (`write`): `PUT` and JSON Patch `PATCH` with `If-Match` (412 on a stale version,
//!   the check and the write one step), status transitions a PAS refuses (422 with an
//!   OperationOutcome), records a "staff member" locked (422 with the lock's text), and the
//!   three slot regimes of [`SlotMode`]: client-managed Slots, server-owned Slots moved only by
//!   `Appointment/{id}/$book` and freed by `$cancel` (a `PUT` of a Slot is 405), and PATCH-only
//!   (every `PUT` is 405); writes answer with no body when [`PeerOptions::minimal_writes`];
//! - transaction Bundles (`transaction`, [`SlotMode::Transaction`]): `POST {base}`, each entry a
//!   `PUT` with `request.ifMatch`, all or nothing, answered with a `transaction-response`
//!   Bundle; [`FhirPeer::race_next_transaction`] lands another client's write first;
//! - FHIR Subscriptions (`subscription`, [`PeerOptions::subscriptions`]): `POST Subscription`
//!   (backport, rest-hook), a handshake, then a notification per Appointment change (full
//!   resource or id only), sent when the test calls [`FhirPeer::deliver_notifications`];
//! - its `CapabilityStatement` at `metadata`, saying which of those it offers;
//! - SMART Backend Services (`auth`, [`PeerAuth`]): `POST token` takes a `client_credentials`
//!   grant with a `private_key_jwt` assertion (RS384, checked against the client's public key,
//!   audience, expiry and `jti` replay) and every FHIR call then needs a current bearer token
//!   (401 with `WWW-Authenticate` otherwise; [`FhirPeer::expire_tokens`] ends them all);
//! - `_include=Appointment:actor` on Appointment searches (the actors' resources as `include`
//!   entries, and `searchInclude` in the CapabilityStatement), unless [`PeerOptions::no_include`];
//! - deletions ([`FhirPeer::delete`]: 410 to reads) and `_history` (`history`): the type's
//!   history since a time, deletions included, and a resource's, so a deletion can be told;
//! - https with the test-only certificates in `tests/fixtures/mtls`, asking for a client
//!   certificate when [`PeerTls::client_certificate_required`] (`tls`, [`PeerOptions::tls`]);
//! - requests that hang ([`FhirPeer::hang_next`]: never answered, or answered late), for the
//!   adapter's deadline (`hang`);
//! - an outage part-way through a piece of work (`crash`, [`FhirPeer::fail_after_writes`]);
//! - injected faults ([`FhirPeer::fail_next`]: a status and a `Retry-After`; and
//!   [`FhirPeer::fail_always`]: one resource that always answers a status), `meta.lastUpdated`
//!   stamped early on purpose ([`PeerOptions::stamp_early`], as servers that stamp before they
//!   commit), and a log of what each request carried ([`FhirPeer::requests`]).
//!
//! Each answer is held back for a few milliseconds after it is decided, so two clients that read
//! a resource at about the same time both see the version before either writes, as they would
//! with a real server under load.
//!
//! (Over 400 lines with its submodules: one peer, whose parts share its state; each part is in
//! its own file.)

mod auth;
mod crash;
mod hang;
mod history;
mod search;
mod subscription;
mod tls;
mod transaction;
mod write;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

pub use auth::PeerAuth;
pub use hang::Hang;
pub use tls::{PeerTls, client_identity_pem, stranger_identity_pem};

/// Who owns the Slots, and which writes the peer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlotMode {
    /// Clients claim and free Slots themselves with `PUT`/`PATCH` (the adapter's default path).
    #[default]
    ClientManaged,
    /// The server owns its Slots: `PUT` of a Slot is 405; an appointment moves only through
    /// `POST Appointment/{id}/$book` (parameter `slot`) and is cancelled through
    /// `POST Appointment/{id}/$cancel` (parameter `reason`) or a status write, which free its
    /// slot when no other booking holds it.
    ServerOwned,
    /// Every `PUT` is 405: writes are JSON Patch only.
    PatchOnly,
    /// Client-managed Slots, and `transaction` Bundles offered (`POST {base}`, all or nothing,
    /// `request.ifMatch` on each entry; see `transaction`).
    Transaction,
}

/// How `next` links are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextLinks {
    /// Relative to the base (`Appointment?_page=…`).
    Relative,
    /// Absolute on the peer's own base.
    #[default]
    Absolute,
    /// Absolute on another origin (`http://pas-internal.invalid:8080/fhir/…`), as a server
    /// behind a proxy that does not know its public base writes them.
    OtherOrigin,
}

/// The internal base [`NextLinks::OtherOrigin`] links name.
pub const INTERNAL_BASE: &str = "http://pas-internal.invalid:8080/fhir/";

/// How the peer behaves. `Default` is the plain peer: client-managed Slots, no paging, full
/// answers, no auth.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// Who owns the Slots.
    pub slots: SlotMode,
    /// The largest page a search answers (a smaller `_count` wins); `None` for one page.
    pub page_size: Option<usize>,
    /// How `next` links are written.
    pub next_links: NextLinks,
    /// Writes answer `200` with no body (as `Prefer: return=minimal`), whatever was asked.
    pub minimal_writes: bool,
    /// `meta.lastUpdated` is stamped this much before the write (servers that stamp a change
    /// before it commits).
    pub stamp_early: chrono::Duration,
    /// SMART Backend Services: the client allowed a token, and how long tokens last.
    pub auth: Option<PeerAuth>,
    /// `_include` is neither offered nor taken (a search with it is refused with 400).
    pub no_include: bool,
    /// Serve https (with the test-only certificates), and perhaps ask for a client certificate.
    pub tls: Option<PeerTls>,
    /// FHIR Subscriptions (backport, rest-hook) offered (see `subscription`).
    pub subscriptions: bool,
}

/// What one request carried, as [`FhirPeer::requests`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The method.
    pub method: Method,
    /// The path and query.
    pub target: String,
    /// The `X-Correlation-ID` header.
    pub correlation_id: Option<String>,
    /// Whether an `Authorization` header was sent.
    pub authorised: bool,
    /// The `Prefer` header.
    pub prefer: Option<String>,
}

#[derive(Debug, Clone)]
struct Fault {
    status: StatusCode,
    retry_after: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    /// `(type, id)` to `(version, body)`.
    by_key: HashMap<(String, String), (u64, Value)>,
    /// Search results kept for their next pages, by search id.
    pages: HashMap<String, Vec<Value>>,
    next_search: u64,
    faults: Vec<Fault>,
    /// Resources (`Type/id`) every request for which answers a status ([`FhirPeer::fail_always`]).
    broken: HashMap<String, StatusCode>,
    /// Resources a "staff member" has open, with the text a write is refused with.
    locked: HashMap<(String, String), String>,
    /// Access tokens and when they expire.
    tokens: HashMap<String, DateTime<Utc>>,
    /// Assertion ids already used (replays are refused).
    used_jti: HashSet<String>,
    token_requests: usize,
    log: Vec<Logged>,
    /// Requests still to hang, in order.
    hangs: Vec<hang::Planned>,
    /// Resources deleted, with their last version.
    deleted: Vec<history::Deleted>,
    /// Resources another client writes just before the next transaction is carried out
    /// ([`FhirPeer::race_next_transaction`]).
    races: Vec<Value>,
    /// Subscription notifications waiting for [`FhirPeer::deliver_notifications`].
    outbox: Vec<subscription::Pending>,
    /// Events notified so far, per Subscription.
    notified: HashMap<String, u64>,
    /// Notification bodies sent.
    sent: Vec<Value>,
    /// An outage part-way through a piece of work ([`FhirPeer::fail_after_writes`]).
    crash: crash::Crash,
}

struct Peer {
    base_url: String,
    options: PeerOptions,
    state: Mutex<State>,
}

impl Peer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The instant a write made now is stamped with.
    fn stamp(&self) -> DateTime<Utc> {
        Utc::now() - self.options.stamp_early
    }
}

/// The FHIR stand-in, served until it is dropped. See the [module documentation](self).
pub struct FhirPeer {
    peer: Arc<Peer>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FhirPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirPeer")
            .field("base_url", &self.peer.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for FhirPeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FhirPeer {
    /// Starts the plain peer ([`PeerOptions::default`]) on `127.0.0.1`, a free port, with no
    /// resources.
    ///
    /// # Panics
    /// When no loopback port can be bound: this is a test peer.
    pub async fn start() -> Self {
        Self::start_with(PeerOptions::default()).await
    }

    /// Starts a peer that behaves as `options` say.
    ///
    /// # Panics
    /// When no loopback port can be bound: this is a test peer.
    pub async fn start_with(options: PeerOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let tls = options.tls;
        let peer = Arc::new(Peer {
            base_url: format!("{scheme}://{addr}/fhir/"),
            options,
            state: Mutex::new(State::default()),
        });
        let served = peer.clone();
        let counter = Arc::new(AtomicU64::new(0));
        let handle = move |req: Request<Bytes>| {
            let peer = served.clone();
            let counter = counter.clone();
            async move {
                match hang::planned(&peer, &req) {
                    Some(Hang::Forever) => std::future::pending::<()>().await,
                    Some(Hang::For(wait)) => tokio::time::sleep(wait).await,
                    None => {}
                }
                let res = match crash::down(&peer) {
                    Some(refused) => refused,
                    None => answer(&peer, &req),
                };
                crash::after(&peer, &req, &res);
                // Held back 1–4 ms after the answer is decided (varied, deterministic).
                let n = counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1 + (n * 7) % 4)).await;
                res
            }
        };
        let server = match tls {
            Some(tls) => tokio::spawn(tls::serve(listener, tls::acceptor(tls), handle)),
            None => tokio::spawn(crate::serve(listener, handle)),
        };
        Self { peer, server }
    }

    /// The FHIR base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        &self.peer.base_url
    }

    /// An adapter configuration for this peer: the fictional trust R9N, real time, and
    /// generous timeouts (the peer is local, but the machine may be loaded).
    ///
    /// # Panics
    /// Never: the peer's base URL and the ODS code are valid.
    pub fn adapter_config(&self) -> nhs_portal_pas::fhir::FhirPasConfig {
        let mut cfg = nhs_portal_pas::fhir::FhirPasConfig::new(
            url::Url::parse(self.base_url()).expect("the peer's base URL"),
            nhs_portal_core::Organisation {
                ods_code: nhs_portal_core::OdsCode::parse("R9N").expect("an ODS code"),
                name: "Northfield Teaching Hospitals NHS Foundation Trust".into(),
            },
            nhs_portal_core::request_status::Capabilities::REAL_TIME,
        );
        cfg.timeout = Duration::from_secs(30);
        cfg.deadline = Duration::from_secs(60);
        cfg.retry_delay = Duration::from_millis(10);
        if self.peer.options.tls.is_some() {
            cfg.root_certificate_pem = Some(tls::TEST_CA_PEM.to_owned());
        }
        cfg
    }

    /// The SMART token endpoint (`{base}token`).
    pub fn token_url(&self) -> String {
        format!("{}token", self.peer.base_url)
    }

    /// Stores `resource` (it must have `resourceType` and `id`) as a new version, stamped now
    /// (less [`PeerOptions::stamp_early`]): seeding, or a change "staff" make in the PAS.
    ///
    /// # Panics
    /// When it has no `resourceType` or `id`.
    pub fn put(&self, resource: Value) {
        self.put_at(resource, self.peer.stamp());
    }

    /// [`FhirPeer::put`] with `meta.lastUpdated` set to `at` (a change stamped when its
    /// transaction began, committed later).
    ///
    /// # Panics
    /// When it has no `resourceType` or `id`.
    pub fn put_at(&self, resource: Value, at: DateTime<Utc>) {
        let key = key_of(&resource).expect("a resource with resourceType and id");
        let mut g = self.peer.lock();
        let version = g.by_key.get(&key).map_or(1, |(v, _)| v + 1);
        let stored = with_meta(resource, version, at);
        subscription::changed(&self.peer, &mut g, &stored);
        g.by_key.insert(key, (version, stored));
    }

    /// Changes a stored resource as staff would in the PAS (a new version).
    ///
    /// # Panics
    /// When there is no such resource.
    pub fn edit(&self, resource_type: &str, id: &str, change: impl FnOnce(&mut Value)) {
        let mut body = self.get(resource_type, id).expect("a stored resource");
        change(&mut body);
        self.put(body);
    }

    /// Deletes a resource (it is then 410 Gone to reads, missing from searches, and a deletion
    /// in `_history`).
    pub fn delete(&self, resource_type: &str, id: &str) {
        let at = self.peer.stamp();
        let mut g = self.peer.lock();
        if let Some((version, last)) = g.by_key.remove(&(resource_type.to_owned(), id.to_owned())) {
            g.deleted.push(history::Deleted {
                version: version + 1,
                at,
                last,
            });
        }
    }

    /// A resource as the peer holds it now.
    pub fn get(&self, resource_type: &str, id: &str) -> Option<Value> {
        let g = self.peer.lock();
        g.by_key
            .get(&(resource_type.to_owned(), id.to_owned()))
            .map(|(_, body)| body.clone())
    }

    /// The next `count` FHIR requests answer `status` (with an OperationOutcome and, if given,
    /// a `Retry-After` header) without being carried out.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<&str>) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        let mut g = self.peer.lock();
        for _ in 0..count {
            g.faults.push(Fault {
                status,
                retry_after: retry_after.map(str::to_owned),
            });
        }
    }

    /// Every request for the resource `resource_type/id` answers `status` (with an
    /// OperationOutcome) from now on: a part of the server that is down while the rest answers.
    pub fn fail_always(&self, resource_type: &str, id: &str, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        self.peer
            .lock()
            .broken
            .insert(format!("{resource_type}/{id}"), status);
    }

    /// Another client's write of `resource` lands just before the next transaction Bundle is
    /// carried out (after the adapter read what it sends), so the transaction meets a new
    /// version.
    pub fn race_next_transaction(&self, resource: Value) {
        self.peer.lock().races.push(resource);
    }

    /// A "staff member" has the resource open: writes to it are refused with 422 and `text`.
    pub fn lock_record(&self, resource_type: &str, id: &str, text: &str) {
        self.peer
            .lock()
            .locked
            .insert((resource_type.to_owned(), id.to_owned()), text.to_owned());
    }

    /// Every access token issued so far stops working (the next call gets 401).
    pub fn expire_tokens(&self) {
        self.peer.lock().tokens.clear();
    }

    /// How many token requests the peer answered with a token.
    pub fn token_requests(&self) -> usize {
        self.peer.lock().token_requests
    }

    /// What each FHIR request carried, oldest first (token requests not included).
    pub fn requests(&self) -> Vec<Logged> {
        self.peer.lock().log.clone()
    }
}

/// The Slot references of an Appointment, as written.
pub fn slot_refs(appointment: &Value) -> Vec<String> {
    appointment["slot"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str())
        .map(str::to_owned)
        .collect()
}

fn key_of(resource: &Value) -> Option<(String, String)> {
    Some((
        resource.get("resourceType")?.as_str()?.to_owned(),
        resource.get("id")?.as_str()?.to_owned(),
    ))
}

fn format_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn with_meta(mut body: Value, version: u64, at: DateTime<Utc>) -> Value {
    body["meta"] = json!({
        "versionId": version.to_string(),
        "lastUpdated": format_instant(at),
    });
    body
}

fn fhir(status: StatusCode, body: &Value, version: Option<u64>) -> Response<Bytes> {
    let mut res = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/fhir+json");
    if let Some(v) = version {
        res = res.header(header::ETAG, format!("W/\"{v}\""));
    }
    res.body(Bytes::from(body.to_string()))
        .expect("a valid response")
}

fn outcome(status: StatusCode, code: &str, text: &str) -> Response<Bytes> {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "details": {"text": text}}],
    });
    fhir(status, &body, None)
}

/// Decides the answer to one request, atomically against the state.
fn answer(peer: &Peer, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(path) = req.uri().path().strip_prefix("/fhir/") else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "not under /fhir/");
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts == ["token"] && req.method() == Method::POST {
        return auth::token(peer, req);
    }
    let mut g = peer.lock();
    g.log.push(logged(req));
    if parts == ["metadata"] {
        return fhir(
            StatusCode::OK,
            &capability_statement(
                peer.options.slots,
                !peer.options.no_include,
                peer.options.subscriptions,
            ),
            None,
        );
    }
    if let Some(refused) = auth::check(peer, &g, req) {
        return refused;
    }
    if !g.faults.is_empty() {
        let fault = g.faults.remove(0);
        let mut res = outcome(fault.status, "transient", "injected fault");
        if let Some(wait) = fault.retry_after.and_then(|w| w.parse().ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        return res;
    }
    if let [kind, id, ..] = parts.as_slice()
        && let Some(status) = g.broken.get(&format!("{kind}/{id}"))
    {
        return outcome(*status, "transient", "this resource cannot be served");
    }
    match (req.method(), parts.as_slice()) {
        (&Method::GET, [kind]) => search::search(peer, &mut g, kind, req.uri().query()),
        (&Method::GET, [kind, "_history"]) => history::of_type(peer, &g, kind, req.uri().query()),
        (&Method::GET, [kind, id, "_history"]) => history::of_resource(peer, &g, kind, id),
        (&Method::GET, [kind, id]) => match g.by_key.get(&((*kind).to_owned(), (*id).to_owned())) {
            Some((version, body)) => fhir(StatusCode::OK, body, Some(*version)),
            None if history::is_deleted(&g, kind, id) => {
                outcome(StatusCode::GONE, "deleted", "the resource was deleted")
            }
            None => outcome(StatusCode::NOT_FOUND, "not-found", "no such resource"),
        },
        (&Method::PUT | &Method::PATCH, [kind, id]) => write::update(peer, &mut g, kind, id, req),
        (&Method::POST, []) => transaction::transaction(peer, &mut g, req),
        (&Method::POST, ["Subscription"]) => subscription::create(peer, &mut g, req),
        (&Method::POST, ["Appointment", id, operation]) => {
            write::operation(peer, &mut g, id, operation, req)
        }
        _ => outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "not supported by the test peer",
        ),
    }
}

/// What a request carried, for the log.
fn logged(req: &Request<Bytes>) -> Logged {
    Logged {
        method: req.method().clone(),
        target: req
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        correlation_id: header_text(req, "x-correlation-id"),
        authorised: req.headers().contains_key(header::AUTHORIZATION),
        prefer: header_text(req, "prefer"),
    }
}

fn header_text(req: &Request<Bytes>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// What the peer says it offers, per slot regime (and whether it takes `_include` and offers
/// Subscriptions).
fn capability_statement(slots: SlotMode, include: bool, subscriptions: bool) -> Value {
    let interactions =
        |codes: &[&str]| -> Value { codes.iter().map(|c| json!({"code": c})).collect() };
    let history = ["history-type", "history-instance"];
    let (appointment, slot, operations) = match slots {
        SlotMode::ClientManaged | SlotMode::Transaction => (
            interactions(&[
                "read",
                "search-type",
                "update",
                "patch",
                history[0],
                history[1],
            ]),
            interactions(&["read", "search-type", "update", "patch"]),
            json!([]),
        ),
        SlotMode::ServerOwned => (
            interactions(&[
                "read",
                "search-type",
                "update",
                "patch",
                history[0],
                history[1],
            ]),
            interactions(&["read", "search-type"]),
            json!([
                {"name": "book", "definition": "https://fhir.nhs-portal.example/OperationDefinition/Appointment-book"},
                {"name": "cancel", "definition": "https://fhir.nhs-portal.example/OperationDefinition/Appointment-cancel"},
            ]),
        ),
        SlotMode::PatchOnly => (
            interactions(&["read", "search-type", "patch", history[0], history[1]]),
            interactions(&["read", "search-type", "patch"]),
            json!([]),
        ),
    };
    let system: Value = match slots {
        SlotMode::Transaction => interactions(&["transaction"]),
        _ => json!([]),
    };
    let mut resources = vec![
        json!({"type": "Appointment", "interaction": appointment, "operation": operations,
               "searchInclude": if include { json!(["Appointment:actor"]) } else { json!([]) }}),
        json!({"type": "Slot", "interaction": slot}),
        json!({"type": "Patient", "interaction": interactions(&["read", "search-type"])}),
    ];
    if subscriptions {
        resources.push(json!({
            "type": "Subscription",
            "supportedProfile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"],
            "interaction": interactions(&["create", "read", "update", "search-type"]),
        }));
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "interaction": system,
            "resource": resources,
        }],
    })
}
