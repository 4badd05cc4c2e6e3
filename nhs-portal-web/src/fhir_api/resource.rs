//! The FHIR R4 wire shape of the PCA Get Appointments response: a `Bundle` of `Appointment`s.
//!
//! Wire types are separate from the domain [`nhs_portal_core::Appointment`] and borrow from it:
//! an answer is built as these typed values, checked by the [`guard`](super::guard) on them,
//! and serialized once, straight to bytes ([`Bundle::to_json`]), with no `serde_json::Value`
//! in between. Empty lists and absent values are left out, because FHIR JSON forbids empty
//! arrays and `null`s.

use chrono::{DateTime, SecondsFormat, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::deep_link::{DeepLinkBase, LinkQuery, Target};
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::{Appointment, RequestStatus};
use serde::Serialize;

/// `Extension-ServiceRequest-Priority`.
pub const PRIORITY_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-ServiceRequest-Priority";
/// The e-RS priority code system.
pub const PRIORITY_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/eRS-Priority";
/// `Extension-Consultation-Medium`.
pub const MEDIUM_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-Consultation-Medium";
/// `Extension-Portal-Link`: the deep link.
pub const PORTAL_LINK_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-Portal-Link";
/// The legacy specialty system the spec also allows.
pub const LEGACY_SPECIALTY_SYSTEM: &str = "https://fhir.nhs.uk/STU3/CodeSystem/Specialty-1";
/// The ODS organisation code system.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// The SDS user id system (practitioners).
pub const SDS_USER_SYSTEM: &str = "https://fhir.nhs.uk/Id/sds-user-id";
/// The HL7 v3 ActCode system used for `appointmentType`.
pub const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// About how many bytes one entry takes (the demo's are 1.6 to 1.9 KB): the answer's buffer is
/// sized from it, so it is seldom grown while written.
const ENTRY_BYTES: usize = 2048;

/// A FHIR `Bundle` of type `searchset`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle<'a> {
    /// Always `Bundle`.
    pub resource_type: &'static str,
    /// A random id for this response.
    pub id: String,
    /// Always `searchset`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// How many appointments are in `entry`.
    pub total: usize,
    /// The matches (left out when there are none, as in the spec's `emptyBundle` example).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<Entry<'a>>,
}

impl Bundle<'_> {
    /// The Bundle as JSON, written once into a buffer sized for its entries.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256 + ENTRY_BYTES * self.entry.len());
        serde_json::to_writer(&mut out, self)?;
        Ok(out)
    }
}

/// One Bundle entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    /// The resource's absolute URL.
    pub full_url: String,
    /// Always `{"mode":"match"}`.
    pub search: Search,
    /// The Appointment (checked by the guard before it is put here).
    pub resource: FhirAppointment<'a>,
}

/// `Bundle.entry.search`.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// Always `match`.
    pub mode: &'static str,
}

/// A PCA `Appointment` resource, borrowing its text from the domain appointment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FhirAppointment<'a> {
    /// Always `Appointment`.
    pub resource_type: &'static str,
    /// The appointment id.
    pub id: &'a str,
    /// Priority, request status, consultation medium and the deep link.
    pub extension: Vec<Extension<'a>>,
    /// The PAS's identifiers and the portal's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<FhirIdentifier<'a>>,
    /// `booked`, `fulfilled`, `cancelled` or `noshow`.
    pub status: &'static str,
    /// Inpatient, ambulatory or home health, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_type: Option<CodeableConcept<'a>>,
    /// The Treatment Function Code.
    pub specialty: Vec<CodeableConcept<'a>>,
    /// What the appointment is.
    pub description: &'a str,
    /// When it starts, as a UTC instant ([`fhir_instant`]).
    pub start: String,
    /// When it ends, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// The patient, the trust, the place and the clinician.
    pub participant: Vec<Participant<'a>>,
}

/// An `extension` of an Appointment: one of `valueCode`, `valueCoding` or `valueUrl`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension<'a> {
    /// The extension's URL.
    pub url: &'static str,
    /// A code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_code: Option<&'static str>,
    /// A coding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding<'a>>,
    /// A URL (the deep link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_url: Option<String>,
}

/// A FHIR `Coding`.
#[derive(Debug, Clone, Serialize)]
pub struct Coding<'a> {
    /// The code system.
    pub system: &'static str,
    /// The code.
    pub code: &'a str,
    /// Its display, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<&'a str>,
}

/// A FHIR `CodeableConcept`.
#[derive(Debug, Clone, Serialize)]
pub struct CodeableConcept<'a> {
    /// Its codings.
    pub coding: Vec<Coding<'a>>,
}

/// A FHIR `Identifier`.
#[derive(Debug, Clone, Serialize)]
pub struct FhirIdentifier<'a> {
    /// The identifier system.
    pub system: &'a str,
    /// The value.
    pub value: &'a str,
}

/// An Appointment `participant`.
#[derive(Debug, Clone, Serialize)]
pub struct Participant<'a> {
    /// Who or what takes part.
    pub actor: Actor<'a>,
    /// Always `accepted`.
    pub status: &'static str,
}

