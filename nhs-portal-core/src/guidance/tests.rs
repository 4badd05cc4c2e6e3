// The tables name their columns in a comment above each; their tuple types stay inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::RequestStatus;
use crate::request_status::{Capabilities, allowed_actions};
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn appt(tfc: &str, place: Option<&str>, status: AppointmentStatus, days: i64) -> Appointment {
    let mut b = Appointment::builder()
        .id("a-1")
        .patient("9000000009")
        .organisation("RX1", "Toy Hospitals NHS Trust")
        .specialty(tfc, "DERMATOLOGY")
        .status(status)
        .start(now() + Duration::days(days))
        .medium(crate::ConsultationMedium::Telephone);
    if let Some(p) = place {
        b = b.location(p, ["1 Road"]);
    }
    b.build().unwrap()
}

fn contact(phone: &str) -> Option<Contact> {
    Some(Contact {
        phone: phone.into(),
        hours: Some("Monday to Friday".into()),
    })
}

fn clinic(tfc: &str, place: Option<&str>, phone: Option<&str>, prep: Option<&str>) -> Clinic {
    Clinic {
        specialty: TreatmentFunctionCode::parse(tfc).unwrap(),
        location: place.map(Into::into),
        contact: phone.and_then(contact),
        preparation: prep.map(Into::into),
    }
}

fn guidance(trust_phone: Option<&str>, clinics: Vec<Clinic>) -> Guidance {
    Guidance::new().with_trust(
        OdsCode::parse("RX1").unwrap(),
        TrustGuidance {
            contact: trust_phone.and_then(contact),
            clinics,
            expected_response: Some("within 2 working days".into()),
            cancel_warning: Some("Cancel twice and you may go back to your GP.".into()),
        },
    )
}

#[test]
fn contact_comes_from_the_matching_clinic_then_the_trust() {
    use ContactSource::{Clinic as FromClinic, Trust};
    let a_place = Some("Clinic A");
    // (trust line, clinics, appointment specialty, appointment place) -> (phone, source)
    let table: Vec<(
        Option<&str>,
        Vec<Clinic>,
        &str,
        Option<&str>,
        Option<(&str, ContactSource)>,
    )> = vec![
        (None, vec![], "330", a_place, None),
        (Some("0100"), vec![], "330", a_place, Some(("0100", Trust))),
        (
            Some("0100"),
            vec![clinic("330", None, Some("0330"), None)],
            "330",
            a_place,
            Some(("0330", FromClinic)),
        ),
        // Another specialty's clinic does not match.
        (
            Some("0100"),
            vec![clinic("130", None, Some("0130"), None)],
            "330",
            a_place,
            Some(("0100", Trust)),
        ),
        // A clinic at one location matches only there.
        (
            Some("0100"),
            vec![clinic("330", Some("Clinic B"), Some("0331"), None)],
            "330",
            a_place,
            Some(("0100", Trust)),
        ),
        (
            Some("0100"),
            vec![clinic("330", Some("Clinic A"), Some("0331"), None)],
            "330",
            a_place,
            Some(("0331", FromClinic)),
        ),
        (
            Some("0100"),
            vec![clinic("330", Some("Clinic A"), Some("0331"), None)],
            "330",
            None,
            Some(("0100", Trust)),
        ),
        // A matching clinic without a line falls through to the next clinic, then the trust.
        (
            Some("0100"),
            vec![
                clinic("330", None, None, Some("prep")),
                clinic("330", None, Some("0332"), None),
            ],
            "330",
            a_place,
            Some(("0332", FromClinic)),
        ),
        (
            Some("0100"),
            vec![clinic("330", None, None, Some("prep"))],
            "330",
            a_place,
            Some(("0100", Trust)),
        ),
        (
            None,
            vec![clinic("330", None, None, Some("prep"))],
            "330",
            a_place,
            None,
        ),
    ];
    for (i, (trust, clinics, tfc, place, want)) in table.into_iter().enumerate() {
        let g = guidance(trust, clinics);
        let a = appt(tfc, place, AppointmentStatus::Booked, 3);
        let got = g.contact(&a).map(|(c, s)| (c.phone.as_str(), s));
        assert_eq!(got, want, "row {i}");
    }
    // Another trust's guidance never applies.
    let mut other = appt("330", a_place, AppointmentStatus::Booked, 3);
    other.organisation.ods_code = OdsCode::parse("RX2").unwrap();
    assert_eq!(guidance(Some("0100"), vec![]).contact(&other), None);
}

