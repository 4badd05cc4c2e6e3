//! Wayfinder events checked against NHS England's Reporting Service schema (v2.6.2).

mod common;

use common::*;
use nhs_portal_core::reporting::SessionOutcome;
use nhs_portal_core::{AppointmentId, ReportingEvent};
use nhs_portal_reporting::wire::{WayfinderEvent, WireError};
use serde_json::{Value, json};

fn wire(events: &[ReportingEvent]) -> Value {
    let wire: Vec<WayfinderEvent> = events
        .iter()
        .map(|e| WayfinderEvent::from_domain(e).expect("maps"))
        .collect();
    serde_json::to_value(wire).unwrap()
}

#[test]
fn every_portal_event_is_valid_against_the_spec() {
    let Some(v) = wayfinder_validator() else {
        return;
    };
    let body = wire(&all_events());
    assert_eq!(errors(&v, &body), Vec::<String>::new());
    // And each on its own, with the expected EventCode.
    let codes: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "SESSION",
            "APPT",
            "APPT-VIEW",
            "APPT-REQUEST-CANC",
            "APPT-REQUEST-RESCH",
            "APPT-CANC",
            "APPT-RESCH",
            "APPT-REQUEST-CONFIRM"
        ]
    );
}

#[test]
fn admissions_and_did_not_attend_are_valid_against_the_spec() {
    let body = wire(&admission_and_outcome_events());
    assert_eq!(
        body,
        json!([
            {
                "EventCode": "ADMISSION",
                "Timestamp": "2024-03-08T08:45:11.321Z",
                "NHSNumber": "9000000009",
                "Id": APPT,
                "TCIDate": "2024-10-01T07:30:00.000Z",
                "ODSCode": "RAB",
                "Status": "booked",
                "EncounterClass": "Daycase",
            },
            {
                "EventCode": "ADMISSION-VIEW",
                "Timestamp": "2024-03-08T08:45:11.321Z",
                "SessionId": SESSION,
                "AppointmentId": APPT,
                "TrackingId": TRACKING,
            },
            {
                "EventCode": "APPT-DNA",
                "Timestamp": "2024-03-08T08:45:11.321Z",
                "AppointmentId": APPT,
            },
        ])
    );
    let Some(v) = wayfinder_validator() else {
        return;
    };
    assert_eq!(errors(&v, &body), Vec::<String>::new());
    let mut wrong_class = body.clone();
    wrong_class[0]["EncounterClass"] = json!("DayCase");
    assert!(
        !errors(&v, &wrong_class).is_empty(),
        "the spec's spelling only"
    );
}

#[test]
fn exact_field_names_and_formats() {
    let body = wire(&all_events());
    assert_eq!(
        body[0],
        json!({
            "EventCode": "SESSION",
            "Timestamp": "2024-03-08T08:45:11.321Z",
            "NHSNumber": "9000000009",
            "Id": SESSION,
            "isOpenInNHSApp": true,
            "Device": "Mozilla/5.0 (Android; Mobile) nhsapp-android/1.26.2",
            "Status": "success",
            "TrackingId": TRACKING,
        })
    );
    assert_eq!(
        body[1],
        json!({
            "EventCode": "APPT",
            "Timestamp": "2024-03-08T08:45:11.321Z",
            "NHSNumber": "9000000009",
            "Id": APPT,
            "AppointmentDate": "2024-10-01T10:00:00.000Z",
            "ODSCode": "RAB",
            "Status": "booked",
        })
    );
    assert_eq!(
        body[6],
        json!({
            "EventCode": "APPT-RESCH",
            "Timestamp": "2024-03-08T08:45:11.321Z",
            "AppointmentId": APPT,
            "NewAppointmentId": "368e9981-9679-41db-b9c0-ada32b92a97c",
            "Reason": "HOSPITAL",
        })
    );
    assert_eq!(
        body[5],
        json!({
            "EventCode": "APPT-CANC",
            "Timestamp": "2024-03-08T08:45:11.321Z",
            "AppointmentId": APPT,
            "Reason": "PATIENT",
        })
    );
}

