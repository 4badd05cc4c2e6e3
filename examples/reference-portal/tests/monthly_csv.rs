//! `nhs-portal-example --monthly-csv YYYY-MM` on demo data: the running binary is used the way
//! the NHS App's deep links use it (single sign-on jump-offs to appointments at both demo trusts
//! and an admission), stopped, and the command then writes that month's aggregated CSV from the
//! same store: exactly the counts those journeys make, and no identifier of any kind.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use nhs_portal_pas::demo;
use nhs_portal_reporting::monthly_csv::Month;

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

/// A browser without a cookie store of its own: keeps cookies by name and follows redirects.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    /// `GET url`, following up to ten redirects; the final status.
    async fn open(&mut self, url: &str) -> u16 {
        let mut at = url::Url::parse(url).unwrap();
        for _ in 0..10 {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let res = self
                .http
                .get(at.clone())
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            for set in res.headers().get_all("set-cookie") {
                let set = set.to_str().unwrap();
                let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() || attrs.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies.insert(name.trim().into(), value.into());
                }
            }
            match res.headers().get("location") {
                Some(next) if res.status().is_redirection() => {
                    at = at.join(next.to_str().unwrap()).unwrap();
                }
                _ => return res.status().as_u16(),
            }
        }
        panic!("more than ten redirects from {url}");
    }
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
        assert_eq!(adult.open(&jump_off(&base, demo::ADULT, key)).await, 200);
    }
    let mut second = Browser::new();
    let admission = "second/r9n/orthopaedics-admission";
    let page = jump_off(&base, demo::SECOND_ADULT, admission);
    assert_eq!(second.open(&page).await, 200);
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
