//! Where a patient may be sent back to after signing in or timing out: the "safe return path"
//! rule, in one place.
//!
//! A return path comes from the request (the page asked for, a `return_to` parameter) and ends
//! up in a `Location` header, so it must be a path on this site that no browser can read as
//! another host: it starts with exactly one `/`, has no `\`, no `..`, no `//`, only
//! visible ASCII (no spaces or control characters) and is shorter than [`MAX_LEN`] bytes.
//! [`is_safe_portal_return`] also keeps it inside the patient pages.
//!
//! ```
//! use nhs_portal_core::return_path::{is_safe_portal_return, is_safe_return};
//! assert!(is_safe_return("/patient-portal/appointment/123?x=1"));
//! assert!(!is_safe_return("//evil.example/"));
//! assert!(!is_safe_return("https://evil.example/"));
//! assert!(!is_safe_portal_return("/staff"));
//! ```

/// Where the patient pages live.
pub const PORTAL_PREFIX: &str = "/patient-portal/";

/// Longest return path accepted, in bytes.
pub const MAX_LEN: usize = 512;

/// Whether `path` is a safe local path to redirect to (see the [module docs](self)).
pub fn is_safe_return(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("..")
        && path.len() < MAX_LEN
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `path` is a safe return path inside the patient pages ([`PORTAL_PREFIX`]).
pub fn is_safe_portal_return(path: &str) -> bool {
    path.starts_with(PORTAL_PREFIX) && is_safe_return(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_table() {
        let long = format!("/patient-portal/{}", "a".repeat(MAX_LEN));
        // (path, safe, safe inside the portal)
        let cases = [
            ("/", true, false),
            ("/patient-portal/appointments", true, true),
            ("/patient-portal/appointment/x", true, true),
            (
                "/patient-portal/appointment/x?extSystemName=A&trackingId=b#top",
                true,
                true,
            ),
            ("/a?b=c#d", true, false),
            ("/other", true, false),
            ("", false, false),
            ("patient-portal", false, false),
            ("//evil.example", false, false),
            ("//evil.example/patient-portal/", false, false),
            ("/\\evil.example", false, false),
            ("/patient-portal/\\evil", false, false),
            ("/ok\\..", false, false),
            ("/patient-portal/../admin", false, false),
            ("/patient-portal/x?next=..", false, false),
            ("/patient-portal/a..b", false, false),
            ("/patient-portal//evil", false, false),
            ("https://evil.example/", false, false),
            ("javascript:alert(1)", false, false),
            ("/a\r\nSet-Cookie: x", false, false),
            ("/patient-portal/a b", false, false),
            ("/patient-portal/caf\u{e9}", false, false),
            (long.as_str(), false, false),
        ];
        for (path, safe, portal) in cases {
            assert_eq!(is_safe_return(path), safe, "{path:?}");
            assert_eq!(is_safe_portal_return(path), portal, "{path:?}");
        }
    }
}
