//! The monthly CSV report ("Method 1"), for trusts not yet sending to the Reporting Service API.
//!
//! **ASSUMPTION TO CONFIRM WITH NHS ENGLAND.** The monthly CSV format is not public: it is
//! described only in the Wayfinder SRS given to onboarded suppliers. Until it is confirmed, this
//! writer produces one row per event with the Reporting Service's own field names as columns,
//! in this order ([`COLUMNS`]):
//!
//! `EventCode,Timestamp,NHSNumber,Id,SessionId,AppointmentId,NewAppointmentId,AppointmentDate,ODSCode,Status,Reason,TrackingId,isOpenInNHSApp,Device`
//!
//! A field an event does not have is an empty cell; values are exactly the API's (`Timestamp` as
//! `2024-03-08T08:45:11.321Z`, `isOpenInNHSApp` as `true`/`false`). Files are named
//! `wayfinder-events-YYYY-MM.csv`, one per calendar month **in UK time** (Europe/London) of the
//! event's `Timestamp`, and are appended to; the header is written when a file is created.
//!
//! Other decisions:
//! - Appending is not idempotent: if the worker stops after writing a batch but before marking
//!   it delivered, those rows are written again on the next run. Deduplicate on the full row when
//!   sending the month's file.
//! - The files hold NHS numbers: they are patient data, not logs. Keep the directory as
//!   protected as the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::sink::{DeliveryError, ReportingSink};
use crate::wire::WayfinderEvent;

/// The assumed columns, in order (see the module docs).
pub const COLUMNS: [&str; 14] = [
    "EventCode",
    "Timestamp",
    "NHSNumber",
    "Id",
    "SessionId",
    "AppointmentId",
    "NewAppointmentId",
    "AppointmentDate",
    "ODSCode",
    "Status",
    "Reason",
    "TrackingId",
    "isOpenInNHSApp",
    "Device",
];

/// Writes events to monthly CSV files in a directory.
#[derive(Debug)]
pub struct CsvSink {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl CsvSink {
    /// A sink writing into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file an event belongs in: `wayfinder-events-YYYY-MM.csv` by UK month.
    pub fn file_for(&self, event: &WayfinderEvent) -> PathBuf {
        let ts = event.timestamp();
        let month = nhs_portal_core::uk_time::to_uk(ts).format("%Y-%m");
        self.dir.join(format!("wayfinder-events-{month}.csv"))
    }
}

/// One event as a CSV row in [`COLUMNS`] order.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use nhs_portal_reporting::csv_sink::row;
/// use nhs_portal_reporting::wire::{Timestamp, WayfinderEvent};
/// let e = WayfinderEvent::ApptRequestCanc {
///     timestamp: Timestamp(Utc.with_ymd_and_hms(2024, 3, 8, 8, 45, 11).unwrap()),
///     appointment_id: "a1".into(),
///     session_id: "s1".into(),
/// };
/// assert_eq!(row(&e)[..6], ["APPT-REQUEST-CANC", "2024-03-08T08:45:11.000Z", "", "", "s1", "a1"]);
/// ```
pub fn row(event: &WayfinderEvent) -> Vec<String> {
    let value = serde_json::to_value(event).expect("wire events always serialise");
    COLUMNS
        .iter()
        .map(|c| match value.get(*c) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        })
        .collect()
}

fn append(path: &Path, rows: &[Vec<String>]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let fresh = file.metadata()?.len() == 0;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    if fresh {
        writer.write_record(COLUMNS)?;
    }
    for r in rows {
        writer.write_record(r)?;
    }
    let mut inner = writer
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    inner.flush()?;
    inner.get_ref().sync_data()
}

#[async_trait]
impl ReportingSink for CsvSink {
    async fn deliver(&self, events: &[WayfinderEvent]) -> Result<(), DeliveryError> {
        let _guard = self.lock.lock().await;
        let mut by_file: std::collections::BTreeMap<PathBuf, Vec<Vec<String>>> = Default::default();
        for e in events {
            by_file.entry(self.file_for(e)).or_default().push(row(e));
        }
        tokio::task::spawn_blocking(move || {
            for (path, rows) in by_file {
                append(&path, &rows)?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(())
    }
}
