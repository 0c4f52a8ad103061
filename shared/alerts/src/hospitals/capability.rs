//! What a facility can do for a person in an emergency, from its type, its KEPH level and
//! whether it lists an emergency (casualty) service. Searches for emergencies consider only
//! facilities that can treat; one that can only stabilise is a last resort for an alert.

use serde::Serialize;

use crate::hospitals::profile::{FacilityType, Hospital};

/// The specialty that stands for an emergency department (KMHFL's casualty services).
pub const EMERGENCY: &str = "emergency";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyCare {
    /// Can receive and treat the emergency: a level-4+ hospital, or a specialist hospital,
    /// medical centre or nursing home at level 4+ with an emergency service.
    Capable,
    /// Can stabilise a patient for transfer, not treat: level-3 health centres, medical
    /// centres, nursing homes and hospitals.
    StabiliseOnly,
    /// Level 2, clinics, dispensaries and stand-alone services (laboratories, pharmacies,
    /// dental clinics, ...), and specialist hospitals for emergencies they do not serve.
    None,
}

impl EmergencyCare {
    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyCare::Capable => "capable",
            EmergencyCare::StabiliseOnly => "stabilise_only",
            EmergencyCare::None => "none",
        }
    }
}

/// A facility that can do nothing for any emergency, whatever specialty is wanted: level 2,
/// clinics, dispensaries and stand-alone services. The directory keeps the others in a grid
/// of their own, so an emergency search looks at a tenth of the facilities.
pub fn never_takes_emergencies(h: &Hospital) -> bool {
    h.level <= 2
        || matches!(
            h.facility_type,
            Some(FacilityType::Clinic | FacilityType::Dispensary | FacilityType::StandAlone)
        )
}

/// What `h` can do for an emergency that wants `specialty` (`None`: any emergency). A
/// specialist hospital serves the emergencies of its specialty and, with an emergency
/// service, every emergency.
pub fn emergency_care(h: &Hospital, specialty: Option<&str>) -> EmergencyCare {
    let has_ed = h.offers(EMERGENCY);
    let serves_specialty = specialty.is_some_and(|s| s != EMERGENCY && h.offers(s));
    match (h.facility_type, h.level) {
        (_, ..=2) => EmergencyCare::None,
        (Some(FacilityType::Clinic | FacilityType::Dispensary | FacilityType::StandAlone), _) => {
            EmergencyCare::None
        }
        // Registered without a type (`POST /hospitals`): the level says it.
        (None | Some(FacilityType::Hospital), 4..) => EmergencyCare::Capable,
        (None | Some(FacilityType::Hospital), _) => EmergencyCare::StabiliseOnly,
        (Some(FacilityType::SpecialistHospital), 4..) if has_ed || serves_specialty => {
            EmergencyCare::Capable
        }
        (Some(FacilityType::SpecialistHospital), _) => EmergencyCare::None,
        (Some(FacilityType::MedicalCentre | FacilityType::NursingHome), 4..) if has_ed => {
            EmergencyCare::Capable
        }
        (
            Some(
                FacilityType::MedicalCentre
                | FacilityType::NursingHome
                | FacilityType::HealthCentre,
            ),
            _,
        ) => EmergencyCare::StabiliseOnly,
    }
}

