//! # nhs-portal-web
//!
//! The portal's web layer: the patient pages (view, cancel, reschedule), sign-in and sessions,
//! the static NHS.UK / NHS App frontend files, the PCA Get Appointments API and the NHS login
//! simulator. It turns an `http::Request` into an `http::Response` and owns no sockets, so it can
//! be mounted in any Rust server ([`portal::Portal`]).
//!
//! - [`portal`]: the HTTP service and its route table; mounts the others.
//! - [`http_kit`]: cookies, forms, responses, security headers and the [`http_kit::Handler`]
//!   trait everything mounted in the portal implements.
//! - [`journeys`]: the patient journeys as a service, separate from HTTP.
//! - [`pages`]: handlebars templates (strict, embedded) and their view models.
//! - [`assets`]: the npm-installed front-end files and the portal's own script.
//! - [`sign_in`]: the seam between the pages and NHS login.
//! - [`staff`]: the trust staff worklist pages.
//! - [`fhir_api`]: the PCA Get Appointments API (FHIR R4).
//! - [`nhs_login`], [`session`]: NHS login relying party and patient sessions.
//! - [`store`]: the SQL stores (SQLite, PostgreSQL).
//! - `demo` (feature `simulator`): the whole demo portal wired once (`demo::DemoPortal`).
#![deny(missing_docs)]

pub mod assets;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod fhir_api;
pub mod http_kit;
pub mod journeys;
pub mod nhs_login;
pub mod pages;
pub mod portal;
pub mod session;
pub mod sign_in;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod staff;
pub mod store;
