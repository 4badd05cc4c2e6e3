//! The appointment's specialty as a Treatment Function Code, from whatever the trust's PAS
//! codes it with: a TFC in one of the three systems that carry them, or a SNOMED CT or local
//! code through the trust's mapping table ([`SpecialtyMap`], from a FHIR ConceptMap or the
//! trust's configuration); `Appointment.specialty` first, then `serviceType`.

use nhs_portal_core::ids::SPECIALTY_SYSTEM;
use nhs_portal_core::{Specialty, TreatmentFunctionCode};
use serde_json::Value;

use super::{LEGACY_SPECIALTY_SYSTEM, MapError, UKCORE_PRACTICE_SETTING_SYSTEM, arr, s};

/// SNOMED CT, the system most trusts' own specialty codes come from.
pub const SNOMED_SYSTEM: &str = "http://snomed.info/sct";

/// The systems whose codes are Treatment Function Codes.
const TFC_SYSTEMS: [&str; 3] = [
    SPECIALTY_SYSTEM,
    LEGACY_SPECIALTY_SYSTEM,
    UKCORE_PRACTICE_SETTING_SYSTEM,
];

/// One code of the trust's and the Treatment Function Code it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialtyMapping {
    /// The code's system (for example [`SNOMED_SYSTEM`] or the trust's own URL).
    pub system: String,
    /// The code.
    pub code: String,
    /// The Treatment Function Code it maps to.
    pub specialty: TreatmentFunctionCode,
    /// The name to show (the TFC's name in the NHS Data Dictionary, say).
    pub display: String,
}

/// A trust's mapping table from its own specialty codes to Treatment Function Codes.
///
/// ```
/// use nhs_portal_pas::fhir::{SpecialtyMap, SpecialtyMapping};
/// use nhs_portal_core::TreatmentFunctionCode;
/// let map = SpecialtyMap::new(vec![SpecialtyMapping {
///     system: "http://snomed.info/sct".into(),
///     code: "394582007".into(),
///     specialty: TreatmentFunctionCode::parse("330").unwrap(),
///     display: "DERMATOLOGY".into(),
/// }]);
/// assert_eq!(map.lookup("http://snomed.info/sct", "394582007").unwrap().code.as_str(), "330");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialtyMap {
    mappings: Vec<SpecialtyMapping>,
}

impl SpecialtyMap {
    /// A table of these mappings.
    pub fn new(mappings: Vec<SpecialtyMapping>) -> Self {
        Self { mappings }
    }

