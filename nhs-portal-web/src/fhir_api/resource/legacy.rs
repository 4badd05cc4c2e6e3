//! TEMPORARY (removed once compared): the PCA Appointment as it was built before the typed
//! wire types, through a `serde_json::Value`, kept only for the test that compares the two
//! outputs for every demo appointment.

use chrono::{DateTime, SecondsFormat, Utc};
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::deep_link::{DeepLinkBase, Target};
use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::{Appointment, RequestStatus};
use serde::Serialize;

use super::{
    ACT_CODE_SYSTEM, MEDIUM_EXTENSION, ODS_SYSTEM, PORTAL_LINK_EXTENSION, PRIORITY_EXTENSION,
    PRIORITY_SYSTEM, SDS_USER_SYSTEM, act_display,
};

fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The old mapping's context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkContext<'a> {
    pub(crate) base: &'a DeepLinkBase,
    pub(crate) ext_system_name: &'a str,
    pub(crate) tracking_id: &'a str,
    pub(crate) portal_identifier_system: &'a str,
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

/// Maps one appointment to a PCA `Appointment` resource, with `request_status` as the effective
/// request status (the store's pending request, else the PAS's own).
pub(crate) fn appointment_json(
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

/// The typed path's output equals the `Value` path's as parsed JSON, and the typed guard's
/// verdict equals the `Value` guard's, for every demo appointment of every demo patient (with
/// the demo's pending requests laid over them), under two bases and two queries, Bundles
/// included.
#[test]
fn typed_output_equals_the_value_path_for_every_demo_patient() {
    use chrono::TimeZone;
    use nhs_portal_core::deep_link::LinkQuery;

    let now = Utc.with_ymd_and_hms(2026, 5, 12, 8, 0, 0).unwrap();
    let data = nhs_portal_pas::demo::DemoData::build(now);
    let mut appointments = data.appointments.clone();
    nhs_portal_core::overlay::overlay(&mut appointments, &data.requests);
    assert!(appointments.iter().any(|a| a.request_status.is_some()));
    let other = nhs_portal_core::NhsNumber::parse("9000000017").unwrap();
    let mut compared = 0;
    for (base, name, tracking) in [
        (
            "http://127.0.0.1:8080",
            "nhs-portal reference portal",
            "0d7d3c55-3b7e-4d43-9a4c-3b1b2f8d6a10",
        ),
        (
            "https://portal.example.nhs.uk/trust-a/",
            "Example & Co",
            "a+b=c#d%",
        ),
    ] {
        let base = DeepLinkBase::parse(base).unwrap();
        let system = format!("{}/fhir/Appointment", base.as_str());
        let old_ctx = LinkContext {
            base: &base,
            ext_system_name: name,
            tracking_id: tracking,
            portal_identifier_system: &system,
        };
        let query = LinkQuery::new(name, tracking);
        let ctx = super::LinkContext {
            base: &base,
            query: &query,
            portal_identifier_system: &system,
        };
        for p in &data.patients {
            let patient = &p.record.nhs_number;
            let mine: Vec<_> = appointments
                .iter()
                .filter(|a| &a.patient == patient)
                .collect();
            let mut old_entries = Vec::new();
            let mut new_entries = Vec::new();
            for a in mine {
                let old = appointment_json(a, a.request_status, &old_ctx);
                let new = super::appointment(a, a.request_status, &ctx);
                assert_eq!(serde_json::to_value(&new).unwrap(), old, "{}", a.id);
                for who in [patient, &other] {
                    assert_eq!(
                        crate::fhir_api::guard::check_appointment(&new, who, &base),
                        crate::fhir_api::guard::legacy::check_appointment(&old, who),
                        "{}",
                        a.id
                    );
                }
                let full_url = format!("{system}/{}", a.id);
                old_entries.push(serde_json::json!({
                    "fullUrl": full_url, "search": {"mode": "match"}, "resource": old
                }));
                new_entries.push(super::Entry {
                    full_url,
                    search: super::Search { mode: "match" },
                    resource: new,
                });
                compared += 1;
            }
            let total = new_entries.len();
            let new = super::Bundle {
                resource_type: "Bundle",
                id: "b-1".to_owned(),
                kind: "searchset",
                total,
                entry: new_entries,
            };
            let mut old = serde_json::json!({
                "resourceType": "Bundle", "id": "b-1", "type": "searchset", "total": total
            });
            if total > 0 {
                old["entry"] = serde_json::Value::Array(old_entries);
            }
            let bytes = new.to_json().unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(parsed, old, "{}", patient.as_str());
        }
    }
    assert_eq!(compared, 2 * appointments.len());
}
