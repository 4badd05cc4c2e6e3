//! Throughput of the reporting path: mapping and batching events, and a full outbox pass over
//! the in-memory store into a sink that accepts everything (no network). Results:
//! `docs/benchmarks.md`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nhs_portal_core::clock::SystemClock;
use nhs_portal_core::reporting::SessionOutcome;
use nhs_portal_core::store::Outbox;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::{AppointmentId, NhsNumber, ReportingEvent};
use nhs_portal_reporting::wire::split_by_size;
use nhs_portal_reporting::{
    DeliveryError, OutboxWorker, OutboxWorkerConfig, ReportingSink, WayfinderEvent,
};

/// Accepts every batch after serialising it, as the real client would.
#[derive(Debug)]
struct AcceptAll;

#[async_trait]
impl ReportingSink for AcceptAll {
    async fn deliver(&self, events: &[WayfinderEvent]) -> Result<(), DeliveryError> {
        std::hint::black_box(serde_json::to_vec(events).unwrap());
        Ok(())
    }
}

fn events(n: usize) -> Vec<ReportingEvent> {
    let at = Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap();
    let patient = NhsNumber::parse("9000000009").unwrap();
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                ReportingEvent::Session {
                    at,
                    patient: patient.clone(),
                    session_id: format!("session-{i}"),
                    in_nhs_app: true,
                    device: Some("Mozilla/5.0 (Linux; Android 14) nhsapp-android/2.1.0".into()),
                    outcome: SessionOutcome::Success,
                    tracking_id: Some("95c487ab-d152-4cba-9c75-e8fd91a65906".into()),
                }
            } else {
                ReportingEvent::AppointmentView {
                    at,
                    appointment: AppointmentId::new_random(),
                    session_id: format!("session-{i}"),
                    tracking_id: None,
                }
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let domain = events(10_000);
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(domain.len() as u64));
    g.bench_function("map_and_split_10k", |b| {
        b.iter(|| {
            let wire: Vec<WayfinderEvent> = domain
                .iter()
                .map(|e| WayfinderEvent::from_domain(e).unwrap())
                .collect();
            let sizes: Vec<usize> = wire.iter().map(WayfinderEvent::json_len).collect();
            std::hint::black_box(split_by_size(&sizes, 2_000_000))
        })
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batch = events(1_000);
    let mut g = c.benchmark_group("outbox");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("pass_1k_memory_store", |b| {
        b.iter_batched(
            || {
                let store = Arc::new(MemoryStore::new());
                rt.block_on(store.enqueue_events(&batch)).unwrap();
                OutboxWorker::new(store, Arc::new(AcceptAll), Arc::new(SystemClock), {
                    let mut config = OutboxWorkerConfig::default();
                    config.batch_size = 1_000;
                    config
                })
            },
            |worker| {
                let s = rt.block_on(worker.run_once()).unwrap();
                assert_eq!(s.delivered, 1_000);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
