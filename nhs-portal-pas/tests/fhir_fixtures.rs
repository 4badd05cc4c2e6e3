//! The FHIR mapping against independent, hand-written FHIR R4 resources (`tests/fixtures/fhir/`,
//! see its README): shaped after the PCA spec's examples and UK Core, never produced by the
//! adapter's own writer. Each expected [`Appointment`] is written out in full here, so a mistake
//! made the same way in reading and writing does not cancel out.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nhs_portal_core::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, Clinician, ConsultationMedium,
    Identifier, Location, NhsNumber, OdsCode, Organisation, Priority, RequestStatus, Specialty,
    TreatmentFunctionCode,
};
use nhs_portal_pas::fhir::map::{self, MapError};
use serde_json::Value;

const BASE: &str = "https://portal.example-trust.nhs.uk/fhir/";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fhir")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn nhs(n: &str) -> NhsNumber {
    NhsNumber::parse(n).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// The trust the adapter is configured for, used unless the resource names one.
fn default_trust() -> Organisation {
    Organisation {
        ods_code: OdsCode::parse("RFF").unwrap(),
        name: "Barnsley Hospital NHS Foundation Trust".into(),
    }
}

fn specialty(code: &str, display: &str) -> Specialty {
    Specialty {
        code: TreatmentFunctionCode::parse(code).unwrap(),
        display: display.into(),
    }
}

fn identifier(system: &str, value: &str) -> Identifier {
    Identifier {
        system: system.into(),
        value: value.into(),
    }
}

fn read(name: &str, patient: &str) -> Result<Option<Appointment>, MapError> {
    map::appointment_from_fhir(&fixture(name), &nhs(patient), &default_trust(), BASE)
}

#[test]
fn the_pca_example_appointment() {
    let got = read("pca-example-video-pending-reschedule.json", "9000000009")
        .unwrap()
        .expect("a booked appointment is shown");
    let want = Appointment {
        id: AppointmentId::parse("d9df1326-1008-45df-b9dd-a920b64ec043").unwrap(),
        patient: nhs("9000000009"),
        status: AppointmentStatus::Booked,
        request_status: Some(RequestStatus::PendingReschedule),
        description: "Dermatology".into(),
        specialty: specialty("330", "DERMATOLOGY"),
        start: utc(2021, 6, 13, 12, 30),
        end: Some(utc(2021, 6, 13, 12, 45)),
        medium: ConsultationMedium::Video,
        priority: Some(Priority::Routine),
        location: Some(Location {
            name: "Chapel Allerton Hospital, Dentistry Dept, 2nd Floor".into(),
            address: vec![],
        }),
        clinician: None,
        // The ODS code comes from the resource; it carries no name, so the configured one stays.
        organisation: Organisation {
            ods_code: OdsCode::parse("RFF").unwrap(),
            name: "Barnsley Hospital NHS Foundation Trust".into(),
        },
        appointment_type: AppointmentType::Outpatient,
        holding: false,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![
            identifier(
                "https://fhir.myclinicalsystem.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Appointment",
                "4817508",
            ),
            identifier(
                "https://prod.myportal.com/fhir/Appointment",
                "3a146c43-2b21-44e9-95bc-6f4849e504c8",
            ),
            identifier(
                "https://portal.example-trust.nhs.uk/fhir/Appointment",
                "d9df1326-1008-45df-b9dd-a920b64ec043",
            ),
        ],
    };
    assert_eq!(got, want);
}

