//! The cancel journey's first question, "Do you still need this appointment?" (one question on
//! its own page, NHS radios, no JavaScript needed). Cancelling can mean being sent back to the
//! GP, so a patient who still needs care but cannot make the time is led to change it instead:
//!
//! - "Yes, but I cannot make this date or time": to the reschedule journey (real time or a
//!   request, whichever the trust offers), or, when the trust does not reschedule online, to a
//!   page saying whom to call;
//! - "No, I no longer need it": the answer is sealed in the draft ([`super::draft`]) and the
//!   reasons form follows. Without that answer in the draft no later step of the cancel journey
//!   answers (see [`super::draft::read`]).
//!
//! A missing or forged answer gets the form again with the error summary. Like every step, the
//! appointment is first proved to be the signed-in patient's, and cancellable now.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::reasons::{FieldError, StillNeeded};
use nhs_portal_core::store::PatientSession;

use super::href;
use super::wording::CANCEL;
use crate::http_kit;
use crate::journeys::AppointmentView;
use crate::pages::AppointmentModel;
use crate::portal::Inner;
use crate::portal::guide::{ContactModel, how_to_contact};
use crate::portal::respond::{PageOpts, form_status};
use crate::portal::routes::Ctx;
use crate::portal::views::{ContactHospital, NeedRadio, StillNeededForm};

/// The question's path step.
pub(in crate::portal) const STEP: &str = "cancel/need";
/// The question's title (and heading).
const TITLE: &str = "Do you still need this appointment?";
/// The query of the "whom to call" page.
const THEN_CONTACT: &str = "then=contact";

impl Inner {
    /// `GET|POST .../cancel/need`, after the session gate.
    pub(in crate::portal) async fn cancel_need(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let view = match self.journeys.cancel_mode(session, id).await {
            Ok((view, _)) => view,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        match *req.method() {
            Method::GET if ctx.query.as_deref() == Some(THEN_CONTACT) => {
                self.contact_instead(ctx, session, id, &view)
            }
            Method::GET => self.need_form(ctx, session, id, None),
            Method::POST => {
                let form = match self.csrf_form(ctx, req, session) {
                    Ok(f) => f,
                    Err(res) => return res,
                };
                match StillNeeded::parse(form.get(StillNeeded::FIELD)) {
                    Err(e) => self.need_form(ctx, session, id, Some(e)),
                    Ok(StillNeeded::CannotMakeIt) if view.allowed.reschedule.is_ok() => {
                        http_kit::redirect(&href(id, "reschedule"))
                    }
                    Ok(StillNeeded::CannotMakeIt) => {
                        http_kit::redirect(&format!("{}?{THEN_CONTACT}", href(id, STEP)))
                    }
                    Ok(StillNeeded::NoLongerNeeded) => http_kit::with_cookie(
                        http_kit::redirect(&href(id, CANCEL.step)),
                        self.draft_cookie(session, id, &CANCEL, Some(Default::default())),
                    ),
                }
            }
            _ => self.not_found(ctx, Some(session)),
        }
    }

    fn need_form(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        error: Option<FieldError>,
    ) -> Response<Bytes> {
        let errors: Vec<FieldError> = error.into_iter().collect();
        let body = StillNeededForm {
            errors: &errors,
            error: errors.first().map(|e| e.message),
            field: StillNeeded::FIELD,
            options: StillNeeded::ALL
                .iter()
                .map(|a| NeedRadio {
                    code: a.code(),
                    label: a.label(),
                })
                .collect(),
            action: href(id, STEP),
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            form_status(!errors.is_empty()),
            "still_needed",
            TITLE,
            &body,
            PageOpts::step(href(id, ""), !errors.is_empty()),
        )
    }

    /// The patient still needs the appointment, the trust does not reschedule online: whom to
    /// call, and the way to cancel if they decide to after all.
    fn contact_instead(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        view: &AppointmentView,
    ) -> Response<Bytes> {
        let contact = ContactModel::of(&self.cfg.guidance, &view.appointment);
        let body = ContactHospital {
            a: AppointmentModel::of(&view.appointment),
            how: how_to_contact(contact.as_ref()),
            contact,
            cancel_href: view.allowed.cancel.is_ok().then(|| href(id, STEP)),
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "contact_hospital",
            "Contact the hospital to change this appointment",
            &body,
            PageOpts::step(href(id, STEP), false),
        )
    }
}
