//! The peer's searches: the parameters the FHIR adapter uses, `_sort`, `_include` of an
//! Appointment's actors, and paging with `next` links as [`NextLinks`](super::NextLinks) says.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{INTERNAL_BASE, NextLinks, Peer, State, fhir, outcome};

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `ge…`, `gt…`, `le…`, `lt…`, `eq…` or a bare instant, against `value`.
fn compare(value: Option<&str>, filter: &str) -> bool {
    let (prefix, rest) = match filter.get(..2) {
        Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p, &filter[2..]),
        _ => ("eq", filter),
    };
    let (Some(value), Some(bound)) = (value.and_then(instant), instant(rest)) else {
        return false;
    };
    match prefix {
        "ge" => value >= bound,
        "gt" => value > bound,
        "le" => value <= bound,
        "lt" => value < bound,
        _ => value == bound,
    }
}

/// A reference as `Type/id`, whatever form it was written in (relative, absolute, versioned),
/// as servers index them.
fn local(reference: &str) -> String {
    let path = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let mut parts = path.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(kind)) => format!("{kind}/{id}"),
        _ => path.to_owned(),
    }
}

fn references(body: &Value, key: &str) -> impl Iterator<Item = String> {
    body[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str())
        .map(local)
        .collect::<Vec<_>>()
        .into_iter()
}

fn actor_reference(actor: &Value) -> Option<String> {
    actor["reference"].as_str().map(local)
}

fn actors(body: &Value) -> impl Iterator<Item = &Value> {
    body["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["actor"])
}

fn codes(body: &Value, key: &str) -> impl Iterator<Item = (Option<String>, String)> {
    body[key]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|cc| cc["coding"].as_array().into_iter().flatten())
        .filter_map(|c| {
            Some((
                c["system"].as_str().map(str::to_owned),
                c["code"].as_str()?.to_owned(),
            ))
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// Whether `body` matches one search parameter; `None` for a parameter the peer does not know.
fn matches(kind: &str, body: &Value, name: &str, value: &str) -> Option<bool> {
    let token = |system: Option<&str>, code: &str| match value.split_once('|') {
        Some((s, c)) => system == Some(s) && code == c,
        None => code == value,
    };
    Some(match (kind, name) {
        (_, "_lastUpdated") => compare(body["meta"]["lastUpdated"].as_str(), value),
        (_, "_id") => value.split(',').any(|v| body["id"] == v),
        (_, "identifier") => body["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| token(i["system"].as_str(), i["value"].as_str().unwrap_or(""))),
        (_, "status") => value.split(',').any(|v| body["status"] == v),
        ("Appointment", "patient") => actors(body)
            .any(|a| actor_reference(a).as_deref() == Some(value) && value.starts_with("Patient/")),
        ("Appointment", "actor") => actors(body).any(|a| {
            actor_reference(a).as_deref() == Some(value)
                || token(
                    a["identifier"]["system"].as_str(),
                    a["identifier"]["value"].as_str().unwrap_or(""),
                )
        }),
        ("Appointment", "slot") => references(body, "slot").any(|r| r == value),
        ("Appointment", "date") | ("Slot", "start") => compare(body["start"].as_str(), value),
        ("Slot", "schedule") => body["schedule"]["reference"] == value,
        (_, "specialty") => codes(body, "specialty").any(|(s, c)| token(s.as_deref(), &c)),
        _ => return None,
    })
}

/// The parameters that shape the answer rather than filter it.
const CONTROL: [&str; 6] = ["_count", "_sort", "_page", "_offset", "_total", "_include"];

/// The one `_include` the peer takes.
const INCLUDE_ACTORS: &str = "Appointment:actor";

pub(super) fn search(
    peer: &Peer,
    g: &mut State,
    kind: &str,
    query: Option<&str>,
) -> Response<Bytes> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let count = get("_count").and_then(|c| c.parse::<usize>().ok());
    let page = match (count, peer.options.page_size) {
        (Some(c), Some(p)) => Some(c.min(p)),
        (c, p) => p.or(c),
    }
    .filter(|n| *n > 0);
    let include = match get("_include").as_deref() {
        None => false,
        Some(INCLUDE_ACTORS) if kind == "Appointment" && !peer.options.no_include => true,
        Some(other) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                &format!("cannot include {other}"),
            );
        }
    };
    // A later page of a search made before.
    if let Some(id) = get("_page") {
        let offset = get("_offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let Some(all) = g.pages.get(&id).cloned() else {
            return outcome(StatusCode::GONE, "not-found", "that search has expired");
        };
        return bundle(peer, g, kind, &id, &all, (offset, page), include);
    }
    for (name, _) in &params {
        let known =
            CONTROL.contains(&name.as_str()) || matches(kind, &json!({}), name, "").is_some();
        if !known {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                &format!("unknown search parameter {name}"),
            );
        }
    }
    let mut found: Vec<Value> = g
        .by_key
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|(_, (_, body))| body)
        .filter(|body| {
            params
                .iter()
                .filter(|(n, _)| !CONTROL.contains(&n.as_str()))
                .all(|(n, v)| matches(kind, body, n, v) == Some(true))
        })
        .cloned()
        .collect();
    let by_id = |a: &Value, b: &Value| a["id"].as_str().cmp(&b["id"].as_str());
    match get("_sort").as_deref() {
        Some("_lastUpdated") => found.sort_by(|a, b| {
            let at = |v: &Value| v["meta"]["lastUpdated"].as_str().and_then(instant);
            at(a).cmp(&at(b)).then_with(|| by_id(a, b))
        }),
        Some(other) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                &format!("cannot sort by {other}"),
            );
        }
        None => found.sort_by(by_id),
    }
    g.next_search += 1;
    let id = format!("s{}", g.next_search);
    g.pages.insert(id.clone(), found.clone());
    bundle(peer, g, kind, &id, &found, (0, page), include)
}

