//! Issue 11's patient-data rules, driven from outside through the demo portal as a patient's
//! (or an attacker's) browser meets them: the eligibility gate on every patient page and
//! journey URL, offered slots only, valid status pairs, drafts bound to the session,
//! idempotency keys bound to their appointment, and the wording of midnight.

use std::collections::BTreeMap;

use http::StatusCode;
use nhs_portal_core::store::AuditAction;
use nhs_portal_core::{Appointment, uk_time};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, ADULT, DOB_MISMATCH, NO_PORTAL_ACCESS, RESTRICTED, UNDER_16};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};
use nhs_portal_web::session::DEFAULT_COOKIE_NAME;

fn page_of(id: &impl std::fmt::Display) -> String {
    format!("/patient-portal/appointment/{id}")
}

/// Everything that would show an appointment: its id, what it is, where and when.
fn leaks(html: &str, a: &Appointment) -> Vec<String> {
    let mut marks = vec![
        a.id.to_string(),
        a.description.clone(),
        uk_time::format_date_time(a.start),
        uk_time::format_date(a.start),
    ];
    if let Some(l) = &a.location {
        marks.push(l.name.clone());
    }
    if let Some(c) = &a.clinician {
        marks.push(c.name.clone());
    }
    marks
        .into_iter()
        .filter(|m| html.contains(m.as_str()))
        .collect()
}

/// The patient's audit records, newest first.
async fn audit_of(t: &TestPortal, nhs: &str) -> Vec<nhs_portal_core::store::AuditRecord> {
    t.demo
        .store
        .audit_for_patient(&demo::nhs_number(nhs), 1000)
        .await
        .unwrap()
}

async fn refusals(t: &TestPortal, nhs: &str) -> usize {
    audit_of(t, nhs)
        .await
        .iter()
        .filter(|r| {
            r.action == AuditAction::AccessRefused
                && r.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("ineligible="))
        })
        .count()
}

/// One request: method, path and form fields.
type Route = (&'static str, String, Vec<(&'static str, String)>);

/// Every patient route for appointment `id`, as (method, path, form) with a valid CSRF token:
/// the list, the appointment page and its calendar link, and every cancel and reschedule step
/// and confirm, in the order a patient would go.
fn routes(id: &str, csrf: &str, slot: &str) -> Vec<Route> {
    let p = page_of(&id);
    let c = || ("csrf_token", csrf.to_owned());
    vec![
        ("GET", "/patient-portal/appointments".into(), vec![]),
        ("GET", p.clone(), vec![]),
        ("GET", format!("{p}?extSystemName=X&trackingId=t-1"), vec![]),
        ("GET", format!("{p}/calendar.ics"), vec![]),
        ("GET", format!("{p}/cancel"), vec![]),
        (
            "POST",
            format!("{p}/cancel"),
            vec![c(), ("reason", "no-longer-needed".into())],
        ),
        ("GET", format!("{p}/cancel/check"), vec![]),
        (
            "POST",
            format!("{p}/cancel/check"),
            vec![c(), ("idempotency_key", "k-cancel-1".into())],
        ),
        ("GET", format!("{p}/cancel/done"), vec![]),
        ("GET", format!("{p}/reschedule"), vec![]),
        (
            "POST",
            format!("{p}/reschedule"),
            vec![c(), ("reason", "clash".into()), ("slot", slot.into())],
        ),
        ("GET", format!("{p}/reschedule/check?slot={slot}"), vec![]),
        (
            "POST",
            format!("{p}/reschedule/check"),
            vec![
                c(),
                ("idempotency_key", "k-resched-1".into()),
                ("slot", slot.into()),
            ],
        ),
        ("GET", format!("{p}/reschedule/done"), vec![]),
    ]
}

