//! The demo trusts' guidance: contacts, clinic preparation, response times and the
//! request-only trust's policy warning. **Fictional**: the phone numbers are in Ofcom's range
//! kept for drama (01632 960xxx), so none reaches a real line.
//!
//! On purpose: the real-time trust has no policy warning, the request-only trust has one; the
//! request-only trust's gastroenterology clinic has a phone line but no preparation text; the
//! dermatology appointment's preparation comes from the PAS (`patientInstruction`), which wins
//! over the clinic's own text; the orthopaedics video appointment carries the PAS's own line
//! ([`ORTHOPAEDICS_PAS_PHONE`], as a FHIR PAS sends it with the HealthcareService), which comes
//! before the trust's booking team.

use nhs_portal_core::guidance::{Clinic, Contact, Guidance, TrustGuidance};
use nhs_portal_core::{OdsCode, TreatmentFunctionCode};

use super::{REAL_TIME_TRUST_ODS, REQUEST_ONLY_TRUST_ODS};

/// The real-time trust's booking team line.
pub const REAL_TIME_TRUST_PHONE: &str = "01632 960 100";
/// The real-time trust's dermatology clinic line.
pub const DERMATOLOGY_CLINIC_PHONE: &str = "01632 960 330";
/// The request-only trust's booking team line.
pub const REQUEST_ONLY_TRUST_PHONE: &str = "01632 960 500";
/// The request-only trust's eye clinic line.
pub const EYE_CLINIC_PHONE: &str = "01632 960 513";
/// The request-only trust's expected response to a request.
pub const REQUEST_ONLY_EXPECTED_RESPONSE: &str = "within 3 working days";
/// The request-only trust's policy warning before a patient cancels.
pub const REQUEST_ONLY_CANCEL_WARNING: &str =
    "If you cancel 2 appointments in a row for this referral, you may be referred back to your GP.";
/// The request-only trust's eye clinic preparation text.
pub const EYE_CLINIC_PREPARATION: &str = "You may be given eye drops that blur your vision for up to 6 hours. Do not drive to or from this appointment, and bring sunglasses if you have them.";
/// The line the PAS gives with the demo orthopaedics video appointment (its clinic's own).
pub const ORTHOPAEDICS_PAS_PHONE: &str = "01632 960 110";
/// When that line is open, as the PAS gives it.
pub const ORTHOPAEDICS_PAS_HOURS: &str = "Monday to Friday, 8am to 5pm; Saturday, 9am to midday";
/// The preparation the PAS gives for the demo dermatology appointment.
pub const DERMATOLOGY_PAS_INSTRUCTION: &str = "Please do not put cream, make-up or fake tan on the areas of skin you want us to look at on the day.";

fn contact(phone: &str, hours: &str) -> Option<Contact> {
    Some(Contact {
        phone: phone.into(),
        hours: Some(hours.into()),
    })
}

fn code(tfc: &str) -> TreatmentFunctionCode {
    TreatmentFunctionCode::parse(tfc).expect("three digits")
}

fn ods(code: &str) -> OdsCode {
    OdsCode::parse(code).expect("demo ODS code")
}

/// Both demo trusts' guidance.
pub fn trust_guidance() -> Guidance {
    Guidance::new()
        .with_trust(
            ods(REAL_TIME_TRUST_ODS),
            TrustGuidance {
                contact: contact(REAL_TIME_TRUST_PHONE, "Monday to Friday, 8am to 6pm"),
                clinics: vec![Clinic {
                    specialty: code("330"),
                    location: None,
                    contact: contact(DERMATOLOGY_CLINIC_PHONE, "Monday to Friday, 9am to 4:30pm"),
                    preparation: Some(
                        "Bring a list of any creams or medicines you use on your skin.".into(),
                    ),
                }],
                expected_response: Some("within 2 working days".into()),
                cancel_warning: None,
            },
        )
        .with_trust(
            ods(REQUEST_ONLY_TRUST_ODS),
            TrustGuidance {
                contact: contact(
                    REQUEST_ONLY_TRUST_PHONE,
                    "Monday to Friday, 8:30am to 5pm, and Saturday, 9am to 12pm",
                ),
                clinics: vec![
                    Clinic {
                        specialty: code("130"),
                        location: Some("Eastmere Royal Infirmary Eye Clinic".into()),
                        contact: contact(EYE_CLINIC_PHONE, "Monday to Friday, 9am to 5pm"),
                        preparation: Some(EYE_CLINIC_PREPARATION.into()),
                    },
                    // Deliberately without preparation text.
                    Clinic {
                        specialty: code("301"),
                        location: None,
                        contact: contact("01632 960 531", "Monday to Thursday, 9am to 3pm"),
                        preparation: None,
                    },
                ],
                expected_response: Some(REQUEST_ONLY_EXPECTED_RESPONSE.into()),
                cancel_warning: Some(REQUEST_ONLY_CANCEL_WARNING.into()),
            },
        )
}
