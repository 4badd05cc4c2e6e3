//! The trust staff worklist page: the booking team sees patients' pending cancel and reschedule
//! requests and marks each done (fulfilled) or rejected, through
//! [`nhs_portal_pas::worklist::Worklist`]. Mounted in the portal at `/staff`.
//!
//! Staff sign in with their name and a shared access code (from configuration; the reference
//! portal prints a generated one in demo mode). This is a simple gate for a demo and a reference:
//! a trust would put its own staff sign-in (smartcard, SSO) in front instead. Staff sessions are
//! kept in this process's memory, in an `HttpOnly; SameSite=Strict` cookie scoped to `/staff`,
//! and every POST carries the staff session's CSRF token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{RequestKind, RequestOutcome};
use nhs_portal_core::uk_time::{self, UkLocal};
use nhs_portal_core::{OdsCode, Organisation};
use nhs_portal_pas::worklist::{Worklist, WorklistError};
use serde_json::json;

use crate::journeys::{CANCEL_REASONS, RESCHEDULE_REASONS, reason_label};
use crate::pages::{Layout, Pages};
use crate::portal::{Handler, content_security_policy};
use crate::session::random_token;

const COOKIE: &str = "nhs_portal_staff";
const STAFF_SESSION: Duration = Duration::hours(8);

#[derive(Debug, Clone)]
struct StaffSession {
    name: String,
    csrf: String,
    expires: DateTime<Utc>,
}

/// The staff worklist pages.
pub struct StaffPages {
    worklist: Worklist,
    trusts: Vec<Organisation>,
    access_code: String,
    pages: Pages,
    clock: Arc<dyn Clock>,
    secure: bool,
    sessions: Mutex<HashMap<String, StaffSession>>,
}

