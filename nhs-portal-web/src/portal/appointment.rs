//! The appointment page (where the NHS App's deep link lands); and the door to every page under
//! an appointment: the session gate, then the id, then the room.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::calendar::CalendarEvent;
use nhs_portal_core::deep_link::Target;
use nhs_portal_core::request_status::{CancelMode, Refusal, RescheduleMode};
use nhs_portal_core::store::PatientSession;
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus};

use super::change::href;
use super::respond::PageOpts;
use super::routes::{Ctx, Route};
use super::views::{Actions, AppointmentPage, CalendarLink, DonePage};
use super::{Inner, guide};
use crate::http_kit;
use crate::journeys::{AppointmentView, JumpOff};
use crate::pages::AppointmentModel;

impl Inner {
    /// Any page under `/patient-portal/appointment/`: the signed-in patient first, then the
    /// appointment id, then the room.
    pub(super) async fn appointment_route(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        route: Route,
        raw_id: &str,
    ) -> Response<Bytes> {
        let session = match self.patient(ctx, req).await {
            Ok(s) => s,
            Err(res) => return res,
        };
        let Ok(id) = AppointmentId::parse(raw_id) else {
            return self.cannot_view(ctx, Some(&session));
        };
        match route {
            Route::Appointment if req.method() == Method::GET => {
                let jump_off =
                    ctx.deep_link
                        .as_ref()
                        .filter(|d| d.is_jump_off())
                        .map(|d| JumpOff {
                            tracking_id: d.tracking_id.as_deref(),
                        });
                self.appointment_page(ctx, &session, &id, jump_off).await
            }
            Route::Change(kind, step) => self.change(ctx, req, &session, &id, kind, step).await,
            Route::CancelNeed => self.cancel_need(ctx, req, &session, &id).await,
            Route::Calendar if req.method() == Method::GET => {
                self.calendar_file(ctx, &session, &id).await
            }
            Route::ConfirmAttendance if req.method() == Method::POST => {
                self.confirm_attendance(ctx, req, &session, &id).await
            }
            Route::ConfirmAttendanceDone if req.method() == Method::GET => {
                self.confirm_attendance_done(ctx, &session, &id).await
            }
            _ => self.unknown_step(ctx, &session, &id).await,
        }
    }