/// The validator has teeth: each mutation of a valid body must be refused.
#[test]
fn schema_refuses_broken_events() {
    let Some(v) = wayfinder_validator() else {
        return;
    };
    let good = wire(&all_events());
    type Mutation = (&'static str, fn(&mut Value));
    let cases: [Mutation; 8] = [
        ("extra field", |b| {
            b[3]["Extra"] = json!("x");
        }),
        ("leading zero NHS number", |b| {
            b[0]["NHSNumber"] = json!("0123456789");
        }),
        ("NHS number as a number", |b| {
            b[1]["NHSNumber"] = json!(9000000009u64);
        }),
        ("tracking id not a uuid", |b| {
            b[2]["TrackingId"] = json!("not-a-uuid");
        }),
        ("timestamp not a date-time", |b| {
            b[3]["Timestamp"] = json!("yesterday");
        }),
        ("ODS code too long", |b| {
            b[1]["ODSCode"] = json!("RABCDE");
        }),
        ("session status misspelt the sensible way", |b| {
            b[0]["Status"] = json!("dobMismatch");
        }),
        ("missing SessionId", |b| {
            b[4].as_object_mut().unwrap().remove("SessionId");
        }),
    ];
    for (name, mutate) in cases {
        let mut body = good.clone();
        mutate(&mut body);
        assert!(!errors(&v, &body).is_empty(), "{name}: should be invalid");
    }
    assert!(!errors(&v, &json!([])).is_empty(), "empty array");
}

#[test]
fn session_statuses_and_app_flag() {
    let Some(v) = wayfinder_validator() else {
        return;
    };
    for (outcome, text) in [
        (SessionOutcome::Success, "success"),
        (SessionOutcome::DobMismatch, "dobMissmatch"),
        (SessionOutcome::Failed, "failed"),
    ] {
        let mut events = all_events();
        if let ReportingEvent::Session {
            outcome: o,
            in_nhs_app,
            tracking_id,
            device,
            ..
        } = &mut events[0]
        {
            *o = outcome;
            *in_nhs_app = false;
            *tracking_id = None;
            *device = None;
        }
        let body = wire(&events[..1]);
        assert_eq!(errors(&v, &body), Vec::<String>::new());
        assert_eq!(body[0]["Status"], text);
        assert_eq!(body[0]["isOpenInNHSApp"], false);
        assert!(body[0].get("TrackingId").is_none());
        assert!(body[0].get("Device").is_none());
    }
}

#[test]
fn long_device_is_cut_to_512_characters_and_bad_tracking_id_left_out() {
    let Some(v) = wayfinder_validator() else {
        return;
    };
    let mut events = all_events();
    if let ReportingEvent::Session {
        device,
        tracking_id,
        ..
    } = &mut events[0]
    {
        // Multi-byte characters: the limit is in characters, not bytes.
        *device = Some("é".repeat(700));
        *tracking_id = Some("not-a-uuid".into());
    }
    if let ReportingEvent::AppointmentView { tracking_id, .. } = &mut events[2] {
        *tracking_id = Some("also not one".into());
    }
    let body = wire(&events);
    assert_eq!(errors(&v, &body), Vec::<String>::new());
    assert_eq!(body[0]["Device"].as_str().unwrap().chars().count(), 512);
    assert!(body[0].get("TrackingId").is_none());
    assert!(body[2].get("TrackingId").is_none());
}

#[test]
fn ids_over_100_characters_are_refused_not_cut() {
    let long = "s".repeat(101);
    let event = ReportingEvent::CancelRequested {
        at: t("2024-03-08T08:45:11Z"),
        appointment: AppointmentId::parse(APPT).unwrap(),
        session_id: long,
    };
    assert_eq!(
        WayfinderEvent::from_domain(&event),
        Err(WireError::TooLong {
            field: "SessionId",
            len: 101,
            max: 100
        })
    );
    let exactly = ReportingEvent::CancelRequested {
        at: t("2024-03-08T08:45:11Z"),
        appointment: AppointmentId::parse(APPT).unwrap(),
        session_id: "s".repeat(100),
    };
    let body = wire(&[exactly]);
    assert_eq!(
        schema_errors(&wayfinder_validator(), &body),
        Vec::<String>::new()
    );
}

#[test]
fn wire_events_round_trip() {
    for e in all_events() {
        let w = WayfinderEvent::from_domain(&e).unwrap();
        let text = serde_json::to_string(&w).unwrap();
        let back: WayfinderEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, w);
        assert_eq!(w.event_code(), e.event_code());
    }
}
