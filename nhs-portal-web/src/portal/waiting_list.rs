//! The page of a holding record its trust shows as "On the waiting list": the title, the tag,
//! the trust and what happens next, with no date, no time and no actions (the rule is
//! [`nhs_portal_core::holding`]; a record the trust hides never gets here, `journeys` refuses
//! it as it refuses an unknown id).

use bytes::Bytes;
use http::{Response, StatusCode};
use nhs_portal_core::holding::{self, Presence, WAITING_LIST_LABEL, WAITING_LIST_TONE};
use nhs_portal_core::store::PatientSession;

use super::Inner;
use super::respond::PageOpts;
use super::routes::Ctx;
use super::views::WaitingListPage;
use crate::journeys::AppointmentView;
use crate::pages::{TagModel, tag_classes};

impl Inner {
    /// The waiting-list page when `view` is a holding record its trust shows; `None` for an
    /// appointment.
    pub(super) fn waiting_list_page(
        &self,
        ctx: &Ctx,
        session: &PatientSession,
        view: &AppointmentView,
    ) -> Option<Response<Bytes>> {
        if holding::on_pages(&view.appointment, view.capabilities.holding) != Presence::WaitingList
        {
            return None;
        }
        let (class, app_class) = tag_classes(WAITING_LIST_TONE);
        let body = WaitingListPage {
            tag: TagModel {
                label: WAITING_LIST_LABEL,
                class,
                app_class,
            },
            organisation: view.appointment.organisation.name.clone(),
        };
        Some(self.page(
            ctx,
            Some(session),
            StatusCode::OK,
            "waiting_list",
            &view.appointment.description,
            &body,
            PageOpts::default(),
        ))
    }
}
