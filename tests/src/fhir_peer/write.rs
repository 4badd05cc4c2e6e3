//! The peer's writes: `PUT` and JSON Patch with `If-Match`, the status transitions and record
//! locks it refuses with 422, and the server-owned Slots' `$book` and `$cancel`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{Peer, SlotMode, State, fhir, key_of, outcome, slot_refs, with_meta};

/// Statuses an appointment does not leave once in them (a PAS refuses to reopen them).
const FINAL: [&str; 4] = ["cancelled", "noshow", "fulfilled", "entered-in-error"];
/// Statuses of an appointment that still holds its slot.
const HOLDING: [&str; 4] = ["booked", "arrived", "checked-in", "pending"];

type Key = (String, String);

fn key(kind: &str, id: &str) -> Key {
    (kind.to_owned(), id.to_owned())
}

/// `If-Match` against the current version: `Some(412)` when it names another one.
fn stale(req: &Request<Bytes>, current: u64) -> Option<Response<Bytes>> {
    let wanted = req.headers().get(header::IF_MATCH)?;
    let wanted = wanted
        .to_str()
        .unwrap_or("")
        .trim_start_matches("W/")
        .trim_matches('"');
    (wanted != current.to_string()).then(|| {
        outcome(
            StatusCode::PRECONDITION_FAILED,
            "conflict",
            "version conflict",
        )
    })
}

/// The answer to a write: the resource, or nothing when the peer answers minimally.
fn written(peer: &Peer, req: &Request<Bytes>, body: &Value, version: u64) -> Response<Bytes> {
    let minimal = peer.options.minimal_writes
        || req
            .headers()
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.contains("return=minimal"));
    if !minimal {
        return fhir(StatusCode::OK, body, Some(version));
    }
    let (kind, id) = key_of(body).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::ETAG, format!("W/\"{version}\""))
        .header(
            header::LOCATION,
            format!("{}{kind}/{id}/_history/{version}", peer.base_url),
        )
        .body(Bytes::new())
        .expect("a valid response")
}

/// Stores a new version of a resource and returns it.
pub(super) fn store(peer: &Peer, g: &mut State, body: Value) -> (Value, u64) {
    let k = key_of(&body).expect("a keyed resource");
    let version = g.by_key.get(&k).map_or(1, |(v, _)| v + 1);
    let stored = with_meta(body, version, peer.stamp());
    super::subscription::changed(peer, g, &stored);
    g.by_key.insert(k, (version, stored.clone()));
    (stored, version)
}

/// Frees each of `slots` that no appointment other than `except` still holds.
fn free_unheld(peer: &Peer, g: &mut State, slots: &[String], except: &str) {
    for slot in slots {
        let held = g.by_key.iter().any(|((k, id), (_, a))| {
            k == "Appointment"
                && id != except
                && HOLDING.iter().any(|s| a["status"] == *s)
                && slot_refs(a).contains(slot)
        });
        let Some(id) = slot.strip_prefix("Slot/") else {
            continue;
        };
        if let Some((_, body)) = g.by_key.get(&key("Slot", id)).cloned()
            && !held
            && body["status"] == "busy"
        {
            let mut body = body;
            body["status"] = json!("free");
            store(peer, g, body);
        }
    }
}

/// The refusal of an appointment write the PAS's rules do not allow, if any.
fn refused_transition(mode: SlotMode, before: &Value, after: &Value) -> Option<Response<Bytes>> {
    let (from, to) = (
        before["status"].as_str().unwrap_or(""),
        after["status"].as_str().unwrap_or(""),
    );
    if FINAL.contains(&from) && from != to {
        return Some(outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            &format!("an appointment that is {from} cannot become {to}"),
        ));
    }
    if mode == SlotMode::ServerOwned && slot_refs(before) != slot_refs(after) {
        return Some(outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            "slots are managed by the scheduling system: use $book to move an appointment",
        ));
    }
    None
}

/// `PUT` or JSON Patch `PATCH` of `{kind}/{id}`.
pub(super) fn update(
    peer: &Peer,
    g: &mut State,
    kind: &str,
    id: &str,
    req: &Request<Bytes>,
) -> Response<Bytes> {
    let mode = peer.options.slots;
    let patch = req.method() == Method::PATCH;
    if mode == SlotMode::ServerOwned && kind == "Slot" {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "Slots are managed by the scheduling system",
        );
    }
    if mode == SlotMode::PatchOnly && !patch {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "updates are taken as JSON Patch only",
        );
    }
    let k = key(kind, id);
    let Some((current, before)) = g.by_key.get(&k).cloned() else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "no such resource");
    };
    if let Some(text) = g.locked.get(&k) {
        return outcome(StatusCode::UNPROCESSABLE_ENTITY, "business-rule", text);
    }
    if let Some(refusal) = stale(req, current) {
        return refusal;
    }
    let after = if patch {
        let json_patch = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json-patch+json"));
        if !json_patch {
            return outcome(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                "only JSON Patch",
            );
        }
        let Ok(ops) = serde_json::from_slice::<Value>(req.body()) else {
            return outcome(StatusCode::BAD_REQUEST, "invalid", "not JSON");
        };
        let mut doc = before.clone();
        if let Err(e) = apply_patch(&mut doc, &ops) {
            return outcome(StatusCode::UNPROCESSABLE_ENTITY, "processing", &e);
        }
        doc
    } else {
        let Ok(body) = serde_json::from_slice::<Value>(req.body()) else {
            return outcome(StatusCode::BAD_REQUEST, "invalid", "not JSON");
        };
        if key_of(&body).as_ref() != Some(&k) {
            return outcome(
                StatusCode::BAD_REQUEST,
                "invalid",
                "resourceType or id differs",
            );
        }
        body
    };
    if kind == "Appointment"
        && let Some(refusal) = refused_transition(mode, &before, &after)
    {
        return refusal;
    }
    let cancelled_now =
        kind == "Appointment" && after["status"] == "cancelled" && before["status"] != "cancelled";
    let (stored, version) = store(peer, g, after);
    if mode == SlotMode::ServerOwned && cancelled_now {
        free_unheld(peer, g, &slot_refs(&stored), id);
    }
    written(peer, req, &stored, version)
}

