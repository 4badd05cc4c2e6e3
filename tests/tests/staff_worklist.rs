//! The booking team's worklist pages (`/staff`), driven from outside through the shared harness
//! the way staff, an attacker and a patient would: the access check, CSRF on every POST, trust
//! scoping, and fulfil and reject changing the request, then what the patient's page and the PCA
//! API show.

use http::{StatusCode, header};
use nhs_portal_core::AppointmentStatus;
use nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION;
use nhs_portal_core::store::{AuditAction, PatientRequest, RequestState};
use nhs_portal_core::uk_time::{self, UkLocal};
use nhs_portal_pas::demo::{self, ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};
use serde_json::Value;

const STAFF: &str = "Sam Booking";

/// The pending request the demo seeded for the appointment `key`.
async fn seeded_request(t: &TestPortal, key: &str) -> PatientRequest {
    let id = demo::appointment_id(key);
    t.demo
        .store
        .list_requests(None, Some(RequestState::Pending))
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.appointment == id)
        .unwrap_or_else(|| panic!("a pending request for {key}"))
}

/// The demo portal, the pending request it seeded for the appointment `key`, and that
/// appointment's id.
async fn portal_with_request(key: &str) -> (TestPortal, PatientRequest, String) {
    let t = TestPortal::start().await;
    let pending = seeded_request(&t, key).await;
    let id = pending.appointment.as_str().to_owned();
    (t, pending, id)
}

async fn request_now(t: &TestPortal, id: uuid::Uuid) -> PatientRequest {
    t.demo.store.get_request(id).await.unwrap().unwrap()
}

async fn assert_state(t: &TestPortal, request: &PatientRequest, want: RequestState) {
    assert_eq!(
        request_now(t, request.id).await.state,
        want,
        "{}",
        request.id
    );
}

/// A patient's audit trail, newest first.
async fn audit(
    t: &TestPortal,
    patient: &nhs_portal_core::NhsNumber,
    limit: usize,
) -> Vec<nhs_portal_core::store::AuditRecord> {
    t.demo
        .store
        .audit_for_patient(patient, limit)
        .await
        .unwrap()
}

/// The appointment as the (simulated) PAS holds it.
fn in_pas(t: &TestPortal, id: &nhs_portal_core::AppointmentId) -> nhs_portal_core::Appointment {
    t.demo.pas.inspect_appointment(id).expect("in the PAS")
}

/// The newest audit record of the request's patient: the staff decision `action`, by the
/// signed-in staff member, for the request's appointment.
async fn last_staff_decision(
    t: &TestPortal,
    request: &PatientRequest,
    action: AuditAction,
) -> nhs_portal_core::store::AuditRecord {
    let newest = audit(t, &request.patient, 1).await;
    let record = newest.into_iter().next().expect("an audit record");
    assert_eq!(record.action, action);
    assert_eq!(record.actor, format!("staff:{STAFF}"));
    assert_eq!(record.appointment.as_ref(), Some(&request.appointment));
    record
}

/// A staff browser signed in with the right code, and its CSRF token.
async fn signed_in_staff(t: &TestPortal) -> (Client, String) {
    let mut staff = t.client();
    let page = staff.sign_in_as_staff(STAFF, &t.demo.staff_code).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(&page);
    assert!(html.contains(&format!("Signed in as {STAFF}.")), "{html}");
    let csrf = csrf_token(&html).expect("the worklist's CSRF token");
    (staff, csrf)
}

/// Posts a staff decision on a request of the request-only trust, as its worklist form does,
/// and checks it was done.
async fn decide(staff: &mut Client, path: &str, csrf: &str, extra: &[(&str, &str)]) {
    let mut form = vec![("csrf_token", csrf), ("ods", demo::REQUEST_ONLY_TRUST_ODS)];
    form.extend_from_slice(extra);
    let res = staff.post_form(path, &form).await;
    assert_eq!(
        location(&res).as_deref(),
        Some("/staff?done=1"),
        "{}",
        body_text(&res)
    );
}

fn fulfil(id: uuid::Uuid) -> String {
    format!("/staff/requests/{id}/fulfil")
}

fn reject(id: uuid::Uuid) -> String {
    format!("/staff/requests/{id}/reject")
}

