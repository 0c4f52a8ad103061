//! The clinical picture a receiving emergency department prepares by: what is wrong (the
//! priority and its reason, symptoms, vitals, the note from the scene), who (an age band and
//! sex; the date of birth only in FHIR and HL7, from the profile), and, while break-glass
//! applies, the medical profile's blood group, allergies, conditions and medicines. It travels in the webhook (JSON, FHIR and
//! HL7 v2) and on the answer page; SMS never carries it. Built per delivery, never stored.

use serde::Serialize;
use serde_json::{Value, json};

use crate::emergencies::alert::ClinicalDetails;
use crate::emergencies::priority::{Vitals, symptom_named};
use crate::medical::profile::{
    AgeBand, Allergy, Condition, MedicalProfile, Medication, Severity, Sex,
};

/// A reported symptom, as its code and the words a clinician reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedSymptom {
    pub code: String,
    pub display: String,
    #[serde(skip)]
    pub swahili: Option<&'static str>,
    #[serde(skip)]
    pub snomed: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClinicalPicture {
    /// The rule that set the priority, and why, in words (`severe bleeding`).
    pub priority_rule: String,
    pub priority_reason: String,
    pub symptoms: Vec<ReportedSymptom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vitals: Option<Vitals>,
    /// Free text from the person or a bystander ("boda boda crash on Ngong Road").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<AgeBand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
}

/// The medical profile as an emergency department needs it in the first minutes. Contacts
/// and insurance stay in the FHIR Bundle only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MedicalSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blood_type: Option<String>,
    pub allergies: Vec<Allergy>,
    pub conditions: Vec<Condition>,
    pub medications: Vec<Medication>,
}

impl MedicalSummary {
    pub fn of(profile: &MedicalProfile) -> Self {
        MedicalSummary {
            blood_type: profile.blood_type.clone(),
            allergies: profile.allergies.clone(),
            conditions: profile.conditions.clone(),
            medications: profile.medications.clone(),
        }
    }
}

impl ClinicalPicture {
    /// From the alert's sealed details and, when break-glass applies, the profile; `today`
    /// is `YYYY-MM-DD` for the age band.
    pub fn of(details: &ClinicalDetails, profile: Option<&MedicalProfile>, today: &str) -> Self {
        ClinicalPicture {
            priority_rule: details.priority_rule.clone(),
            priority_reason: details.priority_reason.clone(),
            symptoms: details
                .symptoms
                .iter()
                .map(|code| {
                    let known = symptom_named(code);
                    ReportedSymptom {
                        code: code.clone(),
                        display: known.map_or_else(|| code.replace('_', " "), |s| s.english.into()),
                        swahili: known.map(|s| s.swahili),
                        snomed: known.and_then(|s| s.snomed),
                    }
                })
                .collect(),
            vitals: details.vitals,
            note: details.note.clone(),
            age_band: profile.and_then(|p| p.age_on(today)).map(AgeBand::of),
            sex: profile.and_then(|p| p.sex),
        }
    }

    /// Each vital sign that was reported: (LOINC code, display, value, UCUM unit).
    pub fn vital_signs(&self) -> Vec<(&'static str, &'static str, f64, &'static str)> {
        let Some(v) = self.vitals else {
            return vec![];
        };
        [
            ("8867-4", "Heart rate", v.heart_rate, "/min"),
            ("8480-6", "Systolic blood pressure", v.systolic_bp, "mm[Hg]"),
            (
                "8462-4",
                "Diastolic blood pressure",
                v.diastolic_bp,
                "mm[Hg]",
            ),
            ("9279-1", "Respiratory rate", v.respiratory_rate, "/min"),
            (
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
                v.spo2,
                "%",
            ),
            ("8310-5", "Body temperature", v.temperature_c, "Cel"),
            ("9269-2", "Glasgow coma score total", v.gcs, "{score}"),
            (
                "15074-8",
                "Glucose [Moles/volume] in Blood",
                v.blood_glucose_mmol,
                "mmol/L",
            ),
        ]
        .into_iter()
        .filter_map(|(code, display, value, unit)| value.map(|x| (code, display, x, unit)))
        .collect()
    }
}

/// Haven's own code system for reported symptoms; SNOMED CT rides beside it where it fits.
pub const SYMPTOM_SYSTEM: &str = "urn:haven:symptom";

/// A symptom as a FHIR CodeableConcept.
pub fn symptom_concept(s: &ReportedSymptom) -> Value {
    let mut coding =
        vec![json!({ "system": SYMPTOM_SYSTEM, "code": s.code, "display": s.display })];
    if let Some(snomed) = s.snomed {
        coding.push(json!({ "system": "http://snomed.info/sct", "code": snomed }));
    }
    json!({ "coding": coding, "text": s.display })
}

