//! The audit trail of every patient action, read back through the store after driving the
//! demo portal from outside (through the shared harness, as a patient's browser would): each
//! step must write exactly the records named here (action, patient, appointment, actor,
//! session), no more and no fewer, and a double submit must write its action once.

use http::StatusCode;
use nhs_portal_core::store::{AuditAction, AuditRecord};
use nhs_portal_core::{AppointmentId, NhsNumber};
use nhs_portal_pas::demo::{self, ADULT, SECOND_ADULT};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, input_value, location};

/// Reads the audit trail: what was written since the last look, oldest first.
struct Trail<'a> {
    t: &'a TestPortal,
    patient: NhsNumber,
    seen: usize,
}

impl<'a> Trail<'a> {
    async fn new(t: &'a TestPortal, patient: &str) -> Self {
        let mut trail = Self {
            t,
            patient: demo::nhs_number(patient),
            seen: 0,
        };
        trail.seen = trail.all().await.len();
        trail
    }

    async fn all(&self) -> Vec<AuditRecord> {
        let mut all = self
            .t
            .demo
            .store
            .audit_for_patient(&self.patient, 10_000)
            .await
            .expect("the audit trail");
        all.reverse();
        all
    }

    /// The records written since the last call, oldest first.
    async fn new_records(&mut self) -> Vec<AuditRecord> {
        let all = self.all().await;
        let fresh = all[self.seen..].to_vec();
        self.seen = all.len();
        fresh
    }

    /// Asserts the records written since the last call are exactly `want` (action and
    /// appointment, in order), each by the patient, in `session`; returns them.
    async fn expect(
        &mut self,
        step: &str,
        session: Option<&str>,
        want: &[(AuditAction, Option<&AppointmentId>)],
    ) -> Vec<AuditRecord> {
        let got = self.new_records().await;
        let kinds: Vec<_> = got
            .iter()
            .map(|r| (r.action, r.appointment.as_ref()))
            .collect();
        assert_eq!(kinds, want, "{step}: the audit records written");
        for r in &got {
            assert_eq!(r.patient, self.patient, "{step}: whose record");
            assert_eq!(r.actor, "patient", "{step}");
            if let Some(session) = session {
                assert_eq!(r.session.as_deref(), Some(session), "{step}: the session");
            }
        }
        got
    }
}

