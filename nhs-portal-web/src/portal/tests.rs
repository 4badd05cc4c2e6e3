//! Page-flow tests of the patient pages over HTTP types, with a small in-memory fake PAS
//! (test-only) and a fake sign-in. The session, CSRF, NHS App, header and body-limit rules are
//! tested through the demo portal in `tests/tests/patient_pages.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::request_status::{
    CancelMode, Capabilities, RequestKind, RequestOutcome, RescheduleMode,
};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditLog, AuditRecord, NewRequest, Outbox, RequestStore, Submitted,
};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, ConsultationMedium, Location,
    NhsNumber, OdsCode, Organisation, Specialty, TreatmentFunctionCode,
};
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};

use super::*;
use crate::http_kit::query_param as query_get;
use crate::sign_in::{FailedSignIn, SignIn, SignInFailure, SignInStart, SignedIn};

const ALICE: &str = "9000000009";
const BOB: &str = "9000000017";
const RT: &str = "RT1";
const RQ: &str = "RQ2";
/// A trust that shows appointments but lets patients change nothing online.
const VIEW_ONLY: &str = "VO3";
/// A trust that cancels in real time but does not offer rescheduling.
const MIXED: &str = "MX4";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).unwrap()
}

/// A test-only fake PAS: appointments in a map, one trust real time and one request only.
#[derive(Default)]
struct FakePas {
    appts: Mutex<HashMap<String, Appointment>>,
    fail: Mutex<bool>,
    taken: Mutex<Vec<String>>,
    /// A business-rule refusal (with this text) for the next cancellations.
    refuse_cancel: Mutex<Option<String>>,
    /// How many calls of `get_appointment`, `capabilities` and `cancel` were made.
    calls: std::sync::atomic::AtomicUsize,
}

fn appt(id: &str, patient: &str, ods: &str, start: DateTime<Utc>) -> Appointment {
    Appointment {
        id: AppointmentId::parse(id).unwrap(),
        patient: NhsNumber::parse(patient).unwrap(),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Dermatology appointment".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start,
        end: Some(start + Duration::minutes(30)),
        medium: ConsultationMedium::FaceToFace,
        priority: None,
        location: Some(Location {
            name: "Northfield Hospital Outpatients".into(),
            address: vec!["1 Hospital Road".into()],
        }),
        clinician: None,
        organisation: Organisation {
            ods_code: OdsCode::parse(ods).unwrap(),
            name: "Test Trust".into(),
        },
        appointment_type: AppointmentType::Outpatient,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![],
        holding: false,
    }
}

impl FakePas {
    fn seeded() -> Self {
        let p = Self::default();
        let day = Duration::days(1);
        for a in [
            appt("a-rt-1", ALICE, RT, t0() + day * 7),
            appt("a-rq-1", ALICE, RQ, t0() + day * 8),
            appt("b-rt-1", BOB, RT, t0() + day * 9),
            appt("b-rq-1", BOB, RQ, t0() + day * 10),
        ] {
            p.appts.lock().unwrap().insert(a.id.to_string(), a);
        }
        p
    }
    fn check(&self) -> Result<(), PasError> {
        if *self.fail.lock().unwrap() {
            Err(PasError::Timeout)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl PasBackend for FakePas {
    async fn patient(&self, _: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        Ok(None)
    }
    async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.check()?;
        Ok(self
            .appts
            .lock()
            .unwrap()
            .values()
            .filter(|a| a.patient == *p)
            .cloned()
            .collect())
    }
    async fn get_appointment(
        &self,
        p: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.check()?;
        Ok(self
            .appts
            .lock()
            .unwrap()
            .get(id.as_str())
            .filter(|a| a.patient == *p)
            .cloned())
    }
    async fn capabilities(&self, a: &Appointment) -> Result<Capabilities, PasError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(match a.organisation.ods_code.as_str() {
            RT => Capabilities::REAL_TIME,
            VIEW_ONLY => Capabilities::VIEW_ONLY,
            MIXED => Capabilities {
                cancel: CancelMode::RealTime,
                reschedule: RescheduleMode::NotOffered,
                ..Capabilities::VIEW_ONLY
            },
            _ => Capabilities::REQUEST_ONLY,
        })
    }
    async fn cancel(&self, a: &Appointment, _: &CancelReason) -> Result<Appointment, PasError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(text) = self.refuse_cancel.lock().unwrap().clone() {
            return Err(PasError::BusinessRule { text });
        }
        let mut g = self.appts.lock().unwrap();
        let stored = g.get_mut(a.id.as_str()).ok_or(PasError::NotFound)?;
        stored.status = AppointmentStatus::Cancelled;
        Ok(stored.clone())
    }
    async fn find_slots(
        &self,
        a: &Appointment,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        let taken = self.taken.lock().unwrap().clone();
        Ok((1..=3)
            .map(|i| Slot {
                id: format!("slot-{i}"),
                start: a.start + Duration::days(i) + Duration::hours(i),
                end: a.start + Duration::days(i) + Duration::hours(i) + Duration::minutes(30),
                location: None,
                clinician: Some("Dr Amira Shah".into()),
            })
            .filter(|s| !taken.contains(&s.id))
            .collect())
    }
    async fn reschedule(&self, a: &Appointment, slot: &str) -> Result<Appointment, PasError> {
        let slots = self.find_slots(a, t0(), t0()).await?;
        let s = slots
            .iter()
            .find(|s| s.id == slot)
            .ok_or(PasError::SlotUnavailable)?;
        self.taken.lock().unwrap().push(slot.to_owned());
        let mut g = self.appts.lock().unwrap();
        let stored = g.get_mut(a.id.as_str()).ok_or(PasError::NotFound)?;
        stored.start = s.start;
        stored.end = Some(s.end);
        Ok(stored.clone())
    }
    async fn poll_events(&self, _: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        let _ = RequestOutcome::Rejected;
        Ok(vec![])
    }
}

