//! The answers between the form and the check page, held in the browser but readable only by
//! the session that wrote them.
//!
//! A short-lived, `HttpOnly` cookie on `/patient-portal/appointment` carries the appointment
//! id, the kind of change and the answers (which may hold free text: an "Other" reason,
//! preferred times), **encrypted** with AES-256-GCM (aws-lc-rs) under a key derived from the
//! signed-in session: its id (the session cookie's secret) and its CSRF token. So the cookie
//! holds no readable reason text, and once the session ends (sign-out, timeout, a new
//! sign-in) no one can read it back: the key's inputs are gone with the session. Sign-out and
//! the timed-out page also clear the cookie ([`clear_draft_cookie`]).
//!
//! A cancel draft also records that the patient answered the journey's first question "No, I
//! no longer need it" ([`nhs_portal_core::reasons::StillNeeded`]): [`read`] gives a cancel
//! journey's answers only then, so neither the reasons form, the check page nor the confirm
//! step can be reached by a crafted request that skipped the question.
//!
//! Why not server-side: the store has no place for drafts (it would be a new table and
//! migration in three stores for a value that lives 30 minutes); a cookie keeps the journey
//! working without JavaScript and across portal instances. It carries nothing the last step
//! trusts: the confirm step re-validates everything.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use http::{HeaderValue, Request};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::PatientSession;
use sha2::{Digest, Sha256};

use super::wording::Wording;
use crate::http_kit::{self, Form};
use crate::journeys::ReasonAnswers;
use crate::portal::Inner;

const DRAFT_COOKIE: &str = "nhs_portal_draft";
/// Every appointment's pages are below this path, so one cookie serves (and one clear removes)
/// them all; the appointment id inside says whose it is.
const DRAFT_PATH: &str = "/patient-portal/appointment";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Draft {
    appointment: String,
    kind: String,
    answers: ReasonAnswers,
    /// The patient answered "No, I no longer need it" (cancel drafts only).
    #[serde(default)]
    no_longer_needed: bool,
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

/// The session's draft key.
fn key(session: &PatientSession) -> Option<LessSafeKey> {
    let digest = Sha256::new()
        .chain_update(b"nhs-portal draft key v1\0")
        .chain_update(session.id.as_str().as_bytes())
        .chain_update([0u8])
        .chain_update(session.csrf_token.as_bytes())
        .finalize();
    UnboundKey::new(&AES_256_GCM, &digest)
        .ok()
        .map(LessSafeKey::new)
}

/// Seals `draft` for `session`: base64url of nonce, ciphertext and tag.
fn seal(session: &PatientSession, draft: &Draft) -> Option<String> {
    let key = key(session)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).ok()?;
    let mut data = serde_json::to_vec(draft).ok()?;
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(DRAFT_COOKIE),
        &mut data,
    )
    .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Some(URL_SAFE_NO_PAD.encode(out))
}

/// Opens a sealed draft, if it was sealed for `session`.
fn open(session: &PatientSession, raw: &str) -> Option<Draft> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    if bytes.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut sealed = sealed.to_vec();
    let plain = key(session)?
        .open_in_place(nonce, Aad::from(DRAFT_COOKIE), &mut sealed)
        .ok()?;
    serde_json::from_slice(plain).ok()
}

/// The draft answers of this journey on this appointment, if the request carries them and
/// they were written in this session; for a cancel, only once the patient said they no longer
/// need the appointment.
pub(super) fn read(
    req: &Request<Bytes>,
    session: &PatientSession,
    id: &AppointmentId,
    w: &Wording,
) -> Option<ReasonAnswers> {
    let raw = http_kit::cookie_value(req.headers(), DRAFT_COOKIE)?;
    usable(open(session, &raw)?, id, w)
}

/// A draft's answers, if it is of this journey on this appointment and (a cancel) the question
/// was answered.
fn usable(draft: Draft, id: &AppointmentId, w: &Wording) -> Option<ReasonAnswers> {
    let asked = w.kind != RequestKind::Cancel || draft.no_longer_needed;
    (draft.kind == w.draft_kind && draft.appointment == id.as_str() && asked)
        .then_some(draft.answers)
}

/// A journey's short-lived `HttpOnly`, `SameSite=Lax` cookie.
fn build_cookie(
    name: &'static str,
    value: String,
    path: String,
    age: cookie::time::Duration,
    secure: bool,
) -> Option<HeaderValue> {
    let c = Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(age)
        .build();
    http_kit::set_cookie_value(&c)
}

