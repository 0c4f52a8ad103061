//! Bulk import of hospitals: Haven's own JSON (an array of hospital profiles) or a Kenya
//! Master Health Facility List CSV export. Rows that cannot be placed are reported, never
//! guessed.

use std::collections::BTreeSet;
use std::io::Read;

use futures::StreamExt;
use serde::Deserialize;

use crate::error::DomainError;
use crate::hospitals::profile::{EdStatus, FacilityType, Hospital, KMHFL_SOURCE, Performance};
use crate::ids::is_valid_id;
use crate::ports::{Condition, Ports, Table, TableError};

/// What a KMHFL service name says a facility can do, in Haven's specialty words.
const KMHFL_SERVICES: &[(&str, &[&str])] = &[
    (
        "Accident and Emergency casualty Services",
        &["emergency", "trauma"],
    ),
    ("General Emergency Services", &["emergency"]),
    ("Comprehensive Emergency Preparedness", &["emergency"]),
    ("Comprehensive Obstetric Care (CMOC)", &["maternity"]),
    ("Maternity Theatre Services", &["maternity"]),
    ("Paediatric outpatient clinic", &["pediatric"]),
    ("ICU services", &["icu"]),
    ("High depedency Services", &["icu"]),
    ("General Theatre Services", &["surgery"]),
    ("Orthopaedic surgeries", &["orthopaedics"]),
    ("Orthopaedic procedures", &["orthopaedics"]),
    ("Dialysis", &["dialysis"]),
    ("Renal services", &["dialysis"]),
    ("Blood bank", &["blood_bank"]),
    (
        "Facility offering Blood Transfusion Service",
        &["blood_bank"],
    ),
    ("Specialised Mental Health Services", &["mental_health"]),
    ("Comprehensive Mental Health Service", &["mental_health"]),
    ("Chemotherapy", &["oncology"]),
    ("Radiotherapy", &["oncology"]),
    ("CT scans", &["radiology"]),
    ("MRI", &["radiology"]),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// 1-based record number in the file (the header is not counted).
    pub record: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub hospitals: Vec<Hospital>,
    pub skipped: Vec<Skipped>,
}

/// The KMHFL columns Haven reads. The source's `lat`/`long` are swapped; the corrected
/// `latitude`/`longitude` columns are the ones to use.
#[derive(Debug, Deserialize)]
struct KmhflRow {
    id: String,
    #[serde(default)]
    code: String,
    name: String,
    #[serde(default)]
    officialname: String,
    #[serde(default)]
    keph_level_name: String,
    #[serde(default)]
    facility_type_category: String,
    #[serde(default)]
    facility_type_name: String,
    #[serde(default)]
    county_name: String,
    #[serde(default)]
    beds: String,
    #[serde(default)]
    service_names: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
}

fn kmhfl_hospital(row: KmhflRow) -> Result<Hospital, String> {
    if !is_valid_id(&row.id) {
        return Err("the id is not a valid identifier".into());
    }
    let (Ok(latitude), Ok(longitude)) = (
        row.latitude.trim().parse::<f64>(),
        row.longitude.trim().parse::<f64>(),
    ) else {
        return Err("no coordinates".into());
    };
    let level = row
        .keph_level_name
        .trim()
        .strip_prefix("Level ")
        .and_then(|l| l.parse::<u8>().ok())
        .unwrap_or(2)
        .clamp(2, 6);
    let mut specialties = BTreeSet::new();
    for service in row.service_names.split('|') {
        if let Some((_, words)) = KMHFL_SERVICES.iter().find(|(name, _)| *name == service) {
            specialties.extend(words.iter().map(|w| w.to_string()));
        }
    }
    // KMHFL reports 0 beds for "unknown" as often as for "none"; 0 total means unknown here.
    let beds = row.beds.trim().parse::<u32>().unwrap_or(0);
    let name = if row.officialname.trim().is_empty() {
        row.name
    } else {
        row.officialname
    };
    let code = row.code.trim().to_owned();
    let hospital = Hospital {
        hospital_id: row.id,
        name: name.trim().chars().take(200).collect(),
        latitude,
        longitude,
        level,
        mfl_code: Some(code.clone()).filter(|c| !c.is_empty()),
        facility_type: FacilityType::from_kmhfl(
            &row.facility_type_category,
            &row.facility_type_name,
        ),
        county: Some(row.county_name).filter(|c| !c.is_empty()),
        phone: None,
        specialties: specialties.into_iter().collect(),
        departments: vec![],
        equipment: vec![],
        beds: Default::default(),
        beds_total: beds,
        // Registered beds say nothing about free ones: unreported until staff report.
        beds_available: None,
        icu_beds_available: None,
        ed_status: EdStatus::Open,
        channels: vec![],
        sms_numbers: vec![],
        performance: Performance::default(),
        source: Some(format!("{KMHFL_SOURCE}{code}")).filter(|_| !code.is_empty()),
        capacity_updated_at: None,
        version: 1,
    };
    hospital.validate().map_err(|e| match e.field() {
        Some(field) => format!("{field}: {e}"),
        None => e.to_string(),
    })?;
    Ok(hospital)
}

