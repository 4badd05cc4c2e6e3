//! Choosing a new time on a phone: a real-time reschedule's free slots, soonest first, in short
//! pages, narrowed by the filters the trust allows (morning or afternoon, site, clinician).
//! (Over 400 lines: the filters, the check of the address's parameters and the paging are one
//! rule, read together; its table tests are in `slot_choice/tests.rs`.)
//!
//! The whole offer is split into pages of a few UK days at a time ([`DAYS_PER_PAGE`] days with a
//! free slot, never more than [`SLOTS_PER_PAGE`] slots; a day with more slots than that spans
//! pages). Every slot that matches the filters is on exactly one page, in start order, so paging
//! forwards shows each once and loses none. The page number and filters come from the page's
//! address (plain links and a GET form, no JavaScript), so they are checked here like any other
//! input: a page beyond the last is the last (links go stale as slots are taken), anything that
//! is not a page number is refused, and so is a filter the trust does not offer or a value that
//! is not one of the offer's.
//!
//! This rule only decides what a page shows. Which slot may be booked is decided at confirm,
//! against the offer as read again then, whichever page the slot was shown on.

use chrono::{DateTime, Timelike, Utc};

use crate::paging::{self, Pages};
use crate::uk_time;

#[cfg(test)]
mod tests;

/// At most this many UK days with a free slot are shown on one page.
pub const DAYS_PER_PAGE: usize = 3;

/// At most this many slots are shown on one page (a busier day spans pages).
pub const SLOTS_PER_PAGE: usize = 12;

/// The filters a trust lets patients narrow its free slots by (all off by default).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct SlotFilters {
    /// Morning or afternoon (by the slot's start in UK time).
    pub time_of_day: bool,
    /// The site the slot is at.
    pub site: bool,
    /// The clinician the slot is with.
    pub clinician: bool,
}

impl SlotFilters {
    /// No filters: the patient pages through every free slot.
    pub const NONE: Self = Self {
        time_of_day: false,
        site: false,
        clinician: false,
    };
    /// Every filter.
    pub const ALL: Self = Self {
        time_of_day: true,
        site: true,
        clinician: true,
    };

    /// Whether the trust allows `filter`.
    pub const fn allows(self, filter: Filter) -> bool {
        match filter {
            Filter::TimeOfDay => self.time_of_day,
            Filter::Site => self.site,
            Filter::Clinician => self.clinician,
        }
    }
}

/// One way of narrowing the free slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Morning or afternoon.
    TimeOfDay,
    /// The site.
    Site,
    /// The clinician.
    Clinician,
}

impl Filter {
    /// Every filter, in the order a page shows them.
    pub const ALL: [Self; 3] = [Self::TimeOfDay, Self::Site, Self::Clinician];

    /// The query parameter that carries it.
    pub const fn param(self) -> &'static str {
        match self {
            Self::TimeOfDay => "time",
            Self::Site => "site",
            Self::Clinician => "clinician",
        }
    }

    /// The question a page asks for it.
    pub const fn legend(self) -> &'static str {
        match self {
            Self::TimeOfDay => "Time of day",
            Self::Site => "Where",
            Self::Clinician => "Who with",
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.param())
    }
}

/// Morning (before midday, UK time) or afternoon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeOfDay {
    /// Starts before midday.
    Morning,
    /// Starts at midday or later.
    Afternoon,
}

impl TimeOfDay {
    /// The time of day a slot starting at `start` is in.
    pub fn of(start: DateTime<Utc>) -> Self {
        if uk_time::to_uk(start).hour() < 12 {
            Self::Morning
        } else {
            Self::Afternoon
        }
    }

    /// Its value in a page's address.
    pub const fn value(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
        }
    }

    /// Its label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Morning => "Morning",
            Self::Afternoon => "Afternoon",
        }
    }
}

/// What the rule reads of one free slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotFacts<'a> {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// The site's name, if known.
    pub site: Option<&'a str>,
    /// The clinician's name, if known.
    pub clinician: Option<&'a str>,
}

/// What the patient asked for: the page and filter parameters as they came (decoded, unchecked).
/// An empty filter value means "any".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked<'a> {
    /// `page`: the page number, from 1.
    pub page: Option<&'a str>,
    /// `time`: `morning` or `afternoon`.
    pub time: Option<&'a str>,
    /// `site`: one of the offer's site values.
    pub site: Option<&'a str>,
    /// `clinician`: one of the offer's clinician values.
    pub clinician: Option<&'a str>,
}

