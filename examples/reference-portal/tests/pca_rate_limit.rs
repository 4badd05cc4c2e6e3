//! `NHS_PORTAL_DEMO_PCA_RATE_LIMIT`, seen from outside the binary: a limit of 1 (per second,
//! burst 1) refuses back-to-back calls with 429, as the default 60 does past its burst
//! (WF-NFR-03), and `0` (for saturation benchmarks in demo mode, see docs/benchmarks.md)
//! answers every call.

mod common;

use nhs_portal_pas::demo;
use nhs_portal_tests::get_appointments_uri;

const BIN: &str = env!("CARGO_BIN_EXE_nhs-portal-example");

/// How many of `n` back-to-back calls of the demo PCA client the API refused with 429.
async fn refused_of(base: &str, n: usize) -> usize {
    let http = reqwest::Client::new();
    let (bearer, id_token) = common::pca_tokens(base, demo::ADULT).await;
    let mut refused = 0;
    for _ in 0..n {
        let status = http
            .get(format!("{base}{}", get_appointments_uri(demo::ADULT)))
            .bearer_auth(&bearer)
            .header("x-correlation-id", "rate-limit-test")
            .header("nhsd-id-token", &id_token)
            .send()
            .await
            .unwrap()
            .status();
        match status.as_u16() {
            200 => {}
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    refused
}

#[tokio::test]
async fn the_demo_pca_rate_limit_setting_limits_and_zero_turns_the_limiter_off() {
    // Five calls at 1 per second with a burst of 1: all five pass only if they took 4 s.
    let limited = common::start_demo(BIN, &[("NHS_PORTAL_DEMO_PCA_RATE_LIMIT", "1")]);
    assert!(refused_of(&limited.base_url, 5).await > 0);

    let unlimited = common::start_demo(BIN, &[("NHS_PORTAL_DEMO_PCA_RATE_LIMIT", "0")]);
    assert_eq!(refused_of(&unlimited.base_url, 200).await, 0);
}
