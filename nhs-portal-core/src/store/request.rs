//! Patients' cancel and reschedule requests to request-only trusts.
//!
//! A request is made as a [`NewRequest`] (always pending) and resolved with a [`Resolve`] (always
//! fulfilled or rejected); it is read back as a [`PatientRequest`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{AuditRecord, StoreError};
use crate::request_status::RequestKind;
use crate::{AppointmentId, NhsNumber, OdsCode, ReportingEvent, RequestStatus};

/// Where a patient's request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RequestState {
    /// Waiting for the trust's staff.
    Pending,
    /// The trust did it.
    Fulfilled,
    /// The trust declined it; the appointment is back to plain booked.
    Rejected,
}

impl RequestState {
    /// A stable lower-case name, for storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Fulfilled => "fulfilled",
            Self::Rejected => "rejected",
        }
    }

    /// Parses [`RequestState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Fulfilled, Self::Rejected]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A cancel or reschedule request made to a request-only trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRequest {
    /// The request's id.
    pub id: uuid::Uuid,
    /// The key that makes a double submit one request (from the form).
    pub idempotency_key: String,
    /// The appointment.
    pub appointment: AppointmentId,
    /// Whose appointment.
    pub patient: NhsNumber,
    /// The trust that must act.
    pub ods_code: OdsCode,
    /// Cancel or reschedule.
    pub kind: RequestKind,
    /// The reason the patient chose.
    pub reason: String,
    /// Free text: the "Other" reason, or preferred times for a reschedule.
    pub details: Option<String>,
    /// Where it is in its life.
    pub state: RequestState,
    /// When the patient made it.
    pub created_at: DateTime<Utc>,
    /// When staff (or the PAS) resolved it.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Staff's note on resolving.
    pub resolution_note: Option<String>,
}

impl PatientRequest {
    /// The request status the appointment shows while this request is pending.
    pub fn request_status(&self) -> Option<RequestStatus> {
        (self.state == RequestState::Pending).then(|| self.kind.pending_status())
    }
}

/// A request as the patient makes it: always stored pending, with no resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The request's id.
    pub id: uuid::Uuid,
    /// The key that makes a double submit one request (from the form).
    pub idempotency_key: String,
    /// The appointment.
    pub appointment: AppointmentId,
    /// Whose appointment.
    pub patient: NhsNumber,
    /// The trust that must act.
    pub ods_code: OdsCode,
    /// Cancel or reschedule.
    pub kind: RequestKind,
    /// The reason the patient chose.
    pub reason: String,
    /// Free text: the "Other" reason, or preferred times for a reschedule.
    pub details: Option<String>,
    /// When the patient made it.
    pub created_at: DateTime<Utc>,
}

impl NewRequest {
    /// The request as stored: pending, unresolved.
    pub fn pending(&self) -> PatientRequest {
        PatientRequest {
            id: self.id,
            idempotency_key: self.idempotency_key.clone(),
            appointment: self.appointment.clone(),
            patient: self.patient.clone(),
            ods_code: self.ods_code.clone(),
            kind: self.kind,
            reason: self.reason.clone(),
            details: self.details.clone(),
            state: RequestState::Pending,
            created_at: self.created_at,
            resolved_at: None,
            resolution_note: None,
        }
    }
}

impl From<&PatientRequest> for NewRequest {
    /// The request as it was made: its state and resolution are dropped (a [`NewRequest`] is
    /// always pending), for seeding and tests that keep requests in their stored form.
    fn from(r: &PatientRequest) -> Self {
        Self {
            id: r.id,
            idempotency_key: r.idempotency_key.clone(),
            appointment: r.appointment.clone(),
            patient: r.patient.clone(),
            ods_code: r.ods_code.clone(),
            kind: r.kind,
            reason: r.reason.clone(),
            details: r.details.clone(),
            created_at: r.created_at,
        }
    }
}

/// How a request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Resolution {
    /// The trust did it.
    Fulfilled,
    /// The trust declined it; the appointment is back to plain booked.
    Rejected,
}

