//! The session gate in front of the patient pages: the session module decides (idle limit,
//! single sign-on, see [`crate::session::SessionManager::admit`]); the gate turns its answer
//! into a page or a redirect, then applies the eligibility rule (`Journeys::check_eligible`:
//! an ineligible patient gets their refusal page on every patient page and journey step, GET
//! or POST), and checks the CSRF token of every POST.

use bytes::Bytes;
use http::{Method, Request, Response};
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::store::PatientSession;

use super::Inner;
use super::routes::Ctx;
use crate::http_kit::{self, Form};
use crate::session::{Admission, SessionManager, SessionState};
use crate::sign_in::SignInStart;

impl Inner {
    /// The signed-in patient (touched), or the response to send instead: sign-in (through SSO
    /// when the deep link offers it), or "you have been signed out".
    pub(super) async fn patient(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
    ) -> Result<PatientSession, Response<Bytes>> {
        let sso = ctx
            .deep_link
            .as_ref()
            .is_some_and(|d| d.asserted_login_identity.is_some());
        match self.sessions.admit(req.headers(), sso).await {
            Ok(Admission::SignedIn(active)) => {
                let session = active.session;
                match self
                    .journeys
                    .check_eligible(
                        &session.patient,
                        session.date_of_birth,
                        Some(&session.reporting_id),
                    )
                    .await
                {
                    Ok(()) => Ok(session),
                    Err(e) => Err(self.journey_error(ctx, &session, None, e)),
                }
            }
            Ok(Admission::SignIn) => {
                Err(self.begin_sign_in(ctx, self.sign_in_start_for(ctx)).await)
            }
            Ok(Admission::TimedOut) if req.method() != Method::GET => {
                Err(http_kit::redirect("/session/timed-out"))
            }
            Ok(Admission::TimedOut) => Err(self.timed_out_page(ctx, false)),
            Err(e) => {
                tracing::error!(error = %e, "session store failed");
                Err(self.problem(ctx, None))
            }
        }
    }

    /// The request's live session, without counting it as activity (pages that do not need
    /// one).
    pub(super) async fn optional_session(&self, req: &Request<Bytes>) -> Option<PatientSession> {
        match self.sessions.load(req.headers()).await {
            Ok(SessionState::Active(s)) => Some(s.session),
            _ => None,
        }
    }

    /// The POSTed form when it carries the session's CSRF token, or the "page has expired"
    /// page.
    pub(super) fn csrf_form(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        session: &PatientSession,
    ) -> Result<Form, Response<Bytes>> {
        let form = Form::parse(req.body());
        if form
            .get("csrf_token")
            .is_some_and(|t| SessionManager::check_csrf(session, t))
        {
            Ok(form)
        } else {
            Err(self.csrf_failed(ctx, session))
        }
    }

    fn sign_in_start_for(&self, ctx: &Ctx) -> SignInStart {
        let deep_link = ctx.deep_link.as_ref();
        SignInStart {
            return_to: if is_safe_portal_return(&ctx.path) {
                ctx.path.clone()
            } else {
                "/patient-portal/appointments".into()
            },
            in_nhs_app: ctx.ua_in_app,
            tracking_id: deep_link.and_then(|d| d.tracking_id.clone()),
            asserted_login_identity: deep_link.and_then(|d| d.asserted_login_identity.clone()),
        }
    }

    pub(super) async fn begin_sign_in(&self, ctx: &Ctx, start: SignInStart) -> Response<Bytes> {
        match self.sign_in.begin(start).await {
            Ok(url) => http_kit::redirect(&url),
            Err(f) => self.sign_in_failed(ctx, f),
        }
    }
}