fn request_status(resource: &Value) -> Option<&str> {
    resource["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["url"] == REQUEST_STATUS_EXTENSION)
        .and_then(|x| x["valueCode"].as_str())
}

/// The patient's own appointment page, signed in through the simulator.
async fn patient_page(t: &TestPortal, key: &str) -> String {
    let path = format!("/patient-portal/appointment/{}", demo::appointment_id(key));
    let mut patient = t.client();
    let page = patient.sign_in_at(&path, ADULT).await;
    assert_eq!(page.status(), StatusCode::OK);
    body_text(&page)
}

#[tokio::test]
async fn the_worklist_refuses_no_code_and_wrong_codes() {
    let t = TestPortal::start().await;
    let pending = seeded_request(&t, demo::KEY_ADULT_PENDING_CANCELLATION).await;
    let formatted = pending.patient.formatted();
    let code = t.demo.staff_code.clone();

    // Not signed in: the sign-in page, with no patient's data.
    let mut stranger = t.client();
    let page = stranger.get("/staff").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(&page);
    assert!(html.contains("Sign in to the booking team worklist"));
    assert!(!html.contains(&formatted), "no NHS number before sign-in");

    let (longer, spaced) = (format!("{code}x"), format!(" {code}"));
    let wrong = [
        vec![("name", STAFF)],
        vec![("name", STAFF), ("code", "")],
        vec![("name", STAFF), ("code", "not-the-code")],
        vec![("name", STAFF), ("code", &code[..code.len() - 1])],
        vec![("name", STAFF), ("code", longer.as_str())],
        vec![("name", STAFF), ("code", spaced.as_str())],
        vec![("name", ""), ("code", code.as_str())],
        vec![("name", "   "), ("code", code.as_str())],
    ];
    for form in &wrong {
        // Past the failed-attempt window each time, so the attempt limit (5 per client per 15
        // minutes, tests/sign_in_security.rs) does not answer 429 before the code is checked.
        t.clock.advance(chrono::Duration::minutes(16));
        let res = stranger.post_form("/staff/sign-in", form).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{form:?}");
        assert!(res.headers().get(header::SET_COOKIE).is_none(), "{form:?}");
        let html = body_text(&res);
        assert!(html.contains("Enter your name and the correct access code"));
        assert!(!html.contains(&formatted));
        // Still signed out: the worklist is not shown, and a POST does nothing.
        assert!(body_text(&stranger.get("/staff").await).contains("Sign in to the booking"));
    }
    let res = stranger
        .post_form(
            &fulfil(pending.id),
            &[("ods", demo::REQUEST_ONLY_TRUST_ODS)],
        )
        .await;
    assert_eq!(location(&res).as_deref(), Some("/staff"));
    assert_state(&t, &pending, RequestState::Pending).await;

    // The right code: a session cookie scoped to /staff, HttpOnly and SameSite=Strict.
    let res = stranger
        .post_form("/staff/sign-in", &[("name", STAFF), ("code", &code)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["Path=/staff", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    let list = body_text(&stranger.get("/staff").await);
    assert!(list.contains(&formatted), "the worklist shows the request");
    assert!(list.contains(&fulfil(pending.id)));
}

#[tokio::test]
async fn every_worklist_post_needs_the_sessions_csrf_token() {
    let t = TestPortal::start().await;
    let pending = seeded_request(&t, demo::KEY_ADULT_PENDING_CANCELLATION).await;
    let (mut staff, csrf) = signed_in_staff(&t).await;
    let (_, other_csrf) = signed_in_staff(&t).await;
    assert_ne!(csrf, other_csrf);
    let ods = demo::REQUEST_ONLY_TRUST_ODS;
    for token in [None, Some(""), Some("forged"), Some(other_csrf.as_str())] {
        for path in [
            fulfil(pending.id),
            reject(pending.id),
            "/staff/sign-out".into(),
        ] {
            let mut form = vec![("ods", ods)];
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let res = staff.post_form(&path, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
            assert!(body_text(&res).contains("Nothing has been changed"));
        }
    }
    let now = request_now(&t, pending.id).await;
    assert_eq!(now.state, RequestState::Pending, "nothing was resolved");
    let page = body_text(&staff.get("/staff").await);
    assert!(
        page.contains(&format!("Signed in as {STAFF}.")),
        "still signed in"
    );
    assert_eq!(
        in_pas(&t, &pending.appointment).status,
        AppointmentStatus::Booked
    );

    // With the token, the same POST works.
    let res = staff
        .post_form(&fulfil(pending.id), &[("ods", ods), ("csrf_token", &csrf)])
        .await;
    assert_eq!(location(&res).as_deref(), Some("/staff?done=1"));
    assert_state(&t, &pending, RequestState::Fulfilled).await;
}

#[tokio::test]
async fn staff_of_one_trust_cannot_see_or_act_on_another_trusts_requests() {
    // The worklist serves the real-time trust only; the demo's requests are the other trust's.
    let t = TestPortal::builder()
        .staff_trusts(vec![demo::real_time_trust()])
        .start()
        .await;
    let theirs = [
        seeded_request(&t, demo::KEY_ADULT_PENDING_CANCELLATION).await,
        seeded_request(&t, demo::KEY_ADULT_PENDING_RESCHEDULE).await,
    ];
    let (mut staff, csrf) = signed_in_staff(&t).await;
    let page = body_text(&staff.get("/staff").await);
    assert!(page.contains(demo::REAL_TIME_TRUST_NAME));
    assert!(!page.contains(demo::REQUEST_ONLY_TRUST_NAME));
    assert!(page.contains("No requests are waiting."));
    for r in &theirs {
        assert!(!page.contains(&r.id.to_string()), "{} listed", r.id);
        assert!(!page.contains(&r.patient.formatted()));
    }
    // Naming the other trust, or their own trust with the other trust's request: refused.
    let new_start = "2099-01-05T10:30";
    for r in &theirs {
        for ods in [demo::REQUEST_ONLY_TRUST_ODS, demo::REAL_TIME_TRUST_ODS] {
            for path in [fulfil(r.id), reject(r.id)] {
                let form = [
                    ("csrf_token", csrf.as_str()),
                    ("ods", ods),
                    ("new_start", new_start),
                ];
                let res = staff.post_form(&path, &form).await;
                assert_eq!(res.status(), StatusCode::OK, "{path} as {ods}");
                let html = body_text(&res);
                assert!(
                    html.contains("That request was not found.")
                        || html.contains("That request is no longer waiting."),
                    "{path} as {ods}: {html}"
                );
                assert!(!html.contains(&r.patient.formatted()), "{path} as {ods}");
            }
        }
        let now = request_now(&t, r.id).await;
        assert_eq!(now.state, RequestState::Pending, "{} was resolved", r.id);
        let a = in_pas(&t, &r.appointment);
        assert_eq!(a.status, AppointmentStatus::Booked);
    }
    let audit = t
        .demo
        .store
        .audit_for_patient(&theirs[0].patient, 100)
        .await
        .unwrap();
    assert!(
        !audit.iter().any(|a| matches!(
            a.action,
            AuditAction::RequestFulfilled | AuditAction::RequestRejected
        )),
        "no staff decision was recorded: {audit:?}"
    );
}

#[tokio::test]
async fn fulfilling_a_cancellation_request_cancels_it_for_the_patient_and_the_pca() {
    let key = demo::KEY_ADULT_PENDING_CANCELLATION;
    let (t, pending, id) = portal_with_request(key).await;
    let before = t.pca_appointment(ADULT, &id).await.expect("in the Bundle");
    assert_eq!(request_status(&before), Some("Pending Cancellation"));
    assert!(patient_page(&t, key).await.contains("Pending Cancellation"));

    let (mut staff, csrf) = signed_in_staff(&t).await;
    decide(&mut staff, &fulfil(pending.id), &csrf, &[]).await;
    let page = body_text(&staff.get("/staff?done=1").await);
    assert!(page.contains("Done. The patient"), "{page}");
    assert!(!page.contains(&fulfil(pending.id)), "no longer waiting");

    let now = request_now(&t, pending.id).await;
    assert_eq!(now.state, RequestState::Fulfilled);
    let held = in_pas(&t, &pending.appointment);
    assert_eq!(held.status, AppointmentStatus::Cancelled);
    last_staff_decision(&t, &pending, AuditAction::RequestFulfilled).await;

    // The patient sees it cancelled, with nothing pending and nothing to do.
    let html = patient_page(&t, key).await;
    assert!(html.contains(">Cancelled<"), "{html}");
    assert!(!html.contains("Pending Cancellation"));
    assert!(!html.contains("Ask to cancel this appointment"));
    // So does the PCA.
    let after = t.pca_appointment(ADULT, &id).await.expect("in the Bundle");
    assert_eq!(after["status"], "cancelled");
    assert_eq!(request_status(&after), None);

    // Doing it again changes nothing.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("ods", demo::REQUEST_ONLY_TRUST_ODS),
    ];
    let res = staff.post_form(&fulfil(pending.id), &form).await;
    assert!(body_text(&res).contains("That request is no longer waiting."));
    let records = audit(&t, &pending.patient, 100).await;
    let decisions = records
        .iter()
        .filter(|a| a.action == AuditAction::RequestFulfilled)
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn fulfilling_a_reschedule_request_moves_it_for_the_patient_and_the_pca() {
    let key = demo::KEY_ADULT_PENDING_RESCHEDULE;
    let (t, pending, id) = portal_with_request(key).await;
    let (mut staff, csrf) = signed_in_staff(&t).await;

    // A new time in the future, in UK time.
    let day = uk_time::uk_date(t.now() + chrono::Duration::days(30));
    let local = day.and_hms_opt(10, 30, 0).unwrap();
    let UkLocal::Exact(new_start) = uk_time::from_uk_local(local) else {
        panic!("10:30 is never ambiguous");
    };
    let field = local.format("%Y-%m-%dT%H:%M").to_string();
    let ods = demo::REQUEST_ONLY_TRUST_ODS;

    // A time in the past is refused, and changes nothing.
    let past = uk_time::to_uk(t.now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    for bad in [past.as_str(), "", "tomorrow"] {
        let form = [
            ("csrf_token", csrf.as_str()),
            ("ods", ods),
            ("new_start", bad),
        ];
        let res = staff.post_form(&fulfil(pending.id), &form).await;
        assert!(
            body_text(&res).contains("Enter a new date and time in the future"),
            "{bad}"
        );
        assert_state(&t, &pending, RequestState::Pending).await;
    }

    decide(
        &mut staff,
        &fulfil(pending.id),
        &csrf,
        &[("new_start", &field)],
    )
    .await;
    assert_state(&t, &pending, RequestState::Fulfilled).await;
    let held = in_pas(&t, &pending.appointment);
    assert_eq!(
        (held.status, held.start),
        (AppointmentStatus::Booked, new_start)
    );

    let html = patient_page(&t, key).await;
    assert!(html.contains(&uk_time::format_date(new_start)), "{html}");
    assert!(html.contains(&uk_time::format_time(new_start)), "{html}");
    assert!(!html.contains("Pending Reschedule"));
    let after = t.pca_appointment(ADULT, &id).await.expect("in the Bundle");
    assert_eq!(after["status"], "booked");
    assert_eq!(request_status(&after), None);
    let start = chrono::DateTime::parse_from_rfc3339(after["start"].as_str().unwrap()).unwrap();
    assert_eq!(start, new_start);
}

#[tokio::test]
async fn rejecting_a_request_keeps_the_appointment_and_clears_its_status() {
    let key = demo::KEY_ADULT_PENDING_RESCHEDULE;
    let (t, pending, id) = portal_with_request(key).await;
    let was = in_pas(&t, &pending.appointment);
    let before = t.pca_appointment(ADULT, &id).await.expect("in the Bundle");
    assert_eq!(request_status(&before), Some("Pending Reschedule"));

    let (mut staff, csrf) = signed_in_staff(&t).await;
    decide(&mut staff, &reject(pending.id), &csrf, &[]).await;
    assert_state(&t, &pending, RequestState::Rejected).await;
    let held = in_pas(&t, &pending.appointment);
    assert_eq!((held.status, held.start), (was.status, was.start));
    last_staff_decision(&t, &pending, AuditAction::RequestRejected).await;

    // The patient sees it booked as before, and may ask again.
    let html = patient_page(&t, key).await;
    assert!(!html.contains("Pending Reschedule"), "{html}");
    assert!(html.contains("Ask to change date or time"));
    let after = t.pca_appointment(ADULT, &id).await.expect("in the Bundle");
    assert_eq!(after["status"], "booked");
    assert_eq!(request_status(&after), None);
}
