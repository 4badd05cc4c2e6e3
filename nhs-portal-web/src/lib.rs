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
//! - [`fhir_notifications`] (feature `pca-api`): where trusts' FHIR servers post Subscription
//!   notifications, mounted only when a trust uses them.
//! - [`nhs_login`], [`session`]: NHS login relying party and patient sessions.
//! - [`store`]: the SQL stores (SQLite, PostgreSQL).
//! - [`simulator`]: the NHS login simulator (demos and tests only).
//! - [`nhs_app_simulator`] (feature `simulator`): a page standing in for the NHS App in the demo.
//! - [`demo`] (feature `simulator`): the whole demo portal wired once ([`demo::DemoPortal`]).
//! - [`live`] (features `pages` and `pca-api`): the whole live portal, real NHS login, the PAS
//!   you give and the PCA's tokens, wired without the simulator ([`live::LivePortal`]).
//!
//! ## Cargo features
//!
//! Take only the rooms you use, as with sqlx: a vendor serving only the Get Appointments API on
//! PostgreSQL writes `default-features = false, features = ["pca-api", "postgres"]` and compiles
//! no templates, no OIDC client and no SQLite.
//!
//! | feature | enables | default |
//! | --- | --- | --- |
//! | `pages` | patient pages: `portal`, `journeys`, `pages`, `assets`, `sign_in` (needs `nhs-login`) | yes |
//! | `staff` | the trust staff worklist pages, `staff` (needs `pages`) | yes |
//! | `nhs-login` | NHS login relying party, signing keys, patient `session`s (includes `id-token`) | yes |
//! | `id-token` | NHS login ID-token verification only: `nhs_login::verify_token`, `JwksCache`, the forwarded-token verifier | yes (via `nhs-login`) |
//! | `pca-api` | the PCA Get Appointments API, `fhir_api`, and the FHIR Subscription notification route `fhir_notifications` (includes `id-token`) | yes |
//! | `sqlite` | `store::SqliteStore`, `sqlite:` URLs in `store::connect` | yes |
//! | `postgres` | `store::PgStore`, `postgres://` URLs in `store::connect` | no |
//! | `simulator` | the NHS login `simulator` and the demo wiring (turns on `pages`, `staff`, `pca-api`, `sqlite` and `nhs-portal-pas/simulated`) | **never**: a provider that signs anyone in |
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "pages")]
#[cfg_attr(docsrs, doc(cfg(feature = "pages")))]
pub mod assets;
pub mod correlation;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod demo;
#[cfg(feature = "pca-api")]
#[cfg_attr(docsrs, doc(cfg(feature = "pca-api")))]
pub mod fhir_api;
#[cfg(feature = "pca-api")]
#[cfg_attr(docsrs, doc(cfg(feature = "pca-api")))]
pub mod fhir_notifications;
pub mod http_kit;
#[cfg(feature = "pages")]
#[cfg_attr(docsrs, doc(cfg(feature = "pages")))]
pub mod journeys;
#[cfg(all(feature = "pages", feature = "pca-api"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "pages", feature = "pca-api"))))]
pub mod live;
#[cfg(any(feature = "pages", feature = "pca-api"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "pages", feature = "pca-api"))))]
pub mod metered;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod nhs_app_simulator;
#[cfg(feature = "id-token")]
#[cfg_attr(docsrs, doc(cfg(feature = "id-token")))]
pub mod nhs_login;
#[cfg(feature = "pages")]
#[cfg_attr(docsrs, doc(cfg(feature = "pages")))]
pub mod pages;
#[cfg(feature = "pages")]
#[cfg_attr(docsrs, doc(cfg(feature = "pages")))]
pub mod portal;
#[cfg(feature = "nhs-login")]
#[cfg_attr(docsrs, doc(cfg(feature = "nhs-login")))]
pub mod session;
#[cfg(feature = "pages")]
#[cfg_attr(docsrs, doc(cfg(feature = "pages")))]
pub mod sign_in;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod simulator;
#[cfg(feature = "staff")]
#[cfg_attr(docsrs, doc(cfg(feature = "staff")))]
pub mod staff;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod store;
#[cfg(all(feature = "pages", feature = "pca-api"))]
mod wiring;
