//! # nhs-portal-web
//!
//! The portal's web layer: the patient pages (view, cancel, reschedule), sign-in and sessions,
//! the static NHS.UK / NHS App frontend files, and mounting points for the PCA Get Appointments
//! API and the NHS login simulator. It turns an `http::Request` into an `http::Response` and owns
//! no sockets, so it can be mounted in any Rust server ([`portal::Portal`]).
//!
//! - [`journeys`]: the journeys as a service, separate from HTTP.
//! - [`portal`]: the HTTP service, routes, sessions, security headers.
//! - [`pages`]: handlebars templates (strict, embedded) and their view models.
//! - [`assets`]: the npm-installed front-end files and the portal's own script.
//! - [`sign_in`]: the seam to NHS login.
#![deny(missing_docs)]

pub mod assets;
pub mod journeys;
pub mod nhs_login;
pub mod pages;
pub mod portal;
pub mod session;
pub mod sign_in;
pub mod staff;
