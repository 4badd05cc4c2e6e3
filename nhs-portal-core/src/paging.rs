//! Short pages a patient walks with plain links: the page number an address asks for (read the
//! same way by every paged page), and the appointment list's past and cancelled appointments a
//! few at a time, newest first.
//!
//! The list shows every upcoming appointment and every place on a waiting list at once; the
//! past and cancelled ones, which only grow, are shown in short pages of their own
//! ([`PAST_PER_PAGE`] a page, the newest first), so no page of the list is more than a few phone
//! screens tall. Each one is on exactly one page, and walking "Show earlier appointments" from
//! the first page to the last shows all of them once, newest to oldest. The page comes from the
//! address (`?past=2`), so it is checked like any other input: 0 is the first page, a page beyond
//! the last is the last (a link goes stale when an upcoming appointment becomes a past one), and
//! anything that is not a page number, or a page given twice, is refused.

use chrono::{DateTime, Utc};

/// At most this many past or cancelled appointments are shown on one page of the list.
pub const PAST_PER_PAGE: usize = 3;

/// The query parameter of the list that names the page of past appointments.
pub const PAST_PARAM: &str = "past";

/// The longest page parameter read as a number (longer ones are refused, not parsed).
const MAX_PAGE_DIGITS: usize = 6;

/// Why a page cannot be shown as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The parameter is not a page number.
    #[error("the page parameter is not a page number")]
    NotANumber,
    /// The parameter is given more than once.
    #[error("the page parameter is given more than once")]
    Repeated,
}

/// Reads a page number from an address: absent is the first page, digits are a page from 1
/// (0 is the first page too); anything else (empty, signed, too long, not digits) is refused.
/// Whether the page exists is for the caller, who knows how many there are.
pub fn page_number(raw: Option<&str>) -> Result<usize, PageError> {
    match raw {
        None => Ok(1),
        Some(p)
            if !p.is_empty()
                && p.len() <= MAX_PAGE_DIGITS
                && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            p.parse::<usize>()
                .map(|n| n.max(1))
                .map_err(|_| PageError::NotANumber)
        }
        Some(_) => Err(PageError::NotANumber),
    }
}

/// The one value of a parameter, from every value it was given in a query (in order): `None`
/// when absent, refused when given more than once (two answers to one question).
pub fn single<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Option<&'a str>, PageError> {
    let mut values = values.into_iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(PageError::Repeated),
        None => Ok(first),
    }
}

/// Items cut into short pages (each page their indexes, in the order shown) and the page being
/// shown: what every paged page walks with its "before" and "after" links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pages {
    pages: Vec<Vec<usize>>,
    current: usize,
}

impl Pages {
    /// `pages`, showing page `number` (from 1; 0 is the first, one beyond the last the last).
    pub fn at(pages: Vec<Vec<usize>>, number: usize) -> Self {
        let current = number.clamp(1, pages.len().max(1)) - 1;
        Self { pages, current }
    }

    /// The items on this page, in order.
    pub fn shown(&self) -> &[usize] {
        self.pages.get(self.current).map_or(&[], Vec::as_slice)
    }

    /// This page's number, from 1.
    pub fn number(&self) -> usize {
        self.current + 1
    }

    /// How many pages there are (0 when there is nothing to show).
    pub fn count(&self) -> usize {
        self.pages.len()
    }

    /// Every page, in order (each item on exactly one).
    pub fn all(&self) -> &[Vec<usize>] {
        &self.pages
    }

    /// The page before this one, and its number, if there is one.
    pub fn previous(&self) -> Option<(usize, &[usize])> {
        let p = self.current.checked_sub(1)?;
        self.pages.get(p).map(|items| (p + 1, items.as_slice()))
    }

    /// The page after this one, and its number, if there is one.
    pub fn next(&self) -> Option<(usize, &[usize])> {
        let p = self.current + 1;
        self.pages.get(p).map(|items| (p + 1, items.as_slice()))
    }
}

/// The query parameters of page `number` of the past appointments.
pub fn past_query(number: usize) -> Vec<(&'static str, String)> {
    vec![(PAST_PARAM, number.max(1).to_string())]
}

