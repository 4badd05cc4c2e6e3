//! The list of appointments through the running demo portal: every upcoming appointment and
//! place on a waiting list at `/patient-portal/appointments`, the past and cancelled ones in short
//! pages of their own (`?past=N`, newest first) walked with plain links, so it works without
//! JavaScript. Walking "Show earlier appointments" shows each past appointment once and loses
//! none, "Show more recent" leads back through the same pages; a page beyond the last is the
//! last, a `past` parameter that is not a page number gets a clear 400 page; signing in from a
//! page returns to it; another patient's cookie jar sees only their own appointments on every
//! such address.

use std::collections::BTreeSet;

use http::StatusCode;
use nhs_portal_core::paging::PAST_PER_PAGE;
use nhs_portal_core::{Appointment, AppointmentStatus};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, ADULT, SECOND_ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, location};

const LIST: &str = "/patient-portal/appointments";
const REFUSED: &str = "These appointments cannot be shown";

/// The ids the cards on a page link to, in page order.
fn card_ids(html: &str) -> Vec<String> {
    html.match_indices("class=\"nhsapp-card__link")
        .filter_map(|(at, _)| {
            let before = &html[..at];
            let start = before.rfind("href=\"")? + "href=\"".len();
            let href = before[start..].split('"').next()?;
            href.strip_prefix("/patient-portal/appointment/")
                .map(str::to_owned)
        })
        .collect()
}

/// The `href` of the last link that opens before `at` (HTML-escaped `=` and `&` read back).
fn href_before(html: &str, at: usize) -> Option<String> {
    let before = &html[..at];
    let start = before.rfind("href=\"")? + "href=\"".len();
    before[start..]
        .split('"')
        .next()
        .map(|h| h.replace("&#x3D;", "=").replace("&amp;", "&"))
}

/// The `href` of the link marked `rel="{rel}"` (the pagination's).
fn rel_link(html: &str, rel: &str) -> Option<String> {
    href_before(html, html.find(&format!("rel=\"{rel}\""))?)
}

/// The `href` of the link whose text is `text`.
fn link_to(html: &str, text: &str) -> Option<String> {
    href_before(html, html.find(&format!(">{text}</a>"))?)
}

/// The patient's appointments in the PAS: upcoming (booked and ahead, soonest first), the
/// holding records, and the past and cancelled ones (newest first).
async fn in_the_pas(t: &TestPortal, patient: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let now = t.now();
    let mut all: Vec<Appointment> = t
        .demo
        .pas
        .list_appointments(&demo::nhs_number(patient))
        .await
        .expect("the demo PAS lists");
    all.sort_by_key(|a| a.start);
    let ids = |f: &dyn Fn(&Appointment) -> bool| -> Vec<String> {
        all.iter()
            .filter(|a| f(a))
            .map(|a| a.id.to_string())
            .collect()
    };
    let is_upcoming = |a: &Appointment| a.status == AppointmentStatus::Booked && a.is_future(now);
    let upcoming = ids(&|a| !a.holding && is_upcoming(a));
    let holding = ids(&|a| a.holding);
    let mut past = ids(&|a| !a.holding && !is_upcoming(a));
    past.reverse();
    (upcoming, holding, past)
}

async fn signed_in(t: &TestPortal, patient: &str) -> Client {
    let mut c = t.client();
    c.sign_in_as(patient).await;
    c
}

/// A page of the list: 200, and its card ids.
async fn page(c: &mut Client, uri: &str) -> (String, Vec<String>) {
    let res = c.get(uri).await;
    let html = body_text(&res);
    assert_eq!(res.status(), StatusCode::OK, "{uri}: {html}");
    let ids = card_ids(&html);
    (html, ids)
}

/// From the list, "Show past and cancelled appointments", then "Show earlier appointments" to
/// the end: every page's address and card ids, in order.
async fn walk_past(c: &mut Client) -> Vec<(String, Vec<String>)> {
    let (list, _) = page(c, LIST).await;
    let mut at = link_to(&list, "Show past and cancelled appointments");
    let mut pages = Vec::new();
    while let Some(uri) = at {
        let (html, ids) = page(c, &uri).await;
        at = rel_link(&html, "next");
        pages.push((uri, ids));
        assert!(pages.len() < 20, "the pages end");
    }
    pages
}

#[tokio::test]
async fn the_list_shows_every_upcoming_appointment_and_the_way_to_the_past_ones() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let (upcoming, holding, past) = in_the_pas(&t, ADULT).await;
    assert!(
        upcoming.len() >= 5 && past.len() > PAST_PER_PAGE,
        "the demo adult's"
    );

    let (html, ids) = page(&mut c, LIST).await;
    let shown_holding = demo::appointment_id(demo::KEY_ADULT_HOLDING_SHOWN).to_string();
    let mut expected = upcoming.clone();
    expected.push(shown_holding.clone());
    assert_eq!(
        ids, expected,
        "every upcoming one, soonest first, then the waiting list"
    );
    assert!(holding.contains(&shown_holding));
    for id in &past {
        assert!(!html.contains(id.as_str()), "no past one on the list: {id}");
    }
    assert!(
        html.contains(&format!(
            "You have {} past or cancelled appointments.",
            past.len()
        )),
        "{html}"
    );
    assert_eq!(
        link_to(&html, "Show past and cancelled appointments").as_deref(),
        Some("/patient-portal/appointments?past=1")
    );
}

