//! The typed view models of the patient pages: what each template in `templates/` reads besides
//! the frame's [`crate::pages::Layout`]. A field a template reads and a model lacks is a compile
//! error here, and a render error (strict mode) for the few that stay optional in the template.

use serde::Serialize;

use crate::journeys::FieldError;
use crate::pages::{AppointmentModel, CardModel};

/// A link on a message page.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Link {
    pub(super) href: &'static str,
    pub(super) text: &'static str,
    /// Inside the NHS App, go to the NHS App home page.
    pub(super) app_home: bool,
    /// Inside the NHS App, go to the NHS App's appointments page.
    pub(super) appointments: bool,
    /// Inside the NHS App, go to the NHS App's own journey for proving who you are.
    pub(super) uplift: bool,
}

impl Link {
    /// A link to the appointments list.
    pub(super) const fn to_appointments(text: &'static str) -> Self {
        Self {
            href: "/patient-portal/appointments",
            text,
            app_home: false,
            appointments: false,
            uplift: false,
        }
    }

    pub(super) const fn app_home(mut self) -> Self {
        self.app_home = true;
        self
    }

    pub(super) const fn nhs_app_appointments(mut self) -> Self {
        self.appointments = true;
        self
    }
}

/// `message`: a heading, paragraphs, maybe a link and a reference, and the urgent-advice block.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Message {
    pub(super) paragraphs: &'static [&'static str],
    pub(super) urgent: bool,
    pub(super) link: Option<Link>,
    pub(super) reference: Option<String>,
}

impl Message {
    /// Paragraphs with the urgent-advice block.
    pub(super) const fn new(paragraphs: &'static [&'static str]) -> Self {
        Self {
            paragraphs,
            urgent: true,
            link: None,
            reference: None,
        }
    }

    pub(super) const fn link(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }

    /// Without the urgent-advice block.
    pub(super) const fn calm(mut self) -> Self {
        self.urgent = false;
        self
    }
}

/// `landing`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Landing<'a> {
    pub(super) demo: Option<DemoModel<'a>>,
}

/// The demo hints on the landing page.
#[derive(Debug, Clone, Serialize)]
pub(super) struct DemoModel<'a> {
    pub(super) patients: &'a [String],
    pub(super) staff_href: Option<&'a str>,
}

/// `consent` (reads only the frame).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Empty {}

/// `appointments`: every upcoming appointment and place on a waiting list, and the way to the
/// past and cancelled ones (in pages of their own, [`PastAppointments`]).
#[derive(Debug, Clone, Serialize)]
pub(super) struct AppointmentList {
    pub(super) upcoming: Vec<CardModel>,
    pub(super) upcoming_count: String,
    /// Holding records shown as "On the waiting list".
    pub(super) waiting_list: Vec<CardModel>,
    /// "4 past or cancelled appointments", when there are any.
    pub(super) past_count: Option<String>,
    /// The first page of them.
    pub(super) past_href: String,
}

/// `past_appointments`: one short page of the past and cancelled appointments, newest first,
/// and the pages either side.
#[derive(Debug, Clone, Serialize)]
pub(super) struct PastAppointments {
    pub(super) past: Vec<CardModel>,
    /// "Newest first (page 1 of 2)."
    pub(super) showing: String,
    /// "Show more recent" and "Show earlier appointments".
    pub(super) pagination: Pagination,
    pub(super) appointments_href: &'static str,
}

/// `appointment`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AppointmentPage {
    pub(super) a: AppointmentModel,
    pub(super) actions: Option<Actions>,
    pub(super) refusal: Option<String>,
    pub(super) guide: super::guide::GuideModel,
    pub(super) calendar: Option<CalendarLink>,
}

/// The appointment page's "Add to calendar" link: the file's address, and the same event for
/// the NHS App's `addEventToCalendar` (read by `portal.mjs` inside the app).
#[derive(Debug, Clone, Serialize)]
pub(super) struct CalendarLink {
    pub(super) href: String,
    pub(super) label: &'static str,
    pub(super) cancels: bool,
    pub(super) event: nhs_portal_core::calendar::NhsAppCalendarEvent,
}

/// The appointment page's buttons.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Actions {
    pub(super) reschedule_href: Option<String>,
    pub(super) reschedule_label: Option<&'static str>,
    pub(super) cancel_href: Option<String>,
    pub(super) cancel_label: Option<&'static str>,
    /// Where the "Confirm you will attend" form posts, when it is offered.
    pub(super) confirm_action: Option<String>,
}

/// One radio of the reasons.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ReasonRadio {
    pub(super) code: &'static str,
    pub(super) label: &'static str,
    pub(super) checked: bool,
    pub(super) other: bool,
}

/// The `details_field` partial.
#[derive(Debug, Clone, Serialize)]
pub(super) struct DetailsField {
    pub(super) label: &'static str,
    pub(super) hint: Option<&'static str>,
    pub(super) error: Option<&'static str>,
    pub(super) value: String,
    pub(super) described_by: Option<&'static str>,
}