async fn send(
    client: &mut Client,
    method: &str,
    path: &str,
    form: &[(&'static str, String)],
) -> http::Response<bytes::Bytes> {
    if method == "GET" {
        client.get(path).await
    } else {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post_form(path, &form).await
    }
}

/// Issue 11 item "eligibility on every patient page": the under-16, no-portal-access and
/// restricted demo patients sign in, then every patient route (GET, and POST with a valid CSRF
/// token) answers with that rule's own page, shows none of their appointments, leaves an audit
/// record, and changes nothing in the PAS or the store.
#[tokio::test]
async fn ineligible_patients_see_no_appointment_on_any_page_or_journey_url() {
    let t = TestPortal::start().await;
    let free_slot = t.demo.data.slots[0].slot.id.clone();
    let cases = [
        (UNDER_16, "You cannot use this service yet"),
        (NO_PORTAL_ACCESS, "You cannot view your appointments online"),
        (RESTRICTED, "You cannot view your appointments online"),
    ];
    for (nhs, title) in cases {
        let theirs: Vec<Appointment> = t
            .demo
            .data
            .appointments
            .iter()
            .filter(|a| a.patient.as_str() == nhs)
            .cloned()
            .collect();
        assert!(!theirs.is_empty(), "{nhs} has demo appointments");
        let pas_before: BTreeMap<String, Appointment> = theirs
            .iter()
            .map(|a| {
                (
                    a.id.to_string(),
                    t.demo.pas.inspect_appointment(&a.id).unwrap(),
                )
            })
            .collect();
        let mut patient = t.client();
        let landing = patient.sign_in_as(nhs).await;
        assert_eq!(landing.status(), StatusCode::FORBIDDEN, "{nhs}");
        let html = body_text(&landing);
        assert!(html.contains(title), "{nhs}: {html}");
        let csrf = csrf_token(&html).expect("the refusal page offers to sign out");
        for a in &theirs {
            for (method, path, form) in routes(a.id.as_str(), &csrf, &free_slot) {
                let before = refusals(&t, nhs).await;
                let res = send(&mut patient, method, &path, &form).await;
                let html = body_text(&res);
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{nhs} {method} {path}");
                assert!(html.contains(title), "{nhs} {method} {path}: {html}");
                assert_eq!(
                    leaks(&html, a),
                    Vec::<String>::new(),
                    "{nhs} {method} {path}"
                );
                assert!(
                    refusals(&t, nhs).await > before,
                    "{nhs} {method} {path}: no audit record"
                );
            }
        }
        for a in &theirs {
            assert_eq!(
                t.demo.pas.inspect_appointment(&a.id).as_ref(),
                pas_before.get(a.id.as_str()),
                "{nhs}: the PAS changed"
            );
        }
        assert!(
            t.demo
                .store
                .pending_requests_for_patient(&demo::nhs_number(nhs))
                .await
                .unwrap()
                .is_empty(),
            "{nhs}: a request was stored"
        );
        // Still signed in (so they can sign out), and nothing else.
        assert!(patient.cookie(DEFAULT_COOKIE_NAME).is_some());
    }
    assert_eq!(t.demo.pas.slot_holder(&free_slot), None);
}

/// Issue 11: a date of birth that differs from the PAS record's is refused at sign-in: its own
/// page, an audit record, no session; every patient URL then only asks them to sign in.
#[tokio::test]
async fn a_date_of_birth_that_differs_from_the_pas_makes_no_session() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    let page = patient.sign_in_as(DOB_MISMATCH).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = body_text(&page);
    assert!(html.contains("We could not match your details"), "{html}");
    assert_eq!(
        patient.cookie(DEFAULT_COOKIE_NAME),
        None,
        "a session was made"
    );
    let audit = audit_of(&t, DOB_MISMATCH).await;
    assert!(audit.iter().all(|r| r.action != AuditAction::SignedIn));
    assert!(audit.iter().any(|r| r.action == AuditAction::AccessRefused
        && r.detail.as_deref() == Some("ineligible=date-of-birth-mismatch")));
    let theirs = t
        .demo
        .data
        .appointments
        .iter()
        .find(|a| a.patient.as_str() == DOB_MISMATCH)
        .unwrap();
    let res = patient.get(&page_of(&theirs.id)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).unwrap().contains("/nhs-login-simulator/"));
    assert!(leaks(&body_text(&res), theirs).is_empty());
    // An eligible adult still signs in as before.
    let mut adult = t.client();
    assert_eq!(adult.sign_in_as(ADULT).await.status(), StatusCode::OK);
}

