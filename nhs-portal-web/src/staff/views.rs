//! The staff pages' view models: what the `staff` template reads.

use chrono::Duration;
use nhs_portal_core::request_status::RequestKind;
use nhs_portal_core::uk_time;
use nhs_portal_pas::worklist::WorklistItem;
use serde::Serialize;

use super::StaffSession;
use crate::journeys::{CANCEL_REASONS, FieldError, RESCHEDULE_REASONS, reason_label};

/// The `staff` template's view model.
#[derive(Debug, Serialize)]
pub(super) struct StaffView<'a> {
    sign_in: bool,
    /// Signing in is through the trust's identity provider (no code form).
    oidc: bool,
    pub(super) errors: Vec<FieldError>,
    notice: Option<&'a str>,
    trusts: Vec<TrustView>,
    staff_name: &'a str,
    staff_csrf: &'a str,
}

impl<'a> StaffView<'a> {
    pub(super) fn sign_in(error: bool) -> Self {
        Self {
            sign_in: true,
            oidc: false,
            errors: error
                .then_some(FieldError {
                    field: "code",
                    message: "Enter your name and the correct access code",
                })
                .into_iter()
                .collect(),
            notice: None,
            trusts: Vec::new(),
            staff_name: "",
            staff_csrf: "",
        }
    }

    /// The sign-in page of a worklist whose staff sign in through the trust's identity provider.
    pub(super) fn oidc_sign_in() -> Self {
        Self {
            oidc: true,
            ..Self::sign_in(false)
        }
    }

    /// The sign-in page with a notice above the form.
    pub(super) fn with_notice(mut self, notice: &'a str) -> Self {
        self.notice = Some(notice);
        self
    }

    pub(super) fn list(
        staff: &'a StaffSession,
        notice: Option<&'a str>,
        trusts: Vec<TrustView>,
    ) -> Self {
        Self {
            sign_in: false,
            oidc: false,
            errors: Vec::new(),
            notice,
            trusts,
            staff_name: &staff.name,
            staff_csrf: &staff.csrf,
        }
    }
}

/// One trust's waiting requests.
#[derive(Debug, Serialize)]
pub(super) struct TrustView {
    pub(super) name: String,
    pub(super) ods: String,
    pub(super) items: Vec<ItemView>,
}

/// One waiting request.
#[derive(Debug, Serialize)]
pub(super) struct ItemView {
    id: String,
    kind: &'static str,
    is_reschedule: bool,
    fulfil_label: &'static str,
    title: String,
    nhs_number: String,
    when: String,
    reason: String,
    details: Option<String>,
    requested: String,
    suggested: String,
}

impl ItemView {
    pub(super) fn of(item: &WorklistItem) -> Self {
        let r = &item.request;
        let (reasons, kind, fulfil_label) = match r.kind {
            RequestKind::Cancel => (&CANCEL_REASONS[..], "Cancel", "Mark as cancelled"),
            RequestKind::Reschedule => (
                &RESCHEDULE_REASONS[..],
                "Reschedule",
                "Mark as moved to this time",
            ),
        };
        let a = item.appointment.as_ref();
        Self {
            id: r.id.to_string(),
            kind,
            is_reschedule: r.kind == RequestKind::Reschedule,
            fulfil_label,
            title: a
                .map(|a| a.description.clone())
                .unwrap_or_else(|| "Appointment (not available from the PAS just now)".into()),
            nhs_number: r.patient.formatted(),
            when: a
                .map(|a| uk_time::format_date_time(a.start))
                .unwrap_or_default(),
            reason: reason_label(reasons, &r.reason)
                .unwrap_or(r.reason.as_str())
                .to_owned(),
            details: r.details.clone(),
            requested: uk_time::format_date_time(r.created_at),
            suggested: a
                .map(|a| {
                    (uk_time::to_uk(a.start) + Duration::days(7))
                        .format("%Y-%m-%dT%H:%M")
                        .to_string()
                })
                .unwrap_or_default(),
        }
    }
}