impl<'a> Asked<'a> {
    /// Reads the parameters from a query's decoded pairs; others are ignored, and one given
    /// twice is refused (two answers to one question).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SlotChoiceError> {
        let mut asked = Self::default();
        for (name, value) in pairs {
            let slot = match name {
                "page" => &mut asked.page,
                "time" => &mut asked.time,
                "site" => &mut asked.site,
                "clinician" => &mut asked.clinician,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(SlotChoiceError::Repeated(match name {
                    "page" => "page",
                    "time" => "time",
                    "site" => "site",
                    _ => "clinician",
                }));
            }
        }
        Ok(asked)
    }

    /// The parameters as asked, to carry to the next step and back (the check page's "Change"
    /// link, the page after a time was taken): the filters given, then the page; unchecked, so
    /// the slot page they lead to checks them again (a forged value is refused there).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let filters = Filter::ALL
            .into_iter()
            .filter_map(|f| self.filter(f).map(|v| (f, v)));
        slot_query(filters, self.page.filter(|p| *p != "1"))
    }

    fn filter(&self, filter: Filter) -> Option<&'a str> {
        match filter {
            Filter::TimeOfDay => self.time,
            Filter::Site => self.site,
            Filter::Clinician => self.clinician,
        }
        .filter(|v| !v.is_empty())
    }
}

/// Why a page of slots cannot be shown as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotChoiceError {
    /// `page` is not a page number.
    #[error("the page parameter is not a page number")]
    BadPage,
    /// A filter the trust does not offer was asked for.
    #[error("the trust does not offer the {0} filter")]
    NotOffered(Filter),
    /// A filter value that is none of the offer's.
    #[error("the {0} filter has no option with that value")]
    UnknownOption(Filter),
    /// A parameter was given more than once.
    #[error("the {0} parameter is given more than once")]
    Repeated(&'static str),
}

/// One option of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOption {
    /// Its value in a page's address.
    pub value: String,
    /// What the patient reads.
    pub label: String,
    /// Whether it is the one applied.
    pub selected: bool,
}

/// One filter the page offers: its options, from the whole offer (so the patient can switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterChoice {
    /// Which filter.
    pub filter: Filter,
    /// Its options (at least two: one option narrows nothing).
    pub options: Vec<FilterOption>,
}

/// One page of the offer: which slots it shows (indexes into the slots given to [`choose`]),
/// the pages around it, and the filters the page offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotChoice {
    pages: Pages,
    filters: Vec<FilterChoice>,
    applied: Vec<(Filter, String)>,
}

impl SlotChoice {
    /// The slots on this page, soonest first.
    pub fn shown(&self) -> &[usize] {
        self.pages.shown()
    }

    /// This page's number, from 1.
    pub fn number(&self) -> usize {
        self.pages.number()
    }

    /// How many pages the filtered offer fills (0 when nothing matches).
    pub fn page_count(&self) -> usize {
        self.pages.count()
    }

    /// Every page, in order (each slot that matches is on exactly one).
    pub fn pages(&self) -> &[Vec<usize>] {
        self.pages.all()
    }

    /// The slots of the page before this one.
    pub fn previous(&self) -> Option<&[usize]> {
        self.pages.previous().map(|(_, slots)| slots)
    }

    /// The slots of the page after this one.
    pub fn next(&self) -> Option<&[usize]> {
        self.pages.next().map(|(_, slots)| slots)
    }

    /// The filters this page offers.
    pub fn filters(&self) -> &[FilterChoice] {
        &self.filters
    }

    /// Whether any filter is applied.
    pub fn filtered(&self) -> bool {
        !self.applied.is_empty()
    }

    /// The query parameters of page `number` with the same filters (no `page` for the first).
    pub fn query(&self, number: usize) -> Vec<(&'static str, String)> {
        let page = (number > 1).then(|| number.to_string());
        slot_query(
            self.applied.iter().map(|(f, v)| (*f, v.as_str())),
            page.as_deref(),
        )
    }

    /// The query parameters of the page before this one, if there is one.
    pub fn previous_query(&self) -> Option<Vec<(&'static str, String)>> {
        self.pages.previous().map(|(n, _)| self.query(n))
    }

    /// The query parameters of the page after this one, if there is one.
    pub fn next_query(&self) -> Option<Vec<(&'static str, String)>> {
        self.pages.next().map(|(n, _)| self.query(n))
    }
}

/// The one way a page of slots is written in an address: its filters, then `page` (absent for
/// the first).
fn slot_query<'v>(
    filters: impl IntoIterator<Item = (Filter, &'v str)>,
    page: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut q: Vec<(&'static str, String)> = filters
        .into_iter()
        .map(|(f, v)| (f.param(), v.to_owned()))
        .collect();
    if let Some(p) = page {
        q.push(("page", p.to_owned()));
    }
    q
}

/// A name as a value for a page's address: lower-case letters and digits joined by `-`
/// (a name with none of those is written in hex).
pub fn value_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    let out = if out.is_empty() {
        name.bytes().map(|b| format!("{b:02x}")).collect()
    } else {
        out.to_owned()
    };
    out.chars().take(64).collect()
}

