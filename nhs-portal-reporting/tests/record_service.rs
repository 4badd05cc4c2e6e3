//! The Record Service client and sender over core's MemoryStore, against wiremock.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use common::*;
use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_reporting::record_service::{
    Eligibility, EligibilityError, PatientEligibility, RecordSender, RecordSenderConfig,
    RecordServiceClient, RecordServiceConfig, RecordServiceError, RecordStats,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Patients as a PAS would describe them: date of birth and restricted flag. Unlisted: unknown.
#[derive(Debug, Default)]
struct Pas {
    patients: Mutex<HashMap<String, (Option<NaiveDate>, bool)>>,
    down: Mutex<bool>,
}

impl Pas {
    fn add(&self, n: &NhsNumber, dob: Option<NaiveDate>, restricted: bool) {
        self.patients
            .lock()
            .unwrap()
            .insert(n.as_str().to_owned(), (dob, restricted));
    }
}

#[async_trait]
impl PatientEligibility for Pas {
    async fn eligibility(
        &self,
        patient: &NhsNumber,
        today: NaiveDate,
    ) -> Result<Eligibility, EligibilityError> {
        if *self.down.lock().unwrap() {
            return Err(EligibilityError::Unavailable("PAS down".into()));
        }
        Ok(match self.patients.lock().unwrap().get(patient.as_str()) {
            Some((dob, restricted)) => Eligibility::from_patient(*dob, *restricted, today),
            None => Eligibility::Unknown,
        })
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

struct Rig {
    clock: Arc<ManualClock>,
    pas: Arc<Pas>,
    sender: RecordSender,
    server: MockServer,
}

/// Client timeout for calls that are expected to succeed (5,000-number batches included): generous,
/// so a loaded machine does not turn a success into a timeout. Only the test whose subject is the
/// timeout uses a short one.
const GENEROUS: Duration = Duration::from_secs(30);

fn config(server: &MockServer, max_batch: usize) -> RecordServiceConfig {
    let mut c =
        RecordServiceConfig::production(format!("{}/records", server.uri()), "pep-01", "key-1");
    c.max_batch = max_batch;
    c.timeout = GENEROUS;
    c.retries = 2;
    c.retry_min = Duration::from_millis(5);
    c.retry_max = Duration::from_millis(20);
    c
}

async fn rig_with(max_batch: usize) -> Rig {
    rig_timing_out_after(max_batch, GENEROUS).await
}

async fn rig_timing_out_after(max_batch: usize, timeout: Duration) -> Rig {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t("2024-06-01T09:00:00Z")));
    let pas = Arc::new(Pas::default());
    let mut c = config(&server, max_batch);
    c.timeout = timeout;
    let client = RecordServiceClient::new(c).unwrap();
    let sender = RecordSender::new(store.clone(), client, pas.clone(), clock.clone(), {
        let mut config = RecordSenderConfig::default();
        config.worker_id = "r1".into();
        config
    });
    Rig {
        clock,
        pas,
        sender,
        server,
    }
}

async fn rig() -> Rig {
    rig_with(5_000).await
}

async fn ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/records"))
        .and(header("authorization", "Bearer key-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": "success"})))
        .mount(server)
        .await;
}

async fn sent_numbers(server: &MockServer) -> Vec<Vec<String>> {
    let v = record_validator();
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(schema_errors(&v, &body), Vec::<String>::new());
            assert_eq!(body["clientId"], "pep-01");
            body["nhsNumbers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn adult(r: &Rig, n: &NhsNumber) {
    r.pas.add(n, Some(d(1980, 1, 1)), false);
}

#[tokio::test]
async fn sends_eligible_patients_and_counts_them() {
    let r = rig().await;
    ok(&r.server).await;
    let numbers = valid_numbers(3);
    for n in &numbers {
        adult(&r, n);
        r.sender.enqueue(n).await.unwrap();
    }
    let s = r.sender.run_once().await.unwrap();
    assert_eq!((s.claimed, s.sent, s.requests), (3, 3, 1));
    let sent = sent_numbers(&r.server).await;
    assert_eq!(
        sent,
        vec![
            numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect::<Vec<_>>()
        ]
    );
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 3);
    // Marked sent: not sent again.
    assert_eq!(r.sender.run_once().await.unwrap(), RecordStats::default());
}

