//! `nhs-portal-example --check-config`, run as the real binary over a table of settings: each
//! bad one is named (and a secret's value never printed), good ones exit 0 with a summary; and
//! README.md's settings table lists exactly the settings `--help` shows.

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
