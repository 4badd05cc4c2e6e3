//! A **test peer, not a FHIR server**: a small in-process stand-in for a trust PAS's FHIR R4
//! REST API, for races that the Medplum peer cannot show (it handles one request at a time).
//!
//! [`FhirPeer`] serves, on a loopback port, what the FHIR adapter's real-time writes use:
//! `GET {type}/{id}`, `GET {type}?identifier=system|value` (a `searchset` Bundle) and
//! `PUT {type}/{id}`, with versions: every resource carries `meta.versionId` and an `ETag`, and
//! a `PUT` with `If-Match: W/"n"` is refused with `412` unless `n` is the current version (the
//! check and the write are one step). A `PUT` without `If-Match` is an unconditional update, as
//! FHIR allows: that is what a client that forgets the header gets.
//!
//! It does **not** serialise requests: each connection is served on its own task, and each
//! answer is held back for a few milliseconds after it is decided, so two clients that read a
//! resource at about the same time both see the version before either writes, as they would
//! with a real server under load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Resources {
    /// `(type, id)` to `(version, body)`.
    by_key: HashMap<(String, String), (u64, Value)>,
}

/// The FHIR stand-in, served until it is dropped. See the [module documentation](self).
#[derive(Debug)]
pub struct FhirPeer {
    base_url: String,
    resources: Arc<Mutex<Resources>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FhirPeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FhirPeer {
    /// Starts the peer on `127.0.0.1`, a free port, with no resources.
    ///
    /// # Panics
    /// When no loopback port can be bound: this is a test peer.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let resources = Arc::new(Mutex::new(Resources::default()));
        let served = resources.clone();
        let counter = Arc::new(AtomicU64::new(0));
        let server = tokio::spawn(crate::serve(listener, move |req| {
            let resources = served.clone();
            let counter = counter.clone();
            async move {
                let res = answer(&resources, &req);
                // Held back 1–4 ms after the answer is decided (varied, deterministic).
                let n = counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1 + (n * 7) % 4)).await;
                res
            }
        }));
        Self {
            base_url: format!("http://{addr}/fhir/"),
            resources,
            server,
        }
    }

    /// The FHIR base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stores `resource` (it must have `resourceType` and `id`) as a new version.
    ///
    /// # Panics
    /// When it has no `resourceType` or `id`.
    pub fn put(&self, resource: Value) {
        let key = key_of(&resource).expect("a resource with resourceType and id");
        let mut g = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        let version = g.by_key.get(&key).map_or(1, |(v, _)| v + 1);
        g.by_key
            .insert(key, (version, with_version(resource, version)));
    }

    /// A resource as the peer holds it now.
    pub fn get(&self, resource_type: &str, id: &str) -> Option<Value> {
        let g = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        g.by_key
            .get(&(resource_type.to_owned(), id.to_owned()))
            .map(|(_, body)| body.clone())
    }
}

fn key_of(resource: &Value) -> Option<(String, String)> {
    Some((
        resource.get("resourceType")?.as_str()?.to_owned(),
        resource.get("id")?.as_str()?.to_owned(),
    ))
}

fn with_version(mut body: Value, version: u64) -> Value {
    body["meta"] = json!({ "versionId": version.to_string() });
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

fn outcome(status: StatusCode, text: &str) -> Response<Bytes> {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    });
    fhir(status, &body, None)
}

/// Decides the answer to one request, atomically against the resources.
fn answer(resources: &Mutex<Resources>, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(path) = req.uri().path().strip_prefix("/fhir/") else {
        return outcome(StatusCode::NOT_FOUND, "not under /fhir/");
    };
    let parts: Vec<&str> = path.split('/').collect();
    let mut g = resources.lock().unwrap_or_else(|e| e.into_inner());
    match (req.method(), parts.as_slice()) {
        (&Method::GET, [kind]) => {
            let query: HashMap<String, String> =
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            let Some((system, value)) = query.get("identifier").and_then(|i| i.split_once('|'))
            else {
                return outcome(StatusCode::BAD_REQUEST, "only identifier searches");
            };
            let entry: Vec<Value> = g
                .by_key
                .iter()
                .filter(|((k, _), _)| k == kind)
                .filter(|(_, (_, body))| {
                    body.get("identifier")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|i| i["system"] == system && i["value"] == value)
                })
                .map(|(_, (_, body))| json!({"resource": body, "search": {"mode": "match"}}))
                .collect();
            let bundle = json!({
                "resourceType": "Bundle",
                "type": "searchset",
                "total": entry.len(),
                "entry": entry,
            });
            fhir(StatusCode::OK, &bundle, None)
        }
        (&Method::GET, [kind, id]) => match g.by_key.get(&((*kind).to_owned(), (*id).to_owned())) {
            Some((version, body)) => fhir(StatusCode::OK, body, Some(*version)),
            None => outcome(StatusCode::NOT_FOUND, "no such resource"),
        },
        (&Method::PUT, [kind, id]) => {
            let Ok(body) = serde_json::from_slice::<Value>(req.body()) else {
                return outcome(StatusCode::BAD_REQUEST, "not JSON");
            };
            let key = ((*kind).to_owned(), (*id).to_owned());
            if key_of(&body).as_ref() != Some(&key) {
                return outcome(StatusCode::BAD_REQUEST, "resourceType or id differs");
            }
            let Some((current, _)) = g.by_key.get(&key) else {
                return outcome(StatusCode::NOT_FOUND, "no such resource");
            };
            let current = *current;
            if let Some(if_match) = req.headers().get(header::IF_MATCH) {
                let wanted = if_match
                    .to_str()
                    .unwrap_or("")
                    .trim_start_matches("W/")
                    .trim_matches('"');
                if wanted != current.to_string() {
                    return outcome(StatusCode::PRECONDITION_FAILED, "version conflict");
                }
            }
            let version = current + 1;
            let stored = with_version(body, version);
            g.by_key.insert(key, (version, stored.clone()));
            fhir(StatusCode::OK, &stored, Some(version))
        }
        _ => outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not supported by the test peer",
        ),
    }
}
