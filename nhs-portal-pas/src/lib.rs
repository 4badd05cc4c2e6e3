//! # nhs-portal-pas
//!
//! Trust Patient Administration System (PAS) backends behind one trait, [`PasBackend`].
//!
//! - [`backend`]: the [`PasBackend`] trait and its types.
//! - [`simulated`]: [`SimulatedPas`](simulated::SimulatedPas), an in-memory **simulation** of a
//!   PAS for several trusts, with fault injection and a stand-in for trust staff.
//! - [`demo`]: the demo data set (fictional trusts, test patients, appointments, slots).
//! - [`worklist`]: the trust staff worklist service for patients' requests.
//! - `conformance` (cargo feature `conformance`): checks any [`PasBackend`] against the trait's
//!   contract, for vendors' own tests.
#![deny(missing_docs)]

pub mod backend;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod demo;
pub mod error;
pub mod simulated;
pub mod worklist;

#[cfg(any(test, feature = "mock"))]
pub use backend::MockPasBackend;
pub use backend::{CancelReason, PasBackend, PasEvent, PatientRecord, Slot};
pub use error::PasError;