#[tokio::test]
async fn schema_refuses_what_the_client_never_sends() {
    let Some(v) = record_validator() else {
        return;
    };
    assert!(!errors(&v, &json!({"clientId": "p", "nhsNumbers": []})).is_empty());
    assert!(!errors(&v, &json!({"clientId": "p", "nhsNumbers": ["0123456789"]})).is_empty());
    assert!(!errors(&v, &json!({"nhsNumbers": ["9000000009"]})).is_empty());
    let too_many: Vec<String> = (0..5_001).map(|_| "9000000009".to_owned()).collect();
    assert!(!errors(&v, &json!({"clientId": "p", "nhsNumbers": too_many})).is_empty());
}

#[tokio::test]
async fn production_batches_hold_at_most_5000() {
    let r = rig().await;
    ok(&r.server).await;
    let numbers = valid_numbers(10_001);
    for n in &numbers {
        adult(&r, n);
    }
    // (MemoryStore's enqueue is linear per number, so keep the bulk just over two batches.)
    assert_eq!(r.sender.resend_all(numbers.clone()).await.unwrap(), 10_001);
    let mut passes = Vec::new();
    loop {
        let s = r.sender.run_once().await.unwrap();
        if s.claimed == 0 {
            break;
        }
        passes.push(s.sent);
    }
    assert_eq!(passes, vec![5_000, 5_000, 1]);
    let sizes: Vec<usize> = sent_numbers(&r.server).await.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![5_000, 5_000, 1]);
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 10_001);
}

#[tokio::test]
async fn non_production_batches_hold_at_most_200() {
    let server = MockServer::start().await;
    let c = RecordServiceConfig::non_production(server.uri(), "p", "k");
    assert_eq!(c.max_batch, 200);
    let r = rig_with(c.max_batch).await;
    ok(&r.server).await;
    let numbers = valid_numbers(450);
    for n in &numbers {
        adult(&r, n);
    }
    r.sender.resend_all(numbers).await.unwrap();
    while r.sender.run_once().await.unwrap().claimed > 0 {}
    let sizes: Vec<usize> = sent_numbers(&r.server).await.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![200, 200, 50]);
}

#[tokio::test]
async fn client_refuses_oversize_and_empty_batches() {
    let server = MockServer::start().await;
    let client = RecordServiceClient::new(config(&server, 200)).unwrap();
    let err = client.send(&valid_numbers(201)).await.unwrap_err();
    assert!(
        matches!(err, RecordServiceError::TooMany { len: 201, max: 200 }),
        "{err:?}"
    );
    assert!(matches!(
        client.send(&[]).await,
        Err(RecordServiceError::Empty)
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn under_16s_restricted_and_unknown_are_never_sent() {
    let r = rig().await;
    ok(&r.server).await;
    let n = valid_numbers(4);
    adult(&r, &n[0]);
    r.pas.add(&n[1], Some(d(2010, 6, 15)), false); // 13 on 1 June 2024
    r.pas.add(&n[2], Some(d(1970, 1, 1)), true); // restricted
    // n[3] unknown to the PAS
    for x in &n {
        r.sender.enqueue(x).await.unwrap();
    }
    let s = r.sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.under_16, s.restricted, s.unknown), (1, 1, 1, 1));
    assert_eq!(
        sent_numbers(&r.server).await,
        vec![vec![n[0].as_str().to_owned()]]
    );
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 1);

    // The day before the 16th birthday (UK): still held back, though the unknown is rechecked.
    r.clock.set(t("2026-06-14T22:59:00Z")); // 23:59 BST on 14 June 2026
    let s = r.sender.run_once().await.unwrap();
    assert_eq!(s.under_16, 0, "not even claimed before their birthday");
    assert_eq!((s.sent, s.restricted, s.unknown), (0, 1, 1));
    // From UK midnight on the birthday: sent.
    r.clock.set(t("2026-06-14T23:00:00Z")); // 00:00 BST on 15 June 2026
    let s = r.sender.run_once().await.unwrap();
    assert_eq!(s.sent, 1);
    let all = sent_numbers(&r.server).await;
    assert_eq!(all.last().unwrap(), &vec![n[1].as_str().to_owned()]);
    assert!(
        !all.iter()
            .flatten()
            .any(|x| x == n[2].as_str() || x == n[3].as_str())
    );
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 2);
}

