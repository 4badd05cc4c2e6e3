//! Behaviour tests of the Get Appointments handler with a small fake PAS and fake token checks.
//! The JWT validator is tested with real RSA keys at the end.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::eligibility::age_on;
use nhs_portal_core::request_status::{Capabilities, RequestKind};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, RequestStore,
};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium,
    Identifier, Location, OdsCode, Organisation, Priority, RequestStatus, Specialty,
    TreatmentFunctionCode,
};
use nhs_portal_pas::{CancelReason, PasError, PasEvent, PatientRecord, Slot};
use serde_json::Value;

use super::*;
use crate::nhs_login::ForwardedIdentity;

const P1: &str = "9000000009";
const P2: &str = "9000000017";
const CORR: &str = "c93e2449-a2ef-4476-ad15-13491036be22";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

fn nhs(s: &str) -> NhsNumber {
    NhsNumber::parse(s).unwrap()
}

fn dob(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn appointment(patient: &str, id: &str) -> Appointment {
    Appointment {
        id: AppointmentId::parse(id).unwrap(),
        patient: nhs(patient),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Dermatology".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start: Utc.with_ymd_and_hms(2026, 4, 1, 8, 30, 0).unwrap(),
        end: Some(Utc.with_ymd_and_hms(2026, 4, 1, 8, 45, 0).unwrap()),
        medium: ConsultationMedium::FaceToFace,
        priority: Some(Priority::Routine),
        location: Some(Location {
            name: "Grantham Hospital Outpatients".into(),
            address: vec!["1 Road".into()],
        }),
        clinician: Some(Clinician {
            name: "Dr Amira Shah".into(),
            sds_user_id: Some("999999999".into()),
        }),
        organisation: Organisation {
            ods_code: OdsCode::parse("RFF").unwrap(),
            name: "Barnsley Hospital NHS Foundation Trust".into(),
        },
        appointment_type: AppointmentType::Outpatient,
        holding: false,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![Identifier {
            system: "https://pas.example/Appointment".into(),
            value: format!("pas-{id}"),
        }],
    }
}

#[derive(Debug, Default)]
struct FakePas {
    patients: HashMap<NhsNumber, (PatientRecord, Vec<Appointment>)>,
    delay: Option<Duration>,
    down: bool,
}

impl FakePas {
    fn with(mut self, nhs_s: &str, born: &str, appts: Vec<Appointment>) -> Self {
        self.patients.insert(
            nhs(nhs_s),
            (
                PatientRecord {
                    nhs_number: nhs(nhs_s),
                    date_of_birth: dob(born),
                    portal_access: true,
                    restricted: false,
                },
                appts,
            ),
        );
        self
    }

    async fn pause(&self) -> Result<(), PasError> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        if self.down {
            return Err(PasError::Unavailable("fake PAS is down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl PasBackend for FakePas {
    async fn patient(&self, p: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        self.pause().await?;
        Ok(self.patients.get(p).map(|(r, _)| r.clone()))
    }
    async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.pause().await?;
        Ok(self
            .patients
            .get(p)
            .map(|(_, a)| a.clone())
            .unwrap_or_default())
    }
    async fn get_appointment(
        &self,
        _: &NhsNumber,
        _: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        Err(PasError::NotSupported)
    }
    async fn capabilities(&self, _: &Appointment) -> Result<Capabilities, PasError> {
        Ok(Capabilities::REQUEST_ONLY)
    }
    async fn cancel(&self, _: &Appointment, _: &CancelReason) -> Result<Appointment, PasError> {
        Err(PasError::NotSupported)
    }
    async fn find_slots(
        &self,
        _: &Appointment,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        Ok(vec![])
    }
    async fn reschedule(&self, _: &Appointment, _: &str) -> Result<Appointment, PasError> {
        Err(PasError::NotSupported)
    }
    async fn poll_events(&self, _: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        Ok(vec![])
    }
}

/// Accepts exactly `Bearer good`.
#[derive(Debug)]
struct FakeBearer;

#[async_trait]
impl BearerValidator for FakeBearer {
    async fn validate(&self, token: &str) -> Result<Caller, BearerError> {
        if token == "good" || token == "other-client" {
            Ok(Caller {
                client_id: Some(if token == "good" { "pca" } else { token }.into()),
            })
        } else {
            Err(BearerError::Invalid)
        }
    }
}

/// A test double for the NHS login check: the "token" is `nhs|birthdate`, `nhs|` for no
/// birthdate, anything else is refused. Counts calls.
#[derive(Debug, Default)]
struct FakeIdTokens(Mutex<u32>);

#[async_trait]
impl ForwardedTokenVerifier for FakeIdTokens {
    async fn verify(&self, t: &str, expected: &NhsNumber) -> Result<ForwardedIdentity, TokenError> {
        *self.0.lock().unwrap() += 1;
        if t == "p5" {
            return Err(TokenError::IdentityLevelTooLow("P5".into()));
        }
        let (n, d) = t
            .split_once('|')
            .ok_or(TokenError::Malformed("fake".into()))?;
        let nhs_number = NhsNumber::parse(n).map_err(|_| TokenError::InvalidNhsNumber)?;
        if &nhs_number != expected {
            return Err(TokenError::NhsNumberMismatch);
        }
        Ok(ForwardedIdentity {
            nhs_number,
            date_of_birth: (!d.is_empty()).then(|| dob(d)),
            subject: "sub".into(),
            vot: "P9.Cp.Cd".into(),
        })
    }
}

struct Harness {
    api: FhirApi,
    store: Arc<MemoryStore>,
}

fn harness_with(pas: FakePas, edit: impl FnOnce(&mut FhirApiConfig)) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let mut config = FhirApiConfig::new(
        DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap(),
        "Example Portal",
    );
    edit(&mut config);
    let api = FhirApi::new(
        Arc::new(pas),
        store.clone(),
        Arc::new(ManualClock::new(now())),
        Arc::new(FakeBearer),
        Arc::new(FakeIdTokens::default()),
        config,
    );
    Harness { api, store }
}

fn demo_pas() -> FakePas {
    let mut cancelled = appointment(P1, "a2");
    cancelled.status = AppointmentStatus::Cancelled;
    cancelled.start = Utc.with_ymd_and_hms(2025, 11, 2, 14, 0, 0).unwrap();
    cancelled.end = None;
    let mut inpatient = appointment(P1, "a3");
    inpatient.appointment_type = AppointmentType::Inpatient;
    inpatient.description = "Dermatology Procedure".into();
    inpatient.end = Some(Utc.with_ymd_and_hms(2026, 4, 4, 17, 0, 0).unwrap());
    let mut video = appointment(P1, "a4");
    video.medium = ConsultationMedium::Video;
    video.clinician = None;
    video.priority = None;
    video.request_status = Some(RequestStatus::PendingReschedule);
    FakePas::default()
        .with(
            P1,
            "1985-09-07",
            vec![appointment(P1, "a1"), cancelled, inpatient, video],
        )
        .with(P2, "1990-01-01", vec![])
}

fn request(query: &str) -> http::request::Builder {
    Request::builder()
        .uri(format!("/fhir/Appointment?{query}"))
        .header("authorization", "Bearer good")
        .header("x-correlation-id", CORR)
}

fn for_patient(p: &str, born: &str) -> Request<Bytes> {
    request(&format!(
        "patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C{p}"
    ))
    .header("nhsd-id-token", format!("{p}|{born}"))
    .body(Bytes::new())
    .unwrap()
}

fn json(resp: &Response<Bytes>) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

fn assert_outcome(resp: &Response<Bytes>, status: u16, code: &str, diagnostics: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let body = json(resp);
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], code);
    assert_eq!(body["issue"][0]["diagnostics"], diagnostics);
    assert_eq!(resp.headers()["content-type"], FHIR_JSON);
}

