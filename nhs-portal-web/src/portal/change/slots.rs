//! A real-time reschedule: the patient picks a free slot instead of giving reasons, from short
//! pages of the soonest dates (`nhs_portal_core::slot_choice`; the page's words in
//! [`slot_page`]), checks the new appointment, and the confirm step books it (whichever page
//! showed the slot, only if the offer read again then still has it); the done page shows the
//! new time when the reschedule's idempotency record says this browser's confirm moved it here.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use nhs_portal_core::slot_choice::{Filter, SlotChoice, SlotChoiceError, choose};
use nhs_portal_core::store::{ActionKey, ActionOutcome, KeyUse, PatientSession, RealTimeAction};
use nhs_portal_core::{AppointmentId, uk_time};
use nhs_portal_pas::Slot;

use super::wording::Wording;
use super::{href, slot_page};
use crate::http_kit::{self, Form};
use crate::journeys::{AppointmentView, FieldError};
use crate::pages::AppointmentModel;
use crate::portal::Inner;
use crate::portal::respond::{PageOpts, form_status};
use crate::portal::routes::Ctx;
use crate::portal::views::{AnswerRow, CheckPage, Hidden, SlotsPage};

/// The `message` template's model for [`Inner::slots_refused`] (its link goes to this
/// appointment's first page of slots, so it is not one of the fixed message links).
#[derive(serde::Serialize)]
struct Refused {
    paragraphs: &'static [&'static str],
    urgent: bool,
    link: RefusedLink,
    reference: Option<String>,
}

#[derive(serde::Serialize)]
struct RefusedLink {
    href: String,
    text: &'static str,
    app_home: bool,
    appointments: bool,
}

/// The page and filters of the slot page a request came from, as asked (the slot page they
/// lead back to checks them, so a forged one is refused there, a repeated one too): the one
/// query every step after the slot page carries.
fn kept(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let pairs = slot_page::asked_pairs(ctx.query.as_deref());
    match slot_page::asked(&pairs) {
        Ok(a) => a.query(),
        Err(_) => pairs
            .iter()
            .filter_map(|(k, v)| {
                let name = Filter::ALL
                    .iter()
                    .map(|f| f.param())
                    .chain(["page"])
                    .find(|n| n == k)?;
                Some((name, v.clone()))
            })
            .collect(),
    }
}

/// The cookie carrying a confirmed reschedule's idempotency key to its done page: the key and
/// the appointment moved, `{key}.{id}` (a key has no `.`).
const MOVED_COOKIE: &str = "nhs_portal_moved";

