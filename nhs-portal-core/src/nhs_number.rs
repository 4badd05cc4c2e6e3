//! NHS numbers: ten digits whose last digit is a Modulus 11 check digit.
//!
//! An [`NhsNumber`] can only be built by parsing, so holding one proves it is well formed.
//! Its `Debug` output is redacted so that it never reaches a log by accident; use
//! [`NhsNumber::as_str`] where the digits are really needed (FHIR payloads, audit records).

use std::fmt;
use std::str::FromStr;

/// The FHIR identifier system for NHS numbers.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// A valid NHS number (ten digits, Modulus 11 check digit, no leading zero).
///
/// ```
/// use nhs_portal_core::NhsNumber;
/// let n = NhsNumber::parse("9000000009").unwrap();
/// assert_eq!(n.as_str(), "9000000009");
/// assert_eq!(n.to_fhir_identifier(), "https://fhir.nhs.uk/Id/nhs-number|9000000009");
/// assert!(NhsNumber::parse("9000000008").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

/// Why a string is not an NHS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NhsNumberError {
    /// Not exactly ten characters.
    #[error("an NHS number has 10 digits, this has {0} characters")]
    WrongLength(usize),
    /// A character other than the digits 0 to 9.
    #[error("an NHS number contains only the digits 0 to 9")]
    NotDigits,
    /// The first digit is zero, which the PCA and Wayfinder patterns (`^[1-9][0-9]{9}$`) refuse.
    #[error("an NHS number does not start with 0")]
    LeadingZero,
    /// The Modulus 11 check gives 10, which no NHS number is issued with.
    #[error("the check digit calculation gives 10, so this is not an NHS number")]
    CheckDigitTen,
    /// The last digit does not match the Modulus 11 check digit.
    #[error("the check digit does not match")]
    BadCheckDigit,
    /// A FHIR token whose system is not `https://fhir.nhs.uk/Id/nhs-number`.
    #[error("the identifier system is not {NHS_NUMBER_SYSTEM}")]
    WrongSystem,
    /// A FHIR token without the `system|value` separator.
    #[error("expected {NHS_NUMBER_SYSTEM}|<10 digits>")]
    NotAnIdentifier,
}

impl NhsNumber {
    /// Parses ten digits, checking the Modulus 11 check digit.
    pub fn parse(s: &str) -> Result<Self, NhsNumberError> {
        let len = s.chars().count();
        if len != 10 {
            return Err(NhsNumberError::WrongLength(len));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NhsNumberError::NotDigits);
        }
        let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if digits[0] == 0 {
            return Err(NhsNumberError::LeadingZero);
        }
        let sum: u32 = digits[..9]
            .iter()
            .zip((2..=10).rev())
            .map(|(d, w)| d * w)
            .sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => return Err(NhsNumberError::CheckDigitTen),
            c => c,
        };
        if check != digits[9] {
            return Err(NhsNumberError::BadCheckDigit);
        }
        Ok(Self(s.to_owned()))
    }

    /// Parses the FHIR token form `https://fhir.nhs.uk/Id/nhs-number|9000000009`.
    pub fn from_fhir_identifier(token: &str) -> Result<Self, NhsNumberError> {
        let (system, value) = token
            .split_once('|')
            .ok_or(NhsNumberError::NotAnIdentifier)?;
        if system != NHS_NUMBER_SYSTEM {
            return Err(NhsNumberError::WrongSystem);
        }
        Self::parse(value)
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The FHIR token form, `system|value`.
    pub fn to_fhir_identifier(&self) -> String {
        format!("{NHS_NUMBER_SYSTEM}|{}", self.0)
    }

    /// The number grouped 3-3-4 for people, as NHS services print it: `900 000 0009`.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Redacted: NHS numbers must not reach logs through `{:?}`.
        f.write_str("NhsNumber(**********)")
    }
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use NhsNumberError::*;
        let cases: &[(&str, Result<&str, NhsNumberError>)] = &[
            ("9000000009", Ok("9000000009")),
            ("9000000017", Ok("9000000017")),
            ("9434765919", Ok("9434765919")),
            ("4010232137", Ok("4010232137")),
            ("9000000041", Ok("9000000041")),
            // remainder 0, so 11 - 0 = 11 becomes check digit 0
            ("9000000130", Ok("9000000130")),
            ("900000000", Err(WrongLength(9))),
            ("90000000099", Err(WrongLength(11))),
            ("", Err(WrongLength(0))),
            ("900000000a", Err(NotDigits)),
            ("900 000 00", Err(NotDigits)),
            // ten characters, one of them a full-width digit
            ("90000000０9", Err(NotDigits)),
            ("0000000000", Err(LeadingZero)),
            ("9000000008", Err(BadCheckDigit)),
            ("9434765918", Err(BadCheckDigit)),
            // 900000005 gives 11 - 1 = 10: no last digit can make it valid
            ("9000000050", Err(CheckDigitTen)),
            ("9000000059", Err(CheckDigitTen)),
        ];
        for (input, want) in cases {
            let got = NhsNumber::parse(input);
            match want {
                Ok(digits) => assert_eq!(got.as_ref().map(|n| n.as_str()), Ok(*digits), "{input}"),
                Err(e) => assert_eq!(got.as_ref().err(), Some(e), "{input}"),
            }
        }
    }

    #[test]
    fn fhir_identifier_table() {
        use NhsNumberError::*;
        let cases: &[(&str, Result<&str, NhsNumberError>)] = &[
            (
                "https://fhir.nhs.uk/Id/nhs-number|9000000009",
                Ok("9000000009"),
            ),
            (
                "https://fhir.nhs.uk/Id/nhs-number|9000000008",
                Err(BadCheckDigit),
            ),
            (
                "https://fhir.nhs.uk/Id/NHS-number|9000000009",
                Err(WrongSystem),
            ),
            (
                "http://fhir.nhs.uk/Id/nhs-number|9000000009",
                Err(WrongSystem),
            ),
            ("|9000000009", Err(WrongSystem)),
            ("9000000009", Err(NotAnIdentifier)),
            ("https://fhir.nhs.uk/Id/nhs-number|", Err(WrongLength(0))),
        ];
        for (input, want) in cases {
            let got = NhsNumber::from_fhir_identifier(input);
            match want {
                Ok(digits) => assert_eq!(got.as_ref().map(|n| n.as_str()), Ok(*digits), "{input}"),
                Err(e) => assert_eq!(got.as_ref().err(), Some(e), "{input}"),
            }
        }
    }

    #[test]
    fn debug_is_redacted_and_round_trips() {
        let n = NhsNumber::parse("9000000009").unwrap();
        assert!(!format!("{n:?}").contains("9000000009"));
        assert_eq!(n.formatted(), "900 000 0009");
        assert_eq!(
            NhsNumber::from_fhir_identifier(&n.to_fhir_identifier()).unwrap(),
            n
        );
    }
}
