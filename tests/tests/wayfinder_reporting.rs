//! What the portal's own call sites send to Wayfinder, end to end: the demo portal driven the
//! (Over 400 lines: the stand-in and the two end-to-end cases, each journey's exact events in one place.)
//! way patients, the NHS App and staff use it, its outbox drained by the real `OutboxWorker`
//! and `WayfinderClient` into a Reporting Service stand-in that validates every request body
//! against NHS England's YAML (v2.6.2). Each journey (and each PAS-side change the worklist's
//! sync reads from the PAS event feed) must send exactly its events, in order, parents first;
//! and an outage (503s across a restart) must end with every event delivered
//! exactly once.

#[path = "../../nhs-portal-reporting/tests/common/mod.rs"]
#[allow(unused_imports, clippy::all)]
mod wayfinder_schema;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::Duration;
use http::{Request, Response, StatusCode};
use nhs_portal_core::reporting::ChangeReason;
use nhs_portal_core::store::Store;
use nhs_portal_pas::PasChange;
use nhs_portal_pas::demo::{self, ADULT, DOB_MISMATCH, P5_PATIENT, SECOND_ADULT};
use nhs_portal_reporting::token::StaticToken;
use nhs_portal_reporting::wire::WayfinderEvent;
use nhs_portal_reporting::{OutboxWorker, OutboxWorkerConfig, WayfinderClient, WayfinderConfig};
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, location};
use serde_json::Value;

/// What the stand-in was sent and said.
#[derive(Default)]
struct Received {
    /// Answer 503 to everything (an outage).
    down: bool,
    /// Every event of every request answered 200, in order.
    events: Vec<Value>,
    /// Requests answered 503.
    refused: usize,
    /// Why requests were invalid (answered 400).
    invalid: Vec<String>,
}

/// A Reporting Service stand-in on a loopback port: `POST /` with a JSON array of events,
/// checked against the spec's request-body schema and required headers.
#[derive(Clone)]
struct StandIn {
    url: String,
    state: Arc<Mutex<Received>>,
}

impl StandIn {
    async fn start() -> Self {
        let validator = Arc::new(wayfinder_schema::wayfinder_validator());
        let state = Arc::new(Mutex::new(Received::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = state.clone();
        tokio::spawn(nhs_portal_tests::serve(listener, move |req| {
            let (validator, state) = (validator.clone(), shared.clone());
            async move { answer(&validator, &state, req) }
        }));
        Self { url, state }
    }

    fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// The events received since the last call, after the requests so far; panics on any
    /// invalid request.
    fn take(&self) -> Vec<Value> {
        let mut s = self.state.lock().unwrap();
        assert_eq!(s.invalid, Vec::<String>::new(), "invalid requests");
        std::mem::take(&mut s.events)
    }

    /// A worker delivering `t`'s outbox here, on `t`'s clock, with no jitter.
    fn worker(&self, t: &TestPortal) -> OutboxWorker {
        let client = WayfinderClient::new(
            WayfinderConfig::new(&self.url, "wayfinder-test-client"),
            Arc::new(StaticToken::new("test-token")),
        )
        .unwrap();
        let mut config = OutboxWorkerConfig::default();
        config.jitter = false;
        OutboxWorker::new(
            t.demo.store.clone(),
            Arc::new(client),
            t.clock.clone(),
            config,
        )
    }
}

fn answer(
    validator: &Option<jsonschema::Validator>,
    state: &Mutex<Received>,
    req: Request<Bytes>,
) -> Response<Bytes> {
    let reply = |status: StatusCode, body: &str| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    };
    let mut s = state.lock().unwrap();
    if s.down {
        s.refused += 1;
        return reply(StatusCode::SERVICE_UNAVAILABLE, "{}");
    }
    let correlation = req
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok());
    let client_id = req.headers().get("client-id");
    let body: Value = match serde_json::from_slice(req.body()) {
        Ok(b) => b,
        Err(e) => {
            s.invalid.push(format!("not JSON: {e}"));
            return reply(StatusCode::BAD_REQUEST, r#"{"message":"not JSON"}"#);
        }
    };
    let mut problems = wayfinder_schema::schema_errors(validator, &body);
    if req.method() != http::Method::POST || req.uri().path() != "/" {
        problems.push(format!("{} {}", req.method(), req.uri()));
    }
    if correlation.is_none() {
        problems.push("no X-Correlation-ID UUID".into());
    }
    if client_id.is_none() {
        problems.push("no client-id".into());
    }
    if !problems.is_empty() {
        s.invalid.extend(problems);
        return reply(StatusCode::BAD_REQUEST, r#"{"message":"invalid"}"#);
    }
    s.events
        .extend(body.as_array().cloned().unwrap_or_default());
    reply(StatusCode::OK, "{}")
}

fn codes(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["EventCode"].as_str().unwrap_or("?"))
        .collect()
}

fn page(key: &str) -> String {
    format!("/patient-portal/appointment/{}", demo::appointment_id(key))
}

/// The NHS App's deep link to `key`, with a fresh UUID tracking id (returned too).
fn deep_link(key: &str) -> (String, String) {
    let tracking = uuid::Uuid::new_v4().to_string();
    let link = format!(
        "{}?extSystemName=Demo+Portal&trackingId={tracking}",
        page(key)
    );
    (link, tracking)
}

/// The portal, the stand-in and a worker between them.
struct Rig {
    t: TestPortal,
    wf: StandIn,
    worker: OutboxWorker,
}

impl Rig {
    async fn start() -> Self {
        let t = TestPortal::start().await;
        let wf = StandIn::start().await;
        let worker = wf.worker(&t);
        Self { t, wf, worker }
    }