#[tokio::test]
async fn returns_every_appointment_as_a_searchset() {
    let h = harness_with(demo_pas(), |_| {});
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-correlation-id"], CORR);
    assert_eq!(resp.headers()["content-type"], FHIR_JSON);
    let b = json(&resp);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 4);
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for e in entries {
        assert_eq!(e["search"]["mode"], "match");
        let id = e["resource"]["id"].as_str().unwrap();
        assert_eq!(
            e["fullUrl"],
            format!("https://portal.example.nhs.uk/fhir/Appointment/{id}")
        );
        let link = e["resource"]["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["url"] == resource::PORTAL_LINK_EXTENSION)
            .unwrap()["valueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            link,
            format!(
                "https://portal.example.nhs.uk/patient-portal/appointment/{id}?extSystemName=Example+Portal&trackingId={CORR}"
            )
        );
    }
    let by_id =
        |id: &str| entries.iter().find(|e| e["resource"]["id"] == id).unwrap()["resource"].clone();
    let a1 = by_id("a1");
    assert_eq!(a1["status"], "booked");
    assert_eq!(a1["start"], "2026-04-01T08:30:00+00:00");
    assert_eq!(a1["specialty"][0]["coding"][0]["code"], "330");
    assert!(a1.get("appointmentType").is_none(), "outpatient sends none");
    let kinds: Vec<_> = a1["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["actor"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["Patient", "Location", "Location", "Practitioner"]);
    assert_eq!(
        a1["participant"][2]["actor"]["display"],
        "Grantham Hospital Outpatients"
    );
    assert_eq!(by_id("a2")["status"], "cancelled");
    assert_eq!(by_id("a3")["appointmentType"]["coding"][0]["code"], "IMP");
    let video = by_id("a4");
    assert_eq!(
        video["participant"].as_array().unwrap().len(),
        2,
        "no place for video"
    );
    assert!(
        video["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["valueCode"] == "Pending Reschedule"),
        "the PAS's own request status is sent"
    );
    assert_eq!(h.api.withheld_count(), 0);
}

#[tokio::test]
async fn each_request_gets_its_own_tracking_id() {
    let h = harness_with(demo_pas(), |_| {});
    let req = Request::builder()
        .uri("/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009")
        .header("authorization", "Bearer good")
        .header("x-correlation-id", "second-call")
        .header("x-request-id", "8b16ccfa-8e46-4ba5-bd04-ba9371c69db9")
        .header("nhsd-id-token", format!("{P1}|1985-09-07"))
        .body(Bytes::new())
        .unwrap();
    let resp = h.api.handle(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-correlation-id"], "second-call");
    let body = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(body.contains("trackingId=second-call"));
    assert!(!body.contains(CORR));
}

#[tokio::test]
async fn empty_and_excluded_patients_get_an_empty_bundle() {
    let mut pas = demo_pas();
    let mut flagged = pas.patients[&nhs(P1)].clone();
    flagged.0.portal_access = false;
    let h = harness_with(pas, |_| {});
    for p in [P2, "9726779057" /* unknown to the PAS */] {
        let born = if p == P2 { "1990-01-01" } else { "1980-01-01" };
        let resp = h.api.handle(for_patient(p, born)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let b = json(&resp);
        assert_eq!(b["total"], 0);
        assert!(b.get("entry").is_none(), "no empty arrays in FHIR JSON");
    }
    // Flagged as not allowed portal access (SRCBR1a), then restricted (SRCBR1b).
    for restricted in [false, true] {
        pas = demo_pas();
        let mut rec = flagged.clone();
        if restricted {
            rec.0.portal_access = true;
            rec.0.restricted = true;
        }
        pas.patients.insert(nhs(P1), rec);
        let h = harness_with(pas, |_| {});
        let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(json(&resp)["total"], 0, "restricted={restricted}");
    }
}

#[tokio::test]
async fn under_16_is_forbidden() {
    let h = harness_with(
        FakePas::default()
            .with(P1, "2010-03-11", vec![appointment(P1, "a1")])
            .with(P2, "2010-03-10", vec![appointment(P2, "b1")]),
        |_| {},
    );
    // Turns 16 tomorrow (UK date of `now`): refused.
    let resp = h.api.handle(for_patient(P1, "2010-03-11")).await;
    assert_outcome(&resp, 403, "forbidden", "UNDER_16_DENIED");
    assert_eq!(resp.headers()["x-correlation-id"], CORR);
    // Turns 16 today: served.
    let resp = h.api.handle(for_patient(P2, "2010-03-10")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json(&resp)["total"], 1);
}

#[test]
fn ages() {
    let cases = [
        ("2010-03-10", "2026-03-10", 16),
        ("2010-03-11", "2026-03-10", 15),
        ("2008-02-29", "2024-02-28", 15),
        ("2008-02-29", "2024-02-29", 16),
        ("2008-02-29", "2023-02-28", 14),
        ("2008-02-29", "2023-03-01", 15),
    ];
    for (born, today, want) in cases {
        assert_eq!(age_on(dob(born), dob(today)), want, "{born} {today}");
    }
}

#[tokio::test]
async fn identity_checks() {
    let h = harness_with(demo_pas(), |_| {});
    let q = format!("patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{P1}");
    let cases: Vec<(Option<String>, u16, &str)> = vec![
        (
            None,
            401,
            "missing or invalid NHSD-ID-Token: no NHSD-ID-Token",
        ),
        (
            Some("garbage".into()),
            401,
            "missing or invalid NHSD-ID-Token: ID token not valid",
        ),
        (
            Some(format!("{P2}|1985-09-07")),
            401,
            "the NHS number in the request does not match the NHS login ID token",
        ),
        (
            Some(format!("{P1}|1985-09-08")),
            401,
            "the date of birth in the NHS login ID token does not match the patient record",
        ),
        (
            Some("p5".into()),
            401,
            "missing or invalid NHSD-ID-Token: identity not verified to P9",
        ),
        (
            Some(format!("{P1}|")),
            401,
            "missing or invalid NHSD-ID-Token: no birthdate in ID token",
        ),
    ];
    for (token, status, diag) in cases {
        let mut b = request(&q);
        if let Some(t) = &token {
            b = b.header("nhsd-id-token", t);
        }
        let resp = h.api.handle(b.body(Bytes::new()).unwrap()).await;
        assert_outcome(&resp, status, "processing", diag);
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(
            !text.contains(P1) && !text.contains(P2),
            "no NHS numbers: {text}"
        );
    }
}

#[tokio::test]
async fn request_errors() {
    let h = harness_with(demo_pas(), |_| {});
    let tok = format!("{P1}|1985-09-07");
    let missing = "\"patient:identifier\" is required";
    let invalid = ApiError::InvalidNhsNumber.diagnostics();
    let cases: Vec<(&str, u16, &str, String)> = vec![
        ("", 400, "exception", missing.into()),
        ("patient:identifier=", 400, "exception", missing.into()),
        ("patient=9000000009", 400, "exception", missing.into()),
        (
            "patient:identifier=https://fhir.nhs.uk/Id/nhs-number",
            400,
            "exception",
            invalid.clone(),
        ),
        (
            "patient:identifier=9000000009",
            400,
            "exception",
            invalid.clone(),
        ),
        (
            "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000001",
            400,
            "exception",
            invalid.clone(),
        ),
        (
            "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|0000000000",
            400,
            "exception",
            invalid.clone(),
        ),
        (
            "patient:identifier=http://fhir.nhs.uk/Id/nhs-number|9000000009",
            400,
            "exception",
            invalid.clone(),
        ),
        (
            "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009",
            400,
            "exception",
            invalid.clone(),
        ),
    ];
    for (q, status, code, diag) in cases {
        let req = request(q)
            .header("nhsd-id-token", &tok)
            .body(Bytes::new())
            .unwrap();
        let resp = h.api.handle(req).await;
        assert_outcome(&resp, status, code, &diag);
        assert_eq!(resp.headers()["x-correlation-id"], CORR, "{q}");
    }
    // No X-Correlation-ID: 400 and nothing to echo.
    let req = Request::builder()
        .uri(format!(
            "/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{P1}"
        ))
        .header("authorization", "Bearer good")
        .header("nhsd-id-token", &tok)
        .body(Bytes::new())
        .unwrap();
    let resp = h.api.handle(req).await;
    assert_outcome(
        &resp,
        400,
        "exception",
        "the X-Correlation-ID header is required",
    );
    assert!(resp.headers().get("x-correlation-id").is_none());
    // Wrong method and path.
    let req = Request::builder()
        .method("POST")
        .uri("/fhir/Appointment")
        .header("x-correlation-id", CORR)
        .body(Bytes::new())
        .unwrap();
    let resp = h.api.handle(req).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET");
    let req = Request::builder()
        .uri("/fhir/Patient")
        .header("x-correlation-id", CORR)
        .body(Bytes::new())
        .unwrap();
    assert_eq!(h.api.handle(req).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bearer_is_required() {
    let h = harness_with(demo_pas(), |_| {});
    let q = format!("/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{P1}");
    for auth in [
        None,
        Some("Bearer bad"),
        Some("Basic good"),
        Some("Bearer "),
    ] {
        let mut b = Request::builder()
            .uri(&q)
            .header("x-correlation-id", CORR)
            .header("nhsd-id-token", format!("{P1}|1985-09-07"));
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let resp = h.api.handle(b.body(Bytes::new()).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body = json(&resp);
        assert_eq!(body["issue"][0]["code"], "processing");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["code"],
            "ACCESS_DENIED"
        );
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn target_identifier_only_when_enabled() {
    // The spec's own example value (with its no-break spaces).
    let spec_example = "ewrCoCDCoCAic3lzdGVtIjogInVybjppZXRmOnJmYzozOTg2IiwKwqAgwqAgInZhbHVlIjogImRiNzE2OThiLWNkN2MtNGRkNS05NWM0LTBhYTk3NzY1OTVmNSIKfQ==";
    assert!(target_identifier_matches(
        spec_example,
        SPEC_TARGET_IDENTIFIER
    ));
    let wrong = base64::engine::general_purpose::STANDARD
        .encode(r#"{"system":"urn:ietf:rfc:3986","value":"00000000-0000-0000-0000-000000000000"}"#);
    let off = harness_with(demo_pas(), |_| {});
    let on = harness_with(demo_pas(), |c| {
        c.target_identifier = Some(SPEC_TARGET_IDENTIFIER.into())
    });
    for (h, header, want) in [
        (&off, None, 200),
        (&off, Some(wrong.as_str()), 200),
        (&on, None, 404),
        (&on, Some(wrong.as_str()), 404),
        (&on, Some("not base64!"), 404),
        (&on, Some(spec_example), 200),
    ] {
        let mut req = for_patient(P1, "1985-09-07");
        if let Some(v) = header {
            req.headers_mut()
                .insert(TARGET_IDENTIFIER_HEADER, HeaderValue::from_str(v).unwrap());
        }
        let resp = h.api.handle(req).await;
        assert_eq!(resp.status().as_u16(), want, "{header:?}");
        if want == 404 {
            assert_outcome(&resp, 404, "not-found", "NOT_FOUND");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_answers_429() {
    let h = harness_with(demo_pas(), |_| {});
    for i in 0..60 {
        let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
    }
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_outcome(&resp, 429, "exception", "Too Many Requests");
    assert_eq!(resp.headers()["x-correlation-id"], CORR);
    tokio::time::advance(Duration::from_millis(20)).await;
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn four_instances_each_hold_a_quarter_of_the_limit() {
    let h = harness_with(demo_pas(), |c| {
        c.instances = std::num::NonZeroU32::new(4).unwrap();
    });
    for i in 0..15 {
        let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
    }
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_outcome(&resp, 429, "exception", "Too Many Requests");
}

#[tokio::test(start_paused = true)]
async fn the_limit_is_per_authenticated_client_and_after_the_bearer_check() {
    let h = harness_with(demo_pas(), |c| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 2;
    });
    let with_bearer = |bearer: &str| {
        let mut req = for_patient(P1, "1985-09-07");
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {bearer}")).unwrap(),
        );
        req
    };
    // A flood without a valid token: every one refused, none spends the PCA's budget.
    for _ in 0..50 {
        let resp = h.api.handle(with_bearer("forged")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        h.api.handle(with_bearer("good")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        h.api.handle(with_bearer("good")).await.status(),
        StatusCode::OK
    );
    let resp = h.api.handle(with_bearer("good")).await;
    assert_outcome(&resp, 429, "exception", "Too Many Requests");
    // Another client has its own budget.
    let resp = h.api.handle(with_bearer("other-client")).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn maintenance_toggles_at_run_time() {
    let h = harness_with(demo_pas(), |_| {});
    h.api.set_maintenance(true);
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_outcome(
        &resp,
        503,
        "transient",
        "Service Unavailable: planned maintenance",
    );
    h.api.set_maintenance(false);
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = harness_with(demo_pas(), |c| c.maintenance = true);
    assert!(h.api.in_maintenance());
}

#[tokio::test(start_paused = true)]
async fn slow_pas_gives_504_after_nine_seconds() {
    let mut pas = demo_pas();
    pas.delay = Some(Duration::from_secs(10));
    let h = harness_with(pas, |_| {});
    let started = tokio::time::Instant::now();
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_outcome(&resp, 504, "exception", "Gateway Timeout");
    assert_eq!(resp.headers()["x-correlation-id"], CORR);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(9),
        "the default budget"
    );

    // Just within the budget: answered.
    let mut pas = demo_pas();
    pas.delay = Some(Duration::from_millis(8_900));
    let h = harness_with(pas, |_| {});
    assert_eq!(
        h.api.handle(for_patient(P1, "1985-09-07")).await.status(),
        200
    );
}

#[tokio::test]
async fn pas_down_is_503() {
    let mut pas = demo_pas();
    pas.down = true;
    let h = harness_with(pas, |_| {});
    let resp = h.api.handle(for_patient(P1, "1985-09-07")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

fn pending(appointment: &str, kind: RequestKind) -> PatientRequest {
    PatientRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        appointment: AppointmentId::parse(appointment).unwrap(),
        patient: nhs(P1),
        ods_code: OdsCode::parse("RFF").unwrap(),
        kind,
        reason: "no-longer-needed".into(),
        details: None,
        state: RequestState::Pending,
        created_at: now(),
        resolved_at: None,
        resolution_note: None,
    }
}

fn request_status_of(bundle: &Value, id: &str) -> Option<String> {
    bundle["entry"]
        .as_array()?
        .iter()
        .find(|e| e["resource"]["id"] == id)?["resource"]["extension"]
        .as_array()?
        .iter()
        .find(|x| x["url"] == nhs_portal_core::appointment::REQUEST_STATUS_EXTENSION)
        .map(|x| x["valueCode"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_patients_request_shows_on_the_next_call() {
    let h = harness_with(demo_pas(), |_| {});
    let before = json(&h.api.handle(for_patient(P1, "1985-09-07")).await);
    assert_eq!(request_status_of(&before, "a1"), None);
    assert_eq!(
        request_status_of(&before, "a4").as_deref(),
        Some("Pending Reschedule")
    );

    let audit = AuditRecord {
        at: now(),
        patient: nhs(P1),
        actor: "patient".into(),
        session: None,
        action: AuditAction::CancelRequested,
        appointment: None,
        detail: None,
    };
    for (appt, kind) in [("a1", RequestKind::Cancel), ("a4", RequestKind::Cancel)] {
        h.store
            .submit_request(&(&pending(appt, kind)).into(), &audit, &[])
            .await
            .unwrap();
    }
    let after = json(&h.api.handle(for_patient(P1, "1985-09-07")).await);
    assert_eq!(
        request_status_of(&after, "a1").as_deref(),
        Some("Pending Cancellation")
    );
    assert_eq!(
        request_status_of(&after, "a4").as_deref(),
        Some("Pending Cancellation"),
        "the store's pending request wins over the PAS's own"
    );
    assert_eq!(request_status_of(&after, "a2"), None);
}

#[tokio::test]
async fn guard_withholds_bad_appointments_and_counts_them() {
    let mut no_place = appointment(P1, "bad-1");
    no_place.location = None;
    let other_patient = appointment(P2, "bad-2");
    let mut blank = appointment(P1, "bad-3");
    blank.description = "  ".into();
    let pas = FakePas::default().with(
        P1,
        "1985-09-07",
        vec![appointment(P1, "good-1"), no_place, other_patient, blank],
    );
    let h = harness_with(pas, |_| {});
    let b = json(&h.api.handle(for_patient(P1, "1985-09-07")).await);
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["id"], "good-1");
    assert_eq!(h.api.withheld_count(), 3);
    let b = json(&h.api.handle(for_patient(P1, "1985-09-07")).await);
    assert_eq!(b["total"], 1);
    assert_eq!(h.api.withheld_count(), 6);
}

// --- the default bearer validator, with real RSA keys -------------------------------------

mod jwt {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    pub(crate) fn rsa_key() -> EncodingKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
    }

    pub(crate) fn jwks(key: &EncodingKey, kid: &str) -> String {
        let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS512).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap()
    }

    fn token(key: &EncodingKey, kid: &str, alg: Algorithm, claims: Value) -> String {
        let mut h = Header::new(alg);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims, key).unwrap()
    }

    fn claims(iss: &str, aud: &str, exp_offset: i64) -> Value {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        serde_json::json!({"iss": iss, "aud": aud, "exp": now + exp_offset, "iat": now, "client_id": "pca-client"})
    }

    #[tokio::test]
    async fn jwks_validator_table() {
        let key = rsa_key();
        let other = rsa_key();
        let v = JwksBearerValidator::from_jwks_json(
            &jwks(&key, "k1"),
            "https://auth.example",
            ["portal-api"],
        )
        .unwrap();
        let ok = token(
            &key,
            "k1",
            Algorithm::RS512,
            claims("https://auth.example", "portal-api", 300),
        );
        assert_eq!(
            v.validate(&ok).await,
            Ok(Caller {
                client_id: Some("pca-client".into())
            })
        );
        let hmac = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("https://auth.example", "portal-api", 300),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        let cases = [
            (
                token(
                    &key,
                    "k1",
                    Algorithm::RS512,
                    claims("https://evil.example", "portal-api", 300),
                ),
                BearerError::Invalid,
            ),
            (
                token(
                    &key,
                    "k1",
                    Algorithm::RS512,
                    claims("https://auth.example", "other-api", 300),
                ),
                BearerError::Invalid,
            ),
            (
                token(
                    &key,
                    "k1",
                    Algorithm::RS512,
                    claims("https://auth.example", "portal-api", -3600),
                ),
                BearerError::Invalid,
            ),
            (
                token(
                    &other,
                    "k1",
                    Algorithm::RS512,
                    claims("https://auth.example", "portal-api", 300),
                ),
                BearerError::Invalid,
            ),
            (
                token(
                    &key,
                    "k2",
                    Algorithm::RS512,
                    claims("https://auth.example", "portal-api", 300),
                ),
                BearerError::UnknownKey,
            ),
            (hmac, BearerError::Malformed),
            ("not.a.jwt".to_owned(), BearerError::Malformed),
        ];
        for (t, want) in cases {
            assert_eq!(v.validate(&t).await, Err(want.clone()), "{want:?}");
        }
    }

    /// Serves one fixed HTTP response to every connection (a JWKS endpoint stand-in).
    async fn serve_once_forever(body: String) -> (String, Arc<Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                *counter.lock().unwrap() += 1;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        (format!("http://{addr}/jwks"), hits)
    }

    #[tokio::test]
    async fn fetched_jwks_is_cached() {
        let key = rsa_key();
        let (url, hits) = serve_once_forever(jwks(&key, "k1")).await;
        let v = JwksBearerValidator::from_jwks_url(
            url,
            "https://auth.example",
            ["portal-api"],
            reqwest::Client::new(),
        );
        let ok = token(
            &key,
            "k1",
            Algorithm::RS512,
            claims("https://auth.example", "portal-api", 300),
        );
        for _ in 0..3 {
            assert!(v.validate(&ok).await.is_ok());
        }
        assert_eq!(*hits.lock().unwrap(), 1, "fetched once, then cached");
        let unknown = token(
            &key,
            "k9",
            Algorithm::RS512,
            claims("https://auth.example", "portal-api", 300),
        );
        assert_eq!(v.validate(&unknown).await, Err(BearerError::UnknownKey));
        assert_eq!(
            *hits.lock().unwrap(),
            1,
            "no refetch storm for unknown kids"
        );
    }

    #[tokio::test]
    async fn unreachable_jwks() {
        let v = JwksBearerValidator::from_jwks_url(
            "http://127.0.0.1:9/jwks",
            "https://auth.example",
            ["portal-api"],
            reqwest::Client::new(),
        );
        let key = rsa_key();
        let t = token(
            &key,
            "k1",
            Algorithm::RS512,
            claims("https://auth.example", "portal-api", 300),
        );
        assert_eq!(v.validate(&t).await, Err(BearerError::KeysUnavailable));
    }
}

#[test]
fn pas_errors_become_the_pcas_outcomes_table() {
    let cases = [
        (PasError::Timeout, ApiError::Timeout),
        (PasError::Unavailable("down".into()), ApiError::Unavailable),
        (
            PasError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(1)),
            },
            ApiError::Unavailable,
        ),
        (
            PasError::Unauthorised("HTTP 401".into()),
            ApiError::Unavailable,
        ),
        (
            PasError::Forbidden("HTTP 403".into()),
            ApiError::Unavailable,
        ),
        (PasError::BadData("x".into()), ApiError::Internal),
        (
            PasError::BusinessRule { text: "no".into() },
            ApiError::Internal,
        ),
    ];
    for (e, want) in cases {
        let shown = format!("{e:?}");
        assert_eq!(pas_error(e), want, "{shown}");
    }
}
