//! A hospital as the alert path needs it: where it is, what it treats, how much room it has,
//! how it is told about alerts, and how it has answered them before. One item per hospital,
//! listed in the `HOSPITALS#<shard>` views of GSI2, from which each process loads its
//! in-memory directory (`directory`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::item::{Item, Key, Value};

/// Care a hospital offers, in the words a dispatcher uses. Unknown words are refused so a
/// typo cannot make a hospital invisible to a search.
pub const SPECIALTIES: &[&str] = &[
    "emergency",
    "trauma",
    "cardiac",
    "stroke",
    "neurology",
    "pediatric",
    "maternity",
    "burns",
    "respiratory",
    "toxicology",
    "surgery",
    "orthopaedics",
    "icu",
    "dialysis",
    "blood_bank",
    "mental_health",
    "oncology",
    "radiology",
    "laboratory",
];

/// What kind of facility it is, as the Kenya Master Health Facility List registers it. The
/// type, with the KEPH level, says what a facility can do for an emergency (`capability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityType {
    /// Primary, secondary and comprehensive teaching and tertiary referral hospitals.
    Hospital,
    /// A specialised and tertiary referral hospital (spinal injuries, mental health, ...):
    /// it serves its specialty, not every emergency.
    SpecialistHospital,
    MedicalCentre,
    /// Nursing homes, and nursing and maternity homes.
    NursingHome,
    HealthCentre,
    /// Medical clinics, and outpatient-only primary care.
    Clinic,
    Dispensary,
    /// A single service: laboratory, pharmacy, VCT, dental or eye clinic, radiology, blood
    /// bank, dialysis, rehabilitation, farewell home.
    StandAlone,
}

impl FacilityType {
    pub const ALL: [&'static str; 8] = [
        "hospital",
        "specialist_hospital",
        "medical_centre",
        "nursing_home",
        "health_centre",
        "clinic",
        "dispensary",
        "stand_alone",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FacilityType::Hospital => "hospital",
            FacilityType::SpecialistHospital => "specialist_hospital",
            FacilityType::MedicalCentre => "medical_centre",
            FacilityType::NursingHome => "nursing_home",
            FacilityType::HealthCentre => "health_centre",
            FacilityType::Clinic => "clinic",
            FacilityType::Dispensary => "dispensary",
            FacilityType::StandAlone => "stand_alone",
        }
    }

    /// The type of a KMHFL row: its `facility_type_category` (`HOSPITALS`, `MEDICAL CENTER`,
    /// ...), or its `facility_type_name` where the category is blank. `None` when neither says.
    pub fn from_kmhfl(category: &str, type_name: &str) -> Option<Self> {
        let squash = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let (category, type_name) = (squash(category), squash(type_name));
        let word = if category.is_empty() {
            &type_name
        } else {
            &category
        };
        let kind = match word.as_str() {
            w if w.starts_with("hospital") => {
                if type_name.starts_with("specialized") || type_name.starts_with("specialised") {
                    FacilityType::SpecialistHospital
                } else {
                    FacilityType::Hospital
                }
            }
            "medical center" | "medical centre" => FacilityType::MedicalCentre,
            "nursing home" | "nursing homes" => FacilityType::NursingHome,
            "health centre" | "health center" => FacilityType::HealthCentre,
            "medical clinic" | "primary health care services" => FacilityType::Clinic,
            "dispensary" => FacilityType::Dispensary,
            "stand alone" => FacilityType::StandAlone,
            _ => return None,
        };
        Some(kind)
    }
}

/// Whether a hospital has said how many beds it has free. Imported facilities know their
/// registered beds but not how many are free until their staff report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityState {
    Reported,
    Unreported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdStatus {
    Open,
    /// Asks ambulances to go elsewhere for now.
    Diverting,
    Closed,
}

impl EdStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EdStatus::Open => "open",
            EdStatus::Diverting => "diverting",
            EdStatus::Closed => "closed",
        }
    }
}

/// Numbers a hospital may have texted: enough for a desk and its deputies.
pub const MAX_SMS_NUMBERS: usize = 5;

