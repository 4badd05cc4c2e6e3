//! Reads the [`Settings`] and names every problem, not only the first: each value that does not
//! parse (by its environment variable and flag), then the settings that do not fit together.
//! `--help` and `--version` print and exit here.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::settings::Settings;

/// Reads the settings from `args` (the first is the program name) and the environment.
pub fn load(args: Vec<OsString>) -> Result<Settings, Vec<String>> {
    let mut cmd = Settings::command();
    // An empty or blank variable counts as unset (as the portal always did).
    let blank: Vec<_> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| v.to_string_lossy().trim().is_empty())
        })
        .map(|a| a.get_id().clone())
        .collect();
    for id in blank {
        cmd = cmd.mut_arg(id, |a| a.env(None));
    }
    let mut problems = Vec::new();
    let settings = loop {
        let err = match cmd.try_get_matches_from_mut(args.clone()) {
            Ok(m) => match Settings::from_arg_matches(&m) {
                Ok(s) => break Some(s),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if matches!(
            err.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        ) {
            err.exit();
        }
        let Some((id, problem, from_env)) = value_problem(&cmd, &err, &args) else {
            problems.push(err.render().to_string().trim().to_owned());
            break None;
        };
        problems.push(problem);
        if !from_env {
            break None;
        }
        // Read the rest without this variable, to find the next problem too.
        cmd = cmd.mut_arg(id, |a| a.env(None));
    };
    match settings {
        Some(s) if problems.is_empty() => {
            let more = cross_checks(&s);
            if more.is_empty() { Ok(s) } else { Err(more) }
        }
        Some(s) => {
            problems.extend(cross_checks(&s));
            Err(problems)
        }
        None => Err(problems),
    }
}

/// For a value that did not parse: the argument, a line naming it, and whether it came from the
/// environment.
fn value_problem(
    cmd: &clap::Command,
    err: &clap::Error,
    args: &[OsString],
) -> Option<(clap::Id, String, bool)> {
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = shown.strip_prefix("--")?.split([' ', '=']).next()?;
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long))?;
    let flag = format!("--{long}");
    let on_command_line = args
        .iter()
        .any(|a| a.to_string_lossy().split('=').next() == Some(flag.as_str()));
    let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
    let name = match (&env, on_command_line) {
        (Some(env), false) => format!("{env} ({flag})"),
        _ => flag.clone(),
    };
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) if !arg.is_hide_env_values_set() => format!(" '{v}'"),
        _ => String::new(),
    };
    let reason = std::error::Error::source(err)
        .map(|e| e.to_string())
        .or_else(|| match err.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(v)) => Some(format!("expected one of {}", v.join(", "))),
            _ => None,
        })
        .unwrap_or_else(|| "not valid".into());
    Some((
        arg.get_id().clone(),
        format!("{name}: invalid value{value}: {reason}"),
        env.is_some() && !on_command_line,
    ))
}

/// The settings that do not fit together.
fn cross_checks(s: &Settings) -> Vec<String> {
    let mut problems = crate::reporting::problems(s);
    problems.extend(s.record_service.problems(s));
    problems.extend(s.staff_oidc.problems(s));
    if let Some(dir) = &s.assets_dir
        && let Err(e) = nhs_portal_web::assets::Assets::load(dir)
    {
        problems.push(format!("NHS_PORTAL_ASSETS_DIR (--assets-dir): {e}"));
    }
    problems.extend(s.live.check(s).0);
    problems
}