/// The page `asked` (the `past` parameter as it came) of the past and cancelled appointments
/// that start at `starts`: newest first (the order given is not trusted; equal starts keep it),
/// [`PAST_PER_PAGE`] a page, a page beyond the last being the last. The page before is the more
/// recent one ("Show more recent"), the page after the earlier one ("Show earlier
/// appointments").
pub fn past_page(starts: &[DateTime<Utc>], asked: Option<&str>) -> Result<Pages, PageError> {
    let number = page_number(asked)?;
    let mut order: Vec<usize> = (0..starts.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(starts[i]), i));
    let pages = order.chunks(PAST_PER_PAGE).map(<[usize]>::to_vec).collect();
    Ok(Pages::at(pages, number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 29, 9, 0, 0).unwrap() + Duration::days(n)
    }

    #[test]
    fn page_numbers_from_an_address() {
        for (raw, want) in [
            (None, Ok(1)),
            (Some("1"), Ok(1)),
            (Some("0"), Ok(1)),
            (Some("000002"), Ok(2)),
            (Some("999999"), Ok(999_999)),
            (Some(""), Err(PageError::NotANumber)),
            (Some("-1"), Err(PageError::NotANumber)),
            (Some("+2"), Err(PageError::NotANumber)),
            (Some("2.0"), Err(PageError::NotANumber)),
            (Some("two"), Err(PageError::NotANumber)),
            (Some(" 2"), Err(PageError::NotANumber)),
            (Some("1000000"), Err(PageError::NotANumber)),
            (Some("99999999999999999999999"), Err(PageError::NotANumber)),
        ] {
            assert_eq!(page_number(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        for (values, want) in [
            (vec![], Ok(None)),
            (vec!["2"], Ok(Some("2"))),
            (vec![""], Ok(Some(""))),
            (vec!["2", "2"], Err(PageError::Repeated)),
            (vec!["", "3", "4"], Err(PageError::Repeated)),
        ] {
            assert_eq!(single(values.clone()), want, "{values:?}");
        }
    }

    #[test]
    fn every_past_appointment_is_on_exactly_one_page_newest_first() {
        // Given in several orders, with ties; from none to several pages' worth.
        for starts in [
            vec![],
            vec![day(-1)],
            vec![day(-3), day(-1), day(-2)],
            vec![day(-1), day(-2), day(-3), day(-4)],
            vec![day(-40), day(21), day(-19), day(-60)],
            (0..10).map(|n| day(-n)).collect(),
            (0..10).map(day).collect(),
            vec![
                day(-5),
                day(-5),
                day(-1),
                day(-5),
                day(-9),
                day(-1),
                day(-7),
            ],
        ] {
            let p = past_page(&starts, None).unwrap();
            let walked: Vec<usize> = p.all().iter().flatten().copied().collect();
            let mut sorted = walked.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (0..starts.len()).collect::<Vec<_>>(),
                "none lost, none twice: {starts:?}"
            );
            for pair in walked.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                assert!(
                    starts[a] > starts[b] || (starts[a] == starts[b] && a < b),
                    "newest first, ties in the order given: {starts:?}"
                );
            }
            for page in p.all() {
                assert!(
                    !page.is_empty() && page.len() <= PAST_PER_PAGE,
                    "{starts:?}"
                );
            }
            assert_eq!(p.count(), starts.len().div_ceil(PAST_PER_PAGE));
        }
    }

    #[test]
    fn each_page_shows_its_part_and_links_to_its_neighbours() {
        let starts: Vec<_> = (0..7).map(|n| day(-n)).collect();
        // (asked, page shown, its appointments, more recent, earlier)
        type Case<'a> = (
            Option<&'a str>,
            usize,
            &'a [usize],
            Option<usize>,
            Option<usize>,
        );
        let cases: [Case<'_>; 6] = [
            (None, 1, &[0, 1, 2], None, Some(2)),
            (Some("1"), 1, &[0, 1, 2], None, Some(2)),
            (Some("2"), 2, &[3, 4, 5], Some(1), Some(3)),
            (Some("3"), 3, &[6], Some(2), None),
            // Beyond the last: the last (a stale link).
            (Some("4"), 3, &[6], Some(2), None),
            (Some("0"), 1, &[0, 1, 2], None, Some(2)),
        ];
        for (asked, number, shown, recent, earlier) in cases {
            let p = past_page(&starts, asked).unwrap();
            assert_eq!(p.number(), number, "{asked:?}");
            assert_eq!(p.shown(), shown, "{asked:?}");
            assert_eq!(p.previous().map(|(n, _)| n), recent, "{asked:?}");
            assert_eq!(p.next().map(|(n, _)| n), earlier, "{asked:?}");
            if let Some((n, items)) = p.next() {
                assert_eq!(
                    past_page(&starts, Some(&n.to_string())).unwrap().shown(),
                    items
                );
            }
        }
    }

    #[test]
    fn no_past_appointments_is_one_empty_page_without_links() {
        for asked in [None, Some("1"), Some("5")] {
            let p = past_page(&[], asked).unwrap();
            assert_eq!((p.number(), p.count()), (1, 0));
            assert!(p.shown().is_empty());
            assert!(p.previous().is_none() && p.next().is_none());
        }
    }

    #[test]
    fn a_page_is_written_as_the_past_parameter() {
        for (n, want) in [(1, "1"), (2, "2"), (0, "1"), (12, "12")] {
            assert_eq!(past_query(n), vec![(PAST_PARAM, want.to_owned())]);
            assert_eq!(page_number(Some(want)), Ok(n.max(1)));
        }
    }

    #[test]
    fn a_bad_page_is_refused_whatever_the_list() {
        for starts in [vec![], vec![day(-1); 5]] {
            for bad in ["", "x", "-1", "1e3"] {
                assert_eq!(past_page(&starts, Some(bad)), Err(PageError::NotANumber));
            }
        }
    }
}
