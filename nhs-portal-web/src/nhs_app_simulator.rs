//! The **NHS App simulator**: a page standing in for the NHS App in the demo, so a person can
//! follow the whole chain. **It is not the NHS App** (every page says so). A person picks a
//! demo patient; the page asks the portal's own Get Appointments API for that patient's
//! appointments exactly as the PCA would (a `client_credentials` bearer token of the demo PCA
//! client and the NHS App's ID token in `NHSD-ID-Token`, both minted by the NHS login
//! simulator), lists what the API answered, and opens each deep link with a fresh
//! `assertedLoginIdentity`, so the patient lands signed in on the portal's page.
//!
//! | Path (under its mount point) | What |
//! |---|---|
//! | `GET /` | The patient chooser (form field `nhs_number`); with `?nhs_number=…`, that patient's appointments from the Get Appointments API |
//! | `GET /open?nhs_number=…&link=…` | Mints an SSO assertion and redirects to the deep link (only to this portal's `/patient-portal/` pages) with `assertedLoginIdentity` |
//!
//! Demo only, behind the `simulator` feature; [`crate::demo::DemoPortal`] mounts it at
//! [`crate::demo::NHS_APP_PATH`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use nhs_portal_core::NhsNumber;
use serde_json::Value;

use crate::fhir_api::resource::PORTAL_LINK_EXTENSION;
use crate::fhir_api::{FhirApi, PATIENT_PARAM};
use crate::http_kit::{self, html_escape};
use crate::simulator::{SIMULATED_NHS_APP_CLIENT_ID, Simulator, simulation_page};

/// The banner every page carries.
pub const NOT_THE_NHS_APP: &str = "NHS App simulator – not the NHS App";

/// The simulated NHS App. See the [module docs](self).
#[derive(Debug)]
pub struct NhsAppSimulator {
    prefix: String,
    portal_base: String,
    simulator: Arc<Simulator>,
    fhir_api: Arc<FhirApi>,
    fhir_path: String,
    pca_client_id: String,
    api_audience: String,
}

impl NhsAppSimulator {
    /// A simulated NHS App mounted at `prefix` (for example `/nhs-app-simulator`) of the portal
    /// at `portal_base`, calling `fhir_api` (mounted at `fhir_path`) with tokens `simulator`
    /// mints for the PCA client `pca_client_id` and audience `api_audience`.
    pub fn new(
        prefix: impl Into<String>,
        portal_base: impl Into<String>,
        simulator: Arc<Simulator>,
        (fhir_api, fhir_path): (Arc<FhirApi>, &str),
        (pca_client_id, api_audience): (&str, &str),
    ) -> Self {
        Self {
            prefix: prefix.into().trim_end_matches('/').to_owned(),
            portal_base: portal_base.into().trim_end_matches('/').to_owned(),
            simulator,
            fhir_api,
            fhir_path: fhir_path.trim_end_matches('/').to_owned(),
            pca_client_id: pca_client_id.to_owned(),
            api_audience: api_audience.to_owned(),
        }
    }