#[test]
fn a_uk_core_inpatient_admission_in_summer_time() {
    let got = read("ukcore-inpatient-telephone-bst.json", "9000000017")
        .unwrap()
        .expect("shown");
    let want = Appointment {
        id: AppointmentId::parse("ukcore-appt-0001").unwrap(),
        patient: nhs("9000000017"),
        status: AppointmentStatus::Booked,
        request_status: None,
        description: "Trauma and orthopaedics admission".into(),
        // The NHS specialty coding is found beside a SNOMED one, under its STU3 system.
        specialty: specialty("110", "TRAUMA & ORTHOPAEDICS"),
        // 09:30 BST is 08:30 UTC.
        start: utc(2026, 7, 1, 8, 30),
        end: Some(utc(2026, 7, 3, 11, 0)),
        // UK Core's delivery channel stands in for the PCA consultation medium.
        medium: ConsultationMedium::Telephone,
        priority: Some(Priority::TwoWeekWait),
        location: Some(Location {
            name: "Ward 7, Northfield General Hospital".into(),
            address: vec![],
        }),
        clinician: Some(Clinician {
            name: "Miss A Surgeon".into(),
            sds_user_id: Some("555555555555".into()),
        }),
        organisation: Organisation {
            ods_code: OdsCode::parse("R9N").unwrap(),
            name: "Northfield Teaching Hospitals NHS Foundation Trust".into(),
        },
        appointment_type: AppointmentType::Inpatient,
        holding: false,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![
            identifier("https://pas.example-trust.nhs.uk/Id/appointment", "A-77120"),
            identifier(
                "https://portal.example-trust.nhs.uk/fhir/Appointment",
                "ukcore-appt-0001",
            ),
        ],
    };
    assert_eq!(got, want);
}

#[test]
fn a_uk_core_missed_appointment_without_a_description() {
    let got = read("ukcore-noshow-practice-setting.json", "9000000009")
        .unwrap()
        .expect("shown");
    let want = Appointment {
        id: AppointmentId::parse("ukcore-appt-0002").unwrap(),
        patient: nhs("9000000009"),
        status: AppointmentStatus::NoShow,
        request_status: None,
        // Derived from the specialty, in sentence case.
        description: "Respiratory medicine appointment".into(),
        specialty: specialty("340", "RESPIRATORY MEDICINE"),
        start: utc(2025, 11, 20, 14, 0),
        // `minutesDuration` alone gives no end.
        end: None,
        medium: ConsultationMedium::FaceToFace,
        priority: None,
        location: None,
        clinician: None,
        organisation: default_trust(),
        appointment_type: AppointmentType::Outpatient,
        holding: false,
        patient_instruction: None,
        cancelled_by: None,
        contact: None,
        identifiers: vec![identifier(
            "https://portal.example-trust.nhs.uk/fhir/Appointment",
            "ukcore-appt-0002",
        )],
    };
    assert_eq!(got, want);
}

#[test]
fn statuses_the_portal_does_not_show_are_left_out() {
    assert_eq!(read("r4-waitlist.json", "9000000009"), Ok(None));
}

#[test]
fn resources_that_cannot_be_mapped_name_the_element() {
    assert_eq!(
        read("r4-missing-start.json", "9000000009"),
        Err(MapError::Missing("start"))
    );
    assert_eq!(
        read("r4-snomed-specialty-only.json", "9000000009"),
        Err(MapError::Missing("specialty"))
    );
}

#[test]
fn uk_core_patients_birth_date_and_restriction() {
    let restricted = fixture("ukcore-patient-restricted.json");
    assert_eq!(
        map::birth_date(&restricted),
        Ok(NaiveDate::from_ymd_opt(1975, 2, 28).unwrap())
    );
    assert!(map::is_restricted(&restricted));
    let open = fixture("ukcore-patient.json");
    assert_eq!(
        map::birth_date(&open),
        Ok(NaiveDate::from_ymd_opt(1990, 12, 1).unwrap())
    );
    assert!(
        !map::is_restricted(&open),
        "U (unrestricted) is not restricted"
    );
}

#[test]
fn participants_are_matched_by_nhs_number_or_reference() {
    let a = fixture("ukcore-inpatient-telephone-bst.json");
    assert!(map::has_patient(&a, &nhs("9000000017"), None));
    assert!(map::has_patient(
        &a,
        &nhs("9000000009"),
        Some("Patient/ukcore-patient-0001")
    ));
    assert!(!map::has_patient(&a, &nhs("9000000009"), None));
    assert!(!map::has_patient(
        &a,
        &nhs("9000000009"),
        Some("Patient/someone-else")
    ));
}

#[path = "../../tests/src/specs.rs"]
mod specs;

