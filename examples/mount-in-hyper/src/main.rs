//! Mounting nhs-portal in your own hyper server under a path of your site, with your own PAS
//! adapter and store.
//!
//! Run with `cargo run -p nhs-portal-example-mount`, open <http://127.0.0.1:8090/hospital/> and
//! sign in (with the built-in NHS login simulator, which is not NHS login) as 9000000009.
//!
//! Your server keeps its own routes (here `/` and `/hello`) and hands everything under the
//! portal's base URL path (`/hospital`) to [`Portal::serve`], untouched: the portal takes the
//! path off and puts it back on its links, redirects and cookies itself.
//! [`ToyPas`](nhs_portal_example_mount::ToyPas) stands in for your PAS adapter (its tests run
//! the conformance kit on it).
//!
//! Logs go to stderr (`RUST_LOG=debug` for more). When sign-in fails, look for
//! `NHS login discovery failed` (the issuer URL is wrong or unreachable from the server),
//! `NHS login sign-in failed` (its `error` says which check of the ID token or the token
//! exchange failed: issuer, audience, nonce, expiry, signature, identity level), and
//! `sign-in callback refused: not started in this browser` (the cookies did not come back: a
//! `Secure` cookie over plain http on a host other than localhost, or a cookie `Path` outside
//! the base URL's path). The patient sees only "Sorry, there is a problem with the service".

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::{Appointment, NhsNumber, OdsCode, TreatmentFunctionCode};
use nhs_portal_example_mount::ToyPas;
use nhs_portal_pas::{PatientRecord, Slot};
use nhs_portal_web::nhs_login::{NhsLoginConfig, RsaSigningKey};
use nhs_portal_web::portal::{Portal, PortalConfig, PortalParts};
use nhs_portal_web::sign_in::NhsLoginSignIn;
use nhs_portal_web::simulator::{Simulator, SimulatorClient, SimulatorConfig};

/// The portal's path on this site.
const PORTAL_PATH: &str = "/hospital";

/// The one patient the toy PAS knows (one of the simulator's test patients).
const PATIENT: &str = "9000000009";

/// One patient with one appointment and a few free slots at a real-time trust. The patient's
/// date of birth must be the one NHS login (here the simulator) gives, or sign-in ends on "We
/// could not match your details".
fn toy_pas(date_of_birth: NaiveDate) -> Result<ToyPas, Box<dyn std::error::Error + Send + Sync>> {
    let pas = ToyPas::new([]);
    let patient = NhsNumber::parse(PATIENT)?;
    pas.add_patient(PatientRecord {
        nhs_number: patient.clone(),
        date_of_birth,
        portal_access: true,
        restricted: false,
    });
    let start = Utc::now() + Duration::days(10);
    pas.add_appointment(
        Appointment::builder()
            .id("5d0c1f8e-8f5a-4b7e-9a43-2f6e0b1c7d21")
            .patient(patient.as_str())
            .organisation("RXX", "Toy Hospitals NHS Trust")
            .specialty("330", "DERMATOLOGY")
            .start(start)
            .duration(Duration::minutes(20))
            .location("Toy Hospital Outpatients", ["1 Toy Road"])
            .build()?,
    );
    for day in 12..15 {
        let start = Utc::now() + Duration::days(day);
        pas.add_slot(
            OdsCode::parse("RXX")?,
            TreatmentFunctionCode::parse("330")?,
            Slot {
                id: format!("toy-slot-{day}"),
                start,
                end: start + Duration::minutes(20),
                location: None,
                clinician: None,
            },
        );
    }
    Ok(pas)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Without a subscriber a misconfiguration fails silently: a 503 page and nothing on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let base = format!("http://127.0.0.1:8090{PORTAL_PATH}");
    let store = Arc::new(MemoryStore::new()); // or nhs_portal_web::store::connect(url)
    let clock = Arc::new(SystemClock);

    // NHS login: here the built-in simulator, mounted in the portal; in production
    // NhsLoginConfig for NHS login, with its issuer and your registered redirect URI.
    let (issuer, callback) = (
        format!("{base}/nhs-login-simulator"),
        format!("{base}/sign-in/callback"),
    );
    let key = RsaSigningKey::generate()?;
    let client = SimulatorClient {
        client_id: "toy".into(),
        redirect_uris: vec![callback.clone()],
        public_key: key.public_jwk(),
    };
    let config = SimulatorConfig::new(&issuer)
        .mounted_at("/nhs-login-simulator")
        .with_client(client);
    let date_of_birth = config
        .patients
        .iter()
        .find(|p| p.nhs_number.as_str() == PATIENT)
        .map(|p| p.date_of_birth)
        .ok_or("the simulator's test patients include 9000000009")?;
    let simulator = Simulator::new(config)?;
    let sign_in = NhsLoginSignIn::new(
        NhsLoginConfig::new(&issuer, "toy", key, &callback),
        store.clone(),
        clock.clone(),
    );

    let parts = PortalParts {
        store,
        pas: Arc::new(toy_pas(date_of_birth)?),
        clock,
        sign_in: Arc::new(sign_in),
        assets: nhs_portal_web::assets::Assets::embedded(),
    };
    let portal = Arc::new(
        Portal::new(PortalConfig::new(&base), parts)?.mount("/nhs-login-simulator", simulator),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    eprintln!("listening: your site at http://127.0.0.1:8090/, the portal at {base}/");
    loop {
        let (stream, _) = listener.accept().await?;
        let portal = portal.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let portal = portal.clone();
            async move {
                let path = req.uri().path();
                let in_portal = path == PORTAL_PATH || path.starts_with(&format!("{PORTAL_PATH}/"));
                if !in_portal {
                    // Your own routes.
                    let body = match path {
                        "/hello" => "hello",
                        _ => "Your own site. The portal is at /hospital/.",
                    };
                    return Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                        Bytes::from(body),
                    )));
                }
                Ok(portal.serve(req).await)
            }
        });
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
