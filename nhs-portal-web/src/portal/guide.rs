//! The details a patient needs, as the pages show them: whom to call, how to prepare and what
//! happens next. The rules are `nhs_portal_core::guidance`'s; this room only words them and
//! fills the view models. Which actions are offered stays with `allowed_actions` (the
//! appointment page shows them only where it allows them).

use chrono::{DateTime, Utc};
use nhs_portal_core::guidance::{ContactSource, Guidance, NextSteps, SentRequest, next_steps};
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::RequestState;
use nhs_portal_core::{Appointment, uk_time};
use serde::Serialize;

use crate::journeys::AppointmentView;

/// What the page says when the trust has configured no contact.
pub(super) const LETTER: &str =
    "contact the hospital's booking team using the phone number on your appointment letter";

/// What the page says when the trust has not said how soon it answers.
const NO_EXPECTED_RESPONSE: &str = "as soon as they can";

/// A phone line as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ContactModel {
    /// "Contact the clinic" or "Contact the booking team".
    pub(super) heading: &'static str,
    pub(super) phone: String,
    /// The `tel:` link's number (digits and a leading `+` only).
    pub(super) tel: String,
    pub(super) hours: Option<String>,
}

impl ContactModel {
    /// The contact for `a`, from the PAS or the trust's configuration, if either gives one.
    pub(super) fn of(guidance: &Guidance, a: &Appointment) -> Option<Self> {
        let (c, source) = guidance.contact(a)?;
        Some(Self {
            heading: match source {
                ContactSource::Pas | ContactSource::Clinic => "Contact the clinic",
                ContactSource::Trust => "Contact the booking team",
            },
            tel: c
                .phone
                .chars()
                .enumerate()
                .filter(|(i, ch)| ch.is_ascii_digit() || (*i == 0 && *ch == '+'))
                .map(|(_, ch)| ch)
                .collect(),
            phone: c.phone.clone(),
            hours: c.hours.clone(),
        })
    }

    /// "call 01632 960 100 (Monday to Friday, 9am to 5pm)", for a sentence.
    pub(super) fn sentence(&self) -> String {
        match &self.hours {
            Some(h) => format!("call {} ({h})", self.phone),
            None => format!("call {}", self.phone),
        }
    }
}

/// How to reach the hospital, for a sentence: the configured line or the appointment letter.
pub(super) fn how_to_contact(contact: Option<&ContactModel>) -> String {
    contact.map_or_else(|| LETTER.to_owned(), ContactModel::sentence)
}

/// The "What happens next" block.
#[derive(Debug, Clone, Serialize)]
pub(super) struct NextModel {
    pub(super) heading: &'static str,
    pub(super) paragraphs: Vec<String>,
}

/// Everything the appointment page shows from the guidance.
#[derive(Debug, Clone, Serialize)]
pub(super) struct GuideModel {
    pub(super) contact: Option<ContactModel>,
    pub(super) preparation: Option<String>,
    pub(super) next: Option<NextModel>,
    /// The "Contact the hospital if" care card: only while the appointment is still to come.
    pub(super) upcoming: bool,
}

/// The patient's pending request on `view`, if any, as the guidance reads it.
fn sent(view: &AppointmentView) -> Option<SentRequest> {
    view.pending
        .as_ref()
        .filter(|p| p.state == RequestState::Pending)
        .map(|p| SentRequest {
            kind: p.kind,
            sent_at: p.created_at,
        })
}

/// How soon the trust of `a` answers, for a sentence.
pub(super) fn expected_response(guidance: &Guidance, a: &Appointment) -> String {
    guidance
        .expected_response(a)
        .unwrap_or(NO_EXPECTED_RESPONSE)
        .to_owned()
}

/// The appointment page's guidance for `view` at `now`.
pub(super) fn guide(guidance: &Guidance, view: &AppointmentView, now: DateTime<Utc>) -> GuideModel {
    let a = &view.appointment;
    let contact = ContactModel::of(guidance, a);
    let how = how_to_contact(contact.as_ref());
    let steps = next_steps(a, sent(view), now);
    let next = match steps {
        NextSteps::Upcoming | NextSteps::Past => None,
        NextSteps::RequestSent(r) => Some(NextModel {
            heading: "What happens next",
            paragraphs: vec![
                format!(
                    "You sent your request to {} this appointment on {}.",
                    match r.kind {
                        RequestKind::Cancel => "cancel",
                        RequestKind::Reschedule => "change",
                    },
                    uk_time::format_date(r.sent_at)
                ),
                format!(
                    "The hospital's booking team usually replies {}.",
                    expected_response(guidance, a)
                ),
                "Until they reply, this appointment is still booked. Go to it unless they tell you otherwise.".into(),
            ],
        }),
        NextSteps::CancelledByHospital => Some(NextModel {
            heading: "What happens now",
            paragraphs: vec![
                "The hospital cancelled this appointment. You do not need to go to it.".into(),
                "If you still need to be seen, the hospital will contact you with a new appointment.".into(),
                format!("If you have not heard from them, or you have questions, {how}."),
            ],
        }),
        NextSteps::CancelledByPatient => Some(NextModel {
            heading: "What happens now",
            paragraphs: vec![
                "This appointment was cancelled as you asked. You do not need to go to it.".into(),
                format!("If you need this appointment again, {how}."),
            ],
        }),
        NextSteps::Cancelled => Some(NextModel {
            heading: "What happens now",
            paragraphs: vec![
                "This appointment has been cancelled. You do not need to go to it.".into(),
                format!("If you did not expect this, {how}."),
            ],
        }),
    };
    GuideModel {
        preparation: guidance.preparation(a, now).map(|(t, _)| t.to_owned()),
        upcoming: matches!(steps, NextSteps::Upcoming | NextSteps::RequestSent(_)),
        next,
        contact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhs_portal_core::guidance::{Contact, TrustGuidance};
    use nhs_portal_core::{AppointmentStatus, OdsCode};

    fn guidance(phone: &str) -> Guidance {
        Guidance::new().with_trust(
            OdsCode::parse("RX1").unwrap(),
            TrustGuidance {
                contact: Some(Contact {
                    phone: phone.into(),
                    hours: None,
                }),
                ..TrustGuidance::default()
            },
        )
    }

    #[test]
    fn the_tel_link_keeps_only_digits_and_a_leading_plus() {
        let a = Appointment::builder()
            .patient("9000000009")
            .organisation("RX1", "Toy")
            .specialty("330", "DERMATOLOGY")
            .status(AppointmentStatus::Booked)
            .start(Utc::now())
            .medium(nhs_portal_core::ConsultationMedium::Video)
            .build()
            .unwrap();
        for (phone, tel) in [
            ("01632 960 100", "01632960100"),
            ("+44 (0)1632 960100", "+4401632960100"),
            ("0800-123+4", "08001234"),
        ] {
            let c = ContactModel::of(&guidance(phone), &a).unwrap();
            assert_eq!(c.tel, tel, "{phone}");
            assert_eq!(c.heading, "Contact the booking team");
            assert_eq!(c.sentence(), format!("call {phone}"));
        }
        assert!(how_to_contact(None).contains("appointment letter"));
    }
}
