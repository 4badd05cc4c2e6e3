//! The words and links of one page of free slots: what a [`SlotChoice`] (the IO-free paging and
//! filter rule, `nhs_portal_core::slot_choice`) shows, grouped by UK day, with "Earlier dates"
//! and "Later dates" as plain links and the trust's filters as a GET form.

use nhs_portal_core::slot_choice::{Asked, Filter, SlotChoice, SlotChoiceError, SlotFacts};
use nhs_portal_core::{Appointment, uk_time};
use nhs_portal_pas::Slot;

use crate::http_kit;
use crate::pages::group_by_uk_day;
use crate::portal::views::{FilterGroup, FilterRadio, PageLink, Pagination, SlotDay, SlotRadio};

/// What the rule reads of each slot: a slot without a site of its own is at the appointment's.
pub(super) fn facts<'a>(slots: &'a [Slot], appointment: &'a Appointment) -> Vec<SlotFacts<'a>> {
    let own_site = appointment.location.as_ref().map(|l| l.name.as_str());
    slots
        .iter()
        .map(|s| SlotFacts {
            start: s.start,
            site: s.location.as_deref().or(own_site),
            clinician: s.clinician.as_deref(),
        })
        .collect()
}

/// The query's page and filter parameters, decoded.
pub(super) fn asked_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Reads [`Asked`] from decoded pairs.
pub(super) fn asked(pairs: &[(String, String)]) -> Result<Asked<'_>, SlotChoiceError> {
    Asked::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The dates of the slots at `indexes` (in start order).
fn dates_of(slots: &[Slot], indexes: &[usize]) -> Option<String> {
    let first = slots.get(*indexes.first()?)?.start;
    let last = slots.get(*indexes.last()?)?.start;
    Some(uk_time::format_date_range(first, last))
}

/// The radios of this page's slots, by UK day; the first radio's id is `slot` (the error
/// summary's link).
pub(super) fn days(slots: &[Slot], choice: &SlotChoice) -> Vec<SlotDay> {
    let shown: Vec<&Slot> = choice
        .shown()
        .iter()
        .filter_map(|&i| slots.get(i))
        .collect();
    group_by_uk_day(shown, |s| s.start)
        .into_iter()
        .enumerate()
        .map(|(d, (day, slots))| SlotDay {
            day,
            slots: slots
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let detail = [s.location.clone(), s.clinician.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ");
                    SlotRadio {
                        id: s.id.clone(),
                        input_id: if d == 0 && i == 0 {
                            "slot".to_owned()
                        } else {
                            format!("slot-{d}-{i}")
                        },
                        time: format!(
                            "{} to {}",
                            uk_time::format_time(s.start),
                            uk_time::format_time(s.end)
                        ),
                        detail: (!detail.is_empty()).then_some(detail),
                        checked: false,
                    }
                })
                .collect(),
        })
        .collect()
}

/// "Times on … (page 1 of 10)", when the page shows any.
pub(super) fn showing(slots: &[Slot], choice: &SlotChoice) -> Option<String> {
    let on = dates_of(slots, choice.shown())?;
    Some(if choice.page_count() > 1 {
        format!(
            "Times on {on} (page {} of {}).",
            choice.number(),
            choice.page_count()
        )
    } else {
        format!("Times on {on}.")
    })
}

/// The links to the pages before and after this one, each named by its dates.
pub(super) fn pagination(slots: &[Slot], choice: &SlotChoice, path: &str) -> Pagination {
    let link = |title, indexes: Option<&[usize]>, q: Option<Vec<(&'static str, String)>>| {
        Some(PageLink {
            dates: dates_of(slots, indexes?)?,
            href: http_kit::with_query(path, &q?),
            title,
        })
    };
    Pagination {
        label: "More dates",
        previous: link("Earlier dates", choice.previous(), choice.previous_query()),
        next: link("Later dates", choice.next(), choice.next_query()),
    }
}

/// The filters the trust allows and the offer gives a choice in, each with "any" first.
pub(super) fn filters(choice: &SlotChoice) -> Vec<FilterGroup> {
    choice
        .filters()
        .iter()
        .map(|f| {
            let name = f.filter.param();
            let any = match f.filter {
                Filter::TimeOfDay => "Any time",
                Filter::Site => "Any place",
                Filter::Clinician => "Anyone",
            };
            let mut options = vec![FilterRadio {
                input_id: format!("{name}-any"),
                value: String::new(),
                label: any.to_owned(),
                checked: !f.options.iter().any(|o| o.selected),
            }];
            options.extend(f.options.iter().enumerate().map(|(i, o)| FilterRadio {
                input_id: format!("{name}-{i}"),
                value: o.value.clone(),
                label: o.label.clone(),
                checked: o.selected,
            }));
            FilterGroup {
                name,
                legend: f.filter.legend(),
                inline: f.filter == Filter::TimeOfDay,
                options,
            }
        })
        .collect()
}
