//! Bulk import of hospitals: Haven's own JSON (an array of hospital profiles) or a Kenya
//! Master Health Facility List CSV export. Rows that cannot be placed are reported, never
//! guessed.
//!
//! A row that is a hospital Haven already has (the same id, the same KMHFL code, or the same
//! name at the same place) is merged into it, never added twice: the record keeps its id,
//! channels, capacity and history, and gains what the file knows that it lacks. Matching is
//! in memory, over every hospital read once, with a spatial grid for the "same place" test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use futures::StreamExt;
use serde::Deserialize;

use crate::hospitals::manage;
use crate::hospitals::profile::{EdStatus, FacilityType, Hospital, KMHFL_SOURCE, Performance};
use haven_kernel::error::DomainError;
use haven_kernel::ids::is_valid_id;
use haven_kernel::ports::{Condition, Ports, Table, TableError};

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
    /// Hospitals Haven had that gained something from the file (a KMHFL code, a type, ...).
    pub merged: usize,
    /// Already present with nothing to add, and left as they are.
    pub existing: usize,
    pub replaced: usize,
}

/// Two records at most this far apart may be one facility (coordinates of the same hospital
/// differ by a few hundred metres between sources).
pub const SAME_PLACE_KM: f64 = 1.0;
/// Grid cells of the in-memory spatial index, in degrees (about 1.1 km at the equator).
const CELL_DEGREES: f64 = 0.01;
/// Words that say what kind of place a name is, not which one: ignored when names are
/// compared. `refferal` is KMHFL's own spelling; district, provincial and sub-county are
/// older names of county hospitals.
const FILLER_WORDS: &[&str] = &[
    "the",
    "and",
    "of",
    "hospital",
    "hospitals",
    "teaching",
    "referral",
    "refferal",
    "referal",
    "county",
    "sub",
    "district",
    "provincial",
    "level",
];

/// The words that name a facility: lowercase, accents and punctuation gone (an apostrophe
/// joins: "Gertrude's" is "gertrudes"), filler words dropped.
pub fn name_words(name: &str) -> BTreeSet<String> {
    let mut plain = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '\u{2019}' | '`' => {}
            c if c.is_ascii_alphanumeric() => plain.push(c),
            c => match fold_accent(c) {
                Some(base) => plain.push(base),
                None => plain.push(' '),
            },
        }
    }
    plain
        .split_whitespace()
        .filter(|w| !FILLER_WORDS.contains(w))
        .map(str::to_owned)
        .collect()
}

/// The base letter of a lowercase accented Latin letter.
fn fold_accent(c: char) -> Option<char> {
    const FOLDS: &[(&str, char)] = &[
        ("àáâãäåā", 'a'),
        ("çćč", 'c'),
        ("èéêëēė", 'e'),
        ("ìíîïī", 'i'),
        ("ñń", 'n'),
        ("òóôõöøō", 'o'),
        ("ùúûüū", 'u'),
        ("ýÿ", 'y'),
        ("šś", 's'),
        ("žź", 'z'),
    ];
    FOLDS
        .iter()
        .find(|(accented, _)| accented.contains(c))
        .map(|(_, base)| *base)
}

/// Whether two names name one facility. Conservative, since a wrong merge hides a hospital
/// and a duplicate only repeats one: the same words, or all the words of one (two or more)
/// plus only the county's name ("Aga Khan University Hospital, Nairobi").
pub fn same_name(a: &Hospital, b: &Hospital) -> bool {
    let (wa, wb) = (name_words(&a.name), name_words(&b.name));
    if wa.is_empty() || wb.is_empty() {
        return false;
    }
    if wa == wb {
        return true;
    }
    let (small, big) = if wa.len() < wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    let places: BTreeSet<String> = [&a.county, &b.county]
        .into_iter()
        .flatten()
        .flat_map(|c| name_words(c))
        .collect();
    small.len() >= 2 && small.is_subset(big) && big.difference(small).all(|w| places.contains(w))
}

/// Whether a file's row and a stored record are one facility, by name and place. Two
/// different KMHFL codes, or two different facility types, are two facilities.
fn same_facility(stored: &Hospital, row: &Hospital) -> bool {
    if let (Some(a), Some(b)) = (stored.registered_code(), row.registered_code())
        && a != b
    {
        return false;
    }
    if let (Some(a), Some(b)) = (stored.facility_type, row.facility_type)
        && a != b
    {
        return false;
    }
    stored.coordinates().distance_km(row.coordinates()) <= SAME_PLACE_KM && same_name(stored, row)
}