/// A participant's `actor`: a reference by type, identifier and display.
#[derive(Debug, Clone, Serialize)]
pub struct Actor<'a> {
    /// `Patient`, `Location`, `Practitioner` or `HealthcareService`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its identifier, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<FhirIdentifier<'a>>,
    /// Its name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<&'a str>,
}

/// A UTC instant as the spec's examples write it: `2021-06-13T12:30:00+00:00`.
pub fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// What the mapping needs besides the appointment: the same for every appointment of one PCA
/// request.
#[derive(Debug, Clone, Copy)]
pub struct LinkContext<'a> {
    /// The portal's public base URL.
    pub base: &'a DeepLinkBase,
    /// The deep links' query (`extSystemName`, and `trackingId`: this request's
    /// `X-Correlation-ID`), encoded once per request.
    pub query: &'a LinkQuery,
    /// The identifier system for the portal's own appointment ids.
    pub portal_identifier_system: &'a str,
}

/// Maps one appointment to a PCA `Appointment` resource, with `request_status` as the effective
/// request status (the store's pending request, else the PAS's own).
pub fn appointment<'a>(
    a: &'a Appointment,
    request_status: Option<RequestStatus>,
    ctx: &LinkContext<'a>,
) -> FhirAppointment<'a> {
    let mut extension = Vec::with_capacity(4);
    if let Some(p) = a.priority {
        extension.push(Extension {
            url: PRIORITY_EXTENSION,
            value_code: None,
            value_coding: Some(Coding {
                system: PRIORITY_SYSTEM,
                code: p.fhir_code(),
                display: None,
            }),
            value_url: None,
        });
    }
    if let Some(r) = request_status {
        extension.push(Extension {
            url: REQUEST_STATUS_EXTENSION,
            value_code: Some(r.fhir_code()),
            value_coding: None,
            value_url: None,
        });
    }
    extension.push(Extension {
        url: MEDIUM_EXTENSION,
        value_code: Some(a.medium.fhir_code()),
        value_coding: None,
        value_url: None,
    });
    extension.push(Extension {
        url: PORTAL_LINK_EXTENSION,
        value_code: None,
        value_coding: None,
        value_url: Some(
            ctx.base
                .link_with(&Target::Appointment(a.id.clone()), ctx.query),
        ),
    });

    let mut identifier = Vec::with_capacity(a.identifiers.len() + 1);
    identifier.extend(a.identifiers.iter().map(|i| FhirIdentifier {
        system: &i.system,
        value: &i.value,
    }));
    if !identifier
        .iter()
        .any(|i| i.system == ctx.portal_identifier_system)
    {
        identifier.push(FhirIdentifier {
            system: ctx.portal_identifier_system,
            value: a.id.as_str(),
        });
    }

    let appointment_type = a.appointment_type.act_code().map(|code| CodeableConcept {
        coding: vec![Coding {
            system: ACT_CODE_SYSTEM,
            code,
            display: Some(act_display(code)),
        }],
    });

    let mut participant = Vec::with_capacity(4);
    participant.push(Participant {
        actor: Actor {
            kind: "Patient",
            identifier: Some(FhirIdentifier {
                system: NHS_NUMBER_SYSTEM,
                value: a.patient.as_str(),
            }),
            display: None,
        },
        status: "accepted",
    });
    participant.push(Participant {
        actor: Actor {
            kind: "Location",
            identifier: Some(FhirIdentifier {
                system: ODS_SYSTEM,
                value: a.organisation.ods_code.as_str(),
            }),
            display: non_empty(&a.organisation.name),
        },
        status: "accepted",
    });
    if a.medium.is_physical()
        && let Some(loc) = &a.location
    {
        participant.push(Participant {
            actor: Actor {
                kind: "Location",
                identifier: None,
                display: non_empty(&loc.name),
            },
            status: "accepted",
        });
    }
    if let Some(c) = &a.clinician
        && (c.sds_user_id.is_some() || !c.name.trim().is_empty())
    {
        participant.push(Participant {
            actor: Actor {
                kind: "Practitioner",
                identifier: c.sds_user_id.as_deref().map(|v| FhirIdentifier {
                    system: SDS_USER_SYSTEM,
                    value: v,
                }),
                display: non_empty(&c.name),
            },
            status: "accepted",
        });
    }

    FhirAppointment {
        resource_type: "Appointment",
        id: a.id.as_str(),
        extension,
        identifier,
        status: a.status.fhir_code(),
        appointment_type,
        specialty: vec![CodeableConcept {
            coding: vec![Coding {
                system: SPECIALTY_SYSTEM,
                code: a.specialty.code.as_str(),
                display: non_empty(&a.specialty.display),
            }],
        }],
        description: &a.description,
        start: fhir_instant(a.start),
        end: a.end.map(fhir_instant),
        participant,
    }
}

fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The display the spec lists for each `appointmentType` code.
pub fn act_display(code: &str) -> &'static str {
    match code {
        "IMP" => "inpatient encounter",
        "AMB" => "ambulatory",
        "HH" => "home health",
        _ => "",
    }
}