impl std::fmt::Debug for StaffPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffPages")
            .field("trusts", &self.trusts)
            .finish_non_exhaustive()
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl StaffPages {
    /// Staff pages over a worklist for these trusts, opened by `access_code`. `secure` marks the
    /// cookie `Secure` (false only on plain-http localhost).
    pub fn new(
        worklist: Worklist,
        trusts: Vec<Organisation>,
        access_code: impl Into<String>,
        clock: Arc<dyn Clock>,
        secure: bool,
    ) -> Result<Self, crate::pages::PageError> {
        Ok(Self {
            worklist,
            trusts,
            access_code: access_code.into(),
            pages: Pages::new()?,
            clock,
            secure,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn session(&self, req: &Request<Bytes>) -> Option<StaffSession> {
        let token = req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse_encoded(v.to_owned()))
            .filter_map(Result::ok)
            .find(|c| c.name() == COOKIE)
            .map(|c| c.value().to_owned())?;
        let now = self.clock.now();
        let mut g = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        g.retain(|_, s| s.expires > now);
        g.get(&token).cloned()
    }

    fn cookie(&self, value: &str, remove: bool) -> HeaderValue {
        let mut c = Cookie::build((COOKIE, value.to_owned()))
            .path("/staff")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .build();
        if remove {
            c.make_removal();
        }
        HeaderValue::from_str(&c.encoded().to_string()).unwrap_or(HeaderValue::from_static(""))
    }

    fn html(
        &self,
        status: StatusCode,
        title: &str,
        mut data: serde_json::Value,
    ) -> Response<Bytes> {
        let layout = Layout {
            title: title.to_owned(),
            service_name: "Booking team worklist".into(),
            in_app: false,
            signed_in: false,
            csrf_token: String::new(),
            back_href: None,
            show_help: false,
            has_errors: data
                .get("errors")
                .is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty())),
            timeout: None,
            path: "/staff".into(),
            go_home: false,
        };
        if let serde_json::Value::Object(m) = &mut data {
            m.insert("layout".into(), json!(layout));
        }
        let (status, body) = match self.pages.render("staff", &data) {
            Ok(b) => (status, b),
            Err(e) => {
                tracing::error!(error = %e, "staff page render failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the worklist".into(),
                )
            }
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::CONTENT_SECURITY_POLICY, content_security_policy())
            .body(Bytes::from(body))
            .unwrap_or_default()
    }

    fn redirect(location: &str) -> Response<Bytes> {
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, location)
            .body(Bytes::new())
            .unwrap_or_default()
    }

    fn sign_in_page(&self, error: bool) -> Response<Bytes> {
        let errors = if error {
            json!([{"field": "code", "message": "Enter your name and the correct access code"}])
        } else {
            json!([])
        };
        self.html(
            if error {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            },
            "Sign in to the booking team worklist",
            json!({"sign_in": true, "errors": errors, "notice": null}),
        )
    }

    async fn list(&self, staff: &StaffSession, notice: Option<&str>) -> Response<Bytes> {
        let mut trusts = Vec::new();
        for org in &self.trusts {
            let items = match self.worklist.pending(&org.ods_code).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "worklist failed");
                    return self.html(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Sorry, there is a problem with the worklist",
                        json!({"sign_in": false, "notice": "Try again later.", "trusts": [], "staff_name": staff.name, "staff_csrf": staff.csrf}),
                    );
                }
            };
            let items: Vec<_> = items
                .iter()
                .map(|item| {
                    let r = &item.request;
                    let reasons = match r.kind {
                        RequestKind::Cancel => &CANCEL_REASONS[..],
                        RequestKind::Reschedule => &RESCHEDULE_REASONS[..],
                    };
                    let a = item.appointment.as_ref();
                    json!({
                        "id": r.id.to_string(),
                        "kind": match r.kind { RequestKind::Cancel => "Cancel", RequestKind::Reschedule => "Reschedule" },
                        "is_reschedule": r.kind == RequestKind::Reschedule,
                        "fulfil_label": match r.kind { RequestKind::Cancel => "Mark as cancelled", RequestKind::Reschedule => "Mark as moved to this time" },
                        "title": a.map(|a| a.description.clone()).unwrap_or_else(|| "Appointment (not available from the PAS just now)".into()),
                        "nhs_number": r.patient.formatted(),
                        "when": a.map(|a| uk_time::format_date_time(a.start)).unwrap_or_default(),
                        "reason": reason_label(reasons, &r.reason).unwrap_or(r.reason.as_str()),
                        "details": r.details,
                        "requested": uk_time::format_date_time(r.created_at),
                        "suggested": a.map(|a| (uk_time::to_uk(a.start) + Duration::days(7)).format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default(),
                    })
                })
                .collect();
            trusts.push(json!({"name": org.name, "ods": org.ods_code.as_str(), "items": items}));
        }
        self.html(
            StatusCode::OK,
            "Booking team worklist",
            json!({"sign_in": false, "notice": notice, "trusts": trusts, "staff_name": staff.name, "staff_csrf": staff.csrf}),
        )
    }

    async fn resolve(
        &self,
        staff: &StaffSession,
        id: &str,
        action: &str,
        f: &HashMap<String, String>,
    ) -> Response<Bytes> {
        let (Ok(id), Some(ods)) = (
            uuid::Uuid::parse_str(id),
            f.get("ods")
                .and_then(|o| OdsCode::parse(o).ok())
                .filter(|o| self.trusts.iter().any(|t| &t.ods_code == o)),
        ) else {
            return self.list(staff, Some("That request was not found.")).await;
        };
        let result = if action == "reject" {
            self.worklist.reject(&ods, id, &staff.name, None).await
        } else {
            let pending = match self.worklist.pending(&ods).await {
                Ok(p) => p,
                Err(_) => {
                    return self
                        .list(
                            staff,
                            Some("Sorry, there is a problem with the worklist. Try again."),
                        )
                        .await;
                }
            };
            let Some(item) = pending.iter().find(|i| i.request.id == id) else {
                return self
                    .list(staff, Some("That request is no longer waiting."))
                    .await;
            };
            let outcome = match item.request.kind {
                RequestKind::Cancel => RequestOutcome::Cancelled,
                RequestKind::Reschedule => {
                    let start = f
                        .get("new_start")
                        .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
                        .and_then(|local| match uk_time::from_uk_local(local) {
                            UkLocal::Exact(t) => Some(t),
                            UkLocal::Ambiguous { earliest, .. } => Some(earliest),
                            _ => None,
                        });
                    match start {
                        Some(t) if t > self.clock.now() => RequestOutcome::Rescheduled {
                            replaced_by: None,
                            new_start: Some(t),
                        },
                        _ => {
                            return self
                                .list(
                                    staff,
                                    Some("Enter a new date and time in the future (UK time)."),
                                )
                                .await;
                        }
                    }
                }
            };
            self.worklist
                .fulfil(&ods, id, &staff.name, &outcome, None)
                .await
        };
        match result {
            Ok(_) => Self::redirect("/staff?done=1"),
            Err(WorklistError::NotPending | WorklistError::NotFound) => {
                self.list(staff, Some("That request is no longer waiting."))
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "worklist action failed");
                self.list(
                    staff,
                    Some("That could not be done. Nothing has been changed. Try again."),
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Handler for StaffPages {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        let session = self.session(&req);
        match (req.method().clone(), path.as_str(), session) {
            (Method::GET, "/staff", None) => self.sign_in_page(false),
            (Method::GET, "/staff", Some(s)) => {
                let done = req.uri().query().is_some_and(|q| q.contains("done=1"));
                self.list(
                    &s,
                    done.then_some("Done. The patient's appointment has been updated."),
                )
                .await
            }
            (Method::POST, "/staff/sign-in", _) => {
                let f = form(req.body());
                let name = f.get("name").map(|n| n.trim()).unwrap_or("");
                let code_ok = f.get("code").is_some_and(|c| {
                    crate::nhs_login::constant_time_eq(c.as_bytes(), self.access_code.as_bytes())
                });
                if name.is_empty() || name.chars().count() > 100 || !code_ok {
                    return self.sign_in_page(true);
                }
                let token = random_token();
                self.sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        token.clone(),
                        StaffSession {
                            name: name.to_owned(),
                            csrf: random_token(),
                            expires: self.clock.now() + STAFF_SESSION,
                        },
                    );
                let mut res = Self::redirect("/staff");
                res.headers_mut()
                    .append(header::SET_COOKIE, self.cookie(&token, false));
                res
            }
            (Method::POST, p, Some(s)) => {
                let f = form(req.body());
                if !f.get("csrf_token").is_some_and(|t| {
                    crate::nhs_login::constant_time_eq(t.as_bytes(), s.csrf.as_bytes())
                }) {
                    return self.html(
                        StatusCode::FORBIDDEN,
                        "This page has expired",
                        json!({"sign_in": false, "notice": "Nothing has been changed. Go back to the worklist and try again.", "trusts": [], "staff_name": s.name, "staff_csrf": s.csrf}),
                    );
                }
                if p == "/staff/sign-out" {
                    self.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|_, v| v.csrf != s.csrf);
                    let mut res = Self::redirect("/staff");
                    res.headers_mut()
                        .append(header::SET_COOKIE, self.cookie("", true));
                    return res;
                }
                let parts: Vec<&str> = p
                    .trim_start_matches("/staff/requests/")
                    .split('/')
                    .collect();
                match parts.as_slice() {
                    [id, action @ ("fulfil" | "reject")] => self.resolve(&s, id, action, &f).await,
                    _ => Self::redirect("/staff"),
                }
            }
            (Method::POST, _, None) => Self::redirect("/staff"),
            _ => Self::redirect("/staff"),
        }
    }
}