/// Adds to `stored` what `row` knows that it lacks. Never changes its id, name, place,
/// level, channels, SMS numbers, capacity reports or performance.
pub fn fill_in(stored: &mut Hospital, row: &Hospital) {
    if stored.mfl_code.is_none() {
        stored.mfl_code = stored
            .registered_code()
            .map(str::to_owned)
            .or_else(|| row.mfl_code.clone());
    }
    if stored.facility_type.is_none() {
        stored.facility_type = row.facility_type;
    }
    if stored.county.is_none() {
        stored.county = row.county.clone();
    }
    if stored.phone.is_none() {
        stored.phone = row.phone.clone();
    }
    if stored.beds_total == 0 {
        stored.beds_total = row.beds_total.max(stored.beds_available.unwrap_or(0));
    }
    for s in &row.specialties {
        if !stored.offers(s) {
            stored.specialties.push(s.clone());
        }
    }
    if stored.departments.is_empty() {
        stored.departments = row.departments.clone();
    }
    if stored.equipment.is_empty() {
        stored.equipment = row.equipment.clone();
    }
}

/// `--replace`: the file's profile and the figures it carries win. The record keeps its id,
/// how it is told (channels, SMS numbers), its performance, and any capacity the file does
/// not state.
fn replace_with(stored: &mut Hospital, row: &Hospital) {
    let mut next = row.clone();
    next.hospital_id = stored.hospital_id.clone();
    next.version = stored.version;
    next.channels = std::mem::take(&mut stored.channels);
    next.sms_numbers = std::mem::take(&mut stored.sms_numbers);
    next.performance = stored.performance;
    if row.beds_available.is_none() && row.beds.is_empty() {
        next.beds = std::mem::take(&mut stored.beds);
        next.beds_available = stored.beds_available;
        next.icu_beds_available = stored.icu_beds_available;
        next.capacity_updated_at = stored.capacity_updated_at.take();
        next.beds_total = next.beds_total.max(stored.beds_total);
    }
    *stored = next;
}

/// The hospitals already stored, indexed for matching rows against them.
struct Stored {
    hospitals: Vec<Hospital>,
    /// As read, to tell which ones a merge changed.
    original: Vec<Hospital>,
    by_id: HashMap<String, usize>,
    by_code: HashMap<String, usize>,
    grid: HashMap<(i64, i64), Vec<usize>>,
}

fn cell(latitude: f64, longitude: f64) -> (i64, i64) {
    (
        (latitude / CELL_DEGREES).floor() as i64,
        (longitude / CELL_DEGREES).floor() as i64,
    )
}

impl Stored {
    fn new(hospitals: Vec<Hospital>) -> Self {
        let mut stored = Stored {
            original: hospitals.clone(),
            hospitals,
            by_id: HashMap::new(),
            by_code: HashMap::new(),
            grid: HashMap::new(),
        };
        for i in 0..stored.hospitals.len() {
            let h = &stored.hospitals[i];
            stored.by_id.insert(h.hospital_id.clone(), i);
            stored
                .grid
                .entry(cell(h.latitude, h.longitude))
                .or_default()
                .push(i);
            stored.index_code(i);
        }
        stored
    }

    fn index_code(&mut self, i: usize) {
        if let Some(code) = self.hospitals[i].registered_code() {
            self.by_code.entry(code.to_owned()).or_insert(i);
        }
    }

    /// The stored hospital `row` is, if any: the same id, else the same KMHFL code, else
    /// the nearest with the same name within `SAME_PLACE_KM`.
    fn find(&self, row: &Hospital) -> Option<usize> {
        if let Some(&i) = self.by_id.get(&row.hospital_id) {
            return Some(i);
        }
        if let Some(&i) = row.registered_code().and_then(|c| self.by_code.get(c)) {
            return Some(i);
        }
        // Enough cells east and west to cover the distance at this latitude.
        let (y, x) = cell(row.latitude, row.longitude);
        let km_per_cell = (111.32 * CELL_DEGREES * row.latitude.to_radians().cos())
            .max(111.32 * CELL_DEGREES / 100.0);
        let dx = (SAME_PLACE_KM / km_per_cell).ceil() as i64;
        let here = row.coordinates();
        let mut best: Option<(f64, usize)> = None;
        for cy in y - 1..=y + 1 {
            for cx in x - dx..=x + dx {
                for &i in self.grid.get(&(cy, cx)).into_iter().flatten() {
                    let h = &self.hospitals[i];
                    if same_facility(h, row) {
                        let d = here.distance_km(h.coordinates());
                        if best.is_none_or(|(bd, _)| d < bd) {
                            best = Some((d, i));
                        }
                    }
                }
            }
        }
        best.map(|(_, i)| i)
    }
}

