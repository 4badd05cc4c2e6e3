//! "Add to calendar": an appointment as an iCalendar file (RFC 5545), and as the arguments of
//! the NHS App's `nhsapp.storage.addEventToCalendar`.
//!
//! Calendars are where clock changes hurt patients (an event an hour out after the spring
//! change), so the rules are few and strict:
//! - every time is written in UTC with `Z` (never a local time or a zone name), so no calendar
//!   can apply British Summer Time twice;
//! - `UID` is the appointment's own id at the portal's host: the same for every file of the
//!   appointment, so a later file replaces the earlier event rather than adding a second;
//! - `SEQUENCE` grows with every file: it is the seconds from 2020-01-01T00:00:00Z to the moment
//!   the file was made. The portal keeps no revision counter of the PAS's own changes, and a
//!   calendar only needs a revision to carry a higher `SEQUENCE` than the one it replaces; a
//!   file made later always does (until 2088, where a signed 32-bit `SEQUENCE` ends);
//! - a cancelled appointment's file is `METHOD:CANCEL` with `STATUS:CANCELLED`, which removes
//!   the event from a calendar that holds it.
//!
//! Pure text: no IO. The web crate serves it.

use chrono::{DateTime, TimeZone, Utc};

use crate::{Appointment, AppointmentStatus, ConsultationMedium};

/// The instant `SEQUENCE` counts from (2020-01-01T00:00:00Z).
fn sequence_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .expect("a fixed, valid instant")
}

/// One appointment as a calendar event.
#[derive(Debug, Clone)]
pub struct CalendarEvent<'a> {
    appointment: &'a Appointment,
    link: &'a str,
    uid_host: &'a str,
    issued_at: DateTime<Utc>,
}

/// What `nhsapp.storage.addEventToCalendar(subject, body, location, startEpochSecs,
/// endEpochSecs)` takes, for the same event inside the NHS App.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NhsAppCalendarEvent {
    /// The event's title.
    pub subject: String,
    /// Its notes.
    pub body: String,
    /// Where.
    pub location: String,
    /// Start, seconds since the Unix epoch.
    pub start_epoch_secs: i64,
    /// End, seconds since the Unix epoch, when the PAS gives one.
    pub end_epoch_secs: Option<i64>,
}

impl<'a> CalendarEvent<'a> {
    /// The event for `appointment`. `link` is the appointment page's absolute URL (put in the
    /// event so the patient can come back to it), `uid_host` the portal's host name (the `UID`
    /// is `{appointment id}@{uid_host}`), `issued_at` when the file is made (`DTSTAMP`, and
    /// the source of `SEQUENCE`).
    pub fn new(
        appointment: &'a Appointment,
        link: &'a str,
        uid_host: &'a str,
        issued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            appointment,
            link,
            uid_host,
            issued_at,
        }
    }

    /// `UID`: stable for the appointment.
    pub fn uid(&self) -> String {
        format!("{}@{}", self.appointment.id, self.uid_host)
    }

    /// `SEQUENCE`: the whole seconds from 2020-01-01T00:00:00Z to `issued_at` (0 before then).
    pub fn sequence(&self) -> i64 {
        (self.issued_at - sequence_epoch()).num_seconds().max(0)
    }

    /// Whether the file cancels the event (the appointment is cancelled).
    pub fn is_cancellation(&self) -> bool {
        self.appointment.status == AppointmentStatus::Cancelled
    }

    fn summary(&self) -> String {
        let a = self.appointment;
        format!("{} ({})", a.description, a.organisation.name)
    }

    fn location(&self) -> String {
        let a = self.appointment;
        match a.medium {
            ConsultationMedium::Video => "Video appointment".to_owned(),
            ConsultationMedium::Telephone => "Telephone appointment".to_owned(),
            ConsultationMedium::FaceToFace => match &a.location {
                Some(l) => std::iter::once(l.name.as_str())
                    .chain(l.address.iter().map(String::as_str))
                    .filter(|part| !part.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
                None => a.organisation.name.clone(),
            },
        }
    }

    fn notes(&self) -> String {
        let a = self.appointment;
        let mut lines = Vec::new();
        if self.is_cancellation() {
            lines.push("This appointment has been cancelled.".to_owned());
        }
        if let Some(c) = &a.clinician {
            lines.push(format!("With {}.", c.name));
        }
        lines.push(format!(
            "To view, change or cancel this appointment: {}",
            self.link
        ));
        lines.join("\n")
    }

    /// The arguments of the NHS App's `addEventToCalendar` for this event.
    pub fn for_nhs_app(&self) -> NhsAppCalendarEvent {
        NhsAppCalendarEvent {
            subject: self.summary(),
            body: self.notes(),
            location: self.location(),
            start_epoch_secs: self.appointment.start.timestamp(),
            end_epoch_secs: self.appointment.end.map(|e| e.timestamp()),
        }
    }

    /// The iCalendar file (`text/calendar`), lines ending CRLF and folded at 75 octets.
    pub fn to_ics(&self) -> String {
        let a = self.appointment;
        let cancelled = self.is_cancellation();
        let mut lines = vec![
            "BEGIN:VCALENDAR".to_owned(),
            "VERSION:2.0".to_owned(),
            "PRODID:-//nhs-portal//Hospital appointment//EN".to_owned(),
            "CALSCALE:GREGORIAN".to_owned(),
            format!("METHOD:{}", if cancelled { "CANCEL" } else { "PUBLISH" }),
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}", escape_text(&self.uid())),
            format!("DTSTAMP:{}", utc(self.issued_at)),
            format!("SEQUENCE:{}", self.sequence()),
            format!("DTSTART:{}", utc(a.start)),
        ];
        if let Some(end) = a.end.filter(|e| *e > a.start) {
            lines.push(format!("DTEND:{}", utc(end)));
        }
        lines.extend([
            format!("SUMMARY:{}", escape_text(&self.summary())),
            format!("LOCATION:{}", escape_text(&self.location())),
            format!("DESCRIPTION:{}", escape_text(&self.notes())),
            format!("URL:{}", self.link),
            format!(
                "ORGANIZER;CN=\"{}\":{}",
                param_text(&a.organisation.name),
                self.link
            ),
            format!(
                "STATUS:{}",
                if cancelled { "CANCELLED" } else { "CONFIRMED" }
            ),
            "TRANSP:OPAQUE".to_owned(),
            "END:VEVENT".to_owned(),
            "END:VCALENDAR".to_owned(),
        ]);
        let mut out = String::new();
        for line in lines {
            fold_into(&mut out, &line);
        }
        out
    }
}

/// `20260330T080000Z`.
fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT escaping: backslash, semicolon, comma and newline; other control characters
/// are dropped.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A quoted parameter value: no double quotes or control characters allowed.
fn param_text(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && !c.is_control()).collect()
}

/// Appends `line` folded at 75 octets (never inside a UTF-8 character), each physical line
/// ending CRLF and each continuation starting with one space.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests;
