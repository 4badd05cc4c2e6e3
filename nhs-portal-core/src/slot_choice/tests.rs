use chrono::{Duration, TimeZone};

use super::*;

const MAIN: &str = "Northfield Hospital";
const CDC: &str = "Ashgrove Community Diagnostic Centre";
const AHMED: &str = "Dr Laila Ahmed";
const GRIFFITHS: &str = "Dr Owen Griffiths";

/// 09:00 UTC on a winter Monday (09:00 GMT).
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

/// `per_day` slots on each of `days` weekdays-or-not, from `monday()`: one an hour from 9am,
/// the last of each day at the other site, clinicians alternating.
fn offer(days: i64, per_day: i64) -> Vec<SlotFacts<'static>> {
    let mut out = Vec::new();
    for d in 0..days {
        for n in 0..per_day {
            out.push(SlotFacts {
                start: monday() + Duration::days(d) + Duration::minutes(30 * n),
                site: Some(if n == per_day - 1 { CDC } else { MAIN }),
                clinician: Some(if (d + n) % 2 == 0 { AHMED } else { GRIFFITHS }),
            });
        }
    }
    out
}

fn asked(page: &'static str) -> Asked<'static> {
    Asked {
        page: Some(page),
        ..Asked::default()
    }
}

/// The pages' slots concatenated.
fn walked(c: &SlotChoice) -> Vec<usize> {
    c.pages().iter().flatten().copied().collect()
}

#[test]
fn every_matching_slot_is_on_exactly_one_page_in_start_order() {
    // (days, slots a day): the demo's shape, one slot a day, a day busier than a page, none.
    for (days, per_day) in [(29, 3), (10, 1), (2, 30), (1, 12), (1, 13), (0, 0), (5, 4)] {
        let mut slots = offer(days, per_day);
        // The PAS's order is not trusted: the rule sorts.
        slots.reverse();
        let c = choose(&slots, SlotFilters::NONE, &Asked::default()).unwrap();
        let order = walked(&c);
        let mut expected: Vec<usize> = (0..slots.len()).collect();
        expected.sort_by_key(|&i| slots[i].start);
        assert_eq!(
            order, expected,
            "{days} days of {per_day}: none lost, none twice"
        );
        for page in c.pages() {
            assert!(!page.is_empty() && page.len() <= SLOTS_PER_PAGE);
            let mut days: Vec<_> = page
                .iter()
                .map(|&i| uk_time::uk_date(slots[i].start))
                .collect();
            days.dedup();
            assert!(days.len() <= DAYS_PER_PAGE, "{days:?}");
        }
    }
}

#[test]
fn the_first_page_is_the_soonest_days_and_pages_follow_each_other() {
    let slots = offer(29, 3);
    let first = choose(&slots, SlotFilters::NONE, &Asked::default()).unwrap();
    assert_eq!(first.number(), 1);
    assert_eq!(first.page_count(), 10);
    assert_eq!(first.shown(), &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(first.previous(), None);
    assert_eq!(first.next(), Some(&[9, 10, 11, 12, 13, 14, 15, 16, 17][..]));
    // Following "later dates" from the first page visits every slot once, then stops.
    let mut seen = Vec::new();
    let mut q = first.query(1);
    for _ in 0..20 {
        let owned: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = choose(
            &slots,
            SlotFilters::NONE,
            &Asked::from_pairs(owned).unwrap(),
        )
        .unwrap();
        seen.extend_from_slice(c.shown());
        match c.next_query() {
            Some(next) => q = next,
            None => break,
        }
    }
    assert_eq!(seen, (0..slots.len()).collect::<Vec<_>>());
}

#[test]
fn a_busy_day_spans_pages_and_later_days_start_a_page_of_their_own() {
    let slots = offer(2, 30);
    let c = choose(&slots, SlotFilters::NONE, &Asked::default()).unwrap();
    let sizes: Vec<usize> = c.pages().iter().map(Vec::len).collect();
    assert_eq!(sizes, [12, 12, 6, 12, 12, 6]);
}

#[test]
fn the_page_parameter_clamps_to_the_offer_or_is_refused() {
    let slots = offer(29, 3);
    let allowed = SlotFilters::NONE;
    for (page, expected) in [
        ("1", Ok(1)),
        ("2", Ok(2)),
        ("10", Ok(10)),
        // Beyond the last: the last (a link gone stale as slots were taken).
        ("11", Ok(10)),
        ("999999", Ok(10)),
        ("0", Ok(1)),
        ("007", Ok(7)),
        ("", Err(SlotChoiceError::BadPage)),
        ("-1", Err(SlotChoiceError::BadPage)),
        ("+2", Err(SlotChoiceError::BadPage)),
        ("1.5", Err(SlotChoiceError::BadPage)),
        ("two", Err(SlotChoiceError::BadPage)),
        ("1000000", Err(SlotChoiceError::BadPage)),
        ("99999999999999999999999", Err(SlotChoiceError::BadPage)),
    ] {
        let got = choose(&slots, allowed, &asked(page)).map(|c| c.number());
        assert_eq!(got, expected, "page={page:?}");
    }
    // Nothing offered: one empty page, whatever the number.
    let none = choose(&[], allowed, &asked("5")).unwrap();
    assert_eq!(
        (none.number(), none.page_count(), none.shown()),
        (1, 0, &[][..])
    );
}

#[test]
fn filters_narrow_and_compose() {
    let slots = offer(10, 3);
    let count = |time, site, clinician| {
        let a = Asked {
            time,
            site,
            clinician,
            ..Asked::default()
        };
        let c = choose(&slots, SlotFilters::ALL, &a).unwrap();
        let order = walked(&c);
        for &i in &order {
            let s = &slots[i];
            if let Some(t) = time.filter(|t| !t.is_empty()) {
                assert_eq!(TimeOfDay::of(s.start).value(), t);
            }
            if let Some(v) = site {
                assert_eq!(value_of(s.site.unwrap()), v);
            }
            if let Some(v) = clinician {
                assert_eq!(value_of(s.clinician.unwrap()), v);
            }
        }
        order.len()
    };
    let cdc = value_of(CDC);
    let main = value_of(MAIN);
    let ahmed = value_of(AHMED);
    // 9am, 9:30am and 10am GMT each day: all morning; the 10am one at the CDC.
    for (time, site, clinician, expected) in [
        (None, None, None, 30),
        (Some(""), None, None, 30),
        (Some("morning"), None, None, 30),
        (Some("afternoon"), None, None, 0),
        (None, Some(cdc.as_str()), None, 10),
        (None, Some(main.as_str()), None, 20),
        (None, None, Some(ahmed.as_str()), 15),
        (
            Some("morning"),
            Some(main.as_str()),
            Some(ahmed.as_str()),
            10,
        ),
        (None, Some(cdc.as_str()), Some(ahmed.as_str()), 5),
    ] {
        assert_eq!(
            count(time, site, clinician),
            expected,
            "{time:?} {site:?} {clinician:?}"
        );
    }
}

#[test]
fn a_filtered_offer_pages_with_its_filters_kept() {
    let slots = offer(20, 3);
    let cdc = value_of(CDC);
    let a = Asked {
        site: Some(&cdc),
        page: Some("2"),
        ..Asked::default()
    };
    let c = choose(&slots, SlotFilters::ALL, &a).unwrap();
    assert!(c.filtered());
    // One CDC slot a day, three days a page.
    assert_eq!(c.page_count(), 7);
    assert_eq!(c.shown().len(), 3);
    assert_eq!(
        c.previous_query().unwrap(),
        vec![("site", cdc.clone())],
        "the first page has no page parameter"
    );
    assert_eq!(
        c.next_query().unwrap(),
        vec![("site", cdc.clone()), ("page", "3".to_owned())]
    );
}

#[test]
fn the_asked_page_and_filters_carry_to_the_next_step_and_back_unchanged() {
    let slots = offer(20, 3);
    let (cdc, ahmed) = (value_of(CDC), value_of(AHMED));
    // (time, site, clinician, page) as asked, and the query carried on.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
    );
    let cases: [Case<'_>; 6] = [
        (None, None, None, None, vec![]),
        (None, None, None, Some("1"), vec![]),
        // An empty filter is "any"; an empty page is kept, to be refused again.
        (Some(""), Some(""), None, Some(""), vec![("page", "")]),
        (
            Some("afternoon"),
            None,
            None,
            Some("2"),
            vec![("time", "afternoon"), ("page", "2")],
        ),
        (
            None,
            Some(&cdc),
            Some(&ahmed),
            None,
            vec![("site", &cdc), ("clinician", &ahmed)],
        ),
        // Unchecked: the slot page it leads to refuses what is not the offer's.
        (
            Some("evening"),
            None,
            None,
            Some("two"),
            vec![("time", "evening"), ("page", "two")],
        ),
    ];
    for (time, site, clinician, page, want) in cases {
        let a = Asked {
            page,
            time,
            site,
            clinician,
        };
        let q = a.query();
        let want: Vec<(&str, String)> = want.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        assert_eq!(q, want, "{a:?}");
        // Read back, the same page of the same offer (or the same refusal).
        let back = Asked::from_pairs(q.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        let (first, again) = (
            choose(&slots, SlotFilters::ALL, &a),
            choose(&slots, SlotFilters::ALL, &back),
        );
        assert_eq!(first, again, "{a:?}");
        // And a page's own query is read back as that page.
        if let Ok(c) = first {
            let own = c.query(c.number());
            let read = Asked::from_pairs(own.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
            assert_eq!(read.query(), own, "{a:?}");
        }
    }
}

#[test]
fn forged_or_unoffered_filters_are_refused() {
    let slots = offer(5, 3);
    let time_and_site = SlotFilters {
        time_of_day: true,
        site: true,
        clinician: false,
    };
    let ahmed = value_of(AHMED);
    for (pairs, allowed, expected) in [
        (
            vec![("time", "evening")],
            time_and_site,
            Some(SlotChoiceError::UnknownOption(Filter::TimeOfDay)),
        ),
        (
            vec![("time", "Morning")],
            time_and_site,
            Some(SlotChoiceError::UnknownOption(Filter::TimeOfDay)),
        ),
        (
            vec![("site", "elsewhere")],
            time_and_site,
            Some(SlotChoiceError::UnknownOption(Filter::Site)),
        ),
        (
            vec![("site", CDC)],
            time_and_site,
            Some(SlotChoiceError::UnknownOption(Filter::Site)),
        ),
        (
            vec![("clinician", ahmed.as_str())],
            time_and_site,
            Some(SlotChoiceError::NotOffered(Filter::Clinician)),
        ),
        (
            vec![("clinician", "dr-nobody")],
            SlotFilters::ALL,
            Some(SlotChoiceError::UnknownOption(Filter::Clinician)),
        ),
        (
            vec![("time", "morning")],
            SlotFilters::NONE,
            Some(SlotChoiceError::NotOffered(Filter::TimeOfDay)),
        ),
        (
            vec![("page", "1"), ("page", "2")],
            time_and_site,
            Some(SlotChoiceError::Repeated("page")),
        ),
        (
            vec![("site", "a"), ("site", "b")],
            time_and_site,
            Some(SlotChoiceError::Repeated("site")),
        ),
        // "Any" for a filter the trust does not offer narrows nothing: not refused.
        (vec![("clinician", "")], time_and_site, None),
        // Other parameters are not this rule's.
        (vec![("taken", "1")], SlotFilters::NONE, None),
        (vec![("clinician", ahmed.as_str())], SlotFilters::ALL, None),
    ] {
        let got = Asked::from_pairs(pairs.iter().copied())
            .and_then(|a| choose(&slots, allowed, &a))
            .err();
        assert_eq!(got, expected, "{pairs:?}");
    }
}

#[test]
fn a_page_offers_only_allowed_filters_with_a_real_choice() {
    let mut slots = offer(5, 3);
    // One afternoon slot, so the time of day is a choice.
    slots.push(SlotFacts {
        start: monday() + Duration::hours(5),
        site: Some(MAIN),
        clinician: None,
    });
    let allowed = SlotFilters {
        time_of_day: true,
        site: true,
        clinician: false,
    };
    let a = Asked {
        time: Some("afternoon"),
        ..Asked::default()
    };
    let c = choose(&slots, allowed, &a).unwrap();
    let offered: Vec<(Filter, Vec<(String, bool)>)> = c
        .filters()
        .iter()
        .map(|f| {
            (
                f.filter,
                f.options
                    .iter()
                    .map(|o| (o.label.clone(), o.selected))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        vec![
            (
                Filter::TimeOfDay,
                vec![("Morning".into(), false), ("Afternoon".into(), true)]
            ),
            (
                Filter::Site,
                vec![(CDC.into(), false), (MAIN.into(), false)]
            ),
        ]
    );
    assert_eq!(c.shown().len(), 1);
    // One site only: nothing to choose between, so no site filter.
    let one_site: Vec<SlotFacts<'_>> = slots
        .iter()
        .map(|s| SlotFacts {
            site: Some(MAIN),
            ..*s
        })
        .collect();
    let c = choose(&one_site, allowed, &Asked::default()).unwrap();
    assert_eq!(
        c.filters().iter().map(|f| f.filter).collect::<Vec<_>>(),
        [Filter::TimeOfDay]
    );
}

#[test]
fn morning_and_afternoon_are_by_uk_time() {
    for (utc, expected) in [
        // 11:30 GMT.
        (
            Utc.with_ymd_and_hms(2026, 1, 5, 11, 30, 0).unwrap(),
            TimeOfDay::Morning,
        ),
        // 11:30 UTC is 12:30 BST.
        (
            Utc.with_ymd_and_hms(2026, 7, 6, 11, 30, 0).unwrap(),
            TimeOfDay::Afternoon,
        ),
        (
            Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap(),
            TimeOfDay::Afternoon,
        ),
        // 23:30 UTC on 5 July is 00:30 BST on 6 July.
        (
            Utc.with_ymd_and_hms(2026, 7, 5, 23, 30, 0).unwrap(),
            TimeOfDay::Morning,
        ),
    ] {
        assert_eq!(TimeOfDay::of(utc), expected, "{utc}");
    }
}

#[test]
fn days_are_uk_days() {
    // 23:30 UTC on a summer Monday is Tuesday in the UK: it pages with Tuesday's slots.
    let monday_bst = Utc.with_ymd_and_hms(2026, 7, 6, 9, 0, 0).unwrap();
    let slots: Vec<SlotFacts<'_>> = [0, 1, 2, 3]
        .into_iter()
        .map(|d| monday_bst + Duration::days(d))
        .chain([Utc.with_ymd_and_hms(2026, 7, 8, 23, 30, 0).unwrap()])
        .map(|start| SlotFacts {
            start,
            site: None,
            clinician: None,
        })
        .collect();
    let c = choose(&slots, SlotFilters::NONE, &Asked::default()).unwrap();
    // Monday to Wednesday, then Thursday: 12:30am before 10am.
    assert_eq!(c.pages(), &[vec![0, 1, 2], vec![4, 3]]);
}

#[test]
fn names_become_address_values() {
    for (name, value) in [
        (
            "Ashgrove Community Diagnostic Centre",
            "ashgrove-community-diagnostic-centre",
        ),
        ("Dr O'Brien", "dr-o-brien"),
        ("  St. Mary's (Wing B)  ", "st-mary-s-wing-b"),
        ("Zoë Ng", "zo-ng"),
        ("東", "e69db1"),
    ] {
        assert_eq!(value_of(name), value, "{name}");
    }
    assert_eq!(value_of(&"a".repeat(100)).len(), 64);
}