/// A fake sign-in: `begin` points at the callback with the patient in the query.
struct FakeSignIn;

#[async_trait]
impl SignIn for FakeSignIn {
    async fn begin(&self, start: SignInStart) -> Result<String, SignInFailure> {
        let prompt = if start.force_login {
            "&prompt=login"
        } else {
            ""
        };
        Ok(format!(
            "https://login.example/authorize?state={}&return_to={}{prompt}",
            crate::session::random_token(),
            start.return_to
        ))
    }
    async fn complete(&self, query: &str) -> Result<SignedIn, FailedSignIn> {
        let q = |k: &str| query_get(Some(query), k);
        match q("error").as_deref() {
            Some("consent") => return Err(SignInFailure::ConsentRefused.into()),
            Some("sso") => return Err(SignInFailure::SsoFailed.into()),
            Some("p5") => return Err(SignInFailure::IdentityTooLow.into()),
            Some("state") => return Err(SignInFailure::StateMismatch.into()),
            Some("down") => return Err(SignInFailure::Unavailable.into()),
            _ => {}
        }
        Ok(SignedIn {
            patient: NhsNumber::parse(&q("nhs").unwrap()).unwrap(),
            // An adult: the eligibility gate refuses a session with no date of birth.
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1980, 1, 1),
            display_name: None,
            return_to: q("return_to").unwrap_or_else(|| "/patient-portal/appointments".into()),
            in_nhs_app: q("app").is_some(),
            tracking_id: None,
            nhs_app_sso: false,
        })
    }
}

struct Harness {
    portal: Portal,
    pas: Arc<FakePas>,
    store: Arc<MemoryStore>,
}

struct Client {
    cookies: HashMap<String, String>,
    ua: Option<&'static str>,
}

fn harness() -> Harness {
    let pas = Arc::new(FakePas::seeded());
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let portal = Portal::new(
        PortalConfig::new("http://127.0.0.1:8080"),
        PortalParts {
            store: store.clone(),
            pas: pas.clone(),
            clock,
            sign_in: Arc::new(FakeSignIn),
            assets: Assets::embedded_only(),
        },
    )
    .unwrap();
    Harness { portal, pas, store }
}

fn body(res: &Response<Bytes>) -> String {
    String::from_utf8(res.body().to_vec()).unwrap()
}