    async fn appointment_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        jump_off: Option<JumpOff<'_>>,
    ) -> Response<Bytes> {
        let shown = self
            .journeys
            .view_with(session, id, jump_off, |view| {
                self.appointment_body(ctx, session, id, view)
            })
            .await;
        match shown {
            Ok((_, res)) => res,
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    /// The appointment page for `view` (rendered while its "viewed" record commits).
    fn appointment_body(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
        view: &AppointmentView,
    ) -> Response<Bytes> {
        if let Some(res) = self.waiting_list_page(ctx, session, view) {
            return res;
        }
        let mut actions = Actions::default();
        let reschedule_label = match view.allowed.reschedule {
            Ok(RescheduleMode::RealTime) => Some("Change date or time"),
            Ok(RescheduleMode::Request) => Some("Ask to change date or time"),
            _ => None,
        };
        if let Some(label) = reschedule_label {
            actions.reschedule_href = Some(href(id, "reschedule"));
            actions.reschedule_label = Some(label);
        }
        let cancel_label = match view.allowed.cancel {
            Ok(CancelMode::RealTime) => Some("Cancel this appointment"),
            Ok(CancelMode::Request) => Some("Ask to cancel this appointment"),
            _ => None,
        };
        if let Some(label) = cancel_label {
            actions.cancel_href = Some(href(id, "cancel/need"));
            actions.cancel_label = Some(label);
        }
        let guide = guide::guide(&self.cfg.guidance, view, self.journeys.now());
        let refusal = matches!(
            (view.allowed.cancel, view.allowed.reschedule),
            (Err(Refusal::NotOffered), Err(Refusal::NotOffered))
        )
        .then(|| {
            format!(
                "To change or cancel this appointment, {}.",
                guide::how_to_contact(guide.contact.as_ref())
            )
        });
        if view.allowed.confirm.is_ok() {
            actions.confirm_action = Some(href(id, "confirm-attendance"));
        }
        let any_action =
            reschedule_label.is_some() || cancel_label.is_some() || view.allowed.confirm.is_ok();
        let body = AppointmentPage {
            a: AppointmentModel::of(&view.appointment),
            actions: any_action.then_some(actions),
            refusal,
            guide,
            calendar: self.calendar_link(&view.appointment),
        };
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "appointment",
            &view.appointment.description,
            &body,
            PageOpts::default(),
        )
    }

    /// The "Confirm you will attend" POST: the session's CSRF token first, then the journey;
    /// on success (or when it was already confirmed) to the confirmation page.
    async fn confirm_attendance(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        if let Err(e) = self.journeys.peek(session, id).await {
            return self.journey_error(ctx, session, Some(id), e);
        }
        if let Err(res) = self.csrf_form(ctx, req, session) {
            return res;
        }
        match self.journeys.confirm_attendance(session, id).await {
            Ok(_) => http_kit::redirect(&href(id, "confirm-attendance/done")),
            Err(e) => self.journey_error(ctx, session, Some(id), e),
        }
    }

    /// The confirmation, derived from the current state: only when the appointment's request
    /// status is Confirmed Attendance; otherwise back to the appointment page.
    async fn confirm_attendance_done(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let view = match self.journeys.peek(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        if view.allowed.confirm != Err(Refusal::AlreadyConfirmed) {
            return http_kit::redirect(&href(id, ""));
        }
        let body = DonePage {
            a: AppointmentModel::of(&view.appointment),
            panel_body: None,
            next: vec![
                "The hospital has been told you will attend this appointment.".into(),
                "If you can no longer attend, cancel or change the appointment as soon as you can."
                    .into(),
            ],
            appointment_href: href(id, ""),
        };
        self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "done",
            "You have confirmed you will attend",
            &body,
            PageOpts::default(),
        )
    }

    /// The "Add to calendar" link of an upcoming appointment ("Remove from your calendar" once
    /// it is cancelled, so a calendar holding it can drop it); none for past ones.
    fn calendar_link(&self, a: &Appointment) -> Option<CalendarLink> {
        let now = self.journeys.now();
        let label = match a.status {
            _ if !a.is_future(now) || a.holding => return None,
            AppointmentStatus::Booked => "Add to calendar",
            AppointmentStatus::Cancelled => "Remove from your calendar",
            _ => return None,
        };
        let link = self.base.url(&Target::Appointment(a.id.clone()));
        let event = CalendarEvent::new(a, &link, self.base.host(), now);
        Some(CalendarLink {
            href: href(&a.id, "calendar"),
            label,
            cancels: event.is_cancellation(),
            event: event.for_nhs_app(),
        })
    }

    /// `GET .../calendar`: the signed-in patient's appointment as an iCalendar file (times in
    /// UTC, a stable `UID`, a `SEQUENCE` that grows, `METHOD:CANCEL` once cancelled; see
    /// `nhs_portal_core::calendar`). Another patient's id answers like an unknown one.
    async fn calendar_file(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        id: &AppointmentId,
    ) -> Response<Bytes> {
        let view = match self.journeys.peek(session, id).await {
            Ok(v) => v,
            Err(e) => return self.journey_error(ctx, session, Some(id), e),
        };
        if view.appointment.holding {
            // A place on the waiting list has no date to put in a calendar.
            return self.cannot_view(ctx, Some(session));
        }
        let link = self.base.url(&Target::Appointment(id.clone()));
        let ics = CalendarEvent::new(
            &view.appointment,
            &link,
            self.base.host(),
            self.journeys.now(),
        )
        .to_ics();
        http_kit::download(
            "text/calendar; charset=utf-8",
            "hospital-appointment.ics",
            Bytes::from(ics),
        )
    }
}
