//! The change journey: cancel and reschedule are one flow, form → check → confirm → done
//! (a cancel first asks whether the appointment is still needed, [`need`]),
//! driven by a table of wording ([`wording`]); a real-time reschedule picks a free slot instead
//! of giving reasons ([`slots`]).
//! (Over 400 lines: the one change journey's steps for both cancel and reschedule, kept in one
//! place; its wording, drafts and slots are in submodules.)
//!
//! Every handler first proves the appointment is the signed-in patient's (through the journeys
//! service), before it looks at the form: another patient's id always gets the same "cannot
//! view" page, whatever the step, method or answers. POSTs carry the session's CSRF token and
//! answer with a redirect (post/redirect/get). Answers between steps live in a short-lived,
//! `HttpOnly` cookie sealed for the session ([`draft`]), so the journey works without
//! JavaScript and across portal instances; the last step re-validates everything.

pub(super) mod draft;
mod need;
mod slot_page;
mod slots;
mod wording;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::reasons::StillNeeded;
use nhs_portal_core::request_status::{CancelMode, RequestKind, RescheduleMode};
use nhs_portal_core::store::{PatientSession, RequestState};
use nhs_portal_core::{AppointmentId, AppointmentStatus, uk_time};

use super::Inner;
use super::respond::{PageOpts, form_status};
use super::routes::{Ctx, Step};
use super::views::{
    AnswerRow, CheckPage, DetailsField, DonePage, ReasonForm, ReasonRadio, WithPolicy,
};
use crate::http_kit::{self, Form};
use crate::journeys::{AppointmentView, FieldError, JourneyError, ReasonAnswers, reason_label};
use crate::pages::AppointmentModel;
use wording::{Wording, other, wording};

/// How the trust's PAS makes this change: straight away, or as a request to the booking team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    RealTime,
    Request,
}

/// One request to a step of the change journey: what each step's handler reads.
#[derive(Clone, Copy)]
struct At<'a> {
    ctx: &'a Ctx,
    req: &'a Request<Bytes>,
    session: &'a PatientSession,
    id: &'a AppointmentId,
    w: &'static Wording,
}

impl<'a> At<'a> {
    fn parts(
        &self,
    ) -> (
        &'a Ctx,
        &'a Request<Bytes>,
        &'a PatientSession,
        &'a AppointmentId,
        &'static Wording,
    ) {
        (self.ctx, self.req, self.session, self.id, self.w)
    }
}

/// The path of an appointment's page, or of one of its steps.
pub(super) fn href(id: &AppointmentId, step: &str) -> String {
    if step.is_empty() {
        format!("/patient-portal/appointment/{id}")
    } else {
        format!("/patient-portal/appointment/{id}/{step}")
    }
}

