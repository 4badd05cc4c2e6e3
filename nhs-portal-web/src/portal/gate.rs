//! The session gate in front of the patient pages: the session module decides (idle limit,
//! single sign-on, see [`crate::session::SessionManager::admit`]); the gate turns its answer
//! into a page or a redirect, then applies the eligibility rule (`Journeys::check_eligible`:
//! an ineligible patient gets their refusal page on every patient page and journey step, GET
//! or POST), and checks the CSRF token of every POST.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::return_path::is_safe_portal_return;
use nhs_portal_core::store::PatientSession;

use super::Inner;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::{Link, Message};
use crate::http_kit::{self, Form};
use crate::session::{Admission, SessionManager, SessionState};
use crate::sign_in::SignInStart;

const CROSS_SITE: Message = Message::new(&[
    "The form you used was not on this service's website, so nothing has been changed.",
    "Go back to your appointments and try again from there.",
])
.link(Link::to_appointments("View your hospital appointments"));

impl Inner {
    /// The page for a POST sent from another site (see [`http_kit::is_cross_site`]): nothing
    /// was read or changed.
    pub(super) fn cross_site_refused(&self, req: &Request<Bytes>) -> Response<Bytes> {
        tracing::warn!(path = req.uri().path(), "cross-site POST refused");
        self.message(
            &Ctx::of(req),
            None,
            StatusCode::FORBIDDEN,
            "Sorry, we could not accept that form",
            &CROSS_SITE,
            PageOpts::default(),
        )
    }

    /// The signed-in patient (touched), or the response to send instead: sign-in (through SSO
    /// when the deep link offers it, even over a live session), or "you have been signed out".
    /// A session cookie with no live session behind it is cleared on the way.
    pub(super) async fn patient(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
    ) -> Result<PatientSession, Response<Bytes>> {
        let sso = ctx
            .deep_link
            .as_ref()
            .is_some_and(|d| d.asserted_login_identity.is_some());
        let stale = |res: Response<Bytes>| {
            if self.sessions.has_cookie(req.headers()) {
                http_kit::with_cookie(res, self.sessions.clear_cookie())
            } else {
                res
            }
        };
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
            // The live session stays until the callback knows who signed in.
            Ok(Admission::Reauthenticate(_)) => Err(self
                .begin_sign_in(ctx, req, self.sign_in_start_for(ctx))
                .await),
            Ok(Admission::SignIn) => Err(stale(
                self.begin_sign_in(ctx, req, self.sign_in_start_for(ctx))
                    .await,
            )),
            Ok(Admission::TimedOut) if req.method() != Method::GET => {
                Err(stale(http_kit::redirect("/session/timed-out")))
            }
            Ok(Admission::TimedOut) => Err(stale(self.timed_out_page(ctx, false))),
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
            return_to: return_path_without_assertion(&ctx.path, ctx.query.as_deref()),
            in_nhs_app: ctx.ua_in_app,
            tracking_id: deep_link.and_then(|d| d.tracking_id.clone()),
            asserted_login_identity: deep_link.and_then(|d| d.asserted_login_identity.clone()),
            force_login: false,
        }
    }

    /// Sends the browser to NHS login, binding the sign-in to this browser (see
    /// `sign_in_out::binding`); after a sign-out in this browser NHS login is asked to sign the
    /// patient in afresh (`prompt=login`).
    pub(super) async fn begin_sign_in(
        &self,
        ctx: &Ctx,
        req: &Request<Bytes>,
        mut start: SignInStart,
    ) -> Response<Bytes> {
        start.force_login = start.asserted_login_identity.is_none() && self.signed_out_here(req);
        match self.sign_in.begin(start).await {
            Ok(url) => match self.bind_sign_in(req, &url) {
                Some(cookie) => http_kit::with_cookie(http_kit::redirect(&url), cookie),
                None => {
                    tracing::error!("the sign-in URL has no state to bind to the browser");
                    self.sign_in_failed(ctx, crate::sign_in::SignInFailure::Unavailable)
                }
            },
            Err(f) => self.sign_in_failed(ctx, f),
        }
    }
}

/// Where a sign-in from `path?query` returns to: the same page and query, without the NHS App's
/// `assertedLoginIdentity` (a one-use token that must not linger in the address bar or history),
/// else the path alone, else the appointment list.
fn return_path_without_assertion(path: &str, query: Option<&str>) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("assertedLoginIdentity"))
        .collect();
    let with_query = if kept.is_empty() {
        path.to_owned()
    } else {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .finish();
        format!("{path}?{q}")
    };
    [with_query, path.to_owned()]
        .into_iter()
        .find(|p| is_safe_portal_return(p))
        .unwrap_or_else(|| "/patient-portal/appointments".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_return_path_keeps_the_deep_link_but_not_the_assertion() {
        let p = "/patient-portal/appointment/a-1";
        let cases = [
            (None, p.to_owned()),
            (Some("assertedLoginIdentity=jwt"), p.to_owned()),
            (
                Some("extSystemName=Portal&trackingId=t-1&assertedLoginIdentity=a.b.c"),
                format!("{p}?extSystemName=Portal&trackingId=t-1"),
            ),
            (Some("x=1"), format!("{p}?x=1")),
        ];
        for (query, want) in cases {
            assert_eq!(
                super::return_path_without_assertion(p, query),
                want,
                "{query:?}"
            );
        }
        let long = "x".repeat(600);
        assert_eq!(super::return_path_without_assertion(p, Some(&long)), p);
        assert_eq!(
            super::return_path_without_assertion("/staff", None),
            "/patient-portal/appointments"
        );
    }
}
