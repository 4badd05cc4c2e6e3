//! [`FhirPas`]: a [`PasBackend`] over a trust PAS's FHIR R4 REST API.
//!
//! One `FhirPas` talks to one FHIR base URL for one trust, whose [`Capabilities`] are
//! configured (FHIR has no standard way to say "this trust only takes requests"). Its settings
//! are the plain struct [`FhirPasConfig`] (with [`SmartBackendAuth`], [`SpecialtyMap`] and
//! [`FeedConfig`]), to fill from any configuration source.
//!
//! How each operation maps to FHIR REST:
//!
//! | Operation | FHIR |
//! |---|---|
//! | [`patient`](PasBackend::patient) | `GET Patient?identifier=https://fhir.nhs.uk/Id/nhs-number\|…` (birth date; `meta.security` `R`/`V` = restricted; a configurable boolean extension = portal access); a record merged into another (`link` `replaced-by`) is followed to the one that replaced it |
//! | [`list_appointments`](PasBackend::list_appointments) | the Patient as above, then `GET Appointment?patient=Patient/{id}` for it and each record merged into it (following `next` links), with `_include=Appointment:actor` where the CapabilityStatement lists it in `searchInclude`; a clinician or clinic named only by reference is named from the included resource, else by a read of it (once per reference per call); the clinic's phone line and hours ([`Appointment::contact`](nhs_portal_core::Appointment::contact)) likewise from the `HealthcareService`, else the `Location`, actor (see `map::contact`) |
//! | [`get_appointment`](PasBackend::get_appointment) | `GET Appointment/{id}`, then a check that the patient is a participant (a reference in any R4 form, or the NHS number); participants named, and the clinic's line read, as for lists, by reads |
//! | [`confirm_attendance`](PasBackend::confirm_attendance) | where the trust's [`Capabilities`] offer it: read, then the patient participant's `status` `accepted`, `If-Match` on the version read (`PUT` or JSON Patch); a booked appointment whose patient is `accepted` reads back as confirmed (see `attendance`) |
//! | [`cancel`](PasBackend::cancel) | read, then the status `cancelled` with reason `pat-cpp` (cancelled via the patient portal), `If-Match` on the version read: `POST Appointment/{id}/$cancel` where the server owns its Slots and offers it, else `PUT` or JSON Patch; a version conflict re-reads and tries again; a client-managed slot is released only if no other booking holds it |
//! | [`find_slots`](PasBackend::find_slots) | `GET Slot?status=free&start=ge…&start=lt…` and `schedule=` the current slot's schedule, or else `specialty=` the appointment's Treatment Function Code |
//! | [`reschedule`](PasBackend::reschedule) | the offer as `find_slots` would make it now (to the booking horizon) must hold the slot, else `SlotUnavailable`; then, by the CapabilityStatement: `POST Appointment/{id}/$book` (server-owned Slots), or one `transaction` Bundle of claim, move and release with `ifMatch` on each entry (client-managed Slots on a server that offers transactions; see `transaction`), or claim the slot, move the appointment, release the old slot (client-managed; see `write`), a move stopped half way being finished or undone by [`FhirPas::reconcile`] (see `reconcile`) |
//! | [`poll_events`](PasBackend::poll_events) | [`FhirPas::reconcile`] first, then `GET Appointment?_lastUpdated=ge{since − overlap}&_sort=_lastUpdated` plus the trust's scope ([`FeedConfig`]), compared with the portal's last-seen record (see below) |
//! | [`subscribe`](FhirPas::subscribe), [`read_notification`](crate::notification::NotificationReader::read_notification) | where the CapabilityStatement offers backport Subscriptions: `POST Subscription` (or `PUT` of the one this endpoint has), rest-hook to [`SubscriptionConfig::endpoint`] with the secret; a notification's Appointments (sent whole, or read when `id-only`) become the same events as a poll (see `subscription`) |
//!
//! ## Status table
//!
//! One outcome per FHIR `Appointment.status`, for lists, the PCA feed and the event feed:
//!
//! | FHIR status | lists and the PCA | event when it becomes this |
//! |---|---|---|
//! | `proposed`, `pending` | not shown (not an appointment yet) | none |
//! | `waitlist` | a holding record ([`Appointment::holding`](nhs_portal_core::Appointment::holding)): never to the PCA; on the pages hidden or "On the waiting list", by the trust's [`Capabilities::holding`](nhs_portal_core::request_status::Capabilities::holding) | none |
//! | `booked` | booked | `Booked` (new) or `Moved` (another start) |
//! | `arrived`, `checked-in` | booked: still today's appointment | none |
//! | `fulfilled` | fulfilled | `Attended` |
//! | `cancelled` | cancelled | `Cancelled { by }`: the patient for reason `pat` or `pat-*`, else the hospital; with a new booking of the same patient, specialty and trust close by, `Moved { replaced_by }` |
//! | `noshow` | noshow | `NoShow` |
//! | `entered-in-error` | withdrawn: not shown | `Withdrawn` |
//! | (deleted) | not shown | `Withdrawn`, once: only for an appointment the portal last saw in another state |
//!
//! ## The event feed
//!
//! Polling is scoped to the trust (search parameters in [`FeedConfig::scope`], and any
//! appointment naming another trust's ODS code is dropped), sorted by `_lastUpdated`, and
//! looks back an overlap window before `since` for servers that stamp a change before it
//! commits. Each changed appointment is compared with what the portal last saw of it (the
//! store's [`PasFeedStore`], given with [`FhirPas::with_last_seen`]): the same version is not
//! reported again. A deleted appointment appears in no search: the feed reads the deletions
//! in the type's `_history` over the same window and reports each as `Withdrawn` when the
//! portal last saw the appointment in another state (its patient and snapshot from the
//! version before the deletion). The consumer records each change once processed
//! ([`Worklist::sync_from_pas`](crate::worklist::Worklist::sync_from_pas) does). Where the
//! server pushes changes (FHIR Subscriptions, [`FhirPasConfig::subscription`]), its
//! notifications are read into the same events and processed by
//! [`Worklist::sync_events`](crate::worklist::Worklist::sync_events), so a change seen by a
//! notification and a poll is reported once; polling stays on as the safety net.
//!
//! ## Calls, errors and credentials
//!
//! Each portal call has one deadline ([`FhirPasConfig::deadline`], inside the PCA's 9 s) and
//! one `X-Correlation-ID` for all its HTTP calls: a PAS that never answers, or answers each
//! retry too late, ends the call with [`PasError::Timeout`] when the deadline passes. Reads are retried with backoff (backon) on
//! timeouts, 429 and 5xx, waiting out a short `Retry-After`; so are writes, which carry
//! `If-Match` and so are safe to repeat: when a retried write meets a version conflict, the
//! adapter reads the resource again to tell its own earlier write (whose answer was lost) from
//! someone else's. Writes ask for `Prefer: return=representation` and read the resource again
//! when the answer is not it. 401 is [`PasError::Unauthorised`] (a SMART token is renewed once
//! first), 403 [`PasError::Forbidden`], 400/422/423 [`PasError::BusinessRule`] with the
//! OperationOutcome's text, 429 [`PasError::RateLimited`]. Credentials (a token, SMART Backend
//! Services, a client certificate for mutual TLS) go only over https (plain http only to this
//! machine); a trust's own certificate authority can be trusted
//! ([`FhirPasConfig::root_certificate_pem`]).
//! Searches follow relative and absolute `next` links (a proxy's internal base is moved onto
//! ours) and fail at [`FhirPasConfig::page_cap`] pages rather than answer part of a search.
//! Appointments that cannot be mapped (a missing start, a specialty no table maps) are skipped
//! with a warning that names no patient.
//! The answers to a cancel, a reschedule and a confirmation, and the event feed's snapshots,
//! are named and carry the clinic's line as reads do, from participants read *before* the
//! change is written (see `participants`).
//!
//! Appointments are found through the Patient resource rather than with
//! `Appointment?patient:identifier=…`: Medplum's in-memory repository (our test peer) matches
//! neither `patient:identifier` nor `actor:identifier`, while a reference search works on every
//! FHIR server.
//!
//! The Medplum-backed integration tests (`nhs-portal-pas/tests/fhir_medplum.rs`) run this
//! adapter and the [`conformance`](crate) kit against a FHIR server we did not write; the
//! workspace's `tests/tests/fhir_*.rs` run it against a Rust test peer that behaves like the
//! servers trusts run (paging, server-owned Slots, transaction Bundles, Subscriptions,
//! `return=minimal`, 429, 401, 422, `_include`, deletions, requests that hang, https with a
//! client certificate, an outage half way through a move).