/// `reason_form`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ReasonForm<'a> {
    pub(super) errors: &'a [FieldError],
    pub(super) action: String,
    pub(super) hint: &'static str,
    pub(super) reason_error: Option<&'static str>,
    pub(super) reasons: Vec<ReasonRadio>,
    pub(super) other_in_radios: bool,
    pub(super) details_field: DetailsField,
    pub(super) switch_href: Option<String>,
    pub(super) switch_label: Option<&'static str>,
    pub(super) appointment_href: String,
}

/// One row of "Your answers".
#[derive(Debug, Clone, Serialize)]
pub(super) struct AnswerRow {
    pub(super) key: &'static str,
    pub(super) value: String,
    pub(super) change_href: String,
    pub(super) change_hidden: &'static str,
}

/// A hidden form field.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Hidden {
    pub(super) name: &'static str,
    pub(super) value: String,
}

/// `check`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CheckPage {
    pub(super) a: AppointmentModel,
    pub(super) answers: Vec<AnswerRow>,
    pub(super) warning: Option<&'static str>,
    pub(super) warning_button: bool,
    pub(super) action: String,
    pub(super) idempotency_key: String,
    pub(super) hidden: Vec<Hidden>,
    pub(super) button: &'static str,
    pub(super) appointment_href: String,
}

/// One free slot.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SlotRadio {
    pub(super) id: String,
    pub(super) input_id: String,
    pub(super) time: String,
    pub(super) detail: Option<String>,
    pub(super) checked: bool,
}

/// One day of free slots.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SlotDay {
    pub(super) day: String,
    pub(super) slots: Vec<SlotRadio>,
}

/// The `pagination` partial's model: the label of its navigation landmark and the links to the
/// pages either side. Templates call the partial with it alone (`{{> pagination pagination}}`),
/// so handlebars copies this, not the page's whole model (`crate::pages`).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Pagination {
    pub(super) label: &'static str,
    pub(super) previous: Option<PageLink>,
    pub(super) next: Option<PageLink>,
}

/// A link of the `pagination` partial to the page before or after ("Earlier dates", "Show
/// earlier appointments"), named by the dates that page covers.
#[derive(Debug, Clone, Serialize)]
pub(super) struct PageLink {
    pub(super) href: String,
    pub(super) title: &'static str,
    pub(super) dates: String,
}

/// One option of a slot filter (a radio of the GET form).
#[derive(Debug, Clone, Serialize)]
pub(super) struct FilterRadio {
    pub(super) input_id: String,
    pub(super) value: String,
    pub(super) label: String,
    pub(super) checked: bool,
}

/// One slot filter the trust allows: "any", then its options.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FilterGroup {
    pub(super) name: &'static str,
    pub(super) legend: &'static str,
    pub(super) inline: bool,
    pub(super) options: Vec<FilterRadio>,
}

/// `slots`: one short page of free slots, its neighbours and the filters.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SlotsPage {
    pub(super) errors: Vec<FieldError>,
    pub(super) slot_error: Option<&'static str>,
    /// Whether the trust offers any free slot at all (before filters).
    pub(super) any_slots: bool,
    pub(super) days: Vec<SlotDay>,
    /// "Times on Monday 7 to Wednesday 9 December 2026 (page 1 of 10)".
    pub(super) showing: Option<String>,
    pub(super) current: String,
    pub(super) action: String,
    /// "Earlier dates" and "Later dates".
    pub(super) pagination: Pagination,
    pub(super) filters: Vec<FilterGroup>,
    pub(super) filter_action: String,
    /// Every free slot again, when a filter is applied.
    pub(super) clear_href: Option<String>,
    pub(super) appointment_href: String,
}

/// `done`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct DonePage {
    pub(super) a: AppointmentModel,
    pub(super) panel_body: Option<String>,
    pub(super) next: Vec<String>,
    pub(super) appointment_href: String,
}

/// `waiting_list`: a holding record its trust shows as "On the waiting list" (no date, no
/// time, no actions).
#[derive(Debug, Clone, Serialize)]
pub(super) struct WaitingListPage {
    pub(super) tag: crate::pages::TagModel,
    pub(super) organisation: String,
}

/// One answer to "Do you still need this appointment?".
#[derive(Debug, Clone, Serialize)]
pub(super) struct NeedRadio {
    pub(super) code: &'static str,
    pub(super) label: &'static str,
}

/// `still_needed`: the cancel journey's first question.
#[derive(Debug, Clone, Serialize)]
pub(super) struct StillNeededForm<'a> {
    pub(super) errors: &'a [FieldError],
    pub(super) error: Option<&'static str>,
    pub(super) field: &'static str,
    pub(super) options: Vec<NeedRadio>,
    pub(super) action: String,
    pub(super) appointment_href: String,
}

/// `contact_hospital`: whom to call when the trust does not change appointments online.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ContactHospital {
    pub(super) a: AppointmentModel,
    pub(super) how: String,
    pub(super) contact: Option<super::guide::ContactModel>,
    pub(super) cancel_href: Option<String>,
    pub(super) appointment_href: String,
}

/// `check`: a [`CheckPage`] and the trust's policy warning (cancelling only), shown in the
/// same warning card.
#[derive(Debug, Clone, Serialize)]
pub(super) struct WithPolicy<'a> {
    #[serde(flatten)]
    pub(super) page: &'a CheckPage,
    pub(super) policy_warning: Option<&'a str>,
}
