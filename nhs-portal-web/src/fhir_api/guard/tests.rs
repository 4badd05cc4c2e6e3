use super::*;
use serde_json::json;

fn good() -> Value {
    json!({
        "resourceType": "Appointment",
        "id": "d9df1326-1008-45df-b9dd-a920b64ec043",
        "extension": [
            {"url": PRIORITY_EXTENSION, "valueCoding": {"system": PRIORITY_SYSTEM, "code": "ROUTINE"}},
            {"url": REQUEST_STATUS_EXTENSION, "valueCode": "Pending Reschedule"},
            {"url": MEDIUM_EXTENSION, "valueCode": "FACE_TO_FACE"},
            {"url": PORTAL_LINK_EXTENSION, "valueUrl": "https://p.example/patient-portal/appointment/x?extSystemName=P&trackingId=t"}
        ],
        "status": "booked",
        "specialty": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": "330", "display": "DERMATOLOGY"}]}],
        "description": "Dermatology",
        "start": "2021-06-13T12:30:00+00:00",
        "end": "2021-06-13T12:45:00Z",
        "participant": [
            {"actor": {"type": "Patient", "identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9000000009"}}, "status": "accepted"},
            {"actor": {"type": "Location", "identifier": {"system": ODS_SYSTEM, "value": "RFF"}}, "status": "accepted"},
            {"actor": {"type": "Location", "display": "Chapel Allerton Hospital"}, "status": "accepted"}
        ]
    })
}

fn patient() -> NhsNumber {
    NhsNumber::parse("9000000009").unwrap()
}

#[test]
fn good_passes() {
    assert_eq!(check_appointment(&good(), &patient()), Ok(()));
}

/// Each case breaks exactly one rule of a good appointment.
#[test]
fn each_rule_withholds() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit)] = &[
        ("resourceType", |v| v["resourceType"] = json!("Patient")),
        ("id required", |v| {
            v.as_object_mut().unwrap().remove("id");
        }),
        ("id is not a FHIR id", |v| v["id"] = json!("a/b")),
        ("status not booked, fulfilled, cancelled or noshow", |v| {
            v["status"] = json!("arrived")
        }),
        ("description required", |v| v["description"] = json!(" ")),
        ("specialty required", |v| {
            v.as_object_mut().unwrap().remove("specialty");
        }),
        ("exactly one specialty", |v| {
            let s = v["specialty"][0].clone();
            v["specialty"].as_array_mut().unwrap().push(s);
        }),
        (
            "specialty coding not Specialty-1 with a three-digit code",
            |v| v["specialty"][0]["coding"][0]["code"] = json!("33"),
        ),
        ("start required", |v| {
            v.as_object_mut().unwrap().remove("start");
        }),
        ("start not a UTC instant", |v| {
            v["start"] = json!("2021-06-13T13:30:00+01:00")
        }),
        ("start not a UTC instant", |v| {
            v["start"] = json!("2021-06-13T12:30Z")
        }),
        ("end not a UTC instant", |v| v["end"] = json!("2021-06-13")),
        ("end before start", |v| {
            v["end"] = json!("2021-06-13T12:00:00Z")
        }),
        ("inpatient without end", |v| {
            v.as_object_mut().unwrap().remove("end");
            v["appointmentType"] = json!({"coding": [{"system": ACT_CODE_SYSTEM, "code": "IMP"}]});
        }),
        (
            "appointmentType not IMP, AMB or HH",
            |v| {
                v["appointmentType"] =
                    json!({"coding": [{"system": ACT_CODE_SYSTEM, "code": "EMER"}]})
            },
        ),
        ("Portal-Link without extSystemName and trackingId", |v| {
            v["extension"][3]["valueUrl"] = json!("https://p.example/patient-portal/appointment/x")
        }),
        ("Portal-Link not an absolute http(s) URL", |v| {
            v["extension"][3]["valueUrl"] = json!("ftp://p.example/x?extSystemName=P&trackingId=t")
        }),
        ("exactly one Portal-Link", |v| {
            v["extension"].as_array_mut().unwrap().remove(3);
        }),
        ("Consultation-Medium code", |v| {
            v["extension"][2]["valueCode"] = json!("VIRTUAL")
        }),
        ("exactly one Consultation-Medium", |v| {
            v["extension"].as_array_mut().unwrap().remove(2);
        }),
        ("Priority code", |v| {
            v["extension"][0]["valueCoding"]["code"] = json!("SOON")
        }),
        ("RequestStatus code", |v| {
            v["extension"][1]["valueCode"] = json!("PendingCancellation")
        }),
        ("unknown extension", |v| {
            v["extension"]
                .as_array_mut()
                .unwrap()
                .push(json!({"url": "https://x.example/e", "valueCode": "a"}))
        }),
        ("participant status", |v| {
            v["participant"][0]["status"] = json!("tentative")
        }),
        ("patient participant is not the requested patient", |v| {
            v["participant"][0]["actor"]["identifier"]["value"] = json!("9000000017")
        }),
        ("patient participant required", |v| {
            v["participant"].as_array_mut().unwrap().remove(0);
        }),
        ("ODS code", |v| {
            v["participant"][1]["actor"]["identifier"]["value"] = json!("TOOLONG")
        }),
        ("ODS Location participant required", |v| {
            v["participant"].as_array_mut().unwrap().remove(1);
        }),
        ("location display required for face-to-face", |v| {
            v["participant"].as_array_mut().unwrap().remove(2);
        }),
        ("participant type", |v| {
            v["participant"][2]["actor"]["type"] = json!("Device")
        }),
        ("status and request status are not a valid pair", |v| {
            v["status"] = json!("noshow")
        }),
    ];
    for (want, edit) in cases {
        let mut v = good();
        edit(&mut v);
        assert_eq!(
            check_appointment(&v, &patient()),
            Err(Violation(want)),
            "{want}"
        );
    }
}

#[test]
fn virtual_needs_no_place() {
    let mut v = good();
    v["extension"][2]["valueCode"] = json!("VIDEO_CONSULTATION");
    v["participant"].as_array_mut().unwrap().remove(2);
    assert_eq!(check_appointment(&v, &patient()), Ok(()));
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
            v["status"] = json!(status);
            let ext = v["extension"].as_array_mut().unwrap();
            ext.retain(|e| e["url"] != REQUEST_STATUS_EXTENSION);
            if let Some(r) = request {
                ext.push(json!({"url": REQUEST_STATUS_EXTENSION, "valueCode": r}));
            }
            let got = check_appointment(&v, &patient());
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
