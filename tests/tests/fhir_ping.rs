//! `FhirPas::ping`, the reachability that `/health/ready` reports: a server that answers is
//! reachable, one that does not is not.

use std::sync::Arc;

use nhs_portal_core::clock::SystemClock;
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::fhir::FhirPas;
use nhs_portal_tests::fhir_peer::FhirPeer;

#[tokio::test]
async fn a_server_that_answers_is_reachable_and_one_that_is_gone_is_not() {
    let peer = FhirPeer::start().await;
    let mut config = peer.adapter_config();
    config.deadline = std::time::Duration::from_secs(5);
    let pas = FhirPas::new(config.clone(), Arc::new(SystemClock)).unwrap();
    assert!(matches!(pas.ping().await, Some(Ok(()))));

    // The same adapter settings, pointed at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    config.base_url = url::Url::parse(&format!("http://127.0.0.1:{port}/fhir/")).unwrap();
    let gone = FhirPas::new(config, Arc::new(SystemClock)).unwrap();
    assert!(matches!(gone.ping().await, Some(Err(_))));
}
