//! No patient data in any log line (WF-NFR-11), and every line of a PCA request names its
//! correlation id (WF-NFR-09): the binary is run with JSON logs, at `info` and at `debug`,
//! through a full demo run (sign-in, view, cancel and reschedule at the real-time trust,
//! requests at the request-only trust with free text typed, the PCA API, a staff sign-in,
//! errors), stopped with SIGTERM, and every line it wrote is read: each must be JSON and hold
//! no demo patient's NHS number (with or without spaces), name or date of birth (in any common
//! format), no reason text typed and no JWT. (The demo patients have no addresses, so there is
//! no postcode of theirs to look for.)

mod common;

use std::process::Command;
use std::time::Duration;

use nhs_portal_pas::demo;
use nhs_portal_tests::browser::{Browser, Page};
use nhs_portal_tests::{get_appointments_uri, input_value};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");
/// Free text a patient types (the reschedule request's details).
const TYPED: &str = "Mornings are hard for Zebedee";
const STAFF_CODE: &str = "log-privacy-staff-code";
/// The PCA call's correlation id.
const PCA_CORRELATION: &str = "pca-log-privacy-1";

/// The binary in demo mode with JSON logs at `level`, its standard error into a file.
fn start(
    level: &str,
    dir: &tempfile::TempDir,
) -> (nhs_portal_tests::live::PortalProcess, std::path::PathBuf) {
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("p.sqlite3").display()
    );
    let log = dir.path().join("log.jsonl");
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NHS_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", level)
        .env("NHS_PORTAL_ADDR", "127.0.0.1:0")
        .env("NHS_PORTAL_DATABASE_URL", db)
        .env("NHS_PORTAL_LOG_FORMAT", "json")
        .env("NHS_PORTAL_STAFF_CODE", STAFF_CODE)
        .current_dir(dir.path());
    let file = std::fs::File::create(&log).unwrap();
    (nhs_portal_tests::live::spawn_portal_logging(cmd, file), log)
}

async fn sign_in(b: &mut Browser, base: &str, patient: &str) -> Page {
    let page = b
        .get_following(&format!("{base}/patient-portal/appointments"))
        .await;
    let page = b
        .submit(&page, &[("nhs_number", patient), ("decision", "allow")])
        .await;
    assert_eq!(
        page.status, 200,
        "signed in as a demo patient: {}",
        page.url
    );
    page
}

/// The action of the form on `page` holding the field `name` (the header's sign-out form
/// comes first on every signed-in page).
fn action_of_form_with(page: &Page, name: &str) -> String {
    let at = page
        .body
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} on {}", page.url));
    let form = page.body[..at].rfind("<form").expect("a form");
    let action = nhs_portal_tests::form_action(&page.body[form..]).unwrap_or_default();
    page.url.join(&action).expect("an action").to_string()
}

/// Posts `fields` and the page's CSRF token to the form holding `name`, following redirects.
async fn post_to_form_with(
    b: &mut Browser,
    page: &Page,
    name: &str,
    fields: &[(&str, &str)],
) -> Page {
    let action = action_of_form_with(page, name);
    let csrf = nhs_portal_tests::csrf_token(&page.body).expect("a CSRF token");
    let mut form = fields.to_vec();
    form.push(("csrf_token", &csrf));
    let res = b.post_form(&action, &form).await;
    b.follow(res).await
}

/// Answers the cancel journey's question on `page` with "No, I no longer need it"; returns the
/// reasons form it leads to.
async fn still_not_needed(b: &mut Browser, page: &Page) -> Page {
    let next = post_to_form_with(
        b,
        page,
        "still_needed",
        &[("still_needed", "no-longer-needed")],
    )
    .await;
    assert_eq!(
        next.status, 200,
        "the reasons after the question: {}",
        next.url
    );
    next
}

/// A change journey on the appointment `key`: its first step with `answers` (the first slot
/// offered, for a reschedule), then the check page's confirmation. Returns the page it ends on.
async fn change(
    b: &mut Browser,
    base: &str,
    key: &str,
    step: &str,
    answers: &[(&str, &str)],
) -> Page {
    let url = format!(
        "{base}/patient-portal/appointment/{}/{step}",
        demo::appointment_id(key)
    );
    let mut first = b.get_following(&url).await;
    assert_eq!(first.status, 200, "{url}");
    if step == "cancel" {
        // "Do you still need this appointment?" first.
        first = still_not_needed(b, &first).await;
    }
    let slot = input_value(&first.body, "slot");
    let mut form = answers.to_vec();
    let field = match (step, &slot) {
        ("reschedule", Some(slot)) => {
            form.push(("slot", slot));
            "slot"
        }
        _ => "reason",
    };
    let check = post_to_form_with(b, &first, field, &form).await;
    assert_eq!(
        check.status, 200,
        "the check page after {url}: {}",
        check.url
    );
    let key_value = input_value(&check.body, "idempotency_key").expect("an idempotency key");
    let mut confirm = vec![("idempotency_key", key_value.as_str())];
    let slot_value = input_value(&check.body, "slot");
    if let Some(s) = &slot_value {
        confirm.push(("slot", s.as_str()));
    }
    let done = post_to_form_with(b, &check, "idempotency_key", &confirm).await;
    assert_eq!(done.status, 200, "done after {url}: {}", done.url);
    done
}

