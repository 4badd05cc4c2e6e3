//! # nhs-portal-pas
//!
//! Trust Patient Administration System (PAS) backends behind one trait, [`PasBackend`].
//!
//! - [`backend`]: the [`PasBackend`] trait and its types.
//! - [`simulated`]: [`SimulatedPas`](simulated::SimulatedPas), an in-memory **simulation** of a
//!   PAS for several trusts, with fault injection and a stand-in for trust staff.
//! - [`demo`]: the demo data set (fictional trusts, test patients, appointments, slots).
//! - [`fhir`]: [`FhirPas`](fhir::FhirPas), an adapter over a trust PAS's FHIR R4 REST API.
//! - [`trusts`]: [`TrustsPas`](trusts::TrustsPas), several trusts' PASes behind one backend.
//! - [`worklist`]: the trust staff worklist service for patients' requests.
//! - `conformance` (cargo feature `conformance`): checks any [`PasBackend`] against the trait's
//!   contract, for vendors' own tests.
//!
//! ## Connecting your own PAS
//!
//! If your PAS speaks FHIR R4, configure [`fhir::FhirPas`]. Otherwise implement [`PasBackend`]
//! over whatever it offers (HL7 v2 feeds plus a booking API, a database view, ...). The rules
//! that matter:
//!
//! - every method that takes a patient answers only for that patient: someone else's
//!   appointment is `Ok(None)` / [`PasError::NotFound`], exactly like a missing one;
//! - [`PasBackend::cancel`] is idempotent; [`PasBackend::reschedule`] never books one slot
//!   twice, also under concurrency, and books only a slot [`PasBackend::find_slots`] would offer
//!   that appointment now (not another trust's or clinic's, not beyond the booking horizon);
//! - real-time operations at a request-only trust answer [`PasError::NotSupported`];
//! - return typed [`PasError`]s (timeouts, outages, unreadable data) and never panic;
//! - report trust-side outcomes through [`PasBackend::poll_events`], so patients' pending
//!   requests resolve ([`worklist::Worklist::sync_from_pas`]).
//!
//! Then check it with the conformance kit from your own tests, against a test instance with
//! known data (enable the `conformance` feature in your dev-dependencies):
//!
//! ```toml
//! [dev-dependencies]
//! nhs-portal-pas = { version = "0.1", features = ["conformance"] }
//! ```
//!
//! ```text
//! let mut fixture = ConformanceFixture::new(patient, other_patient, unknown_patient);
//! fixture.cancellable = Some(appointment_you_can_cancel);
//! fixture.request_only = Some(appointment_at_a_request_only_trust);
//! let report = nhs_portal_pas::conformance::run(&my_pas, &fixture).await?;
//! ```
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
#[cfg(feature = "simulated")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulated")))]
pub mod demo;
pub mod error;
#[cfg(feature = "fhir")]
#[cfg_attr(docsrs, doc(cfg(feature = "fhir")))]
pub mod fhir;
#[cfg(feature = "simulated")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulated")))]
pub mod simulated;
pub mod trusts;
pub mod worklist;

#[cfg(any(test, feature = "mock"))]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use backend::MockPasBackend;
pub use backend::{
    BOOKING_HORIZON_DAYS, CancelReason, PasBackend, PasChange, PasEvent, PatientRecord, Slot,
};
pub use error::{HttpStatus, PasError};
