//! The clinic's phone line and opening hours from the FHIR R4 resources an Appointment's
//! participants refer to, and the hours in the words patients read. No IO: the adapter reads
//! the resources (`participants`) and hands them here.
//!
//! How we read R4 (HealthcareService, Location, ContactPoint):
//!
//! - **Which resource.** A `HealthcareService` actor is the service the patient is booked
//!   into, so its line comes first; else a `Location` actor's (the place's own line). Phone and
//!   hours are taken from the *same* resource, never a service's phone with a building's hours.
//!   A service marked `active: false`, or a Location whose `status` is not `active`, gives no
//!   contact.
//! - **The phone** (`telecom`, `ContactPoint`): `system` `phone` only (not `sms`, `fax`, ...),
//!   a value that is not blank, not `use` `old`; the lowest `rank` wins (1 is the most
//!   preferred; an unranked one after every ranked one; otherwise the first listed).
//!   `ContactPoint.period` is not read. No phone means no contact, whatever the hours say.
//! - **The hours**: `HealthcareService.availableTime` (`daysOfWeek`, `allDay`,
//!   `availableStartTime`, `availableEndTime`) and `Location.hoursOfOperation` (`daysOfWeek`,
//!   `allDay`, `openingTime`, `closingTime`) have the same shape. R4 says the times are
//!   ignored when `allDay` is set, so `allDay: true` reads "24 hours". The times are FHIR
//!   `time` (`hh:mm:ss`, seconds and fractions ignored in the words; `hh:mm` is taken too, the
//!   adapter reading leniently). A closing time of `00:00:00` is midnight at the end of the day.
//!   `HealthcareService.notAvailable` and `availabilityExceptions` are not read: the words say
//!   the usual week.
//! - **Bad or partial data gives no hours**, never a wrong or half line: an entry without
//!   days, with a day code outside `mon`..`sun`, without `allDay` and one of its two times, with
//!   a time that does not parse, or closing before it opens, drops the hours of the whole
//!   resource (the phone is still shown). Entries with the same times are merged ("Monday to
//!   Friday"), and each set of times is said once, joined with "; ".
//!
//! (Over 400 lines only with its tables of tests, which list the cases above one by one.)

use chrono::{NaiveTime, Timelike};
use nhs_portal_core::Contact;
use serde_json::Value;

/// The `daysOfWeek` codes in week order, with the day's name.
const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// The clinic's contact a `HealthcareService` or `Location` resource gives, if it has a phone
/// (see the [module documentation](self)); `None` for any other resource.
pub fn contact_of(resource: &Value) -> Option<Contact> {
    let (hours_key, opens, closes) = match resource.get("resourceType")?.as_str()? {
        "HealthcareService" => {
            if resource.get("active").and_then(Value::as_bool) == Some(false) {
                return None;
            }
            ("availableTime", "availableStartTime", "availableEndTime")
        }
        "Location" => {
            if resource
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s != "active")
            {
                return None;
            }
            ("hoursOfOperation", "openingTime", "closingTime")
        }
        _ => return None,
    };
    let phone = phone_of(resource.get("telecom")?)?;
    let hours = resource
        .get(hours_key)
        .and_then(Value::as_array)
        .and_then(|entries| hours_in_words(entries, opens, closes));
    Some(Contact { phone, hours })
}

/// The preferred phone number among `telecom` ContactPoints, trimmed.
fn phone_of(telecom: &Value) -> Option<String> {
    telecom
        .as_array()?
        .iter()
        .filter(|c| c.get("system").and_then(Value::as_str) == Some("phone"))
        .filter(|c| c.get("use").and_then(Value::as_str) != Some("old"))
        .filter_map(|c| {
            let value = c.get("value")?.as_str()?.trim();
            let rank = c.get("rank").and_then(Value::as_u64).unwrap_or(u64::MAX);
            (!value.is_empty()).then_some((rank, value))
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, value)| value.to_owned())
}

