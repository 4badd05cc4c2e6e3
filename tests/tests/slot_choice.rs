//! Choosing a new time in short pages, driven from outside through the running demo portal: the
//! real-time trust's free slots, soonest first, a few days a page, with "Earlier dates" and
//! "Later dates" as plain links and the trust's filters (morning or afternoon, site) as a GET
//! form. Walking the pages shows every slot the PAS offers exactly once; filters narrow and
//! compose and stay on the links; a page or filter that is not the offer's gets a clear page.
//! The appointment stays as it is until the patient confirms, a slot from a later page is
//! booked when still offered, a slot nobody offered is refused, and another patient's cookie
//! jar gets the "cannot view" page for every such URL.

use std::collections::BTreeSet;

use chrono::{Duration, Timelike};
use http::StatusCode;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_core::slot_choice::SlotFilters;
use nhs_portal_core::{AppointmentId, OdsCode, uk_time};
use nhs_portal_pas::demo::{self, ADULT, SECOND_ADULT};
use nhs_portal_pas::{PasBackend, Slot};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};

const REFUSED: &str = "These dates and times cannot be shown";

/// The most slots, and UK days, a page may show.
const MOST_SLOTS: usize = 12;
const MOST_DAYS: usize = 3;

fn derm() -> AppointmentId {
    demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY)
}

fn base() -> String {
    format!("/patient-portal/appointment/{}", derm())
}

fn slots_path() -> String {
    format!("{}/reschedule", base())
}

/// HTML attribute text back to what it says (handlebars escapes `=` as well).
fn unescape(s: &str) -> String {
    s.replace("&#x3D;", "=")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// The values of the inputs named `name` on a page, in page order.
fn inputs(html: &str, name: &str) -> Vec<String> {
    let wanted = format!("name=\"{name}\"");
    html.match_indices("<input")
        .filter_map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>')?];
            if !tag.contains(&wanted) {
                return None;
            }
            let start = tag.find("value=\"")? + "value=\"".len();
            tag[start..].split('"').next().map(unescape)
        })
        .collect()
}

/// The `href` of the link marked `rel="{rel}"` (the pagination's).
fn rel_link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\"");
    let at = html.find(&marker)?;
    let before = &html[..at];
    let start = before.rfind("href=\"")? + "href=\"".len();
    before[start..].split('"').next().map(unescape)
}

/// How many day headings a page of slots has (in the slot form's fieldset, the page's first).
fn day_headings(html: &str) -> usize {
    let fieldset = &html[..html.find("</fieldset>").unwrap_or(0)];
    fieldset.matches("<h2 ").count()
}

async fn signed_in(t: &TestPortal, patient: &str) -> Client {
    let mut c = t.client();
    c.sign_in_as(patient).await;
    c
}

/// What the PAS offers for the dermatology appointment now, soonest first.
async fn offered(t: &TestPortal) -> Vec<Slot> {
    let a = t.demo.pas.inspect_appointment(&derm()).expect("in the PAS");
    let now = t.now();
    let mut slots = t
        .demo
        .pas
        .find_slots(
            &a,
            now,
            now + Duration::days(nhs_portal_pas::BOOKING_HORIZON_DAYS),
        )
        .await
        .expect("slots");
    slots.sort_by_key(|s| s.start);
    slots
}

/// A page that shows slots: 200, and its slot ids.
async fn page(c: &mut Client, uri: &str) -> (String, Vec<String>) {
    let res = c.get(uri).await;
    let html = body_text(&res);
    assert_eq!(res.status(), StatusCode::OK, "{uri}: {html}");
    let ids = inputs(&html, "slot");
    assert!(ids.len() <= MOST_SLOTS, "{uri}: {} slots", ids.len());
    assert!(day_headings(&html) <= MOST_DAYS, "{uri}");
    (html, ids)
}

/// Follows "Later dates" from `first` to the end; every page's ids, in order.
async fn walk_forward(c: &mut Client, first: &str) -> Vec<(String, Vec<String>)> {
    let mut pages = Vec::new();
    let mut at = Some(first.to_owned());
    while let Some(uri) = at {
        let (html, ids) = page(c, &uri).await;
        at = rel_link(&html, "next");
        pages.push((uri, ids));
        assert!(pages.len() < 50, "the pages end");
    }
    pages
}

