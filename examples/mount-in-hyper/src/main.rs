//! Mounting nhs-portal in your own hyper server, with your own PAS and store.
//!
//! Run with `cargo run -p nhs-portal-example-mount`, open <http://127.0.0.1:8090/> and sign in
//! (with the built-in NHS login simulator, which is not NHS login) as 9000000009.
//!
//! Your server keeps its own routes (here `/hello`) and hands the rest to [`Portal::serve`].
//! `ToyPas` stands in for your PAS adapter: one patient, one appointment, real-time cancel only.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::request_status::{CancelMode, Capabilities, RescheduleMode};
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::*;
use nhs_portal_pas::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};
use nhs_portal_web::nhs_login::{NhsLoginConfig, RsaSigningKey};
use nhs_portal_web::portal::{Portal, PortalConfig, PortalParts};
use nhs_portal_web::sign_in::NhsLoginSignIn;
use nhs_portal_web::simulator::{Simulator, SimulatorClient, SimulatorConfig};

/// Your PAS adapter goes here. This toy one keeps one appointment in memory.
struct ToyPas(Mutex<Appointment>);

#[async_trait]
impl PasBackend for ToyPas {
    async fn patient(&self, _: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        Ok(None)
    }
    async fn list_appointments(&self, p: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let a = self.0.lock().unwrap().clone();
        Ok(if a.patient == *p { vec![a] } else { vec![] })
    }
    async fn get_appointment(
        &self,
        p: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        let a = self.0.lock().unwrap().clone();
        Ok((a.patient == *p && a.id == *id).then_some(a))
    }
    async fn capabilities(&self, _: &Appointment) -> Result<Capabilities, PasError> {
        Ok(Capabilities {
            cancel: CancelMode::RealTime,
            reschedule: RescheduleMode::NotOffered,
        })
    }
    async fn cancel(&self, _: &Appointment, _: &CancelReason) -> Result<Appointment, PasError> {
        let mut a = self.0.lock().unwrap();
        a.status = AppointmentStatus::Cancelled;
        Ok(a.clone())
    }
    async fn find_slots(
        &self,
        _: &Appointment,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        Ok(vec![])
    }
    async fn reschedule(&self, _: &Appointment, _: &str) -> Result<Appointment, PasError> {
        Err(PasError::NotSupported)
    }
    async fn poll_events(&self, _: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        Ok(vec![])
    }
}

fn toy_appointment() -> Appointment {
    Appointment {
        id: AppointmentId::parse("5d0c1f8e-8f5a-4b7e-9a43-2f6e0b1c7d21").unwrap(),
        patient: NhsNumber::parse("9000000009").unwrap(),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Dermatology appointment".into(),
        specialty: Specialty {
            code: TreatmentFunctionCode::parse("330").unwrap(),
            display: "DERMATOLOGY".into(),
        },
        start: Utc::now() + Duration::days(10),
        end: Some(Utc::now() + Duration::days(10) + Duration::minutes(20)),
        medium: ConsultationMedium::FaceToFace,
        priority: None,
        location: Some(Location {
            name: "Toy Hospital Outpatients".into(),
            address: vec![],
        }),
        clinician: None,
        organisation: Organisation {
            ods_code: OdsCode::parse("RXX").unwrap(),
            name: "Toy Hospitals NHS Trust".into(),
        },
        appointment_type: AppointmentType::Outpatient,
        identifiers: vec![],
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let base = "http://127.0.0.1:8090";
    let store = Arc::new(MemoryStore::new()); // or nhs_portal_web::store::connect(url)
    let clock = Arc::new(SystemClock);

    // NHS login: here the built-in simulator; in production NhsLoginConfig for NHS login.
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
    let simulator = Simulator::new(SimulatorConfig::new(&issuer).with_client(client))?;
    let sign_in = NhsLoginSignIn::new(
        NhsLoginConfig::new(&issuer, "toy", key, &callback),
        store.clone(),
        clock.clone(),
    );

    let parts = PortalParts {
        store,
        pas: Arc::new(ToyPas(Mutex::new(toy_appointment()))),
        clock,
        sign_in: Arc::new(sign_in),
        assets: nhs_portal_web::assets::Assets::embedded(),
    };
    let portal = Arc::new(
        Portal::new(PortalConfig::new(base), parts)?.mount("/nhs-login-simulator", simulator),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
    println!("listening on {base}");
    loop {
        let (stream, _) = listener.accept().await?;
        let portal = portal.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let portal = portal.clone();
            async move {
                if req.uri().path() == "/hello" {
                    // One of your own routes.
                    return Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                        Bytes::from("hello"),
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
