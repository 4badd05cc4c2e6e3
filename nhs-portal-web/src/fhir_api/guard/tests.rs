use super::*;
use crate::fhir_api::resource::{
    Actor, CodeableConcept, Coding, Extension, FhirIdentifier, Participant,
};

const ID: &str = "d9df1326-1008-45df-b9dd-a920b64ec043";
const LINK: &str = "https://p.example/patient-portal/appointment/d9df1326-1008-45df-b9dd-a920b64ec043?extSystemName=P&trackingId=t";

fn base() -> DeepLinkBase {
    DeepLinkBase::parse("https://p.example").unwrap()
}

fn code(url: &'static str, code: &'static str) -> Extension<'static> {
    Extension {
        url,
        value_code: Some(code),
        value_coding: None,
        value_url: None,
    }
}

fn link(url: &str) -> Extension<'static> {
    Extension {
        url: PORTAL_LINK_EXTENSION,
        value_code: None,
        value_coding: None,
        value_url: Some(url.to_owned()),
    }
}

fn priority(code: &'static str) -> Extension<'static> {
    Extension {
        url: PRIORITY_EXTENSION,
        value_code: None,
        value_coding: Some(Coding {
            system: PRIORITY_SYSTEM,
            code,
            display: None,
        }),
        value_url: None,
    }
}

fn actor(
    kind: &'static str,
    ident: Option<(&'static str, &'static str)>,
    display: Option<&'static str>,
) -> Participant<'static> {
    Participant {
        actor: Actor {
            kind,
            identifier: ident.map(|(system, value)| FhirIdentifier { system, value }),
            display,
        },
        status: "accepted",
    }
}

fn good() -> FhirAppointment<'static> {
    FhirAppointment {
        resource_type: "Appointment",
        id: ID,
        extension: vec![
            priority("ROUTINE"),
            code(REQUEST_STATUS_EXTENSION, "Pending Reschedule"),
            code(MEDIUM_EXTENSION, "FACE_TO_FACE"),
            link(LINK),
        ],
        identifier: Vec::new(),
        status: "booked",
        appointment_type: None,
        specialty: vec![CodeableConcept {
            coding: vec![Coding {
                system: SPECIALTY_SYSTEM,
                code: "330",
                display: Some("DERMATOLOGY"),
            }],
        }],
        description: "Dermatology",
        start: "2021-06-13T12:30:00+00:00".to_owned(),
        end: Some("2021-06-13T12:45:00Z".to_owned()),
        participant: vec![
            actor("Patient", Some((NHS_NUMBER_SYSTEM, "9000000009")), None),
            actor("Location", Some((ODS_SYSTEM, "RFF")), None),
            actor("Location", None, Some("Chapel Allerton Hospital")),
        ],
    }
}

fn patient() -> NhsNumber {
    NhsNumber::parse("9000000009").unwrap()
}