/// When a line is open on its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Times {
    AllDay,
    Between(NaiveTime, NaiveTime),
}

/// R4 opening-hours entries (`availableTime` or `hoursOfOperation`; `opens` and `closes` name
/// their time elements) as patients read them: "Monday to Friday, 8am to 6pm; Saturday, 24
/// hours". `None` for no entries or any entry that cannot be read whole (see the
/// [module documentation](self)).
pub fn hours_in_words(entries: &[Value], opens: &str, closes: &str) -> Option<String> {
    // Each set of times with its days (week-order indexes), in the order first met.
    let mut groups: Vec<(Times, Vec<usize>)> = Vec::new();
    for entry in entries {
        let (days, times) = entry_of(entry, opens, closes)?;
        match groups.iter_mut().find(|(t, _)| *t == times) {
            Some((_, seen)) => seen.extend(days),
            None => groups.push((times, days)),
        }
    }
    if groups.is_empty() {
        return None;
    }
    for (_, days) in &mut groups {
        days.sort_unstable();
        days.dedup();
    }
    groups.sort_by_key(|(_, days)| days.first().copied());
    let parts: Vec<String> = groups
        .iter()
        .map(|(times, days)| format!("{}, {}", days_in_words(days), times_in_words(*times)))
        .collect();
    Some(parts.join("; "))
}

/// One entry's days and times, or `None` when any part is missing or unreadable.
fn entry_of(entry: &Value, opens: &str, closes: &str) -> Option<(Vec<usize>, Times)> {
    let days = entry
        .get("daysOfWeek")?
        .as_array()?
        .iter()
        .map(|d| {
            let code = d.as_str()?;
            DAYS.iter().position(|(c, _)| *c == code)
        })
        .collect::<Option<Vec<usize>>>()?;
    if days.is_empty() {
        return None;
    }
    let all_day = match entry.get("allDay") {
        None => false,
        Some(v) => v.as_bool()?,
    };
    if all_day {
        return Some((days, Times::AllDay));
    }
    let time = |key: &str| parse_time(entry.get(key)?.as_str()?);
    let (from, to) = (time(opens)?, time(closes)?);
    let midnight = NaiveTime::MIN;
    let in_order = from < to || (to == midnight && from != midnight);
    in_order.then_some((days, Times::Between(from, to)))
}

/// A FHIR `time` (`hh:mm:ss`, perhaps with a fraction), or `hh:mm`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// Week-order day indexes as words: "Every day", "Monday to Friday", "Monday, Wednesday and
/// Friday", "Monday to Wednesday and Saturday". Three or more days in a row are a range.
fn days_in_words(days: &[usize]) -> String {
    if days.len() == DAYS.len() {
        return "Every day".into();
    }
    let name = |i: usize| DAYS[i].1;
    let mut pieces: Vec<String> = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            pieces.push(format!("{} to {}", name(days[i]), name(days[j])));
        } else {
            pieces.extend(days[i..=j].iter().map(|d| name(*d).to_owned()));
        }
        i = j + 1;
    }
    match pieces.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => pieces.concat(),
    }
}

fn times_in_words(times: Times) -> String {
    match times {
        Times::AllDay => "24 hours".into(),
        Times::Between(from, to) => format!("{} to {}", time_in_words(from), time_in_words(to)),
    }
}