impl Resolution {
    /// The state a request resolved this way is in.
    pub fn state(self) -> RequestState {
        match self {
            Self::Fulfilled => RequestState::Fulfilled,
            Self::Rejected => RequestState::Rejected,
        }
    }
}

/// A resolution of a pending request, as staff (or the PAS) make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// Fulfilled or rejected.
    pub resolution: Resolution,
    /// Staff's note.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl Resolve {
    /// The request after this resolution, or why it cannot be resolved: only a pending request
    /// can ([`StoreError::Conflict`] otherwise).
    pub fn apply(&self, request: &PatientRequest) -> Result<PatientRequest, StoreError> {
        if request.state != RequestState::Pending {
            return Err(Self::refusal(true));
        }
        Ok(PatientRequest {
            state: self.resolution.state(),
            resolved_at: Some(self.at),
            resolution_note: self.note.clone(),
            ..request.clone()
        })
    }

    /// The error for a resolution that changed nothing: [`StoreError::Conflict`] when the
    /// request `exists` (so it is no longer pending), [`StoreError::NotFound`] otherwise.
    pub fn refusal(exists: bool) -> StoreError {
        if exists {
            StoreError::Conflict("the request is no longer pending")
        } else {
            StoreError::NotFound
        }
    }
}

/// What happened to a submitted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// It is new and now stored.
    Created(PatientRequest),
    /// A request with the same idempotency key exists already (a double submit): nothing changed.
    Duplicate(PatientRequest),
    /// Another request for this appointment is pending: nothing changed.
    AlreadyPending(PatientRequest),
}

impl Submitted {
    /// The answer to a submit that inserted nothing, from what the store found in the same
    /// transaction: the request with the same idempotency key wins ([`Submitted::Duplicate`]),
    /// then the appointment's pending request ([`Submitted::AlreadyPending`]). `None` when
    /// neither exists (the request id itself is taken, or the pending request was resolved in
    /// between: the caller decides).
    pub fn refusal(
        same_key: Option<PatientRequest>,
        pending: Option<PatientRequest>,
    ) -> Option<Self> {
        same_key
            .map(Self::Duplicate)
            .or_else(|| pending.map(Self::AlreadyPending))
    }
}

/// Patients' requests and the request-status overlay they make.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Stores a new pending request with its audit record and reporting events, in one
    /// transaction. At most one request per idempotency key and at most one pending request per
    /// appointment ever exist, also when several portal instances submit at once.
    ///
    /// The request is stored as [`RequestState::Pending`] with no resolution
    /// ([`NewRequest::pending`]). A known idempotency key wins over a pending request on the
    /// appointment: it answers [`Submitted::Duplicate`] (see [`Submitted::refusal`]); neither
    /// writes anything.
    async fn submit_request(
        &self,
        request: &NewRequest,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<Submitted, StoreError>;
    /// One request by id.
    async fn get_request(&self, id: uuid::Uuid) -> Result<Option<PatientRequest>, StoreError>;
    /// The pending request on an appointment, if any.
    async fn pending_request_for(
        &self,
        appointment: &AppointmentId,
    ) -> Result<Option<PatientRequest>, StoreError>;
    /// A patient's pending requests, oldest first: the request-status overlay on their
    /// appointments.
    async fn pending_requests_for_patient(
        &self,
        patient: &NhsNumber,
    ) -> Result<Vec<PatientRequest>, StoreError>;
    /// Requests, oldest first, optionally for one trust and in one state (the trust worklist).
    async fn list_requests(
        &self,
        ods_code: Option<OdsCode>,
        state: Option<RequestState>,
    ) -> Result<Vec<PatientRequest>, StoreError>;
    /// Resolves a pending request as fulfilled or rejected, with its audit record and reporting
    /// events, in one transaction. [`StoreError::Conflict`] if it is no longer pending,
    /// [`StoreError::NotFound`] if it does not exist (see [`Resolve::refusal`]); neither writes
    /// anything.
    async fn resolve_request(
        &self,
        id: uuid::Uuid,
        resolve: &Resolve,
        audit: &AuditRecord,
        events: &[ReportingEvent],
    ) -> Result<PatientRequest, StoreError>;
}
