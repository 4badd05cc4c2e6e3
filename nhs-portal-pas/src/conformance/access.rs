//! Who may see what: the "own data only" and "odd input" checks.

use std::sync::Arc;

use chrono::{Duration, Utc};
use nhs_portal_core::AppointmentId;

use super::{CheckOutcome, ConformanceFixture, Failure, Probe, reason};
use crate::{PasBackend, PasError};

pub(super) const OWN_DATA: &str = "own data only";
pub(super) const ODD_INPUT: &str = "odd input";

pub(super) async fn own_data_only(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: OWN_DATA,
    };
    const LIST: &str = "list_appointments";
    let mine = p.ok(LIST, backend.list_appointments(&fx.patient).await)?;
    p.ensure(!mine.is_empty(), LIST, || {
        "the fixture patient has no appointments".into()
    })?;
    if let Some(a) = mine.iter().find(|a| a.patient != fx.patient) {
        return Err(p.fail(
            LIST,
            format!(
                "the patient's list holds appointment {}, another patient's",
                a.id
            ),
        ));
    }
    let theirs = p.ok(LIST, backend.list_appointments(&fx.other_patient).await)?;
    p.ensure(!theirs.is_empty(), LIST, || {
        "the fixture's other patient has no appointments".into()
    })?;
    for a in &theirs {
        p.ensure(!mine.iter().any(|m| m.id == a.id), LIST, || {
            format!("appointment {} is in both patients' lists", a.id)
        })?;
        let got = p.ok(
            "get_appointment",
            backend.get_appointment(&fx.patient, &a.id).await,
        )?;
        p.ensure(got.is_none(), "get_appointment", || {
            format!("another patient's appointment {} was returned", a.id)
        })?;
        const BOTH: &str = "appointment_with_capabilities";
        let got = p.ok(
            BOTH,
            backend
                .appointment_with_capabilities(&fx.patient, &a.id)
                .await,
        )?;
        p.ensure(got.is_none(), BOTH, || {
            format!("another patient's appointment {} was returned", a.id)
        })?;
    }
    // Acting on someone else's appointment by forging the patient field: every method that
    // takes an appointment must re-read the record and refuse.
    let mut forged = theirs[0].clone();
    forged.patient = fx.patient.clone();
    let not_found = |e: &PasError| matches!(e, PasError::NotFound);
    let what = "acting on another patient's appointment with a forged `patient`";
    p.refused(
        "capabilities",
        what,
        backend.capabilities(&forged).await,
        "NotFound",
        not_found,
    )?;
    p.refused(
        "cancel",
        what,
        backend.cancel(&forged, &reason()).await,
        "NotFound",
        not_found,
    )?;
    match backend.confirm_attendance(&forged).await {
        Err(PasError::NotFound) => {}
        // A trust that does not offer it refuses everyone alike: that leaks nothing either.
        Err(PasError::NotSupported) => {}
        other => {
            return Err(p.fail(
                "confirm_attendance",
                format!("{what} gave {other:?}, not NotFound"),
            ));
        }
    }
    let now = Utc::now();
    match backend
        .find_slots(&forged, now, now + Duration::days(90))
        .await
    {
        Err(PasError::NotFound) => {}
        // A request-only trust offers nothing to anyone: that leaks nothing either.
        Ok(slots) if slots.is_empty() => {}
        Err(PasError::NotSupported) => {}
        other => {
            return Err(p.fail("find_slots", format!("{what} gave {other:?}, not NotFound")));
        }
    }
    p.refused(
        "reschedule",
        what,
        backend.reschedule(&forged, "any-slot").await,
        "NotFound",
        not_found,
    )?;
    p.unchanged("cancel", &theirs[0], "a forged cancel").await?;
    let after = p.get(&fx.other_patient, &theirs[0].id).await?;
    p.ensure(
        after.request_status == theirs[0].request_status,
        "confirm_attendance",
        || "a forged confirmation changed the appointment's request status".into(),
    )?;
    Ok(CheckOutcome::Passed)
}

pub(super) async fn odd_input(
    backend: &Arc<dyn PasBackend>,
    fx: &ConformanceFixture,
) -> Result<CheckOutcome, Failure> {
    let p = Probe {
        backend,
        check: ODD_INPUT,
    };
    let odd_ids = [
        AppointmentId::new_random().to_string(),
        "0".into(),
        "a".repeat(64),
        "x.y-z".into(),
        "-".into(),
    ];
    for raw in odd_ids {
        let id = AppointmentId::parse(&raw)
            .map_err(|e| p.fail("get_appointment", format!("{raw}: {e}")))?;
        match backend.get_appointment(&fx.patient, &id).await {
            Ok(None) => {}
            other => {
                return Err(p.fail(
                    "get_appointment",
                    format!("the unknown id {raw:?} gave {other:?}, not Ok(None)"),
                ));
            }
        }
        match backend
            .appointment_with_capabilities(&fx.patient, &id)
            .await
        {
            Ok(None) => {}
            other => {
                return Err(p.fail(
                    "appointment_with_capabilities",
                    format!("the unknown id {raw:?} gave {other:?}, not Ok(None)"),
                ));
            }
        }
    }
    match backend.list_appointments(&fx.unknown_patient).await {
        Ok(list) if list.is_empty() => {}
        other => {
            return Err(p.fail(
                "list_appointments",
                format!("an unknown patient's list gave {other:?}, not an empty list"),
            ));
        }
    }
    match backend.patient(&fx.unknown_patient).await {
        Ok(None) => {}
        other => {
            return Err(p.fail(
                "patient",
                format!("an unknown patient's record gave {other:?}, not Ok(None)"),
            ));
        }
    }
    match backend.patient(&fx.patient).await {
        Ok(Some(r)) if r.nhs_number == fx.patient => {}
        other => {
            return Err(p.fail(
                "patient",
                format!("the fixture patient's record gave {other:?}, not their record"),
            ));
        }
    }
    Ok(CheckOutcome::Passed)
}