mod attendance;
mod auth;
mod client;
mod config;
mod events;
pub mod map;
mod participants;
mod read;
mod reconcile;
mod server;
mod subscription;
mod transaction;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhs_portal_core::clock::Clock;
use nhs_portal_core::request_status::{Capabilities, RescheduleMode};
use nhs_portal_core::store::PasFeedStore;
use nhs_portal_core::{Appointment, AppointmentId, NhsNumber};
use serde_json::Value;

use crate::{CancelReason, PasBackend, PasError, PasEvent, PatientRecord, Slot};
use participants::Unanswered;

pub use config::{
    FeedConfig, FhirConfigError, FhirPasConfig, PORTAL_ACCESS_EXTENSION, SecretText,
    SmartBackendAuth, SpecialtyMap, SpecialtyMapping,
};
pub use reconcile::{MOVED_FROM_EXTENSION, Reconciled};
pub use subscription::{BACKPORT_SUBSCRIPTION_PROFILE, PayloadContent, SubscriptionConfig};
pub use write::BOOKED_FOR_EXTENSION;

pub use crate::error::HttpStatus;

/// A [`PasBackend`] over FHIR R4 REST. See the [module documentation](self).
#[derive(Clone)]
pub struct FhirPas {
    client: reqwest::Client,
    cfg: Arc<FhirPasConfig>,
    base: String,
    clock: Arc<dyn Clock>,
    tokens: Arc<auth::TokenCache>,
    server: Arc<tokio::sync::OnceCell<server::ServerCaps>>,
    last_seen: Option<Arc<dyn PasFeedStore>>,
}