/// How a hospital is told about an alert; the names are the notification queues'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    #[serde(rename = "webhook")]
    Webhook,
    #[serde(rename = "sms")]
    Sms,
    /// Haven's own API and dashboard: every hospital has it.
    #[serde(rename = "hospital-api")]
    HospitalApi,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => haven_kernel::catalogue::WEBHOOK_QUEUE,
            Channel::Sms => haven_kernel::catalogue::SMS_QUEUE,
            Channel::HospitalApi => haven_kernel::catalogue::HOSPITAL_API_QUEUE,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedCount {
    pub total: u32,
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// How the hospital has answered alerts: counted by the notification pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Performance {
    /// Alerts offered to this hospital.
    #[serde(default)]
    pub offered: u32,
    /// Offers it accepted.
    #[serde(default)]
    pub accepted: u32,
    /// Acknowledgements counted in `ack_seconds_total`.
    #[serde(default)]
    pub acknowledged: u32,
    #[serde(default)]
    pub ack_seconds_total: u64,
}

impl Performance {
    pub fn acceptance_rate(&self) -> Option<f64> {
        (self.offered > 0).then(|| f64::from(self.accepted) / f64::from(self.offered))
    }
    pub fn mean_ack_seconds(&self) -> Option<f64> {
        (self.acknowledged > 0)
            .then(|| self.ack_seconds_total as f64 / f64::from(self.acknowledged))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hospital {
    pub hospital_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Kenya Essential Package for Health level, 2 (dispensary) to 6 (national referral).
    pub level: u8,
    /// Its code in the Kenya Master Health Facility List, when known: how an import
    /// recognises it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfl_code: Option<String>,
    /// `None` for hospitals registered without one (`POST /hospitals`): judged by level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_type: Option<FacilityType>,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub specialties: Vec<String>,
    #[serde(default)]
    pub departments: Vec<Department>,
    #[serde(default)]
    pub equipment: Vec<String>,
    /// Beds by type (`general`, `icu`, `maternity`, ...), when the hospital reports them.
    #[serde(default)]
    pub beds: BTreeMap<String, BedCount>,
    /// Totals over `beds`, or the registered beds when no breakdown is known. 0 = unknown.
    #[serde(default)]
    pub beds_total: u32,
    /// Free beds as last reported; `None` until the hospital's staff report (an imported
    /// facility's registered beds say nothing about how many are free).
    #[serde(default)]
    pub beds_available: Option<u32>,
    #[serde(default)]
    pub icu_beds_available: Option<u32>,
    pub ed_status: EdStatus,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Numbers texted when the hospital is told by SMS: its emergency desk, E.164.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sms_numbers: Vec<String>,
    #[serde(default)]
    pub performance: Performance,
    /// Where the record came from, e.g. `kmhfl:13023` for an imported facility.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub capacity_updated_at: Option<String>,
    #[serde(default)]
    pub version: i64,
}

impl Hospital {
    pub fn key(hospital_id: &str) -> Key {
        Key::new(format!("HOSPITAL#{hospital_id}"), "PROFILE")
    }

    pub fn coordinates(&self) -> Coordinates {
        Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }

    pub fn offers(&self, specialty: &str) -> bool {
        self.specialties.iter().any(|s| s == specialty)
    }

    /// What the directory holds and the search decides by without reading live data: where
    /// it is, what it is and what it treats. A change to any of it bumps the directory.
    pub fn directory_profile(&self) -> impl PartialEq + use<> {
        (
            self.name.clone(),
            self.latitude.to_bits(),
            self.longitude.to_bits(),
            self.level,
            self.facility_type,
            self.specialties.clone(),
            self.mfl_code.clone(),
        )
    }

    pub fn capacity(&self) -> CapacityState {
        if self.beds_available.is_some() {
            CapacityState::Reported
        } else {
            CapacityState::Unreported
        }
    }

    /// Its KMHFL code: the field, or for records imported before it existed, their source.
    pub fn registered_code(&self) -> Option<&str> {
        self.mfl_code.as_deref().or_else(|| {
            self.source
                .as_deref()
                .and_then(|s| s.strip_prefix(KMHFL_SOURCE))
        })
    }

    /// Every channel the hospital is told on; Haven's own API always included.
    pub fn notification_channels(&self) -> Vec<Channel> {
        let mut channels = self.channels.clone();
        channels.push(Channel::HospitalApi);
        channels.sort_unstable();
        channels.dedup();
        channels
    }

    /// Recomputes the totals from the per-type counts, when there are any.
    pub fn recount_beds(&mut self) {
        if self.beds.is_empty() {
            return;
        }
        self.beds_total = self.beds.values().map(|b| b.total).sum();
        self.beds_available = Some(self.beds.values().map(|b| b.available).sum());
        // A breakdown without ICU beds says nothing new about them.
        self.icu_beds_available = self
            .beds
            .get("icu")
            .map(|b| b.available)
            .or(self.icu_beds_available);
    }

    /// Checks what a person or an import may set.
    pub fn validate(&self) -> Result<(), DomainError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(DomainError::invalid(
                "name",
                "a name has 1 to 200 characters",
            ));
        }
        Coordinates::new(self.latitude, self.longitude)?;
        if !(2..=6).contains(&self.level) {
            return Err(DomainError::invalid(
                "level",
                "level is the KEPH level, 2 (dispensary) to 6 (national referral)",
            ));
        }
        validate_specialties(&self.specialties)?;
        if self.departments.len() > 100 || self.equipment.len() > 200 {
            return Err(DomainError::invalid(
                "departments",
                "at most 100 departments and 200 equipment entries",
            ));
        }
        for (i, d) in self.departments.iter().enumerate() {
            if d.name.trim().is_empty() || d.name.chars().count() > 120 {
                return Err(DomainError::invalid(
                    &format!("departments[{i}].name"),
                    "a department name has 1 to 120 characters",
                ));
            }
        }
        if self
            .equipment
            .iter()
            .any(|e| e.trim().is_empty() || e.chars().count() > 120)
        {
            return Err(DomainError::invalid(
                "equipment",
                "each equipment entry has 1 to 120 characters",
            ));
        }
        if let Some(phone) = &self.phone {
            haven_kernel::ports::publisher::validate_phone_number(phone).map_err(|_| {
                DomainError::invalid("phone", "a phone number must be in E.164 form")
            })?;
        }
        if self.sms_numbers.len() > MAX_SMS_NUMBERS {
            return Err(DomainError::invalid(
                "sms_numbers",
                format!("at most {MAX_SMS_NUMBERS} numbers"),
            ));
        }
        for (i, n) in self.sms_numbers.iter().enumerate() {
            haven_kernel::ports::publisher::validate_phone_number(n).map_err(|_| {
                DomainError::invalid(
                    &format!("sms_numbers[{i}]"),
                    "a phone number must be in E.164 form, like +254712345678",
                )
            })?;
        }
        if let Some(code) = &self.mfl_code
            && !((1..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(DomainError::invalid(
                "mfl_code",
                "a KMHFL code is 1 to 10 digits",
            ));
        }
        validate_beds(&self.beds)?;
        if self.beds_available.unwrap_or(0) > self.beds_total && self.beds_total > 0 {
            return Err(DomainError::invalid(
                "beds_available",
                "more beds available than the hospital has",
            ));
        }
        Ok(())
    }

    pub fn to_item(&self) -> Item {
        Item::new(&Self::key(&self.hospital_id))
            .with("kind", Value::s("hospital"))
            // Every hospital in the sharded view the directory loads (and an import matches
            // a file against).
            .with(
                "gsi2pk",
                Value::s(crate::hospitals::directory::view_partition(
                    &self.hospital_id,
                )),
            )
            .with("gsi2sk", Value::s(&self.hospital_id))
            .with_record(self)
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        let mut hospital: Hospital = item.to_record()?;
        // Imports before unreported capacity existed copied a facility's registered beds into
        // its free beds; nobody ever reported those figures.
        let copied = hospital.capacity_updated_at.is_none()
            && hospital.beds.is_empty()
            && hospital
                .source
                .as_deref()
                .is_some_and(|s| s.starts_with(KMHFL_SOURCE));
        if copied {
            hospital.beds_available = None;
            hospital.icu_beds_available = None;
        }
        Some(hospital)
    }
}

/// `source` of a facility imported from the Kenya Master Health Facility List: `kmhfl:<code>`.
pub const KMHFL_SOURCE: &str = "kmhfl:";

pub fn validate_specialties(specialties: &[String]) -> Result<(), DomainError> {
    if specialties.len() > SPECIALTIES.len() {
        return Err(DomainError::invalid("specialties", "too many specialties"));
    }
    for (i, s) in specialties.iter().enumerate() {
        if !SPECIALTIES.contains(&s.as_str()) {
            return Err(DomainError::invalid(
                &format!("specialties[{i}]"),
                format!("unknown specialty; known: {}", SPECIALTIES.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Bed types are short lowercase words; available never exceeds total.
pub fn validate_beds(beds: &BTreeMap<String, BedCount>) -> Result<(), DomainError> {
    if beds.len() > 20 {
        return Err(DomainError::invalid("beds", "at most 20 bed types"));
    }
    for (kind, count) in beds {
        let ok = !kind.is_empty()
            && kind.len() <= 32
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !ok {
            return Err(DomainError::invalid(
                "beds",
                "bed types are lowercase words like general, icu, maternity",
            ));
        }
        if count.available > count.total {
            return Err(DomainError::invalid(
                &format!("beds.{kind}.available"),
                "more beds available than the hospital has",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn knh() -> Hospital {
        Hospital {
            hospital_id: "knh".into(),
            name: "Kenyatta National Hospital".into(),
            latitude: -1.3009,
            longitude: 36.8073,
            level: 6,
            mfl_code: Some("13023".into()),
            facility_type: Some(FacilityType::Hospital),
            county: Some("Nairobi".into()),
            phone: None,
            specialties: vec!["trauma".into(), "cardiac".into()],
            departments: vec![Department {
                name: "Accident & Emergency".into(),
                phone: Some("+254202726300".into()),
            }],
            equipment: vec!["CT scanner".into()],
            beds: BTreeMap::new(),
            beds_total: 1800,
            beds_available: Some(40),
            icu_beds_available: Some(3),
            ed_status: EdStatus::Open,
            channels: vec![Channel::Sms],
            sms_numbers: vec![],
            performance: Performance::default(),
            source: None,
            capacity_updated_at: None,
            version: 1,
        }
    }

    #[test]
    fn item_round_trip_and_directory_view() {
        let h = knh();
        let item = h.to_item();
        assert_eq!(item.key(), Some(Hospital::key("knh")));
        assert_eq!(
            item.s("gsi2pk"),
            Some(crate::hospitals::directory::view_partition("knh").as_str())
        );
        assert_eq!(item.s("gsi3pk"), None, "hospitals no longer sit on GSI3");
        assert_eq!(Hospital::from_item(&item), Some(h));
    }

    #[test]
    fn free_beds_an_older_import_copied_from_the_register_read_as_unreported() {
        let mut imported = knh();
        imported.source = Some("kmhfl:13023".into());
        imported.beds_available = Some(1455);
        imported.icu_beds_available = Some(0);
        let read = Hospital::from_item(&imported.to_item()).expect("read");
        assert_eq!((read.beds_available, read.icu_beds_available), (None, None));
        // Reported by its staff, the figures stand.
        imported.capacity_updated_at = Some("2026-12-01T10:00:00.000Z".into());
        let read = Hospital::from_item(&imported.to_item()).expect("read");
        assert_eq!(read.beds_available, Some(1455));
        // A hospital registered in Haven keeps what it has.
        assert_eq!(
            Hospital::from_item(&knh().to_item()).map(|h| h.beds_available),
            Some(Some(40))
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut h = knh();
        h.specialties.push("astrology".into());
        assert_eq!(
            h.validate().expect_err("bad").field(),
            Some("specialties[2]")
        );
        let mut h = knh();
        h.level = 7;
        assert_eq!(h.validate().expect_err("bad").field(), Some("level"));
        let mut h = knh();
        h.beds.insert(
            "icu".into(),
            BedCount {
                total: 2,
                available: 3,
            },
        );
        assert_eq!(
            h.validate().expect_err("bad").field(),
            Some("beds.icu.available")
        );
        let mut h = knh();
        h.sms_numbers = vec!["+254712345678".into(), "0712345678".into()];
        assert_eq!(
            h.validate().expect_err("bad").field(),
            Some("sms_numbers[1]")
        );
        assert!(knh().validate().is_ok());
    }

    #[test]
    fn bed_totals_follow_the_breakdown_and_channels_include_the_api() {
        let mut h = knh();
        h.beds.insert(
            "general".into(),
            BedCount {
                total: 100,
                available: 7,
            },
        );
        h.beds.insert(
            "icu".into(),
            BedCount {
                total: 10,
                available: 2,
            },
        );
        h.recount_beds();
        assert_eq!(
            (h.beds_total, h.beds_available, h.icu_beds_available),
            (110, Some(9), Some(2))
        );
        assert_eq!(
            h.notification_channels(),
            vec![Channel::Sms, Channel::HospitalApi]
        );
    }
}