    /// Delivers what is due and returns what the stand-in received.
    async fn sent(&self) -> Vec<Value> {
        let stats = self.worker.run_once().await.unwrap();
        assert_eq!(stats.deferred, 0, "{stats:?}");
        assert_eq!(stats.quarantined, 0, "{stats:?}");
        self.wf.take()
    }
}

/// Confirms a journey's check page.
async fn confirm(c: &mut Client, check: &str) {
    let html = body_text(&c.get(check).await);
    let action = check.split('?').next().unwrap();
    let res = c.post_pairs(action, &Client::confirm_form(&html)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
}

#[tokio::test]
async fn each_journey_sends_exactly_its_events_in_order() {
    let rig = Rig::start().await;
    let started = rig.t.now();
    assert_eq!(
        codes(&rig.sent().await),
        Vec::<&str>::new(),
        "demo data is not usage"
    );

    // A deep link opened before sign-in: SESSION with the link's tracking id, then the
    // appointment and its view, after the sign-in round trip.
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let (link, tracking) = deep_link(demo::KEY_ADULT_DERMATOLOGY);
    let mut patient = rig.t.client();
    let landed = patient.sign_in_at(&link, ADULT).await;
    assert_eq!(landed.status(), StatusCode::OK);
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["SESSION", "APPT", "APPT-VIEW"], "{sent:#?}");
    let session = sent[0]["Id"].as_str().unwrap().to_owned();
    assert_eq!(sent[0]["NHSNumber"], ADULT);
    assert_eq!(sent[0]["Status"], "success");
    assert_eq!(sent[0]["TrackingId"], tracking.as_str());
    assert_eq!(sent[0]["isOpenInNHSApp"], false);
    assert_eq!(sent[1]["Id"], derm.as_str());
    assert_eq!(sent[1]["ODSCode"], demo::REAL_TIME_TRUST_ODS);
    assert_eq!(sent[1]["Status"], "booked");
    assert_eq!(sent[2]["AppointmentId"], derm.as_str());
    assert_eq!(sent[2]["SessionId"], session.as_str());
    assert_eq!(sent[2]["TrackingId"], tracking.as_str());

    // The same page from inside the portal (its own link, no jump-off): nothing.
    assert_eq!(
        patient
            .get(&page(demo::KEY_ADULT_DERMATOLOGY))
            .await
            .status(),
        200
    );
    assert_eq!(codes(&rig.sent().await), Vec::<&str>::new());
    // Another jump-off to it, signed in: another view, with its own tracking id.
    let (again, tracking2) = deep_link(demo::KEY_ADULT_DERMATOLOGY);
    assert_eq!(patient.get(&again).await.status(), 200);
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["APPT", "APPT-VIEW"]);
    assert_eq!(sent[1]["TrackingId"], tracking2.as_str());

