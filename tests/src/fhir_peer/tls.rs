//! https for the peer, with the **test-only** certificates in `tests/fixtures/mtls` (see the
//! README there): the peer's own for `127.0.0.1`, signed by a test CA, and, when asked, a
//! client certificate that CA signed required of every connection (mutual TLS). A connection
//! without one, or with another CA's, is refused in the handshake: no request reaches the peer.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The test CA's certificate (PEM): what a client must trust to reach the peer over https.
pub const TEST_CA_PEM: &str = include_str!("../../fixtures/mtls/test-ca.pem");
const SERVER_PEM: &str = include_str!("../../fixtures/mtls/server.pem");
const SERVER_KEY_PEM: &str = include_str!("../../fixtures/mtls/server-key.pem");
const CLIENT_PEM: &str = include_str!("../../fixtures/mtls/client.pem");
const CLIENT_KEY_PEM: &str = include_str!("../../fixtures/mtls/client-key.pem");
const STRANGER_PEM: &str = include_str!("../../fixtures/mtls/stranger.pem");
const STRANGER_KEY_PEM: &str = include_str!("../../fixtures/mtls/stranger-key.pem");

/// How the peer serves https ([`PeerOptions::tls`](super::PeerOptions::tls)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerTls {
    /// Every connection must show a client certificate the test CA signed.
    pub client_certificate_required: bool,
}

/// The client certificate the peer accepts and its key, in one PEM text (as
/// `FhirPasConfig::client_identity_pem` takes it).
pub fn client_identity_pem() -> String {
    format!("{CLIENT_PEM}{CLIENT_KEY_PEM}")
}

/// A client certificate from another CA and its key: the peer refuses it.
pub fn stranger_identity_pem() -> String {
    format!("{STRANGER_PEM}{STRANGER_KEY_PEM}")
}

fn certificates(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("the test certificates parse")
}

/// The TLS side of the peer, as `tls` asks.
///
/// # Panics
/// When the committed test certificates do not load: this is a test peer.
pub(super) fn acceptor(tls: PeerTls) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = if tls.client_certificate_required {
        let mut roots = rustls::RootCertStore::empty();
        for ca in certificates(TEST_CA_PEM) {
            roots.add(ca).expect("the test CA");
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("a client certificate verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).expect("the server key");
    let config = builder
        .with_single_cert(certificates(SERVER_PEM), key)
        .expect("the server certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

/// [`crate::serve`] over TLS: each connection's handshake first (a refused one is dropped).
pub(super) async fn serve<F, Fut>(listener: tokio::net::TcpListener, tls: TlsAcceptor, handle: F)
where
    F: Fn(Request<Bytes>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Bytes>> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        let (handle, tls) = (handle.clone(), tls.clone());
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handle = handle.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let res = handle(Request::from_parts(parts, body)).await;
                    Ok::<_, hyper::Error>(res.map(Full::new))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
