//! The PCA Record Service (v1.0.2): telling the Patient Care Aggregator which patients the trust
//! holds appointments for, so it knows to ask this portal when they open the NHS App.
//!
//! - [`RecordServiceClient`] posts `{"clientId": …, "nhsNumbers": […]}` with the API key as a
//!   bearer token, at most 5,000 numbers per call in production and 200 elsewhere
//!   ([`RecordServiceConfig::max_batch`]), retrying transient failures (5xx including the
//!   service's own 504 after 30 s, timeouts, connection errors) with exponential back-off
//!   (backon) inside the call.
//! - [`RecordSender`] drains the store's [`RecordQueue`](nhs_portal_core::store::RecordQueue): it claims numbers, leaves out patients
//!   who must not be sent (under 16, sensitive/restricted, or not known) through the caller's
//!   [`PatientEligibility`], sends the rest, and marks them sent only on a 200
//!   (WF-NFR-RS-01/03). Failed numbers stay queued and are retried with back-off
//!   (WF-NFR-RS-02/07).
//! - [`RecordSender::resend_all`] re-queues every number the caller knows (WF-NFR-RS-05/06);
//!   [`RecordSender::sent_record_count`] gives the distinct NHS numbers sent, for reconciliation
//!   (WF-NFR-RS-06/09).
//!
//! ## Decisions where the spec is silent or contradictory
//! - **Endpoint URL.** The servers list ends in `/records` and the path is `/records` too, while
//!   the environment table gives base URLs ending `/records/`. The client takes the *full*
//!   endpoint URL to post to; confirm the exact one at onboarding.
//! - **Excluded patients are not dropped.** A number that must not be sent stays in the queue
//!   (released with a later `retry_at`) instead of being marked sent, so the sent count never
//!   includes it. An under-16 is due again on their 16th birthday (UK date; someone born on
//!   29 February turns 16 on 1 March in a common year), because the spec says patients turning 16
//!   must then be sent. A restricted patient is checked again after
//!   [`RecordSenderConfig::restricted_recheck`], an unknown one after
//!   [`RecordSenderConfig::unknown_recheck`]: both may change.
//! - **Unknown age.** A patient whose date of birth the PAS does not hold is *not* sent: the
//!   rule is "no under-16s", and we cannot show they are not one.
//! - **400 responses.** The error `data` names bad entries as `"nhsNumbers[i]"`. Those numbers are
//!   held back (retried after `retry_max`, logged by index only, WF-NFR-RS-04) and the rest are
//!   sent again at once. A 400 naming no index (for example `clientId mismatch`) is a set-up
//!   problem: the whole batch is kept and retried with back-off, never dropped.
//! - **401** (unrecognised API key) is not retried within the call (it will not fix itself in
//!   seconds); the batch is kept and retried with back-off.
//! - **Resend while live.** [`RecordSender::resend_all`] goes through the same queue as live
//!   sends, so new numbers keep flowing during a replay, behind the replay's backlog (the queue
//!   is first-in first-out: about 5,000 numbers per request).
//! - **Idempotency.** The queue holds one waiting row per number, a batch never carries the same
//!   number twice, and a number is marked sent only after a 200. The service itself is
//!   idempotent, so a batch resent after a lost 200 does no harm.

mod client;
mod eligibility;
mod sender;

pub use client::{
    NON_PRODUCTION_MAX_BATCH, PRODUCTION_MAX_BATCH, RecordServiceClient, RecordServiceConfig,
    RecordServiceError,
};
pub use eligibility::{Eligibility, EligibilityError, PatientEligibility, sixteenth_birthday};
pub use sender::{RecordSender, RecordSenderConfig, RecordSenderError, RecordStats};

#[cfg(test)]
mod tests;
