//! # nhs-portal-pas
//!
//! Trust Patient Administration System (PAS) backends behind one trait, [`PasBackend`].
//!
//! - [`backend`]: the [`PasBackend`] trait and its types.
//! - [`simulated`]: [`SimulatedPas`](simulated::SimulatedPas), an in-memory **simulation** of a
//!   PAS for several trusts, with fault injection and a stand-in for trust staff.
//! - [`demo`]: the demo data set (fictional trusts, test patients, appointments, slots).
//! - [`fhir`]: [`FhirPas`](fhir::FhirPas), an adapter over a trust PAS's FHIR R4 REST API.
//! - [`notification`]: changes a PAS pushes (FHIR Subscriptions), read into the same events
//!   polling gives.
//! - [`trusts`]: [`TrustsPas`](trusts::TrustsPas), several trusts' PASes behind one backend.
//! - [`worklist`]: the trust staff worklist service for patients' requests.
//! - `conformance` (cargo feature `conformance`): checks any [`PasBackend`] against the trait's
//!   contract, for vendors' own tests.
//!
//! ## Connecting your own PAS
//!
//! If your PAS speaks FHIR R4, configure [`fhir::FhirPas`]. Otherwise implement [`PasBackend`]
//! over whatever it offers (HL7 v2 feeds plus a booking API, a database view, ...). Every rule
//! an adapter must keep is on the trait method it belongs to, and `docs/pas-adapter.md` (in the
//! repository) walks through an adapter with a field-mapping table. Build appointments with
//! [`nhs_portal_core::Appointment::builder`], which checks a PAS record's raw fields.
//!
//! Then check it with the conformance kit from your own tests, against a test instance of your
//! PAS (enable the `conformance` feature in your dev-dependencies):
//!
//! ```toml
//! [dev-dependencies]
//! nhs-portal-pas = { version = "0.1", features = ["conformance"] }
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "conformance")]
//! # async fn example(
//! #     my_pas: std::sync::Arc<dyn nhs_portal_pas::PasBackend>,
//! #     my_seeder: &dyn nhs_portal_pas::conformance::Seeder,
//! #     real_time_trust: nhs_portal_core::Organisation,
//! #     request_only_trust: nhs_portal_core::Organisation,
//! # ) {
//! use nhs_portal_pas::conformance::{self, FixtureBuilder};
//! // Seeds two patients, their appointments and free slots through your test hooks.
//! let fixture = FixtureBuilder::new(real_time_trust, request_only_trust)
//!     .seed(my_seeder)
//!     .await
//!     .expect("seeded");
//! // Every rule; a failure names the rule and the method (run on a multi-threaded runtime).
//! let report = conformance::run(my_pas, &fixture).await.expect("conforms");
//! assert!(report.skipped().contains(&"events")); // no TrustStaff hook given
//! # }
//! ```
//!
//! `examples/mount-in-hyper` has a conforming in-memory adapter (`ToyPas`) whose tests run the
//! kit this way.
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
pub mod notification;
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
