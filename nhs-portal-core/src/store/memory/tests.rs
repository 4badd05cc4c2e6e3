//! The memory store against the contract suite, and its own concurrency test.

use std::sync::Arc;

use super::*;
use crate::request_status::RequestKind;
use crate::store::contract;

// Multi-threaded: some contract cases call the store from several threads at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_contract() {
    contract::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_for_one_appointment_make_one_request() {
    let store = Arc::new(MemoryStore::new());
    let patient = NhsNumber::parse("9000000009").unwrap();
    let appointment = AppointmentId::parse("appt-1").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let patient = patient.clone();
            let appointment = appointment.clone();
            tokio::spawn(async move {
                let req = NewRequest {
                    id: uuid::Uuid::new_v4(),
                    idempotency_key: format!("key-{}", i % 4),
                    appointment,
                    patient: patient.clone(),
                    ods_code: OdsCode::parse("RJ1").unwrap(),
                    kind: RequestKind::Cancel,
                    reason: "r".into(),
                    details: None,
                    created_at: Utc::now(),
                };
                let audit = AuditRecord {
                    at: req.created_at,
                    patient,
                    actor: "patient".into(),
                    session: None,
                    action: AuditAction::CancelRequested,
                    appointment: None,
                    detail: None,
                };
                store.submit_request(&req, &audit, &[]).await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Submitted::Created(_)) {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.list_requests(None, None).await.unwrap().len(), 1);
}
