//! Deep links from the NHS App into the portal.
//!
//! The PCA returns, for each appointment, a link of the form
//! `{base}/patient-portal/appointment/{id}?extSystemName={name}&trackingId={id}`; the NHS App adds
//! `assertedLoginIdentity={jwt}` last when it opens the link (single sign-on). Documents and
//! questionnaires use the same shape with `document` and `questionnaire`.
//!
//! Links are built by formatting, never by parsing a URL: the base is parsed and checked once
//! ([`DeepLinkBase::parse`], at start-up), the query once per PCA request ([`LinkQuery`]), and
//! each link is the base, the path with its id percent-encoded (any byte outside RFC 3986's
//! unreserved set; an [`AppointmentId`] never holds one today, so ids go out as they are) and
//! that query. [`DeepLinkBase::parse_link`] reads such a link back with the same parser the
//! portal's route uses.
//!
//! Paths are singular and case-sensitive, ids are checked with the FHIR id rule, and the raw
//! (still percent-encoded) path is parsed, so `%2F` or `..` can never smuggle in another path.
//!
//! Decision: query parameters other than the three named here are ignored, not refused. The PCA
//! spec lets a portal add its own query before `extSystemName`, and the NHS App may add more in
//! future; refusing them would break a patient's link. A known parameter given twice is refused,
//! because then it is unclear which one counts. The PCA spec's prose spells `trackingid` while its
//! template spells `trackingId`: both are read.
//!
//! ```
//! use nhs_portal_core::deep_link::{DeepLinkBase, Target};
//! use nhs_portal_core::AppointmentId;
//! let base = DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap();
//! let id = AppointmentId::parse("7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60").unwrap();
//! let url = base.link(&Target::Appointment(id.clone()), "Example Portal", "trk-1");
//! assert_eq!(url, "https://portal.example.nhs.uk/patient-portal/appointment/7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60?extSystemName=Example+Portal&trackingId=trk-1");
//! let link = base.parse_path_and_query("/patient-portal/appointment/7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60", Some("trackingid=trk-1")).unwrap();
//! assert_eq!(link.target, Target::Appointment(id));
//! assert_eq!(link.tracking_id.as_deref(), Some("trk-1"));
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{AppointmentId, IdError};

/// What a path segment percent-encodes: everything but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `segment` to `out`, percent-encoded as one path segment.
fn push_segment(out: &mut String, segment: &str) {
    out.extend(utf8_percent_encode(segment, SEGMENT));
}

/// The fixed first path segment of every deep link.
pub const PORTAL_SEGMENT: &str = "patient-portal";

/// Longest query string accepted (an asserted login identity JWT is about 1 KB).
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// What a deep link points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `/patient-portal/appointment/{id}`.
    Appointment(AppointmentId),
    /// `/patient-portal/document/{id}`.
    Document(AppointmentId),
    /// `/patient-portal/questionnaire/{id}`.
    Questionnaire(AppointmentId),
}

impl Target {
    fn segment(&self) -> &'static str {
        match self {
            Self::Appointment(_) => "appointment",
            Self::Document(_) => "document",
            Self::Questionnaire(_) => "questionnaire",
        }
    }

    fn id(&self) -> &AppointmentId {
        match self {
            Self::Appointment(id) | Self::Document(id) | Self::Questionnaire(id) => id,
        }
    }

    /// The path relative to the base, such as `/patient-portal/appointment/{id}`.
    pub fn path(&self) -> String {
        let mut out = String::with_capacity(self.path_len());
        self.push_path(&mut out);
        out
    }

    /// Appends the path (the id percent-encoded as a path segment) to `out`.
    fn push_path(&self, out: &mut String) {
        out.push('/');
        out.push_str(PORTAL_SEGMENT);
        out.push('/');
        out.push_str(self.segment());
        out.push('/');
        push_segment(out, self.id().as_str());
    }

    /// The path's length when its id needs no encoding (a capacity hint).
    fn path_len(&self) -> usize {
        PORTAL_SEGMENT.len() + self.segment().len() + self.id().as_str().len() + 3
    }
}

/// The query every deep link of one PCA request carries, `extSystemName={name}&trackingId={id}`,
/// form-encoded once for all of that request's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQuery(String);

