use super::client::parse_bad_indices;
use super::*;

#[test]
fn bad_indices_cases() {
    for (data, want) in [
        ("\"nhsNumbers[1]\" with value \"abc\" fails", vec![1]),
        (
            r#""nhsNumbers[1]" with value "abc" fails. "nhsNumbers[4]" with value "0" fails"#,
            vec![1, 4],
        ),
        (
            "\"nhsNumbers[2]\" x \"nhsNumbers[2]\" y \"nhsNumbers[0]\"",
            vec![2, 0],
        ),
        ("clientId mismatch", vec![]),
        ("nhsNumbers[x]", vec![]),
        ("nhsNumbers[4", vec![]),
    ] {
        assert_eq!(parse_bad_indices(data), want, "{data}");
    }
}

#[test]
fn transient_errors() {
    assert!(RecordServiceError::GatewayTimeout.is_transient());
    assert!(RecordServiceError::Unavailable { status: 503 }.is_transient());
    assert!(RecordServiceError::Timeout.is_transient());
    assert!(!RecordServiceError::Unauthorized.is_transient());
    assert!(
        !RecordServiceError::BadRequest {
            code: "error.bad-request".into(),
            indices: vec![]
        }
        .is_transient()
    );
}
