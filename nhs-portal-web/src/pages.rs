//! Page rendering: handlebars templates (strict mode, embedded in the binary) on the NHS.UK
//! frontend 10 and NHS App frontend 5 markup, and the view models the templates read.
//!
//! The registry is built once ([`Pages::new`]) and start-up fails if a template does not parse.
//! Strict mode turns a missing value into a render error, so template and model cannot drift
//! apart silently. Nothing is rendered with triple braces: every value is HTML-escaped.
//!
//! A page is rendered in two steps ([`Pages::render_page`]): its own template (the body) with the
//! page's model, then the frame (`layout.hbs`) once around the rendered body with only the
//! frame's values. Partials are called with an explicit context (`{{> summary a}}`), never the
//! whole current one: handlebars copies a partial's context for every call, so a frame or a
//! partial that took the page's whole model would copy all of it each time.
//!
//! About 500 lines, a fifth of them tests: the registry and the view models several pages
//! share (summary, card, tag) stay beside each other; the frame is in `frame`.

use chrono::{DateTime, Utc};
use handlebars::{Handlebars, handlebars_helper};
use nhs_portal_core::request_status::{Tone, display_status};
use nhs_portal_core::{Appointment, uk_time};
use serde::Serialize;

mod frame;

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// A template did not parse (a programming error caught at start-up).
    #[error("template {name} does not parse")]
    Template {
        /// The template's name.
        name: &'static str,
        /// The parser's error.
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    /// Rendering failed (in strict mode: the view model lacks a value the template reads).
    #[error("rendering failed")]
    Render(#[from] Box<handlebars::RenderError>),
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../templates/layout.hbs")),
    ("summary", include_str!("../templates/partials_summary.hbs")),
    ("tag", include_str!("../templates/partials_tag.hbs")),
    ("errors", include_str!("../templates/partials_errors.hbs")),
    ("card", include_str!("../templates/card.hbs")),
    (
        "pagination",
        include_str!("../templates/partials_pagination.hbs"),
    ),
    (
        "details_field",
        include_str!("../templates/details_field.hbs"),
    ),
    ("landing", include_str!("../templates/landing.hbs")),
    (
        "appointments",
        include_str!("../templates/appointments.hbs"),
    ),
    (
        "past_appointments",
        include_str!("../templates/past_appointments.hbs"),
    ),
    ("appointment", include_str!("../templates/appointment.hbs")),
    ("reason_form", include_str!("../templates/reason_form.hbs")),
    ("check", include_str!("../templates/check.hbs")),
    (
        "still_needed",
        include_str!("../templates/still_needed.hbs"),
    ),
    (
        "contact_hospital",
        include_str!("../templates/contact_hospital.hbs"),
    ),
    ("slots", include_str!("../templates/slots.hbs")),
    ("done", include_str!("../templates/done.hbs")),
    ("message", include_str!("../templates/message.hbs")),
    ("consent", include_str!("../templates/consent.hbs")),
    ("staff", include_str!("../templates/staff.hbs")),
    (
        "waiting_list",
        include_str!("../templates/waiting_list.hbs"),
    ),
];

/// The one rule for a page's `<title>`: "Error: " when the page shows errors, then the page's
/// heading, the service name and "NHS", each once. A page whose heading is the service name (the
/// landing page) does not repeat it.
pub fn document_title(heading: &str, service_name: &str, has_errors: bool) -> String {
    let error = if has_errors { "Error: " } else { "" };
    if heading == service_name {
        format!("{error}{service_name} – NHS")
    } else {
        format!("{error}{heading} – {service_name} – NHS")
    }
}

/// The `document_title` template helper, over [`document_title`].
mod helpers {
    use super::{document_title, handlebars_helper};
    handlebars_helper!(title_helper: |heading: str, service_name: str, has_errors: bool|
        document_title(heading, service_name, has_errors));
}

/// The template registry.
#[derive(Debug)]
pub struct Pages {
    hb: Handlebars<'static>,
}

impl Pages {
    /// Builds the registry from the embedded templates, in strict mode.
    pub fn new() -> Result<Self, PageError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_helper("document_title", Box::new(helpers::title_helper));
        hb.register_helper("page_body", Box::new(frame::PageBody));
        for (name, source) in TEMPLATES {
            hb.register_template_string(name, *source)
                .map_err(|e| PageError::Template {
                    name,
                    source: Box::new(e),
                })?;
        }
        Ok(Self { hb })
    }

    /// Renders the page `name` in the frame: first its own template with `layout` and `body` (as
    /// [`Page`]: the templates read `layout.title` or `layout.csrf_token` beside the body's
    /// fields), then the frame once around that, with `layout` alone. `layout` is a [`Layout`]
    /// (anything that serialises as one will do).
    pub fn render_page(
        &self,
        name: &str,
        layout: &impl Serialize,
        body: &impl Serialize,
    ) -> Result<String, PageError> {
        let rendered_body = self.render(name, &Page { layout, body })?;
        self.render(
            frame::FRAME,
            &frame::Frame {
                layout,
                rendered_body: &rendered_body,
            },
        )
    }

    /// Renders one template alone with `data`: for a page's template, its body without the
    /// frame (whole pages come from [`Pages::render_page`]).
    pub fn render(&self, name: &str, data: &impl Serialize) -> Result<String, PageError> {
        self.hb
            .render(name, data)
            .map_err(|e| PageError::Render(Box::new(e)))
    }
}