/// The value and label of a slot for `filter`, if it has one.
fn option_of(slot: &SlotFacts<'_>, filter: Filter) -> Option<(String, String)> {
    match filter {
        Filter::TimeOfDay => {
            let t = TimeOfDay::of(slot.start);
            Some((t.value().to_owned(), t.label().to_owned()))
        }
        Filter::Site => slot.site.map(|s| (value_of(s), s.to_owned())),
        Filter::Clinician => slot.clinician.map(|c| (value_of(c), c.to_owned())),
    }
}

/// The options of `filter` across the whole offer: times of day in day order, names
/// alphabetically, one per value.
fn options(slots: &[SlotFacts<'_>], filter: Filter) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        slots.iter().filter_map(|s| option_of(s, filter)).collect();
    match filter {
        Filter::TimeOfDay => all.sort_by_key(|(v, _)| v != TimeOfDay::Morning.value()),
        Filter::Site | Filter::Clinician => all.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))),
    }
    all.dedup_by(|a, b| a.0 == b.0);
    all
}

/// Reads `page` ([`paging::page_number`]: absent is the first page; a number, from 1).
fn page_asked(page: Option<&str>) -> Result<usize, SlotChoiceError> {
    paging::page_number(page).map_err(|_| SlotChoiceError::BadPage)
}

/// Splits slots (indexes, in start order) into pages: whole UK days, at most
/// [`DAYS_PER_PAGE`] of them and [`SLOTS_PER_PAGE`] slots, a busier day over several pages.
fn paginate(slots: &[SlotFacts<'_>], order: &[usize]) -> Vec<Vec<usize>> {
    // Each day, cut into runs that fit a page.
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut day = None;
    for &i in order {
        let d = uk_time::uk_date(slots[i].start);
        match parts.last_mut() {
            Some(run) if day == Some(d) && run.len() < SLOTS_PER_PAGE => run.push(i),
            _ => parts.push(vec![i]),
        }
        day = Some(d);
    }
    // Runs onto pages, as many as fit.
    let mut pages: Vec<(Vec<usize>, usize)> = Vec::new();
    for run in parts {
        match pages.last_mut() {
            Some((page, runs))
                if *runs < DAYS_PER_PAGE && page.len() + run.len() <= SLOTS_PER_PAGE =>
            {
                // Only different days join: a day's later run follows a full one.
                page.extend(run);
                *runs += 1;
            }
            _ => pages.push((run, 1)),
        }
    }
    pages.into_iter().map(|(p, _)| p).collect()
}

/// The page of `slots` the patient asked for, with the filters `allowed` by the trust.
pub fn choose(
    slots: &[SlotFacts<'_>],
    allowed: SlotFilters,
    asked: &Asked<'_>,
) -> Result<SlotChoice, SlotChoiceError> {
    let page = page_asked(asked.page)?;
    let mut applied = Vec::new();
    let mut filters = Vec::new();
    for filter in Filter::ALL {
        let value = asked.filter(filter);
        if !allowed.allows(filter) {
            if value.is_some() {
                return Err(SlotChoiceError::NotOffered(filter));
            }
            continue;
        }
        let options = options(slots, filter);
        if let Some(v) = value {
            // Morning and afternoon are always answers; a site or clinician only if offered.
            let known = match filter {
                Filter::TimeOfDay => [TimeOfDay::Morning, TimeOfDay::Afternoon]
                    .iter()
                    .any(|t| t.value() == v),
                Filter::Site | Filter::Clinician => options.iter().any(|(o, _)| o == v),
            };
            if !known {
                return Err(SlotChoiceError::UnknownOption(filter));
            }
            applied.push((filter, v.to_owned()));
        }
        if options.len() > 1 {
            filters.push(FilterChoice {
                filter,
                options: options
                    .into_iter()
                    .map(|(value, label)| FilterOption {
                        selected: Some(value.as_str()) == asked.filter(filter),
                        value,
                        label,
                    })
                    .collect(),
            });
        }
    }
    let mut order: Vec<usize> = (0..slots.len())
        .filter(|&i| {
            applied
                .iter()
                .all(|(f, v)| option_of(&slots[i], *f).is_some_and(|(o, _)| o == *v))
        })
        .collect();
    order.sort_by_key(|&i| (slots[i].start, i));
    Ok(SlotChoice {
        pages: Pages::at(paginate(slots, &order), page),
        filters,
        applied,
    })
}
