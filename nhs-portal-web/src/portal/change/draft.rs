//! The answers between the form and the check page: a short-lived, `HttpOnly` cookie scoped to
//! the appointment's path, holding the kind of change and the answers (base64url JSON). It
//! carries nothing the last step trusts: the confirm step re-validates everything.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Request};
use nhs_portal_core::AppointmentId;

use super::href;
use super::wording::Wording;
use crate::http_kit::{self, Form};
use crate::journeys::ReasonAnswers;
use crate::portal::Inner;

const DRAFT_COOKIE: &str = "nhs_portal_draft";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Draft {
    kind: String,
    answers: ReasonAnswers,
}

/// The answers a reasons form posted (free text trimmed, empty as none).
pub(super) fn answers_from_form(form: &Form) -> ReasonAnswers {
    ReasonAnswers {
        reason: form.get("reason").unwrap_or("").to_owned(),
        details: form
            .get("details")
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty()),
    }
}

/// The draft answers of this journey, if the request carries them.
pub(super) fn read(req: &Request<Bytes>, w: &Wording) -> Option<ReasonAnswers> {
    let raw = http_kit::cookie_value(req.headers(), DRAFT_COOKIE)?;
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let draft: Draft = serde_json::from_slice(&bytes).ok()?;
    (draft.kind == w.draft_kind).then_some(draft.answers)
}

impl Inner {
    /// The `Set-Cookie` value keeping `answers` for 30 minutes, or removing the draft (`None`).
    pub(super) fn draft_cookie(
        &self,
        id: &AppointmentId,
        w: &Wording,
        answers: Option<ReasonAnswers>,
    ) -> Option<HeaderValue> {
        let keep = answers.is_some();
        let value = answers
            .map(|answers| Draft {
                kind: w.draft_kind.to_owned(),
                answers,
            })
            .and_then(|d| serde_json::to_vec(&d).ok())
            .map(|v| URL_SAFE_NO_PAD.encode(v))
            .unwrap_or_default();
        self.step_cookie(DRAFT_COOKIE, value, href(id, ""), keep)
    }

    /// A journey's short-lived `HttpOnly` cookie scoped to `path`: `value` kept for 30 minutes,
    /// or the cookie removed (`keep` false).
    pub(super) fn step_cookie(
        &self,
        name: &'static str,
        value: String,
        path: String,
        keep: bool,
    ) -> Option<HeaderValue> {
        let age = if keep {
            cookie::time::Duration::minutes(30)
        } else {
            cookie::time::Duration::ZERO
        };
        let c = Cookie::build((name, value))
            .path(path)
            .http_only(true)
            .secure(self.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(age)
            .build();
        http_kit::set_cookie_value(&c)
    }
}