    // Asking to cancel at the request-only trust: the appointment, then the request.
    let eyes = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let base = page(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let check = patient
        .answer(&base, "cancel", &[("reason", "no-transport")])
        .await;
    assert_eq!(
        codes(&rig.sent().await),
        Vec::<&str>::new(),
        "nothing before the confirmation"
    );
    confirm(&mut patient, &check).await;
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["APPT", "APPT-REQUEST-CANC"]);
    assert_eq!(sent[0]["Id"], eyes.as_str());
    assert_eq!(sent[0]["ODSCode"], demo::REQUEST_ONLY_TRUST_ODS);
    assert_eq!(sent[1]["AppointmentId"], eyes.as_str());
    assert_eq!(sent[1]["SessionId"], session.as_str());

    // Rescheduling in real time: the appointment as now booked, then the move.
    let base = page(demo::KEY_ADULT_DERMATOLOGY);
    let slots = body_text(&patient.get(&format!("{base}/reschedule")).await);
    let slot = nhs_portal_tests::input_value(&slots, "slot").expect("a free slot");
    let check = patient
        .answer(&base, "reschedule", &[("slot", &slot)])
        .await;
    confirm(&mut patient, &check).await;
    let sent = rig.sent().await;
    let moved = rig.t.demo.pas.inspect_appointment(&derm).unwrap();
    assert_eq!(codes(&sent), ["APPT", "APPT-RESCH"], "{sent:#?}");
    assert_eq!(sent[0]["Id"], derm.as_str());
    assert_eq!(
        sent[0]["AppointmentDate"],
        nhs_portal_reporting::wire::Timestamp(moved.start).to_wire()
    );
    assert_eq!(sent[1]["AppointmentId"], derm.as_str());
    assert_eq!(sent[1]["Reason"], "PATIENT");

    // Confirming attendance at the real-time trust: the appointment, then the confirmation;
    // a second POST (double submit) sends nothing more.
    let video = demo::appointment_id(demo::KEY_ADULT_VIDEO);
    let base = page(demo::KEY_ADULT_VIDEO);
    let csrf = csrf_token(&body_text(&patient.get(&base).await)).expect("the CSRF token");
    assert_eq!(
        codes(&rig.sent().await),
        Vec::<&str>::new(),
        "a view inside the portal"
    );
    for _ in 0..2 {
        let res = patient
            .post_form(
                &format!("{base}/confirm-attendance"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", body_text(&res));
    }
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["APPT", "APPT-REQUEST-CONFIRM"], "{sent:#?}");
    assert_eq!(sent[0]["Id"], video.as_str());
    assert_eq!(sent[0]["Status"], "booked");
    assert_eq!(sent[1]["AppointmentId"], video.as_str());
    assert_eq!(sent[1]["SessionId"], session.as_str());

    // Staff fulfil the seeded cancellation request: the appointment, cancelled, then the
    // cancellation, by the patient.
    let pending = demo::appointment_id(demo::KEY_ADULT_PENDING_CANCELLATION);
    let request = rig
        .t
        .demo
        .store
        .pending_request_for(&pending)
        .await
        .unwrap()
        .expect("the seeded request");
    let mut staff = rig.t.client();
    let worklist = staff
        .sign_in_as_staff("Sam Booking", &rig.t.demo.staff_code)
        .await;
    let csrf = csrf_token(&body_text(&worklist)).expect("the worklist's CSRF token");
    let res = staff
        .post_form(
            &format!("/staff/requests/{}/fulfil", request.id),
            &[("csrf_token", &csrf), ("ods", demo::REQUEST_ONLY_TRUST_ODS)],
        )
        .await;
    assert_eq!(
        location(&res).as_deref(),
        Some("/staff?done=1"),
        "{}",
        body_text(&res)
    );
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["APPT", "APPT-CANC"]);
    assert_eq!(sent[0]["Id"], pending.as_str());
    assert_eq!(sent[0]["Status"], "cancelled");
    assert_eq!(sent[1]["AppointmentId"], pending.as_str());
    assert_eq!(sent[1]["Reason"], "PATIENT");