#[tokio::test]
async fn past_appointments_are_in_short_pages_newest_first_none_twice_none_lost() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let (upcoming, _, past) = in_the_pas(&t, ADULT).await;

    let pages = walk_past(&mut c).await;
    assert!(pages.len() >= 2, "{pages:?}");
    for (uri, ids) in &pages {
        assert!(
            !ids.is_empty() && ids.len() <= PAST_PER_PAGE,
            "{uri}: {ids:?}"
        );
        assert!(
            ids.iter().all(|id| !upcoming.contains(id)),
            "{uri}: only past ones"
        );
    }
    let walked: Vec<String> = pages.iter().flat_map(|(_, ids)| ids.clone()).collect();
    assert_eq!(walked, past, "each past one once, newest first");
    assert_eq!(
        walked.iter().collect::<BTreeSet<_>>().len(),
        walked.len(),
        "none on two pages"
    );

    // "Show more recent" from the last page leads back through the very same pages; the first
    // has none, and links back to the upcoming ones instead.
    let mut at = pages.last().unwrap().0.clone();
    for (uri, ids) in pages.iter().rev() {
        let (html, again) = page(&mut c, &at).await;
        assert_eq!(&again, ids, "{uri} from {at}");
        assert!(html.contains("View your upcoming appointments"));
        match rel_link(&html, "prev") {
            Some(prev) => at = prev,
            None => assert_eq!(uri, &pages[0].0),
        }
    }
    let (first, _) = page(&mut c, &pages[0].0).await;
    assert!(first.contains("Show earlier appointments"), "{first}");
    assert!(
        first.contains(&format!("(page 1 of {})", pages.len())),
        "{first}"
    );
    assert_eq!(
        link_to(&first, "View your upcoming appointments").as_deref(),
        Some(LIST)
    );

    // A page's address is a page like any other: signing in from it returns to it.
    let mut later = t.client();
    let res = later.sign_in_at(&pages[1].0, ADULT).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        card_ids(&body_text(&res)),
        pages[1].1,
        "back on {}",
        pages[1].0
    );
}

#[tokio::test]
async fn a_page_beyond_the_last_is_the_last_and_a_bad_one_gets_a_clear_page() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let pages = walk_past(&mut c).await;
    let (_, last) = pages.last().unwrap();
    for beyond in ["past=999", "past=000999"] {
        let (_, ids) = page(&mut c, &format!("{LIST}?{beyond}")).await;
        assert_eq!(&ids, last, "{beyond}");
    }
    let (_, first) = page(&mut c, &format!("{LIST}?past=0")).await;
    assert_eq!(first, pages[0].1);
    // Other parameters are not the list's: ignored.
    let (_, list) = page(&mut c, LIST).await;
    let (_, ignored) = page(&mut c, &format!("{LIST}?utm_source=letter")).await;
    assert_eq!(ignored, list);

    for bad in [
        "past=",
        "past=two",
        "past=-1",
        "past=%2B2",
        "past=1.5",
        "past=1e3",
        "past=1000000",
        "past=1&past=2",
        "past=2&past=2",
    ] {
        let res = c.get(&format!("{LIST}?{bad}")).await;
        let html = body_text(&res);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}: {html}");
        assert!(html.contains(REFUSED), "{bad}");
        assert!(html.contains("nhsuk-"), "an NHS-styled page: {bad}");
        assert_eq!(
            link_to(&html, "View your hospital appointments").as_deref(),
            Some(LIST),
            "the way back: {bad}"
        );
        assert!(card_ids(&html).is_empty(), "no appointments: {bad}");
    }
}

#[tokio::test]
async fn another_patients_cookie_jar_sees_only_their_own() {
    let t = TestPortal::start().await;
    let mut owner = signed_in(&t, ADULT).await;
    let owners: Vec<String> = walk_past(&mut owner)
        .await
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    let (_, _, own_past) = in_the_pas(&t, ADULT).await;
    assert_eq!(owners, own_past);
    let pages: Vec<String> = (1..=3).map(|n| format!("{LIST}?past={n}")).collect();

    let mut other = signed_in(&t, SECOND_ADULT).await;
    let (_, _, theirs) = in_the_pas(&t, SECOND_ADULT).await;
    assert!(
        !theirs.is_empty(),
        "the second adult has a past appointment"
    );
    for uri in pages
        .iter()
        .chain([&format!("{LIST}?past=999"), &LIST.to_owned()])
    {
        let (html, ids) = page(&mut other, uri).await;
        for id in &owners {
            assert!(!html.contains(id.as_str()), "{uri}: none of the owner's");
        }
        if uri != LIST {
            assert_eq!(ids, theirs, "{uri}: their own past ones");
        }
    }

    // Signed out, the addresses go to sign-in first (a bad page too: nothing is answered
    // before the session gate).
    let mut nobody = t.client();
    for uri in [format!("{LIST}?past=2"), format!("{LIST}?past=two")] {
        let res = nobody.get(&uri).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{uri}");
        let to = location(&res).unwrap_or_default();
        assert!(!to.starts_with(LIST), "{uri} to sign-in, not {to}");
    }
}
