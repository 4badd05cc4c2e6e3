//! # nhs-portal-core
//!
//! The domain of an NHS patient portal that the NHS App deep-links into through the Patient Care
//! Aggregator (PCA): checked identifiers, the appointment model, the request-status rules, UK time
//! in NHS content style, deep links, and the small traits at the seams that the other crates
//! implement.
//!
//! This crate does no IO: no HTTP, no SQL, no files. Adapters live in `nhs-portal-pas` (trust PAS
//! backends), `nhs-portal-reporting` (Wayfinder) and `nhs-portal-web` (HTTP, NHS login, SQL stores).
//!
//! ## Contents
//! - [`nhs_number`]: [`NhsNumber`] with its Modulus 11 check.
//! - [`ids`]: [`AppointmentId`], [`OdsCode`], [`TreatmentFunctionCode`], [`Specialty`].
//! - [`appointment`]: [`Appointment`] and its statuses, medium, priority, location, clinician.
//! - [`request_status`]: what the patient sees and may do, and how requests resolve.
//! - [`eligibility`]: who may be served (age in UK time, restricted, portal access).
//! - [`holding`]: holding (waiting-list placeholder) records: never to the PCA, on the pages by
//!   the trust's choice.
//! - [`guidance`]: whom to contact, how to prepare and what happens next.
//! - [`overlay`]: the store's pending requests laid over the PAS's appointments.
//! - [`paging`]: page numbers from an address; the list's past appointments a few a page.
//! - [`reasons`]: the cancel and reschedule reasons and the check of a patient's answers.
//! - [`return_path`]: where a patient may be sent back to.
//! - [`slot_choice`]: a reschedule's free slots in short pages, narrowed by the trust's filters.
//! - [`uk_time`]: UTC to Europe/London in NHS content style ("Monday 3 June 2024 at 9:40am").
//! - [`deep_link`]: `/patient-portal/appointment/{id}` links, built and parsed.
//! - [`store`]: the state the portal owns ([`store::Store`]) and an in-memory store.
//! - [`reporting`]: the usage events reported to Wayfinder.
//! - [`clock`]: time as a seam.
//!
//! ## Example
//! ```
//! use chrono::{TimeZone, Utc};
//! use nhs_portal_core::{NhsNumber, uk_time};
//! let patient = NhsNumber::parse("9000000009")?;
//! let start = Utc.with_ymd_and_hms(2025, 10, 26, 0, 30, 0).unwrap();
//! assert_eq!(uk_time::format_date_time(start), "Sunday 26 October 2025 at 1:30am");
//! # let _ = patient;
//! # Ok::<(), nhs_portal_core::NhsNumberError>(())
//! ```
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod appointment;
pub mod calendar;
pub mod clock;
pub mod deep_link;
pub mod eligibility;
pub mod guidance;
pub mod holding;
pub mod ids;
pub mod limits;
pub mod nhs_number;
pub mod overlay;
pub mod paging;
pub mod reasons;
pub mod reporting;
pub mod request_status;
pub mod return_path;
pub mod slot_choice;
pub mod store;
pub mod uk_time;

pub use appointment::{
    Appointment, AppointmentBuilder, AppointmentError, AppointmentStatus, AppointmentType,
    Clinician, ConsultationMedium, Contact, Identifier, Location, Organisation, Priority,
    RequestStatus,
};
pub use ids::{AppointmentId, IdError, OdsCode, Specialty, TreatmentFunctionCode};
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use reporting::ReportingEvent;
