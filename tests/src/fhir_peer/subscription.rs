//! The peer's FHIR Subscriptions (R4 Subscriptions Backport IG, `rest-hook`), when
//! [`PeerOptions::subscriptions`](super::PeerOptions::subscriptions) is on: `POST Subscription`
//! creates one (`requested`) and queues its handshake; once a handshake is answered 2xx it is
//! `active`, and each new version of an Appointment queues an `event-notification` (the
//! resource, or only its id, as the Subscription's payload content asks). Queued notifications
//! go out when the test says ([`FhirPeer::deliver_notifications`]), POSTed to the channel's
//! endpoint with its headers, so tests decide when the portal hears of a change.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::{FhirPeer, Peer, State, fhir, format_instant, outcome, write};

/// A notification waiting to be sent.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    subscription: String,
    kind: &'static str,
    bundle: Value,
}

fn payload_content(subscription: &Value) -> &str {
    subscription["channel"]["_payload"]["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("backport-payload-content"))
        })
        .and_then(|e| e["valueCode"].as_str())
        .unwrap_or("id-only")
}

/// A `history` Bundle of `kind` for `subscription`, about `focus` (an Appointment) if any.
fn notification(
    peer: &Peer,
    g: &mut State,
    subscription: &Value,
    kind: &'static str,
    focus: Option<&Value>,
) -> Value {
    let id = subscription["id"].as_str().unwrap_or("").to_owned();
    let count = g.notified.entry(id.clone()).or_insert(0);
    if focus.is_some() {
        *count += 1;
    }
    let now = format_instant(peer.stamp());
    let mut parameters = vec![
        json!({"name": "subscription", "valueReference": {"reference": format!("Subscription/{id}")}}),
        json!({"name": "status", "valueCode": if kind == "handshake" { "requested" } else { "active" }}),
        json!({"name": "type", "valueCode": kind}),
        json!({"name": "events-since-subscription-start", "valueString": count.to_string()}),
    ];
    let mut entries = Vec::new();
    if let Some(resource) = focus {
        let rid = resource["id"].as_str().unwrap_or("");
        let url = format!("{}Appointment/{rid}", peer.base_url);
        parameters.push(json!({"name": "notification-event", "part": [
            {"name": "event-number", "valueString": count.to_string()},
            {"name": "timestamp", "valueInstant": now},
            {"name": "focus", "valueReference": {"reference": url}},
        ]}));
        let mut entry = json!({
            "fullUrl": url,
            "request": {"method": "PUT", "url": format!("Appointment/{rid}")},
            "response": {"status": "200"},
        });
        if payload_content(subscription) == "full-resource" {
            entry["resource"] = resource.clone();
        }
        entries.push(entry);
    }
    let status = json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "resource": {
            "resourceType": "Parameters",
            "meta": {"profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
            "parameter": parameters,
        },
        "request": {"method": "GET", "url": format!("Subscription/{id}/$status")},
        "response": {"status": "200"},
    });
    entries.insert(0, status);
    json!({"resourceType": "Bundle", "type": "history", "timestamp": now, "entry": entries})
}

fn subscriptions(g: &State, status: &str) -> Vec<Value> {
    g.by_key
        .iter()
        .filter(|((k, _), (_, s))| k == "Subscription" && s["status"] == status)
        .map(|(_, (_, s))| s.clone())
        .collect()
}

/// A new version of `resource` was stored: an Appointment's is queued for every active
/// Subscription, and a Subscription asked for (`requested`, new or updated) gets a handshake.
pub(super) fn changed(peer: &Peer, g: &mut State, resource: &Value) {
    if !peer.options.subscriptions {
        return;
    }
    if resource["resourceType"] == "Subscription" && resource["status"] == "requested" {
        let handshake = notification(peer, g, resource, "handshake", None);
        g.outbox.push(Pending {
            subscription: resource["id"].as_str().unwrap_or("").to_owned(),
            kind: "handshake",
            bundle: handshake,
        });
        return;
    }
    if resource["resourceType"] != "Appointment" {
        return;
    }
    for sub in subscriptions(g, "active") {
        let bundle = notification(peer, g, &sub, "event-notification", Some(resource));
        g.outbox.push(Pending {
            subscription: sub["id"].as_str().unwrap_or("").to_owned(),
            kind: "event-notification",
            bundle,
        });
    }
}

/// `POST Subscription`: stored as `requested`, its handshake queued.
pub(super) fn create(peer: &Peer, g: &mut State, req: &Request<Bytes>) -> Response<Bytes> {
    if !peer.options.subscriptions {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "no Subscriptions here",
        );
    }
    let Ok(mut body) = serde_json::from_slice::<Value>(req.body()) else {
        return outcome(StatusCode::BAD_REQUEST, "invalid", "not JSON");
    };
    if body["resourceType"] != "Subscription" || body["channel"]["type"] != "rest-hook" {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "a rest-hook Subscription is required",
        );
    }
    g.next_search += 1;
    body["id"] = json!(format!("sub-{}", g.next_search));
    body["status"] = json!("requested");
    // Stored as asked for: its handshake is queued (`changed`).
    let (stored, version) = write::store(peer, g, body);
    fhir(StatusCode::CREATED, &stored, Some(version))
}

impl FhirPeer {
    /// Queues a heartbeat for every active Subscription.
    pub fn queue_heartbeat(&self) {
        let mut g = self.peer.lock();
        for sub in subscriptions(&g, "active") {
            let bundle = notification(&self.peer, &mut g, &sub, "heartbeat", None);
            g.outbox.push(Pending {
                subscription: sub["id"].as_str().unwrap_or("").to_owned(),
                kind: "heartbeat",
                bundle,
            });
        }
    }

    /// Sends every queued notification, oldest first, to its Subscription's endpoint with the
    /// channel's headers; the HTTP status of each (0 when unanswered). A handshake answered
    /// 2xx makes its Subscription `active`; a refused notification is not queued again (the
    /// test sends it again with [`FhirPeer::notifications_sent`]'s bodies if it wants).
    ///
    /// # Panics
    /// When no HTTP client can be made.
    pub async fn deliver_notifications(&self) -> Vec<u16> {
        let queued = std::mem::take(&mut self.peer.lock().outbox);
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for pending in queued {
            let Some(sub) = self.get("Subscription", &pending.subscription) else {
                continue;
            };
            let mut req = client
                .post(sub["channel"]["endpoint"].as_str().unwrap_or(""))
                .header("content-type", "application/fhir+json")
                .body(pending.bundle.to_string());
            for h in sub["channel"]["header"].as_array().into_iter().flatten() {
                if let Some((name, value)) = h.as_str().and_then(|h| h.split_once(':')) {
                    req = req.header(name.trim(), value.trim());
                }
            }
            let status = req.send().await.map_or(0, |r| r.status().as_u16());
            self.peer.lock().sent.push(pending.bundle.clone());
            if pending.kind == "handshake" && (200..300).contains(&status) {
                self.edit("Subscription", &pending.subscription, |s| {
                    s["status"] = json!("active");
                });
            }
            statuses.push(status);
        }
        statuses
    }

    /// Every notification body sent so far, oldest first.
    pub fn notifications_sent(&self) -> Vec<Value> {
        self.peer.lock().sent.clone()
    }
}