impl LinkQuery {
    /// The query for the portal called `ext_system_name`, tracked by `tracking_id` (the PCA
    /// request's `X-Correlation-ID`).
    pub fn new(ext_system_name: &str, tracking_id: &str) -> Self {
        Self(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("extSystemName", ext_system_name)
                .append_pair("trackingId", tracking_id)
                .finish(),
        )
    }

    /// The encoded query, without the `?`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A parsed deep link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLink {
    /// What it points at.
    pub target: Target,
    /// `extSystemName`: the portal's name as the PCA was told it.
    pub ext_system_name: Option<String>,
    /// `trackingId` (or `trackingid`): the PCA request's correlation id, for reporting.
    pub tracking_id: Option<String>,
    /// `assertedLoginIdentity`: the NHS App's single sign-on token, passed on to NHS login.
    pub asserted_login_identity: Option<String>,
}

impl DeepLink {
    /// Whether opening it is a jump-off from the NHS App (or another Wayfinder service) rather
    /// than a click inside the portal: the link carries any of the parameters the PCA's deep
    /// links and the NHS App add (`extSystemName`, `trackingId`, `assertedLoginIdentity`).
    /// The portal's own links carry none. Wayfinder counts each jump-off as one `APPT-VIEW`.
    pub fn is_jump_off(&self) -> bool {
        self.ext_system_name.is_some()
            || self.tracking_id.is_some()
            || self.asserted_login_identity.is_some()
    }
}

/// Why a URL is not a deep link into this portal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeepLinkError {
    /// The configured base URL is not an absolute http(s) URL without query or fragment.
    #[error("the base URL must be an absolute http or https URL without query or fragment")]
    BadBase,
    /// The path is not under the base URL's path.
    #[error("the path is not under the portal's base path")]
    OutsideBase,
    /// The path is not `/patient-portal/{resource}/{id}`.
    #[error("not a patient-portal deep link path")]
    NotAPortalPath,
    /// The resource segment is not `appointment`, `document` or `questionnaire` (case-sensitive).
    #[error("unknown resource in the deep link")]
    UnknownResource,
    /// The id is not valid.
    #[error("the id in the deep link is not valid: {0}")]
    BadId(#[from] IdError),
    /// The link has a fragment (`#...`): deep links carry none.
    #[error("a deep link carries no fragment")]
    Fragment,
    /// A known query parameter appears twice.
    #[error("the query parameter {0} appears more than once")]
    DuplicateParameter(&'static str),
    /// The query string is too long.
    #[error("the query string is too long")]
    QueryTooLong,
}

/// The portal's public base URL, such as `https://portal.example.nhs.uk` (a path prefix is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLinkBase {
    origin_and_path: String,
    path_prefix: String,
    host: String,
}

impl DeepLinkBase {
    /// Parses and checks the base URL; a trailing slash is dropped.
    pub fn parse(base: &str) -> Result<Self, DeepLinkError> {
        let url = url::Url::parse(base).map_err(|_| DeepLinkError::BadBase)?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(DeepLinkError::BadBase);
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        let path_prefix = url.path().trim_end_matches('/').to_owned();
        let host = url.host_str().unwrap_or_default().to_owned();
        Ok(Self {
            origin_and_path: text,
            path_prefix,
            host,
        })
    }