/// NHS style: "8am", "12:30pm", "midday", "midnight".
fn time_in_words(t: NaiveTime) -> String {
    let (h, m) = (t.hour(), t.minute());
    match (h, m) {
        (0, 0) => "midnight".into(),
        (12, 0) => "midday".into(),
        _ => {
            let suffix = if h < 12 { "am" } else { "pm" };
            let h12 = match h % 12 {
                0 => 12,
                h => h,
            };
            if m == 0 {
                format!("{h12}{suffix}")
            } else {
                format!("{h12}:{m:02}{suffix}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(available: Value) -> Value {
        json!({"resourceType": "HealthcareService", "id": "hs-1",
            "telecom": [{"system": "phone", "value": "01632 960 777"}],
            "availableTime": available})
    }

    fn hours(available: Value) -> Option<String> {
        contact_of(&service(available)).and_then(|c| c.hours)
    }

    #[test]
    fn opening_hours_in_words_table() {
        let weekdays = json!(["mon", "tue", "wed", "thu", "fri"]);
        let table = [
            (
                json!([{"daysOfWeek": weekdays, "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"}]),
                Some("Monday to Friday, 8am to 6pm"),
            ),
            (
                json!([{"daysOfWeek": ["fri", "mon", "wed"], "availableStartTime": "09:00:00", "availableEndTime": "12:30:00"}]),
                Some("Monday, Wednesday and Friday, 9am to 12:30pm"),
            ),
            (
                json!([{"daysOfWeek": ["sat"], "allDay": true}]),
                Some("Saturday, 24 hours"),
            ),
            // R4: the times are ignored when allDay is set.
            (
                json!([{"daysOfWeek": ["sun"], "allDay": true, "availableStartTime": "nonsense"}]),
                Some("Sunday, 24 hours"),
            ),
            // Several entries, joined with "; " in week order.
            (
                json!([
                    {"daysOfWeek": ["sat"], "availableStartTime": "09:00:00", "availableEndTime": "12:00:00"},
                    {"daysOfWeek": weekdays, "availableStartTime": "08:30:00", "availableEndTime": "17:00:00"},
                ]),
                Some("Monday to Friday, 8:30am to 5pm; Saturday, 9am to midday"),
            ),
            // One entry per day with the same times is said once.
            (
                json!([
                    {"daysOfWeek": ["mon"], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
                    {"daysOfWeek": ["tue"], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
                    {"daysOfWeek": ["wed"], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
                    {"daysOfWeek": ["thu", "thu"], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
                    {"daysOfWeek": ["sat", "sun"], "allDay": true},
                ]),
                Some("Monday to Thursday, 8am to 6pm; Saturday and Sunday, 24 hours"),
            ),
            (
                json!([{"daysOfWeek": ["mon", "tue", "wed", "sat"], "availableStartTime": "07:45:00", "availableEndTime": "13:15:30.5"}]),
                Some("Monday to Wednesday and Saturday, 7:45am to 1:15pm"),
            ),
            (
                json!([{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "availableStartTime": "18:00:00", "availableEndTime": "00:00:00"}]),
                Some("Every day, 6pm to midnight"),
            ),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "00:00", "availableEndTime": "12:00"}]),
                Some("Monday, midnight to midday"),
            ),
            // Bad or partial data: no hours rather than a wrong line.
            (json!([]), None),
            (
                json!([{"availableStartTime": "08:00:00", "availableEndTime": "18:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": [], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": ["monday"], "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "8am", "availableEndTime": "18:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "08:00:00", "availableEndTime": "25:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "08:00:00"}]),
                None,
            ),
            (json!([{"daysOfWeek": ["mon"], "allDay": false}]), None),
            (json!([{"daysOfWeek": ["mon"], "allDay": "yes"}]), None),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "18:00:00", "availableEndTime": "08:00:00"}]),
                None,
            ),
            (
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "00:00:00", "availableEndTime": "00:00:00"}]),
                None,
            ),
            // One bad entry drops the whole line, not only its own part.
            (
                json!([
                    {"daysOfWeek": weekdays, "availableStartTime": "08:00:00", "availableEndTime": "18:00:00"},
                    {"daysOfWeek": ["sat"], "availableStartTime": "09:00:00"},
                ]),
                None,
            ),
            (json!({"daysOfWeek": ["mon"], "allDay": true}), None),
        ];
        for (i, (available, want)) in table.into_iter().enumerate() {
            assert_eq!(hours(available).as_deref(), want, "row {i}");
        }
    }

    #[test]
    fn a_locations_hours_use_its_own_element_names() {
        let location = json!({"resourceType": "Location", "id": "loc-1", "status": "active",
            "telecom": [{"system": "phone", "value": "01632 960 888"}],
            "hoursOfOperation": [{"daysOfWeek": ["mon", "tue"], "openingTime": "09:00:00", "closingTime": "16:30:00"}]});
        assert_eq!(
            contact_of(&location),
            Some(Contact {
                phone: "01632 960 888".into(),
                hours: Some("Monday and Tuesday, 9am to 4:30pm".into()),
            })
        );
        // A service's element names do not count on a Location.
        let mut wrong = location.clone();
        wrong["hoursOfOperation"] = json!([{"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "16:30:00"}]);
        assert_eq!(contact_of(&wrong).unwrap().hours, None);
    }

    #[test]
    fn the_phone_chosen_from_telecom_table() {
        let table = [
            (
                json!([{"system": "phone", "value": " 01632 960 001 "}]),
                Some("01632 960 001"),
            ),
            // Only phones: not sms, fax or email.
            (
                json!([{"system": "email", "value": "a@b.example"}, {"system": "sms", "value": "07700 900 001"},
                       {"system": "fax", "value": "01632 960 002"}]),
                None,
            ),
            // The lowest rank wins; an unranked one comes after ranked ones.
            (
                json!([{"system": "phone", "value": "01632 960 003"},
                       {"system": "phone", "value": "01632 960 004", "rank": 2},
                       {"system": "phone", "value": "01632 960 005", "rank": 1}]),
                Some("01632 960 005"),
            ),
            (
                json!([{"system": "phone", "value": "01632 960 006"}, {"system": "phone", "value": "01632 960 007"}]),
                Some("01632 960 006"),
            ),
            // Old numbers and blank values are skipped.
            (
                json!([{"system": "phone", "value": "01632 960 008", "use": "old", "rank": 1},
                       {"system": "phone", "value": "  "},
                       {"system": "phone", "value": "01632 960 009", "use": "work"}]),
                Some("01632 960 009"),
            ),
            (json!([{"system": "phone", "value": ""}]), None),
            (json!([{"system": "phone"}]), None),
            (json!([]), None),
            (json!("01632 960 010"), None),
        ];
        for (i, (telecom, want)) in table.into_iter().enumerate() {
            let mut resource = service(
                json!([{"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "17:00:00"}]),
            );
            resource["telecom"] = telecom;
            let got = contact_of(&resource);
            assert_eq!(got.as_ref().map(|c| c.phone.as_str()), want, "row {i}");
            // Hours without a phone are no contact.
            if want.is_none() {
                assert_eq!(got, None, "row {i}");
            }
        }
    }

    #[test]
    fn inactive_services_closed_locations_and_other_kinds_give_no_contact() {
        let phone = json!([{"system": "phone", "value": "01632 960 011"}]);
        let table = [
            (
                json!({"resourceType": "HealthcareService", "telecom": phone}),
                true,
            ),
            (
                json!({"resourceType": "HealthcareService", "active": true, "telecom": phone}),
                true,
            ),
            (
                json!({"resourceType": "HealthcareService", "active": false, "telecom": phone}),
                false,
            ),
            (json!({"resourceType": "Location", "telecom": phone}), true),
            (
                json!({"resourceType": "Location", "status": "suspended", "telecom": phone}),
                false,
            ),
            (
                json!({"resourceType": "Location", "status": "inactive", "telecom": phone}),
                false,
            ),
            (
                json!({"resourceType": "Organization", "telecom": phone}),
                false,
            ),
            (
                json!({"resourceType": "Practitioner", "telecom": phone}),
                false,
            ),
            (json!({"telecom": phone}), false),
        ];
        for (i, (resource, has)) in table.into_iter().enumerate() {
            let got = contact_of(&resource);
            assert_eq!(got.is_some(), has, "row {i}");
            if let Some(c) = got {
                assert_eq!(c.hours, None, "row {i}: no hours element");
            }
        }
    }
}
