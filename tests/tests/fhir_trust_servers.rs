//! `FhirPas` against [`FhirPeer`] behaving the way trust servers do: the conformance kit in each
//! slot regime (client-managed, server-owned with `$book`, PATCH-only, transaction Bundles),
//! paged searches, a
//! `return=minimal` server, 429 with `Retry-After`, SMART tokens that expire, 422 refusals,
//! SNOMED-coded specialties, BST offsets, merged patients, entered-in-error appointments, and the
//! event feed across overlapping polls. The peer is seeded with hand-written FHIR JSON (never
//! the adapter's own writer).
//!
//! (Over 400 lines: one scenario per "done when" line of the adapter's issue, sharing the seed.)

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::{Capabilities, RequestKind, RequestOutcome};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditRecord, NewRequest, Outbox, PasFeedStore, RequestState, RequestStore,
};
use nhs_portal_core::{AppointmentId, AppointmentStatus, NhsNumber, OdsCode};
use nhs_portal_core::{ReportingEvent, reporting::ChangeReason};
use nhs_portal_pas::conformance::{
    self, ConformanceFixture, EventsFixture, RescheduleRace, TrustAction, TrustStaff,
    UnofferedSlots,
};
use nhs_portal_pas::fhir::{
    FhirPas, FhirPasConfig, SecretText, SmartBackendAuth, SpecialtyMap, map,
};
use nhs_portal_pas::worklist::Worklist;
use nhs_portal_pas::{CancelReason, PasBackend, PasChange, PasError};
use nhs_portal_tests::fhir_peer::{FhirPeer, NextLinks, PeerAuth, PeerOptions, SlotMode};
use serde_json::{Value, json};
use url::Url;

const ADULT: &str = "9000000009";
const SECOND: &str = "9000000017";
const THIRD: &str = "9000000033";
const UNKNOWN: &str = "9000000092";
const TFC: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";
const SNOMED: &str = "http://snomed.info/sct";

fn nhs(n: &str) -> NhsNumber {
    NhsNumber::parse(n).unwrap()
}

fn id(s: &str) -> AppointmentId {
    AppointmentId::parse(s).unwrap()
}

