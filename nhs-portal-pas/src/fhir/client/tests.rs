use super::*;

#[test]
fn next_links_resolve_against_the_base_table() {
    let base = Url::parse("https://pas.example/fhir/R4/").unwrap();
    let cases = [
        // relative to the base, as FHIR says
        (
            "Appointment?_page=s1&_offset=20",
            Some("https://pas.example/fhir/R4/Appointment?_page=s1&_offset=20"),
        ),
        // path-absolute
        (
            "/fhir/R4/Appointment?_page=s1",
            Some("https://pas.example/fhir/R4/Appointment?_page=s1"),
        ),
        // absolute on the base
        (
            "https://pas.example/fhir/R4/Appointment?_page=s1",
            Some("https://pas.example/fhir/R4/Appointment?_page=s1"),
        ),
        // a proxy's internal base: moved onto ours, type and query kept
        (
            "http://pas-internal:8080/fhir/Appointment?_page=s1&_offset=40",
            Some("https://pas.example/fhir/R4/Appointment?_page=s1&_offset=40"),
        ),
        // HAPI's base-level paging link on the internal base
        (
            "http://pas-internal:8080/fhir/?_getpages=abc&_getpagesoffset=20",
            Some("https://pas.example/fhir/R4/?_getpages=abc&_getpagesoffset=20"),
        ),
        // another origin and another path: never followed
        ("https://elsewhere.example/steal?x=1", None),
    ];
    for (link, want) in cases {
        assert_eq!(
            next_link(&base, link, "Appointment").map(|u| u.to_string()),
            want.map(str::to_owned),
            "{link}"
        );
    }
}

#[test]
fn retry_after_waits_only_when_short_and_retries_remain_table() {
    let max = Duration::from_secs(2);
    let limited = |secs| PasError::RateLimited {
        retry_after: Some(Duration::from_secs(secs)),
    };
    let backoff = Some(Duration::from_millis(100));
    let cases = [
        (limited(1), backoff, Some(Duration::from_secs(1))),
        (limited(2), backoff, Some(Duration::from_secs(2))),
        (limited(30), backoff, None),
        (limited(1), None, None),
        (PasError::Timeout, backoff, backoff),
        (
            PasError::RateLimited { retry_after: None },
            backoff,
            backoff,
        ),
    ];
    for (e, delay, want) in cases {
        assert_eq!(next_delay(&e, delay, max), want, "{e:?} {delay:?}");
    }
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-07-01T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
    assert_eq!(
        retry_after("Wed, 01 Jul 2026 09:00:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        retry_after("Wed, 01 Jul 2026 08:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(retry_after("soon", now), None);
}
