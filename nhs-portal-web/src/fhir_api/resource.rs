//! The FHIR R4 wire shape of the PCA Get Appointments response: a `Bundle` of `Appointment`s.
//!
//! Wire types are separate from the domain [`nhs_portal_core::Appointment`]. Empty lists and
//! absent values are left out, because FHIR JSON forbids empty arrays and `null`s.

use chrono::{DateTime, SecondsFormat, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::deep_link::{DeepLinkBase, Target};
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

/// A FHIR `Bundle` of type `searchset`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
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
    pub entry: Vec<Entry>,
}

/// One Bundle entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The resource's absolute URL.
    pub full_url: String,
    /// Always `{"mode":"match"}`.
    pub search: Search,
    /// The Appointment, already turned into JSON (and checked by the guard).
    pub resource: serde_json::Value,
}

/// `Bundle.entry.search`.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// Always `match`.
    pub mode: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FhirAppointment<'a> {
    resource_type: &'static str,
    id: &'a str,
    extension: Vec<Extension>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<FhirIdentifier>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment_type: Option<CodeableConcept>,
    specialty: Vec<CodeableConcept>,
    description: &'a str,
    start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    participant: Vec<Participant>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    url: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_coding: Option<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct Coding {
    system: &'static str,
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
}

#[derive(Debug, Serialize)]
struct CodeableConcept {
    coding: Vec<Coding>,
}

#[derive(Debug, Serialize)]
struct FhirIdentifier {
    system: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Participant {
    actor: Actor,
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct Actor {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<FhirIdentifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
}

/// A UTC instant as the spec's examples write it: `2021-06-13T12:30:00+00:00`.
pub fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// What the mapping needs besides the appointment.
#[derive(Debug, Clone, Copy)]
pub struct LinkContext<'a> {
    /// The portal's public base URL.
    pub base: &'a DeepLinkBase,
    /// `extSystemName` for deep links.
    pub ext_system_name: &'a str,
    /// `trackingId`: this request's `X-Correlation-ID`.
    pub tracking_id: &'a str,
    /// The identifier system for the portal's own appointment ids.
    pub portal_identifier_system: &'a str,
}

/// Maps one appointment to a PCA `Appointment` resource, with `request_status` as the effective
/// request status (the store's pending request, else the PAS's own).
pub fn appointment_json(
    a: &Appointment,
    request_status: Option<RequestStatus>,
    ctx: &LinkContext<'_>,
) -> serde_json::Value {
    let mut extension = Vec::with_capacity(4);
    if let Some(p) = a.priority {
        extension.push(Extension {
            url: PRIORITY_EXTENSION,
            value_code: None,
            value_coding: Some(Coding {
                system: PRIORITY_SYSTEM,
                code: p.fhir_code().to_owned(),
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
        value_url: Some(ctx.base.link(
            &Target::Appointment(a.id.clone()),
            ctx.ext_system_name,
            ctx.tracking_id,
        )),
    });

    let mut identifier: Vec<FhirIdentifier> = a
        .identifiers
        .iter()
        .map(|i| FhirIdentifier {
            system: i.system.clone(),
            value: i.value.clone(),
        })
        .collect();
    if !identifier
        .iter()
        .any(|i| i.system == ctx.portal_identifier_system)
    {
        identifier.push(FhirIdentifier {
            system: ctx.portal_identifier_system.to_owned(),
            value: a.id.to_string(),
        });
    }

    let appointment_type = a.appointment_type.act_code().map(|code| CodeableConcept {
        coding: vec![Coding {
            system: ACT_CODE_SYSTEM,
            code: code.to_owned(),
            display: Some(act_display(code).to_owned()),
        }],
    });

    let mut participant = vec![
        Participant {
            actor: Actor {
                kind: "Patient",
                identifier: Some(FhirIdentifier {
                    system: NHS_NUMBER_SYSTEM.to_owned(),
                    value: a.patient.as_str().to_owned(),
                }),
                display: None,
            },
            status: "accepted",
        },
        Participant {
            actor: Actor {
                kind: "Location",
                identifier: Some(FhirIdentifier {
                    system: ODS_SYSTEM.to_owned(),
                    value: a.organisation.ods_code.to_string(),
                }),
                display: non_empty(&a.organisation.name),
            },
            status: "accepted",
        },
    ];
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
                identifier: c.sds_user_id.as_ref().map(|v| FhirIdentifier {
                    system: SDS_USER_SYSTEM.to_owned(),
                    value: v.clone(),
                }),
                display: non_empty(&c.name),
            },
            status: "accepted",
        });
    }

    let resource = FhirAppointment {
        resource_type: "Appointment",
        id: a.id.as_str(),
        extension,
        identifier,
        status: a.status.fhir_code(),
        appointment_type,
        specialty: vec![CodeableConcept {
            coding: vec![Coding {
                system: SPECIALTY_SYSTEM,
                code: a.specialty.code.as_str().to_owned(),
                display: non_empty(&a.specialty.display),
            }],
        }],
        description: &a.description,
        start: fhir_instant(a.start),
        end: a.end.map(fhir_instant),
        participant,
    };
    serde_json::to_value(resource).unwrap_or(serde_json::Value::Null)
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
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
