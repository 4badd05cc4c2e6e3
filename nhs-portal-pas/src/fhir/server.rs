//! What the PAS's FHIR server offers, from its CapabilityStatement (`GET metadata`, read once):
//! which writes to use (`PUT`, or JSON Patch where `PUT` is not offered), who owns the
//! Slots (the server, when it offers `Appointment/$book` or no Slot writes at all), and whether
//! it takes `transaction` Bundles.

use http::Method;
use serde_json::Value;

use super::FhirPas;
use super::client::{FHIR_JSON, JSON_PATCH};
use crate::PasError;

/// How one resource type is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteStyle {
    /// `PUT` of the whole resource.
    Put,
    /// JSON Patch of the elements that changed.
    Patch,
    /// The server takes no writes of it.
    None,
}

/// What the server said it offers. Without a readable CapabilityStatement: `PUT` everywhere
/// and client-managed Slots (the adapter's behaviour before it read one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServerCaps {
    pub(super) appointment: WriteStyle,
    pub(super) slot: WriteStyle,
    /// `Appointment/$book` is offered: the server moves appointments between its Slots.
    pub(super) book: bool,
    /// `Appointment/$cancel` is offered.
    pub(super) cancel: bool,
    /// Appointment searches take `_include=Appointment:actor` (listed in `searchInclude`).
    pub(super) include_actors: bool,
    /// The Appointment type's `_history` is offered (`history-type`): deletions can be read.
    pub(super) history: bool,
    /// `transaction` Bundles are offered (a system-level interaction): client-managed moves
    /// are then one transaction.
    pub(super) transaction: bool,
    /// Backport Subscriptions are offered (see `subscription`).
    pub(super) subscriptions: bool,
}

impl Default for ServerCaps {
    fn default() -> Self {
        Self {
            appointment: WriteStyle::Put,
            slot: WriteStyle::Put,
            book: false,
            cancel: false,
            include_actors: false,
            history: false,
            transaction: false,
            subscriptions: false,
        }
    }
}