#[tokio::test]
async fn restriction_lifted_is_sent_after_recheck() {
    let r = rig().await;
    ok(&r.server).await;
    let n = &valid_numbers(1)[0];
    r.pas.add(n, Some(d(1970, 1, 1)), true);
    r.sender.enqueue(n).await.unwrap();
    assert_eq!(r.sender.run_once().await.unwrap().restricted, 1);
    r.pas.add(n, Some(d(1970, 1, 1)), false);
    r.clock.advance(chrono::Duration::days(29));
    assert_eq!(r.sender.run_once().await.unwrap().claimed, 0);
    r.clock.advance(chrono::Duration::days(2));
    assert_eq!(r.sender.run_once().await.unwrap().sent, 1);
}

#[test]
fn eligibility_rules() {
    let today = d(2024, 6, 1);
    let cases = [
        (
            Some(d(2008, 6, 1)),
            false,
            Eligibility::Eligible,
            "16 today",
        ),
        (
            Some(d(2008, 6, 2)),
            false,
            Eligibility::UnderSixteen {
                turns_16_on: d(2024, 6, 2),
            },
            "16 tomorrow",
        ),
        (
            Some(d(1950, 1, 1)),
            true,
            Eligibility::Restricted,
            "restricted adult",
        ),
        (
            Some(d(2015, 1, 1)),
            true,
            Eligibility::Restricted,
            "restricted child",
        ),
        (None, false, Eligibility::Unknown, "no date of birth"),
        (
            Some(d(2012, 2, 29)),
            false,
            Eligibility::UnderSixteen {
                turns_16_on: d(2028, 2, 29),
            },
            "leap-day birth, leap 16th year",
        ),
        (
            Some(d(2008, 2, 29)),
            false,
            Eligibility::Eligible,
            "leap-day birth, turned 16 on 29 February 2024",
        ),
    ];
    for (dob, restricted, want, name) in cases {
        assert_eq!(
            Eligibility::from_patient(dob, restricted, today),
            want,
            "{name}"
        );
    }
    use nhs_portal_reporting::record_service::sixteenth_birthday;
    // 16 is a multiple of 4, so a leap-day birth normally has a leap 16th year; the fallback to
    // 1 March matters across a century that is not a leap year (2100).
    for (dob, sixteen) in [
        (d(2007, 2, 28), d(2023, 2, 28)),
        (d(2008, 2, 29), d(2024, 2, 29)),
        (d(2084, 2, 29), d(2100, 3, 1)),
        (d(2008, 12, 31), d(2024, 12, 31)),
    ] {
        assert_eq!(sixteenth_birthday(dob), sixteen, "{dob}");
    }
}

#[tokio::test]
async fn eligibility_unavailable_keeps_numbers_queued() {
    let r = rig().await;
    ok(&r.server).await;
    let n = &valid_numbers(1)[0];
    adult(&r, n);
    *r.pas.down.lock().unwrap() = true;
    r.sender.enqueue(n).await.unwrap();
    let s = r.sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.deferred, s.requests), (0, 1, 0));
    *r.pas.down.lock().unwrap() = false;
    r.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(r.sender.run_once().await.unwrap().sent, 1);
}

#[tokio::test]
async fn bad_request_naming_entries_holds_them_back_and_sends_the_rest() {
    let r = rig().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "error.bad-request",
            "data": "\"nhsNumbers[1]\" with value \"x\" fails to match the required pattern. \"nhsNumbers[3]\" with value \"y\" fails"
        })))
        .up_to_n_times(1)
        .mount(&r.server)
        .await;
    ok(&r.server).await;
    let n = valid_numbers(5);
    for x in &n {
        adult(&r, x);
        r.sender.enqueue(x).await.unwrap();
    }
    let s = r.sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.deferred, s.requests), (3, 2, 2));
    let sent = sent_numbers(&r.server).await;
    assert_eq!(sent[0].len(), 5);
    assert_eq!(sent[1], vec![n[0].as_str(), n[2].as_str(), n[4].as_str()]);
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 3);
    // The held-back ones are replayable later (WF-NFR-RS-04).
    r.clock.advance(chrono::Duration::hours(2));
    assert_eq!(r.sender.run_once().await.unwrap().sent, 2);
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 5);
}

