//! Measures PAS call latency: the simulated PAS, and `FhirPas` against the Medplum test peer
//! (when its `node_modules` are installed: `bash scripts/setup-node`).
//!
//! ```text
//! cargo run --release -p nhs-portal-pas --example pas_latency [-- <iterations>]
//! ```
//!
//! Prints p50 / p95 / max per operation. Numbers depend on the machine; see `docs/benchmarks.md`.

#[path = "../tests/support/medplum.rs"]
mod medplum;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, DemoData};

async fn measure<F, Fut>(name: &str, n: usize, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        assert!(call().await, "{name} failed");
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{name:<48} n={n:<5} p50={:>9.3?} p95={:>9.3?} max={:>9.3?}",
        pct(0.50),
        pct(0.95),
        times.last().copied().unwrap_or(Duration::ZERO)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let adult = demo::nhs_number(demo::ADULT);

    let data = DemoData::build(Utc::now());
    let sim = data.simulated_pas(Arc::new(SystemClock));
    let derm_id = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY);
    let derm = data
        .appointment(demo::KEY_ADULT_DERMATOLOGY)
        .unwrap()
        .clone();
    let (from, to) = (Utc::now(), Utc::now() + chrono::Duration::days(28));
    measure("demo: DemoData::build", n, || async {
        !DemoData::build(Utc::now()).appointments.is_empty()
    })
    .await;
    measure("simulated: list_appointments (10 appts)", n, || async {
        sim.list_appointments(&adult).await.is_ok()
    })
    .await;
    measure("simulated: get_appointment", n, || async {
        matches!(sim.get_appointment(&adult, &derm_id).await, Ok(Some(_)))
    })
    .await;
    measure("simulated: find_slots (4 weeks)", n, || async {
        sim.find_slots(&derm, from, to).await.is_ok()
    })
    .await;

    if !medplum::peer_dir()
        .join("node_modules/@medplum/fhir-router")
        .exists()
    {
        println!("(Medplum peer not installed: run `bash scripts/setup-node` for FhirPas numbers)");
        return;
    }
    let m = medplum::start().await;
    let pas = m.real_time();
    let derm_id = m.id(demo::KEY_ADULT_DERMATOLOGY);
    let derm = pas
        .get_appointment(&adult, &derm_id)
        .await
        .unwrap()
        .unwrap();
    let n = n.min(300);
    measure("FhirPas/Medplum: patient", n, || async {
        matches!(pas.patient(&adult).await, Ok(Some(_)))
    })
    .await;
    measure(
        "FhirPas/Medplum: list_appointments (10 appts)",
        n,
        || async { matches!(pas.list_appointments(&adult).await, Ok(v) if v.len() == 10) },
    )
    .await;
    measure("FhirPas/Medplum: get_appointment", n, || async {
        matches!(pas.get_appointment(&adult, &derm_id).await, Ok(Some(_)))
    })
    .await;
    measure(
        "FhirPas/Medplum: find_slots (4 weeks)",
        n.min(50),
        || async { pas.find_slots(&derm, from, to).await.is_ok() },
    )
    .await;
}