/// What a page's template reads: the frame's [`Layout`] beside the page's own view model, whose
/// fields sit at the top level.
#[derive(Debug, Serialize)]
pub struct Page<'a, T: Serialize, L: Serialize = Layout> {
    /// The frame's values.
    pub layout: &'a L,
    /// The page's view model.
    #[serde(flatten)]
    pub body: &'a T,
}

/// The session-timeout warning's timings, in seconds from page load.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeoutTimes {
    /// When the warning opens.
    pub warn_after_seconds: i64,
    /// When the session ends.
    pub expire_after_seconds: i64,
}

/// What every page's frame needs.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// The H1, also the first part of the `<title>`.
    pub title: String,
    /// The service name (second part of the `<title>`, and the header).
    pub service_name: String,
    /// Opened inside the NHS App: no own header or footer, the NHS App JS API is loaded.
    pub in_app: bool,
    /// A patient is signed in (the header shows "Sign out" in a browser).
    pub signed_in: bool,
    /// The session's CSRF token (empty when signed out).
    pub csrf_token: String,
    /// A back link, when the page is a step in a journey.
    pub back_href: Option<String>,
    /// Show the "Get help" block (consistent help, WCAG 2.2 3.2.6).
    pub show_help: bool,
    /// The page shows validation errors (the title gets "Error: ").
    pub has_errors: bool,
    /// The session-timeout warning, for signed-in pages.
    pub timeout: Option<TimeoutTimes>,
    /// This page's path (where "Stay signed in" returns to).
    pub path: String,
    /// Inside the NHS App, send the patient to the NHS App home page when the page loads (the
    /// timed-out page).
    pub go_home: bool,
}

/// The NHS.UK and NHS App tag classes for a tone.
pub(crate) fn tag_classes(tone: Tone) -> (&'static str, &'static str) {
    match tone {
        Tone::Neutral => ("nhsuk-tag--white", "nhsapp-tag--white"),
        Tone::Pending => ("nhsuk-tag--blue", "nhsapp-tag--blue"),
        Tone::Positive => ("nhsuk-tag--green", "nhsapp-tag--green"),
        Tone::Inactive => ("nhsuk-tag--grey", "nhsapp-tag--grey"),
        Tone::Warning => ("nhsuk-tag--orange", "nhsapp-tag--orange"),
    }
}

/// The path of an appointment's page.
pub(crate) fn appointment_href(a: &Appointment) -> String {
    format!("/patient-portal/appointment/{}", a.id)
}

fn end_time(a: &Appointment) -> Option<String> {
    let end = a.end?;
    (uk_time::uk_date(end) == uk_time::uk_date(a.start) && end > a.start)
        .then(|| uk_time::format_time(end))
}

/// A status tag: its words and the NHS.UK and NHS App classes of its tone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TagModel {
    /// The words on the tag.
    pub(crate) label: &'static str,
    /// The NHS.UK tag class.
    pub(crate) class: &'static str,
    /// The NHS App tag class.
    pub(crate) app_class: &'static str,
}

