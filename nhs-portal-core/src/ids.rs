//! Checked identifiers: appointment ids, ODS codes and specialties (Treatment Function Codes).

use std::fmt;

/// Longest id accepted, the FHIR R4 limit for a resource id.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid identifier of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Empty.
    #[error("the identifier is empty")]
    Empty,
    /// Longer than allowed.
    #[error("the identifier is longer than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("the identifier contains a character that is not allowed")]
    BadCharacter,
    /// Dots that could be read as a path step (`.`, `..`).
    #[error("the identifier looks like a path step")]
    PathLike,
    /// Wrong length for a fixed-length code.
    #[error("expected {expected} characters")]
    WrongLength {
        /// The length the code must have.
        expected: &'static str,
    },
}

/// The portal's id of an appointment, as it appears in deep links and in the PCA's `Appointment.id`.
///
/// Follows the FHIR id rule (`[A-Za-z0-9\-\.]{1,64}`) and also refuses ids made of a path step
/// (`..` anywhere, or a lone `.`), so an id can always be placed in a URL path safely.
/// The demo data and the simulated PAS use random UUIDs, so ids cannot be guessed.
///
/// ```
/// use nhs_portal_core::AppointmentId;
/// assert!(AppointmentId::parse("7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60").is_ok());
/// assert!(AppointmentId::parse("../secret").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppointmentId(String);

impl AppointmentId {
    /// Parses and checks an appointment id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_fhir_id(s)?;
        Ok(Self(s.to_owned()))
    }

    /// A new random id (UUID v4), for appointments the portal or a simulator creates.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_fhir_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { max: MAX_ID_LEN });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(IdError::BadCharacter);
    }
    if s == "." || s.contains("..") {
        return Err(IdError::PathLike);
    }
    Ok(())
}

impl fmt::Debug for AppointmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppointmentId({})", self.0)
    }
}

impl fmt::Display for AppointmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AppointmentId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        check_fhir_id(&s)?;
        Ok(Self(s))
    }
}

impl From<AppointmentId> for String {
    fn from(id: AppointmentId) -> Self {
        id.0
    }
}

/// An Organisation Data Service (ODS) code, such as `RJ1` for a trust.
///
/// Three to five upper-case letters or digits: trusts have three, their sites five, and the Wayfinder
/// Reporting Service refuses anything longer than five. Lower case input is upper-cased.
///
/// ```
/// use nhs_portal_core::OdsCode;
/// assert_eq!(OdsCode::parse("rj1").unwrap().as_str(), "RJ1");
/// assert!(OdsCode::parse("R").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OdsCode(String);

impl OdsCode {
    /// Parses an ODS code.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if !(3..=5).contains(&s.len()) {
            return Err(IdError::WrongLength { expected: "3 to 5" });
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::BadCharacter);
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    /// The code text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OdsCode({})", self.0)
    }
}

impl fmt::Display for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OdsCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OdsCode> for String {
    fn from(c: OdsCode) -> Self {
        c.0
    }
}

/// The FHIR code system for Treatment Function Codes.
pub const SPECIALTY_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/Specialty-1";

/// A Treatment Function Code: three digits, such as `110` (Trauma and orthopaedics).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct TreatmentFunctionCode([u8; 3]);

impl TreatmentFunctionCode {
    /// Parses three ASCII digits.
    ///
    /// ```
    /// use nhs_portal_core::TreatmentFunctionCode;
    /// assert_eq!(TreatmentFunctionCode::parse("330").unwrap().as_str(), "330");
    /// assert!(TreatmentFunctionCode::parse("33").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        if b.len() != 3 {
            return Err(IdError::WrongLength { expected: "3" });
        }
        if !b.iter().all(u8::is_ascii_digit) {
            return Err(IdError::BadCharacter);
        }
        Ok(Self([b[0], b[1], b[2]]))
    }

    /// The three digits.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII digits, checked in `parse`.
        std::str::from_utf8(&self.0).unwrap_or("000")
    }
}

impl fmt::Debug for TreatmentFunctionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreatmentFunctionCode({})", self.as_str())
    }
}

impl fmt::Display for TreatmentFunctionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for TreatmentFunctionCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TreatmentFunctionCode> for String {
    fn from(c: TreatmentFunctionCode) -> Self {
        c.as_str().to_owned()
    }
}

/// A specialty: its Treatment Function Code and the display name the PCA carries (for example
/// `330`, `DERMATOLOGY`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Specialty {
    /// The Treatment Function Code.
    pub code: TreatmentFunctionCode,
    /// The display name, as in the NHS Data Dictionary list (upper case in the PCA examples).
    pub display: String,
}

impl Specialty {
    /// A specialty from a raw Treatment Function Code (three digits) and its display name.
    ///
    /// ```
    /// let s = nhs_portal_core::Specialty::new("330", "DERMATOLOGY")?;
    /// assert_eq!(s.code.as_str(), "330");
    /// assert!(nhs_portal_core::Specialty::new("33", "DERMATOLOGY").is_err());
    /// # Ok::<(), nhs_portal_core::IdError>(())
    /// ```
    pub fn new(code: &str, display: impl Into<String>) -> Result<Self, IdError> {
        Ok(Self {
            code: TreatmentFunctionCode::parse(code)?,
            display: display.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appointment_id_table() {
        let long = "a".repeat(65);
        let max = "a".repeat(64);
        let cases: &[(&str, Result<(), IdError>)] = &[
            ("7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60", Ok(())),
            ("APPT.123", Ok(())),
            (&max, Ok(())),
            ("", Err(IdError::Empty)),
            (&long, Err(IdError::TooLong { max: 64 })),
            ("..", Err(IdError::PathLike)),
            (".", Err(IdError::PathLike)),
            ("a..b", Err(IdError::PathLike)),
            ("a/b", Err(IdError::BadCharacter)),
            ("a%2Fb", Err(IdError::BadCharacter)),
            ("a b", Err(IdError::BadCharacter)),
            ("ä", Err(IdError::BadCharacter)),
        ];
        for (input, want) in cases {
            assert_eq!(AppointmentId::parse(input).map(|_| ()), *want, "{input}");
        }
    }

    #[test]
    fn ods_and_tfc() {
        assert_eq!(OdsCode::parse("RJ1").unwrap().as_str(), "RJ1");
        assert_eq!(OdsCode::parse("rtd02").unwrap().as_str(), "RTD02");
        assert!(OdsCode::parse("RTD020").is_err());
        assert!(OdsCode::parse("R-1").is_err());
        assert!(OdsCode::parse("").is_err());
        assert!(TreatmentFunctionCode::parse("1a0").is_err());
        assert!(TreatmentFunctionCode::parse("1100").is_err());
    }
}