fn location(res: &Response<Bytes>) -> String {
    res.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// Pulls `name="..." value="..."` out of a form.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

impl Client {
    fn new() -> Self {
        Self {
            cookies: HashMap::new(),
            ua: None,
        }
    }

    fn absorb(&mut self, res: &Response<Bytes>) {
        for v in res.headers().get_all(header::SET_COOKIE) {
            let c = cookie::Cookie::parse(v.to_str().unwrap().to_owned()).unwrap();
            if c.value().is_empty() {
                self.cookies.remove(c.name());
            } else {
                self.cookies
                    .insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    async fn send(
        &mut self,
        h: &Harness,
        method: &str,
        uri: &str,
        form: &[(&str, &str)],
    ) -> Response<Bytes> {
        let mut b = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let c = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            b = b.header(header::COOKIE, c);
        }
        if let Some(ua) = self.ua {
            b = b.header(header::USER_AGENT, ua);
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let res = h.portal.handle(b.body(Bytes::from(body)).unwrap()).await;
        self.absorb(&res);
        res
    }

    async fn get(&mut self, h: &Harness, uri: &str) -> Response<Bytes> {
        self.send(h, "GET", uri, &[]).await
    }

    async fn post(&mut self, h: &Harness, uri: &str, form: &[(&str, &str)]) -> Response<Bytes> {
        self.send(h, "POST", uri, form).await
    }

    /// Starts a sign-in in this browser (binding its state to it) and returns the callback
    /// query NHS login would send back for `nhs`.
    async fn start_sign_in(&mut self, h: &Harness, nhs: &str) -> String {
        let res = self.get(h, "/sign-in").await;
        let to = url::Url::parse(&location(&res)).unwrap();
        let state = to.query_pairs().find(|(k, _)| k == "state").unwrap().1;
        format!("state={state}&nhs={nhs}")
    }

    /// Answers the cancel journey's first question: "No, I no longer need it".
    async fn no_longer_needed(&mut self, h: &Harness, base: &str, csrf: &str) {
        let res = self
            .post(
                h,
                &format!("{base}/cancel/need"),
                &[("csrf_token", csrf), ("still_needed", "no-longer-needed")],
            )
            .await;
        assert!(
            res.headers().contains_key(header::LOCATION),
            "{}: {}",
            res.status(),
            body(&res)
        );
        assert_eq!(location(&res), format!("{base}/cancel"));
    }

    async fn sign_in(&mut self, h: &Harness, nhs: &str) -> String {
        let callback = self.start_sign_in(h, nhs).await;
        let res = self.get(h, &format!("/sign-in/callback?{callback}")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let page = self.get(h, "/patient-portal/appointments").await;
        assert_eq!(page.status(), StatusCode::OK);
        hidden(&body(&page), "csrf_token")
    }
}

#[tokio::test]
async fn appointment_page_shows_details_and_status() {
    let h = harness();
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    let res = c.get(&h, "/patient-portal/appointment/a-rt-1").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body(&res);
    assert!(html.contains("<h1 class=\"nhsuk-heading-l\">Dermatology appointment</h1>"));
    assert!(html.contains(
        "<title>Dermatology appointment – Manage your hospital appointments – NHS</title>"
    ));
    assert!(html.contains("Monday 9 June 2025"));
    assert!(html.contains("10am"), "09:00 UTC is 10am BST");
    // The security headers: tests/tests/patient_pages.rs.
}

/// Every label an action link can carry, cancel and reschedule.
const CANCEL_LABELS: [&str; 2] = ["Cancel this appointment", "Ask to cancel this appointment"];
const RESCHEDULE_LABELS: [&str; 2] = ["Change date or time", "Ask to change date or time"];

/// Asserts the page offers exactly `want` for one action: its link and label when `Some`, and
/// no link to the action and none of its labels otherwise.
fn assert_action(html: &str, base: &str, action: &str, labels: &[&str], want: Option<&str>) {
    let href = format!("href=\"{base}/{action}\"");
    match want {
        Some(label) => {
            assert!(html.contains(&href), "{base}: {action} link missing");
            assert!(
                html.contains(&format!(">{label}<")),
                "{base}: {label:?} missing"
            );
            for other in labels.iter().filter(|l| **l != label) {
                assert!(
                    !html.contains(&format!(">{other}<")),
                    "{base}: {other:?} shown"
                );
            }
        }
        None => {
            assert!(
                !html.contains(&format!("{base}/{action}")),
                "{base}: {action} offered"
            );
            for label in labels {
                assert!(!html.contains(label), "{base}: {label:?} shown");
            }
        }
    }
}

/// One appointment state: id, trust, status, start, pending request, and the cancel and
/// reschedule labels the page must offer (`None`: that action must be absent).
type StateRow = (
    &'static str,
    &'static str,
    AppointmentStatus,
    DateTime<Utc>,
    Option<RequestKind>,
    Option<&'static str>,
    Option<&'static str>,
);

#[tokio::test]
async fn appointment_page_offers_only_the_allowed_actions_in_every_state() {
    use AppointmentStatus::{Booked, Cancelled, Fulfilled, NoShow};
    let h = harness();
    let day = Duration::days(1);
    let (rt_cancel, rq_cancel) = (Some(CANCEL_LABELS[0]), Some(CANCEL_LABELS[1]));
    let (rt_move, rq_move) = (Some(RESCHEDULE_LABELS[0]), Some(RESCHEDULE_LABELS[1]));
    let (soon, ago) = (t0() + day * 7, t0() - day * 2);
    let (cancel_req, move_req) = (Some(RequestKind::Cancel), Some(RequestKind::Reschedule));
    #[rustfmt::skip]
    let rows: [StateRow; 14] = [
        // id               trust      status     start  pending     cancel     reschedule
        ("s-rt-booked",     RT,        Booked,    soon,  None,       rt_cancel, rt_move),
        ("s-rq-booked",     RQ,        Booked,    soon,  None,       rq_cancel, rq_move),
        ("s-vo-booked",     VIEW_ONLY, Booked,    soon,  None,       None,      None),
        ("s-mx-booked",     MIXED,     Booked,    soon,  None,       rt_cancel, None),
        ("s-rq-pend-c",     RQ,        Booked,    soon,  cancel_req, None,      None),
        ("s-rq-pend-r",     RQ,        Booked,    soon,  move_req,   None,      None),
        ("s-rt-pend-c",     RT,        Booked,    soon,  cancel_req, None,      None),
        ("s-rt-past",       RT,        Booked,    ago,   None,       None,      None),
        ("s-rq-past",       RQ,        Booked,    ago,   None,       None,      None),
        ("s-rt-now",        RT,        Booked,    t0(),  None,       None,      None),
        ("s-rt-cancelled",  RT,        Cancelled, soon,  None,       None,      None),
        ("s-rq-cancelled",  RQ,        Cancelled, soon,  None,       None,      None),
        ("s-rt-fulfilled",  RT,        Fulfilled, ago,   None,       None,      None),
        ("s-rt-noshow",     RT,        NoShow,    ago,   None,       None,      None),
    ];
    let alice = NhsNumber::parse(ALICE).unwrap();
    for (id, trust, status, start, pending, ..) in &rows {
        let mut a = appt(id, ALICE, trust, *start);
        a.status = *status;
        h.pas
            .appts
            .lock()
            .unwrap()
            .insert((*id).to_owned(), a.clone());
        if let Some(kind) = pending {
            let request = NewRequest {
                id: uuid::Uuid::new_v4(),
                idempotency_key: format!("key-{id}"),
                appointment: a.id.clone(),
                patient: alice.clone(),
                ods_code: a.organisation.ods_code.clone(),
                kind: *kind,
                reason: "other".into(),
                details: None,
                created_at: t0() - day,
            };
            let audit = AuditRecord {
                at: t0() - day,
                patient: alice.clone(),
                actor: "patient".into(),
                session: None,
                action: AuditAction::CancelRequested,
                appointment: Some(a.id.clone()),
                detail: None,
            };
            let submitted = h.store.submit_request(&request, &audit, &[]).await.unwrap();
            assert!(matches!(submitted, Submitted::Created(_)), "{id}");
        }
    }
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    for (id, _, _, _, _, cancel, reschedule) in rows {
        let base = format!("/patient-portal/appointment/{id}");
        let res = c.get(&h, &base).await;
        assert_eq!(res.status(), StatusCode::OK, "{id}");
        let html = body(&res);
        assert_action(&html, &base, "cancel/need", &CANCEL_LABELS, cancel);
        assert_action(&html, &base, "reschedule", &RESCHEDULE_LABELS, reschedule);
        // No form on the page posts to an action either.
        assert!(
            !html.contains(&format!("action=\"{base}/")),
            "{id}: a form posts an action"
        );
    }
}

#[tokio::test]
async fn request_only_cancel_journey_stores_one_request_and_shows_pending() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rq-1";
    // The reasons come only after "Do you still need this appointment?".
    let res = c.get(&h, &format!("{base}/cancel")).await;
    assert_eq!(location(&res), format!("{base}/cancel/need"));
    c.no_longer_needed(&h, base, &csrf).await;
    assert_eq!(
        c.get(&h, &format!("{base}/cancel")).await.status(),
        StatusCode::OK
    );
    // No reason: errors, with "Error: " in the title.
    let res = c
        .post(&h, &format!("{base}/cancel"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(&res);
    assert!(html.contains("<title>Error: "));
    assert!(html.contains("Select why you need to cancel"));
    // "Other" without words is an error too.
    let res = c
        .post(
            &h,
            &format!("{base}/cancel"),
            &[("csrf_token", &csrf), ("reason", "other")],
        )
        .await;
    assert!(body(&res).contains("Enter why you need to cancel"));
    let res = c
        .post(
            &h,
            &format!("{base}/cancel"),
            &[("csrf_token", &csrf), ("reason", "no-transport")],
        )
        .await;
    assert_eq!(location(&res), format!("{base}/cancel/check"));
    let check = body(&c.get(&h, &format!("{base}/cancel/check")).await);
    assert!(check.contains("Check your request to cancel"));
    assert!(check.contains("I do not have transport"));
    let key = hidden(&check, "idempotency_key");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    // A double click sends the form twice, both times with the cookies as they were before
    // the first answer (which clears the draft).
    let draft = c.cookies.get("nhs_portal_draft").cloned().expect("a draft");
    let res = c.post(&h, &format!("{base}/cancel/check"), &form).await;
    assert_eq!(location(&res), format!("{base}/cancel/done"));
    let done = body(&c.get(&h, &format!("{base}/cancel/done")).await);
    assert!(done.contains("Your request to cancel has been submitted"));
    // The second submit (same key) changes nothing: the same answer, one request, one audit
    // record, one reporting event.
    c.cookies.insert("nhs_portal_draft".into(), draft);
    let again = c.post(&h, &format!("{base}/cancel/check"), &form).await;
    assert_eq!(location(&again), format!("{base}/cancel/done"));
    let alice = NhsNumber::parse(ALICE).unwrap();
    assert_eq!(h.store.list_requests(None, None).await.unwrap().len(), 1);
    assert_eq!(
        h.store
            .pending_requests_for_patient(&alice)
            .await
            .unwrap()
            .len(),
        1
    );
    let page = body(&c.get(&h, base).await);
    assert!(page.contains("Pending Cancellation"));
    assert!(
        !page.contains("Ask to cancel this appointment"),
        "no second request offered"
    );
    // The PAS appointment is unchanged (request only).
    assert_eq!(
        h.pas.appts.lock().unwrap()["a-rq-1"].status,
        AppointmentStatus::Booked
    );
    // Exactly one audit record of the request, for this appointment and patient.
    let requested: Vec<_> = h
        .store
        .audit_for_patient(&alice, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == AuditAction::CancelRequested)
        .collect();
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(
        requested[0].appointment.as_ref().map(|a| a.as_str()),
        Some("a-rq-1")
    );
    assert_eq!(requested[0].detail.as_deref(), Some("reason=no-transport"));
    // Its reporting events: the sign-in's SESSION, then one APPT-REQUEST-CANC after its APPT.
    let stats = h.store.outbox_stats().await.unwrap();
    assert_eq!(
        stats.pending, 3,
        "sign-in SESSION + APPT + one APPT-REQUEST-CANC"
    );
}

#[tokio::test]
async fn double_submit_of_a_request_makes_one_request() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rq-1";
    c.no_longer_needed(&h, base, &csrf).await;
    c.post(
        &h,
        &format!("{base}/cancel"),
        &[("csrf_token", &csrf), ("reason", "no-transport")],
    )
    .await;
    let check = body(&c.get(&h, &format!("{base}/cancel/check")).await);
    let key = hidden(&check, "idempotency_key");
    let draft = c.cookies.get("nhs_portal_draft").cloned().unwrap();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    let first = c.post(&h, &format!("{base}/cancel/check"), &form).await;
    c.cookies.insert("nhs_portal_draft".into(), draft);
    let second = c.post(&h, &format!("{base}/cancel/check"), &form).await;
    assert_eq!(location(&first), location(&second));
    let alice = NhsNumber::parse(ALICE).unwrap();
    let all = h.store.list_requests(None, None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        h.store
            .pending_requests_for_patient(&alice)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn real_time_cancel_cancels_in_the_pas() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    c.no_longer_needed(&h, base, &csrf).await;
    c.post(
        &h,
        &format!("{base}/cancel"),
        &[
            ("csrf_token", &csrf),
            ("reason", "other"),
            ("details", "Moving away"),
        ],
    )
    .await;
    let check = body(&c.get(&h, &format!("{base}/cancel/check")).await);
    assert!(check.contains("Moving away"));
    assert!(check.contains("nhsuk-button--warning"));
    let key = hidden(&check, "idempotency_key");
    let before = h.pas.calls.load(std::sync::atomic::Ordering::SeqCst);
    c.post(
        &h,
        &format!("{base}/cancel/check"),
        &[("csrf_token", &csrf), ("idempotency_key", &key)],
    )
    .await;
    // One PAS read of the appointment and its capabilities, then the cancel: nothing read twice.
    assert_eq!(
        h.pas.calls.load(std::sync::atomic::Ordering::SeqCst) - before,
        3
    );
    let done = body(&c.get(&h, &format!("{base}/cancel/done")).await);
    assert!(done.contains("Your appointment has been cancelled"));
    assert_eq!(
        h.pas.appts.lock().unwrap()["a-rt-1"].status,
        AppointmentStatus::Cancelled
    );
    let page = body(&c.get(&h, base).await);
    assert!(page.contains(">Cancelled<"));
}

#[tokio::test]
async fn a_cancel_the_pas_refuses_under_its_rules_has_its_own_page() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    *h.pas.refuse_cancel.lock().unwrap() = Some("Alice Example: too late to cancel".into());
    c.no_longer_needed(&h, base, &csrf).await;
    c.post(
        &h,
        &format!("{base}/cancel"),
        &[("csrf_token", &csrf), ("reason", "no-longer-needed")],
    )
    .await;
    let check = body(&c.get(&h, &format!("{base}/cancel/check")).await);
    let key = hidden(&check, "idempotency_key");
    let res = c
        .post(
            &h,
            &format!("{base}/cancel/check"),
            &[("csrf_token", &csrf), ("idempotency_key", &key)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = body(&res);
    assert!(
        page.contains("The hospital could not make this change"),
        "{page}"
    );
    // the PAS's own words (which may name the patient) are not shown
    assert!(!page.contains("too late to cancel"));
    assert_eq!(
        h.pas.appts.lock().unwrap()["a-rt-1"].status,
        AppointmentStatus::Booked
    );
}

#[tokio::test]
async fn confirmation_pages_never_show_without_the_change() {
    let h = harness();
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    for step in ["cancel/done", "reschedule/done"] {
        for id in ["a-rt-1", "a-rq-1"] {
            let res = c
                .get(&h, &format!("/patient-portal/appointment/{id}/{step}"))
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{id} {step}");
        }
    }
}

#[tokio::test]
async fn real_time_reschedule_groups_slots_and_rebooks() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    let slots = body(&c.get(&h, &format!("{base}/reschedule")).await);
    assert!(slots.contains("Choose a new date and time"));
    assert!(slots.contains("Tuesday 10 June 2025"));
    let res = c
        .post(&h, &format!("{base}/reschedule"), &[("csrf_token", &csrf)])
        .await;
    assert!(body(&res).contains("Select a new date and time"));
    let res = c
        .post(
            &h,
            &format!("{base}/reschedule"),
            &[("csrf_token", &csrf), ("slot", "slot-2")],
        )
        .await;
    assert_eq!(
        location(&res),
        format!("{base}/reschedule/check?slot=slot-2")
    );
    let check = body(&c.get(&h, &location(&res)).await);
    assert!(check.contains("Wednesday 11 June 2025"));
    let key = hidden(&check, "idempotency_key");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("slot", "slot-2"),
    ];
    let res = c.post(&h, &format!("{base}/reschedule/check"), &form).await;
    assert_eq!(location(&res), format!("{base}/reschedule/done"));
    let done = body(&c.get(&h, &location(&res)).await);
    assert!(done.contains("Your appointment has been changed"));
    assert!(done.contains("Wednesday 11 June 2025 at midday"));
    // Submitting again with the same key does not move it again.
    let again = c.post(&h, &format!("{base}/reschedule/check"), &form).await;
    assert_eq!(location(&again), format!("{base}/reschedule/done"));
    assert_eq!(h.pas.taken.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reschedule_done_page_shows_only_the_patients_own_recorded_move() {
    let h = harness();
    let mut alice = Client::new();
    let csrf = alice.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    let done = format!("{base}/reschedule/done");
    let new_time = "Wednesday 11 June 2025 at midday";
    let check = body(
        &alice
            .get(&h, &format!("{base}/reschedule/check?slot=slot-2"))
            .await,
    );
    let key = hidden(&check, "idempotency_key");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("slot", "slot-2"),
    ];
    let res = alice
        .post(&h, &format!("{base}/reschedule/check"), &form)
        .await;
    assert_eq!(location(&res), done);
    let moved = alice.cookies["nhs_portal_moved"].clone();
    let page = body(&alice.get(&h, &done).await);
    assert!(page.contains(&format!("Your new appointment is on {new_time}")));

    // The same session without the cookie, or with a key the idempotency record does not bind
    // to this move, gets no confirmation: back to the appointment page.
    for forged in [
        None,
        Some("made-up-key.a-rt-1".to_owned()),
        Some(format!("{key}.a-rq-1")),
        Some(key.clone()),
        Some(format!("{key}.not/an/id")),
    ] {
        let mut c = Client {
            cookies: alice.cookies.clone(),
            ua: None,
        };
        match &forged {
            Some(v) => c.cookies.insert("nhs_portal_moved".into(), v.clone()),
            None => c.cookies.remove("nhs_portal_moved"),
        };
        let res = c.get(&h, &done).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{forged:?}");
        assert_eq!(location(&res), base, "{forged:?}");
    }

    // Another patient's session holding Alice's cookie learns nothing of her new time: her
    // appointment is "cannot view", and on Bob's own appointment the key is not his.
    let mut bob = Client::new();
    bob.sign_in(&h, BOB).await;
    let cannot_view = body(
        &bob.get(&h, "/patient-portal/appointment/does-not-exist")
            .await,
    );
    for cookie in [moved.clone(), format!("{key}.b-rt-1")] {
        bob.cookies.insert("nhs_portal_moved".into(), cookie);
        let res = bob.get(&h, &done).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(&res), cannot_view);
        let own = "/patient-portal/appointment/b-rt-1";
        let res = bob.get(&h, &format!("{own}/reschedule/done")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), own);
        assert!(!body(&res).contains(new_time));
    }
}

#[tokio::test]
async fn taken_slot_sends_the_patient_back_to_choose() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    let check = body(
        &c.get(&h, &format!("{base}/reschedule/check?slot=slot-1"))
            .await,
    );
    let key = hidden(&check, "idempotency_key");
    h.pas.taken.lock().unwrap().push("slot-1".into());
    let res = c
        .post(
            &h,
            &format!("{base}/reschedule/check"),
            &[
                ("csrf_token", &csrf),
                ("idempotency_key", &key),
                ("slot", "slot-1"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("{base}/reschedule?taken=1"));
    let page = c.get(&h, &location(&res)).await;
    assert!(body(&page).contains("no longer available"));
}

#[tokio::test]
async fn request_reschedule_journey() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rq-1";
    let form = body(&c.get(&h, &format!("{base}/reschedule")).await);
    assert!(form.contains("Why do you need to change this appointment?"));
    c.post(
        &h,
        &format!("{base}/reschedule"),
        &[
            ("csrf_token", &csrf),
            ("reason", "commitments"),
            ("details", "Mornings"),
        ],
    )
    .await;
    let check = body(&c.get(&h, &format!("{base}/reschedule/check")).await);
    let key = hidden(&check, "idempotency_key");
    c.post(
        &h,
        &format!("{base}/reschedule/check"),
        &[("csrf_token", &csrf), ("idempotency_key", &key)],
    )
    .await;
    let done = body(&c.get(&h, &format!("{base}/reschedule/done")).await);
    assert!(done.contains("Your request to change this appointment has been submitted"));
    assert!(body(&c.get(&h, base).await).contains("Pending Reschedule"));
}

#[tokio::test]
async fn another_patients_ids_get_the_same_page_as_unknown_ids() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let unknown = c
        .get(&h, "/patient-portal/appointment/does-not-exist")
        .await;
    let status = unknown.status();
    let page = body(&unknown);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("You cannot view this appointment"));
    for id in ["b-rt-1", "b-rq-1", "does-not-exist", "..", "x%2Fy"] {
        for step in [
            "",
            "/cancel",
            "/cancel/check",
            "/cancel/done",
            "/reschedule",
            "/reschedule/check?slot=slot-1",
            "/reschedule/done",
            "/nonsense",
        ] {
            let uri = format!("/patient-portal/appointment/{id}{step}");
            let res = c.get(&h, &uri).await;
            assert_eq!(
                (res.status(), body(&res)),
                (status, page.clone()),
                "GET {uri}"
            );
            let post = c
                .post(
                    &h,
                    &uri,
                    &[
                        ("csrf_token", &csrf),
                        ("reason", "other"),
                        ("details", "x"),
                        ("slot", "slot-1"),
                        ("idempotency_key", "k1"),
                    ],
                )
                .await;
            if step.is_empty() || step.ends_with("done") {
                continue;
            }
            assert_eq!(
                (post.status(), body(&post)),
                (status, page.clone()),
                "POST {uri}"
            );
        }
    }
    assert!(h.store.list_requests(None, None).await.unwrap().is_empty());
    assert!(
        h.pas
            .appts
            .lock()
            .unwrap()
            .values()
            .all(|a| a.status == AppointmentStatus::Booked)
    );
}

#[tokio::test]
async fn pas_failure_is_a_503_problem_page() {
    let h = harness();
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    *h.pas.fail.lock().unwrap() = true;
    let res = c.get(&h, "/patient-portal/appointments").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body(&res).contains("Sorry, there is a problem with the service"));
}

#[tokio::test]
async fn list_shows_upcoming_cards_with_labels() {
    let h = harness();
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    let html = body(&c.get(&h, "/patient-portal/appointments").await);
    assert!(html.contains("You have 2 upcoming appointments."));
    assert!(html.contains("aria-label=\"Booked: Dermatology appointment on Monday 9 June 2025 at 10am, Northfield Hospital Outpatients\""));
    assert!(!html.contains("b-rt-1"));
}

#[tokio::test]
async fn sign_in_outcomes_have_their_own_pages() {
    let h = harness();
    let cases = [
        (
            "consent",
            StatusCode::FORBIDDEN,
            "You cannot continue without sharing your information",
        ),
        ("sso", StatusCode::UNAUTHORIZED, "Go back to the NHS App"),
        ("p5", StatusCode::FORBIDDEN, "You need to prove who you are"),
        ("state", StatusCode::BAD_REQUEST, "Your sign-in has expired"),
        (
            "down",
            StatusCode::SERVICE_UNAVAILABLE,
            "Sorry, you cannot sign in at the moment",
        ),
    ];
    for (err, status, text) in cases {
        let mut c = Client::new();
        let res = c.get(&h, &format!("/sign-in/callback?error={err}")).await;
        assert_eq!(res.status(), status, "{err}");
        assert!(body(&res).contains(text), "{err}");
    }
    let mut c = Client::new();
    let consent = body(&c.get(&h, "/sign-in/callback?error=consent").await);
    assert!(consent.contains("Close this tab to go back to NHS App."));
    assert!(
        !consent.contains("Get help"),
        "no extra content on the mandated page"
    );
}

#[tokio::test]
async fn safe_return_paths_only() {
    for (p, ok) in [
        ("/patient-portal/appointments", true),
        ("/patient-portal/appointment/x", true),
        ("//evil.example/patient-portal/", false),
        ("https://evil.example", false),
        ("/patient-portal/../admin", false),
        ("/patient-portal/\\evil", false),
        ("/other", false),
    ] {
        assert_eq!(
            nhs_portal_core::return_path::is_safe_portal_return(p),
            ok,
            "{p}"
        );
    }
}

#[tokio::test]
async fn a_used_idempotency_key_cannot_do_another_action() {
    let h = harness();
    let mut c = Client::new();
    let csrf = c.sign_in(&h, ALICE).await;
    let base = "/patient-portal/appointment/a-rt-1";
    let check = body(
        &c.get(&h, &format!("{base}/reschedule/check?slot=slot-2"))
            .await,
    );
    let key = hidden(&check, "idempotency_key");
    let res = c
        .post(
            &h,
            &format!("{base}/reschedule/check"),
            &[
                ("csrf_token", &csrf),
                ("idempotency_key", &key),
                ("slot", "slot-2"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("{base}/reschedule/done"));
    // The reschedule's key replayed on the cancel form is refused: nothing is cancelled.
    c.post(
        &h,
        &format!("{base}/cancel"),
        &[("csrf_token", &csrf), ("reason", "no-transport")],
    )
    .await;
    let res = c
        .post(
            &h,
            &format!("{base}/cancel/check"),
            &[("csrf_token", &csrf), ("idempotency_key", &key)],
        )
        .await;
    assert_ne!(
        res.headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok()),
        Some(format!("{base}/cancel/done").as_str()),
        "a key bound to a reschedule must not cancel"
    );
    assert_eq!(
        h.pas.appts.lock().unwrap()["a-rt-1"].status,
        AppointmentStatus::Booked
    );
}

#[tokio::test]
async fn the_appointment_page_reads_the_pas_once_for_the_appointment_and_once_for_its_capabilities()
{
    let h = harness();
    let mut c = Client::new();
    c.sign_in(&h, ALICE).await;
    let before = h.pas.calls.load(std::sync::atomic::Ordering::SeqCst);
    let page = c.get(&h, "/patient-portal/appointment/a-rt-1").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        h.pas.calls.load(std::sync::atomic::Ordering::SeqCst) - before,
        2
    );
}