/// The idempotency key a check page's form carries back, if well formed.
fn valid_key(form: &Form) -> Option<String> {
    form.get("idempotency_key")
        .filter(|k| {
            !k.is_empty()
                && k.len() <= 64
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

impl Inner {
    /// One step of the journey of `kind`, after the session gate.
    pub(super) async fn change(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
        kind: RequestKind,
        step: Step,
    ) -> Response<Bytes> {
        let w = wording(kind);
        let at = At {
            ctx,
            req,
            session,
            id,
            w,
        };
        match (req.method().clone(), step) {
            (Method::POST, Step::Check) => self.change_confirm(&at).await,
            (Method::GET, Step::Done) => self.change_done(&at).await,
            (method @ (Method::GET | Method::POST), Step::Form | Step::Check) => {
                // The appointment and how it changes, before the form is looked at.
                let found = match self.mode(session, id, kind).await {
                    Ok(found) => found,
                    Err(e) => return self.journey_error(ctx, session, Some(id), e),
                };
                match (method == Method::POST, step) {
                    (false, Step::Form) => self.change_form(&at, found, None).await,
                    (true, Step::Form) => self.change_post(&at, found).await,
                    _ => self.change_check(&at, found).await,
                }
            }
            _ => self.unknown_step(ctx, session, id).await,
        }
    }

    /// Ownership first, so the answer never depends on whose id it is; then "not found".
    pub(super) async fn unknown_step(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        match self.journeys.peek(session, id).await {
            Ok(_) => self.not_found(ctx, Some(session)),
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    /// The appointment (proving it is the patient's) and how this change is made, or why not.
    async fn mode(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        kind: RequestKind,
    ) -> Result<(AppointmentView, Mode), JourneyError> {
        let mode = |real_time| {
            if real_time {
                Mode::RealTime
            } else {
                Mode::Request
            }
        };
        Ok(match kind {
            RequestKind::Cancel => {
                let (v, m) = self.journeys.cancel_mode(session, id).await?;
                (v, mode(m == CancelMode::RealTime))
            }
            RequestKind::Reschedule => {
                let (v, m) = self.journeys.reschedule_mode(session, id).await?;
                (v, mode(m == RescheduleMode::RealTime))
            }
        })
    }

    async fn change_form(
        &self,
        at: &At<'_>,
        (view, mode): (AppointmentView, Mode),
        errors: Option<(&ReasonAnswers, &[FieldError])>,
    ) -> Response<Bytes> {
        let (ctx, req, session, id, w) = at.parts();
        if w.kind == RequestKind::Reschedule && mode == Mode::RealTime {
            let taken = http_kit::query_param(ctx.query.as_deref(), "taken").is_some();
            let message =
                taken.then_some("The time you chose is no longer available. Choose another time");
            return self.slots_page(ctx, session, id, message).await;
        }
        if w.kind == RequestKind::Cancel
            && errors.is_none()
            && draft::read(req, session, id, w).is_none()
        {
            // The question first: no reasons before "No, I no longer need it".
            return http_kit::redirect(&href(id, need::STEP));
        }
        let switch = w.switch_label.filter(|_| match other(w.kind) {
            RequestKind::Reschedule => view.allowed.reschedule.is_ok(),
            RequestKind::Cancel => view.allowed.cancel.is_ok(),
        });
        let (answers, errs) = match errors {
            Some((a, e)) => (a.clone(), e),
            None => (
                draft::read(req, session, id, w).unwrap_or_default(),
                &[][..],
            ),
        };
        let error_for = |f: &str| errs.iter().find(|e| e.field == f).map(|e| e.message);
        let details_error = error_for("details");
        let described_by = match (w.details_hint.is_some(), details_error.is_some()) {
            (true, true) => Some("details-hint details-error"),
            (true, false) => Some("details-hint"),
            (false, true) => Some("details-error"),
            (false, false) => None,
        };
        let body = ReasonForm {
            errors: errs,
            action: href(id, w.step),
            hint: w.form_hint,
            reason_error: error_for("reason"),
            reasons: w
                .reasons
                .iter()
                .map(|r| ReasonRadio {
                    code: r.code,
                    label: r.label,
                    checked: r.code == answers.reason,
                    other: false,
                })
                .collect(),
            other_in_radios: false,
            details_field: DetailsField {
                label: w.details_label,
                hint: w.details_hint,
                error: details_error,
                value: answers.details.clone().unwrap_or_default(),
                described_by,
            },
            switch_href: switch.map(|_| href(id, wording(other(w.kind)).step)),
            switch_label: switch,
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            form_status(!errs.is_empty()),
            "reason_form",
            w.form_title,
            &body,
            PageOpts::step(href(id, ""), !errs.is_empty()),
        )
    }

    async fn change_post(&self, at: &At<'_>, found: (AppointmentView, Mode)) -> Response<Bytes> {
        let (ctx, req, session, id, w) = at.parts();
        let mode = found.1;
        let form = match self.csrf_form(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        if w.kind == RequestKind::Reschedule && mode == Mode::RealTime {
            return self.slot_chosen(ctx, session, id, &form).await;
        }
        if w.kind == RequestKind::Cancel && draft::read(req, session, id, w).is_none() {
            // A crafted POST cannot skip the question.
            return http_kit::redirect(&href(id, need::STEP));
        }
        let answers = draft::answers_from_form(&form);
        if let Err(errors) = answers.validate(w.reasons, w.kind) {
            return self.change_form(at, found, Some((&answers, &errors))).await;
        }
        let next = http_kit::redirect(&href(id, &format!("{}/check", w.step)));
        http_kit::with_cookie(next, self.draft_cookie(session, id, w, Some(answers)))
    }

    async fn change_check(
        &self,
        at: &At<'_>,
        (view, mode): (AppointmentView, Mode),
    ) -> Response<Bytes> {
        let (ctx, req, session, id, w) = at.parts();
        if w.kind == RequestKind::Reschedule && mode == Mode::RealTime {
            return self.slot_check(ctx, session, id, &view, w).await;
        }
        let Some(answers) = draft::read(req, session, id, w) else {
            return http_kit::redirect(&href(id, w.step));
        };
        let words = match mode {
            Mode::RealTime => &w.check_real_time,
            Mode::Request => &w.check_request,
        };
        let change_href = href(id, w.step);
        let mut rows = Vec::new();
        if w.kind == RequestKind::Cancel {
            rows.push(AnswerRow {
                key: "Do you still need this appointment?",
                value: StillNeeded::NoLongerNeeded.label().to_owned(),
                change_href: href(id, need::STEP),
                change_hidden: "whether you still need this appointment",
            });
        }
        rows.push(AnswerRow {
            key: "Reason",
            value: reason_label(w.reasons, &answers.reason)
                .unwrap_or("")
                .to_owned(),
            change_href: change_href.clone(),
            change_hidden: "reason",
        });
        if let Some(d) = &answers.details {
            rows.push(AnswerRow {
                key: w.details_key,
                value: d.clone(),
                change_href,
                change_hidden: "details",
            });
        }
        let body = CheckPage {
            a: AppointmentModel::of(&view.appointment),
            answers: rows,
            warning: words.warning,
            warning_button: words.warning_button,
            action: href(id, &format!("{}/check", w.step)),
            idempotency_key: crate::session::random_token(),
            hidden: vec![],
            button: words.button,
            appointment_href: href(id, ""),
        };
        // The trust's policy warning, before a patient cancels.
        let policy = (w.kind == RequestKind::Cancel)
            .then(|| self.cfg.guidance.cancel_warning(&view.appointment))
            .flatten();
        self.check_page_with(ctx, session, href(id, w.step), &body, words.title, policy)
    }

    /// A check page: back to `back` (the journey's form).
    fn check_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        back: String,
        body: &CheckPage,
        title: &str,
    ) -> Response<Bytes> {
        self.check_page_with(ctx, session, back, body, title, None)
    }

    /// A check page with the trust's policy warning, if any, in its warning card.
    fn check_page_with(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        back: String,
        body: &CheckPage,
        title: &str,
        policy_warning: Option<&str>,
    ) -> Response<Bytes> {
        let body = WithPolicy {
            page: body,
            policy_warning,
        };
        let back = PageOpts::step(back, false);
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "check",
            title,
            &body,
            back,
        )
    }

    /// `res`, once the appointment is known to be the signed-in patient's (the journey-error
    /// page otherwise, the same for another patient's and an unknown id).
    async fn checked_or(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        res: Response<Bytes>,
    ) -> Response<Bytes> {
        match self.journeys.peek(session, id).await {
            Ok(_) => res,
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    async fn change_confirm(&self, at: &At<'_>) -> Response<Bytes> {
        let (ctx, req, session, id, w) = at.parts();
        // The appointment is read once: by the journey below (checked against the signed-in
        // patient, refused and audited otherwise) or, on the ways out before it, by `peek`.
        let form = match self.csrf_form(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return self.checked_or(ctx, session, id, res).await,
        };
        let Some(key) = valid_key(&form) else {
            let back = http_kit::redirect(&href(id, w.step));
            return self.checked_or(ctx, session, id, back).await;
        };
        if w.kind == RequestKind::Reschedule
            && let Some(slot) = form.get("slot")
        {
            return match self.journeys.reschedule(session, id, slot, &key).await {
                Ok(moved) => http_kit::with_cookie(
                    http_kit::redirect(&href(&moved.id, "reschedule/done")),
                    self.moved_cookie(id, &key, &moved.id),
                ),
                // Taken in between: back to the page and filters it was chosen on.
                Err(JourneyError::SlotUnavailable) => self.slot_taken(ctx, id),
                Err(e) => self.journey_error(ctx, session, Some(id), e),
            };
        }
        let Some(answers) = draft::read(req, session, id, w) else {
            let back = http_kit::redirect(&href(id, w.step));
            return self.checked_or(ctx, session, id, back).await;
        };
        let done = match w.kind {
            RequestKind::Cancel => self
                .journeys
                .cancel(session, id, &answers, &key)
                .await
                .map(drop),
            RequestKind::Reschedule => self
                .journeys
                .request_reschedule(session, id, &answers, &key)
                .await
                .map(drop),
        };
        match done {
            Ok(()) => http_kit::with_cookie(
                http_kit::redirect(&href(id, &format!("{}/done", w.step))),
                self.draft_cookie(session, id, w, None),
            ),
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    /// The confirmation is derived from the current state, never from the request: "done" only
    /// when the PAS says so, "request submitted" only when the store holds the pending request.
    async fn change_done(&self, at: &At<'_>) -> Response<Bytes> {
        let (ctx, req, session, id, w) = at.parts();
        let view = match self.journeys.peek(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let requested = view
            .pending
            .as_ref()
            .is_some_and(|p| p.kind == w.kind && p.state == RequestState::Pending);
        let a = &view.appointment;
        let (words, panel_body) = match w.kind {
            RequestKind::Cancel if a.status == AppointmentStatus::Cancelled => {
                (&w.done_real_time, None)
            }
            _ if requested => (&w.done_requested, None),
            RequestKind::Reschedule if a.status == AppointmentStatus::Booked => {
                match self.moved_here(req, session, id).await {
                    Ok(true) => (
                        &w.done_real_time,
                        Some(format!(
                            "Your new appointment is on {}",
                            uk_time::format_date_time(a.start)
                        )),
                    ),
                    Ok(false) => return http_kit::redirect(&href(id, "")),
                    Err(()) => return self.problem(ctx, Some(session)),
                }
            }
            _ => return http_kit::redirect(&href(id, "")),
        };
        let expected = crate::portal::guide::expected_response(&self.cfg.guidance, a);
        let contact = crate::portal::guide::how_to_contact(
            crate::portal::guide::ContactModel::of(&self.cfg.guidance, a).as_ref(),
        );
        let body = DonePage {
            a: AppointmentModel::of(a),
            panel_body,
            next: words
                .next
                .iter()
                .map(|p| {
                    p.replace("{expected}", &expected)
                        .replace("{contact}", &contact)
                })
                .collect(),
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "done",
            words.title,
            &body,
            PageOpts::default(),
        )
    }
}