/// The resources the actors of `shown` refer to, as `include` entries (each once).
fn included(peer: &Peer, g: &State, shown: &[&Value]) -> Vec<Value> {
    let mut seen = Vec::new();
    for actor in shown.iter().flat_map(|a| actors(a)) {
        let Some(reference) = actor_reference(actor) else {
            continue;
        };
        if !seen.contains(&reference) {
            seen.push(reference);
        }
    }
    seen.iter()
        .filter_map(|r| {
            let (kind, id) = r.split_once('/')?;
            let (_, body) = g.by_key.get(&(kind.to_owned(), id.to_owned()))?;
            Some(json!({
                "fullUrl": format!("{}{r}", peer.base_url),
                "resource": body,
                "search": {"mode": "include"},
            }))
        })
        .collect()
}

fn bundle(
    peer: &Peer,
    g: &State,
    kind: &str,
    search: &str,
    all: &[Value],
    (offset, page): (usize, Option<usize>),
    include: bool,
) -> Response<Bytes> {
    let size = page.unwrap_or(all.len().max(1));
    let on_page: Vec<&Value> = all.iter().skip(offset).take(size).collect();
    let mut shown: Vec<Value> = on_page
        .iter()
        .map(|r| {
            json!({
                "fullUrl": format!("{}{}/{}", peer.base_url, kind, r["id"].as_str().unwrap_or("")),
                "resource": r,
                "search": {"mode": "match"},
            })
        })
        .collect();
    if include {
        shown.extend(included(peer, g, &on_page));
    }
    let mut links = vec![json!({"relation": "self", "url": format!("{}{kind}", peer.base_url)})];
    let next = offset + size;
    if next < all.len() {
        let mut relative = format!("{kind}?_page={search}&_offset={next}");
        if include {
            relative.push_str("&_include=Appointment%3Aactor");
        }
        let url = match peer.options.next_links {
            NextLinks::Relative => relative,
            NextLinks::Absolute => format!("{}{relative}", peer.base_url),
            NextLinks::OtherOrigin => format!("{INTERNAL_BASE}{relative}"),
        };
        links.push(json!({"relation": "next", "url": url}));
    }
    let body = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": all.len(),
        "link": links,
        "entry": shown,
    });
    fhir(StatusCode::OK, &body, None)
}
