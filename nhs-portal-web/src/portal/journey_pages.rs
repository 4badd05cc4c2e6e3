//! The appointment page and the cancel and reschedule journeys, over HTTP.
//!
//! Every handler first proves the appointment is the signed-in patient's (through the journeys
//! service), before it looks at the form: another patient's id always gets the same "cannot
//! view" page, whatever the step, method or answers. POSTs carry the session's CSRF token and
//! answer with a redirect (post/redirect/get). Answers between steps live in a short-lived,
//! `HttpOnly` cookie scoped to the appointment's path, so the journey works without JavaScript
//! and across portal instances; the last step re-validates everything.

use base64::Engine;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use nhs_portal_core::request_status::{CancelMode, Refusal, RequestKind, RescheduleMode};
use nhs_portal_core::store::{AuditAction, PatientSession, RequestState};
use nhs_portal_core::{AppointmentId, AppointmentStatus, uk_time};
use serde_json::{Value, json};

use super::{Ctx, PageOpts, Portal, cookie_value, form_get, parse_form, query_get};
use crate::journeys::{
    CANCEL_REASONS, CancelOutcome, FieldError, RESCHEDULE_REASONS, ReasonAnswers, reason_label,
};
use crate::pages::{appointment_model, group_by_uk_day};

const DRAFT_COOKIE: &str = "nhs_portal_draft";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Draft {
    kind: String,
    answers: ReasonAnswers,
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Cancel => "cancel",
        RequestKind::Reschedule => "reschedule",
    }
}

impl Portal {
    pub(super) async fn appointment_route(
        &self,
        ctx: &Ctx,
        req: Request<Bytes>,
        raw_id: &str,
        step: &str,
    ) -> Response<Bytes> {
        // Parse the deep link (only the page itself carries the NHS App's query parameters).
        let deep_link = if step.is_empty() {
            self.base
                .parse_path_and_query(
                    &format!("{}{}", self.base.path_prefix(), ctx.path),
                    ctx.query.as_deref(),
                )
                .ok()
        } else {
            None
        };
        let session = match self.patient(ctx, &req, deep_link.as_ref()).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        let Ok(id) = AppointmentId::parse(raw_id) else {
            return self.cannot_view(ctx, Some(&session));
        };
        let method = req.method().clone();
        match (method, step) {
            (Method::GET, "") => {
                let tracking = deep_link.as_ref().and_then(|d| d.tracking_id.as_deref());
                self.appointment_page(ctx, &session, &id, tracking).await
            }
            (Method::GET, "cancel") => self.cancel_form(ctx, &req, &session, &id, None).await,
            (Method::POST, "cancel") => self.cancel_post(ctx, &req, &session, &id).await,
            (Method::GET, "cancel/check") => self.cancel_check(ctx, &req, &session, &id).await,
            (Method::POST, "cancel/check") => self.cancel_confirm(ctx, &req, &session, &id).await,
            (Method::GET, "cancel/done") => self.cancel_done(ctx, &session, &id).await,
            (Method::GET, "reschedule") => {
                self.reschedule_form(ctx, &req, &session, &id, None).await
            }
            (Method::POST, "reschedule") => self.reschedule_post(ctx, &req, &session, &id).await,
            (Method::GET, "reschedule/check") => {
                self.reschedule_check(ctx, &req, &session, &id).await
            }
            (Method::POST, "reschedule/check") => {
                self.reschedule_confirm(ctx, &req, &session, &id).await
            }
            (Method::GET, "reschedule/done") => self.reschedule_done(ctx, &session, &id).await,
            _ => {
                // Unknown step: ownership first, so the answer never depends on whose id it is.
                match self.journeys.peek(&session, &id).await {
                    Ok(_) => self.not_found(ctx, Some(&session)),
                    Err(e) => self.journey_error(ctx, &session, Some(&id), e),
                }
            }
        }
    }

    fn href(id: &AppointmentId, step: &str) -> String {
        if step.is_empty() {
            format!("/patient-portal/appointment/{id}")
        } else {
            format!("/patient-portal/appointment/{id}/{step}")
        }
    }