#[tokio::test]
async fn later_and_earlier_dates_show_every_free_slot_once_soonest_first() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let offer = offered(&t).await;
    assert!(
        offer.len() > 2 * MOST_SLOTS,
        "the demo offers weeks of slots"
    );

    let pages = walk_forward(&mut c, &slots_path()).await;
    assert!(pages.len() > 2, "{} pages", pages.len());
    let shown: Vec<String> = pages.iter().flat_map(|(_, ids)| ids.clone()).collect();
    let expected: Vec<String> = offer.iter().map(|s| s.id.clone()).collect();
    assert_eq!(shown, expected, "each offered slot once, in start order");
    assert_eq!(
        pages[0].1[0], offer[0].id,
        "the first page starts with the soonest"
    );

    // The first page has no "Earlier dates"; "Earlier dates" from the last leads back through
    // the very same pages.
    let (first_html, _) = page(&mut c, &pages[0].0).await;
    assert!(rel_link(&first_html, "prev").is_none());
    let mut at = pages.last().unwrap().0.clone();
    for (uri, ids) in pages.iter().rev() {
        let (html, again) = page(&mut c, &at).await;
        assert_eq!(&again, ids, "{uri} from {at}");
        match rel_link(&html, "prev") {
            Some(prev) => at = prev,
            None => assert_eq!(uri, &pages[0].0),
        }
    }

    // The links name the dates they lead to, and the page says which it is.
    assert!(first_html.contains("Later dates"), "{first_html}");
    assert!(
        first_html.contains(&format!("(page 1 of {})", pages.len())),
        "{first_html}"
    );

    // A page number beyond the last is the last page (a link gone stale).
    let (_, beyond) = page(&mut c, &format!("{}?page=999", slots_path())).await;
    assert_eq!(&beyond, &pages.last().unwrap().1);
}

#[tokio::test]
async fn filters_narrow_compose_and_stay_on_the_links() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let offer = offered(&t).await;
    let (html, _) = page(&mut c, &slots_path()).await;
    // The demo's real-time trust offers time of day and site, not clinician.
    assert_eq!(inputs(&html, "time"), ["", "morning", "afternoon"]);
    let sites = inputs(&html, "site");
    assert_eq!(sites.len(), 3, "any, and the two sites: {sites:?}");
    assert!(inputs(&html, "clinician").is_empty());
    assert!(
        html.contains("<form method=\"get\""),
        "filters are a GET form"
    );

    let uk_hour = |s: &Slot| uk_time::to_uk(s.start).hour();
    let morning: Vec<String> = offer
        .iter()
        .filter(|s| uk_hour(s) < 12)
        .map(|s| s.id.clone())
        .collect();
    let pages = walk_forward(&mut c, &format!("{}?time=morning", slots_path())).await;
    for (uri, _) in &pages[1..] {
        assert!(uri.contains("time=morning"), "kept on the links: {uri}");
    }
    let shown: Vec<String> = pages.iter().flat_map(|(_, ids)| ids.clone()).collect();
    assert_eq!(shown, morning);

    // Each site: only its slots; together the sites are the whole offer.
    let mut by_site = BTreeSet::new();
    for site in &sites[1..] {
        let pages = walk_forward(&mut c, &format!("{}?site={site}", slots_path())).await;
        let ids: Vec<String> = pages.iter().flat_map(|(_, ids)| ids.clone()).collect();
        assert!(!ids.is_empty(), "{site}");
        for id in ids {
            assert!(by_site.insert(id), "a slot at one site only");
        }
    }
    assert_eq!(
        by_site,
        offer.iter().map(|s| s.id.clone()).collect::<BTreeSet<_>>()
    );

    // Composed: morning at a site is exactly the morning slots at that site; over the sites,
    // every morning slot. Where nothing matches both, the page says so plainly.
    let mut morning_anywhere = BTreeSet::new();
    for site in &sites[1..] {
        let site_only: BTreeSet<String> =
            walk_forward(&mut c, &format!("{}?site={site}", slots_path()))
                .await
                .into_iter()
                .flat_map(|(_, ids)| ids)
                .collect();
        let uri = format!("{}?time=morning&site={site}", slots_path());
        let both: Vec<String> = walk_forward(&mut c, &uri)
            .await
            .into_iter()
            .flat_map(|(_, ids)| ids)
            .collect();
        let expected: Vec<String> = morning
            .iter()
            .filter(|id| site_only.contains(*id))
            .cloned()
            .collect();
        assert_eq!(both, expected, "{site}");
        if both.is_empty() {
            let html = body_text(&c.get(&uri).await);
            assert!(html.contains("No times match what you chose"), "{html}");
            assert!(html.contains("Show all available times"), "{html}");
        }
        morning_anywhere.extend(both);
    }
    assert_eq!(
        morning_anywhere,
        morning.iter().cloned().collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn a_page_or_filter_that_is_not_the_offers_gets_a_clear_page() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    for query in [
        "page=two",
        "page=-1",
        "page=",
        "page=1&page=2",
        "time=evening",
        "site=the-moon",
        "site=Ashgrove%20Community%20Diagnostic%20Centre",
        // The demo's real-time trust does not offer the clinician filter.
        "clinician=dr-laila-ahmed",
    ] {
        let res = c.get(&format!("{}?{query}", slots_path())).await;
        let html = body_text(&res);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}: {html}");
        assert!(html.contains(REFUSED), "{query}");
        assert!(
            html.contains(&format!("href=\"{}\"", slots_path())),
            "the way to the first page: {query}"
        );
        assert!(inputs(&html, "slot").is_empty(), "{query}");
    }
}