    /// Handles one request under the mount point; anything else is 404.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let rest = req.uri().path().strip_prefix(self.prefix.as_str());
        let query = req.uri().query();
        match (req.method(), rest) {
            (&Method::GET, Some("" | "/")) => {
                let chosen = http_kit::query_param(query, "nhs_number");
                self.home(chosen.as_deref()).await
            }
            (&Method::GET, Some("/open")) => self.open(
                http_kit::query_param(query, "nhs_number").as_deref(),
                http_kit::query_param(query, "link").as_deref(),
            ),
            _ => self.page(StatusCode::NOT_FOUND, "<p>Page not found.</p>".into()),
        }
    }

    fn page(&self, status: StatusCode, body: String) -> Response<Bytes> {
        simulation_page(
            status,
            NOT_THE_NHS_APP,
            "A demo of what the NHS App does: no real accounts, no real patients.",
            &body,
        )
    }

    fn chooser(&self, chosen: Option<&str>) -> String {
        let mut radios = String::new();
        for p in self.simulator.patients() {
            let nhs = p.nhs_number.as_str();
            radios.push_str(&format!(
                "<label><input type=\"radio\" name=\"nhs_number\" value=\"{nhs}\"{checked}> \
{given} {family}, NHS number {formatted}</label>\n",
                checked = if chosen == Some(nhs) { " checked" } else { "" },
                given = html_escape(&p.given_name),
                family = html_escape(&p.family_name),
                formatted = p.nhs_number.formatted(),
            ));
        }
        format!(
            "<form method=\"get\" action=\"{action}\">\n<fieldset><legend>Signed in to the NHS App as \
</legend>\n{radios}</fieldset>\n<button type=\"submit\">Show hospital appointments</button>\n</form>",
            action = html_escape(&format!("{}/", self.prefix)),
        )
    }

    async fn home(&self, chosen: Option<&str>) -> Response<Bytes> {
        let mut body = self.chooser(chosen);
        if let Some(nhs) = chosen {
            match NhsNumber::parse(nhs.trim()) {
                Ok(n) => body.push_str(&self.appointments(&n).await),
                Err(_) => body.push_str("<p>That is not a valid NHS number.</p>"),
            }
        }
        self.page(StatusCode::OK, body)
    }

    /// Asks the Get Appointments API as the PCA does and lists the answer.
    async fn appointments(&self, nhs: &NhsNumber) -> String {
        let (bearer, id_token) = match (
            self.simulator
                .mint_client_credentials_token(&self.pca_client_id, &self.api_audience),
            self.simulator
                .mint_id_token(nhs, SIMULATED_NHS_APP_CLIENT_ID),
        ) {
            (Ok(b), Ok(i)) => (b, i),
            _ => return "<p>The NHS login simulator has no such patient.</p>".into(),
        };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(
                PATIENT_PARAM,
                &format!("https://fhir.nhs.uk/Id/nhs-number|{}", nhs.as_str()),
            )
            .finish();
        let path = format!("{}/Appointment", self.fhir_path);
        let req = Request::get(format!("{path}?{query}"))
            .header(http::header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header("x-correlation-id", uuid::Uuid::new_v4().to_string())
            .header("nhsd-id-token", id_token)
            .body(Bytes::new());
        let Ok(req) = req else {
            return "<p>The request could not be built.</p>".into();
        };
        let res = self.fhir_api.handle(req).await;
        let status = res.status();
        let mut html = format!(
            "<h2>Hospital appointments</h2>\n<p>What this portal's Get Appointments API \
(<code>GET {path}</code>) answered the (simulated) PCA: <strong>{status}</strong>.</p>\n"
        );
        let bundle: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        if !status.is_success() {
            return html;
        }
        let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            html.push_str("<p>No hospital appointments.</p>");
            return html;
        }
        html.push_str("<ul>\n");
        for e in &entries {
            let r = &e["resource"];
            let link = r["extension"]
                .as_array()
                .and_then(|x| x.iter().find(|x| x["url"] == PORTAL_LINK_EXTENSION))
                .and_then(|x| x["valueUrl"].as_str());
            let open = link
                .map(|l| {
                    let href = format!(
                        "{}/open?{}",
                        self.prefix,
                        url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("nhs_number", nhs.as_str())
                            .append_pair("link", l)
                            .finish()
                    );
                    format!(
                        " <a href=\"{}\">Open in the hospital portal</a>",
                        html_escape(&href)
                    )
                })
                .unwrap_or_default();
            html.push_str(&format!(
                "<li><strong>{desc}</strong>, {start} ({status}).{open}</li>\n",
                desc = html_escape(r["description"].as_str().unwrap_or("Appointment")),
                start = html_escape(r["start"].as_str().unwrap_or("")),
                status = html_escape(r["status"].as_str().unwrap_or("")),
            ));
        }
        html.push_str("</ul>");
        html
    }

    /// What the NHS App does when the patient taps a deep link: appends a fresh, single-use
    /// `assertedLoginIdentity` and opens it.
    fn open(&self, nhs: Option<&str>, link: Option<&str>) -> Response<Bytes> {
        let ours = format!("{}/patient-portal/", self.portal_base);
        let (Some(nhs), Some(link)) = (nhs, link) else {
            return self.page(
                StatusCode::BAD_REQUEST,
                "<p>Choose an appointment first.</p>".into(),
            );
        };
        // Only this portal's own pages: never an open redirect.
        if !link.starts_with(&ours) || link.contains(['\r', '\n', '#']) {
            return self.page(
                StatusCode::BAD_REQUEST,
                "<p>That is not a link to this portal.</p>".into(),
            );
        }
        let assertion = NhsNumber::parse(nhs.trim())
            .ok()
            .and_then(|n| self.simulator.mint_sso_assertion(&n).ok());
        let Some(assertion) = assertion else {
            return self.page(
                StatusCode::BAD_REQUEST,
                "<p>The NHS login simulator has no such patient.</p>".into(),
            );
        };
        let sep = if link.contains('?') { '&' } else { '?' };
        let encoded: String = url::form_urlencoded::byte_serialize(assertion.as_bytes()).collect();
        http_kit::redirect(&format!("{link}{sep}assertedLoginIdentity={encoded}"))
    }
}

/// Mounts in the portal: `portal.mount("/nhs-app-simulator", nhs_app)`.
#[async_trait::async_trait]
impl http_kit::Handler for NhsAppSimulator {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        NhsAppSimulator::handle(self, req).await
    }
}
