//! FHIR Subscriptions (the R4 Subscriptions Backport IG, `rest-hook` channel): where the
//! server's CapabilityStatement lists `Subscription` with the backport profile, the adapter
//! registers one ([`FhirPas::subscribe`]) for the trust's Appointments, and reads what the server
//! then posts to the portal ([`NotificationReader`]): `history` Bundles whose first entry is a
//! SubscriptionStatus `Parameters`. Handshakes, heartbeats and status reports change nothing;
//! an `event-notification` names changed Appointments, with their content (`full-resource`) or
//! without it (`id-only`, when the adapter reads each one). Either way they become the same
//! events as a poll ([`events_in`](FhirPas::events_in)), compared with the portal's last-seen
//! record, so a change a poll also sees is reported once. Polling stays on as the safety net.

use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;

use super::{FhirPas, SecretText, map};
use crate::PasError;
use crate::notification::{Notification, NotificationReader};

/// The backport IG's profile of an R4 Subscription.
pub const BACKPORT_SUBSCRIPTION_PROFILE: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription";
/// The backport IG's extension on `channel.payload` naming how much of a resource is sent.
const PAYLOAD_CONTENT_EXTENSION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
/// The backport IG's extension on `criteria` carrying the filter for a topic.
const FILTER_CRITERIA_EXTENSION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria";

/// How much of a changed resource a notification carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadContent {
    /// Only its id: the adapter reads each one (less patient data in transit and in the
    /// server's retry queue).
    IdOnly,
    /// The whole resource.
    #[default]
    FullResource,
}

impl PayloadContent {
    fn code(self) -> &'static str {
        match self {
            Self::IdOnly => "id-only",
            Self::FullResource => "full-resource",
        }
    }
}

/// A Subscription for one trust's Appointments, posting to the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionConfig {
    /// Where the server posts notifications: the portal's notification route for this trust
    /// (`{base URL}/fhir-notifications/{ODS code}`; https, except on this machine).
    pub endpoint: Url,
    /// The shared secret the server sends back as `Authorization: Bearer …` on each
    /// notification (at least 32 characters of randomness).
    pub secret: SecretText,
    /// Full resources or ids only.
    pub payload: PayloadContent,
    /// The server's SubscriptionTopic for appointment changes, if it defines topics (the
    /// backport IG's `criteria`, with the trust's scope as its filter); without one the
    /// criteria is `Appointment?{scope}`.
    pub topic: Option<String>,
}

impl SubscriptionConfig {
    /// Full-resource notifications to `endpoint`, with `secret`, no topic.
    pub fn new(endpoint: Url, secret: SecretText) -> Self {
        Self {
            endpoint,
            secret,
            payload: PayloadContent::default(),
            topic: None,
        }
    }
}

/// The value of a named `Parameters` parameter (`value[x]` of any type).
fn parameter<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params
        .get("parameter")
        .and_then(Value::as_array)?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
}

fn value_of<'a>(param: &'a Value, key: &str) -> Option<&'a str> {
    param.get(key).and_then(Value::as_str)
}

/// Whether the CapabilityStatement offers backport Subscriptions that clients may create.
pub(super) fn offers_subscriptions(cs: &Value) -> bool {
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
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("Subscription"))
        .any(|r| {
            let profiled = r
                .get("supportedProfile")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|p| p.as_str() == Some(BACKPORT_SUBSCRIPTION_PROFILE));
            let creates = r
                .get("interaction")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|i| i.get("code").and_then(Value::as_str) == Some("create"));
            profiled && creates
        })
}