impl std::fmt::Debug for FhirPas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirPas")
            .field("base", &self.base)
            .field("cfg", &self.cfg)
            .field("last_seen", &self.last_seen.is_some())
            .finish_non_exhaustive()
    }
}

impl FhirPas {
    /// Compares the event feed with the portal's last-seen record in `store` (the portal's
    /// [`Store`](nhs_portal_core::store::Store), the one the worklist records processed changes
    /// in). Without it, moves are told from `_history` and a first version counts as new.
    pub fn with_last_seen(mut self, store: Arc<dyn PasFeedStore>) -> Self {
        self.last_seen = Some(store);
        self
    }
}

#[async_trait]
impl PasBackend for FhirPas {
    async fn patient(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        self.call(self.patient_in_pas(patient)).await
    }

    async fn list_appointments(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        self.call(self.list_in_pas(patient)).await
    }

    async fn get_appointment(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<Appointment>, PasError> {
        self.call(async {
            match self.read_owned(patient, id).await? {
                Some(v) => {
                    let mut known = participants::Participants::default();
                    self.learn_participants(&v.body, &mut known, Unanswered::FailsNames)
                        .await?;
                    match self.map_known(&v.body, patient, &known) {
                        Ok(a) => Ok(a),
                        Err(e) => {
                            tracing::warn!(error = %e, "FHIR PAS: unreadable appointment");
                            Ok(None)
                        }
                    }
                }
                None => Ok(None),
            }
        })
        .await
    }

    async fn capabilities(&self, appointment: &Appointment) -> Result<Capabilities, PasError> {
        self.call(async {
            self.read_owned(&appointment.patient, &appointment.id)
                .await?
                .ok_or(PasError::NotFound)?;
            Ok(self.cfg.capabilities)
        })
        .await
    }

    /// One read of the PAS: the appointment, with the capabilities this trust is configured
    /// with.
    async fn appointment_with_capabilities(
        &self,
        patient: &NhsNumber,
        id: &AppointmentId,
    ) -> Result<Option<(Appointment, Capabilities)>, PasError> {
        Ok(self
            .get_appointment(patient, id)
            .await?
            .map(|a| (a, self.cfg.capabilities)))
    }

    async fn cancel(
        &self,
        appointment: &Appointment,
        reason: &CancelReason,
    ) -> Result<Appointment, PasError> {
        self.call(self.cancel_in_pas(appointment, reason)).await
    }

    async fn confirm_attendance(&self, appointment: &Appointment) -> Result<Appointment, PasError> {
        self.call(self.confirm_in_pas(appointment)).await
    }

    async fn find_slots(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        self.call(self.slots_in_pas(appointment, from, to)).await
    }

    async fn reschedule(
        &self,
        appointment: &Appointment,
        slot_id: &str,
    ) -> Result<Appointment, PasError> {
        self.call(self.reschedule_in_pas(appointment, slot_id))
            .await
    }

    /// Half-done moves since `since` are reconciled first (`reconcile`; a failure there is
    /// logged and left for the next poll), then the changes are read.
    async fn poll_events(&self, since: DateTime<Utc>) -> Result<Vec<PasEvent>, PasError> {
        self.call(async {
            if let Err(e) = self.reconcile_in_pas(since).await {
                tracing::warn!(error = %e, "FHIR PAS: half-done moves not reconciled");
            }
            self.events_since(since).await
        })
        .await
    }

    /// Reachability: `GET metadata` (the CapabilityStatement every FHIR server serves) answered
    /// at all, within the portal call's deadline.
    async fn ping(&self) -> Option<Result<(), PasError>> {
        Some(
            self.call(async { self.get(self.url("metadata", &[])?).await.map(|_| ()) })
                .await,
        )
    }
}

impl FhirPas {
    async fn patient_in_pas(&self, patient: &NhsNumber) -> Result<Option<PatientRecord>, PasError> {
        let Some(found) = self.find_patient(patient).await? else {
            return Ok(None);
        };
        let p = &found.resource;
        let date_of_birth =
            map::birth_date(p).map_err(|e| PasError::BadData(format!("patient: {e}")))?;
        Ok(Some(PatientRecord {
            nhs_number: patient.clone(),
            date_of_birth,
            portal_access: map::boolean_extension(p, &self.cfg.portal_access_extension)
                .unwrap_or(true),
            restricted: map::is_restricted(p),
        }))
    }

