//! The trusts file of live mode (`NHS_PORTAL_TRUSTS_FILE`, TOML): for each trust, its ODS code
//! and name, its FHIR PAS (base URL and auth), what patients may do online and its eligibility
//! threshold. Reading it names every problem; [`Trust::pas`] makes the FHIR adapters and
//! [`pas`] puts them behind one `TrustsPas`.
//!
//! ```toml
//! [[trust]]
//! ods_code = "R9N"
//! name = "Northfield Teaching Hospitals NHS Foundation Trust"
//! fhir_base_url = "https://pas.northfield.example.nhs.uk/fhir/R4/"
//! capabilities = "real-time"        # or "request-only", "not-offered",
//!                                   # or { cancel = "real-time", reschedule = "request-only" }
//! minimum_age = 16                  # optional, default 16
//! slot_filters = ["time-of-day", "site"]  # optional: how patients may narrow free slots
//!                                   # ("time-of-day", "site", "clinician"), default none
//! holding_appointments = "hidden"   # optional: or "waiting-list" (shown with no date)
//! timeout_ms = 5000                 # optional, default 5000
//!
//! # What patients are told (all optional; see nhs_portal_core::guidance)
//! phone = "01632 960 100"                       # the booking team
//! hours = "Monday to Friday, 8am to 6pm"        # when that line is open
//! expected_response = "within 2 working days"   # how soon a request is answered
//! cancel_warning = "If you cancel twice, you may be referred back to your GP."
//!
//! [trust.auth]
//! bearer_token_file = "/run/secrets/northfield-pas-token"   # optional
//!
//! [[trust.clinic]]                              # any number; the first that matches wins
//! specialty = "330"                             # Treatment Function Code
//! location = "Northfield General Hospital Outpatients"   # optional: only at this place
//! phone = "01632 960 330"                       # optional, with hours
//! hours = "Monday to Friday, 9am to 4:30pm"
//! preparation = "Bring a list of the creams and medicines you use on your skin."
//!
//! [trust.subscription]              # optional: FHIR Subscriptions, where the PAS offers them
//! secret_file = "/run/secrets/northfield-notify-secret"    # 32 characters or more
//! payload = "full-resource"         # or "id-only" (optional, default full-resource)
//! ```
//!
//! A trust without a phone number is not an error, but `--check-config` warns ([`warnings`]):
//! its patients (of clinics without their own line) are told to use their appointment letter.
//!
//! A trust with a `[trust.subscription]` gets a Subscription (registered at start-up, when its
//! server offers backport Subscriptions) that posts to `{base URL}/fhir-notifications/{ODS
//! code}` with the secret; the feed is still polled, less often, as the safety net.
//!
//! (Over 400 lines with its table tests: the file's schema, its checks and the adapters it makes
//! are one piece.)

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nhs_portal_core::clock::Clock;
use nhs_portal_core::eligibility::DEFAULT_MINIMUM_AGE;
use nhs_portal_core::guidance::{Clinic, Contact, Guidance, TrustGuidance};
use nhs_portal_core::holding::HoldingDisplay;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RescheduleMode};
use nhs_portal_core::slot_choice::SlotFilters;
use nhs_portal_core::store::PasFeedStore;
use nhs_portal_core::{OdsCode, Organisation, TreatmentFunctionCode};
use nhs_portal_pas::fhir::{
    FhirPas, FhirPasConfig, PayloadContent, SecretText, SubscriptionConfig,
};
use nhs_portal_pas::trusts::TrustsPas;
use nhs_portal_pas::{PasBackend, PasError};
use serde::Deserialize;

use crate::settings::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    trust: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    ods_code: String,
    name: String,
    fhir_base_url: String,
    capabilities: CapabilitiesEntry,
    #[serde(default)]
    slot_filters: Vec<SlotFilterEntry>,
    minimum_age: Option<u32>,
    timeout_ms: Option<u64>,
    /// What the trust does with its holding (waiting-list placeholder) records on the pages.
    #[serde(default)]
    holding_appointments: HoldingDisplay,
    #[serde(default)]
    auth: AuthEntry,
    phone: Option<String>,
    hours: Option<String>,
    expected_response: Option<String>,
    cancel_warning: Option<String>,
    #[serde(default)]
    clinic: Vec<ClinicEntry>,
    subscription: Option<SubscriptionEntry>,
}