/// The Appointment ids a notification names: its entries' resources or `fullUrl`s and its
/// events' `focus` references. `Some(resource)` when the entry carried it.
fn named(bundle: &Value) -> Vec<(String, Option<Value>)> {
    let mut out: Vec<(String, Option<Value>)> = Vec::new();
    let mut add = |id: String, body: Option<Value>| match out.iter_mut().find(|(i, _)| *i == id) {
        Some(known) if known.1.is_none() => known.1 = body,
        Some(_) => {}
        None => out.push((id, body)),
    };
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries.iter().skip(1) {
        let resource = entry.get("resource");
        let kind = resource
            .and_then(|r| r.get("resourceType"))
            .and_then(Value::as_str);
        match (kind, resource) {
            (Some("Appointment"), Some(r)) => {
                if let Some(id) = r.get("id").and_then(Value::as_str) {
                    add(id.to_owned(), Some(r.clone()));
                }
            }
            (Some(_), _) => {}
            (None, _) => {
                let reference = entry
                    .get("fullUrl")
                    .and_then(Value::as_str)
                    .or_else(|| entry.pointer("/request/url").and_then(Value::as_str));
                if let Some(id) = reference
                    .and_then(|r| map::local_reference(r, "Appointment"))
                    .and_then(|r| r.strip_prefix("Appointment/").map(str::to_owned))
                {
                    add(id, None);
                }
            }
        }
    }
    let status = entries.first().and_then(|e| e.get("resource"));
    let events = status
        .and_then(|s| s.get("parameter"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("name").and_then(Value::as_str) == Some("notification-event"));
    for event in events {
        let focus = event
            .get("part")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some("focus"))
            .and_then(|p| p.pointer("/valueReference/reference"))
            .and_then(Value::as_str)
            .and_then(|r| map::local_reference(r, "Appointment"))
            .and_then(|r| r.strip_prefix("Appointment/").map(str::to_owned));
        if let Some(id) = focus {
            add(id, None);
        }
    }
    out
}

impl FhirPas {
    /// The Subscription this adapter asks for (see [`SubscriptionConfig`]).
    fn subscription_resource(&self, sub: &SubscriptionConfig) -> Value {
        let scope: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.cfg.feed.scope.iter())
            .finish();
        let filter = format!("Appointment?{scope}");
        let mut resource = json!({
            "resourceType": "Subscription",
            "meta": {"profile": [BACKPORT_SUBSCRIPTION_PROFILE]},
            "status": "requested",
            "reason": "Appointment changes for the NHS patient portal",
            "channel": {
                "type": "rest-hook",
                "endpoint": sub.endpoint.as_str(),
                "payload": "application/fhir+json",
                "_payload": {"extension": [{
                    "url": PAYLOAD_CONTENT_EXTENSION,
                    "valueCode": sub.payload.code(),
                }]},
                "header": [format!("Authorization: Bearer {}", sub.secret.0)],
            },
        });
        match &sub.topic {
            Some(topic) => {
                resource["criteria"] = json!(topic);
                resource["_criteria"] = json!({"extension": [{
                    "url": FILTER_CRITERIA_EXTENSION, "valueString": filter,
                }]});
            }
            None => resource["criteria"] = json!(filter),
        }
        resource
    }

    /// Registers the configured Subscription ([`FhirPasConfig::subscription`](super::FhirPasConfig::subscription))
    /// with the server, or updates the one it already holds for the same endpoint when it
    /// differs (so restarts do not pile up Subscriptions): its id. `Ok(None)` when none is configured or the server
    /// does not offer backport Subscriptions (polling alone then).
    pub async fn subscribe(&self) -> Result<Option<String>, PasError> {
        let Some(sub) = self.cfg.subscription.clone() else {
            return Ok(None);
        };
        self.call(async {
            if !self.server_caps().await.subscriptions {
                return Ok(None);
            }
            let wanted = self.subscription_resource(&sub);
            let existing = self
                .search(
                    "Subscription",
                    &[("status", "requested,active,error,off".to_owned())],
                )
                .await?
                .into_iter()
                .find(|s| {
                    s.pointer("/channel/endpoint").and_then(Value::as_str)
                        == Some(sub.endpoint.as_str())
                });
            let same = |old: &Value| {
                ["criteria", "_criteria", "channel"]
                    .iter()
                    .all(|k| old.get(k) == wanted.get(k))
            };
            let stored = match existing {
                // Already as wanted: left alone (an active one stays active).
                Some(old) if same(&old) => old,
                // Changed (another secret or payload): asked for again, so the server
                // handshakes again.
                Some(old) => {
                    let id = old.get("id").and_then(Value::as_str).unwrap_or_default();
                    let version = old
                        .pointer("/meta/versionId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let mut body = wanted;
                    body["id"] = json!(id);
                    self.update("Subscription", &old, &body, &version).await?
                }
                None => self.create("Subscription", &wanted).await?,
            };
            Ok(stored.get("id").and_then(Value::as_str).map(str::to_owned))
        })
        .await
    }

    /// `POST {kind}` of a new resource: the resource as stored.
    async fn create(&self, kind: &str, body: &Value) -> Result<Value, PasError> {
        let url = self.url(kind, &[])?;
        let text = body.to_string();
        let created = self
            .once(|| {
                self.client
                    .post(url.clone())
                    .header(http::header::CONTENT_TYPE, super::client::FHIR_JSON)
                    .header("prefer", "return=representation")
                    .body(text.clone())
            })
            .await?
            .ok_or(PasError::NotFound)?;
        if created.body.get("resourceType").and_then(Value::as_str) == Some(kind) {
            return Ok(created.body);
        }
        Err(PasError::BadData(format!(
            "the created {kind} was not returned"
        )))
    }

    async fn notification_in_pas(&self, body: &[u8]) -> Result<Notification, PasError> {
        let bundle: Value = serde_json::from_slice(body)
            .map_err(|_| PasError::BadData("a notification that is not JSON".into()))?;
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle")
            || bundle.get("type").and_then(Value::as_str) != Some("history")
        {
            return Err(PasError::BadData(
                "a notification is a history Bundle".into(),
            ));
        }
        let status = bundle
            .pointer("/entry/0/resource")
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Parameters"))
            .ok_or_else(|| {
                PasError::BadData("a notification starts with its SubscriptionStatus".into())
            })?;
        let kind = parameter(status, "type").and_then(|p| value_of(p, "valueCode"));
        match kind {
            Some("handshake" | "heartbeat" | "query-status") => return Ok(Notification::Nothing),
            Some("event-notification" | "query-event") => {}
            _ => {
                return Err(PasError::BadData(
                    "a notification of an unknown type".into(),
                ));
            }
        }
        let mut resources = Vec::new();
        for (id, body) in named(&bundle) {
            match body {
                Some(b) => resources.push(b),
                None if super::client::safe_id(&id) => {
                    if let Some(read) = self
                        .get(self.url(&format!("Appointment/{id}"), &[])?)
                        .await?
                    {
                        resources.push(read.body);
                    }
                }
                None => {}
            }
        }
        Ok(Notification::Changes(
            self.events_in(resources, None).await?,
        ))
    }
}