#[test]
fn the_pas_line_comes_first_then_the_clinic_then_the_trust_and_a_blank_phone_is_no_line() {
    use ContactSource::{Clinic as FromClinic, Pas, Trust};
    let pas = |phone: &str, hours: Option<&str>| {
        Some(Contact {
            phone: phone.into(),
            hours: hours.map(Into::into),
        })
    };
    let dermatology = || vec![clinic("330", None, Some("0330"), None)];
    // (PAS contact, trust line, clinics) -> (phone, source)
    let table: Vec<(
        Option<Contact>,
        Option<&str>,
        Vec<Clinic>,
        Option<(&str, ContactSource)>,
    )> = vec![
        // The PAS beats the clinic, the clinic beats the trust.
        (
            pas("0999", Some("Monday")),
            Some("0100"),
            dermatology(),
            Some(("0999", Pas)),
        ),
        (pas("0999", None), Some("0100"), vec![], Some(("0999", Pas))),
        (pas("0999", None), None, vec![], Some(("0999", Pas))),
        (
            None,
            Some("0100"),
            dermatology(),
            Some(("0330", FromClinic)),
        ),
        (None, Some("0100"), vec![], Some(("0100", Trust))),
        // A PAS contact with an empty or blank phone is ignored, with or without hours.
        (
            pas("", None),
            Some("0100"),
            dermatology(),
            Some(("0330", FromClinic)),
        ),
        (
            pas("  ", Some("Monday to Friday, 8am to 6pm")),
            Some("0100"),
            vec![],
            Some(("0100", Trust)),
        ),
        (pas("\t", Some("Monday")), None, vec![], None),
        // So is a configured line with a blank phone: the next source is asked.
        (
            None,
            Some("0100"),
            vec![clinic("330", None, Some(" "), None)],
            Some(("0100", Trust)),
        ),
        (
            None,
            Some("0100"),
            vec![
                clinic("330", None, Some(""), None),
                clinic("330", None, Some("0331"), None),
            ],
            Some(("0331", FromClinic)),
        ),
        (None, Some(" "), vec![], None),
    ];
    for (i, (from_pas, trust, clinics, want)) in table.into_iter().enumerate() {
        let g = guidance(trust, clinics);
        let mut a = appt("330", Some("Clinic A"), AppointmentStatus::Booked, 3);
        a.contact = from_pas;
        let got = g.contact(&a).map(|(c, s)| (c.phone.as_str(), s));
        assert_eq!(got, want, "row {i}");
    }
    // The PAS line is taken whole: its hours, not the clinic's.
    let g = guidance(Some("0100"), dermatology());
    let mut a = appt("330", None, AppointmentStatus::Booked, 3);
    a.contact = pas("0999", Some("Saturday, 24 hours"));
    let (c, _) = g.contact(&a).unwrap();
    assert_eq!(c.hours.as_deref(), Some("Saturday, 24 hours"));
    // Even with no guidance for its trust at all.
    assert_eq!(
        Guidance::new()
            .contact(&a)
            .map(|(c, s)| (c.phone.as_str(), s)),
        Some(("0999", Pas))
    );
}

#[test]
fn preparation_pas_first_then_clinic_only_while_upcoming_and_booked() {
    use AppointmentStatus::*;
    use PreparationSource::{Clinic as FromClinic, Pas};
    let clinics = || vec![clinic("330", None, None, Some("clinic text"))];
    // (PAS text, clinic?, status, days) -> text and source
    let table: &[(
        Option<&str>,
        bool,
        AppointmentStatus,
        i64,
        Option<(&str, PreparationSource)>,
    )] = &[
        (None, false, Booked, 3, None),
        (None, true, Booked, 3, Some(("clinic text", FromClinic))),
        (Some("pas text"), true, Booked, 3, Some(("pas text", Pas))),
        (Some("pas text"), false, Booked, 3, Some(("pas text", Pas))),
        // Blank PAS text is no text.
        (
            Some("   "),
            true,
            Booked,
            3,
            Some(("clinic text", FromClinic)),
        ),
        // Cancelled, attended, missed or past: no preparation.
        (Some("pas text"), true, Cancelled, 3, None),
        (Some("pas text"), true, Fulfilled, -3, None),
        (Some("pas text"), true, NoShow, -3, None),
        (Some("pas text"), true, Booked, -1, None),
    ];
    for (i, (pas, with_clinic, status, days, want)) in table.iter().enumerate() {
        let g = guidance(None, if *with_clinic { clinics() } else { vec![] });
        let mut a = appt("330", None, *status, *days);
        a.patient_instruction = pas.map(Into::into);
        assert_eq!(g.preparation(&a, now()), *want, "row {i}");
    }
}