/// One `[[trust.clinic]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClinicEntry {
    specialty: String,
    location: Option<String>,
    phone: Option<String>,
    hours: Option<String>,
    preparation: Option<String>,
}

/// FHIR Subscriptions for the trust (the `[trust.subscription]` table).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionEntry {
    /// A file holding the shared secret the PAS sends back on each notification.
    secret_file: PathBuf,
    #[serde(default)]
    payload: PayloadEntry,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum PayloadEntry {
    #[default]
    FullResource,
    IdOnly,
}

/// The shortest notification secret accepted.
const MIN_SECRET_LEN: usize = 32;

/// How the portal authenticates to a trust's FHIR PAS (the `[trust.auth]` table).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuthEntry {
    /// A file holding a bearer token sent on every call.
    bearer_token_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CapabilitiesEntry {
    Both(Online),
    Each { cancel: Online, reschedule: Online },
}

/// One filter of `slot_filters`.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum SlotFilterEntry {
    TimeOfDay,
    Site,
    Clinician,
}

/// The filters a `slot_filters` list allows.
fn slot_filters(entries: &[SlotFilterEntry]) -> SlotFilters {
    let mut f = SlotFilters::NONE;
    for e in entries {
        match e {
            SlotFilterEntry::TimeOfDay => f.time_of_day = true,
            SlotFilterEntry::Site => f.site = true,
            SlotFilterEntry::Clinician => f.clinician = true,
        }
    }
    f
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Online {
    RealTime,
    RequestOnly,
    NotOffered,
}

impl CapabilitiesEntry {
    fn capabilities(&self) -> Capabilities {
        let (cancel, reschedule) = match *self {
            Self::Both(o) => (o, o),
            Self::Each { cancel, reschedule } => (cancel, reschedule),
        };
        Capabilities {
            cancel: match cancel {
                Online::RealTime => CancelMode::RealTime,
                Online::RequestOnly => CancelMode::Request,
                Online::NotOffered => CancelMode::NotOffered,
            },
            reschedule: match reschedule {
                Online::RealTime => RescheduleMode::RealTime,
                Online::RequestOnly => RescheduleMode::Request,
                Online::NotOffered => RescheduleMode::NotOffered,
            },
            confirm_attendance: false,
            slot_filters: SlotFilters::NONE,
            holding: HoldingDisplay::Hidden,
        }
    }
}

/// The oldest eligibility threshold a trust may set.
const OLDEST_MINIMUM_AGE: u32 = 120;

/// One trust, checked.
#[derive(Debug, Clone)]
pub struct Trust {
    /// ODS code and name.
    pub organisation: Organisation,
    /// The FHIR PAS's base URL.
    pub base_url: url::Url,
    /// What patients may do online.
    pub capabilities: Capabilities,
    /// The youngest age the trust serves.
    pub minimum_age: u32,
    /// The bearer token sent to the PAS, read from its file.
    pub bearer_token: Option<Secret>,
    /// The per-call timeout.
    pub timeout: Option<Duration>,
    /// What its patients are told: contacts, preparation, response time, cancel warning.
    pub guidance: TrustGuidance,
    /// FHIR Subscriptions: the notification secret, read from its file, and the payload.
    pub subscription: Option<(Secret, PayloadContent)>,
}

/// A trust whose PAS pushes its changes: the adapter (which subscribes and reads the
/// notifications) and the secret they carry.
pub struct Subscribed {
    /// The trust's ODS code (its notification path).
    pub ods: OdsCode,
    /// Its FHIR adapter.
    pub pas: Arc<FhirPas>,
    /// The shared secret.
    pub secret: Secret,
}

/// Where a trust's notifications go: `{base URL}/fhir-notifications/{ODS code}`.
fn notification_endpoint(base_url: &str, ods: &OdsCode) -> Result<url::Url, PasError> {
    let text = format!(
        "{}{}/{}",
        base_url.trim_end_matches('/'),
        nhs_portal_web::fhir_notifications::PATH,
        ods.as_str()
    );
    url::Url::parse(&text).map_err(|e| PasError::BadData(format!("notification endpoint: {e}")))
}

impl Trust {
    /// The FHIR adapter for this trust; with a Subscription, posting to the portal at
    /// `base_url`, its changes compared with the portal's last-seen records in `seen`.
    pub fn pas(
        &self,
        clock: Arc<dyn Clock>,
        base_url: &str,
        seen: Arc<dyn PasFeedStore>,
    ) -> Result<FhirPas, PasError> {
        let mut cfg = FhirPasConfig::new(
            self.base_url.clone(),
            self.organisation.clone(),
            self.capabilities,
        );
        cfg.bearer_token = self.bearer_token.as_ref().map(|t| t.expose().to_owned());
        if let Some(t) = self.timeout {
            cfg.timeout = t;
        }
        let Some((secret, payload)) = &self.subscription else {
            return FhirPas::new(cfg, clock);
        };
        let mut sub = SubscriptionConfig::new(
            notification_endpoint(base_url, &self.organisation.ods_code)?,
            SecretText(secret.expose().to_owned()),
        );
        sub.payload = *payload;
        cfg.subscription = Some(sub);
        // Notifications and polls are one feed, de-duplicated by the last-seen records.
        Ok(FhirPas::new(cfg, clock)?.with_last_seen(seen))
    }
}

/// Every trust behind one backend, in the file's order, and those whose PAS pushes changes.
pub fn pas(
    trusts: &[Trust],
    clock: Arc<dyn Clock>,
    base_url: &str,
    seen: Arc<dyn PasFeedStore>,
) -> Result<(TrustsPas, Vec<Subscribed>), PasError> {
    let mut each = Vec::with_capacity(trusts.len());
    let mut subscribed = Vec::new();
    for t in trusts {
        let fhir = Arc::new(t.pas(clock.clone(), base_url, seen.clone())?);
        if let Some((secret, _)) = &t.subscription {
            subscribed.push(Subscribed {
                ods: t.organisation.ods_code.clone(),
                pas: fhir.clone(),
                secret: secret.clone(),
            });
        }
        let pas: Arc<dyn PasBackend> = fhir;
        each.push((t.organisation.ods_code.clone(), pas));
    }
    Ok((TrustsPas::new(each), subscribed))
}

/// The eligibility threshold the portal applies: the highest of the trusts' (one rule serves
/// every page and API call, so no trust's patients are served younger than it allows).
pub fn minimum_age(trusts: &[Trust]) -> u32 {
    trusts
        .iter()
        .map(|t| t.minimum_age)
        .max()
        .unwrap_or(DEFAULT_MINIMUM_AGE)
}

/// Every trust's guidance, for the pages.
pub fn guidance(trusts: &[Trust]) -> Guidance {
    trusts.iter().fold(Guidance::new(), |g, t| {
        g.with_trust(t.organisation.ods_code.clone(), t.guidance.clone())
    })
}

/// What `--check-config` warns about without failing: a trust with no phone number, whose
/// patients (of clinics without their own line) get no contact route but the appointment
/// letter; and a clinic with no preparation text.
pub fn warnings(trusts: &[Trust]) -> Vec<String> {
    let mut out = Vec::new();
    for t in trusts {
        let at = format!("trust {}", t.organisation.ods_code.as_str());
        if t.guidance.contact.is_none() {
            let own: Vec<&str> = t
                .guidance
                .clinics
                .iter()
                .filter(|c| c.contact.is_some())
                .map(|c| c.specialty.as_str())
                .collect();
            out.push(if own.is_empty() {
                format!(
                    "{at}: no contact route (set phone): patients are told to use the phone number on their appointment letter"
                )
            } else {
                format!(
                    "{at}: no contact route (set phone) except for clinics {}: other patients are told to use their appointment letter",
                    own.join(", ")
                )
            });
        }
        for c in t
            .guidance
            .clinics
            .iter()
            .filter(|c| c.preparation.is_none())
        {
            out.push(format!(
                "{at}: clinic {} has no preparation text",
                c.specialty.as_str()
            ));
        }
    }
    out
}

/// A phone line from its settings: `hours` needs a `phone`; neither may be blank.
fn contact(
    phone: Option<&String>,
    hours: Option<&String>,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<Contact> {
    let phone = text(phone, &format!("{at}phone"), problems);
    let hours = text(hours, &format!("{at}hours"), problems);
    match (phone, hours) {
        (Some(phone), hours) => Some(Contact { phone, hours }),
        (None, Some(_)) => {
            problems.push(format!("{at}hours is set without {at}phone"));
            None
        }
        (None, None) => None,
    }
}

/// An optional text setting, trimmed; blank is a problem.
fn text(value: Option<&String>, name: &str, problems: &mut Vec<String>) -> Option<String> {
    let v = value?.trim();
    if v.is_empty() {
        problems.push(format!("{name} is empty"));
        return None;
    }
    Some(v.to_owned())
}

fn trust_guidance(entry: &Entry, problems: &mut Vec<String>) -> TrustGuidance {
    let clinics = entry
        .clinic
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let at = format!("clinic {}: ", i + 1);
            let specialty = TreatmentFunctionCode::parse(c.specialty.trim())
                .map_err(|_| {
                    problems.push(format!(
                        "{at}specialty is not a Treatment Function Code (three digits)"
                    ))
                })
                .ok();
            let clinic = Clinic {
                specialty: specialty?,
                location: text(c.location.as_ref(), &format!("{at}location"), problems),
                contact: contact(c.phone.as_ref(), c.hours.as_ref(), &at, problems),
                preparation: text(
                    c.preparation.as_ref(),
                    &format!("{at}preparation"),
                    problems,
                ),
            };
            Some(clinic)
        })
        .collect();
    TrustGuidance {
        contact: contact(entry.phone.as_ref(), entry.hours.as_ref(), "", problems),
        clinics,
        expected_response: text(
            entry.expected_response.as_ref(),
            "expected_response",
            problems,
        ),
        cancel_warning: text(entry.cancel_warning.as_ref(), "cancel_warning", problems),
    }
}

