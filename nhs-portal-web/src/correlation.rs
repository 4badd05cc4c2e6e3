//! Correlation ids: the one rule for the id a request is logged under and answered with.
//!
//! A request's id is its `X-Correlation-ID` when usable, else its `X-Request-ID`, else a
//! random one (a v4 UUID: never derived from the request, so never from anything about the
//! patient). [`Portal::handle`](crate::portal::Portal::handle) opens one `tracing` span per
//! request carrying it (`correlation_id`), so every line logged while the request is handled
//! names it, and echoes it on the response in the header it came in (a generated one as
//! `X-Correlation-ID`). The PCA API still refuses a call without `X-Correlation-ID`: that rule
//! is the API's own (`fhir_api`); through the portal its refusal carries the generated id, so
//! the caller can quote it.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The correlation header: read first, and the one a generated id is echoed in.
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
/// The request-id header: read when there is no usable `X-Correlation-ID`.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest id accepted from a request.
pub const MAX_LEN: usize = 200;

/// Whether a header value can serve as a correlation id: 1 to [`MAX_LEN`] printable ASCII
/// characters, no spaces.
pub fn usable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= MAX_LEN && b.iter().all(|c| c.is_ascii_graphic())
}

/// A request's correlation id and the header it is echoed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// The header it came in, or `X-Correlation-ID` for a generated one.
    pub header: HeaderName,
    /// The id.
    pub id: HeaderValue,
}

impl Correlation {
    /// The id a request is handled under (the rule at the top of this module).
    pub fn of(headers: &HeaderMap) -> Self {
        for header in [CORRELATION_ID, REQUEST_ID] {
            if let Some(id) = headers.get(&header).filter(|v| usable(v)) {
                return Self {
                    header,
                    id: id.clone(),
                };
            }
        }
        let generated = uuid::Uuid::new_v4().to_string();
        Self {
            header: CORRELATION_ID,
            id: HeaderValue::from_str(&generated).unwrap_or(HeaderValue::from_static("-")),
        }
    }

    /// The id a request is handled under: the one a server's layer already chose for it (a
    /// `Correlation` in its extensions, so the server's own log lines and the portal's agree),
    /// else [`Correlation::of`] its headers.
    pub fn of_request<B>(req: &http::Request<B>) -> Self {
        match req.extensions().get::<Self>() {
            Some(c) => c.clone(),
            None => Self::of(req.headers()),
        }
    }

    /// The id as text (usable ids are ASCII).
    pub fn as_str(&self) -> &str {
        self.id.to_str().unwrap_or("-")
    }

    /// Puts the id on a response in its header, unless the response set that header itself.
    pub fn echo(&self, headers: &mut HeaderMap) {
        if headers.contains_key(&self.header) {
            return;
        }
        headers.insert(self.header.clone(), self.id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn correlation_id_first_then_request_id_then_generated() {
        let c = Correlation::of(&headers(&[
            ("x-correlation-id", "c-1"),
            ("x-request-id", "r-1"),
        ]));
        assert_eq!((c.header.as_str(), c.as_str()), ("x-correlation-id", "c-1"));
        let c = Correlation::of(&headers(&[("x-request-id", "r-1")]));
        assert_eq!((c.header.as_str(), c.as_str()), ("x-request-id", "r-1"));
        // An unusable correlation id falls through to the request id.
        let c = Correlation::of(&headers(&[
            ("x-correlation-id", "a b"),
            ("x-request-id", "r-2"),
        ]));
        assert_eq!(c.as_str(), "r-2");
        let a = Correlation::of(&HeaderMap::new());
        let b = Correlation::of(&HeaderMap::new());
        assert_eq!(a.header, CORRELATION_ID);
        assert_eq!(a.as_str().len(), 36);
        assert_ne!(a.id, b.id, "generated ids are random");
    }

    #[test]
    fn too_long_or_empty_ids_are_not_used() {
        assert!(!usable(&HeaderValue::from_static("")));
        assert!(usable(
            &HeaderValue::from_str(&"x".repeat(MAX_LEN)).unwrap()
        ));
        assert!(!usable(
            &HeaderValue::from_str(&"x".repeat(MAX_LEN + 1)).unwrap()
        ));
    }
}