#[tokio::test]
async fn a_trust_that_allows_the_clinician_filter_offers_it() {
    let t = TestPortal::start().await;
    let ods = OdsCode::parse(demo::REAL_TIME_TRUST_ODS).unwrap();
    assert!(t.demo.pas.set_capabilities(
        &ods,
        Capabilities::REAL_TIME.with_slot_filters(SlotFilters::ALL)
    ));
    let mut c = signed_in(&t, ADULT).await;
    let offer = offered(&t).await;
    let (html, _) = page(&mut c, &slots_path()).await;
    let clinicians = inputs(&html, "clinician");
    assert_eq!(
        clinicians.len(),
        3,
        "any, and the two clinicians: {clinicians:?}"
    );
    let pages = walk_forward(
        &mut c,
        &format!("{}?clinician={}", slots_path(), clinicians[1]),
    )
    .await;
    let shown: Vec<String> = pages.into_iter().flat_map(|(_, ids)| ids).collect();
    let expected: Vec<String> = offer
        .iter()
        .filter(|s| {
            s.clinician
                .as_deref()
                .map(nhs_portal_core::slot_choice::value_of)
                == Some(clinicians[1].clone())
        })
        .map(|s| s.id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(shown, expected);

    // With no filters allowed, none is shown and each is refused.
    assert!(t.demo.pas.set_capabilities(&ods, Capabilities::REAL_TIME));
    let (html, _) = page(&mut c, &slots_path()).await;
    assert!(!html.contains("<form method=\"get\""), "{html}");
    let res = c.get(&format!("{}?time=morning", slots_path())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Chooses `slot` on the slots page at `uri` and returns the check page's path.
async fn choose(c: &mut Client, uri: &str, slot: &str) -> String {
    let html = body_text(&c.get(uri).await);
    let csrf = csrf_token(&html).expect("the slot form's CSRF token");
    let res = c
        .post_form(uri, &[("slot", slot), ("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    location(&res).expect("to the check page")
}

#[tokio::test]
async fn a_slot_from_a_later_page_is_booked_only_at_confirm() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let before = t.demo.pas.inspect_appointment(&derm()).unwrap();
    let pages = walk_forward(&mut c, &format!("{}?time=afternoon", slots_path())).await;
    assert!(pages.len() >= 3);
    let (uri, ids) = &pages[2];
    let slot = ids.last().unwrap().clone();
    let start = offered(&t)
        .await
        .into_iter()
        .find(|s| s.id == slot)
        .unwrap()
        .start;

    // Submitting the form with nothing chosen keeps the page and its filters.
    let html = body_text(&c.get(uri).await);
    let csrf = csrf_token(&html).unwrap();
    let res = c.post_form(uri, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = body_text(&res);
    assert!(again.contains("Select a new date and time"));
    assert_eq!(inputs(&again, "slot"), *ids, "the same page again");

    let check = choose(&mut c, uri, &slot).await;
    assert!(check.contains("/reschedule/check?slot="), "{check}");
    let html = body_text(&c.get(&check).await);
    assert!(
        html.contains(&uk_time::format_date(start)) && html.contains(&uk_time::format_time(start)),
        "the chosen time: {html}"
    );
    // Chosen and checked, not confirmed: the appointment is as it was.
    assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);

    let form = Client::confirm_form(&html);
    let res = c
        .post_pairs(&format!("{}/reschedule/check", base()), &form)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let done = location(&res).unwrap();
    assert!(done.ends_with("/reschedule/done"), "{done}");
    let new_id = done
        .trim_end_matches("/reschedule/done")
        .rsplit('/')
        .next()
        .unwrap();
    let moved = t
        .demo
        .pas
        .inspect_appointment(&AppointmentId::parse(new_id).unwrap())
        .unwrap();
    assert_eq!(moved.start, start, "booked into the slot from page 3");
    assert!(!offered(&t).await.iter().any(|s| s.id == slot), "taken now");
}

#[tokio::test]
async fn a_slot_nobody_offered_is_refused_and_nothing_changes() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let before = t.demo.pas.inspect_appointment(&derm()).unwrap();
    let (_, ids) = page(&mut c, &slots_path()).await;
    let check = choose(&mut c, &slots_path(), &ids[0]).await;
    let html = body_text(&c.get(&check).await);
    let mut form = Client::confirm_form(&html);

    // Forged: an id nobody offered, and another specialty's real slot id shape.
    for forged in [
        "slot-nobody-offered".to_owned(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        for (k, v) in &mut form {
            if k == "slot" {
                v.clone_from(&forged);
            }
        }
        let res = c
            .post_pairs(&format!("{}/reschedule/check", base()), &form)
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{forged}");
        assert_eq!(
            location(&res).as_deref(),
            Some(format!("{}?taken=1", slots_path()).as_str()),
            "{forged}"
        );
        assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);
        // The check page for it too: back to choose.
        let res = c
            .get(&format!("{}/reschedule/check?slot={forged}", base()))
            .await;
        assert_eq!(
            location(&res).as_deref(),
            Some(format!("{}?taken=1", slots_path()).as_str())
        );
    }
    let res = c.get(&format!("{}?taken=1", slots_path())).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(&res);
    assert!(html.contains("no longer available"), "{html}");
    assert_eq!(inputs(&html, "slot"), ids, "the first page again");
    assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);
}

#[tokio::test]
async fn another_patients_cookie_jar_cannot_use_the_urls() {
    let t = TestPortal::start().await;
    let mut owner = signed_in(&t, ADULT).await;
    let before = t.demo.pas.inspect_appointment(&derm()).unwrap();
    let pages = walk_forward(&mut owner, &format!("{}?time=morning", slots_path())).await;
    let (later, ids) = &pages[1];

    let mut other = signed_in(&t, SECOND_ADULT).await;
    let unknown = format!(
        "/patient-portal/appointment/{}/reschedule?page=2",
        AppointmentId::new_random()
    );
    let reference = other.get(&unknown).await;
    assert_eq!(reference.status(), StatusCode::NOT_FOUND);
    let reference = body_text(&reference);
    assert!(reference.contains("You cannot view this appointment"));
    for uri in [
        later.clone(),
        format!("{}?page=two", slots_path()),
        format!("{}?site=the-moon", slots_path()),
        format!("{}/reschedule/check?slot={}", base(), ids[0]),
    ] {
        let res = other.get(&uri).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body_text(&res), reference, "{uri}");
    }
    // Posting the owner's slot with the other patient's own CSRF token.
    let list = body_text(&other.get("/patient-portal/appointments").await);
    let csrf = csrf_token(&list).unwrap();
    for (uri, form) in [
        (
            later.clone(),
            vec![("slot", ids[0].as_str()), ("csrf_token", &csrf)],
        ),
        (
            format!("{}/reschedule/check", base()),
            vec![
                ("slot", ids[0].as_str()),
                ("csrf_token", &csrf),
                ("idempotency_key", "k-other-1"),
            ],
        ),
    ] {
        let res = other.post_form(&uri, &form).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body_text(&res), reference, "{uri}");
    }
    assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);
}