/// The FHIR resources of the picture that are not in the ServiceRequest itself: one vital-sign
/// Observation per reported vital (blood pressure as the panel with its two components) and
/// the age band as an Observation of age with a range.
pub fn fhir_observations(
    picture: &ClinicalPicture,
    patient_ref: &Value,
    encounter_ref: &str,
    effective: &str,
) -> Vec<Value> {
    let vital_signs = json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "vital-signs", "display": "Vital Signs" }] }]);
    let quantity = |value: f64, unit: &str| json!({ "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit });
    let loinc = |code: &str, display: &str| json!({ "coding": [{ "system": "http://loinc.org", "code": code, "display": display }], "text": display });
    let observation = |code: Value, value_key: &str, value: Value| {
        let mut o = json!({
            "resourceType": "Observation",
            // Reported from the scene (a device or a bystander), not measured in hospital.
            "status": "preliminary",
            "category": vital_signs,
            "code": code,
            "subject": patient_ref,
            "encounter": { "reference": encounter_ref },
            "effectiveDateTime": effective,
        });
        o[value_key] = value;
        o
    };
    let signs = picture.vital_signs();
    let mut out = Vec::new();
    let (systolic, diastolic) = (
        signs.iter().find(|s| s.0 == "8480-6"),
        signs.iter().find(|s| s.0 == "8462-4"),
    );
    if systolic.is_some() || diastolic.is_some() {
        let mut bp = observation(
            loinc("85354-9", "Blood pressure panel with all children optional"),
            "component",
            json!(
                [systolic, diastolic]
                    .into_iter()
                    .flatten()
                    .map(|(code, display, value, unit)| json!({
                        "code": loinc(code, display),
                        "valueQuantity": quantity(*value, unit),
                    }))
                    .collect::<Vec<_>>()
            ),
        );
        bp["id"] = json!("vital-blood-pressure");
        out.push(bp);
    }
    for (code, display, value, unit) in signs.iter().filter(|s| s.0 != "8480-6" && s.0 != "8462-4")
    {
        let mut o = observation(
            loinc(code, display),
            "valueQuantity",
            quantity(*value, unit),
        );
        o["id"] = json!(format!("vital-{code}"));
        out.push(o);
    }
    if let Some(band) = picture.age_band {
        let years = |n: u32| quantity(f64::from(n), "a");
        let mut range = json!({ "low": years(band.from) });
        if let Some(to) = band.to {
            range["high"] = years(to);
        }
        let mut age = observation(loinc("30525-0", "Age"), "valueRange", range);
        age["id"] = json!("age-band");
        age["category"] = json!([{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "social-history" }] }]);
        out.push(age);
    }
    out
}

/// HL7 v2 table 0128 (allergy severity) for a profile severity.
pub fn hl7_allergy_severity(s: Severity) -> &'static str {
    match s {
        Severity::Mild => "MI",
        Severity::Moderate => "MO",
        Severity::Severe | Severity::LifeThreatening => "SV",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> ClinicalDetails {
        ClinicalDetails {
            note: Some("boda boda crash on Ngong Road".into()),
            symptoms: vec!["severe_bleeding".into(), "confusion".into()],
            vitals: Some(Vitals {
                heart_rate: Some(128.0),
                systolic_bp: Some(85.0),
                diastolic_bp: Some(50.0),
                ..Default::default()
            }),
            priority_rule: "symptom.severe_bleeding".into(),
            priority_reason: "severe bleeding".into(),
        }
    }

    #[test]
    fn the_picture_carries_what_is_wrong_and_who_without_the_date_of_birth() {
        let profile = MedicalProfile {
            date_of_birth: Some("1990-05-01".into()),
            sex: Some(Sex::Female),
            ..Default::default()
        };
        let p = ClinicalPicture::of(&details(), Some(&profile), "2026-12-02");
        assert_eq!(p.priority_reason, "severe bleeding");
        assert_eq!(p.symptoms[0].display, "severe bleeding");
        assert_eq!(p.symptoms[1].snomed, Some("286933003"));
        assert_eq!(p.age_band.map(AgeBand::label).as_deref(), Some("30-39"));
        assert_eq!(p.sex, Some(Sex::Female));
        let json = serde_json::to_string(&p).expect("json");
        assert!(!json.contains("1990"), "{json}");
        assert!(json.contains("boda boda crash on Ngong Road"));
        // Without a profile there is no age or sex, and nothing is guessed.
        let bare = ClinicalPicture::of(&details(), None, "2026-12-02");
        assert_eq!((bare.age_band, bare.sex), (None, None));
    }

    #[test]
    fn vitals_become_loinc_observations_with_blood_pressure_as_one_panel() {
        let p = ClinicalPicture::of(&details(), None, "2026-12-02");
        let obs = fhir_observations(
            &p,
            &json!({"reference": "urn:uuid:p"}),
            "urn:uuid:e",
            "2026-12-02T10:00:00Z",
        );
        let codes: Vec<&str> = obs
            .iter()
            .map(|o| o["code"]["coding"][0]["code"].as_str().expect("code"))
            .collect();
        assert_eq!(codes, ["85354-9", "8867-4"]);
        assert_eq!(obs[0]["component"][0]["valueQuantity"]["value"], 85.0);
        assert_eq!(
            obs[0]["component"][1]["code"]["coding"][0]["code"],
            "8462-4"
        );
        assert_eq!(obs[1]["valueQuantity"]["code"], "/min");
    }
}