impl ServerCaps {
    /// Reads a CapabilityStatement.
    pub(super) fn from_capability_statement(cs: &Value) -> Self {
        let resource = |kind: &str| {
            cs.get("rest")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r.get("mode").and_then(Value::as_str) == Some("server"))
                .flat_map(|r| {
                    r.get("resource")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .find(|r| r.get("type").and_then(Value::as_str) == Some(kind))
        };
        let offers = |r: Option<&Value>, code: &str| {
            r.and_then(|r| r.get("interaction"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|i| i.get("code").and_then(Value::as_str) == Some(code))
        };
        let operation = |r: Option<&Value>, name: &str| {
            r.and_then(|r| r.get("operation"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|o| o.get("name").and_then(Value::as_str) == Some(name))
        };
        let style = |r: Option<&Value>| {
            if offers(r, "update") {
                WriteStyle::Put
            } else if offers(r, "patch") {
                WriteStyle::Patch
            } else {
                WriteStyle::None
            }
        };
        let (appointment, slot) = (resource("Appointment"), resource("Slot"));
        let transaction = cs
            .get("rest")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("mode").and_then(Value::as_str) == Some("server"))
            .any(|r| offers(Some(r), "transaction"));
        Self {
            appointment: style(appointment),
            slot: style(slot),
            book: operation(appointment, "book"),
            cancel: operation(appointment, "cancel"),
            include_actors: appointment
                .and_then(|r| r.get("searchInclude"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|i| matches!(i.as_str(), Some("Appointment:actor" | "*"))),
            history: offers(appointment, "history-type"),
            transaction,
            subscriptions: super::subscription::offers_subscriptions(cs),
        }
    }

    /// Whether the server owns its Slots (the adapter never writes them then).
    pub(super) fn server_owned_slots(&self) -> bool {
        self.book || self.slot == WriteStyle::None
    }

    /// Whether a client-managed move is one transaction Bundle: transactions offered, and
    /// Slots and Appointments both taken by `PUT` (a transaction entry is a whole resource).
    pub(super) fn moves_in_transaction(&self) -> bool {
        self.transaction
            && !self.server_owned_slots()
            && self.slot == WriteStyle::Put
            && self.appointment == WriteStyle::Put
    }
}

/// The JSON Patch that turns `before` into `after`, element by element at the top level
/// (`add` replaces a member that exists), `meta` and `id` left out.
pub(super) fn top_level_patch(before: &Value, after: &Value) -> Value {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Value::Array(Vec::new());
    };
    let skip = |k: &str| matches!(k, "meta" | "id" | "resourceType");
    let mut ops: Vec<Value> = a
        .iter()
        .filter(|(k, v)| !skip(k) && b.get(*k) != Some(*v))
        .map(|(k, v)| serde_json::json!({"op": "add", "path": format!("/{k}"), "value": v}))
        .collect();
    ops.extend(
        b.keys()
            .filter(|k| !skip(k) && !a.contains_key(*k))
            .map(|k| serde_json::json!({"op": "remove", "path": format!("/{k}")})),
    );
    Value::Array(ops)
}

impl FhirPas {
    /// The server's capabilities, read from `metadata` the first time they are needed (a
    /// failed read is tried again next time; meanwhile the defaults hold).
    pub(super) async fn server_caps(&self) -> ServerCaps {
        if let Some(caps) = self.server.get() {
            return *caps;
        }
        let read = async {
            let cs = self.get(self.url("metadata", &[])?).await?;
            Ok::<_, PasError>(cs.map(|v| v.body))
        };
        match read.await {
            Ok(Some(cs))
                if cs.get("resourceType").and_then(Value::as_str)
                    == Some("CapabilityStatement") =>
            {
                *self
                    .server
                    .get_or_init(|| async { ServerCaps::from_capability_statement(&cs) })
                    .await
            }
            Ok(_) => {
                *self
                    .server
                    .get_or_init(|| async { ServerCaps::default() })
                    .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "FHIR PAS: the CapabilityStatement could not be read");
                ServerCaps::default()
            }
        }
    }

    /// Writes `after` over `before` (read at `version`) the way the server takes writes of
    /// `kind`: `PUT`, or a JSON Patch of what changed. The resource as now stored.
    pub(super) async fn update(
        &self,
        kind: &str,
        before: &Value,
        after: &Value,
        version: &str,
    ) -> Result<Value, PasError> {
        let caps = self.server_caps().await;
        let style = match kind {
            "Slot" => caps.slot,
            _ => caps.appointment,
        };
        let id = after
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| PasError::BadData(format!("a {kind} without an id")))?;
        let path = format!("{kind}/{id}");
        match style {
            WriteStyle::Put => {
                match self
                    .write(Method::PUT, &path, after, FHIR_JSON, Some(version))
                    .await
                {
                    // Refused though the CapabilityStatement offered it: try a patch.
                    Err(PasError::NotSupported) => {
                        let patch = top_level_patch(before, after);
                        self.write(Method::PATCH, &path, &patch, JSON_PATCH, Some(version))
                            .await
                    }
                    other => other,
                }
            }
            WriteStyle::Patch => {
                let patch = top_level_patch(before, after);
                self.write(Method::PATCH, &path, &patch, JSON_PATCH, Some(version))
                    .await
            }
            WriteStyle::None => Err(PasError::NotSupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn capability_statements_choose_the_writes_table() {
        let cs = |appointment: &[&str], slot: &[&str], ops: &[&str]| {
            let i = |c: &[&str]| c.iter().map(|c| json!({"code": c})).collect::<Vec<_>>();
            let (ops, system): (Vec<&str>, Vec<&str>) =
                ops.iter().partition(|o| **o != "transaction");
            json!({"resourceType": "CapabilityStatement", "rest": [{"mode": "server",
                "interaction": i(&system), "resource": [
                {"type": "Appointment", "interaction": i(appointment),
                 "operation": ops.iter().map(|o| json!({"name": o})).collect::<Vec<_>>()},
                {"type": "Slot", "interaction": i(slot)},
            ]}]})
        };
        let cases = [
            (
                cs(&["read", "update", "patch"], &["read", "update"], &[]),
                (WriteStyle::Put, WriteStyle::Put, false, false),
            ),
            (
                cs(&["read", "update"], &["read", "update"], &["transaction"]),
                (WriteStyle::Put, WriteStyle::Put, false, true),
            ),
            // a transaction needs whole resources: not with PATCH-only Slots
            (
                cs(&["read", "update"], &["read", "patch"], &["transaction"]),
                (WriteStyle::Put, WriteStyle::Patch, false, false),
            ),
            (
                cs(&["read", "patch"], &["read", "patch"], &[]),
                (WriteStyle::Patch, WriteStyle::Patch, false, false),
            ),
            // the server's own Slots are never written, in a transaction or not
            (
                cs(
                    &["read", "update"],
                    &["read"],
                    &["book", "cancel", "transaction"],
                ),
                (WriteStyle::Put, WriteStyle::None, true, false),
            ),
            // read-only Slots without $book: still the server's
            (
                cs(&["read", "update"], &["read", "search-type"], &[]),
                (WriteStyle::Put, WriteStyle::None, true, false),
            ),
        ];
        for (statement, (appointment, slot, owned, transaction)) in cases {
            let caps = ServerCaps::from_capability_statement(&statement);
            assert_eq!(
                (
                    caps.appointment,
                    caps.slot,
                    caps.server_owned_slots(),
                    caps.moves_in_transaction()
                ),
                (appointment, slot, owned, transaction),
                "{statement}"
            );
        }
    }

    #[test]
    fn includes_and_history_come_from_the_appointment_resource_table() {
        let cs = |appointment: Value| {
            json!({"resourceType": "CapabilityStatement", "rest": [{"mode": "server",
                "resource": [appointment]}]})
        };
        let cases = [
            (json!({"type": "Appointment"}), (false, false)),
            (
                json!({"type": "Appointment", "searchInclude": ["Appointment:actor"]}),
                (true, false),
            ),
            (
                json!({"type": "Appointment", "searchInclude": ["*"],
                    "interaction": [{"code": "history-type"}]}),
                (true, true),
            ),
            (
                json!({"type": "Appointment", "searchInclude": ["Appointment:slot"],
                    "interaction": [{"code": "history-instance"}]}),
                (false, false),
            ),
            // Another type's includes and history are not the Appointment's.
            (
                json!({"type": "Slot", "searchInclude": ["*"],
                    "interaction": [{"code": "history-type"}]}),
                (false, false),
            ),
        ];
        for (resource, want) in cases {
            let caps = ServerCaps::from_capability_statement(&cs(resource.clone()));
            assert_eq!((caps.include_actors, caps.history), want, "{resource}");
        }
    }

    #[test]
    fn a_patch_names_only_what_changed() {
        let before = json!({"resourceType": "Appointment", "id": "a", "meta": {"versionId": "1"},
            "status": "booked", "start": "x", "comment": "keep"});
        let after = json!({"resourceType": "Appointment", "id": "a", "meta": {"versionId": "1"},
            "status": "cancelled", "start": "x", "cancelationReason": {"text": "t"}});
        let mut ops = top_level_patch(&before, &after)
            .as_array()
            .cloned()
            .unwrap_or_default();
        ops.sort_by_key(|o| o["path"].as_str().map(str::to_owned));
        assert_eq!(
            ops,
            vec![
                json!({"op": "add", "path": "/cancelationReason", "value": {"text": "t"}}),
                json!({"op": "remove", "path": "/comment"}),
                json!({"op": "add", "path": "/status", "value": "cancelled"}),
            ]
        );
    }
}
