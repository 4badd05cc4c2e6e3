//! The HTML pages the simulator shows: the "not NHS login" frame and the test-patient chooser.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use nhs_portal_core::eligibility::age_on;

use super::authorize::AuthParams;
use super::{NOT_NHS_LOGIN, Simulator};
use crate::http_kit::{self, html_escape};

/// A page of a simulated party (the NHS login simulator, the NHS App simulator): `banner` as
/// its title, heading and warning (followed by `note`), and `body`. Its own inline style: not
/// one of the portal's pages, so not under the portal's CSP.
pub(crate) fn simulation_page(
    status: StatusCode,
    banner: &str,
    note: &str,
    body: &str,
) -> Response<Bytes> {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{banner}</title>\
<style>body{{font-family:Arial,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}\
.banner{{background:#ffeb3b;border:3px solid #212b32;padding:.5rem;font-weight:bold}}\
label{{display:block;margin:.5rem 0}}button{{margin:.5rem 0;padding:.5rem 1rem}}\
li{{margin:.75rem 0}}</style></head>\
<body><p class=\"banner\" role=\"alert\">{banner}. {note}</p>\n<h1>{banner}</h1>\n{body}\n</body></html>"
    );
    http_kit::foreign_html(status, html)
}

impl Simulator {
    pub(super) fn page(&self, status: StatusCode, body: &str) -> Response<Bytes> {
        simulation_page(
            status,
            NOT_NHS_LOGIN,
            "For testing only: no real accounts, no real patients.",
            body,
        )
    }

    pub(super) fn authorize_page(
        &self,
        a: &AuthParams,
        q: &HashMap<String, String>,
    ) -> Response<Bytes> {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q.iter())
            .finish();
        let action = html_escape(&format!("{}/authorize?{query}", self.prefix));
        let mut radios = String::new();
        for (i, p) in self.config.patients.iter().enumerate() {
            let age = age_on(
                p.date_of_birth,
                nhs_portal_core::uk_time::uk_date(self.clock.now()),
            );
            radios.push_str(&format!(
                "<label><input type=\"radio\" name=\"nhs_number\" value=\"{nhs}\"{checked}> \
{given} {family}, NHS number {formatted}, born {dob} (age {age}), identity level {level}</label>\n",
                nhs = p.nhs_number.as_str(),
                checked = if i == 0 { " checked" } else { "" },
                given = html_escape(&p.given_name),
                family = html_escape(&p.family_name),
                formatted = p.nhs_number.formatted(),
                dob = p.date_of_birth.format("%-d %B %Y"),
                level = p.identity_level.claim(),
            ));
        }
        let body = format!(
            "<p>Service <strong>{client}</strong> wants you to sign in. Choose a test patient.</p>\n\
<form method=\"post\" action=\"{action}\">\n<fieldset><legend>Test patients</legend>\n{radios}</fieldset>\n\
<button type=\"submit\" name=\"decision\" value=\"allow\">Continue as this patient</button>\n</form>\n\
<form method=\"post\" action=\"{action}\">\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">I do not want to use NHS login</button>\n</form>",
            client = html_escape(&a.client_id),
        );
        self.page(StatusCode::OK, &body)
    }
}
