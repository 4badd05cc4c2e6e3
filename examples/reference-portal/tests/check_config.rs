//! `nhs-portal-example --check-config`, run as the real binary over a table of settings: each
//! bad one is named (and a secret's value never printed), good ones exit 0 with a summary; and
//! README.md's settings table lists exactly the settings `--help` shows. Over 400 lines: one
//! table per mode of the same `--check-config`, sharing the runner.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

/// Runs the binary with only `env` of the portal's variables set (none inherited).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NHS_PORTAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    cmd.output().expect("the portal binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Bad {
    env: &'static [(&'static str, &'static str)],
    /// Each problem line must start with one of these (one per problem, in any order).
    named: &'static [&'static str],
    /// Must not be printed (secrets).
    hidden: &'static [&'static str],
}

/// A test-only RSA private key (the reporting crate's fixture).
const KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../nhs-portal-reporting/tests/fixtures/test-only-rsa-key.pem"
);

const BAD: &[Bad] = &[
    Bad {
        env: &[("NHS_PORTAL_INSTANCES", "0")],
        named: &["NHS_PORTAL_INSTANCES"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_SESSION_IDLE_SECONDS", "ten")],
        named: &["NHS_PORTAL_SESSION_IDLE_SECONDS"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_SESSION_IDLE_SECONDS", "30")],
        named: &["NHS_PORTAL_SESSION_IDLE_SECONDS"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_ADDR", "localhost")],
        named: &["NHS_PORTAL_ADDR"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_BASE_URL", "ftp://portal.example")],
        named: &["NHS_PORTAL_BASE_URL"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_BASE_URL", "portal.example")],
        named: &["NHS_PORTAL_BASE_URL"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_DATABASE_URL", "mysql://u:db-secret@db/portal")],
        named: &["NHS_PORTAL_DATABASE_URL"],
        hidden: &["db-secret"],
    },
    Bad {
        env: &[("NHS_PORTAL_REPORTING_URL", "not a url")],
        named: &["NHS_PORTAL_REPORTING_URL"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_REPORTING_URL", "https://reporting.example")],
        named: &["NHS_PORTAL_REPORTING_TOKEN"],
        hidden: &[],
    },
    Bad {
        env: &[("NHS_PORTAL_REPORTING_TOKEN", "token-secret-1")],
        named: &["NHS_PORTAL_REPORTING_TOKEN"],
        hidden: &["token-secret-1"],
    },
    Bad {
        env: &[("NHS_PORTAL_STAFF_CODE", "short")],
        named: &["NHS_PORTAL_STAFF_CODE"],
        hidden: &["short"],
    },
    Bad {
        env: &[("NHS_PORTAL_ASSETS_DIR", "/nonexistent/nhs-portal-assets")],
        named: &["NHS_PORTAL_ASSETS_DIR"],
        hidden: &[],
    },
    // Wayfinder's authentication.
    Bad {
        env: &[
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            ("NHS_PORTAL_REPORTING_API_KEY", "apikey-secret-1"),
            ("NHS_PORTAL_REPORTING_KEY_ID", "kid-1"),
            (
                "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ),
        ],
        named: &["NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE"],
        hidden: &["apikey-secret-1"],
    },
    Bad {
        env: &[
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            (
                "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
                "/nonexistent/wayfinder.pem",
            ),
        ],
        named: &[
            "NHS_PORTAL_REPORTING_API_KEY",
            "NHS_PORTAL_REPORTING_KEY_ID",
            "NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE",
        ],
        hidden: &[],
    },
    Bad {
        env: &[
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            ("NHS_PORTAL_REPORTING_API_KEY", "apikey-secret-2"),
            ("NHS_PORTAL_REPORTING_TOKEN", "token-secret-2"),
            ("NHS_PORTAL_REPORTING_KEY_ID", "kid-without-key-file"),
        ],
        named: &["NHS_PORTAL_REPORTING_KEY_ID", "NHS_PORTAL_REPORTING_TOKEN"],
        hidden: &["apikey-secret-2", "token-secret-2"],
    },
    Bad {
        env: &[("NHS_PORTAL_REPORTING_API_KEY", "apikey-secret-3")],
        named: &["NHS_PORTAL_REPORTING_API_KEY"],
        hidden: &["apikey-secret-3"],
    },
    // The Record Service.
    Bad {
        env: &[(
            "NHS_PORTAL_RECORD_SERVICE_URL",
            "https://records.example/records",
        )],
        named: &[
            "NHS_PORTAL_RECORD_SERVICE_CLIENT_ID",
            "NHS_PORTAL_RECORD_SERVICE_API_KEY",
        ],
        hidden: &[],
    },
    Bad {
        env: &[
            ("NHS_PORTAL_RECORD_SERVICE_API_KEY", "record-secret-1"),
            ("NHS_PORTAL_RECORD_SERVICE_MAX_BATCH", "5001"),
            ("NHS_PORTAL_RECORD_SERVICE_INTERVAL_SECONDS", "0"),
        ],
        named: &[
            "NHS_PORTAL_RECORD_SERVICE_API_KEY",
            "NHS_PORTAL_RECORD_SERVICE_MAX_BATCH",
            "NHS_PORTAL_RECORD_SERVICE_INTERVAL_SECONDS",
        ],
        hidden: &["record-secret-1"],
    },
    // Staff sign-in through the trust's identity provider.
    Bad {
        env: &[("NHS_PORTAL_STAFF_OIDC_ISSUER", "https://idp.trust.example")],
        named: &[
            "NHS_PORTAL_STAFF_OIDC_CLIENT_ID",
            "NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP",
            "NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET",
        ],
        hidden: &[],
    },
    Bad {
        env: &[
            ("NHS_PORTAL_STAFF_OIDC_ISSUER", "https://idp.trust.example"),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", "worklist"),
            ("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP", "booking-team"),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET", "oidc-secret-1"),
            (
                "NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ),
            ("NHS_PORTAL_STAFF_CODE", "staff-code-secret-9"),
        ],
        named: &[
            "NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE",
            "NHS_PORTAL_STAFF_CODE",
        ],
        hidden: &["oidc-secret-1", "staff-code-secret-9"],
    },
    Bad {
        env: &[
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", "worklist"),
            ("NHS_PORTAL_STAFF_OIDC_ISSUER", "not a url"),
        ],
        named: &[
            "NHS_PORTAL_STAFF_OIDC_ISSUER",
            "NHS_PORTAL_STAFF_OIDC_CLIENT_ID",
        ],
        hidden: &[],
    },
    // Several at once: every one is named, not only the first.
    Bad {
        env: &[
            ("NHS_PORTAL_SESSION_IDLE_SECONDS", "ten"),
            ("NHS_PORTAL_ADDR", "nowhere"),
            ("NHS_PORTAL_STAFF_CODE", "tiny"),
            ("NHS_PORTAL_REPORTING_CLIENT_ID", "client-without-url"),
        ],
        named: &[
            "NHS_PORTAL_SESSION_IDLE_SECONDS",
            "NHS_PORTAL_ADDR",
            "NHS_PORTAL_STAFF_CODE",
            "NHS_PORTAL_REPORTING_CLIENT_ID",
        ],
        hidden: &["tiny"],
    },
];

#[test]
fn each_bad_setting_is_named_and_the_exit_code_is_2() {
    for case in BAD {
        let out = run(&["--check-config"], case.env);
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{:?}: {stdout}{stderr}",
            case.env
        );
        let problems: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .collect();
        assert_eq!(problems.len(), case.named.len(), "{:?}: {stderr}", case.env);
        for name in case.named {
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{:?}: {name} not named in {stderr}",
                case.env
            );
        }
        for secret in case.hidden {
            assert!(
                !stderr.contains(secret) && !stdout.contains(secret),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_bad_setting_stops_a_real_start_too() {
    // It used to be ignored silently; now the portal refuses to start (before it listens).
    let out = run(&[], &[("NHS_PORTAL_SESSION_IDLE_SECONDS", "ten")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        stderr.contains("NHS_PORTAL_SESSION_IDLE_SECONDS"),
        "{stderr}"
    );
}

#[test]
fn the_nhs_limits_are_divided_between_the_instances() {
    for (instances, line) in [
        (
            None,
            "1 instance(s): PCA API 60 per second per client, Wayfinder 25 per second",
        ),
        (
            Some("4"),
            "4 instance(s): PCA API 15 per second per client, Wayfinder 6 per second",
        ),
        (
            Some("40"),
            "40 instance(s): PCA API 1.5 per second per client, Wayfinder 1 per second",
        ),
    ] {
        let env: Vec<(&str, &str)> = instances
            .map(|n| ("NHS_PORTAL_INSTANCES", n))
            .into_iter()
            .collect();
        let o = run(&["--check-config"], &env);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(out.contains(line), "{instances:?}: {out}");
    }
}

#[test]
fn good_settings_exit_0_with_a_summary_and_no_secret() {
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../../nhs-portal-web/assets");
    let good: &[&[(&str, &str)]] = &[
        &[],
        // Blank counts as unset.
        &[
            ("NHS_PORTAL_SESSION_IDLE_SECONDS", " "),
            ("NHS_PORTAL_BASE_URL", ""),
        ],
        &[
            ("NHS_PORTAL_ADDR", "0.0.0.0:0"),
            ("NHS_PORTAL_BASE_URL", "https://portal.example/"),
            (
                "NHS_PORTAL_DATABASE_URL",
                "postgres://u:db-secret-2@db.example/portal",
            ),
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            ("NHS_PORTAL_REPORTING_CLIENT_ID", "trust-client"),
            ("NHS_PORTAL_REPORTING_TOKEN", "token-secret-3"),
            ("NHS_PORTAL_STAFF_CODE", "staff-secret-4"),
            ("NHS_PORTAL_SESSION_IDLE_SECONDS", "64"),
            ("NHS_PORTAL_DEMO_PCA_SECRET", "pca-secret-5"),
            ("NHS_PORTAL_ASSETS_DIR", assets),
        ],
        // Signed-JWT Wayfinder, the Record Service and staff sign-in through a provider.
        &[
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            ("NHS_PORTAL_REPORTING_API_KEY", "apikey-secret-6"),
            ("NHS_PORTAL_REPORTING_KEY_ID", "kid-6"),
            ("NHS_PORTAL_REPORTING_PRIVATE_KEY_FILE", KEY_FILE),
            (
                "NHS_PORTAL_RECORD_SERVICE_URL",
                "https://records.example/records",
            ),
            ("NHS_PORTAL_RECORD_SERVICE_CLIENT_ID", "records-client"),
            ("NHS_PORTAL_RECORD_SERVICE_API_KEY", "record-secret-7"),
            ("NHS_PORTAL_STAFF_OIDC_ISSUER", "https://idp.trust.example/"),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", "worklist"),
            ("NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE", KEY_FILE),
            ("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP", "booking-team"),
        ],
        // The integration environment's apikey, and a staff client secret.
        &[
            ("NHS_PORTAL_REPORTING_URL", "https://reporting.example"),
            ("NHS_PORTAL_REPORTING_API_KEY", "apikey-secret-8"),
            ("NHS_PORTAL_STAFF_OIDC_ISSUER", "https://idp.trust.example"),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", "worklist"),
            ("NHS_PORTAL_STAFF_OIDC_CLIENT_SECRET", "oidc-secret-9"),
            ("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP", "booking-team"),
        ],
    ];
    for env in good {
        let out = run(&["--check-config"], env);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{env:?}: {stdout}{stderr}");
        assert!(stdout.contains("The configuration is valid"), "{stdout}");
        assert!(stdout.contains("mode:          demo"), "{stdout}");
        for (_, v) in *env {
            if v.contains("secret") {
                assert!(!stdout.contains(v) && !stderr.contains(v), "{stdout}");
            }
        }
    }
    let (stdout, _) = text(&run(
        &["--check-config"],
        &[
            ("NHS_PORTAL_BASE_URL", "https://portal.example/"),
            ("NHS_PORTAL_SESSION_IDLE_SECONDS", "64"),
        ],
    ));
    assert!(
        stdout.contains("base URL:      https://portal.example\n"),
        "{stdout}"
    );
    assert!(stdout.contains("64 seconds"), "{stdout}");
}

/// The settings `--help` shows (`[env: NAME…]`).
fn settings_in_help() -> Vec<String> {
    let (help, _) = text(&run(&["--help"], &[]));
    let mut names: Vec<String> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_readme_lists_every_setting_and_no_other() {
    let readme = include_str!("../../../README.md");
    let mut listed: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `NHS_PORTAL_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("NHS_PORTAL_{name}"))
        .collect();
    listed.sort();
    let in_help = settings_in_help();
    assert!(in_help.len() >= 10, "{in_help:?}");
    assert_eq!(
        listed, in_help,
        "README.md's settings table and --help differ"
    );
}

/// A live-mode configuration that passes, with its files in `dir`: a key file, a PAS token
/// file and a trusts file.
fn good_live(dir: &std::path::Path) -> Vec<(String, String)> {
    let key = nhs_portal_web::nhs_login::RsaSigningKey::generate().unwrap();
    std::fs::write(dir.join("key.pem"), key.private_key_pem()).unwrap();
    std::fs::write(dir.join("pas-token"), "pas-secret-6").unwrap();
    std::fs::write(
        dir.join("trusts.toml"),
        "[[trust]]\nods_code = \"R9N\"\nname = \"Northfield\"\n\
         fhir_base_url = \"https://pas.northfield.example/fhir/\"\ncapabilities = \"real-time\"\n\
         [trust.auth]\nbearer_token_file = \"pas-token\"\n",
    )
    .unwrap();
    let file = |f: &str| dir.join(f).display().to_string();
    [
        ("NHS_PORTAL_MODE", "live".to_owned()),
        ("NHS_PORTAL_BASE_URL", "https://portal.example".into()),
        ("NHS_PORTAL_NHS_LOGIN_ISSUER", "sandpit".into()),
        ("NHS_PORTAL_NHS_LOGIN_CLIENT_ID", "portal-client".into()),
        ("NHS_PORTAL_NHS_LOGIN_KEY_FILE", file("key.pem")),
        ("NHS_PORTAL_NHS_APP_CLIENT_IDS", "nhs-app,nhs-app-2".into()),
        ("NHS_PORTAL_PCA_ISSUER", "https://pca-auth.example".into()),
        (
            "NHS_PORTAL_PCA_JWKS_URL",
            "https://pca-auth.example/jwks.json".into(),
        ),
        ("NHS_PORTAL_PCA_AUDIENCE", "portal-api".into()),
        ("NHS_PORTAL_TRUSTS_FILE", file("trusts.toml")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Settings as `(variable, value)` pairs.
type Env = Vec<(String, String)>;

fn run_with(args: &[&str], env: &[(String, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run(args, &env)
}

fn with(mut env: Vec<(String, String)>, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in changes {
        env.retain(|(name, _)| name != k);
        if !v.is_empty() {
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    env
}

#[test]
fn live_mode_needs_its_settings_https_and_no_demo_part() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_live(dir.path());
    let out = run_with(&["--check-config"], &good);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for line in [
        "mode:          live",
        "NHS login:     https://auth.sandpit.signin.nhs.uk as client portal-client",
        "NHS App ids:   nhs-app, nhs-app-2",
        "R9N Northfield: FHIR PAS https://pas.northfield.example/fhir/ (bearer token set (hidden)), real time, 16 and over",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    let pem = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let pem_body = pem.lines().nth(1).unwrap();
    assert!(
        !stdout.contains("pas-secret-6") && !stdout.contains(pem_body),
        "{stdout}"
    );

    std::fs::write(
        dir.path().join("not-a-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("http-trusts.toml"), "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"http://pas.example/fhir/\"\ncapabilities = \"request-only\"\n").unwrap();
    let not_a_key = dir.path().join("not-a-key.pem").display().to_string();
    let http_trusts = dir.path().join("http-trusts.toml").display().to_string();
    let cases: Vec<(Env, Vec<&str>)> = vec![
        (
            with(Vec::new(), &[("NHS_PORTAL_MODE", "live")]),
            vec![
                "NHS_PORTAL_BASE_URL",
                "NHS_PORTAL_NHS_LOGIN_ISSUER",
                "NHS_PORTAL_NHS_LOGIN_CLIENT_ID",
                "NHS_PORTAL_NHS_LOGIN_KEY_FILE",
                "NHS_PORTAL_PCA_ISSUER",
                "NHS_PORTAL_PCA_JWKS_URL",
                "NHS_PORTAL_PCA_AUDIENCE",
                "NHS_PORTAL_TRUSTS_FILE",
                "NHS_PORTAL_NHS_APP_CLIENT_IDS",
            ],
        ),
        (
            with(Vec::new(), &[("NHS_PORTAL_MODE", "sometimes")]),
            vec!["NHS_PORTAL_MODE"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_BASE_URL", "http://portal.example")],
            ),
            vec!["NHS_PORTAL_BASE_URL"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_NHS_LOGIN_ISSUER", "http://auth.example")],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_ISSUER"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_PCA_JWKS_URL", "http://pca.example/jwks")],
            ),
            vec!["NHS_PORTAL_PCA_JWKS_URL"],
        ),
        (
            with(
                good.clone(),
                &[
                    ("NHS_PORTAL_REPORTING_URL", "http://reporting.example"),
                    ("NHS_PORTAL_REPORTING_TOKEN", "token-secret-7"),
                ],
            ),
            vec!["NHS_PORTAL_REPORTING_URL"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_NHS_LOGIN_KEY_FILE", &not_a_key)],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_KEY_FILE"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_NHS_LOGIN_KEY_FILE", "/nonexistent/key.pem")],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_KEY_FILE"],
        ),
        (
            with(good.clone(), &[("NHS_PORTAL_TRUSTS_FILE", &http_trusts)]),
            vec!["NHS_PORTAL_TRUSTS_FILE"],
        ),
        (
            with(
                good.clone(),
                &[(
                    "NHS_PORTAL_NHS_LOGIN_REDIRECT_URI",
                    "https://portal.example/callback",
                )],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_REDIRECT_URI"],
        ),
        // The simulator and the demo's own settings have no place in live mode.
        (
            with(
                good.clone(),
                &[(
                    "NHS_PORTAL_NHS_LOGIN_ISSUER",
                    "https://portal.example/nhs-login-simulator",
                )],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_ISSUER"],
        ),
        (
            with(good.clone(), &[("NHS_PORTAL_STAFF_CODE", "staff-secret-8")]),
            vec!["NHS_PORTAL_STAFF_CODE"],
        ),
        (
            with(
                good.clone(),
                &[("NHS_PORTAL_DEMO_PCA_SECRET", "pca-secret-9")],
            ),
            vec!["NHS_PORTAL_DEMO_PCA_SECRET"],
        ),
        (
            with(good.clone(), &[("NHS_PORTAL_DEMO_PCA_RATE_LIMIT", "0")]),
            vec!["NHS_PORTAL_DEMO_PCA_RATE_LIMIT"],
        ),
        // And live settings have none in demo mode.
        (
            with(
                Vec::new(),
                &[
                    ("NHS_PORTAL_NHS_LOGIN_CLIENT_ID", "portal-client"),
                    ("NHS_PORTAL_TRUSTS_FILE", "trusts.toml"),
                ],
            ),
            vec!["NHS_PORTAL_NHS_LOGIN_CLIENT_ID", "NHS_PORTAL_TRUSTS_FILE"],
        ),
    ];
    for (env, named) in &cases {
        let out = run_with(&["--check-config"], env);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stdout}{stderr}");
        let problems: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .collect();
        assert_eq!(problems.len(), named.len(), "{env:?}: {stderr}");
        for name in named {
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{name} not named in {stderr}"
            );
        }
        for secret in [
            "staff-secret-8",
            "pca-secret-9",
            "token-secret-7",
            "pas-secret-6",
            pem_body,
        ] {
            assert!(
                !stderr.contains(secret) && !stdout.contains(secret),
                "{stderr}"
            );
        }
    }
    // A real start refuses too, before it listens.
    let out = run_with(&[], &cases[2].0);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        !stdout.contains("listening") && stderr.contains("NHS_PORTAL_BASE_URL"),
        "{stderr}"
    );
}

/// The `warning:` lines of a `--check-config` summary.
fn warnings(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("warning:"))
        .map(|w| w.trim().to_owned())
        .collect()
}

#[test]
fn a_trust_without_a_contact_route_is_warned_about_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_live(dir.path());
    let trusts = dir.path().join("trusts.toml");
    let head = "[[trust]]\nods_code = \"R9N\"\nname = \"Northfield\"\n\
                fhir_base_url = \"https://pas.northfield.example/fhir/\"\ncapabilities = \"real-time\"\n";
    // (what follows the trust's first lines, the warnings expected)
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "trust R9N: no contact route (set phone): patients are told to use the phone number on their appointment letter",
            ],
        ),
        (
            "[[trust.clinic]]\nspecialty = \"330\"\nphone = \"01632 960 330\"\npreparation = \"Bring your creams.\"\n",
            &[
                "trust R9N: no contact route (set phone) except for clinics 330: other patients are told to use their appointment letter",
            ],
        ),
        (
            "phone = \"01632 960 100\"\nhours = \"Monday to Friday, 8am to 6pm\"\n",
            &[],
        ),
        (
            "phone = \"01632 960 100\"\n[[trust.clinic]]\nspecialty = \"301\"\n",
            &["trust R9N: clinic 301 has no preparation text"],
        ),
    ];
    for (rest, want) in cases {
        std::fs::write(&trusts, format!("{head}{rest}")).unwrap();
        let out = run_with(&["--check-config"], &good);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{rest}: {stdout}{stderr}");
        assert!(stdout.contains("trust:         R9N Northfield"), "{stdout}");
        assert_eq!(warnings(&stdout), *want, "{rest}: {stdout}");
    }
    // Opening hours with no number to call are a mistake, not a warning.
    std::fs::write(&trusts, format!("{head}hours = \"9am to 5pm\"\n")).unwrap();
    let out = run_with(&["--check-config"], &good);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("hours is set without phone"), "{stderr}");
}
