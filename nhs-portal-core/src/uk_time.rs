//! UK local time (Europe/London, GMT or BST) in NHS content style.
//!
//! The PAS and the PCA speak UTC; patients read UK local time. NHS content style writes dates as
//! "Wednesday 6 August 2025" and times as "9:40am", "5pm" and "midday", and joins them as
//! "Monday 3 June 2024 at 9:40am".
//!
//! **Midnight is the one departure, on purpose.** NHS style writes 00:00 as "midnight", but
//! "midnight on Tuesday 15 July" is read by many as the night between Tuesday and Wednesday,
//! while 00:00 on 15 July is the night between Monday and Tuesday: a patient could arrive a day
//! late. GOV.UK's style guide names the same trap (it says to avoid midnight for deadlines, and the
//! NHS style council discussed without adopting it). An appointment's time cannot be moved to
//! "11:59pm the day before" as a deadline can, so the portal writes 00:00 as
//! [`START_OF_DAY`], "12am (start of the day)", with the date of the day that begins: "Tuesday 15
//! July 2025 at 12am (start of the day)". "12am" alone is confused with midday by some readers;
//! the words in brackets settle it. Every other time keeps NHS style (12:00 is "midday", 00:05 is "12:05am").
//!
//! Converting from UTC is always unambiguous. Converting a UK wall-clock time to UTC is not: in the
//! October fold 1:30am happens twice, and in the March gap 1:30am never happens, so
//! [`from_uk_local`] says which.

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;
use chrono_tz::Tz;

/// An instant in UK local time.
pub fn to_uk(t: DateTime<Utc>) -> DateTime<Tz> {
    t.with_timezone(&London)
}

/// The date in UK local time, such as "Wednesday 6 August 2025".
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use nhs_portal_core::uk_time::format_date;
/// assert_eq!(format_date(Utc.with_ymd_and_hms(2025, 8, 6, 8, 40, 0).unwrap()), "Wednesday 6 August 2025");
/// ```
pub fn format_date(t: DateTime<Utc>) -> String {
    to_uk(t).format("%A %-d %B %Y").to_string()
}

/// A short date without the weekday, such as "6 August 2025".
pub fn format_date_short(t: DateTime<Utc>) -> String {
    to_uk(t).format("%-d %B %Y").to_string()
}

/// The UK days from `first` to `last` (`first` not after `last`) in words, the shared month and
/// year written once: "Monday 7 December 2026", "Monday 7 to Wednesday 9 December 2026",
/// "Monday 30 November to Wednesday 2 December 2026", "Thursday 31 December 2026 to Monday 4
/// January 2027".
pub fn format_date_range(first: DateTime<Utc>, last: DateTime<Utc>) -> String {
    let (a, b) = (to_uk(first), to_uk(last));
    if uk_date(first) == uk_date(last) {
        format_date(first)
    } else if (a.year(), a.month()) == (b.year(), b.month()) {
        format!("{} to {}", a.format("%A %-d"), format_date(last))
    } else if a.year() == b.year() {
        format!("{} to {}", a.format("%A %-d %B"), format_date(last))
    } else {
        format!("{} to {}", format_date(first), format_date(last))
    }
}

/// How 00:00 UK time is written (see the module docs for why not "midnight").
pub const START_OF_DAY: &str = "12am (start of the day)";

/// The time in UK local time, such as "9:40am", "5pm", "midday" or [`START_OF_DAY`].
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use nhs_portal_core::uk_time::format_time;
/// // 08:40 UTC in August is 9:40am BST.
/// assert_eq!(format_time(Utc.with_ymd_and_hms(2025, 8, 6, 8, 40, 0).unwrap()), "9:40am");
/// assert_eq!(format_time(Utc.with_ymd_and_hms(2025, 1, 6, 12, 0, 0).unwrap()), "midday");
/// ```
pub fn format_time(t: DateTime<Utc>) -> String {
    let local = to_uk(t);
    format_wall_clock(local.hour(), local.minute())
}

/// Formats an hour (0 to 23) and minute in NHS style, 00:00 as [`START_OF_DAY`].
pub fn format_wall_clock(hour: u32, minute: u32) -> String {
    match (hour, minute) {
        (0, 0) => START_OF_DAY.to_owned(),
        (12, 0) => "midday".to_owned(),
        _ => {
            let suffix = if hour < 12 { "am" } else { "pm" };
            let h12 = match hour % 12 {
                0 => 12,
                h => h,
            };
            if minute == 0 {
                format!("{h12}{suffix}")
            } else {
                format!("{h12}:{minute:02}{suffix}")
            }
        }
    }
}

/// Date and time joined with "at", such as "Monday 3 June 2024 at 9:40am".
pub fn format_date_time(t: DateTime<Utc>) -> String {
    format!("{} at {}", format_date(t), format_time(t))
}

