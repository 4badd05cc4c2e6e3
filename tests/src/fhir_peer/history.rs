//! Deleted resources and `_history`: the type's history since a time (each resource's current
//! version changed since, and each deletion since, newest first) and one resource's (its current
//! version, or its deletion and the version before it). The peer keeps only current versions
//! and deletions, not every version in between.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{Peer, State, fhir, format_instant, key_of, outcome};

/// A deleted resource: the version its deletion made, when, and the version before it.
#[derive(Debug, Clone)]
pub(super) struct Deleted {
    pub(super) version: u64,
    pub(super) at: DateTime<Utc>,
    pub(super) last: Value,
}

impl Deleted {
    fn is(&self, kind: &str, id: &str) -> bool {
        key_of(&self.last).is_some_and(|(k, i)| k == kind && i == id)
    }
}

/// Whether `kind/id` was deleted (and not stored again since).
pub(super) fn is_deleted(g: &State, kind: &str, id: &str) -> bool {
    !g.by_key.contains_key(&(kind.to_owned(), id.to_owned()))
        && g.deleted.iter().any(|d| d.is(kind, id))
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn version_entry(peer: &Peer, body: &Value) -> (DateTime<Utc>, Value) {
    let (kind, id) = key_of(body).unwrap_or_default();
    let at = instant(&body["meta"]["lastUpdated"]).unwrap_or_default();
    let version = body["meta"]["versionId"].as_str().unwrap_or("1").to_owned();
    let method = if version == "1" { "POST" } else { "PUT" };
    let entry = json!({
        "fullUrl": format!("{}{kind}/{id}", peer.base_url),
        "resource": body,
        "request": {"method": method, "url": format!("{kind}/{id}")},
        "response": {"status": "200 OK", "etag": format!("W/\"{version}\""),
            "lastModified": format_instant(at)},
    });
    (at, entry)
}

fn deletion_entry(peer: &Peer, d: &Deleted) -> (DateTime<Utc>, Value) {
    let (kind, id) = key_of(&d.last).unwrap_or_default();
    let entry = json!({
        "fullUrl": format!("{}{kind}/{id}", peer.base_url),
        "request": {"method": "DELETE", "url": format!("{kind}/{id}")},
        "response": {"status": "204 No Content", "etag": format!("W/\"{}\"", d.version),
            "lastModified": format_instant(d.at)},
    });
    (d.at, entry)
}

fn bundle(mut entries: Vec<(DateTime<Utc>, Value)>) -> Response<Bytes> {
    entries.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let body = json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": entries.len(),
        "entry": entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
    });
    fhir(StatusCode::OK, &body, None)
}

/// `GET {kind}/_history?_since=…`.
pub(super) fn of_type(peer: &Peer, g: &State, kind: &str, query: Option<&str>) -> Response<Bytes> {
    let mut since = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*name {
            "_since" => match instant(&json!(value)) {
                Some(t) => since = Some(t),
                None => return outcome(StatusCode::BAD_REQUEST, "invalid", "bad _since"),
            },
            "_count" => {}
            other => {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "not-supported",
                    &format!("unknown history parameter {other}"),
                );
            }
        }
    }
    let recent = |at: &DateTime<Utc>| since.is_none_or(|s| *at >= s);
    let mut entries: Vec<(DateTime<Utc>, Value)> = g
        .by_key
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|(_, (_, body))| version_entry(peer, body))
        .filter(|(at, _)| recent(at))
        .collect();
    entries.extend(
        g.deleted
            .iter()
            .filter(|d| key_of(&d.last).is_some_and(|(k, _)| k == kind))
            .map(|d| deletion_entry(peer, d))
            .filter(|(at, _)| recent(at)),
    );
    bundle(entries)
}

/// `GET {kind}/{id}/_history`.
pub(super) fn of_resource(peer: &Peer, g: &State, kind: &str, id: &str) -> Response<Bytes> {
    if let Some((_, body)) = g.by_key.get(&(kind.to_owned(), id.to_owned())) {
        return bundle(vec![version_entry(peer, body)]);
    }
    let Some(d) = g.deleted.iter().rev().find(|d| d.is(kind, id)) else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "no such resource");
    };
    bundle(vec![deletion_entry(peer, d), version_entry(peer, &d.last)])
}
