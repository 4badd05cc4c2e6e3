//! The "confirm attendance" check: a patient's confirmation is kept, idempotent, and refused
//! for an appointment that is not booked or has started.

use std::sync::Arc;

use chrono::Utc;
use nhs_portal_core::{Appointment, AppointmentId, AppointmentStatus, RequestStatus};

use super::{CheckOutcome, ConformanceFixture, Failure, Probe};
use crate::{PasBackend, PasError};

pub(super) const CONFIRM: &str = "confirm attendance";

const METHOD: &str = "confirm_attendance";

fn confirmed(a: &Appointment) -> bool {
    a.request_status == Some(RequestStatus::ConfirmedAttendance)
}

pub(super) async fn confirm_attendance(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: CONFIRM,
    };
    let Some(id) = &fx.confirmable else {
        return Ok(CheckOutcome::Skipped(
            "no appointment to confirm in the fixture",
        ));
    };
    let a = p.get(&fx.patient, id).await?;
    p.ensure(
        a.status == AppointmentStatus::Booked && a.is_future(Utc::now()) && !confirmed(&a),
        "get_appointment",
        || {
            format!(
                "the fixture's appointment to confirm is not booked, future and unconfirmed: {a:?}"
            )
        },
    )?;
    let caps = p.ok("capabilities", backend.capabilities(&a).await)?;
    if !caps.confirm_attendance {
        // A trust that does not offer it: refused, and nothing changes.
        refused_and_unchanged(
            &p,
            &a,
            "where the trust does not offer it",
            |e| matches!(e, PasError::NotSupported),
            "NotSupported",
        )
        .await?;
        return Ok(CheckOutcome::Passed);
    }
    let first = p.ok(METHOD, backend.confirm_attendance(&a).await)?;
    p.ensure(
        first.id == a.id
            && first.status == AppointmentStatus::Booked
            && first.start == a.start
            && confirmed(&first),
        METHOD,
        || format!("confirming returned {first:?}, not the booked appointment confirmed"),
    )?;
    let read = p.get(&fx.patient, id).await?;
    p.ensure(
        read.status == AppointmentStatus::Booked && confirmed(&read),
        "get_appointment",
        || format!("reading back does not show the confirmation: {read:?}"),
    )?;
    let second = backend.confirm_attendance(&a).await.map_err(|e| {
        p.fail(
            METHOD,
            format!("confirming an appointment already confirmed gave {e:?}, not the appointment"),
        )
    })?;
    p.ensure(
        second.id == a.id && second.start == a.start && confirmed(&second),
        METHOD,
        || format!("the second confirmation returned {second:?}"),
    )?;
    // Not booked, or started: the past appointment, and the one the cancel check cancelled.
    for other in [&fx.past, &fx.cancellable].into_iter().flatten() {
        not_confirmable(&p, &fx.patient, other).await?;
    }
    Ok(CheckOutcome::Passed)
}

/// An appointment that is not booked or has started: `InvalidState` where its trust offers
/// confirm attendance, `NotSupported` where it does not; either way nothing changes. A fixture
/// appointment still booked and future (its check was skipped) is left alone.
async fn not_confirmable(
    p: &Probe<'_>,
    patient: &nhs_portal_core::NhsNumber,
    id: &AppointmentId,
) -> Result<(), Failure> {
    let a = p.get(patient, id).await?;
    if a.status == AppointmentStatus::Booked && a.is_future(Utc::now()) {
        return Ok(());
    }
    let caps = p.ok("capabilities", p.backend.capabilities(&a).await)?;
    if caps.confirm_attendance {
        refused_and_unchanged(
            p,
            &a,
            "for an appointment not booked or started",
            |e| matches!(e, PasError::InvalidState(_)),
            "InvalidState",
        )
        .await
    } else {
        refused_and_unchanged(
            p,
            &a,
            "where the trust does not offer it",
            |e| matches!(e, PasError::NotSupported),
            "NotSupported",
        )
        .await
    }
}

async fn refused_and_unchanged(
    p: &Probe<'_>,
    a: &Appointment,
    when: &str,
    is: impl FnOnce(&PasError) -> bool,
    want: &str,
) -> Result<(), Failure> {
    p.refused(
        METHOD,
        &format!("confirming attendance {when}"),
        p.backend.confirm_attendance(a).await,
        want,
        is,
    )?;
    let now = p.get(&a.patient, &a.id).await?;
    p.ensure(
        now.status == a.status && now.start == a.start && confirmed(&now) == confirmed(a),
        METHOD,
        || format!("a refused confirmation changed the appointment ({a:?} became {now:?})"),
    )
}