    /// The table a FHIR R4 ConceptMap states: each group's `source` system to a Treatment
    /// Function Code system, each element's targets that are not `unmatched` or `disjoint`.
    /// A target that is not a Treatment Function Code, or a group to another system, is
    /// refused: a mapping table that cannot be used should stop the start, not hide
    /// appointments.
    pub fn from_concept_map(concept_map: &Value) -> Result<Self, MapError> {
        if concept_map.get("resourceType").and_then(Value::as_str) != Some("ConceptMap") {
            return Err(MapError::Invalid("ConceptMap resourceType"));
        }
        let mut mappings = Vec::new();
        for group in arr(concept_map, "group") {
            let source = s(group, "source").ok_or(MapError::Missing("ConceptMap group source"))?;
            if !s(group, "target").is_some_and(|t| TFC_SYSTEMS.contains(&t)) {
                return Err(MapError::Invalid("ConceptMap group target"));
            }
            for element in arr(group, "element") {
                let code =
                    s(element, "code").ok_or(MapError::Missing("ConceptMap element code"))?;
                for target in arr(element, "target") {
                    if matches!(s(target, "equivalence"), Some("unmatched" | "disjoint")) {
                        continue;
                    }
                    let specialty = s(target, "code")
                        .and_then(|c| TreatmentFunctionCode::parse(c).ok())
                        .ok_or(MapError::Invalid("ConceptMap target code"))?;
                    let display = s(target, "display")
                        .or_else(|| s(element, "display"))
                        .unwrap_or_default()
                        .to_owned();
                    mappings.push(SpecialtyMapping {
                        system: source.to_owned(),
                        code: code.to_owned(),
                        specialty,
                        display,
                    });
                }
            }
        }
        Ok(Self { mappings })
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// The specialty a trust code maps to.
    pub fn lookup(&self, system: &str, code: &str) -> Option<Specialty> {
        self.mappings
            .iter()
            .find(|m| m.system == system && m.code == code)
            .map(|m| Specialty {
                code: m.specialty,
                display: m.display.clone(),
            })
    }

    /// The specialty a CodeableConcept names: a Treatment Function Code coding first, else a
    /// coding the table maps.
    pub fn specialty_of(&self, concept: &Value) -> Option<Specialty> {
        let codings = || arr(concept, "coding");
        codings()
            .filter(|c| s(c, "system").is_some_and(|sys| TFC_SYSTEMS.contains(&sys)))
            .find_map(|c| {
                let code = TreatmentFunctionCode::parse(s(c, "code")?).ok()?;
                Some(Specialty {
                    code,
                    display: s(c, "display").unwrap_or_default().to_owned(),
                })
            })
            .or_else(|| codings().find_map(|c| self.lookup(s(c, "system")?, s(c, "code")?)))
    }

    /// An Appointment's specialty: from `specialty`, else from `serviceType`.
    pub fn of_appointment(&self, resource: &Value) -> Result<Specialty, MapError> {
        let from = |key: &str| arr(resource, key).find_map(|cc| self.specialty_of(cc));
        if let Some(s) = from("specialty").or_else(|| from("serviceType")) {
            return Ok(s);
        }
        // Say which: a TFC system with a bad code, or nothing usable at all.
        let tfc_coded = ["specialty", "serviceType"].iter().any(|key| {
            arr(resource, key)
                .flat_map(|cc| arr(cc, "coding"))
                .any(|c| s(c, "system").is_some_and(|sys| TFC_SYSTEMS.contains(&sys)))
        });
        Err(if tfc_coded {
            MapError::Invalid("specialty code")
        } else {
            MapError::Missing("specialty")
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dermatology_map() -> SpecialtyMap {
        SpecialtyMap::from_concept_map(&json!({
            "resourceType": "ConceptMap",
            "group": [
                {"source": SNOMED_SYSTEM, "target": SPECIALTY_SYSTEM, "element": [
                    {"code": "394582007", "display": "Dermatology", "target": [
                        {"code": "330", "display": "DERMATOLOGY", "equivalence": "equivalent"}]},
                    {"code": "394537008", "target": [{"code": "420", "equivalence": "unmatched"}]},
                ]},
                {"source": "https://pas.example/specialty", "target": SPECIALTY_SYSTEM, "element": [
                    {"code": "DERM", "display": "Skin clinic", "target": [{"code": "330"}]}]},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn appointments_find_their_specialty_table() {
        let map = dermatology_map();
        let cc = |system: &str, code: &str| json!([{"coding": [{"system": system, "code": code}]}]);
        // (specialty, serviceType, the code wanted or the error)
        let cases: [(Value, Value, Result<&str, MapError>); 7] = [
            (cc(SPECIALTY_SYSTEM, "330"), json!(null), Ok("330")),
            (cc(SNOMED_SYSTEM, "394582007"), json!(null), Ok("330")),
            (
                cc("https://pas.example/specialty", "DERM"),
                json!(null),
                Ok("330"),
            ),
            (json!(null), cc(SNOMED_SYSTEM, "394582007"), Ok("330")),
            // unmatched in the table: not a specialty
            (
                cc(SNOMED_SYSTEM, "394537008"),
                json!(null),
                Err(MapError::Missing("specialty")),
            ),
            (
                cc(SNOMED_SYSTEM, "999"),
                json!(null),
                Err(MapError::Missing("specialty")),
            ),
            (
                cc(SPECIALTY_SYSTEM, "33"),
                json!(null),
                Err(MapError::Invalid("specialty code")),
            ),
        ];
        for (specialty, service_type, want) in cases {
            let resource = json!({"specialty": specialty, "serviceType": service_type});
            let got = map.of_appointment(&resource).map(|s| s.code);
            assert_eq!(
                got.as_ref().map(|c| c.as_str()),
                want.as_ref().map(|c| *c),
                "{resource}"
            );
        }
        assert_eq!(
            map.lookup(SNOMED_SYSTEM, "394582007").unwrap().display,
            "DERMATOLOGY"
        );
        assert_eq!(
            map.lookup("https://pas.example/specialty", "DERM")
                .unwrap()
                .display,
            "Skin clinic"
        );
    }

    #[test]
    fn unusable_concept_maps_are_refused() {
        let bad = [
            json!({"resourceType": "ValueSet"}),
            json!({"resourceType": "ConceptMap", "group": [{"source": SNOMED_SYSTEM,
                "target": SNOMED_SYSTEM, "element": []}]}),
            json!({"resourceType": "ConceptMap", "group": [{"source": SNOMED_SYSTEM,
                "target": SPECIALTY_SYSTEM, "element": [{"code": "1", "target": [{"code": "dermatology"}]}]}]}),
        ];
        for cm in bad {
            assert!(SpecialtyMap::from_concept_map(&cm).is_err(), "{cm}");
        }
    }
}
