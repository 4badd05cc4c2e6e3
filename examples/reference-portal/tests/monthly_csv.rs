//! `nhs-portal-example --monthly-csv YYYY-MM` on demo data: the running binary is used the way
//! the NHS App's deep links use it (single sign-on jump-offs to appointments at both demo trusts
//! and an admission), stopped, and the command then writes that month's aggregated CSV from the
//! same store: exactly the counts those journeys make, and no identifier of any kind.

mod common;

use std::process::Command;

use nhs_portal_pas::demo;
use nhs_portal_reporting::monthly_csv::Month;
use nhs_portal_tests::browser::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

/// The binary with only `env` of the portal's variables (none inherited).
fn command(env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NHS_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd
}

/// The NHS App simulator's jump-off to `key` for `patient`.
fn jump_off(base: &str, patient: &str, key: &str) -> String {
    let link = format!(
        "{base}/patient-portal/appointment/{}?extSystemName=Demo&trackingId={}",
        demo::appointment_id(key),
        uuid::Uuid::new_v4()
    );
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("nhs_number", patient)
        .append_pair("link", &link)
        .finish();
    format!("{base}/nhs-app-simulator/open?{q}")
}

#[tokio::test]
async fn the_monthly_csv_of_demo_journeys_counts_them_without_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.sqlite3").display()
    );
    let store = [("NHS_PORTAL_DATABASE_URL", db)];
    let mut serve = command(&store);
    serve
        .env("NHS_PORTAL_ADDR", "127.0.0.1:0")
        .current_dir(dir.path());
    let portal = common::spawn(serve, Vec::new());
    let base = portal.base_url.clone();
    let mut adult = Browser::new();
    for key in [
        demo::KEY_ADULT_DERMATOLOGY,
        demo::KEY_ADULT_REQUEST_ONLY_BOOKED,
    ] {
        assert_eq!(
            adult
                .get_following(&jump_off(&base, demo::ADULT, key))
                .await
                .status,
            200
        );
    }
    let mut second = Browser::new();
    let admission = "second/r9n/orthopaedics-admission";
    let page = jump_off(&base, demo::SECOND_ADULT, admission);
    assert_eq!(second.get_following(&page).await.status, 200);
    drop(portal);

    let month = Month::of(chrono::Utc::now()).to_string();
    let out = command(&store)
        .args(["--monthly-csv", &month])
        .output()
        .unwrap();
    let (csv, progress) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{csv}{progress}");
    let (rt, ro) = (demo::REAL_TIME_TRUST_ODS, demo::REQUEST_ONLY_TRUST_ODS);
    assert_eq!(
        csv,
        format!(
            "Month,ODSCode,EventCode,Outcome,Count\n\
             {month},,SESSION,success,2\n\
             {month},{ro},APPT,booked,1\n\
             {month},{ro},APPT-VIEW,,1\n\
             {month},{rt},ADMISSION,booked,1\n\
             {month},{rt},ADMISSION-VIEW,,1\n\
             {month},{rt},APPT,booked,1\n\
             {month},{rt},APPT-VIEW,,1\n"
        ),
        "{progress}"
    );
    assert!(progress.contains("8 events read"), "{progress}");
    for secret in [
        demo::ADULT,
        demo::SECOND_ADULT,
        &demo::appointment_id(admission).to_string(),
    ] {
        assert!(!csv.contains(secret), "{secret} in {csv}");
    }

    // A month that is not YYYY-MM is named, and nothing is written.
    let bad = command(&store)
        .args(["--monthly-csv", "2026-13"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--monthly-csv"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