/// The `href` of the link of class `class` (the first), unescaped.
fn link_of_class(html: &str, class: &str) -> Option<String> {
    let at = html.find(&format!("class=\"{class}\" href=\""))?;
    let start = at + format!("class=\"{class}\" href=\"").len();
    html[start..].split('"').next().map(unescape)
}

/// The query parameters of an address, decoded, in order.
fn params(uri: &str) -> Vec<(String, String)> {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Whether the filter radio `name` with `value` is checked on a slot page.
fn filter_checked(html: &str, name: &str, value: &str) -> bool {
    html.match_indices("<input").any(|(at, _)| {
        let tag = &html[at..at + html[at..].find('>').unwrap_or(0)];
        tag.contains(&format!("name=\"{name}\""))
            && tag.contains(&format!("value=\"{value}\""))
            && tag.contains(" checked")
    })
}

/// Books `slot` for another appointment of the same clinic, as if someone else took it.
async fn someone_else_takes(t: &TestPortal, slot: &str) {
    let mut other = t.demo.pas.inspect_appointment(&derm()).unwrap();
    other.id = AppointmentId::new_random();
    other.patient = demo::nhs_number(SECOND_ADULT);
    t.demo.pas.add_appointment(other.clone());
    t.demo
        .pas
        .reschedule(&other, slot)
        .await
        .expect("the other booking takes the slot");
    assert!(!offered(t).await.iter().any(|s| s.id == slot), "taken");
}

#[tokio::test]
async fn the_check_pages_change_and_back_links_keep_the_page_and_filters() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let (html, _) = page(&mut c, &slots_path()).await;
    let site = inputs(&html, "site")[1].clone();
    let afternoon = walk_forward(&mut c, &format!("{}?time=afternoon", slots_path())).await;
    assert!(afternoon.len() >= 2);
    // (the slot page a slot is chosen on, the parameters its "Change" link carries)
    let cases = [
        (
            afternoon[1].0.clone(),
            vec![("time", "afternoon"), ("page", "2")],
        ),
        (
            format!("{}?site={site}", slots_path()),
            vec![("site", &site)],
        ),
        (slots_path(), vec![]),
    ];
    for (uri, want) in cases {
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (_, ids) = page(&mut c, &uri).await;
        let check = choose(&mut c, &uri, &ids[0]).await;
        let carried: Vec<(String, String)> = params(&check)
            .into_iter()
            .filter(|(k, _)| k != "slot")
            .collect();
        assert_eq!(carried, want, "{uri} to {check}");

        let html = body_text(&c.get(&check).await);
        let change = link_of_class(&html, "nhsuk-link").expect("the Change link");
        assert!(change.starts_with(&slots_path()), "{change}");
        assert_eq!(params(&change), want, "{uri}: the Change link {change}");
        let back = link_of_class(&html, "nhsuk-back-link").expect("the back link in a browser");
        assert_eq!(back, change, "{uri}");

        // Followed: the very page the slot was chosen on, its filters applied.
        let (again, again_ids) = page(&mut c, &change).await;
        assert_eq!(again_ids, ids, "{uri}: the same page again");
        for (k, v) in &want {
            if k != "page" {
                assert!(filter_checked(&again, k, v), "{uri}: {k}={v} still chosen");
            }
        }
    }
}

