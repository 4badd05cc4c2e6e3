//! Changes an appointment's state allows: "idempotent cancel", "capabilities honoured" and
//! "past stays past".

use std::sync::Arc;

use chrono::{Duration, Utc};
use nhs_portal_core::AppointmentStatus;
use nhs_portal_core::request_status::{CancelMode, RescheduleMode};

use super::{CheckOutcome, ConformanceFixture, Failure, Probe, reason};
use crate::{PasBackend, PasError};

pub(super) const IDEMPOTENT_CANCEL: &str = "idempotent cancel";
pub(super) const CAPABILITIES: &str = "capabilities honoured";
pub(super) const PAST: &str = "past stays past";

pub(super) async fn idempotent_cancel(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: IDEMPOTENT_CANCEL,
    };
    let Some(id) = &fx.cancellable else {
        return Ok(CheckOutcome::Skipped(
            "no cancellable appointment in the fixture",
        ));
    };
    let a = p.get(&fx.patient, id).await?;
    p.ensure(
        a.status == AppointmentStatus::Booked,
        "get_appointment",
        || format!("the fixture appointment is {:?}, not booked", a.status),
    )?;
    let caps = p.ok("capabilities", backend.capabilities(&a).await)?;
    p.ensure(caps.cancel == CancelMode::RealTime, "capabilities", || {
        format!(
            "the fixture appointment's cancel mode is {:?}, not real time",
            caps.cancel
        )
    })?;
    let first = p.ok("cancel", backend.cancel(&a, &reason()).await)?;
    p.ensure(
        first.status == AppointmentStatus::Cancelled,
        "cancel",
        || format!("after cancel the status is {:?}", first.status),
    )?;
    p.ensure(first.id == a.id, "cancel", || {
        "cancel returned another appointment".into()
    })?;
    let second = backend.cancel(&a, &reason()).await.map_err(|e| {
        p.fail(
            "cancel",
            format!("cancelling an appointment already cancelled gave {e:?}, not the appointment"),
        )
    })?;
    p.ensure(
        second.status == AppointmentStatus::Cancelled,
        "cancel",
        || "the second cancel did not return the cancelled appointment".into(),
    )?;
    let read = p.get(&fx.patient, id).await?;
    p.ensure(
        read.status == AppointmentStatus::Cancelled,
        "get_appointment",
        || "reading back does not show the cancellation".into(),
    )?;
    Ok(CheckOutcome::Passed)
}

pub(super) async fn capabilities_honoured(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: CAPABILITIES,
    };
    let Some(id) = &fx.request_only else {
        return Ok(CheckOutcome::Skipped(
            "no request-only appointment in the fixture",
        ));
    };
    let a = p.get(&fx.patient, id).await?;
    let caps = p.ok("capabilities", backend.capabilities(&a).await)?;
    const BOTH: &str = "appointment_with_capabilities";
    let both = p.ok(
        BOTH,
        backend.appointment_with_capabilities(&fx.patient, id).await,
    )?;
    p.ensure(both.as_ref() == Some(&(a.clone(), caps)), BOTH, || {
        format!("gave {both:?}, not the appointment with {caps:?}")
    })?;
    p.ensure(
        caps.cancel != CancelMode::RealTime && caps.reschedule != RescheduleMode::RealTime,
        "capabilities",
        || format!("the fixture's request-only appointment is offered real-time changes: {caps:?}"),
    )?;
    let not_supported = |e: &PasError| matches!(e, PasError::NotSupported);
    p.refused(
        "cancel",
        "a real-time cancel at a request-only trust",
        backend.cancel(&a, &reason()).await,
        "NotSupported",
        not_supported,
    )?;
    p.refused(
        "reschedule",
        "a real-time reschedule at a request-only trust",
        backend.reschedule(&a, "any-slot").await,
        "NotSupported",
        not_supported,
    )?;
    if !caps.confirm_attendance {
        p.refused(
            "confirm_attendance",
            "confirming attendance at a trust that does not offer it",
            backend.confirm_attendance(&a).await,
            "NotSupported",
            not_supported,
        )?;
    }
    let now = Utc::now();
    match backend.find_slots(&a, now, now + Duration::days(90)).await {
        Err(PasError::NotSupported) => {}
        Ok(slots) if slots.is_empty() => {}
        other => {
            return Err(p.fail(
                "find_slots",
                format!("at a request-only trust it gave {other:?}, not NotSupported or no slots"),
            ));
        }
    }
    p.unchanged("cancel", &a, "a refused real-time change")
        .await?;
    Ok(CheckOutcome::Passed)
}

pub(super) async fn past_stays_past(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: PAST,
    };
    let Some(id) = &fx.past else {
        return Ok(CheckOutcome::Skipped("no past appointment in the fixture"));
    };
    let a = p.get(&fx.patient, id).await?;
    p.ensure(a.start < Utc::now(), "get_appointment", || {
        "the fixture's past appointment is not in the past".into()
    })?;
    let invalid = |e: &PasError| matches!(e, PasError::InvalidState(_));
    p.refused(
        "cancel",
        "cancelling a past appointment",
        backend.cancel(&a, &reason()).await,
        "InvalidState",
        invalid,
    )?;
    p.refused(
        "reschedule",
        "moving a past appointment",
        backend.reschedule(&a, "any-slot").await,
        "InvalidState",
        invalid,
    )?;
    p.unchanged("cancel", &a, "a refused change to a past appointment")
        .await?;
    Ok(CheckOutcome::Passed)
}