fn cookie_value(value: String, age: cookie::time::Duration, secure: bool) -> Option<HeaderValue> {
    build_cookie(DRAFT_COOKIE, value, DRAFT_PATH.to_owned(), age, secure)
}

/// The `Set-Cookie` value that removes any draft (sign-out, timeout).
pub(in crate::portal) fn clear_draft_cookie(secure: bool) -> Option<HeaderValue> {
    cookie_value(String::new(), cookie::time::Duration::ZERO, secure)
}

impl Inner {
    /// The `Set-Cookie` value keeping `answers` for 30 minutes, sealed for `session`, or
    /// removing the draft (`None`). A cancel draft records the "no longer needed" answer, so
    /// call this for a cancel only after that answer, or with answers [`read`] gave.
    pub(super) fn draft_cookie(
        &self,
        session: &PatientSession,
        id: &AppointmentId,
        w: &Wording,
        answers: Option<ReasonAnswers>,
    ) -> Option<HeaderValue> {
        let sealed = answers.and_then(|answers| {
            seal(
                session,
                &Draft {
                    appointment: id.as_str().to_owned(),
                    kind: w.draft_kind.to_owned(),
                    answers,
                    no_longer_needed: w.kind == RequestKind::Cancel,
                },
            )
        });
        match sealed {
            Some(v) => cookie_value(v, cookie::time::Duration::minutes(30), self.secure_cookies),
            None => clear_draft_cookie(self.secure_cookies),
        }
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
        build_cookie(name, value, path, age, self.secure_cookies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use nhs_portal_core::NhsNumber;
    use nhs_portal_core::store::SessionId;

    fn session(id: &str) -> PatientSession {
        let now = Utc::now();
        PatientSession {
            id: SessionId::new(id),
            reporting_id: "r".into(),
            patient: NhsNumber::parse("9000000009").unwrap(),
            date_of_birth: None,
            display_name: None,
            created_at: now,
            last_seen_at: now,
            absolute_expiry: now,
            in_nhs_app: false,
            tracking_id: None,
            csrf_token: "csrf".into(),
        }
    }

    #[test]
    fn a_draft_opens_only_in_its_session_and_hides_its_text() {
        let draft = Draft {
            appointment: "a-1".into(),
            kind: "cancel".into(),
            answers: ReasonAnswers {
                reason: "other".into(),
                details: Some("my private reason".into()),
            },
            no_longer_needed: true,
        };
        let mine = session("s-1");
        let sealed = seal(&mine, &draft).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("private"));
        assert_eq!(open(&mine, &sealed).unwrap().answers, draft.answers);
        // Another session (a new sign-in on the same browser) cannot read it.
        assert!(open(&session("s-2"), &sealed).is_none());
        let mut other_csrf = mine.clone();
        other_csrf.csrf_token = "other".into();
        assert!(open(&other_csrf, &sealed).is_none());
        // Two seals of one draft differ (a fresh nonce each time).
        assert_ne!(seal(&mine, &draft).unwrap(), sealed);
        assert!(open(&mine, "not-base64!").is_none());
        assert!(open(&mine, "").is_none());
    }

    #[test]
    fn a_cancel_draft_counts_only_after_the_still_needed_question() {
        use super::super::wording::{CANCEL, RESCHEDULE};
        let id = AppointmentId::parse("a-1").unwrap();
        let draft = |kind: &str, asked: bool| Draft {
            appointment: "a-1".into(),
            kind: kind.into(),
            answers: ReasonAnswers::default(),
            no_longer_needed: asked,
        };
        // (draft kind, question answered, journey) -> usable
        let table = [
            ("cancel", true, &CANCEL, true),
            ("cancel", false, &CANCEL, false),
            ("reschedule", false, &RESCHEDULE, true),
            ("reschedule", true, &CANCEL, false),
            ("cancel", true, &RESCHEDULE, false),
        ];
        for (kind, asked, w, want) in table {
            assert_eq!(
                usable(draft(kind, asked), &id, w).is_some(),
                want,
                "{kind} {asked}"
            );
        }
        let other = AppointmentId::parse("a-2").unwrap();
        assert!(usable(draft("cancel", true), &other, &CANCEL).is_none());
        // An old cookie without the field reads as "not answered".
        let old: Draft = serde_json::from_str(
            r#"{"appointment":"a-1","kind":"cancel","answers":{"reason":"","details":null}}"#,
        )
        .unwrap();
        assert!(usable(old, &id, &CANCEL).is_none());
    }
}