/// What the import does with one stored hospital or one new row.
enum Write {
    Create(Box<Hospital>),
    /// A stored hospital, by id, with the rows merged into it.
    Update(String, Vec<Hospital>),
}

/// Writes hospitals. A row that matches a stored hospital (same id, same KMHFL code, or the
/// same name within `SAME_PLACE_KM`) is merged into it; others are created. With `replace`
/// the file's profile wins over the matched record's (see `replace_with`). Running the same
/// import twice changes nothing the second time.
pub async fn import<P: Ports>(
    ports: &P,
    rows: Vec<Hospital>,
    replace: bool,
) -> Result<ImportReport, DomainError> {
    let mut stored = Stored::new(manage::all(ports.table()).await?);
    let mut merged_rows: BTreeMap<usize, Vec<Hospital>> = BTreeMap::new();
    let mut writes = Vec::new();
    let mut report = ImportReport::default();
    for row in rows {
        match stored.find(&row) {
            Some(i) => {
                if replace {
                    replace_with(&mut stored.hospitals[i], &row);
                } else {
                    fill_in(&mut stored.hospitals[i], &row);
                }
                // A code learnt here keeps a later row with another code from merging too.
                stored.index_code(i);
                merged_rows.entry(i).or_default().push(row);
            }
            None => writes.push(Write::Create(Box::new(row))),
        }
    }
    for (i, rows) in merged_rows {
        if stored.hospitals[i] == stored.original[i] {
            report.existing += 1;
        } else {
            writes.push(Write::Update(stored.hospitals[i].hospital_id.clone(), rows));
        }
    }
    let outcomes: Vec<Result<Outcome, DomainError>> = futures::stream::iter(writes)
        .map(|w| write(ports, w, replace))
        .buffer_unordered(8)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            Outcome::Created => report.created += 1,
            Outcome::Changed if replace => report.replaced += 1,
            Outcome::Changed => report.merged += 1,
            Outcome::Unchanged => report.existing += 1,
        }
    }
    // New hospitals were written one by one without telling anyone: one bump for them all.
    if report.created > 0 {
        crate::hospitals::directory::bump_now(ports).await?;
    }
    Ok(report)
}

enum Outcome {
    Created,
    Changed,
    Unchanged,
}