fn at(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

fn instant(t: DateTime<Utc>) -> String {
    map::format_instant(t)
}

fn config(peer: &FhirPeer) -> FhirPasConfig {
    peer.adapter_config()
}

fn adapter(cfg: FhirPasConfig) -> FhirPas {
    FhirPas::new(cfg, Arc::new(SystemClock)).unwrap()
}

fn patient(pid: &str, number: &str) -> Value {
    json!({"resourceType": "Patient", "id": pid, "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}]})
}

fn slot(sid: &str, schedule: &str, start: DateTime<Utc>, status: &str) -> Value {
    json!({"resourceType": "Slot", "id": sid, "status": status,
        "schedule": {"reference": format!("Schedule/{schedule}")},
        "start": instant(start), "end": instant(start + Duration::minutes(20))})
}

/// A HAPI-like Appointment: relative references, a TFC specialty, an ODS-coded location.
fn appointment(
    aid: &str,
    pid: &str,
    slot: Option<&str>,
    start: DateTime<Utc>,
    status: &str,
) -> Value {
    let mut a = json!({
        "resourceType": "Appointment", "id": aid, "status": status,
        "description": "Dermatology appointment",
        "specialty": [{"coding": [{"system": TFC, "code": "330", "display": "DERMATOLOGY"}]}],
        "start": instant(start), "end": instant(start + Duration::minutes(20)),
        "participant": [
            {"actor": {"reference": format!("Patient/{pid}")}, "status": "accepted"},
            {"actor": {"type": "Location", "display": "Northfield Teaching Hospitals NHS Foundation Trust",
                "identifier": {"system": map::ODS_SYSTEM, "value": "R9N"}}, "status": "accepted"},
        ],
    });
    if let Some(s) = slot {
        a["slot"] = json!([{"reference": format!("Slot/{s}")}]);
    }
    a
}

/// The kit's data: three patients, a dermatology clinic with free slots, slots the
/// dermatology appointment must not get, and appointments for each check.
fn seed(peer: &FhirPeer) -> Vec<String> {
    for (pid, n) in [("pat-a", ADULT), ("pat-b", SECOND), ("pat-c", THIRD)] {
        peer.put(patient(pid, n));
    }
    for (sid, days) in [
        ("home-a", 10),
        ("home-t", 12),
        ("home-c", 11),
        ("home-e1", 13),
        ("home-e2", 14),
    ] {
        peer.put(slot(sid, "derm", at(days), "busy"));
    }
    for (n, days) in [(1, 5), (2, 6), (3, 7)] {
        peer.put(slot(&format!("free-{n}"), "derm", at(days), "free"));
    }
    // Free, but not for the dermatology appointment: another clinic's, another specialty's,
    // and one beyond the booking horizon.
    peer.put(slot("other-clinic", "two-week-wait", at(5), "free"));
    let mut other_specialty = slot("other-specialty", "derm", at(6), "free");
    other_specialty["specialty"] = json!([{"coding": [{"system": TFC, "code": "502"}]}]);
    peer.put(other_specialty);
    peer.put(slot(
        "beyond",
        "derm",
        at(nhs_portal_pas::BOOKING_HORIZON_DAYS + 7),
        "free",
    ));
    for (aid, pid, s, days, status) in [
        ("appt-a", "pat-a", Some("home-a"), 10, "booked"),
        ("appt-t", "pat-a", Some("home-t"), 12, "booked"),
        ("appt-past", "pat-a", None, -10, "fulfilled"),
        ("appt-b", "pat-b", None, 9, "booked"),
        ("appt-c", "pat-c", Some("home-c"), 11, "booked"),
        ("appt-e1", "pat-a", Some("home-e1"), 13, "booked"),
        ("appt-e2", "pat-a", Some("home-e2"), 14, "booked"),
    ] {
        peer.put(appointment(aid, pid, s, at(days), status));
    }
    ["other-clinic", "other-specialty", "beyond"]
        .map(String::from)
        .to_vec()
}

/// The patient cancels appt-t through the adapter.
async fn cancel_appt_t(pas: &FhirPas) -> Result<nhs_portal_core::Appointment, PasError> {
    let a = pas
        .get_appointment(&nhs(ADULT), &id("appt-t"))
        .await?
        .expect("appt-t is the adult's");
    let reason = CancelReason {
        code: "no-longer-needed".into(),
        text: None,
    };
    pas.cancel(&a, &reason).await
}

/// Records every appointment's current version as seen, as a running portal's feed would have.
async fn prime(pas: &FhirPas, store: &MemoryStore) {
    for e in pas.poll_events(DateTime::UNIX_EPOCH).await.unwrap() {
        store.record_seen(&e.seen()).await.unwrap();
    }
}

/// Trust staff acting in the peer, for the kit's events check.
struct PeerStaff(Arc<FhirPeer>);

#[async_trait]
impl TrustStaff for PeerStaff {
    async fn act(&self, action: &TrustAction) -> Result<(), String> {
        let key = action.appointment.as_str();
        match &action.outcome {
            RequestOutcome::Cancelled => self.0.edit("Appointment", key, |a| {
                a["status"] = json!("cancelled");
            }),
            RequestOutcome::Rescheduled {
                new_start: Some(start),
                ..
            } => self.0.edit("Appointment", key, |a| {
                a["start"] = json!(instant(*start));
                a["end"] = json!(instant(*start + Duration::minutes(20)));
            }),
            other => return Err(format!("a FHIR PAS has no way to show {other:?}")),
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_passes_in_every_slot_mode() {
    for mode in [
        SlotMode::ClientManaged,
        SlotMode::ServerOwned,
        SlotMode::PatchOnly,
        SlotMode::Transaction,
    ] {
        let peer = Arc::new(
            FhirPeer::start_with(PeerOptions {
                slots: mode,
                page_size: Some(3),
                next_links: NextLinks::Relative,
                ..PeerOptions::default()
            })
            .await,
        );
        let unoffered = seed(&peer);
        // Booked with the patient yet to accept: theirs to confirm.
        let mut to_confirm = appointment("appt-confirm", "pat-a", None, at(8), "booked");
        to_confirm["participant"][0]["status"] = json!("needs-action");
        peer.put(to_confirm);
        let store = Arc::new(MemoryStore::new());
        let mut cfg = config(&peer);
        cfg.capabilities = Capabilities::REAL_TIME.with_confirm_attendance();
        let pas = adapter(cfg).with_last_seen(store.clone());
        prime(&pas, &store).await;
        let mut f = ConformanceFixture::new(nhs(ADULT), nhs(SECOND), nhs(UNKNOWN));
        f.cancellable = Some(id("appt-t"));
        f.confirmable = Some(id("appt-confirm"));
        f.past = Some(id("appt-past"));
        f.reschedule_race = Some(RescheduleRace {
            first: (nhs(ADULT), id("appt-a")),
            second: (nhs(THIRD), id("appt-c")),
            from: Utc::now(),
            to: at(28),
        });
        f.unoffered_slots = Some(UnofferedSlots {
            appointment: (nhs(ADULT), id("appt-a")),
            slots: unoffered,
        });
        f.events = Some(EventsFixture {
            staff: Arc::new(PeerStaff(peer.clone())),
            actions: vec![
                TrustAction {
                    patient: nhs(ADULT),
                    appointment: id("appt-e1"),
                    outcome: RequestOutcome::Cancelled,
                },
                TrustAction {
                    patient: nhs(ADULT),
                    appointment: id("appt-e2"),
                    outcome: RequestOutcome::Rescheduled {
                        replaced_by: None,
                        // FHIR instants here are whole seconds.
                        new_start: DateTime::from_timestamp(at(20).timestamp(), 0),
                    },
                },
            ],
        });
        let report = match conformance::run(pas.clone(), &f).await {
            Ok(r) => r,
            Err(e) => {
                let log = peer.requests();
                for r in &log[log.len().saturating_sub(40)..] {
                    eprintln!("{} {}", r.method, r.target);
                }
                panic!("{mode:?}: {e}")
            }
        };
        assert_eq!(
            report.skipped(),
            ["capabilities honoured"],
            "{mode:?}: {report}"
        );
        let log = peer.requests();
        let wrote = |method: &str, kind: &str| {
            log.iter()
                .any(|r| r.method == method && r.target.starts_with(&format!("/fhir/{kind}/")))
        };
        match mode {
            SlotMode::ClientManaged => {
                assert!(wrote("PUT", "Slot"), "client-managed slots are claimed")
            }
            SlotMode::ServerOwned => {
                assert!(
                    !wrote("PUT", "Slot") && !wrote("PATCH", "Slot"),
                    "server-owned slots are never written"
                );
                assert!(
                    log.iter().any(|r| r.target.ends_with("/$book")),
                    "moves go through $book"
                );
            }
            SlotMode::PatchOnly => {
                assert!(
                    !wrote("PUT", "Appointment") && !wrote("PUT", "Slot"),
                    "no PUT to a PATCH-only server"
                );
                assert!(wrote("PATCH", "Slot"));
            }
            SlotMode::Transaction => {
                // Moves are transactions (a cancellation still frees its slot on its own).
                assert!(
                    log.iter()
                        .any(|r| r.method == "POST" && r.target == "/fhir/"),
                    "moves go through transaction Bundles"
                );
            }
        }
        // The confirmation is the patient participant's acceptance, as the PAS now holds it.
        let confirmed = peer.get("Appointment", "appt-confirm").unwrap();
        assert_eq!(
            confirmed["participant"][0]["status"], "accepted",
            "{mode:?}"
        );
        assert_eq!(confirmed["status"], "booked", "{mode:?}");
    }
}

#[tokio::test]
async fn a_list_across_three_pages_returns_every_appointment() {
    for links in [
        NextLinks::Relative,
        NextLinks::Absolute,
        NextLinks::OtherOrigin,
    ] {
        let peer = FhirPeer::start_with(PeerOptions {
            page_size: Some(2),
            next_links: links,
            ..PeerOptions::default()
        })
        .await;
        seed(&peer);
        let got = adapter(config(&peer))
            .list_appointments(&nhs(ADULT))
            .await
            .unwrap();
        let mut ids: Vec<&str> = got.iter().map(|a| a.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            ["appt-a", "appt-e1", "appt-e2", "appt-past", "appt-t"],
            "{links:?}"
        );
        let pages = peer
            .requests()
            .iter()
            .filter(|r| r.target.starts_with("/fhir/Appointment?"))
            .count();
        assert_eq!(pages, 3, "{links:?}: five appointments, two a page");
    }
    // More pages than the cap: an error, never a short list.
    let peer = FhirPeer::start_with(PeerOptions {
        page_size: Some(2),
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let mut cfg = config(&peer);
    cfg.page_cap = 2;
    assert!(matches!(
        adapter(cfg).list_appointments(&nhs(ADULT)).await,
        Err(PasError::BadData(_))
    ));
}

#[tokio::test]
async fn a_cancel_against_a_return_minimal_server_succeeds() {
    let peer = FhirPeer::start_with(PeerOptions {
        minimal_writes: true,
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let pas = adapter(config(&peer));
    let cancelled = cancel_appt_t(&pas).await.unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    let stored = peer.get("Appointment", "appt-t").unwrap();
    assert_eq!(stored["cancelationReason"]["coding"][0]["code"], "pat-cpp");
    let log = peer.requests();
    let put = log.iter().position(|r| r.method == "PUT").unwrap();
    assert_eq!(log[put].prefer.as_deref(), Some("return=representation"));
    assert!(
        log[put + 1..]
            .iter()
            .any(|r| r.method == "GET" && r.target == "/fhir/Appointment/appt-t"),
        "the empty answer is followed by a read"
    );
    // The slot it held is free again; no other booking held it.
    assert_eq!(peer.get("Slot", "home-t").unwrap()["status"], "free");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_once_and_a_long_one_is_not() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let pas = adapter(config(&peer));
    peer.fail_next(1, 429, Some("1"));
    assert_eq!(pas.list_appointments(&nhs(ADULT)).await.unwrap().len(), 5);
    let patient_searches = peer
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/fhir/Patient?"))
        .count();
    assert_eq!(patient_searches, 2, "one refused, one retried");

    peer.fail_next(1, 429, Some("30"));
    let before = peer.requests().len();
    match pas.list_appointments(&nhs(ADULT)).await {
        Err(e @ PasError::RateLimited { .. }) => {
            assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(
        peer.requests().len(),
        before + 1,
        "a long Retry-After is not waited"
    );
}

#[tokio::test]
async fn a_snomed_coded_appointment_appears_with_its_mapped_specialty() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    // Millennium-like: SNOMED specialty only, a BST offset, an absolute versioned reference.
    peer.put(json!({
        "resourceType": "Appointment", "id": "appt-snomed", "status": "booked",
        "serviceType": [{"coding": [{"system": SNOMED, "code": "394582007", "display": "Dermatology"}]}],
        "start": "2031-07-01T09:30:00+01:00", "end": "2031-07-01T09:50:00+01:00",
        "participant": [{"actor": {"reference": format!("{}Patient/pat-a/_history/1", peer.base_url())}}],
    }));
    let adult = nhs(ADULT);
    let plain = adapter(config(&peer))
        .list_appointments(&adult)
        .await
        .unwrap();
    assert!(
        plain.iter().all(|a| a.id.as_str() != "appt-snomed"),
        "no table, no specialty"
    );
    let mut cfg = config(&peer);
    cfg.specialties = SpecialtyMap::from_concept_map(&json!({
        "resourceType": "ConceptMap",
        "group": [{"source": SNOMED, "target": TFC, "element": [{"code": "394582007",
            "target": [{"code": "330", "display": "DERMATOLOGY", "equivalence": "equivalent"}]}]}],
    }))
    .unwrap();
    let got = adapter(cfg).list_appointments(&adult).await.unwrap();
    let a = got
        .iter()
        .find(|a| a.id.as_str() == "appt-snomed")
        .expect("mapped");
    assert_eq!(a.specialty.code.as_str(), "330");
    assert_eq!(a.specialty.display, "DERMATOLOGY");
    assert_eq!(
        instant(a.start),
        "2031-07-01T08:30:00+00:00",
        "BST is UTC+1"
    );
}

#[tokio::test]
async fn merged_patients_are_followed() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let mut old = patient("pat-old", ADULT);
    old["link"] = json!([{"other": {"reference": "Patient/pat-a"}, "type": "replaced-by"}]);
    old["active"] = json!(false);
    peer.put(old);
    peer.put(appointment("appt-old", "pat-old", None, at(15), "booked"));
    let pas = adapter(config(&peer));
    let got = pas.list_appointments(&nhs(ADULT)).await.unwrap();
    assert!(
        got.iter().any(|a| a.id.as_str() == "appt-old"),
        "the merged record's appointment"
    );
    assert_eq!(got.len(), 6);
    assert!(pas.patient(&nhs(ADULT)).await.unwrap().is_some());
}

#[tokio::test]
async fn an_appointment_moved_to_entered_in_error_leaves_the_list_and_is_withdrawn() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let store = Arc::new(MemoryStore::new());
    let pas = adapter(config(&peer)).with_last_seen(store.clone());
    prime(&pas, &store).await;
    assert!(
        pas.get_appointment(&nhs(ADULT), &id("appt-e1"))
            .await
            .unwrap()
            .is_some()
    );
    let since = Utc::now();
    peer.edit("Appointment", "appt-e1", |a| {
        a["status"] = json!("entered-in-error")
    });
    let list = pas.list_appointments(&nhs(ADULT)).await.unwrap();
    assert!(list.iter().all(|a| a.id.as_str() != "appt-e1"));
    assert!(
        pas.get_appointment(&nhs(ADULT), &id("appt-e1"))
            .await
            .unwrap()
            .is_none()
    );
    let events = pas.poll_events(since).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, PasChange::Withdrawn);
}

#[tokio::test]
async fn a_refusal_under_the_pas_rules_carries_its_text() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let pas = adapter(config(&peer));
    peer.lock_record(
        "Appointment",
        "appt-t",
        "Record open in the ward clerk's session",
    );
    match cancel_appt_t(&pas).await {
        Err(PasError::BusinessRule { text }) => {
            assert_eq!(text, "Record open in the ward clerk's session")
        }
        other => panic!("expected BusinessRule, got {other:?}"),
    }
    assert_eq!(
        peer.get("Appointment", "appt-t").unwrap()["status"],
        "booked"
    );
}

#[tokio::test]
async fn smart_tokens_are_cached_and_renewed_when_refused() {
    let key = nhs_portal_web::nhs_login::RsaSigningKey::generate().unwrap();
    let peer = FhirPeer::start_with(PeerOptions {
        auth: Some(PeerAuth {
            client_id: "nhs-portal".into(),
            public_key_pem: key.public_key_pem().unwrap(),
            token_lifetime_secs: 600,
        }),
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let smart = |pem: String| {
        let mut cfg = config(&peer);
        cfg.smart = Some(SmartBackendAuth::new(
            Url::parse(&peer.token_url()).unwrap(),
            "nhs-portal",
            SecretText(pem),
        ));
        adapter(cfg)
    };
    let pas = smart(key.private_key_pem());
    assert_eq!(pas.list_appointments(&nhs(ADULT)).await.unwrap().len(), 5);
    assert_eq!(pas.list_appointments(&nhs(ADULT)).await.unwrap().len(), 5);
    assert_eq!(peer.token_requests(), 1, "the token is cached");
    peer.expire_tokens();
    assert_eq!(pas.list_appointments(&nhs(ADULT)).await.unwrap().len(), 5);
    assert_eq!(peer.token_requests(), 2, "a refused token is renewed once");
    assert!(peer.requests().iter().all(|r| r.authorised));
    // Another key than the one registered: no token, and the portal is told why.
    let stranger = nhs_portal_web::nhs_login::RsaSigningKey::generate().unwrap();
    assert!(matches!(
        smart(stranger.private_key_pem())
            .list_appointments(&nhs(ADULT))
            .await,
        Err(PasError::Unauthorised(_))
    ));
    // A static token over plain http to another machine is refused before anything is sent.
    let mut insecure = FhirPasConfig::new(
        Url::parse("http://pas.example.nhs.uk/fhir/").unwrap(),
        config(&peer).organisation,
        Capabilities::REAL_TIME,
    );
    insecure.bearer_token = Some("t0ken".into());
    assert!(FhirPas::new(insecure, Arc::new(SystemClock)).is_err());
}

#[tokio::test]
async fn one_correlation_id_per_portal_call() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let pas = adapter(config(&peer));
    pas.list_appointments(&nhs(ADULT)).await.unwrap();
    let first: Vec<_> = peer
        .requests()
        .into_iter()
        .map(|r| r.correlation_id)
        .collect();
    pas.list_appointments(&nhs(ADULT)).await.unwrap();
    let second: Vec<_> = peer.requests()[first.len()..]
        .iter()
        .map(|r| r.correlation_id.clone())
        .collect();
    assert!(first.len() >= 2 && first.iter().all(|c| c.is_some() && *c == first[0]));
    assert!(second.iter().all(|c| *c == second[0]));
    assert_ne!(first[0], second[0]);
}

/// A pending reschedule request on `appointment`, as the portal stores it.
async fn pending_reschedule(store: &MemoryStore, appointment: &str) {
    let request = NewRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: format!("key-{appointment}"),
        appointment: id(appointment),
        patient: nhs(ADULT),
        ods_code: OdsCode::parse("R9N").unwrap(),
        kind: RequestKind::Reschedule,
        reason: "cannot-attend".into(),
        details: None,
        created_at: Utc::now(),
    };
    let audit = AuditRecord {
        at: Utc::now(),
        patient: nhs(ADULT),
        actor: "patient".into(),
        session: None,
        action: AuditAction::RescheduleRequested,
        appointment: Some(id(appointment)),
        detail: None,
    };
    store.submit_request(&request, &audit, &[]).await.unwrap();
}

#[tokio::test]
async fn a_cancel_and_new_booking_resolves_a_pending_reschedule() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let store = Arc::new(MemoryStore::new());
    let pas = Arc::new(adapter(config(&peer)).with_last_seen(store.clone()));
    prime(&pas, &store).await;
    pending_reschedule(&store, "appt-e2").await;
    let since = Utc::now();
    // Staff rebook: a new appointment, then the old one cancelled by the hospital.
    peer.put(appointment(
        "appt-new",
        "pat-a",
        Some("free-2"),
        at(6),
        "booked",
    ));
    peer.edit("Appointment", "appt-e2", |a| {
        a["status"] = json!("cancelled");
        a["cancelationReason"] =
            json!({"coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "prov"}]});
    });
    let worklist = Worklist::new(store.clone(), pas.clone(), Arc::new(SystemClock));
    let report = worklist.sync_from_pas(since).await.unwrap();
    assert_eq!(report.resolved.len(), 1, "{report:?}");
    assert_eq!(report.resolved[0].state, RequestState::Fulfilled);
    let events = store
        .claim_events("test", 100, Utc::now(), Duration::minutes(1))
        .await
        .unwrap();
    assert!(events.iter().any(|e| matches!(
        &e.event,
        ReportingEvent::Rescheduled { new_appointment: Some(n), .. } if n.as_str() == "appt-new"
    )));
}

#[tokio::test]
async fn a_no_show_a_hospital_cancellation_and_a_new_booking_each_come_once_across_overlapping_polls()
 {
    let peer = FhirPeer::start().await;
    seed(&peer);
    let store = Arc::new(MemoryStore::new());
    let pas = Arc::new(adapter(config(&peer)).with_last_seen(store.clone()));
    prime(&pas, &store).await;
    let worklist = Worklist::new(store.clone(), pas.clone(), Arc::new(SystemClock));
    let since = Utc::now();
    peer.edit("Appointment", "appt-past", |a| {
        a["status"] = json!("noshow")
    });
    peer.edit("Appointment", "appt-e1", |a| {
        a["status"] = json!("cancelled");
        a["cancelationReason"] =
            json!({"coding": [{"system": map::CANCELLATION_REASON_SYSTEM, "code": "prov"}]});
    });
    peer.put(appointment("appt-fresh", "pat-b", None, at(30), "booked"));
    let first = pas.poll_events(since).await.unwrap();
    let mut kinds: Vec<(&str, &PasChange)> = first
        .iter()
        .map(|e| (e.appointment.as_str(), &e.change))
        .collect();
    kinds.sort_by_key(|(id, _)| *id);
    let hospital = PasChange::Cancelled {
        by: ChangeReason::Hospital,
    };
    assert_eq!(
        kinds,
        [
            ("appt-e1", &hospital),
            ("appt-fresh", &PasChange::Booked),
            ("appt-past", &PasChange::NoShow),
        ]
    );
    let report = worklist.sync_from_pas(since).await.unwrap();
    assert_eq!(report.without_request, 3);
    // A change that commits after the first poll but was stamped before its latest event (a
    // server that stamps lastUpdated when the transaction starts): the overlap finds it.
    let mut late = peer.get("Appointment", "appt-b").unwrap();
    late["status"] = json!("noshow");
    peer.put_at(late, report.next_since - Duration::seconds(30));
    let second = pas.poll_events(report.next_since).await.unwrap();
    let ids: Vec<&str> = second.iter().map(|e| e.appointment.as_str()).collect();
    assert_eq!(ids, ["appt-b"], "the earlier three are not reported again");
    let again = worklist.sync_from_pas(report.next_since).await.unwrap();
    assert_eq!(again.without_request, 1);
    assert!(pas.poll_events(again.next_since).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_cancel_frees_a_slot_only_when_no_other_booking_holds_it() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    // An overbooked clinic: a second booking in the slot appt-t holds.
    peer.put(appointment(
        "appt-overbooked",
        "pat-b",
        Some("home-t"),
        at(12),
        "booked",
    ));
    let pas = adapter(config(&peer));
    cancel_appt_t(&pas).await.unwrap();
    assert_eq!(
        peer.get("Slot", "home-t").unwrap()["status"],
        "busy",
        "the other booking still holds it"
    );
}

#[tokio::test]
async fn a_move_to_another_clinic_takes_that_clinics_practitioner_and_location() {
    let peer = FhirPeer::start().await;
    seed(&peer);
    // appt-b has no slot, so it is offered the specialty's slots, another clinic's included.
    peer.edit("Appointment", "appt-b", |a| {
        a["participant"]
            .as_array_mut()
            .unwrap()
            .push(json!({"actor": {"reference": "Practitioner/dr-old", "display": "Dr Old"}}));
    });
    peer.put(
        json!({"resourceType": "Schedule", "id": "clinic-2", "active": true, "actor": [
            {"reference": "Practitioner/dr-new", "display": "Dr Amira Shah"},
            {"reference": "Location/clinic-2", "display": "Outpatients 2"},
        ]}),
    );
    let mut elsewhere = slot("elsewhere", "clinic-2", at(8), "free");
    elsewhere["specialty"] = json!([{"coding": [{"system": TFC, "code": "330"}]}]);
    peer.put(elsewhere);
    let pas = adapter(config(&peer));
    let b = pas
        .get_appointment(&nhs(SECOND), &id("appt-b"))
        .await
        .unwrap()
        .unwrap();
    let moved = pas.reschedule(&b, "elsewhere").await.unwrap();
    assert_eq!(
        moved.clinician.map(|c| c.name).as_deref(),
        Some("Dr Amira Shah")
    );
    assert_eq!(
        moved.location.map(|l| l.name).as_deref(),
        Some("Outpatients 2")
    );
    assert_eq!(
        moved.organisation.ods_code.as_str(),
        "R9N",
        "the trust stays"
    );
    let stored = peer.get("Appointment", "appt-b").unwrap();
    assert!(!stored.to_string().contains("Dr Old"));
}

/// appt-a (in home-a) as the adult's, read through the adapter.
async fn appt_a(pas: &FhirPas) -> nhs_portal_core::Appointment {
    pas.get_appointment(&nhs(ADULT), &id("appt-a"))
        .await
        .unwrap()
        .expect("appt-a is the adult's")
}

/// The stored version of a resource in the peer.
fn version(peer: &FhirPeer, kind: &str, rid: &str) -> String {
    peer.get(kind, rid).unwrap()["meta"]["versionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_reschedule_against_a_transaction_server_is_one_bundle() {
    let peer = FhirPeer::start_with(PeerOptions {
        slots: SlotMode::Transaction,
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let pas = adapter(config(&peer));
    let a = appt_a(&pas).await;
    let before = peer.requests().len();
    let moved = pas.reschedule(&a, "free-1").await.unwrap();
    assert!((moved.start - at(5)).num_seconds().abs() < 60, "{moved:?}");
    let writes: Vec<_> = peer.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(writes, ["POST /fhir/"], "one transaction, no single writes");
    let stored = peer.get("Appointment", "appt-a").unwrap();
    assert_eq!(
        nhs_portal_tests::fhir_peer::slot_refs(&stored),
        ["Slot/free-1"]
    );
    let new_slot = peer.get("Slot", "free-1").unwrap();
    assert_eq!(new_slot["status"], "busy");
    assert_eq!(
        new_slot["extension"][0]["valueReference"]["reference"],
        "Appointment/appt-a"
    );
    assert_eq!(peer.get("Slot", "home-a").unwrap()["status"], "free");
}

#[tokio::test]
async fn a_conflict_in_a_transaction_changes_nothing_and_the_slot_is_unavailable() {
    let peer = FhirPeer::start_with(PeerOptions {
        slots: SlotMode::Transaction,
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let pas = adapter(config(&peer));
    let a = appt_a(&pas).await;
    // Another client books free-1 after the adapter read it, before its transaction lands.
    let mut taken = peer.get("Slot", "free-1").unwrap();
    taken["status"] = json!("busy");
    peer.race_next_transaction(taken);
    let (appointment, old_slot) = (
        peer.get("Appointment", "appt-a").unwrap(),
        peer.get("Slot", "home-a").unwrap(),
    );
    assert!(matches!(
        pas.reschedule(&a, "free-1").await,
        Err(PasError::SlotUnavailable)
    ));
    assert_eq!(peer.get("Appointment", "appt-a").unwrap(), appointment);
    assert_eq!(peer.get("Slot", "home-a").unwrap(), old_slot);
    let new_slot = peer.get("Slot", "free-1").unwrap();
    assert!(
        new_slot.get("extension").is_none(),
        "the claim was not kept"
    );
    assert_eq!(
        new_slot["meta"]["versionId"], "2",
        "only the other client's write"
    );
    // A taken slot is not tried again.
    assert_eq!(
        peer.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.target == "/fhir/")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_transaction_refused_on_a_later_entry_rolls_back_the_earlier_ones() {
    let peer = FhirPeer::start_with(PeerOptions {
        slots: SlotMode::Transaction,
        ..PeerOptions::default()
    })
    .await;
    seed(&peer);
    let pas = adapter(config(&peer));
    let a = appt_a(&pas).await;
    let (slot_v, appt_v) = (
        version(&peer, "Slot", "free-1"),
        version(&peer, "Appointment", "appt-a"),
    );
    // Staff touch the old slot (its last entry) after the adapter read it: the claim and the
    // move before it in the same transaction must not stay.
    let mut touched = peer.get("Slot", "home-a").unwrap();
    touched["comment"] = json!("Clinic room 4");
    peer.race_next_transaction(touched);
    pas.reschedule(&a, "free-1").await.unwrap();
    let posts = peer
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/fhir/")
        .count();
    assert_eq!(posts, 2, "refused once, then made again from a fresh read");
    // Each written exactly once: the refused transaction left no version behind.
    let next = |v: String| (v.parse::<u64>().unwrap() + 1).to_string();
    assert_eq!(version(&peer, "Slot", "free-1"), next(slot_v));
    assert_eq!(version(&peer, "Appointment", "appt-a"), next(appt_v));
    let old = peer.get("Slot", "home-a").unwrap();
    assert_eq!(
        (old["status"].as_str(), old["comment"].as_str()),
        (Some("free"), Some("Clinic room 4"))
    );
}