/// The whole run; returns the base URL's PCA correlation ids used.
async fn full_run(base: &str) {
    let mut adult = Browser::new();
    sign_in(&mut adult, base, demo::ADULT).await;
    // View.
    let view = adult
        .get(&format!(
            "{base}/patient-portal/appointment/{}",
            demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY)
        ))
        .await;
    assert_eq!(view.status, 200);
    // Cancel and reschedule at the real-time trust, a cancellation request at the other.
    change(
        &mut adult,
        base,
        demo::KEY_ADULT_TELEPHONE,
        "cancel",
        &[("reason", "no-transport")],
    )
    .await;
    change(
        &mut adult,
        base,
        demo::KEY_ADULT_DERMATOLOGY,
        "reschedule",
        &[],
    )
    .await;
    change(
        &mut adult,
        base,
        demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
        "cancel",
        &[("reason", "no-transport")],
    )
    .await;
    // Errors: an unknown appointment, a bad form (no reason), a forged CSRF token.
    let unknown = adult
        .get(&format!(
            "{base}/patient-portal/appointment/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.location);
    let video = format!(
        "{base}/patient-portal/appointment/{}/cancel",
        demo::appointment_id(demo::KEY_ADULT_VIDEO)
    );
    let form = adult.get_following(&video).await;
    let form = still_not_needed(&mut adult, &form).await;
    let bad = post_to_form_with(&mut adult, &form, "reason", &[("reason", "not-a-reason")]).await;
    assert!(bad.status.is_client_error(), "a bad reason: {}", bad.status);
    let forged = adult
        .post_form(
            &video,
            &[("reason", "no-transport"), ("csrf_token", "forged")],
        )
        .await;
    assert!(
        forged.status.is_client_error(),
        "a forged token: {}",
        forged.status
    );

    // The second patient asks to reschedule at the request-only trust, typing a reason.
    let mut second = Browser::new();
    sign_in(&mut second, base, demo::SECOND_ADULT).await;
    change(
        &mut second,
        base,
        "second/r9e/gynaecology",
        "reschedule",
        &[("reason", "commitments"), ("details", TYPED)],
    )
    .await;

    // The PCA: a token, the NHS App's ID token, then Get Appointments; and a call without
    // a correlation id, refused.
    let http = reqwest::Client::new();
    let (bearer, id_token) = common::pca_tokens(base, demo::ADULT).await;
    let url = format!("{base}{}", get_appointments_uri(demo::ADULT));
    let res = http
        .get(&url)
        .bearer_auth(&bearer)
        .header("x-correlation-id", PCA_CORRELATION)
        .header("nhsd-id-token", &id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-correlation-id"], PCA_CORRELATION);
    let res = http
        .get(&url)
        .bearer_auth(&bearer)
        .header("nhsd-id-token", &id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "no X-Correlation-ID");

    // A staff sign-in (the demo's access code) and the worklist.
    let mut staff = Browser::new();
    let page = staff.get_following(&format!("{base}/staff")).await;
    let list = staff
        .submit(&page, &[("name", "Sam Staff"), ("code", STAFF_CODE)])
        .await;
    assert_eq!(list.status, 200, "the worklist: {}", list.url);
}

/// What no line may hold.
fn forbidden() -> Vec<String> {
    let mut out = vec![TYPED.to_owned(), "Mornings are hard".to_owned()];
    for p in demo::patients(chrono::Utc::now()) {
        let n = p.record.nhs_number.as_str().to_owned();
        out.push(format!("{} {} {}", &n[..3], &n[3..6], &n[6..]));
        out.push(n);
        out.push(p.given_name.clone());
        out.push(p.family_name.clone());
        for dob in [p.record.date_of_birth, p.nhs_login_dob()] {
            for f in [
                "%Y-%m-%d",
                "%d/%m/%Y",
                "%-d %B %Y",
                "%d %B %Y",
                "%-d %b %Y",
                "%Y%m%d",
                "%d-%m-%Y",
            ] {
                out.push(dob.format(f).to_string());
            }
        }
    }
    out
}

/// A JWT: three base64url parts joined by dots, the first a JSON header (`eyJ`).
fn has_jwt(line: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .any(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() == 3 && parts[0].starts_with("eyJ") && parts.iter().all(|p| p.len() >= 4)
        })
}

/// The correlation ids of a line's spans.
fn correlation_ids(line: &Value) -> Vec<String> {
    line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["correlation_id"].as_str().map(str::to_owned))
        .collect()
}

async fn run_at(level: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut portal, log) = start(level, &dir);
    full_run(&portal.base_url.clone()).await;
    portal.terminate();
    assert!(
        portal.wait_exit(Duration::from_secs(15)).is_some(),
        "it stops on SIGTERM"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 3,
        "{level}: a banner, the PCA calls and the stop: {text}"
    );
    let forbidden = forbidden();
    let mut pca_lines = 0;
    for line in &lines {
        let json: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{level}: not a JSON line ({e}): {line}"));
        for secret in &forbidden {
            assert!(
                !line.contains(secret.as_str()),
                "{level}: {secret:?} logged: {line}"
            );
        }
        assert!(!has_jwt(line), "{level}: a JWT logged: {line}");
        if json["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("nhs_portal_web::fhir_api"))
        {
            let ids = correlation_ids(&json);
            assert!(
                !ids.is_empty(),
                "{level}: a PCA line without its correlation id: {line}"
            );
            if ids.iter().any(|i| i == PCA_CORRELATION) {
                pca_lines += 1;
            }
        }
    }
    assert!(
        pca_lines >= 1,
        "{level}: the PCA call was logged under its id: {text}"
    );
}

#[tokio::test]
async fn no_log_line_of_a_full_run_holds_patient_data_and_pca_lines_carry_their_id() {
    run_at("info").await;
    run_at("debug").await;
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert!(has_jwt(
        r#"{"x":"eyJhbGciOiJSUzUxMiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}"#
    ));
    assert!(!has_jwt(
        r#"{"target":"nhs_portal_web::fhir_api","v":"1.2.3"}"#
    ));
    assert!(forbidden().iter().any(|f| f == "900 000 0009"));
}
