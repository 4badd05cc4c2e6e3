//! Holding appointments: records a trust keeps in its PAS as placeholders for patients on its
//! waiting list (often dated far ahead), which are not appointments the patient is expected to
//! attend ([`Appointment::holding`]). The one rule for where they appear:
//!
//! - **Never in the PCA feed.** The PCA producer spec's "ghost appointments" rule excludes
//!   appointments booked in the system that the patient is not expected to attend, and its
//!   status codes (`booked`, `fulfilled`, `cancelled`, `noshow`) have no "waiting list" value
//!   ([`in_pca_feed`]).
//! - **On the patient pages, by the trust's choice** ([`HoldingDisplay`], part of the trust's
//!   [`Capabilities`](crate::request_status::Capabilities)): either hidden like the feed (a
//!   deep link to one is "you cannot view this appointment"), or shown as "On the waiting list"
//!   with no date, no time and no actions ([`on_pages`]).
//!
//! The actions rule ([`crate::request_status::allowed_actions`]) refuses every action on a
//! holding record, whatever the trust's choice.
//!
//! ```
//! use nhs_portal_core::holding::{HoldingDisplay, Presence, on_pages, in_pca_feed};
//! # let mut a = nhs_portal_core::Appointment::builder().id("a-1").patient("9000000009")
//! #     .specialty("330", "DERMATOLOGY").start(chrono::Utc::now())
//! #     .location("Clinic", ["1 Road"]).organisation("R9N", "Trust").build().unwrap();
//! a.holding = true;
//! assert!(!in_pca_feed(&a));
//! assert_eq!(on_pages(&a, HoldingDisplay::Hidden), Presence::Hidden);
//! assert_eq!(on_pages(&a, HoldingDisplay::WaitingList), Presence::WaitingList);
//! ```

use crate::Appointment;
use crate::request_status::Tone;

/// The words on the tag of a holding record the trust shows.
pub const WAITING_LIST_LABEL: &str = "On the waiting list";

/// The tone of that tag: waiting on the trust.
pub const WAITING_LIST_TONE: Tone = Tone::Pending;

/// What a trust does with its holding records on the patient pages.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HoldingDisplay {
    /// Kept off the pages, as they are kept off the PCA feed (the default).
    #[default]
    Hidden,
    /// Shown as "On the waiting list": no date, no time, no actions.
    WaitingList,
}

impl HoldingDisplay {
    /// Both choices.
    pub const ALL: [Self; 2] = [Self::Hidden, Self::WaitingList];

    /// The setting's text in a trusts file: `hidden` or `waiting-list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hidden => "hidden",
            Self::WaitingList => "waiting-list",
        }
    }

    /// The choice for its text from [`HoldingDisplay::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// How one PAS record appears on the patient pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// An appointment, shown with its date, time and actions.
    Appointment,
    /// A holding record the trust shows as "On the waiting list".
    WaitingList,
    /// Not shown: the list leaves it out and its page cannot be viewed.
    Hidden,
}

/// How `appointment` appears on the pages of a trust that chose `display`.
pub fn on_pages(appointment: &Appointment, display: HoldingDisplay) -> Presence {
    match (appointment.holding, display) {
        (false, _) => Presence::Appointment,
        (true, HoldingDisplay::Hidden) => Presence::Hidden,
        (true, HoldingDisplay::WaitingList) => Presence::WaitingList,
    }
}

/// Whether `appointment` may be sent to the PCA: never a holding record.
pub fn in_pca_feed(appointment: &Appointment) -> bool {
    !appointment.holding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(holding: bool) -> Appointment {
        let mut a = crate::overlay::tests::appointment("a-1", "9000000009", None);
        a.holding = holding;
        a
    }

    #[test]
    fn where_each_record_appears() {
        // (holding record, trust's choice, on the pages, in the PCA feed)
        let cases = [
            (false, HoldingDisplay::Hidden, Presence::Appointment, true),
            (
                false,
                HoldingDisplay::WaitingList,
                Presence::Appointment,
                true,
            ),
            (true, HoldingDisplay::Hidden, Presence::Hidden, false),
            (
                true,
                HoldingDisplay::WaitingList,
                Presence::WaitingList,
                false,
            ),
        ];
        for (holding, display, pages, feed) in cases {
            let a = record(holding);
            assert_eq!(on_pages(&a, display), pages, "{holding} {display:?}");
            assert_eq!(in_pca_feed(&a), feed, "{holding} {display:?}");
        }
    }

    #[test]
    fn the_setting_reads_back_and_defaults_to_hidden() {
        for d in HoldingDisplay::ALL {
            assert_eq!(HoldingDisplay::parse(d.as_str()), Some(d));
        }
        assert_eq!(HoldingDisplay::parse("shown"), None);
        assert_eq!(HoldingDisplay::default(), HoldingDisplay::Hidden);
    }
}
