//! A Medplum FHIR server (test peer) seeded with the demo data, shared by the FhirPas
//! integration tests and the latency example.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use nhs_portal_core::AppointmentId;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::nhs_number::NHS_NUMBER_SYSTEM;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_pas::fhir::{FhirPas, FhirPasConfig, PORTAL_ACCESS_EXTENSION, map};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

#[derive(Debug)]
pub struct Medplum {
    _child: Child,
    pub base: Url,
    http: reqwest::Client,
    pub data: DemoData,
    /// Demo appointment id → the id the FHIR server gave it.
    pub ids: HashMap<AppointmentId, AppointmentId>,
}

pub fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/node/medplum")
}

pub async fn start() -> Medplum {
    let dir = peer_dir();
    assert!(
        dir.join("node_modules/@medplum/fhir-router").exists(),
        "the Medplum test peer is not installed: run `bash scripts/setup-node` \
         first"
    );
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(StdDuration::from_secs(120), lines.next_line())
        .await
        .expect("the Medplum peer started in time")
        .expect("read stdout")
        .expect("a line");
    let port: u16 = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let base = Url::parse(&format!("http://127.0.0.1:{port}/fhir/")).unwrap();
    let mut m = Medplum {
        _child: child,
        base,
        http: reqwest::Client::new(),
        data: DemoData::build(Utc::now()),
        ids: HashMap::new(),
    };
    m.seed().await;
    m
}

impl Medplum {
    pub async fn post(&self, resource: Value) -> Value {
        let kind = resource["resourceType"].as_str().unwrap().to_owned();
        let res = self
            .http
            .post(self.base.join(&kind).unwrap())
            .header("content-type", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "create {kind}");
        res.json().await.unwrap()
    }

    pub async fn read(&self, path: &str) -> Value {
        self.http
            .get(self.base.join(path).unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A staff member's edit made directly in the PAS (no If-Match: the PAS's own UI).
    pub async fn staff_edit(&self, path: &str, edit: impl FnOnce(&mut Value)) {
        let mut r = self.read(path).await;
        edit(&mut r);
        let res = self
            .http
            .put(self.base.join(path).unwrap())
            .header("content-type", "application/fhir+json")
            .body(r.to_string())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "staff edit {path}");
    }

    pub async fn faults(&self, plan: Value) {
        let url = self.base.join("/_test/faults").unwrap();
        let res = self
            .http
            .post(url)
            .body(plan.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 204);
    }

    async fn seed(&mut self) {
        let mut patient_refs = HashMap::new();
        for p in &self.data.patients {
            let mut r = json!({
                "resourceType": "Patient",
                "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": p.record.nhs_number.as_str()}],
                "name": [{"given": [p.given_name], "family": p.family_name}],
                "birthDate": p.record.date_of_birth.to_string(),
            });
            if p.record.restricted {
                r["meta"] = json!({"security": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]});
            }
            if !p.record.portal_access {
                r["extension"] = json!([{"url": PORTAL_ACCESS_EXTENSION, "valueBoolean": false}]);
            }
            let created = self.post(r).await;
            patient_refs.insert(
                p.record.nhs_number.clone(),
                format!("Patient/{}", created["id"].as_str().unwrap()),
            );
        }
        // One schedule per specialty at the real-time trust, holding the demo's free slots
        // for the next four weeks.
        let mut schedules: HashMap<String, String> = HashMap::new();
        for s in &self.data.slots {
            if s.slot.start > self.data.now + Duration::days(28) {
                continue;
            }
            let code = s.specialty.as_str().to_owned();
            if !schedules.contains_key(&code) {
                let created = self
                    .post(json!({
                        "resourceType": "Schedule",
                        "active": true,
                        "actor": [{"display": format!("{} clinic", code)}],
                        "specialty": [{"coding": [{"system": nhs_portal_core::ids::SPECIALTY_SYSTEM, "code": code}]}],
                    }))
                    .await;
                schedules.insert(
                    code.clone(),
                    format!("Schedule/{}", created["id"].as_str().unwrap()),
                );
            }
            self.post(json!({
                "resourceType": "Slot",
                "schedule": {"reference": schedules[&code]},
                "status": "free",
                "start": map::format_instant(s.slot.start),
                "end": map::format_instant(s.slot.end),
                "specialty": [{"coding": [{"system": nhs_portal_core::ids::SPECIALTY_SYSTEM, "code": code}]}],
            }))
            .await;
        }
        for a in &self.data.appointments {
            let mut body = map::appointment_to_fhir(a, Some(&patient_refs[&a.patient]));
            if let Some(c) = &a.contact {
                // The PAS's own line, as a FHIR PAS sends it: a HealthcareService the
                // appointment names, whose hours read as the demo's words.
                let service = self
                    .post(json!({
                        "resourceType": "HealthcareService",
                        "active": true,
                        "name": format!("{} clinic", a.specialty.display),
                        "telecom": [{"system": "phone", "value": c.phone, "use": "work"}],
                        "availableTime": [
                            {"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
                             "availableStartTime": "08:00:00", "availableEndTime": "17:00:00"},
                            {"daysOfWeek": ["sat"],
                             "availableStartTime": "09:00:00", "availableEndTime": "12:00:00"},
                        ],
                    }))
                    .await;
                let reference = format!("HealthcareService/{}", service["id"].as_str().unwrap());
                body["participant"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"actor": {"reference": reference}, "status": "accepted"}));
            }
            let created = self.post(body).await;
            let id = AppointmentId::parse(created["id"].as_str().unwrap()).unwrap();
            self.ids.insert(a.id.clone(), id);
        }
    }

    pub fn id(&self, key: &str) -> AppointmentId {
        self.ids[&demo::appointment_id(key)].clone()
    }

    pub fn pas(&self, ods: &str, capabilities: Capabilities) -> FhirPas {
        let org = if ods == demo::REAL_TIME_TRUST_ODS {
            demo::real_time_trust()
        } else {
            demo::request_only_trust()
        };
        let mut cfg = FhirPasConfig::new(self.base.clone(), org, capabilities);
        cfg.retry_delay = StdDuration::from_millis(20);
        FhirPas::new(cfg, Arc::new(SystemClock)).unwrap()
    }

    pub fn real_time(&self) -> FhirPas {
        self.pas(demo::REAL_TIME_TRUST_ODS, Capabilities::REAL_TIME)
    }
}
