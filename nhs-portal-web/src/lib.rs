//! # nhs-portal-web
//!
//! The portal's web layer. Work in progress.
//!
//! - [`fhir_api`]: the PCA Get Appointments API (FHIR R4).
#![deny(missing_docs)]

pub mod fhir_api;
pub mod nhs_login;
pub mod session;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod store;