    // A sign-in refused below P9 after NHS login's token was read, and a date of birth that
    // differs from the PAS record: one SESSION each, with that status, and no session.
    for (who, status) in [(P5_PATIENT, "failed"), (DOB_MISMATCH, "dobMissmatch")] {
        let (link, tracking) = deep_link(demo::KEY_ADULT_DERMATOLOGY);
        let mut c = rig.t.client();
        let refused = c.sign_in_at(&link, who).await;
        assert_ne!(refused.status(), StatusCode::OK, "{who}");
        let sent = rig.sent().await;
        assert_eq!(codes(&sent), ["SESSION"], "{who}");
        assert_eq!(sent[0]["Status"], status, "{who}");
        assert_eq!(sent[0]["NHSNumber"], who);
        assert_eq!(sent[0]["TrackingId"], tracking.as_str(), "{who}");
        assert_ne!(sent[0]["Id"], session.as_str());
    }

    // Inpatient and day-case admissions are ADMISSION and ADMISSION-VIEW.
    let mut second = rig.t.client();
    let (link, tracking) = deep_link("second/r9n/orthopaedics-admission");
    assert_eq!(second.sign_in_at(&link, SECOND_ADULT).await.status(), 200);
    let sent = rig.sent().await;
    assert_eq!(
        codes(&sent),
        ["SESSION", "ADMISSION", "ADMISSION-VIEW"],
        "{sent:#?}"
    );
    let stay = demo::appointment_id("second/r9n/orthopaedics-admission");
    assert_eq!(sent[1]["Id"], stay.as_str());
    assert_eq!(sent[1]["EncounterClass"], "Inpatient");
    assert_eq!(sent[2]["AppointmentId"], stay.as_str());
    assert_eq!(sent[2]["TrackingId"], tracking.as_str());
    let (link, _) = deep_link("second/r9n/urology-day-case");
    assert_eq!(second.get(&link).await.status(), 200);
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["ADMISSION", "ADMISSION-VIEW"]);
    assert_eq!(sent[0]["EncounterClass"], "Daycase");

    // The NHS App's single sign-on (assertedLoginIdentity, no NHS App User-Agent): the
    // marker makes the session an NHS App one, and the jump-off is reported after the
    // silent round trip.
    let (link, tracking) = deep_link(demo::KEY_ADULT_TELEPHONE);
    let assertion = rig.t.demo.sso_assertion(ADULT).unwrap();
    let mut app = rig.t.client();
    let (landed, at) = app
        .get_following(&format!("{link}&assertedLoginIdentity={assertion}"))
        .await;
    assert_eq!(landed.status(), StatusCode::OK, "{at}");
    let sent = rig.sent().await;
    assert_eq!(codes(&sent), ["SESSION", "APPT", "APPT-VIEW"], "{sent:#?}");
    assert_eq!(sent[0]["isOpenInNHSApp"], true);
    assert_eq!(sent[0]["TrackingId"], tracking.as_str());
    assert_eq!(sent[2]["TrackingId"], tracking.as_str());

    // PAS-side changes, from the PAS event feed at the worklist's next sync: a no-show, then
    // a hospital cancellation. The staff fulfilment above is in the feed too, and is not
    // reported a second time.
    let video = demo::appointment_id(demo::KEY_ADULT_VIDEO);
    rig.t
        .demo
        .pas
        .staff_recorded(&video, PasChange::NoShow)
        .unwrap();
    let neurology = demo::appointment_id("second/r9n/neurology");
    let by = ChangeReason::Hospital;
    let pas = &rig.t.demo.pas;
    pas.staff_recorded(&neurology, PasChange::Cancelled { by })
        .unwrap();
    let synced = rig.t.demo.worklist.sync_from_pas(started).await.unwrap();
    assert_eq!(synced.reported, 4, "{synced:?}");
    let sent = rig.sent().await;
    assert_eq!(
        codes(&sent),
        ["APPT", "APPT-DNA", "APPT", "APPT-CANC"],
        "{sent:#?}"
    );
    assert_eq!(sent[0]["Id"], video.as_str());
    assert_eq!(sent[0]["Status"], "noshow");
    assert_eq!(sent[1]["AppointmentId"], video.as_str());
    assert_eq!(sent[2]["Id"], neurology.as_str());
    assert_eq!(sent[2]["Status"], "cancelled");
    assert_eq!(sent[3]["Reason"], "HOSPITAL");
}