/// What `--check-config` prints when all is well: what would run, never a secret.
pub fn summary(s: &Settings) -> String {
    let base = s
        .base_url
        .as_ref()
        .map(|b| b.as_str().to_owned())
        .unwrap_or_else(|| format!("http://{} (the address bound)", s.addr));
    // The portal answers only under its base URL's path (nhs_portal_web::portal::Portal::handle).
    let under = s
        .base_url
        .as_ref()
        .and_then(|b| url::Url::parse(b.as_str()).ok())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .filter(|p| !p.is_empty())
        .map_or_else(
            || "/ (the whole host)".to_owned(),
            |p| format!("{p}/ (nothing outside it is answered)"),
        );
    let reporting = crate::reporting::summary(s);
    let pca = if s.demo_pca_secret.expose() == nhs_portal_web::demo::DEMO_PCA_SECRET {
        "client pca-demo, the default secret (demo-pca-secret)"
    } else {
        "client pca-demo, secret set (hidden)"
    };
    let staff = s.staff_oidc.summary(s);
    let mode = match s.live.check(s).1 {
        Some(live) => live.summary(),
        None => vec![
            "  mode:          demo (a simulated PAS and the NHS login simulator, not NHS login)"
                .into(),
            format!("  demo PCA:      {pca}"),
        ],
    };
    [
        "The configuration is valid. The portal would run:".to_owned(),
        mode.join("\n"),
        format!("  listen on:     {}", s.addr),
        format!("  base URL:      {base}"),
        format!("  served under:  {under}"),
        format!("  store:         {}", s.store_name()),
        format!("  session idle:  {} seconds", s.session_idle_seconds),
        format!(
            "  NHS limits:    {} instance(s): PCA API {} per second per client, Wayfinder {} per second",
            s.instances,
            nhs_portal_core::limits::per_instance(
                f64::from(nhs_portal_core::limits::PCA_API_PER_SECOND),
                s.instances
            ),
            nhs_portal_core::limits::per_instance_whole(
                nhs_portal_core::limits::WAYFINDER_PER_SECOND,
                s.instances
            )
        ),
        format!(
            "  housekeeping:  every {} seconds; audit {}",
            s.housekeeping_seconds,
            match s.audit_retention_days {
                Some(d) => format!("kept {d} days"),
                None => "kept for ever".to_owned(),
            }
        ),
        format!(
            "  metrics:       {}",
            match s.metrics_addr {
                Some(a) => format!("http://{a}/metrics (own listener)"),
                None => "/metrics on the main address".to_owned(),
            }
        ),
        s.serve.summary().join("\n"),
        format!("  reporting:     {reporting}"),
        format!("  staff:         {staff}"),
        format!("  records:       {}", s.record_service.summary()),
        format!(
            "  assets:        {}",
            s.assets_dir
                .as_ref()
                .map(|d| format!("from {}", d.display()))
                .unwrap_or_else(|| "embedded in the binary".into())
        ),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("nhs-portal-example")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn flags_are_typed_and_every_bad_one_is_named() {
        // Flags only: the environment of `cargo test` is not touched.
        let s = load(args(&[
            "--addr",
            "127.0.0.1:0",
            "--session-idle-seconds",
            "64",
        ]))
        .unwrap();
        assert_eq!(s.session_idle_seconds, 64);
        let p = load(args(&["--session-idle-seconds", "ten"])).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("--session-idle-seconds: invalid value 'ten'"),
            "{p:?}"
        );
        let p = load(args(&["--staff-code", "short"])).unwrap_err();
        assert!(
            p[0].contains("at least 8") && !p[0].contains("short"),
            "{p:?}"
        );
        let p = load(args(&["--reporting-url", "https://r.example"])).unwrap_err();
        assert!(p[0].starts_with("NHS_PORTAL_REPORTING_TOKEN"), "{p:?}");
    }

    #[test]
    fn the_summary_names_the_path_the_portal_is_served_under() {
        let s = load(args(&["--base-url", "https://trust.example/hospital/"])).unwrap();
        let text = summary(&s);
        assert!(
            text.contains("served under:  /hospital/ (nothing outside"),
            "{text}"
        );
    }

    #[test]
    fn the_summary_shows_no_secret() {
        let s = load(args(&[
            "--staff-code",
            "staff-secret-1",
            "--database-url",
            "postgres://u:pg-secret-2@db.example/portal",
            "--reporting-url",
            "https://r.example",
            "--reporting-token",
            "report-secret-3",
        ]))
        .unwrap();
        let text = summary(&s);
        assert!(text.contains("PostgreSQL on db.example/portal"), "{text}");
        assert!(text.contains("served under:  / (the whole host)"), "{text}");
        for secret in ["staff-secret-1", "pg-secret-2", "report-secret-3"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
