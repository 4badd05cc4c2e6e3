use super::*;
use crate::nhs_login::TokenError;

#[test]
fn callback_errors_map_to_distinct_outcomes() {
    let consent = "ConsentNotGiven".to_string();
    let other = "something".to_string();
    let cases: Vec<(&str, Option<&String>, &str)> = vec![
        ("access_denied", Some(&consent), "ConsentNotGiven"),
        ("access_denied", Some(&other), "AccessDenied"),
        ("access_denied", None, "AccessDenied"),
        ("login_required", None, "LoginRequired"),
        ("interaction_required", None, "LoginRequired"),
        ("consent_required", None, "LoginRequired"),
        ("sso_login_required", Some(&other), "SsoFailed"),
        ("server_error", None, "Unavailable"),
        ("temporarily_unavailable", None, "Unavailable"),
        ("invalid_request", None, "Provider"),
    ];
    for (error, desc, want) in cases {
        let got = format!("{:?}", map_callback_error(error, desc));
        assert!(got.starts_with(want), "{error}: {got}");
    }
}

#[test]
fn token_errors_for_p5_and_unavailable_keys_become_their_own_outcomes() {
    assert!(matches!(
        LoginError::from(TokenError::IdentityLevelTooLow("P5".into())),
        LoginError::IdentityNotP9(l) if l == "P5"
    ));
    assert!(matches!(
        LoginError::from(TokenError::KeysUnavailable("x".into())),
        LoginError::Unavailable(_)
    ));
    assert!(matches!(
        LoginError::from(TokenError::NonceMismatch),
        LoginError::Token(TokenError::NonceMismatch)
    ));
}

#[test]
fn only_local_paths_are_safe_to_return_to() {
    let cases = [
        ("/", true),
        ("/patient-portal/appointments", true),
        ("/a?b=c#d", true),
        ("", false),
        ("patient-portal", false),
        ("//evil.example", false),
        ("/\\evil.example", false),
        ("/ok\\..", false),
        ("https://evil.example/", false),
        ("/a\r\nSet-Cookie: x", false),
        ("javascript:alert(1)", false),
    ];
    for (path, safe) in cases {
        assert_eq!(is_safe_return_path(path), safe, "{path:?}");
    }
}

#[test]
fn environments_have_the_documented_issuers() {
    assert_eq!(
        Environment::Sandpit.issuer(),
        "https://auth.sandpit.signin.nhs.uk"
    );
    assert_eq!(
        Environment::Integration.issuer(),
        "https://auth.aos.signin.nhs.uk"
    );
    assert_eq!(
        Environment::Production.issuer(),
        "https://auth.login.nhs.uk"
    );
}
