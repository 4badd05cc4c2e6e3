//! The eligibility gate's pages: each rule the patient does not meet has its own page, with no
//! appointment data on it (the rule is [`nhs_portal_core::eligibility`], applied by
//! `Journeys::check_eligible` from the session gate and at sign-in). Each says what the patient
//! can do instead and offers to sign out (a shared device is likely for a child or a flagged
//! patient). The restricted and no-access pages do not say which flag is set: someone looking
//! over the patient's shoulder learns nothing from them.

use bytes::Bytes;
use http::{Response, StatusCode};
use nhs_portal_core::eligibility::Ineligible;
use nhs_portal_core::store::PatientSession;
use serde::Serialize;

use super::Inner;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::Link;

const CONTACT: &str = "If you need to change or cancel an appointment, contact the hospital's booking team using the phone number on your appointment letter.";

/// A sign-out button on a refusal page.
#[derive(Debug, Clone, Serialize)]
struct Button {
    method: &'static str,
    action: &'static str,
    csrf: bool,
    text: &'static str,
}

/// The `message` template's fields, with paragraphs made at run time (the minimum age is the
/// trust's).
#[derive(Debug, Clone, Serialize)]
struct Refusal {
    paragraphs: Vec<String>,
    urgent: bool,
    link: Option<Link>,
    reference: Option<String>,
    button: Option<Button>,
}

/// The title and paragraphs of the page for `why`.
fn wording(why: Ineligible, minimum_age: u32) -> (&'static str, Vec<String>) {
    match why {
        Ineligible::TooYoung { .. } | Ineligible::UnknownAge => (
            "You cannot use this service yet",
            vec![
                format!(
                    "You need to be aged {minimum_age} or over to view and manage your hospital appointments online."
                ),
                "A parent or carer can contact the hospital's booking team about your appointments, using the phone number on the appointment letter.".into(),
            ],
        ),
        Ineligible::NoPortalAccess | Ineligible::Restricted => (
            "You cannot view your appointments online",
            vec![
                "Your hospital appointments cannot be shown in this service.".into(),
                CONTACT.into(),
            ],
        ),
        Ineligible::DateOfBirthMismatch => (
            "We could not match your details",
            vec![
                "The date of birth in your NHS login does not match the one the hospital holds, so we cannot show your appointments.".into(),
                "Contact the hospital's booking team using the phone number on your appointment letter to check the details they hold. You can check the details in your NHS login in the NHS App settings.".into(),
            ],
        ),
    }
}

impl Inner {
    /// The refusal page for `why` (403). `session` is the signed-in patient, or `None` at
    /// sign-in (no session was made).
    pub(super) fn ineligible(
        &self,
        ctx: &Ctx,
        session: Option<&PatientSession>,
        why: Ineligible,
    ) -> Response<Bytes> {
        let (title, paragraphs) = wording(why, self.cfg.eligibility.minimum_age());
        let body = Refusal {
            paragraphs,
            urgent: true,
            link: Some(Link::to_appointments("Go back to the NHS App").app_home()),
            reference: None,
            button: session.map(|_| Button {
                method: "post",
                action: "/sign-out",
                csrf: true,
                text: "Sign out",
            }),
        };
        self.page(
            ctx,
            session,
            StatusCode::FORBIDDEN,
            "message",
            title,
            &body,
            PageOpts {
                fixed_path: Some("/patient-portal/appointments"),
                ..PageOpts::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_its_own_words_and_none_names_the_flag() {
        let d = chrono::NaiveDate::from_ymd_opt(2031, 1, 1).unwrap();
        let cases = [
            (Ineligible::TooYoung { eligible_from: d }, "yet"),
            (Ineligible::UnknownAge, "yet"),
            (Ineligible::NoPortalAccess, "online"),
            (Ineligible::Restricted, "online"),
            (Ineligible::DateOfBirthMismatch, "match"),
        ];
        for (why, in_title) in cases {
            let (title, paragraphs) = wording(why, 18);
            assert!(title.contains(in_title), "{why:?}: {title}");
            let all = paragraphs.join(" ").to_lowercase();
            assert!(
                !all.contains("restricted") && !all.contains("flag"),
                "{all}"
            );
        }
        assert!(wording(Ineligible::UnknownAge, 18).1[0].contains("aged 18 or over"));
    }
}
