//! What an appointment's participants' resources add to it.
//!
//! - **Names**: an actor (Practitioner, PractitionerRole, Location, Organization) named only by
//!   reference, with no `display`, gets its name from the resource it refers to.
//! - **The clinic's contact**: the phone line and opening hours of the `HealthcareService`
//!   actor, else of the `Location` actor, that carries one (`map::contact` says how R4 is
//!   read); these actors are read even when they have a `display`, since a display carries no
//!   phone.
//!
//! Resources come from a search's `_include=Appointment:actor` where the server offers it, else
//! by reading them, each reference once per portal call ([`Participants`]). A participant that
//! cannot be read keeps no name and gives no contact; the appointment is still shown. A read
//! made only for the contact never fails the call (the trust's configured contact is shown
//! instead); one made for a name fails a read or a list when the PAS does not answer
//! ([`Unanswered`]).
//!
//! The answers to changes (cancel, reschedule, confirm attendance) are dressed the same way,
//! from reads made *before* the change, never after it: a PAS slow to answer them cannot turn
//! a change made into an error. A participant the change brings in (a rescheduled
//! appointment's new place) is left unnamed in that answer; the next read names it. The event
//! feed's snapshots are dressed with reads that never fail the poll.

use std::collections::HashMap;

use nhs_portal_core::Contact;
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

/// The kinds of actor that may carry the clinic's contact, in the order they are asked.
const CONTACTS: [&str; 2] = ["HealthcareService", "Location"];

/// What one participant's resource gives.
#[derive(Debug, Default, Clone)]
struct Participant {
    name: Option<String>,
    contact: Option<Contact>,
}

impl Participant {
    fn of(resource: &Value) -> Self {
        Self {
            name: name_of(resource),
            contact: map::contact::contact_of(resource),
        }
    }
}

/// The participants met in one portal call, by reference (`Practitioner/1`): what each
/// resource gave (nothing for one not found or not readable).
#[derive(Debug, Default)]
pub(super) struct Participants(HashMap<String, Participant>);

impl Participants {
    /// The participants in a search's included resources.
    pub(super) fn from_included(included: &[Value]) -> Self {
        let mut known = Self::default();
        for r in included {
            let kind = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
            let id = r.get("id").and_then(Value::as_str).unwrap_or("");
            if (NAMED.contains(&kind) || CONTACTS.contains(&kind)) && !id.is_empty() {
                known.0.insert(format!("{kind}/{id}"), Participant::of(r));
            }
        }
        known
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

/// An actor's reference as `Kind/id`, for the kinds in `kinds`.
fn reference_in(actor: &Value, kinds: &[&str]) -> Option<String> {
    let reference = actor.get("reference").and_then(Value::as_str)?;
    kinds
        .iter()
        .find_map(|k| map::local_reference(reference, k))
}

fn actors(appointment: &Value) -> impl Iterator<Item = &Value> {
    appointment
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("actor"))
}

/// The participants whose resources are needed, each once, in order: `(Kind/id, for a name)`,
/// for a name when the actor has no `display`, else only for the contact.
fn to_read(appointment: &Value) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for actor in actors(appointment) {
        let unnamed = actor.get("display").and_then(Value::as_str).is_none();
        let local = reference_in(actor, &NAMED)
            .filter(|_| unnamed)
            .map(|r| (r, true))
            .or_else(|| reference_in(actor, &CONTACTS).map(|r| (r, false)));
        let Some((reference, for_name)) = local else {
            continue;
        };
        match out.iter_mut().find(|(r, _)| *r == reference) {
            Some((_, seen)) => *seen |= for_name,
            None => out.push((reference, for_name)),
        }
    }
    out
}

/// What a participant's read that the PAS does not answer does to the portal call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unanswered {
    /// A read needed for a name fails the call, as the appointment could not be shown whole
    /// (reads and lists: the patient is asked to try again).
    FailsNames,
    /// Nothing fails: the participant is left out (before a change, whose answer the names
    /// only dress, and on the event feed).
    Ignored,
}

impl Participants {
    /// Gives each participant of `appointment` named only by reference the `display` its
    /// resource names, as far as known, and returns the clinic's contact: the first
    /// `HealthcareService` actor's, else the first `Location` actor's, that has a phone. No
    /// reads.
    pub(super) fn fill(&self, appointment: &mut Value) -> Option<Contact> {
        let contact = CONTACTS.iter().find_map(|kind| {
            actors(appointment)
                .filter_map(|a| reference_in(a, &[kind]))
                .find_map(|r| self.0.get(&r).and_then(|p| p.contact.clone()))
        });
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
            let name = reference_in(actor, &NAMED)
                .and_then(|r| self.0.get(&r))
                .and_then(|p| p.name.clone());
            if let Some(name) = name {
                actor["display"] = Value::from(name);
            }
        }
        contact
    }
}

impl FhirPas {
    /// Reads the resources of `appointment`'s participants that `known` does not hold yet
    /// (those [`Participants::fill`] needs) and remembers them in `known`. A read that fails
    /// for good, or is not answered when `unanswered` allows it, is logged and leaves that
    /// participant out.
    pub(super) async fn learn_participants(
        &self,
        appointment: &Value,
        known: &mut Participants,
        unanswered: Unanswered,
    ) -> Result<(), PasError> {
        for (reference, for_name) in to_read(appointment) {
            if known.0.contains_key(&reference) {
                continue;
            }
            let read = match self.get(self.url(&reference, &[])?).await {
                Ok(Some(read)) => Participant::of(&read.body),
                Ok(None) => Participant::default(),
                Err(e) if e.is_transient() && for_name && unanswered == Unanswered::FailsNames => {
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "FHIR PAS: a participant could not be read");
                    Participant::default()
                }
            };
            known.0.insert(reference, read);
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
    fn participants_are_read_for_a_missing_name_or_a_possible_contact() {
        let appointment = json!({"resourceType": "Appointment", "participant": [
            {"actor": {"reference": "Patient/p1"}},
            {"actor": {"reference": "Practitioner/dr-1", "display": "Dr One"}},
            {"actor": {"reference": "https://pas.example/fhir/Practitioner/dr-2/_history/3"}},
            {"actor": {"reference": "Location/loc-1", "display": "Outpatients 1"}},
            {"actor": {"reference": "Location/loc-1"}},
            {"actor": {"reference": "HealthcareService/hs-1", "display": "Skin clinic"}},
            {"actor": {"reference": "HealthcareService/hs-2"}},
            {"actor": {"reference": "Organization/org-1", "display": "Northfield"}},
            {"actor": {"display": "Clinic with no reference"}},
        ]});
        assert_eq!(
            to_read(&appointment),
            [
                ("Practitioner/dr-2".to_owned(), true),
                ("Location/loc-1".to_owned(), true),
                ("HealthcareService/hs-1".to_owned(), false),
                ("HealthcareService/hs-2".to_owned(), false),
            ]
        );
        let named = json!({"participant": [
            {"actor": {"reference": "Location/loc-2", "display": "Outpatients 2"}}]});
        assert_eq!(to_read(&named), [("Location/loc-2".to_owned(), false)]);
    }
}