fn parameter<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params["parameter"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// `POST Appointment/{id}/$book` (parameter `slot`) and `$cancel` (parameter `reason`), offered
/// only where the server owns its Slots.
pub(super) fn operation(
    peer: &Peer,
    g: &mut State,
    id: &str,
    operation: &str,
    req: &Request<Bytes>,
) -> Response<Bytes> {
    if peer.options.slots != SlotMode::ServerOwned || !matches!(operation, "$book" | "$cancel") {
        return outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            "unknown operation",
        );
    }
    let k = key("Appointment", id);
    let Some((current, before)) = g.by_key.get(&k).cloned() else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "no such appointment");
    };
    if let Some(text) = g.locked.get(&k) {
        return outcome(StatusCode::UNPROCESSABLE_ENTITY, "business-rule", text);
    }
    if let Some(refusal) = stale(req, current) {
        return refusal;
    }
    let Ok(params) = serde_json::from_slice::<Value>(req.body()) else {
        return outcome(StatusCode::BAD_REQUEST, "invalid", "not JSON");
    };
    let status = before["status"].as_str().unwrap_or("");
    if operation == "$cancel" {
        if status == "cancelled" {
            return written(peer, req, &before, current);
        }
        if FINAL.contains(&status) {
            return outcome(
                StatusCode::UNPROCESSABLE_ENTITY,
                "business-rule",
                &format!("an appointment that is {status} cannot be cancelled"),
            );
        }
        let mut after = before.clone();
        after["status"] = json!("cancelled");
        if let Some(reason) = parameter(&params, "reason").map(|p| &p["valueCodeableConcept"]) {
            after["cancelationReason"] = reason.clone();
        }
        let (stored, version) = store(peer, g, after);
        free_unheld(peer, g, &slot_refs(&stored), id);
        return written(peer, req, &stored, version);
    }
    if status != "booked" {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            "only a booked appointment can be moved",
        );
    }
    let Some(slot_ref) = parameter(&params, "slot")
        .and_then(|p| p["valueReference"]["reference"].as_str())
        .map(str::to_owned)
    else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "the slot parameter is required",
        );
    };
    let slot_key = key("Slot", slot_ref.strip_prefix("Slot/").unwrap_or(""));
    let Some((_, slot)) = g.by_key.get(&slot_key).cloned() else {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-found",
            "no such slot",
        );
    };
    if slot["status"] != "free" {
        return outcome(StatusCode::CONFLICT, "conflict", "the slot is not free");
    }
    let old = slot_refs(&before);
    let mut after = before.clone();
    after["start"] = slot["start"].clone();
    after["end"] = slot["end"].clone();
    after["slot"] = json!([{"reference": slot_ref}]);
    let mut busy = slot;
    busy["status"] = json!("busy");
    store(peer, g, busy);
    let (stored, version) = store(peer, g, after);
    let freed: Vec<String> = old.into_iter().filter(|s| *s != slot_ref).collect();
    free_unheld(peer, g, &freed, id);
    written(peer, req, &stored, version)
}

/// Applies RFC 6902 `add`, `remove`, `replace` and `test` operations (all the adapter sends).
/// Hand-written: no JSON Patch crate is in the workspace's lock file, and this peer needs 40
/// lines of it.
fn apply_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("a JSON Patch is an array")? {
        let path = op["path"].as_str().ok_or("an operation without a path")?;
        let (parent, last) = path.rsplit_once('/').ok_or("a path must start with /")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let name = op["op"].as_str().unwrap_or("");
        if name == "test" {
            if doc.pointer(path) != Some(&op["value"]) {
                return Err(format!("test failed at {path}"));
            }
            continue;
        }
        let target = doc
            .pointer_mut(parent)
            .ok_or_else(|| format!("no {parent}"))?;
        let value = op.get("value").cloned();
        match (name, target, value) {
            ("remove", Value::Object(m), _) => {
                m.remove(&last)
                    .ok_or_else(|| format!("nothing at {path}"))?;
            }
            ("remove", Value::Array(a), _) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                if i >= a.len() {
                    return Err(format!("nothing at {path}"));
                }
                a.remove(i);
            }
            ("replace", Value::Object(m), Some(v)) if m.contains_key(&last) => {
                m.insert(last, v);
            }
            ("add", Value::Object(m), Some(v)) => {
                m.insert(last, v);
            }
            ("add", Value::Array(a), Some(v)) if last == "-" => a.push(v),
            ("add" | "replace", Value::Array(a), Some(v)) => {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                match name {
                    "add" if i <= a.len() => a.insert(i, v),
                    "replace" if i < a.len() => a[i] = v,
                    _ => return Err(format!("no index {i} in {parent}")),
                }
            }
            _ => return Err(format!("cannot {name} at {path}")),
        }
    }
    Ok(())
}
