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
    c.answer(base, step, form).await
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
    let form = Client::confirm_form(&html);
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
    c.post_pairs(path, form).await
}

impl Trail<'_> {
    /// Asserts the confirmation just made wrote exactly one `action` record for `id` with
    /// `detail`; then sends the double click, which must get the same "done" page and write
    /// nothing.
    async fn expect_once(
        &mut self,
        step: &str,
        session: Option<&str>,
        (action, id, detail): (AuditAction, &AppointmentId, &str),
        second: SecondClick,
    ) {
        let got = self.expect(step, session, &[(action, Some(id))]).await;
        assert_eq!(got[0].detail.as_deref(), Some(detail), "{step}: the detail");
        let done = second.action.replace("/check", "/done");
        let again = second.send().await;
        assert_eq!(location(&again), Some(done), "{step}: the second click");
        self.expect(&format!("{step}, clicked twice"), session, &[])
            .await;
    }
}

#[tokio::test]
async fn every_patient_action_writes_exactly_its_audit_records() {
    let t = TestPortal::start().await;
    let mut trail = Trail::new(&t, ADULT).await;
    let mut c = t.client();

    // Sign-in lands on the list: signed in, then viewed the list.
    let list = c.sign_in_as(ADULT).await;
    assert_eq!(list.status(), StatusCode::OK);
    let signed_in_and_list = [
        (AuditAction::SignedIn, None),
        (AuditAction::ViewedAppointments, None),
    ];
    let signed_in = trail.expect("sign-in", None, &signed_in_and_list).await;
    let session = signed_in[0].session.clone().expect("a session id");
    let session = Some(session.as_str());
    assert_eq!(signed_in[1].session.as_deref(), session);

    // Viewing one appointment.
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let res = c.get(&page(demo::KEY_ADULT_DERMATOLOGY)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let viewed = [(AuditAction::ViewedAppointment, Some(&derm))];
    trail.expect("view", session, &viewed).await;

    // Another patient's appointment, and one nobody has: refused, and recorded as refused
    // (against the signed-in patient, never the owner).
    let theirs = demo::appointment_id("second/r9n/neurology");
    let nobodys = AppointmentId::new_random();
    for id in [&theirs, &nobodys] {
        let res = c.get(&format!("/patient-portal/appointment/{id}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let refused = [(AuditAction::AccessRefused, Some(id))];
        trail
            .expect("another's appointment", session, &refused)
            .await;
    }
    let mut trail2 = Trail::new(&t, SECOND_ADULT).await;
    let owners = trail2.new_records().await;
    assert_eq!(owners, [], "nothing is written as the owner");

    // Cancelling in real time: the journey's pages write nothing until the confirmation.
    let phone = demo::appointment_id(demo::KEY_ADULT_TELEPHONE);
    let base = page(demo::KEY_ADULT_TELEPHONE);
    let check = answer(&mut c, &base, "cancel", &[("reason", "no-transport")]).await;
    trail.expect("cancel: reason", session, &[]).await;
    let second = confirm(&mut c, &check).await;
    let cancelled = (AuditAction::Cancelled, &phone, "reason=no-transport");
    trail
        .expect_once("cancel in real time", session, cancelled, second)
        .await;
    c.get(&format!("{base}/cancel/done")).await;
    trail.expect("cancel: done page", session, &[]).await;

    // Asking to cancel (request-only trust).
    let eyes = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let base = page(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let check = answer(&mut c, &base, "cancel", &[("reason", "no-transport")]).await;
    let second = confirm(&mut c, &check).await;
    let requested = (AuditAction::CancelRequested, &eyes, "reason=no-transport");
    trail
        .expect_once("cancel request", session, requested, second)
        .await;

    // Rescheduling in real time, into the first slot offered.
    let base = page(demo::KEY_ADULT_DERMATOLOGY);
    let slots = body_text(&c.get(&format!("{base}/reschedule")).await);
    let slot = input_value(&slots, "slot").expect("a free slot offered");
    let check = answer(&mut c, &base, "reschedule", &[("slot", &slot)]).await;
    let second = confirm(&mut c, &check).await;
    let moved = t.demo.pas.inspect_appointment(&derm).unwrap();
    let detail = format!("to={};new={}", moved.start.to_rfc3339(), moved.id);
    let rescheduled = (AuditAction::Rescheduled, &derm, detail.as_str());
    trail
        .expect_once("reschedule in real time", session, rescheduled, second)
        .await;

    // Signing out.
    let html = body_text(&c.get("/patient-portal/appointments").await);
    let list_again = [(AuditAction::ViewedAppointments, None)];
    trail.expect("the list again", session, &list_again).await;
    let csrf = csrf_token(&html).unwrap();
    let res = c.post_form("/sign-out", &[("csrf_token", &csrf)]).await;
    assert_eq!(location(&res).as_deref(), Some("/signed-out"));
    let signed_out = [(AuditAction::SignedOut, None)];
    trail.expect("sign-out", session, &signed_out).await;

    // Asking to reschedule, as the second patient: written under their number only, and the
    // patient's free text is never in the record.
    let mut c2 = t.client();
    c2.sign_in_as(SECOND_ADULT).await;
    let signed_in = trail2
        .expect("second sign-in", None, &signed_in_and_list)
        .await;
    let session2 = signed_in[0].session.clone().unwrap();
    assert_ne!(Some(session2.as_str()), session, "a new session id");
    let gyn = demo::appointment_id("second/r9e/gynaecology");
    let base = page("second/r9e/gynaecology");
    let answers = [("reason", "commitments"), ("details", "Mornings are hard")];
    let check = answer(&mut c2, &base, "reschedule", &answers).await;
    let second = confirm(&mut c2, &check).await;
    let requested = (AuditAction::RescheduleRequested, &gyn, "reason=commitments");
    trail2
        .expect_once("reschedule request", Some(&session2), requested, second)
        .await;
    trail
        .expect("nothing under the first patient", None, &[])
        .await;
}
