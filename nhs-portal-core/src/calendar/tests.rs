use super::*;
use chrono::{Datelike, Duration, NaiveDate, Offset, Weekday};
use std::collections::BTreeMap;

const LINK: &str = "https://portal.example.nhs.uk/patient-portal/appointment/a1b2c3";

fn appointment(start: DateTime<Utc>) -> Appointment {
    Appointment::builder()
        .id("a1b2c3")
        .patient("9000000009")
        .description("Dermatology appointment")
        .specialty("330", "DERMATOLOGY")
        .start(start)
        .end(start + Duration::minutes(30))
        .location(
            "Skin Clinic, Outpatients B",
            ["1 Hospital Road", "Leeds; LS1 3EX"],
        )
        .clinician("Dr Amira Shah")
        .organisation("R9E", "Northfield Teaching Hospitals NHS Foundation Trust")
        .build()
        .expect("a valid test appointment")
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// The file read back by an independent parser (the `ical` crate): the calendar's own
/// properties and its one event's, by name, TEXT values unescaped.
fn parse(ics: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut calendars = ical::IcalParser::new(ics.as_bytes());
    let calendar = calendars
        .next()
        .expect("one calendar")
        .expect("a calendar the parser accepts");
    assert!(calendars.next().is_none(), "exactly one calendar");
    assert_eq!(calendar.events.len(), 1, "exactly one event");
    let props = |ps: &[ical::property::Property]| {
        ps.iter()
            .map(|p| (p.name.clone(), unescape(p.value.as_deref().unwrap_or(""))))
            .collect::<BTreeMap<_, _>>()
    };
    (
        props(&calendar.properties),
        props(&calendar.events[0].properties),
    )
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn instant(value: &str) -> DateTime<Utc> {
    assert!(value.ends_with('Z'), "{value} is written in UTC with Z");
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .and_utc()
}

#[test]
fn a_booked_appointment_is_a_confirmed_event_at_its_instant() {
    let a = appointment(at(2026, 6, 1, 8, 30));
    let issued = at(2026, 5, 2, 10, 0);
    let ics = CalendarEvent::new(&a, LINK, "portal.example.nhs.uk", issued).to_ics();
    let (cal, ev) = parse(&ics);
    assert_eq!(cal["VERSION"], "2.0");
    assert_eq!(cal["METHOD"], "PUBLISH");
    assert_eq!(ev["UID"], "a1b2c3@portal.example.nhs.uk");
    assert_eq!(instant(&ev["DTSTART"]), a.start);
    assert_eq!(instant(&ev["DTEND"]), a.end.unwrap());
    assert_eq!(instant(&ev["DTSTAMP"]), issued);
    assert_eq!(ev["STATUS"], "CONFIRMED");
    assert_eq!(
        ev["SUMMARY"],
        "Dermatology appointment (Northfield Teaching Hospitals NHS Foundation Trust)"
    );
    assert_eq!(
        ev["LOCATION"],
        "Skin Clinic, Outpatients B, 1 Hospital Road, Leeds; LS1 3EX"
    );
    assert!(ev["DESCRIPTION"].contains("With Dr Amira Shah."));
    assert!(ev["DESCRIPTION"].contains(LINK));
    assert_eq!(ev["URL"], LINK);
}

#[test]
fn a_cancelled_appointment_cancels_the_same_event_with_a_higher_sequence() {
    let mut a = appointment(at(2026, 6, 1, 8, 30));
    let first = CalendarEvent::new(&a, LINK, "h", at(2026, 5, 2, 10, 0));
    let (_, booked) = parse(&first.to_ics());
    a.status = AppointmentStatus::Cancelled;
    let later = CalendarEvent::new(&a, LINK, "h", at(2026, 5, 2, 10, 0) + Duration::seconds(1));
    let (cal, cancelled) = parse(&later.to_ics());
    assert_eq!(cal["METHOD"], "CANCEL");
    assert_eq!(cancelled["STATUS"], "CANCELLED");
    assert_eq!(cancelled["UID"], booked["UID"]);
    let seq = |m: &BTreeMap<String, String>| m["SEQUENCE"].parse::<i64>().unwrap();
    assert!(seq(&cancelled) > seq(&booked));
    assert!(cancelled["DESCRIPTION"].starts_with("This appointment has been cancelled."));
}

#[test]
fn sequence_counts_seconds_from_2020_and_never_goes_below_zero() {
    let a = appointment(at(2026, 6, 1, 8, 30));
    let cases = [
        (at(2020, 1, 1, 0, 0), 0),
        (at(2019, 12, 31, 23, 59), 0),
        (at(2020, 1, 1, 0, 1), 60),
        (at(2020, 1, 2, 0, 0), 86_400),
    ];
    for (issued, expected) in cases {
        assert_eq!(
            CalendarEvent::new(&a, LINK, "h", issued).sequence(),
            expected,
            "{issued}"
        );
    }
}

#[test]
fn video_and_telephone_appointments_say_so_as_their_location() {
    for (medium, expected) in [
        (ConsultationMedium::Video, "Video appointment"),
        (ConsultationMedium::Telephone, "Telephone appointment"),
    ] {
        let mut a = appointment(at(2026, 6, 1, 8, 30));
        a.medium = medium;
        let (_, ev) = parse(&CalendarEvent::new(&a, LINK, "h", at(2026, 5, 1, 0, 0)).to_ics());
        assert_eq!(ev["LOCATION"], expected);
    }
}

#[test]
fn text_is_escaped_and_long_lines_fold_without_splitting_a_character() {
    let mut a = appointment(at(2026, 6, 1, 8, 30));
    a.description = format!("Ophthalmology; \\ review, {}", "é".repeat(60));
    let ics = CalendarEvent::new(&a, LINK, "h", at(2026, 5, 1, 0, 0)).to_ics();
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{line:?} is over 75 octets");
    }
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
    let (_, ev) = parse(&ics);
    assert!(
        ev["SUMMARY"].starts_with(&a.description),
        "{}",
        ev["SUMMARY"]
    );
}

#[test]
fn an_end_missing_or_not_after_the_start_is_left_out() {
    let mut a = appointment(at(2026, 6, 1, 8, 30));
    a.end = None;
    let (_, ev) = parse(&CalendarEvent::new(&a, LINK, "h", at(2026, 5, 1, 0, 0)).to_ics());
    assert!(!ev.contains_key("DTEND"));
    a.end = Some(a.start);
    let (_, ev) = parse(&CalendarEvent::new(&a, LINK, "h", at(2026, 5, 1, 0, 0)).to_ics());
    assert!(!ev.contains_key("DTEND"));
}

/// The last Sunday of `month` at 01:00 UTC: when UK clocks change.
fn uk_clock_change(year: i32, month: u32) -> DateTime<Utc> {
    let mut day = NaiveDate::from_ymd_opt(year, month, 31).unwrap();
    while day.weekday() != Weekday::Sun {
        day = day.pred_opt().unwrap();
    }
    day.and_hms_opt(1, 0, 0).unwrap().and_utc()
}

fn uk_offset_seconds(t: DateTime<Utc>) -> i32 {
    crate::uk_time::to_uk(t).offset().fix().local_minus_utc()
}

/// Every UK clock change from 2020 to 2030, and every five minutes in the three hours either
/// side of each: the event (in the file and for the NHS App) starts at the appointment's
/// instant, whatever the UK offset is then.
#[test]
fn every_clock_change_2020_to_2030_keeps_the_events_instant() {
    let mut checked = 0;
    for year in 2020..=2030 {
        for month in [3, 10] {
            let change = uk_clock_change(year, month);
            assert_ne!(
                uk_offset_seconds(change - Duration::seconds(1)),
                uk_offset_seconds(change),
                "{change} is a UK clock change"
            );
            for step in -36..=36 {
                let start = change + Duration::minutes(5 * step);
                let a = appointment(start);
                let event = CalendarEvent::new(&a, LINK, "h", change - Duration::days(30));
                let (_, ev) = parse(&event.to_ics());
                assert_eq!(instant(&ev["DTSTART"]), start, "{start}");
                assert_eq!(instant(&ev["DTEND"]), start + Duration::minutes(30));
                let app = event.for_nhs_app();
                assert_eq!(app.start_epoch_secs, start.timestamp());
                assert_eq!(app.end_epoch_secs, Some(start.timestamp() + 1800));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 11 * 2 * 73);
}

#[test]
fn the_nhs_app_event_carries_the_same_text_as_the_file() {
    let a = appointment(at(2026, 6, 1, 8, 30));
    let event = CalendarEvent::new(&a, LINK, "h", at(2026, 5, 1, 0, 0));
    let (_, ev) = parse(&event.to_ics());
    let app = event.for_nhs_app();
    assert_eq!(app.subject, ev["SUMMARY"]);
    assert_eq!(app.location, ev["LOCATION"]);
    assert_eq!(app.body, ev["DESCRIPTION"]);
}