#[tokio::test]
async fn client_id_mismatch_and_unauthorized_keep_everything_queued() {
    for (name, response, requests) in [
        (
            "400 clientId mismatch",
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": "error.bad-request", "data": "clientId mismatch"})),
            1,
        ),
        (
            "401",
            ResponseTemplate::new(401).set_body_json(json!({"code": "error.unauthorized"})),
            1,
        ),
    ] {
        let r = rig().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .up_to_n_times(1)
            .mount(&r.server)
            .await;
        ok(&r.server).await;
        let n = valid_numbers(3);
        for x in &n {
            adult(&r, x);
            r.sender.enqueue(x).await.unwrap();
        }
        let s = r.sender.run_once().await.unwrap();
        assert_eq!((s.sent, s.deferred), (0, 3), "{name}");
        assert_eq!(
            r.server.received_requests().await.unwrap().len(),
            requests,
            "{name}: not retried within the call"
        );
        assert_eq!(r.sender.sent_record_count().await.unwrap(), 0, "{name}");
        r.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(r.sender.run_once().await.unwrap().sent, 3, "{name}");
    }
}

#[tokio::test]
async fn gateway_timeout_is_retried_within_the_call() {
    let r = rig().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(504))
        .up_to_n_times(2)
        .mount(&r.server)
        .await;
    ok(&r.server).await;
    let n = &valid_numbers(1)[0];
    adult(&r, n);
    r.sender.enqueue(n).await.unwrap();
    let s = r.sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.requests), (1, 1));
    assert_eq!(r.server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn persistent_failure_defers_with_growing_backoff() {
    for (name, response) in [
        ("504", ResponseTemplate::new(504)),
        ("503", ResponseTemplate::new(503)),
        (
            "timeout",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(30)),
        ),
    ] {
        // The timeout is this case's subject: a short one (the delayed answer never comes in
        // time). The other cases keep the generous one.
        let timeout = if name == "timeout" {
            Duration::from_secs(1)
        } else {
            GENEROUS
        };
        let r = rig_timing_out_after(5_000, timeout).await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&r.server)
            .await;
        let n = &valid_numbers(1)[0];
        adult(&r, n);
        r.sender.enqueue(n).await.unwrap();
        let s = r.sender.run_once().await.unwrap();
        assert_eq!((s.sent, s.deferred), (0, 1), "{name}");
        assert_eq!(
            r.server.received_requests().await.unwrap().len(),
            3,
            "{name}: 1 + 2 retries"
        );
        // First failure: retry after 60 s; second: after 120 s.
        r.clock.advance(chrono::Duration::seconds(59));
        assert_eq!(r.sender.run_once().await.unwrap().claimed, 0, "{name}");
        r.clock.advance(chrono::Duration::seconds(2));
        assert_eq!(r.sender.run_once().await.unwrap().deferred, 1, "{name}");
        r.clock.advance(chrono::Duration::seconds(119));
        assert_eq!(r.sender.run_once().await.unwrap().claimed, 0, "{name}");
        r.clock.advance(chrono::Duration::seconds(2));
        assert_eq!(r.sender.run_once().await.unwrap().claimed, 1, "{name}");
        assert_eq!(r.sender.sent_record_count().await.unwrap(), 0, "{name}");
    }
}

#[tokio::test]
async fn idempotent_one_number_once_per_batch_and_counted_once() {
    let r = rig().await;
    ok(&r.server).await;
    let n = &valid_numbers(1)[0];
    adult(&r, n);
    r.sender.enqueue(n).await.unwrap();
    r.sender.enqueue(n).await.unwrap();
    let s = r.sender.run_once().await.unwrap();
    assert_eq!(s.requests, 1);
    assert_eq!(
        sent_numbers(&r.server).await,
        vec![vec![n.as_str().to_owned()]]
    );
    // Resend everything: sent again, still one distinct number.
    r.sender.resend_all(vec![n.clone()]).await.unwrap();
    assert_eq!(r.sender.run_once().await.unwrap().sent, 1);
    assert_eq!(r.server.received_requests().await.unwrap().len(), 2);
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 1);
}

#[tokio::test]
async fn resend_all_carries_on_with_live_numbers() {
    let r = rig_with(200).await;
    ok(&r.server).await;
    let numbers = valid_numbers(501);
    for n in &numbers {
        adult(&r, n);
    }
    let (old, new) = numbers.split_at(500);
    // First sent normally.
    r.sender.resend_all(old.to_vec()).await.unwrap();
    while r.sender.run_once().await.unwrap().claimed > 0 {}
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 500);
    // Replay requested; a new patient arrives mid-replay.
    r.sender.resend_all(old.to_vec()).await.unwrap();
    assert_eq!(r.sender.run_once().await.unwrap().sent, 200);
    r.sender.enqueue(&new[0]).await.unwrap();
    while r.sender.run_once().await.unwrap().claimed > 0 {}
    let all: Vec<String> = sent_numbers(&r.server)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(all.len(), 1_001);
    assert!(all.contains(&new[0].as_str().to_owned()));
    assert_eq!(r.sender.sent_record_count().await.unwrap(), 501);
}

