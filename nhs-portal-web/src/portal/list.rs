//! The list of the patient's appointments: every upcoming one and every place on a waiting list
//! at `/patient-portal/appointments`; the past and cancelled ones, which only grow, in short
//! pages of their own at `/patient-portal/appointments?past=N`, newest first, with "Show more
//! recent" and "Show earlier appointments" as plain links (no JavaScript). Which appointments a
//! page shows is `nhs_portal_core::paging`'s rule; a `past` parameter that is not a page number
//! (or is given twice) gets a 400 page with the way back to the list, a page beyond the last is
//! the last.
//!
//! So no page of the list is more than about five phone screens tall at 320 px for the demo
//! patients: with the past appointments under the upcoming ones on one page, the demo adult's
//! list was over 3,200 px in a browser.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use nhs_portal_core::Appointment;
use nhs_portal_core::paging::{PAST_PARAM, PageError, Pages, past_page, past_query, single};
use nhs_portal_core::store::PatientSession;
use nhs_portal_core::uk_time;

use super::Inner;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::{AppointmentList, Link, Message, PageLink, Pagination, PastAppointments};
use crate::http_kit::{self, Form};
use crate::pages::CardModel;

/// The list's own address.
const LIST: &str = "/patient-portal/appointments";

/// The page for a `past` parameter that is not a page of the list.
const NOT_A_PAGE: Message = Message::new(&[
    "The web address may be wrong. Go back to your appointments and choose from there.",
])
.link(Link::to_appointments("View your hospital appointments"))
.calm();

/// The page of past appointments the query asks for: `None` for the list itself.
fn past_asked(query: Option<&str>) -> Result<Option<String>, PageError> {
    let form = Form::query(query);
    Ok(single(form.all(PAST_PARAM))?.map(str::to_owned))
}

/// The UK dates the appointments at `indexes` cover, oldest to newest.
fn dates_of(past: &[Appointment], indexes: &[usize]) -> Option<String> {
    let starts = indexes.iter().filter_map(|&i| past.get(i)).map(|a| a.start);
    let first: DateTime<Utc> = starts.clone().min()?;
    Some(uk_time::format_date_range(first, starts.max()?))
}

/// "Show more recent" and "Show earlier appointments", each named by the dates it leads to.
fn pagination(past: &[Appointment], page: &Pages) -> Pagination {
    let link = |title, to: Option<(usize, &[usize])>| {
        let (number, indexes) = to?;
        Some(PageLink {
            dates: dates_of(past, indexes)?,
            href: http_kit::with_query(LIST, &past_query(number)),
            title,
        })
    };
    Pagination {
        label: "More appointments",
        previous: link("Show more recent", page.previous()),
        next: link("Show earlier appointments", page.next()),
    }
}

/// "1 past or cancelled appointment", "4 past or cancelled appointments".
fn past_count(n: usize) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 past or cancelled appointment".to_owned()),
        n => Some(format!("{n} past or cancelled appointments")),
    }
}

impl Inner {
    /// `GET /patient-portal/appointments`, and its pages of past appointments (`?past=N`).
    pub(super) async fn appointments(&self, ctx: &Ctx, req: &Request<Bytes>) -> Response<Bytes> {
        let session = match self.patient(ctx, req).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        let asked = match past_asked(ctx.query.as_deref()) {
            Ok(asked) => asked,
            Err(e) => return self.not_a_page(ctx, &session, e),
        };
        let lists = match self.journeys.appointment_lists(&session).await {
            Ok(lists) => lists,
            Err(e) => return self.journey_error(ctx, &session, None, e),
        };
        let Some(asked) = asked else {
            let upcoming_count = match lists.upcoming.len() {
                1 => "1 upcoming appointment".to_owned(),
                n => format!("{n} upcoming appointments"),
            };
            let body = AppointmentList {
                upcoming: lists.upcoming.iter().map(CardModel::of).collect(),
                upcoming_count,
                waiting_list: lists
                    .waiting_list
                    .iter()
                    .map(CardModel::waiting_list)
                    .collect(),
                past_count: past_count(lists.past.len()),
                past_href: http_kit::with_query(LIST, &past_query(1)),
            };
            return self.page(
                ctx,
                Some(&session),
                StatusCode::OK,
                "appointments",
                "Your hospital appointments",
                &body,
                PageOpts::default(),
            );
        };
        let starts: Vec<DateTime<Utc>> = lists.past.iter().map(|a| a.start).collect();
        let page = match past_page(&starts, Some(&asked)) {
            Ok(page) => page,
            Err(e) => return self.not_a_page(ctx, &session, e),
        };
        let showing = if page.count() > 1 {
            format!("Newest first (page {} of {}).", page.number(), page.count())
        } else {
            "Newest first.".to_owned()
        };
        let body = PastAppointments {
            past: page
                .shown()
                .iter()
                .filter_map(|&i| lists.past.get(i))
                .map(CardModel::of)
                .collect(),
            pagination: pagination(&lists.past, &page),
            showing,
            appointments_href: LIST,
        };
        self.page(
            ctx,
            Some(&session),
            StatusCode::OK,
            "past_appointments",
            "Past and cancelled appointments",
            &body,
            PageOpts::step(LIST.to_owned(), false),
        )
    }

    /// A `past` parameter that is not a page: 400, and the way back to the list.
    fn not_a_page(&self, ctx: &Ctx, session: &PatientSession, e: PageError) -> Response<Bytes> {
        tracing::info!(error = %e, "appointment list page refused");
        self.message(
            ctx,
            Some(session),
            StatusCode::BAD_REQUEST,
            "These appointments cannot be shown",
            &NOT_A_PAGE,
            PageOpts::step(LIST.to_owned(), false),
        )
    }
}
