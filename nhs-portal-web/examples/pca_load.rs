//! Load test of the PCA Get Appointments API over real HTTP (WF-NFR-01: 400 ms at P95;
//! WF-NFR-03: 429 above 60 requests per second).
//!
//! Run with: `cargo run --release -p nhs-portal-web --example pca_load -- [seconds] [concurrency]`
//!
//! It serves [`FhirApi`] with hyper on 127.0.0.1 (a free port), backed by the PAS crate's demo
//! data in `SimulatedPas` and a seeded `MemoryStore`, with the real token checks (RS512 bearer
//! token against a JWKS, RS512 NHS login ID token), and drives it with reqwest:
//! 1. **60 req/s, open loop**, default limiter (60/s): requests are sent on a fixed schedule and
//!    latency is measured from the scheduled send time, so a slow server cannot hide its queue.
//! 2. **120 req/s, open loop**, default limiter: shows the limiter shaping traffic (200 vs 429).
//! 3. **Saturation, closed loop**: limiter off, `concurrency` workers sending back to back.
//!
//! Every request asks for the main demo patient (the largest Bundle: all of their appointments,
//! pending requests overlaid). Numbers go to `docs/benchmarks.md` by hand.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::JwkSet;
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::deep_link::DeepLinkBase;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_pas::demo::{self, ADULT, DemoData};
use nhs_portal_web::fhir_api::{FhirApi, FhirApiConfig, JwksBearerValidator};
use nhs_portal_web::nhs_login::{
    ForwardedTokenConfig, JwksCache, JwksForwardedVerifier, RsaSigningKey,
};
use serde_json::json;

const PCA_ISSUER: &str = "https://auth.pca.example";
const AUDIENCE: &str = "portal-get-appointments";
const NHS_LOGIN_ISSUER: &str = "https://auth.login.nhs.example";
const NHS_APP: &str = "nhs-online";

struct Phase {
    name: String,
    latencies: Vec<Duration>,
    ok: usize,
    limited: usize,
    other: usize,
    elapsed: Duration,
}

impl Phase {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn report(mut self) {
        self.latencies.sort();
        let total = self.ok + self.limited + self.other;
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            self.name,
            total,
            total as f64 / self.elapsed.as_secs_f64(),
            self.ok,
            self.limited,
            self.other,
            self.percentile(0.50),
            self.percentile(0.95),
            self.percentile(0.99),
            self.latencies
                .last()
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        );
    }
}

struct Target {
    url: String,
    bearer: String,
    id_token: String,
}

async fn one(client: &reqwest::Client, t: &Target) -> u16 {
    let resp = client
        .get(&t.url)
        .header("Authorization", format!("Bearer {}", t.bearer))
        .header("X-Correlation-ID", uuid::Uuid::new_v4().to_string())
        .header("NHSD-ID-Token", &t.id_token)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

fn tally(name: String, results: Vec<(u16, Duration)>, elapsed: Duration) -> Phase {
    let mut p = Phase {
        name,
        latencies: Vec::with_capacity(results.len()),
        ok: 0,
        limited: 0,
        other: 0,
        elapsed,
    };
    for (status, latency) in results {
        match status {
            200 => {
                p.ok += 1;
                p.latencies.push(latency);
            }
            429 => p.limited += 1,
            _ => p.other += 1,
        }
    }
    p
}

/// Sends `rate` requests per second for `seconds`, each on its own schedule.
async fn open_loop(client: &reqwest::Client, t: &Arc<Target>, rate: u32, seconds: u64) -> Phase {
    let n = rate as u64 * seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = start + interval * i as u32;
        let (client, t) = (client.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let status = one(&client, &t).await;
            (status, due.elapsed())
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("request task"));
    }
    tally(
        format!("{rate} req/s offered, limiter 60/s"),
        results,
        start.elapsed(),
    )
}

/// `concurrency` workers, back to back, for `seconds`.
async fn closed_loop(
    client: &reqwest::Client,
    t: &Arc<Target>,
    concurrency: usize,
    seconds: u64,
) -> Phase {
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, t) = (client.clone(), t.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while Instant::now() < end {
                let sent = Instant::now();
                let status = one(&client, &t).await;
                out.push((status, sent.elapsed()));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for w in workers {
        results.extend(w.await.expect("worker"));
    }
    tally(
        format!("saturation, {concurrency} connections, limiter off"),
        results,
        start.elapsed(),
    )
}

async fn serve(api: Arc<FhirApi>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let api = api.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let api = api.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let resp = api.handle(http::Request::from_parts(parts, body)).await;
                        Ok::<_, Infallible>(resp.map(Full::<Bytes>::new))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn api(key: &RsaSigningKey, rate_limit: f64) -> Arc<FhirApi> {
    let now = chrono::Utc::now();
    let data = DemoData::build(now);
    let pas = Arc::new(data.simulated_pas(Arc::new(SystemClock)));
    let store = Arc::new(MemoryStore::new());
    demo::seed_store(store.as_ref(), &data).await.unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let bearer = JwksBearerValidator::from_jwks_json(
        &serde_json::to_string(&jwks).unwrap(),
        PCA_ISSUER,
        [AUDIENCE],
    )
    .unwrap();
    let id_tokens = JwksForwardedVerifier::new(
        ForwardedTokenConfig::new(NHS_LOGIN_ISSUER, vec![NHS_APP.into()]),
        Arc::new(JwksCache::fixed(jwks)),
    );
    let mut config = FhirApiConfig::new(
        DeepLinkBase::parse("https://portal.example.nhs.uk").unwrap(),
        "Example Portal",
    );
    config.rate_limit_per_second = rate_limit;
    Arc::new(FhirApi::new(
        pas,
        store,
        Arc::new(SystemClock),
        Arc::new(bearer),
        Arc::new(id_tokens),
        config,
    ))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);

    let key = RsaSigningKey::generate().unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let born = DemoData::build(chrono::Utc::now())
        .patient(ADULT)
        .unwrap()
        .record
        .date_of_birth;
    let bearer = key
        .sign(&json!({"iss": PCA_ISSUER, "aud": AUDIENCE, "exp": exp, "client_id": "pca"}))
        .unwrap();
    let id_token = key
        .sign(&json!({
            "iss": NHS_LOGIN_ISSUER, "aud": NHS_APP, "exp": exp, "iat": exp - 3600,
            "sub": "load-test", "nhs_number": ADULT, "birthdate": born.to_string(),
            "identity_proofing_level": "P9", "vot": "P9.Cp.Cd",
        }))
        .unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let path = "/fhir/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C";

    println!(
        "| Phase | Requests | Throughput (req/s) | 200 | 429 | Other | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");

    let limited = serve(api(&key, 60.0).await).await;
    let t = Arc::new(Target {
        url: format!("http://{limited}{path}{ADULT}"),
        bearer: bearer.clone(),
        id_token: id_token.clone(),
    });
    // Warm up connections and code paths, then let the bucket refill.
    for _ in 0..20 {
        one(&client, &t).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    open_loop(&client, &t, 60, seconds).await.report();
    tokio::time::sleep(Duration::from_secs(2)).await;
    open_loop(&client, &t, 120, seconds).await.report();

    let open = serve(api(&key, 0.0).await).await;
    let t = Arc::new(Target {
        url: format!("http://{open}{path}{ADULT}"),
        bearer,
        id_token,
    });
    for _ in 0..20 {
        one(&client, &t).await;
    }
    closed_loop(&client, &t, concurrency, seconds)
        .await
        .report();
}