/// Reads and checks the file; each problem is one line (never a token's value).
pub fn load(path: &Path) -> Result<Vec<Trust>, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot be read ({e})")])?;
    let file: File =
        toml::from_str(&text).map_err(|e| vec![format!("is not valid: {}", e.message())])?;
    if file.trust.is_empty() {
        return Err(vec!["names no trust (add a [[trust]] table)".into()]);
    }
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut trusts = Vec::new();
    for (i, entry) in file.trust.iter().enumerate() {
        let at = format!("trust {} ({})", i + 1, entry.ods_code.trim());
        match check(entry, path) {
            Ok(t) => {
                if !seen.insert(t.organisation.ods_code.clone()) {
                    problems.push(format!("{at}: ods_code appears twice"));
                }
                trusts.push(t);
            }
            Err(p) => problems.extend(p.into_iter().map(|p| format!("{at}: {p}"))),
        }
    }
    if problems.is_empty() {
        Ok(trusts)
    } else {
        Err(problems)
    }
}

fn check(entry: &Entry, file: &Path) -> Result<Trust, Vec<String>> {
    let mut problems = Vec::new();
    let ods = OdsCode::parse(entry.ods_code.trim())
        .map_err(|_| problems.push("ods_code is not an ODS code".to_owned()))
        .ok();
    if entry.name.trim().is_empty() {
        problems.push("name is empty".into());
    }
    let base_url =
        match nhs_portal_web::live::check_public_url("fhir_base_url", &entry.fhir_base_url) {
            Ok(()) => url::Url::parse(entry.fhir_base_url.trim()).ok(),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
    let minimum_age = entry.minimum_age.unwrap_or(DEFAULT_MINIMUM_AGE);
    if minimum_age > OLDEST_MINIMUM_AGE {
        problems.push(format!("minimum_age must be at most {OLDEST_MINIMUM_AGE}"));
    }
    let timeout = match entry.timeout_ms {
        Some(ms) if !(1..=120_000).contains(&ms) => {
            problems.push("timeout_ms must be 1 to 120000".into());
            None
        }
        ms => ms.map(Duration::from_millis),
    };
    let bearer_token = entry
        .auth
        .bearer_token_file
        .as_ref()
        .and_then(|f| read_secret(file, f, "auth.bearer_token_file", 1, &mut problems));
    let subscription = entry.subscription.as_ref().and_then(|sub| {
        let secret = read_secret(
            file,
            &sub.secret_file,
            "subscription.secret_file",
            MIN_SECRET_LEN,
            &mut problems,
        )?;
        let payload = match sub.payload {
            PayloadEntry::FullResource => PayloadContent::FullResource,
            PayloadEntry::IdOnly => PayloadContent::IdOnly,
        };
        Some((secret, payload))
    });
    let guidance = trust_guidance(entry, &mut problems);
    match (ods, base_url) {
        (Some(ods_code), Some(base_url)) if problems.is_empty() => Ok(Trust {
            organisation: Organisation {
                ods_code,
                name: entry.name.trim().to_owned(),
            },
            base_url,
            capabilities: entry
                .capabilities
                .capabilities()
                .with_slot_filters(slot_filters(&entry.slot_filters))
                .with_holding(entry.holding_appointments),
            minimum_age,
            bearer_token,
            timeout,
            guidance,
            subscription,
        }),
        _ => Err(problems),
    }
}

/// A secret read from `secret_file` (relative to the trusts file's folder), at least `min`
/// characters once trimmed; a problem named by `what` otherwise (never the value).
fn read_secret(
    file: &Path,
    secret_file: &Path,
    what: &str,
    min: usize,
    problems: &mut Vec<String>,
) -> Option<Secret> {
    let path = file.parent().unwrap_or(Path::new(".")).join(secret_file);
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().chars().count() >= min => {
            Some(t.trim().parse::<Secret>().unwrap_or_else(|e| match e {}))
        }
        Ok(t) if t.trim().is_empty() => {
            problems.push(format!("{what} {} is empty", path.display()));
            None
        }
        Ok(_) => {
            problems.push(format!(
                "{what} {} is shorter than {min} characters",
                path.display()
            ));
            None
        }
        Err(e) => {
            problems.push(format!("{what} {} cannot be read ({e})", path.display()));
            None
        }
    }
}