#[tokio::test]
async fn a_slot_taken_in_between_leads_back_to_its_page_and_filters() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let before = t.demo.pas.inspect_appointment(&derm()).unwrap();
    let afternoon = walk_forward(&mut c, &format!("{}?time=afternoon", slots_path())).await;
    let (uri, ids) = afternoon[1].clone();
    let want = vec![
        ("time".to_owned(), "afternoon".to_owned()),
        ("page".to_owned(), "2".to_owned()),
        ("taken".to_owned(), "1".to_owned()),
    ];

    // Taken between choosing and the check page.
    let check = choose(&mut c, &uri, &ids[0]).await;
    someone_else_takes(&t, &ids[0]).await;
    let res = c.get(&check).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let taken = location(&res).unwrap();
    assert!(taken.starts_with(&slots_path()), "{taken}");
    assert_eq!(params(&taken), want, "{taken}");
    let res = c.get(&taken).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(&res);
    assert!(html.contains("no longer available"), "{html}");
    assert!(
        filter_checked(&html, "time", "afternoon"),
        "still afternoons"
    );
    let shown = inputs(&html, "slot");
    assert!(!shown.contains(&ids[0]));
    let afternoons: BTreeSet<String> = offered(&t)
        .await
        .iter()
        .filter(|s| uk_time::to_uk(s.start).hour() >= 12)
        .map(|s| s.id.clone())
        .collect();
    assert!(shown.iter().all(|id| afternoons.contains(id)), "{shown:?}");

    // Taken between the check page and the confirm.
    let check = choose(&mut c, &uri, &ids[1]).await;
    let html = body_text(&c.get(&check).await);
    let form = Client::confirm_form(&html);
    let action = unescape(
        html.split("action=\"")
            .map(|s| s.split('"').next().unwrap_or(""))
            .find(|a| a.contains("/reschedule/check"))
            .expect("the confirm form"),
    );
    assert_eq!(
        params(&action),
        want[..2].to_vec(),
        "the confirm carries them"
    );
    someone_else_takes(&t, &ids[1]).await;
    let res = c.post_pairs(&action, &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let taken = location(&res).unwrap();
    assert_eq!(params(&taken), want, "{taken}");
    let html = body_text(&c.get(&taken).await);
    assert!(html.contains("no longer available"), "{html}");
    assert!(filter_checked(&html, "time", "afternoon"));
    assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);
}