    /// The base URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.origin_and_path
    }

    /// The host name, without port (for example `portal.example.nhs.uk`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path prefix (empty when the portal sits at the root).
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    /// The absolute deep link for `target`, with `extSystemName` and `trackingId` as the PCA
    /// requires (built per PCA request: the tracking id is that request's `X-Correlation-ID`).
    pub fn link(&self, target: &Target, ext_system_name: &str, tracking_id: &str) -> String {
        self.link_with(target, &LinkQuery::new(ext_system_name, tracking_id))
    }

    /// The absolute deep link for `target` with a query already encoded (one [`LinkQuery`] per
    /// PCA request, shared by its links): formatted, no URL parsed.
    pub fn link_with(&self, target: &Target, query: &LinkQuery) -> String {
        let mut out = String::with_capacity(
            self.origin_and_path.len() + target.path_len() + 1 + query.as_str().len(),
        );
        out.push_str(&self.origin_and_path);
        target.push_path(&mut out);
        out.push('?');
        out.push_str(query.as_str());
        out
    }

    /// The absolute URL of a target with no query (for links inside the portal).
    pub fn url(&self, target: &Target) -> String {
        let mut out = String::with_capacity(self.origin_and_path.len() + target.path_len());
        out.push_str(&self.origin_and_path);
        target.push_path(&mut out);
        out
    }

    /// Reads an absolute deep link back: it must start with this base (checked an absolute
    /// http(s) URL by [`Self::parse`]) and the rest must be a path and query that
    /// [`Self::parse_path_and_query`] accepts (so the portal opens it), with no fragment.
    pub fn parse_link(&self, link: &str) -> Result<DeepLink, DeepLinkError> {
        let rest = link
            .strip_prefix(self.origin_and_path.as_str())
            .filter(|r| r.starts_with('/'))
            .ok_or(DeepLinkError::OutsideBase)?;
        if rest.contains('#') {
            return Err(DeepLinkError::Fragment);
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        read_query(parse_target(path)?, query)
    }

    /// Parses a request's raw path (still percent-encoded) and query as a deep link.
    pub fn parse_path_and_query(
        &self,
        raw_path: &str,
        raw_query: Option<&str>,
    ) -> Result<DeepLink, DeepLinkError> {
        let rest = raw_path
            .strip_prefix(self.path_prefix.as_str())
            .ok_or(DeepLinkError::OutsideBase)?;
        read_query(parse_target(rest)?, raw_query)
    }
}

/// The deep link to `target` with the parameters of `raw_query` (the rules at the top).
fn read_query(target: Target, raw_query: Option<&str>) -> Result<DeepLink, DeepLinkError> {
    let mut link = DeepLink {
        target,
        ext_system_name: None,
        tracking_id: None,
        asserted_login_identity: None,
    };
    let Some(q) = raw_query else {
        return Ok(link);
    };
    if q.len() > MAX_QUERY_LEN {
        return Err(DeepLinkError::QueryTooLong);
    }
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let (slot, name) = match k.as_ref() {
            "extSystemName" => (&mut link.ext_system_name, "extSystemName"),
            "trackingId" | "trackingid" => (&mut link.tracking_id, "trackingId"),
            "assertedLoginIdentity" => (&mut link.asserted_login_identity, "assertedLoginIdentity"),
            _ => continue,
        };
        if slot.is_some() {
            return Err(DeepLinkError::DuplicateParameter(name));
        }
        *slot = Some(v.into_owned());
    }
    Ok(link)
}