#[async_trait]
impl NotificationReader for FhirPas {
    /// A Subscription notification (a backport `history` Bundle), within one portal
    /// call's deadline.
    async fn read_notification(&self, body: &[u8]) -> Result<Notification, PasError> {
        self.call(self.notification_in_pas(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backport_subscriptions_are_offered_only_with_the_profile_and_create_table() {
        let cs = |profiles: &[&str], interactions: &[&str]| {
            json!({"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": [
                {"type": "Subscription", "supportedProfile": profiles,
                 "interaction": interactions.iter().map(|c| json!({"code": c})).collect::<Vec<_>>()},
            ]}]})
        };
        let cases = [
            (
                cs(&[BACKPORT_SUBSCRIPTION_PROFILE], &["create", "read"]),
                true,
            ),
            (cs(&[BACKPORT_SUBSCRIPTION_PROFILE], &["read"]), false),
            (cs(&[], &["create", "read"]), false),
            (
                json!({"resourceType": "CapabilityStatement", "rest": []}),
                false,
            ),
        ];
        for (statement, offered) in cases {
            assert_eq!(offers_subscriptions(&statement), offered, "{statement}");
        }
    }

    #[test]
    fn a_notification_names_its_appointments_with_or_without_content() {
        let bundle = json!({"resourceType": "Bundle", "type": "history", "entry": [
            {"resource": {"resourceType": "Parameters", "parameter": [
                {"name": "type", "valueCode": "event-notification"},
                {"name": "notification-event", "part": [
                    {"name": "focus", "valueReference": {"reference": "Appointment/b"}}]},
                {"name": "notification-event", "part": [
                    {"name": "focus", "valueReference": {"reference": "https://pas/fhir/Appointment/c"}}]},
            ]}},
            {"fullUrl": "https://pas/fhir/Appointment/a",
             "resource": {"resourceType": "Appointment", "id": "a"}},
            {"fullUrl": "https://pas/fhir/Appointment/b"},
            {"fullUrl": "https://pas/fhir/Patient/p", "resource": {"resourceType": "Patient", "id": "p"}},
        ]});
        let got: Vec<(String, bool)> = named(&bundle)
            .into_iter()
            .map(|(id, body)| (id, body.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), true),
                ("b".to_owned(), false),
                ("c".to_owned(), false)
            ]
        );
    }
}