#[tokio::test]
async fn forged_filters_on_the_carried_links_still_get_the_refusal() {
    let t = TestPortal::start().await;
    let mut c = signed_in(&t, ADULT).await;
    let before = t.demo.pas.inspect_appointment(&derm()).unwrap();
    let (_, ids) = page(&mut c, &slots_path()).await;
    let check = format!("{}/reschedule/check?slot={}", base(), ids[0]);
    for forged in [
        "time=evening",
        "site=the-moon",
        "page=two",
        "page=1&page=2",
        "clinician=dr-laila-ahmed",
    ] {
        // The check page checks them as the slot page does.
        let res = c.get(&format!("{check}&{forged}")).await;
        let html = body_text(&res);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{forged}: {html}");
        assert!(html.contains(REFUSED), "{forged}");
        assert!(
            html.contains(&format!("href=\"{}\"", slots_path())),
            "{forged}"
        );

        // A confirm posted with them, for a slot nobody offered: back to the slot page with
        // them, and that page refuses them.
        let html = body_text(&c.get(&check).await);
        let mut form = Client::confirm_form(&html);
        for (k, v) in &mut form {
            if k == "slot" {
                *v = "slot-nobody-offered".into();
            }
        }
        let res = c
            .post_pairs(&format!("{}/reschedule/check?{forged}", base()), &form)
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{forged}");
        let back = location(&res).unwrap();
        assert!(back.starts_with(&slots_path()), "{forged}: {back}");
        let res = c.get(&back).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{forged}: {back}");
        assert!(body_text(&res).contains(REFUSED));
    }
    assert_eq!(t.demo.pas.inspect_appointment(&derm()).unwrap(), before);

    // Another patient's cookie jar gets "cannot view" for the carried addresses too.
    let mut other = signed_in(&t, SECOND_ADULT).await;
    for uri in [
        format!("{check}&time=afternoon&page=2"),
        format!("{}?time=afternoon&page=2&taken=1", slots_path()),
    ] {
        let res = other.get(&uri).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(body_text(&res).contains("You cannot view this appointment"));
    }
}
