//! Participant names: an actor (Practitioner, PractitionerRole, Location, Organization) named
//! only by reference, with no `display`, gets its name from the resource it refers to: from a
//! search's `_include=Appointment:actor` where the server offers it, else by reading it, each
//! reference once per portal call ([`Names`]). A participant that cannot be read keeps no name;
//! the appointment is still shown.

use std::collections::HashMap;

use serde_json::Value;

use super::{FhirPas, map};
use crate::PasError;

/// The kinds of actor whose names the portal shows (clinician, clinic, trust).
const NAMED: [&str; 4] = [
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Organization",
];

/// Names of the participants met in one portal call, by reference (`Practitioner/1`); `None`
/// for one read without a name, or not read at all.
#[derive(Debug, Default)]
pub(super) struct Names(HashMap<String, Option<String>>);

impl Names {
    /// The names in a search's included resources.
    pub(super) fn from_included(included: &[Value]) -> Self {
        let mut names = Self::default();
        for r in included {
            let kind = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
            let id = r.get("id").and_then(Value::as_str).unwrap_or("");
            if NAMED.contains(&kind) && !id.is_empty() {
                names.0.insert(format!("{kind}/{id}"), name_of(r));
            }
        }
        names
    }
}

/// A HumanName as shown: its `text`, else prefix, given names and family name.
fn human_name(name: &Value) -> Option<String> {
    if let Some(text) = name.get("text").and_then(Value::as_str) {
        return Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    }
    let parts = |key: &str| -> Vec<&str> {
        name.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let mut words = parts("prefix");
    words.extend(parts("given"));
    words.extend(name.get("family").and_then(Value::as_str));
    let joined = words
        .iter()
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(joined).filter(|j| !j.is_empty())
}

/// The name a participant's resource gives itself: a Practitioner's first (official, else
/// any) name, a PractitionerRole's practitioner's display, a Location's or Organization's name.
fn name_of(resource: &Value) -> Option<String> {
    match resource.get("resourceType").and_then(Value::as_str)? {
        "Practitioner" => {
            let names: Vec<&Value> = resource
                .get("name")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            let official = names
                .iter()
                .find(|n| n.get("use").and_then(Value::as_str) == Some("official"));
            official.or(names.first()).and_then(|n| human_name(n))
        }
        "PractitionerRole" => resource
            .pointer("/practitioner/display")
            .and_then(Value::as_str)
            .map(str::to_owned),
        "Location" | "Organization" => resource
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// The reference (`Kind/id`) of each participant named only by reference.
fn unnamed(appointment: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for actor in appointment
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("actor"))
        .filter(|a| a.get("display").and_then(Value::as_str).is_none())
    {
        let Some(reference) = actor.get("reference").and_then(Value::as_str) else {
            continue;
        };
        if let Some(local) = NAMED
            .iter()
            .find_map(|k| map::local_reference(reference, k))
            && !out.contains(&local)
        {
            out.push(local);
        }
    }
    out
}

impl FhirPas {
    /// Gives each participant of `appointment` named only by reference the `display` its
    /// resource names, from `names` or else read (and remembered in `names`). Reads that fail
    /// for good leave the participant unnamed; a PAS that does not answer is an error.
    pub(super) async fn name_participants(
        &self,
        appointment: &mut Value,
        names: &mut Names,
    ) -> Result<(), PasError> {
        for reference in unnamed(appointment) {
            if names.0.contains_key(&reference) {
                continue;
            }
            let name = match self.get(self.url(&reference, &[])?).await {
                Ok(Some(read)) => name_of(&read.body),
                Ok(None) => None,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "FHIR PAS: a participant could not be read");
                    None
                }
            };
            names.0.insert(reference, name);
        }
        for actor in appointment
            .get_mut("participant")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get_mut("actor"))
        {
            if actor.get("display").is_some() {
                continue;
            }
            let local = actor
                .get("reference")
                .and_then(Value::as_str)
                .and_then(|r| NAMED.iter().find_map(|k| map::local_reference(r, k)));
            if let Some(Some(name)) = local.and_then(|l| names.0.get(&l)) {
                actor["display"] = Value::from(name.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_name_each_kind_of_participant_gives_itself_table() {
        let cases = [
            (
                json!({"resourceType": "Practitioner", "name": [
                    {"use": "usual", "given": ["Amy"]},
                    {"use": "official", "prefix": ["Dr"], "given": ["Amira", "J"], "family": "Shah"}]}),
                Some("Dr Amira J Shah"),
            ),
            (
                json!({"resourceType": "Practitioner", "name": [{"text": " Mr K Osei "}]}),
                Some("Mr K Osei"),
            ),
            (
                json!({"resourceType": "Practitioner", "name": [{"family": ""}]}),
                None,
            ),
            (json!({"resourceType": "Practitioner"}), None),
            (
                json!({"resourceType": "PractitionerRole",
                    "practitioner": {"reference": "Practitioner/1", "display": "Dr Lee"}}),
                Some("Dr Lee"),
            ),
            (
                json!({"resourceType": "Location", "name": "Outpatients 2"}),
                Some("Outpatients 2"),
            ),
            (
                json!({"resourceType": "Organization", "name": "Northfield"}),
                Some("Northfield"),
            ),
            (
                json!({"resourceType": "Patient", "name": [{"text": "A Patient"}]}),
                None,
            ),
        ];
        for (resource, want) in cases {
            assert_eq!(name_of(&resource).as_deref(), want, "{resource}");
        }
    }

    #[test]
    fn only_participants_without_a_display_are_looked_up() {
        let appointment = json!({"resourceType": "Appointment", "participant": [
            {"actor": {"reference": "Patient/p1"}},
            {"actor": {"reference": "Practitioner/dr-1", "display": "Dr One"}},
            {"actor": {"reference": "https://pas.example/fhir/Practitioner/dr-2/_history/3"}},
            {"actor": {"reference": "Location/loc-1"}},
            {"actor": {"reference": "Location/loc-1"}},
            {"actor": {"display": "Clinic with no reference"}},
        ]});
        assert_eq!(
            unnamed(&appointment),
            ["Practitioner/dr-2", "Location/loc-1"]
        );
    }
}