fn page(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

/// Fills the first step of a journey (`/cancel` or `/reschedule`) and returns the check page's
/// path.
async fn answer(c: &mut Client, base: &str, step: &str, form: &[(&str, &str)]) -> String {
    let html = body_text(&c.get(&format!("{base}/{step}")).await);
    let csrf = csrf_token(&html).expect("a CSRF token on the form");
    let mut form = form.to_vec();
    form.push(("csrf_token", &csrf));
    let res = c.post_form(&format!("{base}/{step}"), &form).await;
    location(&res).unwrap_or_else(|| panic!("{base}/{step}: {}", body_text(&res)))
}

/// A double click on a confirmation: the same form again, from the browser as it was before
/// the first answer came back (with the same cookies).
struct SecondClick {
    browser: Client,
    action: String,
    form: Vec<(String, String)>,
}

impl SecondClick {
    async fn send(mut self) -> http::Response<bytes::Bytes> {
        post(&mut self.browser, &self.action, &self.form).await
    }
}

/// Confirms on the check page at `check`; returns the same click to send again.
async fn confirm(c: &mut Client, check: &str) -> SecondClick {
    let html = body_text(&c.get(check).await);
    let action = check.split('?').next().unwrap().to_owned();
    let mut form = vec![
        (
            "csrf_token".to_owned(),
            csrf_token(&html).expect("a CSRF token"),
        ),
        (
            "idempotency_key".to_owned(),
            input_value(&html, "idempotency_key").expect("an idempotency key"),
        ),
    ];
    if let Some(slot) = input_value(&html, "slot") {
        form.push(("slot".to_owned(), slot));
    }
    let second = SecondClick {
        browser: c.clone(),
        action: action.clone(),
        form: form.clone(),
    };
    let res = post(c, &action, &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    assert!(
        location(&res).unwrap().ends_with("/done"),
        "{check} confirmed"
    );
    second
}

async fn post(
    c: &mut Client,
    path: &str,
    form: &[(String, String)],
) -> http::Response<bytes::Bytes> {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    c.post_form(path, &form).await
}

#[tokio::test]
async fn every_patient_action_writes_exactly_its_audit_records() {
    let t = TestPortal::start().await;
    let mut trail = Trail::new(&t, ADULT).await;
    let mut c = t.client();

    // Sign-in lands on the list: signed in, then viewed the list.
    let list = c.sign_in_as(ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
    let signed_in = trail
        .expect(
            "sign-in",
            None,
            &[
                (AuditAction::SignedIn, None),
                (AuditAction::ViewedAppointments, None),
            ],
        )
        .await;
    let session = signed_in[0].session.clone().expect("a session id");
    let session = Some(session.as_str());
    assert_eq!(signed_in[1].session.as_deref(), session);

    // Viewing one appointment.
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    assert_eq!(
        c.get(&page(demo::KEY_ADULT_DERMATOLOGY)).await.status(),
        StatusCode::OK
    );
    trail
        .expect(
            "view",
            session,
            &[(AuditAction::ViewedAppointment, Some(&derm))],
        )
        .await;

    // Another patient's appointment, and one nobody has: refused, and recorded as refused
    // (against the signed-in patient, never the owner).
    let theirs = demo::appointment_id("second/r9n/neurology");
    let nobodys = AppointmentId::new_random();
    for id in [&theirs, &nobodys] {
        let res = c.get(&format!("/patient-portal/appointment/{id}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        trail
            .expect(
                "another's appointment",
                session,
                &[(AuditAction::AccessRefused, Some(id))],
            )
            .await;
    }
    let mut trail2 = Trail::new(&t, SECOND_ADULT).await;
    assert_eq!(
        trail2.new_records().await,
        [],
        "nothing is written as the owner"
    );

    // Cancelling in real time: the journey's pages write nothing until the confirmation.
    let phone = demo::appointment_id(demo::KEY_ADULT_TELEPHONE);
    let base = page(demo::KEY_ADULT_TELEPHONE);
    let check = answer(&mut c, &base, "cancel", &[("reason", "no-transport")]).await;
    trail.expect("cancel: reason", session, &[]).await;
    let second = confirm(&mut c, &check).await;
    let got = trail
        .expect(
            "cancel in real time",
            session,
            &[(AuditAction::Cancelled, Some(&phone))],
        )
        .await;
    assert_eq!(got[0].detail.as_deref(), Some("reason=no-transport"));
    // The same confirmation submitted again: the same answer, no second record.
    let again = second.send().await;
    assert_eq!(
        location(&again).as_deref(),
        Some(format!("{base}/cancel/done").as_str()),
        "{}",
        body_text(&again)
    );
    trail.expect("cancel submitted twice", session, &[]).await;
    c.get(&format!("{base}/cancel/done")).await;
    trail.expect("cancel: done page", session, &[]).await;

    // Asking to cancel (request-only trust).
    let eyes = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let base = page(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let check = answer(&mut c, &base, "cancel", &[("reason", "no-transport")]).await;
    let second = confirm(&mut c, &check).await;
    let got = trail
        .expect(
            "cancel request",
            session,
            &[(AuditAction::CancelRequested, Some(&eyes))],
        )
        .await;
    assert_eq!(got[0].detail.as_deref(), Some("reason=no-transport"));
    let again = second.send().await;
    assert_eq!(
        location(&again).as_deref(),
        Some(format!("{base}/cancel/done").as_str())
    );
    trail
        .expect("cancel request submitted twice", session, &[])
        .await;

    // Rescheduling in real time, into the first slot offered.
    let base = page(demo::KEY_ADULT_DERMATOLOGY);
    let slots = body_text(&c.get(&format!("{base}/reschedule")).await);
    let slot = input_value(&slots, "slot").expect("a free slot offered");
    let check = answer(&mut c, &base, "reschedule", &[("slot", &slot)]).await;
    let second = confirm(&mut c, &check).await;
    let got = trail
        .expect(
            "reschedule in real time",
            session,
            &[(AuditAction::Rescheduled, Some(&derm))],
        )
        .await;
    let moved = t.demo.pas.inspect_appointment(&derm).unwrap();
    assert_eq!(
        got[0].detail.as_deref(),
        Some(format!("to={};new={}", moved.start.to_rfc3339(), moved.id).as_str())
    );
    let again = second.send().await;
    assert_eq!(
        location(&again).as_deref(),
        Some(format!("{base}/reschedule/done").as_str())
    );
    trail
        .expect("reschedule submitted twice", session, &[])
        .await;

    // Signing out.
    let html = body_text(&c.get("/patient-portal/appointments").await);
    trail
        .expect(
            "the list again",
            session,
            &[(AuditAction::ViewedAppointments, None)],
        )
        .await;
    let csrf = csrf_token(&html).unwrap();
    let res = c.post_form("/sign-out", &[("csrf_token", &csrf)]).await;
    assert_eq!(location(&res).as_deref(), Some("/signed-out"));
    trail
        .expect("sign-out", session, &[(AuditAction::SignedOut, None)])
        .await;

    // Asking to reschedule, as the second patient: written under their number only.
    let mut c2 = t.client();
    c2.sign_in_as(SECOND_ADULT).await;
    let signed_in = trail2
        .expect(
            "second sign-in",
            None,
            &[
                (AuditAction::SignedIn, None),
                (AuditAction::ViewedAppointments, None),
            ],
        )
        .await;
    let session2 = signed_in[0].session.clone().unwrap();
    assert_ne!(Some(session2.as_str()), session, "a new session id");
    let gyn = demo::appointment_id("second/r9e/gynaecology");
    let base = page("second/r9e/gynaecology");
    let check = answer(
        &mut c2,
        &base,
        "reschedule",
        &[("reason", "commitments"), ("details", "Mornings are hard")],
    )
    .await;
    let second_click = confirm(&mut c2, &check).await;
    let got = trail2
        .expect(
            "reschedule request",
            Some(&session2),
            &[(AuditAction::RescheduleRequested, Some(&gyn))],
        )
        .await;
    assert_eq!(
        got[0].detail.as_deref(),
        Some("reason=commitments"),
        "no free text"
    );
    let again = second_click.send().await;
    assert_eq!(
        location(&again).as_deref(),
        Some(format!("{base}/reschedule/done").as_str())
    );
    trail2
        .expect("reschedule request submitted twice", None, &[])
        .await;
    trail
        .expect("nothing under the first patient", None, &[])
        .await;
}