#[tokio::test]
async fn run_loop_sends_and_stops() {
    let server = MockServer::start().await;
    ok(&server).await;
    let store = SignallingStore::new();
    let pas = Arc::new(Pas::default());
    let n = &valid_numbers(1)[0];
    pas.add(n, Some(d(1980, 1, 1)), false);
    let sender = Arc::new(RecordSender::new(
        store.clone(),
        RecordServiceClient::new(config(&server, 5_000)).unwrap(),
        pas,
        Arc::new(ManualClock::new(t("2024-06-01T09:00:00Z"))),
        {
            let mut config = RecordSenderConfig::default();
            config.worker_id = "r1".into();
            config
        },
    ));
    let s = sender.clone();
    let running =
        Running::start(|shutdown| async move { s.run(Duration::from_millis(20), shutdown).await });
    // Let the loop make its first (empty) pass, so the number arrives while it idles.
    tokio::task::yield_now().await;
    sender.enqueue(n).await.unwrap();
    store.marked_done(1).await;
    assert_eq!(sender.sent_record_count().await.unwrap(), 1);
    assert_eq!(
        sent_numbers(&server).await,
        vec![vec![n.as_str().to_owned()]]
    );
    running.stop("shutdown").await;
}

#[tokio::test]
async fn shutdown_mid_pass_finishes_the_batch_in_hand() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/records"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": "success"}))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&server)
        .await;
    let store = SignallingStore::new();
    let pas = Arc::new(Pas::default());
    let n = &valid_numbers(1)[0];
    pas.add(n, Some(d(1980, 1, 1)), false);
    let sender = Arc::new(RecordSender::new(
        store.clone(),
        RecordServiceClient::new(config(&server, 5_000)).unwrap(),
        pas,
        Arc::new(ManualClock::new(t("2024-06-01T09:00:00Z"))),
        RecordSenderConfig::default(),
    ));
    sender.enqueue(n).await.unwrap();
    let s = sender.clone();
    let running =
        Running::start(|shutdown| async move { s.run(Duration::from_millis(20), shutdown).await });
    // The batch is claimed and on its way (the service answers after 500 ms) when shutdown comes.
    first_request(&server).await;
    running.stop("the batch").await;
    assert_eq!(
        sender.sent_record_count().await.unwrap(),
        1,
        "the number sent before shutdown is marked sent, not left claimed"
    );
}

/// A bulk source that answers for fewer patients than asked: the rest wait, none is sent blind.
#[derive(Debug, Default)]
struct ShortBulk {
    calls: Mutex<Vec<usize>>,
}

#[async_trait]
impl PatientEligibility for ShortBulk {
    async fn eligibility(
        &self,
        _: &NhsNumber,
        _: NaiveDate,
    ) -> Result<Eligibility, EligibilityError> {
        panic!("the sender must use the bulk method")
    }
    async fn eligibility_batch(
        &self,
        patients: &[NhsNumber],
        _: NaiveDate,
    ) -> Vec<Result<Eligibility, EligibilityError>> {
        self.calls.lock().unwrap().push(patients.len());
        (0..patients.len() / 2)
            .map(|_| Ok(Eligibility::Eligible))
            .collect()
    }
}

#[tokio::test]
async fn bulk_eligibility_is_used_and_missing_answers_are_not_sent() {
    let server = MockServer::start().await;
    ok(&server).await;
    let store = Arc::new(MemoryStore::new());
    let bulk = Arc::new(ShortBulk::default());
    let sender = RecordSender::new(
        store.clone(),
        RecordServiceClient::new(config(&server, 5_000)).unwrap(),
        bulk.clone(),
        Arc::new(ManualClock::new(t("2024-06-01T09:00:00Z"))),
        RecordSenderConfig::default(),
    );
    let n = valid_numbers(4);
    sender.resend_all(n.clone()).await.unwrap();
    let s = sender.run_once().await.unwrap();
    assert_eq!((s.sent, s.deferred), (2, 2));
    assert_eq!(*bulk.calls.lock().unwrap(), vec![4]);
    assert_eq!(
        sent_numbers(&server).await,
        vec![vec![n[0].as_str().to_owned(), n[1].as_str().to_owned()]]
    );
}