/// Issue 11 item "invalid status pairs": a pending cancellation on an appointment the PAS now
/// shows as missed, and one on an appointment the hospital cancelled, are resolved instead of
/// overlaid: the pages show "Did not attend" and "Cancelled", the store's requests are no longer
/// pending, and the PCA gets every appointment (none withheld) with only valid pairs.
#[tokio::test]
async fn no_invalid_status_pair_reaches_a_page_or_the_api() {
    use nhs_portal_core::store::RequestState;
    use nhs_portal_core::{AppointmentStatus, request_status::is_valid_pair};

    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    // A pending cancellation made through the pages, at the request-only trust.
    let booked = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let page = body_text(&patient.get(&page_of(&booked)).await);
    let csrf = csrf_token(&page).unwrap();
    patient.no_longer_needed(&page_of(&booked)).await;
    let res = patient
        .post_form(
            &format!("{}/cancel", page_of(&booked)),
            &[("csrf_token", &csrf), ("reason", "no-longer-needed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = patient
        .post_form(
            &format!("{}/cancel/check", page_of(&booked)),
            &[("csrf_token", &csrf), ("idempotency_key", "k-pairs-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    let missed_request = t
        .demo
        .store
        .pending_request_for(&booked)
        .await
        .unwrap()
        .unwrap();
    // Then the PAS records the appointment as missed, and the hospital cancels the demo's
    // pending-cancellation one itself.
    let cancelled = demo::appointment_id(demo::KEY_ADULT_PENDING_CANCELLATION);
    let cancelled_request = t
        .demo
        .store
        .pending_request_for(&cancelled)
        .await
        .unwrap()
        .unwrap();
    for (id, status) in [
        (&booked, AppointmentStatus::NoShow),
        (&cancelled, AppointmentStatus::Cancelled),
    ] {
        let mut a = t.demo.pas.inspect_appointment(id).unwrap();
        a.status = status;
        t.demo.pas.add_appointment(a);
    }
    // The PCA first: every appointment goes out, each with a valid pair.
    let res = t.get_appointments(ADULT).await;
    assert_eq!(res.status(), StatusCode::OK);
    let bundle: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let listed = t
        .demo
        .pas
        .list_appointments(&demo::nhs_number(ADULT))
        .await
        .unwrap()
        .into_iter()
        // Holding records are never sent (the PCA's "ghost appointment" rule).
        .filter(nhs_portal_core::holding::in_pca_feed)
        .count();
    assert_eq!(entries.len(), listed, "an appointment was withheld");
    for e in entries {
        let r = &e["resource"];
        let status = AppointmentStatus::from_fhir_code(r["status"].as_str().unwrap()).unwrap();
        let request = r["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["url"] == nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION)
            .and_then(|x| x["valueCode"].as_str())
            .map(|c| nhs_portal_core::RequestStatus::from_fhir_code(c).unwrap());
        assert!(is_valid_pair(status, request), "{r}");
    }
    // The pages.
    for (id, shows) in [(&booked, "Did not attend"), (&cancelled, "Cancelled")] {
        let html = body_text(&patient.get(&page_of(id)).await);
        assert!(html.contains(shows), "{id}: {html}");
        assert!(!html.contains("Pending Cancellation"), "{id}: {html}");
    }
    let list = body_text(&patient.get("/patient-portal/appointments").await);
    assert!(!list.contains("Pending Cancellation"), "{list}");
    // Resolved in the store: the missed one rejected, the hospital-cancelled one fulfilled.
    for (request, want) in [
        (&missed_request, RequestState::Rejected),
        (&cancelled_request, RequestState::Fulfilled),
    ] {
        let now = t.demo.store.get_request(request.id).await.unwrap().unwrap();
        assert_eq!(now.state, want, "{:?}", request.kind);
    }
}

/// The slot form fields an attacker would forge: a slot that exists in the PAS but is not
/// offered for the adult's dermatology appointment (beyond the booking window, another
/// specialty's clinic, another trust's).
fn add_forged_slots(t: &TestPortal) -> Vec<String> {
    use nhs_portal_pas::Slot;
    use nhs_portal_pas::simulated::SimulatedSlot;
    let derm = t
        .demo
        .data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap();
    let now = t.now();
    let cases = [
        (
            "forged-beyond-window",
            derm.organisation.ods_code.clone(),
            derm.specialty.code,
            nhs_portal_pas::BOOKING_HORIZON_DAYS + 14,
        ),
        (
            "forged-other-specialty",
            derm.organisation.ods_code.clone(),
            nhs_portal_core::TreatmentFunctionCode::parse("502").unwrap(),
            5,
        ),
        (
            "forged-other-trust",
            demo::request_only_trust().ods_code,
            derm.specialty.code,
            5,
        ),
    ];
    cases
        .into_iter()
        .map(|(id, ods_code, specialty, days)| {
            let start = now + chrono::Duration::days(days);
            t.demo.pas.add_slot(SimulatedSlot {
                ods_code,
                specialty,
                slot: Slot {
                    id: id.into(),
                    start,
                    end: start + chrono::Duration::minutes(20),
                    location: None,
                    clinician: None,
                },
            });
            id.to_owned()
        })
        .collect()
}

/// Issue 11 item "any slot can be booked": a forged `slot` field on the reschedule confirm is
/// refused with the "no longer available" page; nothing changes in the PAS or the store.
#[tokio::test]
async fn a_forged_slot_on_the_reschedule_confirm_is_refused() {
    let t = TestPortal::start().await;
    let forged = add_forged_slots(&t);
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let id = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let before = t.demo.pas.inspect_appointment(&id).unwrap();
    let page = body_text(&patient.get(&format!("{}/reschedule", page_of(&id))).await);
    for slot in &forged {
        assert!(!page.contains(slot.as_str()), "{slot} is offered");
    }
    let csrf = csrf_token(&page).unwrap();
    for (n, slot) in forged.iter().enumerate() {
        let key = format!("k-forged-{n}");
        let res = patient
            .post_form(
                &format!("{}/reschedule/check", page_of(&id)),
                &[
                    ("csrf_token", &csrf),
                    ("idempotency_key", &key),
                    ("slot", slot),
                ],
            )
            .await;
        let at = location(&res).unwrap_or_default();
        let (page, _) = patient.follow(res, at).await;
        let html = body_text(&page);
        assert!(
            html.contains("The time you chose is no longer available"),
            "{slot}: {html}"
        );
        assert_eq!(t.demo.pas.slot_holder(slot), None, "{slot} was booked");
        assert_eq!(
            t.demo.pas.inspect_appointment(&id).unwrap(),
            before,
            "{slot}"
        );
    }
    let audit = audit_of(&t, ADULT).await;
    assert!(audit.iter().all(|r| r.action != AuditAction::Rescheduled));
}

/// Issue 11: an idempotency key reused on another appointment is refused with its own page
/// (not ignored), and nothing is done.
#[tokio::test]
async fn a_key_reused_on_another_appointment_gets_a_clear_page() {
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    // Two request-only appointments: the demo's, and a second one like it.
    let first = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let mut second = t.demo.pas.inspect_appointment(&first).unwrap();
    second.id = nhs_portal_core::AppointmentId::new_random();
    t.demo.pas.add_appointment(second.clone());
    let csrf = csrf_token(&body_text(&patient.get(&page_of(&first)).await)).unwrap();
    let confirm = |id: nhs_portal_core::AppointmentId| {
        let mut patient = patient.clone();
        let csrf = csrf.clone();
        async move {
            patient.no_longer_needed(&page_of(&id)).await;
            patient
                .post_form(
                    &format!("{}/cancel", page_of(&id)),
                    &[("csrf_token", &csrf), ("reason", "no-longer-needed")],
                )
                .await;
            patient
                .post_form(
                    &format!("{}/cancel/check", page_of(&id)),
                    &[("csrf_token", &csrf), ("idempotency_key", "k-reused")],
                )
                .await
        }
    };
    let res = confirm(first.clone()).await;
    assert_eq!(
        location(&res).as_deref(),
        Some(format!("{}/cancel/done", page_of(&first)).as_str())
    );
    let res = confirm(second.id.clone()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "{}", body_text(&res));
    assert!(body_text(&res).contains("This form has already been used"));
    assert!(
        t.demo
            .store
            .pending_request_for(&second.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Issue 11: a double submit of a real-time reschedule, both confirms at once, shows its
/// success page both times (not "that time was taken"), and books once.
#[tokio::test]
async fn a_concurrent_double_submit_of_a_reschedule_shows_its_success_twice() {
    use nhs_portal_pas::simulated::{Fault, FaultPlan, FaultRule, PasOperation};
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let id = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let page = body_text(&patient.get(&format!("{}/reschedule", page_of(&id))).await);
    let csrf = csrf_token(&page).unwrap();
    let slot = t
        .demo
        .pas
        .find_slots(
            &t.demo.pas.inspect_appointment(&id).unwrap(),
            t.now(),
            t.now() + chrono::Duration::days(40),
        )
        .await
        .unwrap()[0]
        .id
        .clone();
    // The PAS takes a while to book, so both confirms are in flight together.
    t.demo.pas.set_faults(
        FaultPlan::new().rule(
            FaultRule::new(Fault::Slow(std::time::Duration::from_millis(300)))
                .on(PasOperation::Reschedule)
                .times(2),
        ),
    );
    let form = [
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", "k-double"),
        ("slot", slot.as_str()),
    ];
    let path = format!("{}/reschedule/check", page_of(&id));
    let (mut a, mut b) = (patient.clone(), patient.clone());
    let (ra, rb) = tokio::join!(a.post_form(&path, &form), b.post_form(&path, &form));
    for (browser, res) in [(&mut a, ra), (&mut b, rb)] {
        let to = location(&res).unwrap_or_default();
        assert!(
            to.ends_with("/reschedule/done"),
            "{to}: {}",
            body_text(&res)
        );
        // Each browser follows its own answer (with the cookie the confirm step set).
        let (done, _) = browser.follow(res, to).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert!(body_text(&done).contains("Your new appointment is on"));
    }
    assert_eq!(t.demo.pas.slot_holder(&slot), Some(id.clone()));
    let moves = audit_of(&t, ADULT)
        .await
        .into_iter()
        .filter(|r| r.action == AuditAction::Rescheduled)
        .count();
    assert_eq!(moves, 1);
}

/// Issue 11 item "drafts": the draft cookie holds no readable reason text, sign-out clears it,
/// and a draft kept from before sign-out cannot be read back in a new session on that browser.
#[tokio::test]
async fn a_draft_is_sealed_for_its_session_and_useless_after_sign_out() {
    use base64::Engine;
    const SECRET: &str = "my neighbour drives me on Tuesdays";
    const DRAFT: &str = "nhs_portal_draft";
    let t = TestPortal::start().await;
    let mut patient = t.client();
    patient.sign_in_as(ADULT).await;
    let id = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    patient.no_longer_needed(&page_of(&id)).await;
    let form = body_text(&patient.get(&format!("{}/cancel", page_of(&id))).await);
    let csrf = csrf_token(&form).unwrap();
    let res = patient
        .post_form(
            &format!("{}/cancel", page_of(&id)),
            &[
                ("csrf_token", &csrf),
                ("reason", "other"),
                ("details", SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let draft = patient.cookie(DRAFT).expect("a draft cookie").to_owned();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&draft)
        .unwrap_or_default();
    for seen in [
        draft.clone(),
        String::from_utf8_lossy(&decoded).into_owned(),
    ] {
        assert!(
            !seen.contains("neighbour") && !seen.contains("other"),
            "{seen}"
        );
    }
    // In the session, the check page reads it back.
    let check = body_text(&patient.get(&format!("{}/cancel/check", page_of(&id))).await);
    assert!(check.contains(SECRET), "{check}");
    // Sign-out clears it.
    let res = patient
        .post_form("/sign-out", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&format!("{DRAFT}=;"))),
        "sign-out does not clear the draft"
    );
    assert_eq!(patient.cookie(DRAFT), None);
    // A copy kept from before sign-out is useless to the next session on this browser.
    patient.sign_in_as(ADULT).await;
    let req = http::Request::get(format!("{}/cancel/check", page_of(&id)))
        .header(
            http::header::COOKIE,
            format!("{}; {DRAFT}={draft}", patient.cookie_header()),
        )
        .body(bytes::Bytes::new())
        .unwrap();
    let res = t.portal().handle(req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    assert_eq!(
        location(&res).as_deref(),
        Some(format!("{}/cancel", page_of(&id)).as_str())
    );
    assert!(!body_text(&res).contains(SECRET));
}