/// Parses `/patient-portal/{resource}/{id}` (relative to the base path).
pub fn parse_target(path: &str) -> Result<Target, DeepLinkError> {
    let mut parts = path.split('/');
    if parts.next() != Some("") || parts.next() != Some(PORTAL_SEGMENT) {
        return Err(DeepLinkError::NotAPortalPath);
    }
    let (Some(resource), Some(id), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DeepLinkError::NotAPortalPath);
    };
    let id = AppointmentId::parse(id)?;
    match resource {
        "appointment" => Ok(Target::Appointment(id)),
        "document" => Ok(Target::Document(id)),
        "questionnaire" => Ok(Target::Questionnaire(id)),
        _ => Err(DeepLinkError::UnknownResource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60";

    #[test]
    fn round_trips() {
        for base in [
            "https://portal.example.nhs.uk",
            "https://portal.example.nhs.uk/",
            "http://127.0.0.1:8080",
            "https://host.example/trust-a",
        ] {
            let b = DeepLinkBase::parse(base).unwrap();
            for target in [
                Target::Appointment(AppointmentId::parse(ID).unwrap()),
                Target::Document(AppointmentId::parse("doc.1").unwrap()),
                Target::Questionnaire(AppointmentId::parse("Q-9").unwrap()),
            ] {
                let link = b.link(&target, "Example & Co Portal", "c0ffee-1");
                let url = url::Url::parse(&link).unwrap();
                let parsed = b.parse_path_and_query(url.path(), url.query()).unwrap();
                assert_eq!(parsed.target, target, "{link}");
                assert_eq!(
                    parsed.ext_system_name.as_deref(),
                    Some("Example & Co Portal")
                );
                assert_eq!(parsed.tracking_id.as_deref(), Some("c0ffee-1"));
                assert_eq!(parsed.asserted_login_identity, None);
            }
        }
    }

    /// Ids needing encoding: every byte outside RFC 3986's unreserved set is percent-encoded
    /// (an `AppointmentId` holds none today; the encoder does not rely on that).
    #[test]
    fn path_segments_are_percent_encoded() {
        for (segment, want) in [
            (ID, ID),
            ("a.b_c~d-E9", "a.b_c~d-E9"),
            ("a b", "a%20b"),
            ("a/b", "a%2Fb"),
            ("a?b#c", "a%3Fb%23c"),
            ("100%", "100%25"),
            ("a+b&c=d", "a%2Bb%26c%3Dd"),
            ("caf\u{e9}", "caf%C3%A9"),
            ("..", ".."),
            ("", ""),
        ] {
            let mut out = String::from("x/");
            push_segment(&mut out, segment);
            assert_eq!(out, format!("x/{want}"), "{segment:?}");
        }
    }

    /// The formatted link equals what the `url` crate builds from the parsed base (the way
    /// links were built before), for query values needing encoding, and reads back.
    #[test]
    fn formatted_links_equal_the_url_crates() {
        for base in [
            "https://portal.example.nhs.uk",
            "https://portal.example.nhs.uk/",
            "http://127.0.0.1:8080",
            "https://host.example/trust-a/",
        ] {
            let b = DeepLinkBase::parse(base).unwrap();
            for (id, name, tracking) in [
                (ID, "Example Portal", "trk-1"),
                ("doc.1", "Example & Co Portal", "a+b=c&d"),
                ("Q-9", "Caf\u{e9} #1", "%41?x#y"),
                ("x", "", "~!*'()"),
            ] {
                let target = Target::Appointment(AppointmentId::parse(id).unwrap());
                let link = b.link_with(&target, &LinkQuery::new(name, tracking));
                assert_eq!(link, b.link(&target, name, tracking));
                let mut want = url::Url::parse(base).unwrap();
                want.path_segments_mut().unwrap().pop_if_empty().extend([
                    PORTAL_SEGMENT,
                    "appointment",
                    id,
                ]);
                want.query_pairs_mut()
                    .append_pair("extSystemName", name)
                    .append_pair("trackingId", tracking);
                assert_eq!(link, want.as_str(), "{base} {id} {name:?} {tracking:?}");
                let back = b.parse_link(&link).unwrap();
                assert_eq!(back.target, target);
                assert_eq!(back.ext_system_name.as_deref(), Some(name));
                assert_eq!(back.tracking_id.as_deref(), Some(tracking));
                assert_eq!(b.url(&target), want.as_str().split('?').next().unwrap());
            }
        }
    }

    #[test]
    fn parse_link_rejections() {
        let b = DeepLinkBase::parse("https://p.example/trust-a").unwrap();
        let q = "?extSystemName=P&trackingId=t";
        for (link, want) in [
            (
                format!("https://q.example/trust-a/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("http://p.example/trust-a/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("https://p.example.evil/trust-a/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("https://p.example/trust-ab/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("https://p.example/trust-b/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("ftp://p.example/trust-a/patient-portal/appointment/{ID}{q}"),
                DeepLinkError::OutsideBase,
            ),
            (
                "https://p.example/trust-a".to_owned(),
                DeepLinkError::OutsideBase,
            ),
            (
                format!("https://p.example/trust-a/patient-portal/appointment/{ID}{q}#f"),
                DeepLinkError::Fragment,
            ),
            (
                format!("https://p.example/trust-a/patient-portal/appointment/a%20b{q}"),
                DeepLinkError::BadId(IdError::BadCharacter),
            ),
            (
                format!("https://p.example/trust-a/patient-portal/Appointment/{ID}{q}"),
                DeepLinkError::UnknownResource,
            ),
            (
                format!(
                    "https://p.example/trust-a/patient-portal/appointment/{ID}{q}&trackingid=u"
                ),
                DeepLinkError::DuplicateParameter("trackingId"),
            ),
        ] {
            assert_eq!(b.parse_link(&link), Err(want), "{link}");
        }
        let bare = b
            .parse_link(&format!(
                "https://p.example/trust-a/patient-portal/appointment/{ID}"
            ))
            .unwrap();
        assert_eq!(bare.tracking_id, None);
    }

    #[test]
    fn nhs_app_query_with_portal_params_and_sso() {
        let b = DeepLinkBase::parse("https://p.example").unwrap();
        let link = b
            .parse_path_and_query(
                &format!("/patient-portal/appointment/{ID}"),
                Some("lang=en&extSystemName=P&trackingid=t1&assertedLoginIdentity=eyJ.a.b"),
            )
            .unwrap();
        assert_eq!(link.tracking_id.as_deref(), Some("t1"));
        assert_eq!(link.asserted_login_identity.as_deref(), Some("eyJ.a.b"));
    }

    #[test]
    fn rejections() {
        let b = DeepLinkBase::parse("https://p.example").unwrap();
        let long = "a".repeat(65);
        let cases: Vec<(String, Option<&str>, DeepLinkError)> = vec![
            (
                format!("/patient-portal/Appointment/{ID}"),
                None,
                DeepLinkError::UnknownResource,
            ),
            (
                "/patient-portal/appointment/x/..".into(),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                "/patient-portal/appointment/..".into(),
                None,
                DeepLinkError::BadId(IdError::PathLike),
            ),
            (
                "/patient-portal/appointment/a%2Fb".into(),
                None,
                DeepLinkError::BadId(IdError::BadCharacter),
            ),
            (
                "/patient-portal/appointment/a%2fb".into(),
                None,
                DeepLinkError::BadId(IdError::BadCharacter),
            ),
            (
                "/patient-portal/appointment/".into(),
                None,
                DeepLinkError::BadId(IdError::Empty),
            ),
            (
                "/patient-portal/appointment".into(),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                format!("/patient-portal/appointment/{long}"),
                None,
                DeepLinkError::BadId(IdError::TooLong { max: 64 }),
            ),
            (
                format!("/patient-portal/appointments/{ID}"),
                None,
                DeepLinkError::UnknownResource,
            ),
            (
                format!("/patient-portal/referral/{ID}"),
                None,
                DeepLinkError::UnknownResource,
            ),
            (
                format!("/Patient-Portal/appointment/{ID}"),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                format!("/patient-portal/appointment/{ID}/"),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                format!("//patient-portal/appointment/{ID}"),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                format!("/fhir/Appointment/{ID}"),
                None,
                DeepLinkError::NotAPortalPath,
            ),
            (
                format!("/patient-portal/appointment/{ID}"),
                Some("trackingId=a&trackingid=b"),
                DeepLinkError::DuplicateParameter("trackingId"),
            ),
            (
                format!("/patient-portal/appointment/{ID}"),
                Some("extSystemName=a&extSystemName=b"),
                DeepLinkError::DuplicateParameter("extSystemName"),
            ),
        ];
        for (path, query, want) in cases {
            assert_eq!(
                b.parse_path_and_query(&path, query),
                Err(want),
                "{path} {query:?}"
            );
        }
        let huge = "x=".to_owned() + &"a".repeat(MAX_QUERY_LEN);
        assert_eq!(
            b.parse_path_and_query(&format!("/patient-portal/appointment/{ID}"), Some(&huge)),
            Err(DeepLinkError::QueryTooLong)
        );
    }

    #[test]
    fn base_prefix_is_enforced() {
        let b = DeepLinkBase::parse("https://host.example/trust-a/").unwrap();
        assert_eq!(b.path_prefix(), "/trust-a");
        assert!(
            b.parse_path_and_query(&format!("/trust-a/patient-portal/appointment/{ID}"), None)
                .is_ok()
        );
        assert_eq!(
            b.parse_path_and_query(&format!("/trust-b/patient-portal/appointment/{ID}"), None),
            Err(DeepLinkError::OutsideBase)
        );
    }

    #[test]
    fn bad_bases() {
        for base in [
            "portal.example",
            "ftp://x.example",
            "https://x.example/?a=1",
            "https://x.example/#f",
            "https://u:p@x.example",
        ] {
            assert_eq!(
                DeepLinkBase::parse(base),
                Err(DeepLinkError::BadBase),
                "{base}"
            );
        }
    }
}