impl Inner {
    /// One short page of the free slots (soonest first, as the query's page and filters ask),
    /// maybe with an error ("select one", "that one was taken"). A page or filter that is not
    /// the offer's gets a page that says so, with the way back to the first page.
    pub(super) async fn slots_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        error: Option<&'static str>,
    ) -> Response<Bytes> {
        let (view, slots) = match self.journeys.slots(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let choice = match self.choice(ctx, session, id, &view, &slots) {
            Ok(c) => c,
            Err(res) => return res,
        };
        let path = href(id, "reschedule");
        let body = SlotsPage {
            errors: error
                .map(|message| FieldError {
                    field: "slot",
                    message,
                })
                .into_iter()
                .collect(),
            slot_error: error,
            any_slots: !slots.is_empty(),
            days: slot_page::days(&slots, &choice),
            showing: slot_page::showing(&slots, &choice),
            current: uk_time::format_date_time(view.appointment.start),
            action: http_kit::with_query(&path, &choice.query(choice.number())),
            pagination: slot_page::pagination(&slots, &choice, &path),
            filters: slot_page::filters(&choice),
            filter_action: path.clone(),
            clear_href: choice.filtered().then(|| path.clone()),
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            form_status(error.is_some()),
            "slots",
            "Choose a new date and time",
            &body,
            PageOpts::step(href(id, ""), error.is_some()),
        )
    }

    /// The page of `slots` and the filters the query asks for, checked against the offer and
    /// the trust's filters; the 400 page otherwise.
    fn choice(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        view: &AppointmentView,
        slots: &[Slot],
    ) -> Result<SlotChoice, Response<Bytes>> {
        let facts = slot_page::facts(slots, &view.appointment);
        let pairs = slot_page::asked_pairs(ctx.query.as_deref());
        slot_page::asked(&pairs)
            .and_then(|a| choose(&facts, view.capabilities.slot_filters, &a))
            .map_err(|e| self.slots_refused(ctx, session, id, &e))
    }

    /// The page for a page number or filter that is not the offer's (a mistyped, stale or
    /// forged address): 400, and the way to the first page.
    fn slots_refused(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        e: &SlotChoiceError,
    ) -> Response<Bytes> {
        tracing::info!(error = %e, "slot page refused");
        let body = Refused {
            paragraphs: &[
                "The web address may be wrong, or the times it asks for may no longer be offered.",
            ],
            urgent: false,
            link: RefusedLink {
                href: href(id, "reschedule"),
                text: "See all available dates and times",
                app_home: false,
                appointments: false,
            },
            reference: None,
        };
        self.page(
            ctx,
            Some(session),
            StatusCode::BAD_REQUEST,
            "message",
            "These dates and times cannot be shown",
            &body,
            PageOpts::step(href(id, ""), false),
        )
    }

    /// The slot form was posted: on to the check page with the slot, or back to choose one.
    pub(super) async fn slot_chosen(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        form: &Form,
    ) -> Response<Bytes> {
        let Some(slot) = form.get("slot").filter(|s| !s.is_empty() && s.len() <= 128) else {
            return self
                .slots_page(ctx, session, id, Some("Select a new date and time"))
                .await;
        };
        // The page and filters the slot was chosen on go with it, for the way back.
        let mut q = vec![("slot", slot.to_owned())];
        q.extend(kept(ctx));
        http_kit::redirect(&http_kit::with_query(&href(id, "reschedule/check"), &q))
    }

    /// The slot page again, with its page and filters, saying the time chosen was taken (from
    /// the check page, or when the confirm finds it gone).
    pub(super) fn slot_taken(&self, ctx: &Ctx, id: &AppointmentId) -> Response<Bytes> {
        let mut q = kept(ctx);
        q.push(("taken", "1".to_owned()));
        http_kit::redirect(&http_kit::with_query(&href(id, "reschedule"), &q))
    }

    /// Check the new appointment: the current one with the chosen slot's time, place and
    /// clinician.
    pub(super) async fn slot_check(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        view: &AppointmentView,
        w: &'static Wording,
    ) -> Response<Bytes> {
        let Some(slot_id) = http_kit::query_param(ctx.query.as_deref(), "slot") else {
            return http_kit::redirect(&href(id, w.step));
        };
        let slots = match self.journeys.slots(session, id).await {
            Ok((_, s)) => s,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        // The page and filters the slot was chosen on, checked as the slot page checks them,
        // for the "Change" link and the way back.
        let choice = match self.choice(ctx, session, id, view, &slots) {
            Ok(c) => c,
            Err(res) => return res,
        };
        let kept = choice.query(choice.number());
        let slots_href = http_kit::with_query(&href(id, w.step), &kept);
        let Some(slot) = slots.into_iter().find(|s| s.id == slot_id) else {
            return self.slot_taken(ctx, id);
        };
        let mut proposed = view.appointment.clone();
        proposed.start = slot.start;
        proposed.end = Some(slot.end);
        if let (Some(place), Some(loc)) = (&slot.location, proposed.location.as_mut()) {
            loc.name = place.clone();
        }
        if let Some(c) = &slot.clinician {
            proposed.clinician = Some(nhs_portal_core::Clinician {
                name: c.clone(),
                sds_user_id: None,
            });
        }
        let words = &w.check_real_time;
        let body = CheckPage {
            a: AppointmentModel::of(&proposed),
            answers: vec![AnswerRow {
                key: "Current appointment",
                value: uk_time::format_date_time(view.appointment.start),
                change_href: slots_href.clone(),
                change_hidden: "new date and time",
            }],
            warning: words.warning,
            warning_button: words.warning_button,
            action: http_kit::with_query(&href(id, "reschedule/check"), &kept),
            idempotency_key: crate::session::random_token(),
            hidden: vec![Hidden {
                name: "slot",
                value: slot.id,
            }],
            button: words.button,
            appointment_href: href(id, ""),
        };
        self.check_page(ctx, session, slots_href, &body, words.title)
    }

    /// The `Set-Cookie` value that carries a confirmed reschedule's idempotency key, and the
    /// appointment it moved, to the done page of appointment `to` (see [`Inner::moved_here`]).
    pub(super) fn moved_cookie(
        &self,
        from: &AppointmentId,
        key: &str,
        to: &AppointmentId,
    ) -> Option<HeaderValue> {
        let value = format!("{key}.{from}");
        self.step_cookie(MOVED_COOKIE, value, href(to, "reschedule/done"), true)
    }

    /// Whether the reschedule this browser just confirmed moved the signed-in patient's
    /// appointment to `id`. Its idempotency record says so, looked up under the key the
    /// confirm step left in a cookie, bound to this session's patient: a key another patient
    /// used (or one made up) finds nothing.
    pub(super) async fn moved_here(
        &self,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Result<bool, ()> {
        let Some(raw) = http_kit::cookie_value(req.headers(), MOVED_COOKIE) else {
            return Ok(false);
        };
        let Some((key, from)) = raw.split_once('.') else {
            return Ok(false);
        };
        let Ok(from) = AppointmentId::parse(from) else {
            return Ok(false);
        };
        let key = ActionKey {
            key: key.to_owned(),
            patient: session.patient.clone(),
            appointment: from,
            action: RealTimeAction::Reschedule,
        };
        Ok(
            match self.store.check_action_key(&key).await.map_err(drop)? {
                KeyUse::Done(ActionOutcome::Rescheduled { appointment, .. }) => appointment == *id,
                KeyUse::Done(ActionOutcome::Cancelled) | KeyUse::Unused | KeyUse::Refused => false,
            },
        )
    }
}