#[test]
fn next_steps_by_status_and_request_and_no_actions_where_none_belong() {
    use AppointmentStatus::*;
    use ChangeReason::*;
    let sent = SentRequest {
        kind: RequestKind::Cancel,
        sent_at: now() - Duration::days(1),
    };
    // (status, cancelled by, request status, days, pending?) -> next steps, actions offered?
    let table: &[(
        AppointmentStatus,
        Option<ChangeReason>,
        Option<RequestStatus>,
        i64,
        bool,
        NextSteps,
        bool,
    )] = &[
        (Booked, None, None, 3, false, NextSteps::Upcoming, true),
        (
            Booked,
            None,
            Some(RequestStatus::PendingCancellation),
            3,
            true,
            NextSteps::RequestSent(sent),
            false,
        ),
        (
            Cancelled,
            Some(Hospital),
            None,
            3,
            false,
            NextSteps::CancelledByHospital,
            false,
        ),
        (
            Cancelled,
            Some(Hospital),
            None,
            -3,
            false,
            NextSteps::CancelledByHospital,
            false,
        ),
        (
            Cancelled,
            Some(Patient),
            None,
            3,
            false,
            NextSteps::CancelledByPatient,
            false,
        ),
        (Cancelled, None, None, 3, false, NextSteps::Cancelled, false),
        (Fulfilled, None, None, -3, false, NextSteps::Past, false),
        (NoShow, None, None, -3, false, NextSteps::Past, false),
        (Booked, None, None, -1, false, NextSteps::Past, false),
        // A request on a finished appointment is not "sent" any more.
        (Booked, None, None, -1, true, NextSteps::Past, false),
    ];
    for (i, (status, by, request, days, pending, want, actions)) in table.iter().enumerate() {
        let mut a = appt("330", None, *status, *days);
        a.cancelled_by = *by;
        a.request_status = *request;
        let got = next_steps(&a, pending.then_some(sent), now());
        assert_eq!(got, *want, "row {i}");
        // The actions come from allowed_actions alone; every "no actions" state gets none.
        let offered = allowed_actions(&a, Capabilities::REAL_TIME, now()).any();
        assert_eq!(offered, *actions, "row {i}: actions");
    }
}

#[test]
fn trust_settings_are_per_trust() {
    let g = guidance(Some("0100"), vec![]);
    let a = appt("330", None, AppointmentStatus::Booked, 3);
    assert_eq!(g.expected_response(&a), Some("within 2 working days"));
    assert_eq!(
        g.cancel_warning(&a),
        Some("Cancel twice and you may go back to your GP.")
    );
    let mut other = a.clone();
    other.organisation.ods_code = OdsCode::parse("RX2").unwrap();
    assert_eq!(g.expected_response(&other), None);
    assert_eq!(g.cancel_warning(&other), None);
    assert_eq!(g.trusts().count(), 1);
}

#[test]
fn the_builder_keeps_who_cancelled_only_on_a_cancelled_appointment() {
    let base = || {
        Appointment::builder()
            .patient("9000000009")
            .organisation("RX1", "Toy")
            .specialty("330", "DERMATOLOGY")
            .start(now())
            .medium(crate::ConsultationMedium::Video)
            .cancelled_by(ChangeReason::Hospital)
            .patient_instruction("Fast for 6 hours")
    };
    let booked = base().build().unwrap();
    assert_eq!(booked.cancelled_by, None);
    assert_eq!(
        booked.patient_instruction.as_deref(),
        Some("Fast for 6 hours")
    );
    let cancelled = base().status(AppointmentStatus::Cancelled).build().unwrap();
    assert_eq!(cancelled.cancelled_by, Some(ChangeReason::Hospital));
}