/// NHS England's own example, read unchanged from `../shared/specs`: it leaves out `specialty`
/// (which the producer schema requires), and the mapper refuses it for exactly that.
#[test]
fn the_pca_spec_example_itself_lacks_the_required_specialty() {
    let rel = "pca-api/components/examples/GetAppointmentResponseHappyPath.json";
    let Some(path) = specs::spec_file(rel) else {
        return;
    };
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resource = &bundle["entry"][0]["resource"];
    assert_eq!(
        map::appointment_from_fhir(resource, &nhs("9000000009"), &default_trust(), BASE),
        Err(MapError::Missing("specialty"))
    );
    // With the specialty added it is the first fixture above.
    let mut completed = resource.clone();
    completed["specialty"] =
        fixture("pca-example-video-pending-reschedule.json")["specialty"].clone();
    let mut basis = fixture("pca-example-video-pending-reschedule.json");
    basis["basedOn"] = completed["basedOn"].clone();
    assert_eq!(
        map::appointment_from_fhir(&completed, &nhs("9000000009"), &default_trust(), BASE),
        map::appointment_from_fhir(&basis, &nhs("9000000009"), &default_trust(), BASE),
    );
}

#[test]
fn a_hapi_like_search_page_maps_its_matches_only() {
    let page = fixture("hapi-like-searchset-page.json");
    let matches: Vec<&Value> = page["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| &e["resource"])
        .collect();
    assert_eq!(
        matches.len(),
        2,
        "the included Practitioner is not an appointment"
    );
    let patient = nhs("9000000009");
    let refs = ["Patient/1203".to_owned()];
    // A versioned and an absolute reference to the same Patient.
    assert!(
        matches
            .iter()
            .all(|r| map::has_patient_in(r, &patient, &refs))
    );
    let cancelled = map::appointment_from_fhir(matches[0], &patient, &default_trust(), BASE)
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(cancelled.start, utc(2026, 7, 14, 9, 15));
    assert_eq!(
        cancelled.specialty,
        specialty("110", "TRAUMA & ORTHOPAEDICS")
    );
    assert_eq!(
        cancelled.clinician.map(|c| c.name).as_deref(),
        Some("Mr Tomasz Nowak")
    );
    assert_eq!(
        map::cancelled_by(matches[0]),
        nhs_portal_core::reporting::ChangeReason::Patient,
        "pat-cpp is the patient's"
    );
    let checked_in = map::appointment_from_fhir(matches[1], &patient, &default_trust(), BASE)
        .unwrap()
        .unwrap();
    assert_eq!(
        checked_in.status,
        AppointmentStatus::Booked,
        "checked-in is still today's appointment"
    );
    assert_eq!(checked_in.start, utc(2026, 6, 30, 13, 30));
}

#[test]
fn a_millennium_like_appointment_maps_through_the_trusts_concept_map() {
    let resource = fixture("millennium-like-appointment.json");
    let patient = nhs("9000000009");
    assert_eq!(
        read("millennium-like-appointment.json", "9000000009"),
        Err(MapError::Missing("specialty")),
        "without the table it is skipped, naming why"
    );
    let table = map::specialties::SpecialtyMap::from_concept_map(&fixture(
        "millennium-like-specialty-conceptmap.json",
    ))
    .unwrap();
    let a = map::appointment_from_fhir_with(&resource, &patient, &default_trust(), BASE, &table)
        .unwrap()
        .unwrap();
    assert_eq!(
        a,
        Appointment {
            id: AppointmentId::parse("4817463").unwrap(),
            patient: patient.clone(),
            status: AppointmentStatus::Booked,
            request_status: None,
            description: "Dermatology Follow Up".into(),
            specialty: specialty("330", "DERMATOLOGY"),
            start: utc(2026, 3, 30, 8, 30),
            end: Some(utc(2026, 3, 30, 8, 45)),
            medium: ConsultationMedium::FaceToFace,
            priority: None,
            location: Some(Location {
                name: "Outpatients 1".into(),
                address: Vec::new(),
            }),
            clinician: Some(Clinician {
                name: "Dr Amira Shah".into(),
                sds_user_id: None,
            }),
            organisation: default_trust(),
            appointment_type: AppointmentType::Outpatient,
            holding: false,
            patient_instruction: None,
            cancelled_by: None,
            contact: None,
            identifiers: vec![identifier(&format!("{BASE}Appointment"), "4817463")],
        }
    );
    assert!(map::has_patient_in(
        &resource,
        &patient,
        &["Patient/12724066".to_owned()]
    ));
}