async fn write<P: Ports>(ports: &P, w: Write, replace: bool) -> Result<Outcome, DomainError> {
    let (id, rows) = match w {
        Write::Create(h) => {
            match ports
                .table()
                .put(h.to_item(), Some(Condition::item_absent()))
                .await
            {
                Ok(()) => return Ok(Outcome::Created),
                // Stored but not in the view (written before it existed, or the view has
                // not caught up): merge into it by id.
                Err(TableError::ConditionFailed) => (h.hospital_id.clone(), vec![*h]),
                Err(e) => return Err(e.into()),
            }
        }
        Write::Update(id, rows) => (id, rows),
    };
    // Merged afresh on the stored record, under its version, so a capacity report sent
    // meanwhile is kept. A record read from outside the view is written even when nothing
    // changed: that puts it in the view.
    let mut changed = false;
    manage::write_with_retry(ports, &id, |h| {
        let before = h.clone();
        for row in &rows {
            if replace {
                replace_with(h, row);
            } else {
                fill_in(h, row);
            }
        }
        changed = *h != before;
        Ok(None)
    })
    .await?;
    Ok(if changed {
        Outcome::Changed
    } else {
        Outcome::Unchanged
    })
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

    fn at(id: &str, name: &str, latitude: f64, longitude: f64) -> Hospital {
        Hospital {
            hospital_id: id.into(),
            name: name.into(),
            latitude,
            longitude,
            level: 4,
            mfl_code: None,
            facility_type: None,
            county: Some("Nairobi".into()),
            phone: None,
            specialties: vec![],
            departments: vec![],
            equipment: vec![],
            beds: Default::default(),
            beds_total: 0,
            beds_available: None,
            icu_beds_available: None,
            ed_status: EdStatus::Open,
            channels: vec![],
            sms_numbers: vec![],
            performance: Performance::default(),
            source: None,
            capacity_updated_at: None,
            version: 1,
        }
    }

    /// A point `km` east of (lat, lng).
    fn east(latitude: f64, longitude: f64, km: f64) -> (f64, f64) {
        (
            latitude,
            longitude + km / (111.32 * latitude.to_radians().cos()),
        )
    }

    #[test]
    fn names_compare_without_case_accents_punctuation_or_filler() {
        let words = |n: &str| name_words(n).into_iter().collect::<Vec<_>>();
        assert_eq!(
            words("Jaramogi Oginga Odinga Teaching & Referral Hospital"),
            words("Jaramogi Oginga Odinga Teaching and Referral Hospital")
        );
        assert_eq!(
            words("Gertrude's Children's Hospital"),
            ["childrens", "gertrudes"]
        );
        assert_eq!(
            words("Gertrudes Childrens Hospital"),
            ["childrens", "gertrudes"]
        );
        assert_eq!(
            words("Hôpital Sainte-Thérèse"),
            ["hopital", "sainte", "therese"]
        );
        assert_eq!(
            words("Mbagathi District Hospital"),
            words("Mbagathi County Hospital")
        );
        assert_eq!(
            words("Moi Teaching Refferal Hospital"),
            words("Moi Teaching and Referral Hospital")
        );
        assert!(words("The Hospital").is_empty());
    }

    #[test]
    fn the_same_name_at_the_same_place_is_one_facility_and_near_misses_are_not() {
        let knh = at("demo-knh", "Kenyatta National Hospital", -1.3009, 36.8073);
        let kmhfl_knh = at("k1", "Kenyatta National Hospital ", -1.30088, 36.80734);
        assert!(same_facility(&knh, &kmhfl_knh));
        // The university's hospital is another facility, wherever it is.
        let ku = at(
            "k2",
            "Kenyatta University Teaching Refferal and Research Hospital",
            -1.3009,
            36.8080,
        );
        assert!(!same_name(&knh, &ku));
        assert!(!same_facility(&knh, &ku));
        // Two branches with one name, 1.5 km apart, are two hospitals.
        let (lat, lng) = east(-1.319, 36.899, 1.5);
        let bristol_a = at("b1", "Bristol Park Hospital", -1.319, 36.899);
        let bristol_b = at("b2", "Bristol Park Hospital", lat, lng);
        assert!(same_name(&bristol_a, &bristol_b));
        assert!(!same_facility(&bristol_a, &bristol_b));
        // ... and two named branches next door to each other too.
        let (lat, lng) = east(-1.319, 36.899, 0.3);
        let fedha = at("b3", "Bristol Park Hospital Fedha", -1.319, 36.899);
        let utawala = at("b4", "Bristol Park Hospital Utawala", lat, lng);
        assert!(!same_facility(&fedha, &utawala));
        // A hospital and its clinic next door are two facilities.
        let clinic = at("c", "Kenyatta National Hospital Clinic", -1.3009, 36.8074);
        assert!(!same_facility(&knh, &clinic));
        // The county's name may be added; another place name may not.
        let akuh = at(
            "a",
            "Aga Khan University Hospital, Nairobi",
            -1.2614,
            36.8233,
        );
        let akuh_plain = at("a2", "Aga Khan University Hospital", -1.2620, 36.8200);
        assert!(same_facility(&akuh, &akuh_plain));
        let mama_lucy = at("m", "Mama Lucy Kibaki Hospital", -1.2847, 36.8993);
        let embakasi = at(
            "m2",
            "Mama Lucy Kibaki Hospital - Embakasi",
            -1.2850,
            36.8990,
        );
        assert!(!same_facility(&mama_lucy, &embakasi));
        // One distinctive word is not enough to add more.
        let mater = at("t", "Mater Hospital", -1.3067, 36.8343);
        let misericordiae = at("t2", "The Mater Misericordiae Hospital", -1.3067, 36.8343);
        assert!(!same_facility(&mater, &misericordiae));
        // Different KMHFL codes, or types, are different facilities, whatever their names.
        let mut coded = kmhfl_knh.clone();
        coded.mfl_code = Some("99999".into());
        let mut knh_coded = knh.clone();
        knh_coded.mfl_code = Some("13023".into());
        assert!(!same_facility(&knh_coded, &coded));
        let mut clinic_type = kmhfl_knh.clone();
        clinic_type.facility_type = Some(FacilityType::Clinic);
        let mut hospital_type = knh.clone();
        hospital_type.facility_type = Some(FacilityType::Hospital);
        assert!(!same_facility(&hospital_type, &clinic_type));
    }

    #[test]
    fn rows_find_their_stored_hospital_by_id_code_then_name_and_place() {
        let mut cgtrh = at(
            "demo-cgtrh",
            "Coast General Teaching and Referral Hospital",
            -4.0561,
            39.6770,
        );
        cgtrh.mfl_code = Some("11289".into());
        let pandya = at("demo-pandya", "Pandya Memorial Hospital", -4.0471, 39.6717);
        let jootrh = at(
            "demo-jootrh",
            "Jaramogi Oginga Odinga Teaching and Referral Hospital",
            -0.0907,
            34.7690,
        );
        let stored = Stored::new(vec![cgtrh, pandya, jootrh]);
        // 1.2 km from the seed's point, but its code says which it is.
        let mut row = at(
            "x1",
            "Coast General Teaching and Referral Hospital",
            -4.0485821,
            39.6692568,
        );
        row.mfl_code = Some("11289".into());
        assert_eq!(stored.find(&row), Some(0));
        // Same name and place, no code on the stored one.
        let mut row = at(
            "x2",
            "Jaramogi Oginga Odinga Teaching & Referral Hospital",
            -0.08855,
            34.77038,
        );
        row.mfl_code = Some("13939".into());
        assert_eq!(stored.find(&row), Some(2));
        // Same name, 2.3 km away: another facility for all we know.
        let row = at("x3", "Pandya Memorial Hospital", -4.0300, 39.6600);
        assert_eq!(stored.find(&row), None);
        assert_eq!(
            stored.find(&at("demo-pandya", "Renamed", 0.0, 0.0)),
            Some(1)
        );
    }

    #[test]
    fn a_merge_fills_what_is_missing_and_keeps_the_rest() {
        let mut knh = at("demo-knh", "Kenyatta National Hospital", -1.3009, 36.8073);
        knh.level = 6;
        knh.specialties = vec!["emergency".into(), "cardiac".into()];
        knh.channels = vec![crate::hospitals::Channel::Sms];
        knh.sms_numbers = vec!["+254700000001".into()];
        knh.beds_total = 1800;
        knh.beds_available = Some(35);
        knh.icu_beds_available = Some(4);
        knh.performance.offered = 7;
        let parsed = parse_kmhfl_csv(CSV.as_bytes()).expect("csv");
        let row = &parsed.hospitals[0];
        let mut merged = knh.clone();
        fill_in(&mut merged, row);
        assert_eq!(merged.hospital_id, "demo-knh");
        assert_eq!(merged.mfl_code.as_deref(), Some("13023"));
        assert_eq!(merged.facility_type, Some(FacilityType::Hospital));
        assert_eq!(
            merged.specialties,
            ["emergency", "cardiac", "icu", "trauma"]
        );
        assert_eq!(
            (
                merged.beds_total,
                merged.beds_available,
                merged.icu_beds_available
            ),
            (1800, Some(35), Some(4))
        );
        assert_eq!(
            (&merged.channels, &merged.sms_numbers, merged.performance),
            (&knh.channels, &knh.sms_numbers, knh.performance)
        );
        assert_eq!(merged.source, None);
        // Merging again adds nothing.
        let again = merged.clone();
        fill_in(&mut merged, row);
        assert_eq!(merged, again);
        // A record without registered beds takes the register's.
        let mut bare = at("b", "Kenyatta National Hospital", -1.3009, 36.8073);
        fill_in(&mut bare, row);
        assert_eq!((bare.beds_total, bare.beds_available), (1455, None));
        // An older import's record takes its code from its source.
        let mut legacy = row.clone();
        legacy.mfl_code = None;
        fill_in(&mut legacy, row);
        assert_eq!(legacy.mfl_code.as_deref(), Some("13023"));
        // Replacing takes the file's profile but keeps how the hospital is told.
        let mut replaced = knh.clone();
        replace_with(&mut replaced, row);
        assert_eq!(replaced.hospital_id, "demo-knh");
        assert_eq!(replaced.specialties, row.specialties);
        assert_eq!(replaced.sms_numbers, knh.sms_numbers);
        assert_eq!(replaced.beds_available, Some(35));
    }
}