/// Where an appointment is, as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LocationModel {
    /// The place's name.
    pub(crate) name: String,
    /// Its address lines.
    pub(crate) address: Vec<String>,
}

/// The view model of one appointment (title, date, time, place, tag): the `summary` partial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AppointmentModel {
    /// The appointment's id.
    pub(crate) id: String,
    /// Its page.
    pub(crate) href: String,
    /// What it is for.
    pub(crate) title: String,
    /// The UK date.
    pub(crate) date: String,
    /// The UK start time.
    pub(crate) time: String,
    /// The UK end time, when it ends the same day.
    pub(crate) end_time: Option<String>,
    /// Date and time together.
    pub(crate) date_time: String,
    /// Face to face, telephone, video.
    pub(crate) medium: &'static str,
    /// Where, when known.
    pub(crate) location: Option<LocationModel>,
    /// The clinician's name, when known.
    pub(crate) clinician: Option<String>,
    /// The trust's name.
    pub(crate) organisation: String,
    /// The status tag.
    pub(crate) tag: TagModel,
}

impl AppointmentModel {
    /// The model of `a`.
    pub(crate) fn of(a: &Appointment) -> Self {
        let status = display_status(a.status, a.request_status);
        let (class, app_class) = tag_classes(status.tone());
        Self {
            id: a.id.as_str().to_owned(),
            href: appointment_href(a),
            title: a.description.clone(),
            date: uk_time::format_date(a.start),
            time: uk_time::format_time(a.start),
            end_time: end_time(a),
            date_time: uk_time::format_date_time(a.start),
            medium: a.medium.label(),
            location: a.location.as_ref().map(|l| LocationModel {
                name: l.name.clone(),
                address: l.address.clone(),
            }),
            clinician: a.clinician.as_ref().map(|c| c.name.clone()),
            organisation: a.organisation.name.clone(),
            tag: TagModel {
                label: status.label(),
                class,
                app_class,
            },
        }
    }
}

/// The view model of an NHS App card for the appointments list (the `card` partial).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CardModel {
    /// The appointment's page.
    pub(crate) href: String,
    /// What it is for.
    pub(crate) title: String,
    /// The UK date.
    pub(crate) date: String,
    /// The UK start time.
    pub(crate) time: String,
    /// The place, or the medium when it is not in person.
    pub(crate) place: String,
    /// The whole card in words, for screen readers.
    pub(crate) aria_label: String,
    /// The status tag.
    pub(crate) tag: TagModel,
}

impl CardModel {
    /// The card of `a`.
    pub(crate) fn of(a: &Appointment) -> Self {
        let status = display_status(a.status, a.request_status);
        let (class, app_class) = tag_classes(status.tone());
        let place = match &a.location {
            Some(l) if a.medium.is_physical() => l.name.clone(),
            _ => a.medium.label().to_owned(),
        };
        let aria_label = format!(
            "{}: {} on {}, {}",
            status.label(),
            a.description,
            uk_time::format_date_time(a.start),
            place
        );
        Self {
            href: appointment_href(a),
            title: a.description.clone(),
            date: uk_time::format_date(a.start),
            time: uk_time::format_time(a.start),
            place,
            aria_label,
            tag: TagModel {
                label: status.label(),
                class,
                app_class,
            },
        }
    }
}

impl CardModel {
    /// The card of a holding record its trust shows as "On the waiting list": no date, no
    /// time, the trust as its place ([`nhs_portal_core::holding`]).
    pub(crate) fn waiting_list(a: &Appointment) -> Self {
        use nhs_portal_core::holding::{WAITING_LIST_LABEL, WAITING_LIST_TONE};
        let (class, app_class) = tag_classes(WAITING_LIST_TONE);
        Self {
            href: appointment_href(a),
            title: a.description.clone(),
            date: String::new(),
            time: String::new(),
            place: a.organisation.name.clone(),
            aria_label: format!(
                "{WAITING_LIST_LABEL}: {}, {}",
                a.description, a.organisation.name
            ),
            tag: TagModel {
                label: WAITING_LIST_LABEL,
                class,
                app_class,
            },
        }
    }
}