/// Reads a KMHFL CSV export (with its corrected `latitude`/`longitude` columns).
pub fn parse_kmhfl_csv(input: impl Read) -> Result<Parsed, DomainError> {
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| DomainError::invalid("file", format!("not a CSV file: {e}")))?
        .clone();
    for needed in ["id", "name", "latitude", "longitude"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(DomainError::invalid(
                "file",
                format!("the CSV has no `{needed}` column"),
            ));
        }
    }
    let mut parsed = Parsed::default();
    for (i, record) in reader.deserialize::<KmhflRow>().enumerate() {
        let outcome = record
            .map_err(|e| format!("unreadable row: {e}"))
            .and_then(kmhfl_hospital);
        match outcome {
            Ok(h) => parsed.hospitals.push(h),
            Err(reason) => parsed.skipped.push(Skipped {
                record: i + 1,
                reason,
            }),
        }
    }
    Ok(parsed)
}

/// Reads Haven's JSON format: an array of hospital profiles, each validated.
pub fn parse_json(input: impl Read) -> Result<Parsed, DomainError> {
    let values: Vec<serde_json::Value> = serde_json::from_reader(input)
        .map_err(|e| DomainError::invalid("file", format!("not a JSON array: {e}")))?;
    let mut parsed = Parsed::default();
    for (i, value) in values.into_iter().enumerate() {
        let outcome = serde_json::from_value::<Hospital>(value)
            .map_err(|e| e.to_string())
            .and_then(|h| {
                if !is_valid_id(&h.hospital_id) {
                    return Err("hospital_id is not a valid identifier".into());
                }
                h.validate().map(|()| h).map_err(|e| e.to_string())
            });
        match outcome {
            Ok(h) => parsed.hospitals.push(h),
            Err(reason) => parsed.skipped.push(Skipped {
                record: i + 1,
                reason,
            }),
        }
    }
    Ok(parsed)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    /// Already present and left as they are (their live capacity is not overwritten).
    pub existing: usize,
    pub replaced: usize,
}

