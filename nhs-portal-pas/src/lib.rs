//! # nhs-portal-pas
//!
//! Trust Patient Administration System (PAS) backends behind one trait, [`PasBackend`].
#![deny(missing_docs)]

pub mod backend;
pub mod error;

#[cfg(any(test, feature = "mock"))]
pub use backend::MockPasBackend;
pub use backend::{CancelReason, PasBackend, PasEvent, PatientRecord, Slot};
pub use error::PasError;