/// Groups slot starts by UK day, keeping order: `(day label, items)`.
pub(crate) fn group_by_uk_day<T>(
    items: Vec<T>,
    start: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(chrono::NaiveDate, String, Vec<T>)> = Vec::new();
    for item in items {
        let t = start(&item);
        let day = uk_time::uk_date(t);
        match out.last_mut() {
            Some((d, _, v)) if *d == day => v.push(item),
            _ => out.push((day, uk_time::format_date(t), vec![item])),
        }
    }
    out.into_iter().map(|(_, label, v)| (label, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn layout() -> Layout {
        Layout {
            title: "Page".into(),
            service_name: "Manage your hospital appointments".into(),
            in_app: false,
            signed_in: true,
            csrf_token: "tok".into(),
            back_href: None,
            show_help: true,
            has_errors: false,
            timeout: None,
            path: "/".into(),
            go_home: false,
        }
    }

    #[test]
    fn every_template_parses_and_strict_mode_catches_missing_values() {
        let pages = Pages::new().unwrap();
        // The message page renders with what it needs...
        let html = pages
            .render_page(
                "message",
                &layout(),
                &json!({"paragraphs": ["One <b>"], "urgent": true}),
            )
            .unwrap();
        assert!(html.contains("<title>Page – Manage your hospital appointments – NHS</title>"));
        assert!(html.contains("One &lt;b&gt;"), "values are escaped");
        // ...and fails when the layout lacks a value...
        let err = pages.render_page(
            "message",
            &json!({"title": "x"}),
            &json!({"paragraphs": []}),
        );
        assert!(err.is_err());
        // ...or the page's model does.
        assert!(pages.render_page("message", &layout(), &json!({})).is_err());
    }

    #[test]
    fn the_frame_is_rendered_once_around_the_body() {
        let pages = Pages::new().unwrap();
        let html = pages
            .render_page("message", &layout(), &json!({"paragraphs": ["Body text"]}))
            .unwrap();
        assert_eq!(html.matches("<!DOCTYPE html>").count(), 1);
        assert_eq!(html.matches("<p>Body text</p>").count(), 1);
        let body = html.find("<p>Body text</p>").unwrap();
        assert!(html.find("id=\"maincontent\"").unwrap() < body);
        assert!(body < html.find("Get help").unwrap());
        // A page's template is its body alone: none opens the frame itself (a template that
        // still did would put a page inside a page).
        for (name, source) in TEMPLATES {
            assert!(
                !source.contains("{{#> layout"),
                "{name} opens the frame itself"
            );
        }
        // The body reaches the frame only through its own field.
        assert!(
            pages
                .render(frame::FRAME, &json!({"layout": layout()}))
                .is_err()
        );
    }

    #[test]
    fn in_app_pages_have_no_header_footer_or_sign_out() {
        let pages = Pages::new().unwrap();
        let mut l = layout();
        let browser = pages
            .render_page("message", &l, &json!({"paragraphs": []}))
            .unwrap();
        assert!(browser.contains("nhsuk-header"));
        assert!(browser.contains("nhsuk-footer"));
        assert!(browser.contains("Sign out"));
        assert!(!browser.contains("nhsapp.js"));
        l.in_app = true;
        let app = pages
            .render_page("message", &l, &json!({"paragraphs": []}))
            .unwrap();
        assert!(!app.contains("nhsuk-header"));
        assert!(!app.contains("nhsuk-footer"));
        assert!(!app.contains("Sign out"));
        assert!(app.contains("https://www.nhsapp.service.nhs.uk/js/v2/nhsapp.js"));
    }

    #[test]
    fn groups_slots_by_uk_day_across_midnight_utc() {
        // 23:30 UTC on 30 June is 00:30 BST on 1 July.
        let a = Utc.with_ymd_and_hms(2025, 6, 30, 22, 30, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2025, 6, 30, 23, 30, 0).unwrap();
        let c = Utc.with_ymd_and_hms(2025, 7, 1, 9, 0, 0).unwrap();
        let groups = group_by_uk_day(vec![a, b, c], |t| *t);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "Monday 30 June 2025");
        assert_eq!(groups[0].1, vec![a]);
        assert_eq!(groups[1].0, "Tuesday 1 July 2025");
        assert_eq!(groups[1].1, vec![b, c]);
    }
}
