//! The details a patient needs and the consequence-aware cancel, driven from outside through
//! the running demo portal: the clinic's phone line and hours (the PAS's own, else the trust's
//! configuration; `fhir_contact.rs` has them from a FHIR PAS), preparation (the PAS's own text
//! first, else the clinic's), what happens next per status and request, the cancel journey's
//! first question with both answers at both demo trusts (and whom to call when the trust does
//! not reschedule online), forged and skipped answers, and the trust's policy warning on the
//! check page.

use chrono::Duration;
use http::StatusCode;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RescheduleMode};
use nhs_portal_core::{AppointmentStatus, OdsCode, uk_time};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, input_value, location};

fn page_of(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

async fn html(c: &mut Client, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    body_text(&res)
}

/// Whether the page links to a change of the appointment at `base` (cancel, its question, or
/// reschedule) or offers to confirm attendance.
fn offers_actions(page: &str, base: &str) -> bool {
    [
        "/cancel\"",
        "/cancel/need\"",
        "/reschedule\"",
        "/confirm-attendance\"",
    ]
    .iter()
    .any(|step| page.contains(&format!("\"{base}{step}")))
}

const CARE_CARD: &str = "Contact the hospital if:";

/// One appointment page's contact and preparation, as the patient should see them.
struct Row {
    key: &'static str,
    /// "Contact the clinic" or "Contact the booking team".
    heading: &'static str,
    phone: &'static str,
    tel: &'static str,
    hours: &'static str,
    /// The preparation shown, if any.
    preparation: Option<&'static str>,
    /// Text that must not show.
    absent: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appointment_page_gives_the_clinics_line_its_hours_and_how_to_prepare() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let rows: &[Row] = &[
        // The clinic's own line; the PAS's preparation wins over the clinic's text.
        Row {
            key: demo::KEY_ADULT_DERMATOLOGY,
            heading: "Contact the clinic",
            phone: demo::DERMATOLOGY_CLINIC_PHONE,
            tel: "tel:01632960330",
            hours: "Monday to Friday, 9am to 4:30pm",
            preparation: Some(demo::DERMATOLOGY_PAS_INSTRUCTION),
            absent: Some("Bring a list of any creams"),
        },
        // The PAS's own line comes before the trust's booking team.
        Row {
            key: demo::KEY_ADULT_VIDEO,
            heading: "Contact the clinic",
            phone: demo::ORTHOPAEDICS_PAS_PHONE,
            tel: "tel:01632960110",
            hours: demo::ORTHOPAEDICS_PAS_HOURS,
            preparation: None,
            absent: Some(demo::REAL_TIME_TRUST_PHONE),
        },
        // No clinic: the trust's booking team, no preparation.
        Row {
            key: demo::KEY_ADULT_TELEPHONE,
            heading: "Contact the booking team",
            phone: demo::REAL_TIME_TRUST_PHONE,
            tel: "tel:01632960100",
            hours: "Monday to Friday, 8am to 6pm",
            preparation: None,
            absent: None,
        },
        // The other trust's eye clinic, at its location, with the clinic's preparation.
        Row {
            key: demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
            heading: "Contact the clinic",
            phone: demo::EYE_CLINIC_PHONE,
            tel: "tel:01632960513",
            hours: "Monday to Friday, 9am to 5pm",
            preparation: Some(demo::EYE_CLINIC_PREPARATION),
            absent: None,
        },
        // A clinic with a line and, on purpose, no preparation text.
        Row {
            key: demo::KEY_ADULT_PENDING_CANCELLATION,
            heading: "Contact the clinic",
            phone: "01632 960 531",
            tel: "tel:01632960531",
            hours: "Monday to Thursday, 9am to 3pm",
            preparation: None,
            absent: None,
        },
    ];
    for Row {
        key,
        heading,
        phone,
        tel,
        hours,
        preparation,
        absent,
    } in rows
    {
        let page = html(&mut patient, &page_of(key)).await;
        assert!(page.contains(&format!(">{heading}</h2>")), "{key}: {page}");
        assert!(
            page.contains(&format!("<a href=\"{tel}\">{phone}</a>")),
            "{key}: {page}"
        );
        assert!(
            page.contains(&format!("Lines are open {hours}.")),
            "{key}: {page}"
        );
        match preparation {
            Some(text) => {
                assert!(page.contains(">How to prepare</h2>"), "{key}: {page}");
                assert!(page.contains(text), "{key}: {page}");
            }
            None => assert!(!page.contains("How to prepare"), "{key}: {page}"),
        }
        if let Some(text) = absent {
            assert!(!page.contains(text), "{key}: {page}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_request_says_when_it_was_sent_and_when_to_expect_an_answer() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let base = page_of(demo::KEY_ADULT_PENDING_CANCELLATION);
    let page = html(&mut patient, &base).await;
    // The demo seeds this request two days before `now`.
    let sent = uk_time::format_date(t.now() - Duration::days(2));
    assert!(page.contains(">What happens next</h2>"), "{page}");
    assert!(
        page.contains(&format!(
            "You sent your request to cancel this appointment on {sent}."
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "usually replies {}.",
            demo::REQUEST_ONLY_EXPECTED_RESPONSE
        )),
        "{page}"
    );
    assert!(!offers_actions(&page, &base), "{page}");
    // The rescheduling request at the same trust says "change".
    let other = page_of(demo::KEY_ADULT_PENDING_RESCHEDULE);
    let page = html(&mut patient, &other).await;
    assert!(
        page.contains("You sent your request to change this appointment on"),
        "{page}"
    );
    // A booked appointment with nothing pending has no such block.
    let page = html(&mut patient, &page_of(demo::KEY_ADULT_REQUEST_ONLY_BOOKED)).await;
    assert!(!page.contains("data-next-steps"), "{page}");
    assert!(page.contains(CARE_CARD), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hospital_cancelled_appointment_explains_and_cannot_be_cancelled_by_a_forged_post() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let key = demo::KEY_ADULT_CANCELLED;
    let base = page_of(key);
    let page = html(&mut patient, &base).await;
    assert!(page.contains(">What happens now</h2>"), "{page}");
    assert!(
        page.contains("The hospital cancelled this appointment. You do not need to go to it."),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "If you have not heard from them, or you have questions, call {} (Monday to Friday, 8am to 6pm).",
            demo::REAL_TIME_TRUST_PHONE
        )),
        "{page}"
    );
    assert!(!offers_actions(&page, &base), "{page}");
    assert!(!page.contains(CARE_CARD), "{page}");
    assert!(!page.contains("How to prepare"), "{page}");

    // Forged: the question, the reasons and the confirm, each with the session's own token.
    let csrf = csrf_token(&page).unwrap();
    let forged: [(String, Vec<(&str, &str)>); 3] = [
        (
            format!("{base}/cancel/need"),
            vec![("csrf_token", &csrf), ("still_needed", "no-longer-needed")],
        ),
        (
            format!("{base}/cancel"),
            vec![("csrf_token", &csrf), ("reason", "no-transport")],
        ),
        (
            format!("{base}/cancel/check"),
            vec![("csrf_token", &csrf), ("idempotency_key", "forged-key-1")],
        ),
    ];
    for (path, form) in &forged {
        let res = patient.post_form(path, form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&res).unwrap();
        assert!(!to.ends_with("/done"), "{path}: {to}");
        // Where it leads, too, nothing is offered.
        let (page, _) = patient.get_following(&to).await;
        assert!(!offers_actions(&body_text(&page), &base), "{path}");
    }
    // Nothing changed: the PAS still says the hospital cancelled it, and no request is stored.
    let id = demo::appointment_id(key);
    let now = t
        .demo
        .pas
        .get_appointment(&demo::nhs_number(ADULT), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, AppointmentStatus::Cancelled);
    assert_eq!(
        now.cancelled_by,
        Some(nhs_portal_core::reporting::ChangeReason::Hospital)
    );
    let requests = t.demo.store.list_requests(None, None).await.unwrap();
    assert!(requests.iter().all(|r| r.appointment != id), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_appointment_offers_no_actions() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    for key in [demo::KEY_ADULT_FULFILLED, demo::KEY_ADULT_NO_SHOW] {
        let base = page_of(key);
        let page = html(&mut patient, &base).await;
        assert!(!offers_actions(&page, &base), "{key}: {page}");
        assert!(!page.contains(CARE_CARD), "{key}: {page}");
        assert!(!page.contains("How to prepare"), "{key}: {page}");
        assert!(!page.contains("Add to calendar"), "{key}: {page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_journey_asks_first_and_both_answers_lead_on_at_both_trusts() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    // (appointment at the real-time trust, the request-only trust; what rescheduling shows)
    for (key, reschedule_shows) in [
        (demo::KEY_ADULT_TELEPHONE, "name=\"slot\""),
        (
            demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
            "Why do you need to change this appointment?",
        ),
    ] {
        let base = page_of(key);
        // The appointment page's cancel link asks the question.
        let page = html(&mut patient, &base).await;
        assert!(
            page.contains(&format!("href=\"{base}/cancel/need\"")),
            "{key}: {page}"
        );
        let question = html(&mut patient, &format!("{base}/cancel/need")).await;
        assert!(
            question.contains("<title>Do you still need this appointment?"),
            "{question}"
        );
        for value in ["cannot-make-it", "no-longer-needed"] {
            assert!(
                question.contains(&format!(
                    "name=\"still_needed\" type=\"radio\" value=\"{value}\""
                )),
                "{key}: {question}"
            );
        }
        // "Yes, but I cannot make this date or time": to the reschedule journey.
        let res = patient.still_needed(&base, Some("cannot-make-it")).await;
        assert_eq!(
            location(&res).as_deref(),
            Some(format!("{base}/reschedule").as_str()),
            "{key}"
        );
        let next = html(&mut patient, &format!("{base}/reschedule")).await;
        assert!(next.contains(reschedule_shows), "{key}: {next}");
        // "No, I no longer need it": the reasons, then the check page, showing the answer.
        let res = patient.still_needed(&base, Some("no-longer-needed")).await;
        assert_eq!(
            location(&res).as_deref(),
            Some(format!("{base}/cancel").as_str())
        );
        let reasons = html(&mut patient, &format!("{base}/cancel")).await;
        assert!(
            reasons.contains("Why do you need to cancel this appointment?"),
            "{reasons}"
        );
        let check = patient
            .answer(&base, "cancel", &[("reason", "no-transport")])
            .await;
        let check = html(&mut patient, &check).await;
        assert!(
            check.contains("Do you still need this appointment?")
                && check.contains("No, I no longer need it"),
            "{key}: {check}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_forged_answer_gets_the_error_summary_and_no_step_can_be_skipped() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let base = page_of(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    for answer in [None, Some("maybe"), Some(""), Some("NO-LONGER-NEEDED")] {
        let res = patient.still_needed(&base, answer).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{answer:?}");
        let page = body_text(&res);
        assert!(page.contains("<title>Error: "), "{page}");
        assert!(page.contains("nhsuk-error-summary"), "{page}");
        assert!(
            page.contains(
                "<a href=\"#still_needed\">Select whether you still need this appointment</a>"
            ),
            "{page}"
        );
        assert!(page.contains("id=\"still_needed\""), "{page}");
    }
    // Crafted POSTs that skip the question are sent back to it, and nothing is stored.
    let page = html(&mut patient, &base).await;
    let csrf = csrf_token(&page).unwrap();
    let need = format!("{base}/cancel/need");
    let res = patient
        .post_form(
            &format!("{base}/cancel"),
            &[("csrf_token", &csrf), ("reason", "no-transport")],
        )
        .await;
    assert_eq!(location(&res).as_deref(), Some(need.as_str()));
    let res = patient.get(&format!("{base}/cancel")).await;
    assert_eq!(location(&res).as_deref(), Some(need.as_str()));
    let res = patient
        .post_form(
            &format!("{base}/cancel/check"),
            &[("csrf_token", &csrf), ("idempotency_key", "crafted-key-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(
        location(&res).as_deref(),
        Some(format!("{base}/cancel/done").as_str())
    );
    // The answer for one appointment does not open another's cancel journey.
    patient.no_longer_needed(&base).await;
    let other = page_of(demo::KEY_ADULT_TELEPHONE);
    let res = patient
        .post_form(
            &format!("{other}/cancel"),
            &[("csrf_token", &csrf), ("reason", "no-transport")],
        )
        .await;
    assert_eq!(
        location(&res).as_deref(),
        Some(format!("{other}/cancel/need").as_str())
    );
    let requests = t.demo.store.list_requests(None, None).await.unwrap();
    let id = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    assert!(requests.iter().all(|r| r.appointment != id), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_online_rescheduling_the_patient_is_told_whom_to_call() {
    let t = TestPortal::start().await;
    let ods = OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap();
    assert!(t.demo.pas.set_capabilities(
        &ods,
        Capabilities {
            cancel: CancelMode::Request,
            reschedule: RescheduleMode::NotOffered,
            ..Capabilities::REQUEST_ONLY
        }
    ));
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let base = page_of(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let res = patient.still_needed(&base, Some("cannot-make-it")).await;
    let to = location(&res).expect("a redirect");
    assert_eq!(to, format!("{base}/cancel/need?then=contact"));
    let page = html(&mut patient, &to).await;
    assert!(
        page.contains("<title>Contact the hospital to change this appointment"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "To change it, call <a href=\"tel:01632960513\">{}</a>.",
            demo::EYE_CLINIC_PHONE
        )),
        "{page}"
    );
    // Cancelling is still offered, through the question again.
    assert!(
        page.contains(&format!("href=\"{base}/cancel/need\"")),
        "{page}"
    );
    assert!(input_value(&page, "still_needed").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_page_shows_the_trusts_policy_warning_before_the_patient_confirms() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    // (appointment, the trust's policy warning, if it has one)
    for (key, warning) in [
        (
            demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
            Some(demo::REQUEST_ONLY_CANCEL_WARNING),
        ),
        (demo::KEY_ADULT_TELEPHONE, None),
    ] {
        let base = page_of(key);
        let check = patient
            .answer(&base, "cancel", &[("reason", "no-transport")])
            .await;
        let page = html(&mut patient, &check).await;
        let card = page
            .split("<div class=\"nhsuk-card nhsuk-card--warning\">")
            .nth(1)
            .and_then(|rest| rest.split("<form").next())
            .unwrap_or_else(|| panic!("{key}: no warning card: {page}"));
        match warning {
            Some(w) => {
                assert!(
                    card.contains(&format!("data-policy-warning>{w}</p>")),
                    "{key}: {card}"
                );
                // Before the confirm form.
                let at = page.find(w).unwrap();
                assert!(at < page.find("name=\"idempotency_key\"").unwrap(), "{key}");
            }
            None => assert!(!page.contains("data-policy-warning"), "{key}: {page}"),
        }
        // The confirmation speaks with the trust's own words too.
        let res = patient
            .post_pairs(&check, &Client::confirm_form(&page))
            .await;
        let (done, at) = patient.follow(res, check.clone()).await;
        assert_eq!(done.status(), StatusCode::OK, "{at}");
        let done = body_text(&done);
        let want = match warning {
            Some(_) => format!(
                "The hospital&#x27;s booking team will review your request, usually {}.",
                demo::REQUEST_ONLY_EXPECTED_RESPONSE
            ),
            None => format!(
                "If you need this appointment again, call {} (Monday to Friday, 8am to 6pm).",
                demo::REAL_TIME_TRUST_PHONE
            ),
        };
        assert!(done.contains(&want), "{key}: {done}");
    }
}