    async fn list_in_pas(&self, patient: &NhsNumber) -> Result<Vec<Appointment>, PasError> {
        let Some(found) = self.find_patient(patient).await? else {
            return Ok(Vec::new());
        };
        let include = self.server_caps().await.include_actors;
        let mut out: Vec<Appointment> = Vec::new();
        for reference in &found.references {
            let mut query = vec![("patient", reference.clone()), ("_count", "100".into())];
            if include {
                query.push(("_include", "Appointment:actor".into()));
            }
            let page = self.search_including("Appointment", &query).await?;
            let mut known = participants::Participants::from_included(&page.included);
            for resource in page.matches {
                if !map::has_patient_in(&resource, patient, &found.references) {
                    continue;
                }
                self.learn_participants(&resource, &mut known, Unanswered::FailsNames)
                    .await?;
                match self.map_known(&resource, patient, &known) {
                    Ok(Some(a)) if !out.iter().any(|o| o.id == a.id) => out.push(a),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "FHIR PAS: skipped an appointment"),
                }
            }
        }
        out.sort_by_key(|a| a.start);
        Ok(out)
    }

    async fn slots_in_pas(
        &self,
        appointment: &Appointment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, PasError> {
        let (v, current) = self.load(appointment).await?;
        if self.cfg.capabilities.reschedule != RescheduleMode::RealTime {
            return Err(PasError::NotSupported);
        }
        let mut query = vec![
            ("status", "free".to_owned()),
            ("start", format!("ge{}", map::format_instant(from))),
            ("start", format!("lt{}", map::format_instant(to))),
            ("_count", "100".to_owned()),
        ];
        let schedule = match Self::slot_refs(&v.body).first() {
            Some(slot) => self.read_slot(slot).await?.and_then(|s| {
                s.body
                    .pointer("/schedule/reference")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            None => None,
        };
        match schedule {
            Some(s) => query.push(("schedule", s)),
            None => query.push(("specialty", current.specialty.code.as_str().to_owned())),
        }
        let now = self.clock.now();
        let mut slots: Vec<Slot> = self
            .search("Slot", &query)
            .await?
            .iter()
            .filter(|s| s.get("status").and_then(Value::as_str) == Some("free"))
            // A slot of the schedule but for another specialty is not this appointment's.
            .filter(|s| self.slot_fits(s, &current))
            .filter_map(Self::slot_from_fhir)
            .filter(|s| s.start >= from && s.start < to && s.start > now)
            .filter(|s| s.start < now + self.cfg.booking_horizon)
            .collect();
        slots.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        Ok(slots)
    }
}

#[cfg(test)]
mod tests;