/// "GMT" or "BST", whichever is in force at `t`.
pub fn zone_abbreviation(t: DateTime<Utc>) -> &'static str {
    use chrono::Offset;
    if to_uk(t).offset().fix().local_minus_utc() == 0 {
        "GMT"
    } else {
        "BST"
    }
}

/// The UK calendar date of an instant (days start at UK midnight, not UTC midnight).
pub fn uk_date(t: DateTime<Utc>) -> chrono::NaiveDate {
    let l = to_uk(t);
    chrono::NaiveDate::from_ymd_opt(l.year(), l.month(), l.day()).unwrap_or_default()
}

/// The result of reading a UK wall-clock time as an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UkLocal {
    /// Exactly one instant has this wall-clock time.
    Exact(DateTime<Utc>),
    /// The clocks went back: the time happened twice, first in BST, then in GMT.
    Ambiguous {
        /// The first (BST) instant.
        earliest: DateTime<Utc>,
        /// The second (GMT) instant.
        latest: DateTime<Utc>,
    },
    /// The clocks went forward over this time: it never happened.
    Gap,
}

/// Reads a UK wall-clock time as an instant, saying when that is ambiguous or impossible.
pub fn from_uk_local(local: NaiveDateTime) -> UkLocal {
    match London.from_local_datetime(&local) {
        LocalResult::Single(t) => UkLocal::Exact(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => UkLocal::Ambiguous {
            earliest: a.with_timezone(&Utc),
            latest: b.with_timezone(&Utc),
        },
        LocalResult::None => UkLocal::Gap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges_read_naturally() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap();
        for (first, last, words) in [
            (at(2026, 12, 7), at(2026, 12, 7), "Monday 7 December 2026"),
            (
                at(2026, 12, 7),
                at(2026, 12, 9),
                "Monday 7 to Wednesday 9 December 2026",
            ),
            (
                at(2026, 11, 30),
                at(2026, 12, 2),
                "Monday 30 November to Wednesday 2 December 2026",
            ),
            (
                at(2026, 12, 31),
                at(2027, 1, 4),
                "Thursday 31 December 2026 to Monday 4 January 2027",
            ),
        ] {
            assert_eq!(format_date_range(first, last), words);
        }
    }
    use chrono::{Duration, NaiveDate};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn named_cases() {
        let cases = [
            (
                "2025-03-30T00:59:00Z",
                "Sunday 30 March 2025",
                "12:59am",
                "GMT",
            ),
            ("2025-03-30T01:00:00Z", "Sunday 30 March 2025", "2am", "BST"),
            (
                "2025-10-26T00:30:00Z",
                "Sunday 26 October 2025",
                "1:30am",
                "BST",
            ),
            (
                "2025-10-26T01:30:00Z",
                "Sunday 26 October 2025",
                "1:30am",
                "GMT",
            ),
            (
                "2025-08-06T08:40:00Z",
                "Wednesday 6 August 2025",
                "9:40am",
                "BST",
            ),
            (
                "2024-06-03T08:40:00Z",
                "Monday 3 June 2024",
                "9:40am",
                "BST",
            ),
            (
                "2025-01-15T17:00:00Z",
                "Wednesday 15 January 2025",
                "5pm",
                "GMT",
            ),
            (
                "2025-01-15T12:00:00Z",
                "Wednesday 15 January 2025",
                "midday",
                "GMT",
            ),
            (
                "2025-07-15T11:00:00Z",
                "Tuesday 15 July 2025",
                "midday",
                "BST",
            ),
            (
                "2025-01-15T00:00:00Z",
                "Wednesday 15 January 2025",
                START_OF_DAY,
                "GMT",
            ),
            // Midnight BST is 23:00 UTC the day before.
            (
                "2025-07-14T23:00:00Z",
                "Tuesday 15 July 2025",
                START_OF_DAY,
                "BST",
            ),
            (
                "2025-01-15T12:05:00Z",
                "Wednesday 15 January 2025",
                "12:05pm",
                "GMT",
            ),
            (
                "2025-01-15T00:05:00Z",
                "Wednesday 15 January 2025",
                "12:05am",
                "GMT",
            ),
            (
                "2025-01-15T13:00:00Z",
                "Wednesday 15 January 2025",
                "1pm",
                "GMT",
            ),
            (
                "2025-01-15T09:00:00Z",
                "Wednesday 15 January 2025",
                "9am",
                "GMT",
            ),
            (
                "2025-01-15T23:59:00Z",
                "Wednesday 15 January 2025",
                "11:59pm",
                "GMT",
            ),
        ];
        for (instant, date, time, zone) in cases {
            let t = utc(instant);
            assert_eq!(format_date(t), date, "{instant}");
            assert_eq!(format_time(t), time, "{instant}");
            assert_eq!(zone_abbreviation(t), zone, "{instant}");
        }
        assert_eq!(
            format_date_time(utc("2024-06-03T08:40:00Z")),
            "Monday 3 June 2024 at 9:40am"
        );
    }

    /// The last Sunday of a month, at 01:00 UTC: when UK clocks change.
    fn last_sunday_0100(year: i32, month: u32) -> DateTime<Utc> {
        let mut d = NaiveDate::from_ymd_opt(year, month, 31).unwrap();
        while d.weekday() != chrono::Weekday::Sun {
            d = d.pred_opt().unwrap();
        }
        Utc.from_utc_datetime(&d.and_hms_opt(1, 0, 0).unwrap())
    }

    #[test]
    fn every_clock_change_2020_to_2030() {
        for year in 2020..=2030 {
            // Spring forward: 00:59 UTC is 12:59am GMT, 01:00 UTC is 2am BST.
            let spring = last_sunday_0100(year, 3);
            let before = spring - Duration::minutes(1);
            assert_eq!(format_time(before), "12:59am", "{year} spring before");
            assert_eq!(zone_abbreviation(before), "GMT", "{year}");
            assert_eq!(format_time(spring), "2am", "{year} spring at");
            assert_eq!(zone_abbreviation(spring), "BST", "{year}");
            assert_eq!(format_date(before), format_date(spring), "{year}");
            // The wall-clock hour 1am-2am does not exist on that day.
            let gap = uk_date(spring).and_hms_opt(1, 30, 0).unwrap();
            assert_eq!(from_uk_local(gap), UkLocal::Gap, "{year}");

            // Fall back: 00:59 UTC is 1:59am BST, 01:00 UTC is 1am GMT.
            let autumn = last_sunday_0100(year, 10);
            let before = autumn - Duration::minutes(1);
            assert_eq!(format_time(before), "1:59am", "{year} autumn before");
            assert_eq!(zone_abbreviation(before), "BST", "{year}");
            assert_eq!(format_time(autumn), "1am", "{year} autumn at");
            assert_eq!(zone_abbreviation(autumn), "GMT", "{year}");
            // 1:30am happens twice, 60 minutes apart.
            let fold = uk_date(autumn).and_hms_opt(1, 30, 0).unwrap();
            match from_uk_local(fold) {
                UkLocal::Ambiguous { earliest, latest } => {
                    assert_eq!(latest - earliest, Duration::hours(1), "{year}");
                    assert_eq!(format_time(earliest), "1:30am");
                    assert_eq!(format_time(latest), "1:30am");
                    assert_eq!(zone_abbreviation(earliest), "BST");
                    assert_eq!(zone_abbreviation(latest), "GMT");
                }
                other => panic!("{year}: expected a fold, got {other:?}"),
            }
        }
    }

    /// 00:00 is written with the date of the day that begins and never as "midnight", which
    /// readers take as the end of that day.
    #[test]
    fn the_start_of_a_day_is_never_midnight() {
        let cases = [
            // 00:00 GMT on Wednesday 15 January: the night between Tuesday and Wednesday.
            (
                "2025-01-15T00:00:00Z",
                "Wednesday 15 January 2025 at 12am (start of the day)",
            ),
            // 00:00 BST on Tuesday 15 July is 23:00 UTC on Monday 14 July.
            (
                "2025-07-14T23:00:00Z",
                "Tuesday 15 July 2025 at 12am (start of the day)",
            ),
            ("2025-07-14T22:59:00Z", "Monday 14 July 2025 at 11:59pm"),
            ("2025-07-14T23:01:00Z", "Tuesday 15 July 2025 at 12:01am"),
            (
                "2025-01-15T12:00:00Z",
                "Wednesday 15 January 2025 at midday",
            ),
        ];
        for (utc, want) in cases {
            let t = DateTime::parse_from_rfc3339(utc)
                .unwrap()
                .with_timezone(&Utc);
            let got = format_date_time(t);
            assert_eq!(got, want, "{utc}");
            assert!(!got.contains("midnight"), "{got}");
        }
    }

    #[test]
    fn wall_clock_table() {
        let cases = [
            (0, 0, "12am (start of the day)"),
            (0, 1, "12:01am"),
            (1, 0, "1am"),
            (11, 59, "11:59am"),
            (12, 0, "midday"),
            (12, 30, "12:30pm"),
            (17, 0, "5pm"),
            (23, 5, "11:05pm"),
        ];
        for (h, m, want) in cases {
            assert_eq!(format_wall_clock(h, m), want, "{h}:{m}");
        }
    }

    #[test]
    fn exact_local_round_trip() {
        let local = NaiveDate::from_ymd_opt(2025, 7, 1)
            .unwrap()
            .and_hms_opt(9, 40, 0)
            .unwrap();
        assert_eq!(
            from_uk_local(local),
            UkLocal::Exact(utc("2025-07-01T08:40:00Z"))
        );
    }
}
