//! The peer's transaction Bundles ([`SlotMode::Transaction`](super::SlotMode::Transaction)):
//! `POST {base}` of a `transaction` Bundle whose entries are `PUT`s (each with its own
//! `request.ifMatch`), carried out with the same rules as single writes, all or nothing: the
//! first entry refused (412 on a stale version, 422 under the PAS's rules) puts every resource
//! back as it was and is the answer; otherwise a `transaction-response` Bundle.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{Peer, SlotMode, State, fhir, format_instant, key_of, outcome, write};

/// `POST {base}` of a Bundle.
pub(super) fn transaction(peer: &Peer, g: &mut State, req: &Request<Bytes>) -> Response<Bytes> {
    if peer.options.slots != SlotMode::Transaction {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "this server takes no transactions",
        );
    }
    let Ok(bundle) = serde_json::from_slice::<Value>(req.body()) else {
        return outcome(StatusCode::BAD_REQUEST, "invalid", "not JSON");
    };
    if bundle["resourceType"] != "Bundle" || bundle["type"] != "transaction" {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "only transaction Bundles are taken",
        );
    }
    // Writes another client made just before this transaction was processed.
    for resource in std::mem::take(&mut g.races) {
        write::store(peer, g, resource);
    }
    let (before, queued) = (g.by_key.clone(), g.outbox.len());
    let mut answers = Vec::new();
    for entry in bundle["entry"].as_array().into_iter().flatten() {
        match carry_out(peer, g, entry) {
            Ok(answer) => answers.push(answer),
            Err(refusal) => {
                g.by_key = before;
                // Nothing happened, so nothing is notified.
                g.outbox.truncate(queued);
                return *refusal;
            }
        }
    }
    let minimal = peer.options.minimal_writes
        || req
            .headers()
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.contains("return=minimal"));
    let entries: Vec<Value> = answers
        .into_iter()
        .map(|(stored, version)| {
            let (kind, id) = key_of(&stored).unwrap_or_default();
            let mut e = json!({"response": {
                "status": "200 OK",
                "etag": format!("W/\"{version}\""),
                "location": format!("{kind}/{id}/_history/{version}"),
                "lastModified": stored["meta"]["lastUpdated"],
            }});
            if !minimal {
                e["fullUrl"] = json!(format!("{}{kind}/{id}", peer.base_url));
                e["resource"] = stored;
            }
            e
        })
        .collect();
    let answer = json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "meta": {"lastUpdated": format_instant(peer.stamp())},
        "entry": entries,
    });
    fhir(StatusCode::OK, &answer, None)
}

/// One entry as the single write it stands for; the stored resource and version, or the
/// refusal that fails the whole transaction.
fn carry_out(
    peer: &Peer,
    g: &mut State,
    entry: &Value,
) -> Result<(Value, u64), Box<Response<Bytes>>> {
    let request = &entry["request"];
    let url = request["url"].as_str().unwrap_or("");
    let parts: Vec<&str> = url.split('/').filter(|p| !p.is_empty()).collect();
    let (&[kind, id], Some("PUT")) = (parts.as_slice(), request["method"].as_str()) else {
        return Err(Box::new(outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            "the test peer takes only PUT entries as Type/id",
        )));
    };
    let mut single = Request::builder()
        .method(Method::PUT)
        .uri(format!("/fhir/{kind}/{id}"))
        .header(header::CONTENT_TYPE, "application/fhir+json");
    if let Some(version) = request["ifMatch"].as_str() {
        single = single.header(header::IF_MATCH, version);
    }
    let single = single
        .body(Bytes::from(entry["resource"].to_string()))
        .map_err(|_| Box::new(outcome(StatusCode::BAD_REQUEST, "invalid", "a bad entry")))?;
    let res = write::update(peer, g, kind, id, &single);
    if !res.status().is_success() {
        return Err(Box::new(res));
    }
    g.by_key
        .get(&(kind.to_owned(), id.to_owned()))
        .map(|(v, body)| (body.clone(), *v))
        .ok_or_else(|| {
            Box::new(outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "lost",
            ))
        })
}
