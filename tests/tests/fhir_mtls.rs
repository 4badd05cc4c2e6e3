//! Mutual TLS to a trust's FHIR PAS: the test peer serves https with the test-only
//! certificates in `tests/fixtures/mtls` and asks every connection for a client certificate
//! its test CA signed. With the configured certificate (`FhirPasConfig::client_identity_pem`)
//! and the trust's CA (`FhirPasConfig::root_certificate_pem`) the adapter's calls succeed;
//! without one, or with another CA's, the peer refuses the handshake and the adapter answers
//! `PasError::Unavailable` having sent no request; credentials never go over plain http.

use std::sync::Arc;

use nhs_portal_core::NhsNumber;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::Capabilities;
use nhs_portal_pas::fhir::{FhirPas, FhirPasConfig, SecretText};
use nhs_portal_pas::{PasBackend, PasError};
use nhs_portal_tests::fhir_peer::{
    FhirPeer, PeerOptions, PeerTls, client_identity_pem, stranger_identity_pem,
};
use serde_json::json;
use url::Url;

const ADULT: &str = "9000000009";

fn adult() -> NhsNumber {
    NhsNumber::parse(ADULT).unwrap()
}

async fn peer(client_certificate_required: bool) -> FhirPeer {
    let peer = FhirPeer::start_with(PeerOptions {
        tls: Some(PeerTls {
            client_certificate_required,
        }),
        ..PeerOptions::default()
    })
    .await;
    peer.put(
        json!({"resourceType": "Patient", "id": "pat-a", "birthDate": "1968-04-12",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ADULT}]}),
    );
    peer.put(
        json!({"resourceType": "Appointment", "id": "appt-a", "status": "booked",
        "specialty": [{"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Specialty-1",
            "code": "330", "display": "DERMATOLOGY"}]}],
        "start": "2031-03-01T09:00:00+00:00", "end": "2031-03-01T09:20:00+00:00",
        "participant": [{"actor": {"reference": "Patient/pat-a"}, "status": "accepted"}]}),
    );
    peer
}

fn with_identity(peer: &FhirPeer, identity: Option<String>) -> FhirPas {
    let mut cfg = peer.adapter_config();
    cfg.client_identity_pem = identity.map(SecretText);
    FhirPas::new(cfg, Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn with_the_client_certificate_the_calls_succeed() {
    let peer = peer(true).await;
    assert!(peer.base_url().starts_with("https://127.0.0.1:"));
    let pas = with_identity(&peer, Some(client_identity_pem()));
    assert_eq!(pas.list_appointments(&adult()).await.unwrap().len(), 1);
    assert!(pas.patient(&adult()).await.unwrap().is_some());
    assert!(!peer.requests().is_empty());
}

#[tokio::test]
async fn without_it_or_with_another_cas_the_peer_refuses_and_the_adapter_says_so() {
    let peer = peer(true).await;
    for identity in [None, Some(stranger_identity_pem())] {
        let stranger = identity.is_some();
        let got = with_identity(&peer, identity)
            .list_appointments(&adult())
            .await;
        assert!(
            matches!(got, Err(PasError::Unavailable(_))),
            "stranger {stranger}: {got:?}"
        );
    }
    assert!(
        peer.requests().is_empty(),
        "no request got past the handshake"
    );
    // The peer itself is fine: the right certificate still gets in.
    let pas = with_identity(&peer, Some(client_identity_pem()));
    assert_eq!(pas.list_appointments(&adult()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_servers_certificate_must_come_from_a_trusted_ca() {
    // https alone (no client certificate asked), but the adapter does not trust the test CA.
    let peer = peer(false).await;
    let mut cfg = peer.adapter_config();
    cfg.root_certificate_pem = None;
    let pas = FhirPas::new(cfg, Arc::new(SystemClock)).unwrap();
    let got = pas.list_appointments(&adult()).await;
    assert!(matches!(got, Err(PasError::Unavailable(_))), "{got:?}");
    // Trusting it, the same call succeeds.
    assert_eq!(
        with_identity(&peer, None)
            .list_appointments(&adult())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_client_certificate_needs_https_and_must_be_readable() {
    let organisation = nhs_portal_core::Organisation::new("R9N", "Northfield").unwrap();
    let over = |url: &str| {
        let mut cfg = FhirPasConfig::new(
            Url::parse(url).unwrap(),
            organisation.clone(),
            Capabilities::REAL_TIME,
        );
        cfg.client_identity_pem = Some(SecretText(client_identity_pem()));
        cfg
    };
    // Plain http to another machine: refused before anything is sent.
    assert!(over("http://pas.example.nhs.uk/fhir/").check().is_err());
    assert!(
        FhirPas::new(
            over("http://pas.example.nhs.uk/fhir/"),
            Arc::new(SystemClock)
        )
        .is_err()
    );
    assert!(over("https://pas.example.nhs.uk/fhir/").check().is_ok());
    // A certificate that is not one: a typed answer at start-up, not a failure later.
    let mut unreadable = over("https://pas.example.nhs.uk/fhir/");
    unreadable.client_identity_pem = Some(SecretText("not a certificate".into()));
    assert!(matches!(
        FhirPas::new(unreadable, Arc::new(SystemClock)),
        Err(PasError::Unauthorised(_))
    ));
    let mut bad_root = over("https://pas.example.nhs.uk/fhir/");
    bad_root.root_certificate_pem = Some("not a certificate".into());
    assert!(FhirPas::new(bad_root, Arc::new(SystemClock)).is_err());
}
