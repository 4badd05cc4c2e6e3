//! # nhs-portal-web
//!
//! The portal's web layer. Work in progress.
#![deny(missing_docs)]

pub mod nhs_login;
pub mod session;