fn act(code: &'static str) -> Option<CodeableConcept<'static>> {
    Some(CodeableConcept {
        coding: vec![Coding {
            system: ACT_CODE_SYSTEM,
            code,
            display: None,
        }],
    })
}

#[test]
fn good_passes() {
    assert_eq!(check_appointment(&good(), &patient(), &base()), Ok(()));
    let mut v = good();
    v.appointment_type = act("IMP");
    assert_eq!(check_appointment(&v, &patient(), &base()), Ok(()));
}

/// Each case breaks exactly one rule of a good appointment.
#[test]
fn each_rule_withholds() {
    type Edit = fn(&mut FhirAppointment<'static>);
    let cases: &[(&str, Edit)] = &[
        ("resourceType", |v| v.resource_type = "Patient"),
        ("id required", |v| v.id = ""),
        ("id is not a FHIR id", |v| v.id = "a/b"),
        ("status not booked, fulfilled, cancelled or noshow", |v| {
            v.status = "arrived"
        }),
        ("description required", |v| v.description = " "),
        ("specialty required", |v| v.specialty.clear()),
        ("exactly one specialty", |v| {
            let s = v.specialty[0].clone();
            v.specialty.push(s);
        }),
        ("specialty coding", |v| v.specialty[0].coding.clear()),
        (
            "specialty coding not Specialty-1 with a three-digit code",
            |v| v.specialty[0].coding[0].code = "33",
        ),
        (
            "specialty coding not Specialty-1 with a three-digit code",
            |v| v.specialty[0].coding[0].system = "https://x.example/specialty",
        ),
        ("start required", |v| v.start.clear()),
        ("start not a UTC instant", |v| {
            v.start = "2021-06-13T13:30:00+01:00".to_owned()
        }),
        ("start not a UTC instant", |v| {
            v.start = "2021-06-13T12:30Z".to_owned()
        }),
        ("end not a UTC instant", |v| {
            v.end = Some("2021-06-13".to_owned())
        }),
        ("end before start", |v| {
            v.end = Some("2021-06-13T12:00:00Z".to_owned())
        }),
        ("inpatient without end", |v| {
            v.end = None;
            v.appointment_type = act("IMP");
        }),
        ("appointmentType coding", |v| {
            v.appointment_type = Some(CodeableConcept { coding: Vec::new() })
        }),
        ("appointmentType not IMP, AMB or HH", |v| {
            v.appointment_type = act("EMER")
        }),
        ("extension required", |v| v.extension.clear()),
        ("Portal-Link valueUrl", |v| v.extension[3].value_url = None),
        ("Portal-Link without extSystemName and trackingId", |v| {
            v.extension[3] = link(&format!(
                "https://p.example/patient-portal/appointment/{ID}"
            ))
        }),
        ("Portal-Link without extSystemName and trackingId", |v| {
            v.extension[3] = link(&format!(
                "https://p.example/patient-portal/appointment/{ID}?extSystemName=P"
            ))
        }),
        ("Portal-Link not under the portal's base URL", |v| {
            v.extension[3] = link("ftp://p.example/x?extSystemName=P&trackingId=t")
        }),
        ("Portal-Link not under the portal's base URL", |v| {
            v.extension[3] = link(&format!(
                "https://q.example/patient-portal/appointment/{ID}?extSystemName=P&trackingId=t"
            ))
        }),
        ("Portal-Link not a deep link the portal opens", |v| {
            v.extension[3] = link(&format!(
                "https://p.example/patient-portal/Appointment/{ID}?extSystemName=P&trackingId=t"
            ))
        }),
        ("Portal-Link not a deep link the portal opens", |v| {
            v.extension[3] = link(&format!("{LINK}#top"))
        }),
        ("Portal-Link does not open this appointment", |v| {
            v.extension[3] = link(
                "https://p.example/patient-portal/appointment/other-1?extSystemName=P&trackingId=t",
            )
        }),
        ("Portal-Link does not open this appointment", |v| {
            v.extension[3] = link(&format!(
                "https://p.example/patient-portal/document/{ID}?extSystemName=P&trackingId=t"
            ))
        }),
        ("exactly one Portal-Link", |v| {
            v.extension.remove(3);
        }),
        ("exactly one Portal-Link", |v| v.extension.push(link(LINK))),
        ("Consultation-Medium code", |v| {
            v.extension[2].value_code = Some("VIRTUAL")
        }),
        ("exactly one Consultation-Medium", |v| {
            v.extension.remove(2);
        }),
        ("Priority valueCoding", |v| {
            v.extension[0].value_coding = None
        }),
        ("Priority code", |v| v.extension[0] = priority("SOON")),
        ("repeated extension", |v| {
            v.extension.push(priority("URGENT"))
        }),
        ("RequestStatus code", |v| {
            v.extension[1].value_code = Some("PendingCancellation")
        }),
        ("unknown extension", |v| {
            v.extension.push(code("https://x.example/e", "a"))
        }),
        ("participant required", |v| v.participant.clear()),
        ("participant status", |v| {
            v.participant[0].status = "tentative"
        }),
        ("actor without identifier or display", |v| {
            v.participant[2].actor.display = Some("  ")
        }),
        ("patient identifier", |v| {
            v.participant[0] = actor("Patient", None, Some("A Patient"))
        }),
        ("patient participant is not the requested patient", |v| {
            v.participant[0] = actor("Patient", Some((NHS_NUMBER_SYSTEM, "9000000017")), None)
        }),
        ("patient participant is not the requested patient", |v| {
            v.participant[0] = actor("Patient", Some((ODS_SYSTEM, "9000000009")), None)
        }),
        ("patient participant required", |v| {
            v.participant.remove(0);
        }),
        ("Location system", |v| {
            v.participant[1] = actor("Location", Some((SDS_SYSTEM, "RFF")), None)
        }),
        ("ODS code", |v| {
            v.participant[1] = actor("Location", Some((ODS_SYSTEM, "TOOLONG")), None)
        }),
        ("ODS Location participant required", |v| {
            v.participant.remove(1);
        }),
        ("location display required for face-to-face", |v| {
            v.participant.remove(2);
        }),
        ("participant type", |v| {
            v.participant[2].actor.kind = "Device"
        }),
        ("status and request status are not a valid pair", |v| {
            v.status = "noshow"
        }),
    ];
    for (want, edit) in cases {
        let mut v = good();
        edit(&mut v);
        assert_eq!(
            check_appointment(&v, &patient(), &base()),
            Err(Violation(want)),
            "{want}"
        );
    }
}

const SDS_SYSTEM: &str = crate::fhir_api::resource::SDS_USER_SYSTEM;

#[test]
fn virtual_needs_no_place() {
    let mut v = good();
    v.extension[2].value_code = Some("VIDEO_CONSULTATION");
    v.participant.remove(2);
    assert_eq!(check_appointment(&v, &patient(), &base()), Ok(()));
}

#[test]
fn instants() {
    for (s, ok) in [
        ("2021-06-13T12:30:00+00:00", true),
        ("2021-06-13T12:30:00Z", true),
        ("2021-06-13T12:30:00.123Z", true),
        ("2021-06-13T12:30:00-00:00", false),
        ("2021-06-13T12:30:00", false),
        ("2021-06-13 12:30:00Z", false),
        ("2021-02-30T12:30:00Z", false),
    ] {
        assert_eq!(is_utc_instant(s), ok, "{s}");
    }
}

/// The pairs the PCA consumer spec's combined codes express pass; every other pair is withheld
/// (a no-show with a pending cancellation would make the PCA drop the whole response).
#[test]
fn only_valid_status_pairs_go_out() {
    let statuses = ["booked", "fulfilled", "cancelled", "noshow"];
    let requests = [
        None,
        Some("Pending Cancellation"),
        Some("Pending Reschedule"),
        Some("Pending Change"),
        Some("Confirmed Attendance"),
    ];
    // (status, request status): the allowed pairs, written out.
    let allowed = [
        ("booked", None),
        ("booked", Some("Pending Cancellation")),
        ("booked", Some("Pending Reschedule")),
        ("booked", Some("Pending Change")),
        ("booked", Some("Confirmed Attendance")),
        ("fulfilled", None),
        ("cancelled", None),
        ("cancelled", Some("Pending Reschedule")),
        ("noshow", None),
    ];
    for status in statuses {
        for request in requests {
            let mut v = good();
            v.status = status;
            v.extension.retain(|e| e.url != REQUEST_STATUS_EXTENSION);
            if let Some(r) = request {
                v.extension.push(code(REQUEST_STATUS_EXTENSION, r));
            }
            let got = check_appointment(&v, &patient(), &base());
            if allowed.contains(&(status, request)) {
                assert_eq!(got, Ok(()), "{status} {request:?}");
            } else {
                assert_eq!(
                    got,
                    Err(Violation("status and request status are not a valid pair")),
                    "{status} {request:?}"
                );
            }
        }
    }
}
