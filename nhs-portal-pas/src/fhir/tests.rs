use std::time::Duration;

use super::*;

#[test]
fn config_from_the_environment_table() {
    let base = [
        ("NHS_PORTAL_FHIR_PAS_URL", "https://pas.example/fhir/"),
        ("NHS_PORTAL_FHIR_PAS_ODS", "r9n"),
        ("NHS_PORTAL_FHIR_PAS_TRUST_NAME", "Northfield"),
    ];
    let run = |extra: &[(&'static str, &'static str)], drop: &[&str]| {
        let vars: Vec<(&str, &str)> = base
            .iter()
            .chain(extra.iter())
            .filter(|(k, _)| !drop.contains(k))
            .copied()
            .collect();
        FhirPasConfig::from_lookup(|k| {
            vars.iter()
                .rev()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let cfg = run(&[], &[]).unwrap().unwrap();
    assert_eq!(cfg.capabilities, Capabilities::REQUEST_ONLY);
    assert_eq!(cfg.organisation.ods_code.as_str(), "R9N");
    assert_eq!(cfg.timeout, Duration::from_secs(5));
    assert!(run(&[], &["NHS_PORTAL_FHIR_PAS_URL"]).unwrap().is_none());
    let cfg = run(
        &[
            ("NHS_PORTAL_FHIR_PAS_MODE", "real-time"),
            ("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS", "1500"),
            ("NHS_PORTAL_FHIR_PAS_TOKEN", "t0ken"),
        ],
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(cfg.capabilities, Capabilities::REAL_TIME);
    assert_eq!(cfg.timeout, Duration::from_millis(1500));
    assert_eq!(cfg.bearer_token.as_deref(), Some("t0ken"));
    type Vars = &'static [(&'static str, &'static str)];
    let errors: [(Vars, &[&str], FhirConfigError); 7] = [
        (
            &[
                ("NHS_PORTAL_FHIR_PAS_URL", "http://pas.example/fhir/"),
                ("NHS_PORTAL_FHIR_PAS_TOKEN", "t0ken"),
            ],
            &[],
            FhirConfigError::Insecure("the FHIR base URL"),
        ),
        (
            &[("NHS_PORTAL_FHIR_PAS_URL", "ftp://x")],
            &[],
            FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_URL"),
        ),
        (
            &[("NHS_PORTAL_FHIR_PAS_URL", "not a url")],
            &[],
            FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_URL"),
        ),
        (
            &[],
            &["NHS_PORTAL_FHIR_PAS_ODS"],
            FhirConfigError::Missing("NHS_PORTAL_FHIR_PAS_ODS"),
        ),
        (
            &[("NHS_PORTAL_FHIR_PAS_ODS", "R-9")],
            &[],
            FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_ODS"),
        ),
        (
            &[("NHS_PORTAL_FHIR_PAS_MODE", "sometimes")],
            &[],
            FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_MODE"),
        ),
        (
            &[("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS", "0")],
            &[],
            FhirConfigError::Invalid("NHS_PORTAL_FHIR_PAS_TIMEOUT_MS"),
        ),
    ];
    for (extra, drop, want) in errors {
        assert_eq!(run(extra, drop).unwrap_err(), want);
    }
}

#[test]
fn credentials_go_only_over_https_or_to_this_machine() {
    let cases = [
        ("https://pas.example/fhir/", true),
        ("http://127.0.0.1:8080/fhir/", true),
        ("http://[::1]:8080/fhir/", true),
        ("http://localhost/fhir/", true),
        ("http://pas.example/fhir/", false),
        ("http://10.0.0.5/fhir/", false),
    ];
    for (url, ok) in cases {
        let mut cfg = FhirPasConfig::new(
            url::Url::parse(url).unwrap(),
            nhs_portal_core::Organisation {
                ods_code: nhs_portal_core::OdsCode::parse("R9N").unwrap(),
                name: "Northfield".into(),
            },
            Capabilities::REAL_TIME,
        );
        assert!(cfg.check().is_ok(), "{url} without credentials");
        cfg.bearer_token = Some("t0ken".into());
        assert_eq!(cfg.check().is_ok(), ok, "{url}");
    }
}