/// Writes hospitals. New ones are created; existing ones are left alone unless `replace`,
/// which overwrites the profile (and its capacity) with the file's.
pub async fn import<P: Ports>(
    ports: &P,
    hospitals: Vec<Hospital>,
    replace: bool,
) -> Result<ImportReport, DomainError> {
    let table = ports.table();
    let outcomes: Vec<Result<bool, TableError>> = futures::stream::iter(hospitals)
        .map(|h| async move {
            let condition = (!replace).then(Condition::item_absent);
            match table.put(h.to_item(), condition).await {
                Ok(()) => Ok(true),
                Err(TableError::ConditionFailed) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut report = ImportReport::default();
    for outcome in outcomes {
        match outcome? {
            true if replace => report.replaced += 1,
            true => report.created += 1,
            false => report.existing += 1,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "code,name,officialname,keph_level_name,facility_type_name,facility_type_category,county_name,beds,service_names,id,lat,long,latitude,longitude\n\
13023,KNH,Kenyatta National Hospital ,Level 6,Comprehensive Teaching & Tertiary Referral Hospital,HOSPITALS,Nairobi,1455,Accident and Emergency casualty Services|ICU services|Outpatient,9841ef13-8617-4b70-9236-769999b06be6,36.80734,-1.30088,-1.30088,36.80734\n\
,Nowhere Dispensary,,Level 2,Dispensary,DISPENSARY,Baringo,0,,aaaaaaaa-8617-4b70-9236-769999b06be6,,,,\n\
1,Bad,,,,,,x,,has space,1,1,1,1\n\
13194,National Spinal Injury Hospital,,Level 6,Specialized & Tertiary Referral hospitals,HOSPITALS,Nairobi,30,Orthopaedic surgeries,bbbbbbbb-8617-4b70-9236-769999b06be6,36.79339,-1.28567,-1.28567,36.79339\n\
99999,Mamas Nursing Home,,Level 3,NURSING HOME,,Nairobi,10,,cccccccc-8617-4b70-9236-769999b06be6,36.8,-1.3,-1.3,36.8\n";

    #[test]
    fn kmhfl_rows_become_hospitals_using_the_corrected_columns() {
        let parsed = parse_kmhfl_csv(CSV.as_bytes()).expect("csv");
        assert_eq!(parsed.hospitals.len(), 3);
        let knh = &parsed.hospitals[0];
        assert_eq!(knh.name, "Kenyatta National Hospital");
        assert_eq!((knh.latitude, knh.longitude), (-1.30088, 36.80734));
        assert_eq!(knh.level, 6);
        assert_eq!(knh.specialties, ["emergency", "icu", "trauma"]);
        assert_eq!(knh.source.as_deref(), Some("kmhfl:13023"));
        assert_eq!(knh.mfl_code.as_deref(), Some("13023"));
        assert_eq!(knh.facility_type, Some(FacilityType::Hospital));
        // Observation 2: registered beds are not free beds.
        assert_eq!(
            (knh.beds_total, knh.beds_available, knh.icu_beds_available),
            (1455, None, None)
        );
        assert_eq!(
            parsed.hospitals[1].facility_type,
            Some(FacilityType::SpecialistHospital)
        );
        // A blank category falls back to the type name.
        assert_eq!(
            parsed.hospitals[2].facility_type,
            Some(FacilityType::NursingHome)
        );
        let reasons: Vec<(usize, &str)> = parsed
            .skipped
            .iter()
            .map(|s| (s.record, s.reason.as_str()))
            .collect();
        assert_eq!(reasons[0], (2, "no coordinates"));
        assert_eq!(reasons[1].0, 3);
    }

    #[test]
    fn kmhfl_types_map_from_category_or_name() {
        let cases = [
            (
                "HOSPITALS",
                "Primary care hospitals",
                Some(FacilityType::Hospital),
            ),
            (
                "HOSPITALS",
                "Specialized & Tertiary Referral hospitals",
                Some(FacilityType::SpecialistHospital),
            ),
            (
                "MEDICAL CENTER",
                "Medical Center",
                Some(FacilityType::MedicalCentre),
            ),
            (
                "STAND ALONE",
                "Dental Clinic",
                Some(FacilityType::StandAlone),
            ),
            (
                "STAND ALONE",
                "Farewell Home",
                Some(FacilityType::StandAlone),
            ),
            (
                "Primary health  care services",
                "Dispensaries and clinic-out patient only",
                Some(FacilityType::Clinic),
            ),
            ("", "HEALTH CENTRE", Some(FacilityType::HealthCentre)),
            ("", "HOSPITALS", Some(FacilityType::Hospital)),
            ("", "", None),
        ];
        for (category, name, expected) in cases {
            assert_eq!(
                FacilityType::from_kmhfl(category, name),
                expected,
                "{category} / {name}"
            );
        }
    }

    #[test]
    fn a_csv_without_coordinates_columns_is_refused() {
        let err = parse_kmhfl_csv("id,name\n1,x\n".as_bytes()).expect_err("refused");
        assert_eq!(err.field(), Some("file"));
    }

    #[test]
    fn json_imports_validate_each_profile() {
        let json = r#"[
            {"hospital_id":"a","name":"A","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open","beds_total":10,"beds_available":4},
            {"hospital_id":"b","name":"B","latitude":-1.3,"longitude":36.8,"level":9,"ed_status":"open"},
            {"hospital_id":"c#1","name":"C","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open"},
            {"hospital_id":"d","name":"D","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open","mfl_code":"KNH-1"}
        ]"#;
        let parsed = parse_json(json.as_bytes()).expect("json");
        assert_eq!(parsed.hospitals.len(), 1);
        assert_eq!(parsed.hospitals[0].beds_available, Some(4));
        assert_eq!(parsed.skipped.len(), 3);
        assert!(parsed.skipped[0].reason.contains("level"));
        assert!(parsed.skipped[2].reason.contains("KMHFL code"));
    }
}
