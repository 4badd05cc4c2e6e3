//! Where trusts' FHIR servers post their Subscription notifications (rest-hook):
//! `POST /fhir-notifications/{ODS code}`, mounted as a [`Handler`] at [`PATH`] only when a trust
//! uses Subscriptions (`nhs_portal_pas::fhir::FhirPas::subscribe`).
//!
//! Each notification must carry the trust's shared secret as `Authorization: Bearer …`
//! (compared in constant time; otherwise 401 and nothing is read). Its changes are read by the
//! trust's [`NotificationReader`] and processed by [`Worklist::sync_events`] (requests resolved,
//! changes reported and recorded as seen) **before** the answer: 200 means every change is
//! stored, and any failure is a 503 so the server sends it again (nothing accepted is lost; a
//! change processed twice is skipped by its version). Handshakes and heartbeats get 200 and
//! change nothing. Every refusal is a FHIR `OperationOutcome` naming no patient.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use nhs_portal_core::OdsCode;
use nhs_portal_pas::PasError;
use nhs_portal_pas::notification::{Notification, NotificationReader};
use nhs_portal_pas::worklist::Worklist;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::http_kit::{Handler, bearer_token, json_as};

/// Where the route is mounted.
pub const PATH: &str = "/fhir-notifications";

const FHIR_JSON: &str = "application/fhir+json";

struct Subscribed {
    reader: Arc<dyn NotificationReader>,
    secret: Vec<u8>,
}

/// The notification route for the trusts that use Subscriptions. See the
/// [module documentation](self).
pub struct FhirNotifications {
    worklist: Worklist,
    trusts: HashMap<String, Subscribed>,
}

impl std::fmt::Debug for FhirNotifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirNotifications")
            .field("trusts", &self.trusts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A FHIR `OperationOutcome` answer (no patient data in `text`).
fn outcome(status: StatusCode, code: &str, text: &str) -> Response<Bytes> {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    });
    json_as(status, FHIR_JSON, &body)
}

fn ok() -> Response<Bytes> {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": "received"}],
    });
    json_as(StatusCode::OK, FHIR_JSON, &body)
}

impl FhirNotifications {
    /// A route whose notifications are processed by `worklist` (the same worklist, or a clone
    /// of the one, that polls: one batch of changes at a time).
    pub fn new(worklist: Worklist) -> Self {
        Self {
            worklist,
            trusts: HashMap::new(),
        }
    }

    /// Takes the notifications of the trust `ods` (at `{PATH}/{ods}`), read by `reader` and
    /// carrying `secret`.
    pub fn trust(
        mut self,
        ods: &OdsCode,
        reader: Arc<dyn NotificationReader>,
        secret: impl Into<String>,
    ) -> Self {
        self.trusts.insert(
            ods.as_str().to_ascii_uppercase(),
            Subscribed {
                reader,
                secret: secret.into().into_bytes(),
            },
        );
        self
    }

    /// Whether no trust uses Subscriptions (then there is nothing to mount).
    pub fn is_empty(&self) -> bool {
        self.trusts.is_empty()
    }
}

#[async_trait]
impl Handler for FhirNotifications {
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let trust = req
            .uri()
            .path()
            .strip_prefix(PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|t| !t.is_empty() && !t.contains('/'))
            .map(str::to_ascii_uppercase);
        let Some(subscribed) = trust.as_ref().and_then(|t| self.trusts.get(t)) else {
            return outcome(StatusCode::NOT_FOUND, "not-found", "no such trust");
        };
        if req.method() != Method::POST {
            let mut res = outcome(
                StatusCode::METHOD_NOT_ALLOWED,
                "not-supported",
                "notifications are POSTed",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return res;
        }
        let given = bearer_token(req.headers()).unwrap_or("").as_bytes();
        // An empty secret configured would let anyone in: it matches nothing.
        if subscribed.secret.is_empty() || !bool::from(given.ct_eq(&subscribed.secret)) {
            tracing::warn!("FHIR notification refused: wrong or missing secret");
            let mut res = outcome(StatusCode::UNAUTHORIZED, "security", "not authorised");
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
        let changes = match subscribed.reader.read_notification(req.body()).await {
            Ok(Notification::Changes(changes)) => changes,
            Ok(_) => return ok(),
            Err(PasError::BadData(_)) => {
                return outcome(StatusCode::BAD_REQUEST, "invalid", "not a notification");
            }
            Err(e) => {
                tracing::warn!(error = %e, "FHIR notification: the PAS could not be read");
                return outcome(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "transient",
                    "try again later",
                );
            }
        };
        match self.worklist.sync_events(changes).await {
            Ok(_) => ok(),
            Err(e) => {
                tracing::warn!(error = %e, "FHIR notification: the changes could not be stored");
                outcome(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "transient",
                    "try again later",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use nhs_portal_core::clock::SystemClock;
    use nhs_portal_core::store::memory::MemoryStore;
    use nhs_portal_pas::simulated::SimulatedPas;

    use super::*;

    /// Counts the notifications it is asked to read; each says nothing changed.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl NotificationReader for Counting {
        async fn read_notification(&self, _: &[u8]) -> Result<Notification, PasError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Notification::Nothing)
        }
    }

    fn route(secret: &str) -> (FhirNotifications, Arc<Counting>) {
        let clock = Arc::new(SystemClock);
        let worklist = Worklist::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SimulatedPas::new(clock.clone())),
            clock,
        );
        let reader = Arc::new(Counting::default());
        let route = FhirNotifications::new(worklist).trust(
            &OdsCode::parse("R9N").unwrap(),
            reader.clone(),
            secret,
        );
        (route, reader)
    }

    #[tokio::test]
    async fn only_a_post_with_the_trusts_secret_is_read_table() {
        let secret = "s".repeat(32);
        let bearer = format!("Bearer {secret}");
        let cases: [(&str, &str, Option<&str>, &str, u16); 7] = [
            (
                "POST",
                "/fhir-notifications/R9N",
                Some(&bearer),
                &secret,
                200,
            ),
            // ODS codes are matched whatever their case.
            (
                "POST",
                "/fhir-notifications/r9n",
                Some(&bearer),
                &secret,
                200,
            ),
            (
                "POST",
                "/fhir-notifications/RK5",
                Some(&bearer),
                &secret,
                404,
            ),
            (
                "POST",
                "/fhir-notifications/R9N/x",
                Some(&bearer),
                &secret,
                404,
            ),
            (
                "GET",
                "/fhir-notifications/R9N",
                Some(&bearer),
                &secret,
                405,
            ),
            (
                "POST",
                "/fhir-notifications/R9N",
                Some("Bearer ssss"),
                &secret,
                401,
            ),
            // An empty secret configured lets nobody in.
            ("POST", "/fhir-notifications/R9N", None, "", 401),
        ];
        for (method, path, auth, configured, want) in cases {
            let (route, reader) = route(configured);
            let mut req = Request::builder().method(method).uri(path);
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let res = route
                .handle(req.body(Bytes::from_static(b"{}")).unwrap())
                .await;
            assert_eq!(res.status().as_u16(), want, "{method} {path} {auth:?}");
            let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
            assert_eq!(body["resourceType"], "OperationOutcome");
            assert_eq!(
                reader.0.load(Ordering::SeqCst),
                usize::from(want == 200),
                "{method} {path}: read only when accepted"
            );
        }
    }
}