/// A sentence on why a facility was not offered for an emergency, in its own words.
pub fn why_not(h: &Hospital, care: EmergencyCare) -> String {
    let kind = h
        .facility_type
        .map_or("facility", |t| t.as_str())
        .replace('_', " ");
    match care {
        EmergencyCare::Capable => format!("a level-{} {kind} that can treat", h.level),
        EmergencyCare::StabiliseOnly => format!(
            "a level-{} {kind}: it can stabilise a patient for transfer, not treat the emergency",
            h.level
        ),
        EmergencyCare::None if h.facility_type == Some(FacilityType::SpecialistHospital) => {
            format!(
                "a level-{} specialist hospital without an emergency service for this",
                h.level
            )
        }
        EmergencyCare::None => format!("a level-{} {kind}: no emergency care", h.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_never_takes_an_emergency_is_never_offered_one() {
        use crate::hospitals::profile::FacilityType::*;
        let kinds = [
            None,
            Some(Hospital),
            Some(SpecialistHospital),
            Some(MedicalCentre),
            Some(NursingHome),
            Some(HealthCentre),
            Some(Clinic),
            Some(Dispensary),
            Some(StandAlone),
        ];
        for kind in kinds {
            for level in 2..=6 {
                for offers in [vec![], vec!["emergency".to_owned(), "trauma".to_owned()]] {
                    let mut h: crate::hospitals::profile::Hospital =
                        serde_json::from_value(serde_json::json!({
                            "hospital_id": "h", "name": "H", "latitude": 0.0, "longitude": 0.0,
                            "level": level, "ed_status": "open"
                        }))
                        .expect("hospital");
                    h.facility_type = kind;
                    h.specialties = offers;
                    if never_takes_emergencies(&h) {
                        for wanted in [None, Some("trauma"), Some("emergency")] {
                            assert_eq!(
                                emergency_care(&h, wanted),
                                EmergencyCare::None,
                                "{kind:?} {level}"
                            );
                        }
                    }
                }
            }
        }
    }
    use crate::hospitals::profile::{EdStatus, Performance};

    fn facility(kind: Option<FacilityType>, level: u8, specialties: &[&str]) -> Hospital {
        Hospital {
            hospital_id: "h".into(),
            name: "H".into(),
            latitude: -1.3,
            longitude: 36.8,
            level,
            mfl_code: None,
            facility_type: kind,
            county: None,
            phone: None,
            specialties: specialties.iter().map(|s| s.to_string()).collect(),
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

    use EmergencyCare as E;
    use FacilityType as F;

    #[test]
    fn level_four_hospitals_treat_and_level_three_facilities_stabilise() {
        let cases = [
            (Some(F::Hospital), 4, &[][..], E::Capable),
            (Some(F::Hospital), 6, &["emergency"][..], E::Capable),
            (Some(F::Hospital), 3, &["emergency"][..], E::StabiliseOnly),
            (
                Some(F::HealthCentre),
                3,
                &["emergency", "trauma"][..],
                E::StabiliseOnly,
            ),
            (
                Some(F::HealthCentre),
                4,
                &["emergency"][..],
                E::StabiliseOnly,
            ),
            (
                Some(F::MedicalCentre),
                3,
                &["emergency"][..],
                E::StabiliseOnly,
            ),
            (Some(F::NursingHome), 3, &[][..], E::StabiliseOnly),
            (Some(F::MedicalCentre), 4, &["emergency"][..], E::Capable),
            (Some(F::NursingHome), 4, &[][..], E::StabiliseOnly),
            (Some(F::Clinic), 3, &["emergency"][..], E::None),
            (Some(F::Dispensary), 2, &[][..], E::None),
            (Some(F::StandAlone), 3, &["dialysis"][..], E::None),
            (Some(F::Hospital), 2, &["emergency"][..], E::None),
            // Registered without a type: the level decides.
            (None, 4, &[][..], E::Capable),
            (None, 3, &[][..], E::StabiliseOnly),
            (None, 2, &[][..], E::None),
        ];
        for (kind, level, specialties, expected) in cases {
            assert_eq!(
                emergency_care(&facility(kind, level, specialties), None),
                expected,
                "{kind:?} level {level} {specialties:?}"
            );
        }
    }

    #[test]
    fn a_specialist_hospital_serves_its_specialty_or_with_an_emergency_service() {
        let spinal = facility(Some(F::SpecialistHospital), 6, &["orthopaedics", "icu"]);
        assert_eq!(emergency_care(&spinal, None), E::None);
        assert_eq!(emergency_care(&spinal, Some("emergency")), E::None);
        assert_eq!(emergency_care(&spinal, Some("trauma")), E::None);
        assert_eq!(emergency_care(&spinal, Some("orthopaedics")), E::Capable);
        let with_ed = facility(
            Some(F::SpecialistHospital),
            6,
            &["emergency", "mental_health"],
        );
        assert_eq!(emergency_care(&with_ed, Some("cardiac")), E::Capable);
        assert_eq!(emergency_care(&with_ed, None), E::Capable);
        assert!(why_not(&spinal, E::None).contains("specialist hospital"));
        assert!(
            why_not(&facility(Some(F::HealthCentre), 3, &[]), E::StabiliseOnly)
                .contains("level-3 health centre")
        );
    }
}