    fn draft_cookie(&self, id: &AppointmentId, draft: Option<&Draft>) -> String {
        let value = draft
            .and_then(|d| serde_json::to_vec(d).ok())
            .map(|v| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v))
            .unwrap_or_default();
        let age = if draft.is_some() {
            cookie::time::Duration::minutes(30)
        } else {
            cookie::time::Duration::ZERO
        };
        Cookie::build((DRAFT_COOKIE, value))
            .path(Self::href(id, ""))
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(age)
            .build()
            .encoded()
            .to_string()
    }

    fn read_draft(req: &Request<Bytes>, kind: RequestKind) -> Option<ReasonAnswers> {
        let raw = cookie_value(req.headers(), DRAFT_COOKIE)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .ok()?;
        let draft: Draft = serde_json::from_slice(&bytes).ok()?;
        (draft.kind == kind_name(kind)).then_some(draft.answers)
    }

    fn with_cookie(mut res: Response<Bytes>, cookie: String) -> Response<Bytes> {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        res
    }

    fn check_csrf(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
    ) -> Result<Vec<(String, String)>, Response<Bytes>> {
        let form = parse_form(req.body());
        if self.csrf_ok(session, &form) {
            Ok(form)
        } else {
            Err(self.csrf_failed(ctx, session))
        }
    }

    // ----- the appointment page -----

    async fn appointment_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        tracking: Option<&str>,
    ) -> Response<Bytes> {
        let view = match self.journeys.view(session, id, tracking).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let a = &view.appointment;
        let mut actions = serde_json::Map::new();
        match view.allowed.reschedule {
            Ok(RescheduleMode::RealTime) => {
                actions.insert(
                    "reschedule_href".into(),
                    json!(Self::href(id, "reschedule")),
                );
                actions.insert("reschedule_label".into(), json!("Change date or time"));
            }
            Ok(RescheduleMode::Request) => {
                actions.insert(
                    "reschedule_href".into(),
                    json!(Self::href(id, "reschedule")),
                );
                actions.insert(
                    "reschedule_label".into(),
                    json!("Ask to change date or time"),
                );
            }
            _ => {}
        }
        match view.allowed.cancel {
            Ok(CancelMode::RealTime) => {
                actions.insert("cancel_href".into(), json!(Self::href(id, "cancel")));
                actions.insert("cancel_label".into(), json!("Cancel this appointment"));
            }
            Ok(CancelMode::Request) => {
                actions.insert("cancel_href".into(), json!(Self::href(id, "cancel")));
                actions.insert(
                    "cancel_label".into(),
                    json!("Ask to cancel this appointment"),
                );
            }
            _ => {}
        }
        let refusal = match (view.allowed.cancel, view.allowed.reschedule) {
            (Err(Refusal::NotOffered), Err(Refusal::NotOffered)) => Some(
                "To change or cancel this appointment, contact the hospital's booking team using the phone number on your appointment letter.",
            ),
            _ => None,
        };
        let pending = view
            .pending
            .as_ref()
            .filter(|p| p.state == RequestState::Pending)
            .map(|p| {
                json!({
                    "verb": match p.kind { RequestKind::Cancel => "cancel", RequestKind::Reschedule => "change" },
                    "date": uk_time::format_date(p.created_at),
                })
            });
        let data = json!({
            "a": appointment_model(a),
            "actions": if actions.is_empty() { Value::Null } else { Value::Object(actions) },
            "refusal": refusal,
            "pending": pending,
        });
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "appointment",
            &a.description,
            data,
            PageOpts::default(),
        )
    }

    // ----- shared form rendering -----

    #[allow(clippy::too_many_arguments)]
    fn reason_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        kind: RequestKind,
        answers: &ReasonAnswers,
        errors: &[FieldError],
        switch: Option<(&str, String)>,
    ) -> Response<Bytes> {
        let (reasons, title, hint, action): (&[_], _, _, _) = match kind {
            RequestKind::Cancel => (
                &CANCEL_REASONS[..],
                "Why do you need to cancel this appointment?",
                "Select one option. This helps the hospital understand what you need.",
                Self::href(id, "cancel"),
            ),
            RequestKind::Reschedule => (
                &RESCHEDULE_REASONS[..],
                "Why do you need to change this appointment?",
                "Select one option. The booking team will contact you to agree a new date and time.",
                Self::href(id, "reschedule"),
            ),
        };
        let error_for = |f: &str| errors.iter().find(|e| e.field == f).map(|e| e.message);
        let details_error = error_for("details");
        let (details_label, details_hint) = match kind {
            RequestKind::Cancel => (
                "Tell us why you need to cancel (needed if you chose Other)",
                None,
            ),
            RequestKind::Reschedule => (
                "When can you come? (optional)",
                Some("For example, weekday mornings, or any day after 14 March."),
            ),
        };
        let described_by = match (details_hint.is_some(), details_error.is_some()) {
            (true, true) => Some("details-hint details-error"),
            (true, false) => Some("details-hint"),
            (false, true) => Some("details-error"),
            (false, false) => None,
        };
        let reasons: Vec<Value> = reasons
            .iter()
            .map(|r| {
                json!({
                    "code": r.code,
                    "label": r.label,
                    "checked": r.code == answers.reason,
                    "other": false,
                })
            })
            .collect();
        let data = json!({
            "errors": errors,
            "action": action,
            "hint": hint,
            "reason_error": error_for("reason"),
            "reasons": reasons,
            "other_in_radios": false,
            "details_field": {
                "label": details_label,
                "hint": details_hint,
                "error": details_error,
                "value": answers.details.clone().unwrap_or_default(),
                "described_by": described_by,
            },
            "switch_href": switch.as_ref().map(|s| s.1.clone()),
            "switch_label": switch.as_ref().map(|s| s.0),
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            "reason_form",
            title,
            data,
            PageOpts {
                back: Some(Self::href(id, "")),
                has_errors: !errors.is_empty(),
                ..PageOpts::default()
            },
        )
    }

    fn answers_from_form(form: &[(String, String)]) -> ReasonAnswers {
        ReasonAnswers {
            reason: form_get(form, "reason").unwrap_or("").to_owned(),
            details: form_get(form, "details")
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
        }
    }

    fn answer_rows(id: &AppointmentId, kind: RequestKind, answers: &ReasonAnswers) -> Value {
        let (reasons, step): (&[_], _) = match kind {
            RequestKind::Cancel => (&CANCEL_REASONS[..], "cancel"),
            RequestKind::Reschedule => (&RESCHEDULE_REASONS[..], "reschedule"),
        };
        let mut rows = vec![json!({
            "key": "Reason",
            "value": reason_label(reasons, &answers.reason).unwrap_or(""),
            "change_href": Self::href(id, step),
            "change_hidden": "reason",
        })];
        if let Some(d) = &answers.details {
            rows.push(json!({
                "key": match kind { RequestKind::Cancel => "Details", RequestKind::Reschedule => "When you can come" },
                "value": d,
                "change_href": Self::href(id, step),
                "change_hidden": "details",
            }));
        }
        Value::Array(rows)
    }

    fn idempotency_key() -> String {
        crate::session::random_token()
    }

    fn valid_key(form: &[(String, String)]) -> Option<String> {
        form_get(form, "idempotency_key")
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= 64
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(str::to_owned)
    }

    // ----- cancel -----

    async fn cancel_form(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
        errors: Option<(&ReasonAnswers, &[FieldError])>,
    ) -> Response<Bytes> {
        let view = match self.journeys.cancel_mode(session, id).await {
            Ok((v, _)) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let switch = view.allowed.reschedule.is_ok().then(|| {
            (
                "If you cannot make this date or time, change the appointment instead",
                Self::href(id, "reschedule"),
            )
        });
        let (answers, errs) = match errors {
            Some((a, e)) => (a.clone(), e),
            None => (
                Self::read_draft(req, RequestKind::Cancel).unwrap_or_default(),
                &[][..],
            ),
        };
        self.reason_page(
            ctx,
            session,
            id,
            RequestKind::Cancel,
            &answers,
            errs,
            switch,
        )
    }

    async fn cancel_post(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        if let Err(e) = self.journeys.cancel_mode(session, id).await {
            return self.journey_error(ctx, session, Some(id), e);
        }
        let form = match self.check_csrf(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        let answers = Self::answers_from_form(&form);
        if let Err(errors) = answers.validate(&CANCEL_REASONS, RequestKind::Cancel) {
            return self
                .cancel_form(ctx, req, session, id, Some((&answers, &errors)))
                .await;
        }
        let draft = Draft {
            kind: "cancel".into(),
            answers,
        };
        Self::with_cookie(
            self.redirect(&Self::href(id, "cancel/check")),
            self.draft_cookie(id, Some(&draft)),
        )
    }

    async fn cancel_check(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let (view, mode) = match self.journeys.cancel_mode(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let Some(answers) = Self::read_draft(req, RequestKind::Cancel) else {
            return self.redirect(&Self::href(id, "cancel"));
        };
        let (title, button, warning) = match mode {
            CancelMode::RealTime => (
                "Check before you cancel",
                "Cancel appointment",
                "Your appointment will be cancelled straight away. If you still need care, you may need to be referred again.",
            ),
            _ => (
                "Check your request to cancel",
                "Submit request to cancel",
                "The hospital's booking team will cancel your appointment. If you still need care, you may need to be referred again.",
            ),
        };
        let data = json!({
            "a": appointment_model(&view.appointment),
            "answers": Self::answer_rows(id, RequestKind::Cancel, &answers),
            "warning": warning,
            "warning_button": mode == CancelMode::RealTime,
            "action": Self::href(id, "cancel/check"),
            "idempotency_key": Self::idempotency_key(),
            "hidden": [],
            "button": button,
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "check",
            title,
            data,
            PageOpts {
                back: Some(Self::href(id, "cancel")),
                ..PageOpts::default()
            },
        )
    }

    async fn cancel_confirm(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        if let Err(e) = self.journeys.peek(session, id).await {
            return self.journey_error(ctx, session, Some(id), e);
        }
        let form = match self.check_csrf(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        let (Some(answers), Some(key)) = (
            Self::read_draft(req, RequestKind::Cancel),
            Self::valid_key(&form),
        ) else {
            return self.redirect(&Self::href(id, "cancel"));
        };
        match self.journeys.cancel(session, id, &answers, &key).await {
            Ok(CancelOutcome::Cancelled(_) | CancelOutcome::Requested(_)) => Self::with_cookie(
                self.redirect(&Self::href(id, "cancel/done")),
                self.draft_cookie(id, None),
            ),
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    async fn cancel_done(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let view = match self.journeys.peek(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        // The confirmation is derived from the current state, never from the request: it shows
        // "cancelled" only when the PAS says so, and "request submitted" only when the store
        // holds the pending request.
        let (title, next): (&str, &[&str]) = if view.appointment.status
            == AppointmentStatus::Cancelled
        {
            (
                "Your appointment has been cancelled",
                &[
                    "You do not need to do anything else. The hospital has been told.",
                    "If you need this appointment again, contact the hospital's booking team using the phone number on your appointment letter.",
                ],
            )
        } else if view
            .pending
            .as_ref()
            .is_some_and(|p| p.kind == RequestKind::Cancel && p.state == RequestState::Pending)
        {
            (
                "Your request to cancel has been submitted",
                &[
                    "The hospital's booking team will review your request, usually within 2 working days.",
                    "Until they do, your appointment is still booked and shows as Pending Cancellation.",
                    "If they cannot cancel it, or need to talk to you, they will contact you.",
                ],
            )
        } else {
            return self.redirect(&Self::href(id, ""));
        };
        let data = json!({
            "a": appointment_model(&view.appointment),
            "panel_body": Value::Null,
            "next": next,
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "done",
            title,
            data,
            PageOpts::default(),
        )
    }

    // ----- reschedule -----

    async fn reschedule_form(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
        errors: Option<(&ReasonAnswers, &[FieldError])>,
    ) -> Response<Bytes> {
        let mode = match self.journeys.reschedule_mode(session, id).await {
            Ok((_, m)) => m,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        if mode == RescheduleMode::RealTime {
            let taken = query_get(ctx.query.as_deref(), "taken").is_some();
            let message =
                taken.then_some("The time you chose is no longer available. Choose another time");
            return self.slots_page(ctx, session, id, message).await;
        }
        let (answers, errs) = match errors {
            Some((a, e)) => (a.clone(), e),
            None => (
                Self::read_draft(req, RequestKind::Reschedule).unwrap_or_default(),
                &[][..],
            ),
        };
        self.reason_page(
            ctx,
            session,
            id,
            RequestKind::Reschedule,
            &answers,
            errs,
            None,
        )
    }

    async fn slots_page(
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
        let days: Vec<Value> = group_by_uk_day(slots, |s| s.start)
            .into_iter()
            .enumerate()
            .map(|(d, (day, slots))| {
                let slots: Vec<Value> = slots
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let detail = [s.location.clone(), s.clinician.clone()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(", ");
                        json!({
                            "id": s.id,
                            "input_id": if d == 0 && i == 0 { "slot".to_owned() } else { format!("slot-{d}-{i}") },
                            "time": format!("{} to {}", uk_time::format_time(s.start), uk_time::format_time(s.end)),
                            "detail": (!detail.is_empty()).then_some(detail),
                            "checked": false,
                        })
                    })
                    .collect();
                json!({"day": day, "slots": slots})
            })
            .collect();
        let errors: Vec<FieldError> = error
            .map(|m| FieldError {
                field: "slot",
                message: m,
            })
            .into_iter()
            .collect();
        let data = json!({
            "errors": errors,
            "slot_error": error,
            "days": days,
            "current": uk_time::format_date_time(view.appointment.start),
            "action": Self::href(id, "reschedule"),
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            "slots",
            "Choose a new date and time",
            data,
            PageOpts {
                back: Some(Self::href(id, "")),
                has_errors: error.is_some(),
                ..PageOpts::default()
            },
        )
    }

    async fn reschedule_post(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let mode = match self.journeys.reschedule_mode(session, id).await {
            Ok((_, m)) => m,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let form = match self.check_csrf(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        if mode == RescheduleMode::RealTime {
            let Some(slot) = form_get(&form, "slot").filter(|s| !s.is_empty() && s.len() <= 128)
            else {
                return self
                    .slots_page(ctx, session, id, Some("Select a new date and time"))
                    .await;
            };
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("slot", slot)
                .finish();
            return self.redirect(&format!("{}?{q}", Self::href(id, "reschedule/check")));
        }
        let answers = Self::answers_from_form(&form);
        if let Err(errors) = answers.validate(&RESCHEDULE_REASONS, RequestKind::Reschedule) {
            return self
                .reschedule_form(ctx, req, session, id, Some((&answers, &errors)))
                .await;
        }
        let draft = Draft {
            kind: "reschedule".into(),
            answers,
        };
        Self::with_cookie(
            self.redirect(&Self::href(id, "reschedule/check")),
            self.draft_cookie(id, Some(&draft)),
        )
    }

    async fn reschedule_check(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let (view, mode) = match self.journeys.reschedule_mode(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let back = Some(Self::href(id, "reschedule"));
        if mode == RescheduleMode::RealTime {
            let Some(slot_id) = query_get(ctx.query.as_deref(), "slot") else {
                return self.redirect(&Self::href(id, "reschedule"));
            };
            let slots = match self.journeys.slots(session, id).await {
                Ok((_, s)) => s,
                Err(e) => return self.journey_error(ctx, session, Some(id), e),
            };
            let Some(slot) = slots.into_iter().find(|s| s.id == slot_id) else {
                return self.redirect(&format!("{}?taken=1", Self::href(id, "reschedule")));
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
            let data = json!({
                "a": appointment_model(&proposed),
                "answers": [{
                    "key": "Current appointment",
                    "value": uk_time::format_date_time(view.appointment.start),
                    "change_href": Self::href(id, "reschedule"),
                    "change_hidden": "new date and time",
                }],
                "warning": "Your current appointment will be cancelled and this new time booked.",
                "warning_button": false,
                "action": Self::href(id, "reschedule/check"),
                "idempotency_key": Self::idempotency_key(),
                "hidden": [{"name": "slot", "value": slot.id}],
                "button": "Confirm new date and time",
                "appointment_href": Self::href(id, ""),
            });
            return self.page(
                ctx,
                Some(session),
                StatusCode::OK,
                "check",
                "Check your new appointment",
                data,
                PageOpts {
                    back,
                    ..PageOpts::default()
                },
            );
        }
        let Some(answers) = Self::read_draft(req, RequestKind::Reschedule) else {
            return self.redirect(&Self::href(id, "reschedule"));
        };
        let data = json!({
            "a": appointment_model(&view.appointment),
            "answers": Self::answer_rows(id, RequestKind::Reschedule, &answers),
            "warning": Value::Null,
            "warning_button": false,
            "action": Self::href(id, "reschedule/check"),
            "idempotency_key": Self::idempotency_key(),
            "hidden": [],
            "button": "Submit request to change",
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "check",
            "Check your request to change this appointment",
            data,
            PageOpts {
                back,
                ..PageOpts::default()
            },
        )
    }

    async fn reschedule_confirm(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        if let Err(e) = self.journeys.peek(session, id).await {
            return self.journey_error(ctx, session, Some(id), e);
        }
        let form = match self.check_csrf(ctx, req, session) {
            Ok(f) => f,
            Err(res) => return res,
        };
        let Some(key) = Self::valid_key(&form) else {
            return self.redirect(&Self::href(id, "reschedule"));
        };
        if let Some(slot) = form_get(&form, "slot") {
            return match self.journeys.reschedule(session, id, slot, &key).await {
                Ok(moved) => self.redirect(&Self::href(&moved.id, "reschedule/done")),
                Err(e) => self.journey_error(ctx, session, Some(id), e),
            };
        }
        let Some(answers) = Self::read_draft(req, RequestKind::Reschedule) else {
            return self.redirect(&Self::href(id, "reschedule"));
        };
        match self
            .journeys
            .request_reschedule(session, id, &answers, &key)
            .await
        {
            Ok(_) => Self::with_cookie(
                self.redirect(&Self::href(id, "reschedule/done")),
                self.draft_cookie(id, None),
            ),
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    async fn reschedule_done(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let view = match self.journeys.peek(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        let requested = view
            .pending
            .as_ref()
            .is_some_and(|p| p.kind == RequestKind::Reschedule && p.state == RequestState::Pending);
        let moved_here = if requested {
            false
        } else {
            // A real-time change: the audit trail records which appointment it produced.
            let marker = format!("new={id}");
            match self.store.audit_for_patient(&session.patient, 20).await {
                Ok(records) => records.iter().any(|r| {
                    r.action == AuditAction::Rescheduled
                        && r.detail
                            .as_deref()
                            .is_some_and(|d| d.split(';').any(|p| p == marker))
                }),
                Err(_) => return self.problem(ctx, Some(session)),
            }
        };
        let (title, panel, next): (&str, Option<String>, &[&str]) = if requested {
            (
                "Your request to change this appointment has been submitted",
                None,
                &[
                    "The hospital's booking team will contact you to agree a new date and time, usually within 2 working days.",
                    "Until then, keep your current appointment. It shows as Pending Reschedule.",
                ],
            )
        } else if moved_here && view.appointment.status == AppointmentStatus::Booked {
            (
                "Your appointment has been changed",
                Some(format!(
                    "Your new appointment is on {}",
                    uk_time::format_date_time(view.appointment.start)
                )),
                &[
                    "You do not need to do anything else. Your old appointment time has been cancelled.",
                    "The hospital may send you a new appointment letter.",
                ],
            )
        } else {
            return self.redirect(&Self::href(id, ""));
        };
        let data = json!({
            "a": appointment_model(&view.appointment),
            "panel_body": panel,
            "next": next,
            "appointment_href": Self::href(id, ""),
        });
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "done",
            title,
            data,
            PageOpts::default(),
        )
    }
}