/// Every stored event as the Reporting Service gets it, counted (a multiset).
async fn stored(store: &Arc<dyn Store>) -> BTreeMap<String, usize> {
    let (from, to) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    let mut out = BTreeMap::new();
    for (_, e) in store.events_between(from, to, 0, 100_000).await.unwrap() {
        let wire = serde_json::to_string(&WayfinderEvent::from_domain(&e).unwrap()).unwrap();
        *out.entry(wire).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn after_an_outage_across_a_restart_every_event_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let wf = StandIn::start().await;
    wf.set_down(true);

    // Before the restart: a deep-link sign-in and a request, while Wayfinder answers 503.
    let before = TestPortal::builder().store_url(&url).start().await;
    let worker = wf.worker(&before);
    let (link, _) = deep_link(demo::KEY_ADULT_DERMATOLOGY);
    let mut patient = before.client();
    assert_eq!(patient.sign_in_at(&link, ADULT).await.status(), 200);
    let base = page(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let check = patient
        .answer(&base, "cancel", &[("reason", "no-transport")])
        .await;
    confirm(&mut patient, &check).await;
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.delivered, pass.deferred), (0, 5), "{pass:?}");
    drop(worker);
    drop(before);

    // The portal restarts on the same store; Wayfinder is still down.
    let after = TestPortal::builder().store_url(&url).start().await;
    let worker = wf.worker(&after);
    let mut second = after.client();
    let (link, _) = deep_link("second/r9n/orthopaedics-admission");
    assert_eq!(second.sign_in_at(&link, SECOND_ADULT).await.status(), 200);
    let pass = worker.run_once().await.unwrap();
    assert_eq!(pass.delivered, 0, "{pass:?}");
    let down = worker.delivery_ratio().await.unwrap();
    assert_eq!((down.delivered, down.total), (0, 8), "{down}");
    assert!(down.oldest_undelivered_age.is_some());

    // Wayfinder is back; once the back-off has passed, the worker drains the outbox.
    wf.set_down(false);
    after.clock.advance(Duration::hours(1));
    loop {
        let pass = worker.run_once().await.unwrap();
        assert_eq!(pass.deferred + pass.quarantined, 0, "{pass:?}");
        if pass.claimed == 0 {
            break;
        }
    }
    // Past every lease: nothing is left to send again.
    after.clock.advance(Duration::hours(1));
    assert_eq!(
        worker.run_once().await.unwrap().claimed,
        0,
        "nothing left over"
    );
    let received = wf.take();
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for e in &received {
        *got.entry(e.to_string()).or_default() += 1;
    }
    let want = stored(&after.demo.store).await;
    let as_values = |m: &BTreeMap<String, usize>| -> BTreeMap<String, usize> {
        m.iter()
            .map(|(k, n)| (serde_json::from_str::<Value>(k).unwrap().to_string(), *n))
            .collect()
    };
    assert_eq!(
        got,
        as_values(&want),
        "every stored event, each exactly once"
    );
    let ratio = worker.delivery_ratio().await.unwrap();
    println!(
        "outage: {} requests refused with 503; {ratio}",
        wf.state.lock().unwrap().refused
    );
    assert_eq!((ratio.delivered, ratio.total), (8, 8));
    assert_eq!(ratio.oldest_undelivered_age, None);
}