/// One line per trust for `--check-config` (no token).
pub fn summary(trusts: &[Trust]) -> Vec<String> {
    trusts
        .iter()
        .map(|t| {
            let online = |c: Capabilities| match (c.cancel, c.reschedule) {
                (CancelMode::RealTime, RescheduleMode::RealTime) => "real time".to_owned(),
                (CancelMode::Request, RescheduleMode::Request) => "request only".into(),
                (CancelMode::NotOffered, RescheduleMode::NotOffered) => "not offered".into(),
                (c, r) => format!("cancel {c:?}, reschedule {r:?}"),
            };
            format!(
                "{} {}: FHIR PAS {} ({}{}), {}, {} and over, holding appointments {}",
                t.organisation.ods_code.as_str(),
                t.organisation.name,
                t.base_url,
                if t.bearer_token.is_some() {
                    "bearer token set (hidden)"
                } else {
                    "no auth"
                },
                if t.subscription.is_some() {
                    ", Subscriptions (secret hidden)"
                } else {
                    ""
                },
                online(t.capabilities),
                t.minimum_age,
                t.capabilities.holding.as_str()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trusts.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::write(dir.path().join("token"), "pas-secret-1\n").unwrap();
        std::fs::write(dir.path().join("notify"), "n".repeat(40)).unwrap();
        (dir, path)
    }

    #[test]
    fn a_good_file_gives_each_trust() {
        let (_dir, path) = write(
            r#"
[[trust]]
ods_code = "R9N"
name = "Northfield"
fhir_base_url = "https://pas.northfield.example/fhir/"
capabilities = "real-time"
slot_filters = ["time-of-day", "site"]
auth = { bearer_token_file = "token" }

[[trust]]
ods_code = "RK5"
name = "Eastbrook"
fhir_base_url = "http://127.0.0.1:9/fhir/"
capabilities = { cancel = "request-only", reschedule = "not-offered" }
minimum_age = 18
timeout_ms = 2000
holding_appointments = "waiting-list"

[trust.subscription]
secret_file = "notify"
payload = "id-only"
"#,
        );
        let trusts = load(&path).unwrap();
        assert_eq!(trusts.len(), 2);
        assert_eq!(
            trusts[0].capabilities,
            Capabilities::REAL_TIME.with_slot_filters(SlotFilters {
                time_of_day: true,
                site: true,
                clinician: false,
            })
        );
        assert_eq!(
            trusts[0].bearer_token.as_ref().unwrap().expose(),
            "pas-secret-1"
        );
        assert_eq!(trusts[0].minimum_age, 16);
        assert_eq!(
            trusts[1].capabilities,
            Capabilities {
                cancel: CancelMode::Request,
                reschedule: RescheduleMode::NotOffered,
                holding: HoldingDisplay::WaitingList,
                ..Capabilities::VIEW_ONLY
            }
        );
        assert_eq!(trusts[1].timeout, Some(Duration::from_secs(2)));
        assert!(trusts[0].subscription.is_none());
        let (secret, payload) = trusts[1].subscription.as_ref().unwrap();
        assert_eq!(
            (secret.expose().len(), *payload),
            (40, PayloadContent::IdOnly)
        );
        assert_eq!(minimum_age(&trusts), 18);
        let lines = summary(&trusts).join("\n");
        assert!(
            lines.contains("R9N Northfield")
                && lines.contains("real time")
                && lines.contains("holding appointments hidden")
                && lines.contains("holding appointments waiting-list"),
            "{lines}"
        );
        assert!(!lines.contains("pas-secret-1"), "{lines}");
        assert!(lines.contains("Subscriptions (secret hidden)") && !lines.contains("nnnn"));
    }

    #[test]
    fn each_problem_is_named() {
        let cases: &[(&str, &str)] = &[
            ("", "names no trust"),
            ("[[trust]]\nods_code = 1", "is not valid"),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"http://pas.example/\"\ncapabilities = \"real-time\"",
                "trust 1 (R9N): fhir_base_url must be an https:// URL",
            ),
            (
                "[[trust]]\nods_code = \"not an ods code!\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"",
                "ods_code is not an ODS code",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"sometimes\"",
                "is not valid",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"\nauth = { bearer_token_file = \"missing\" }",
                "auth.bearer_token_file",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"\nslot_filters = [\"colour\"]",
                "is not valid",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"\nsubscription = { secret_file = \"token\" }",
                "subscription.secret_file",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"\nauth = { password = \"x\" }",
                "is not valid",
            ),
            (
                "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://a.example/\"\ncapabilities = \"real-time\"\n[[trust]]\nods_code = \"R9N\"\nname = \"M\"\nfhir_base_url = \"https://b.example/\"\ncapabilities = \"request-only\"",
                "trust 2 (R9N): ods_code appears twice",
            ),
        ];
        for (text, named) in cases {
            let (_dir, path) = write(text);
            let problems = load(&path).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(named)),
                "{text}: {problems:?}"
            );
        }
    }

    #[test]
    fn guidance_is_read_per_trust_and_clinic() {
        let (_dir, path) = write(
            r#"
[[trust]]
ods_code = "R9N"
name = "Northfield"
fhir_base_url = "https://pas.northfield.example/fhir/"
capabilities = "request-only"
phone = " 01632 960 100 "
hours = "Monday to Friday, 8am to 6pm"
expected_response = "within 2 working days"
cancel_warning = "If you cancel twice, you may be referred back to your GP."

[[trust.clinic]]
specialty = "130"
location = "Eye Clinic"
phone = "01632 960 130"
preparation = "Do not drive."
"#,
        );
        let trusts = load(&path).unwrap();
        let g = &trusts[0].guidance;
        assert_eq!(
            g.contact,
            Some(Contact {
                phone: "01632 960 100".into(),
                hours: Some("Monday to Friday, 8am to 6pm".into()),
            })
        );
        assert_eq!(
            g.expected_response.as_deref(),
            Some("within 2 working days")
        );
        assert!(g.cancel_warning.as_deref().unwrap().contains("GP"));
        assert_eq!(g.clinics.len(), 1);
        assert_eq!(g.clinics[0].specialty.as_str(), "130");
        assert_eq!(g.clinics[0].location.as_deref(), Some("Eye Clinic"));
        assert_eq!(g.clinics[0].contact.as_ref().unwrap().hours, None);
        assert!(warnings(&trusts).is_empty());
        let all = guidance(&trusts);
        assert!(all.trust(&OdsCode::parse("R9N").unwrap()).is_some());

        let head = "[[trust]]\nods_code = \"R9N\"\nname = \"N\"\nfhir_base_url = \"https://pas.example/\"\ncapabilities = \"real-time\"\n";
        for (rest, named) in [
            ("hours = \"9 to 5\"\n", "hours is set without phone"),
            ("phone = \" \"\n", "phone is empty"),
            (
                "[[trust.clinic]]\nspecialty = \"33\"\n",
                "clinic 1: specialty is not a Treatment Function Code",
            ),
            (
                "[[trust.clinic]]\nspecialty = \"330\"\npreparation = \"\"\n",
                "clinic 1: preparation is empty",
            ),
            (
                "[[trust.clinic]]\nspecialty = \"330\"\nfax = \"1\"\n",
                "is not valid",
            ),
        ] {
            let (_dir, path) = write(&format!("{head}{rest}"));
            let problems = load(&path).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(named)),
                "{rest}: {problems:?}"
            );
        }
    }
}
