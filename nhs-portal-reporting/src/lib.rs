//! # nhs-portal-reporting
//!
//! Usage reporting to the Wayfinder Reporting Service and the PCA Record Service feed. Work in
//! progress.
#![deny(missing_docs)]
