//! Priority by explainable rules. The rules are a table read top to bottom: the first that
//! applies decides, and its id and reason are stored with the alert, so anyone can see why
//! an alert was critical. Most severe rules come first.

use serde::{Deserialize, Serialize};

use crate::emergencies::alert::{EmergencyType, Priority};
use haven_kernel::error::DomainError;

/// Vital signs a device or a bystander may send. Ranges are physiological limits, wide
/// enough for any living patient; anything outside them is a typo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub heart_rate: Option<f64>,
    pub systolic_bp: Option<f64>,
    pub diastolic_bp: Option<f64>,
    pub respiratory_rate: Option<f64>,
    pub spo2: Option<f64>,
    pub temperature_c: Option<f64>,
    /// Glasgow Coma Scale, 3 to 15.
    pub gcs: Option<f64>,
    pub blood_glucose_mmol: Option<f64>,
}

impl Vitals {
    pub fn validate(&self) -> Result<(), DomainError> {
        let checks = [
            ("heart_rate", self.heart_rate, 20.0, 300.0),
            ("systolic_bp", self.systolic_bp, 30.0, 300.0),
            ("diastolic_bp", self.diastolic_bp, 10.0, 200.0),
            ("respiratory_rate", self.respiratory_rate, 0.0, 80.0),
            ("spo2", self.spo2, 30.0, 100.0),
            ("temperature_c", self.temperature_c, 25.0, 45.0),
            ("gcs", self.gcs, 3.0, 15.0),
            ("blood_glucose_mmol", self.blood_glucose_mmol, 0.5, 60.0),
        ];
        for (name, value, low, high) in checks {
            if let Some(v) = value
                && !(v.is_finite() && (low..=high).contains(&v))
            {
                return Err(DomainError::invalid(
                    &format!("vitals.{name}"),
                    format!("{name} must be between {low} and {high}"),
                ));
            }
        }
        Ok(())
    }
}

/// What the rules look at.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub emergency_type: Option<EmergencyType>,
    pub symptoms: &'a [String],
    pub vitals: Vitals,
    /// Conditions from the patient's medical profile, when there is one.
    pub conditions: &'a [String],
    pub age_years: Option<u32>,
}

impl Facts<'_> {
    fn has_symptom(&self, any: &[&str]) -> bool {
        self.symptoms.iter().any(|s| any.contains(&s.as_str()))
    }
    fn has_condition(&self, any: &[&str]) -> bool {
        self.conditions.iter().any(|c| any.contains(&c.as_str()))
    }
    fn is(&self, t: EmergencyType) -> bool {
        self.emergency_type == Some(t)
    }
}

pub struct Rule {
    pub id: &'static str,
    pub priority: Priority,
    pub reason: &'static str,
    applies: fn(&Facts) -> bool,
}

const fn rule(
    id: &'static str,
    priority: Priority,
    reason: &'static str,
    applies: fn(&Facts) -> bool,
) -> Rule {
    Rule {
        id,
        priority,
        reason,
        applies,
    }
}

use Priority::{Critical, High, Medium};

/// A symptom a person or a bystander can report, in the words shown to hospitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symptom {
    /// The code clients send (`severe_bleeding`).
    pub code: &'static str,
    pub english: &'static str,
    pub swahili: &'static str,
    /// SNOMED CT finding, where there is a plain one; FHIR carries it beside Haven's code.
    pub snomed: Option<&'static str>,
}

const fn symptom(
    code: &'static str,
    english: &'static str,
    swahili: &'static str,
    snomed: Option<&'static str>,
) -> Symptom {
    Symptom {
        code,
        english,
        swahili,
        snomed,
    }
}

/// The symptoms Haven knows: the closed list an alert may carry. Anything else is refused,
/// so a misspelt `heavy_bleeding` cannot silently decide nothing. docs/openapi.yaml lists the
/// same codes (a catalogue test keeps them in step).
pub const SYMPTOMS: &[Symptom] = &[
    symptom(
        "unconscious",
        "unconscious",
        "amepoteza fahamu",
        Some("419045004"),
    ),
    symptom("not_breathing", "not breathing", "hapumui", Some("1023001")),
    symptom("no_pulse", "no pulse", "hana mapigo ya moyo", None),
    symptom(
        "severe_bleeding",
        "severe bleeding",
        "anavuja damu nyingi",
        None,
    ),
    symptom("seizure", "seizure", "degedege", Some("91175000")),
    symptom("choking", "choking", "anakabwa", None),
    symptom(
        "face_drooping",
        "face drooping on one side",
        "uso umelegea upande mmoja",
        None,
    ),
    symptom(
        "slurred_speech",
        "slurred speech",
        "anaongea kwa shida",
        None,
    ),
    symptom(
        "one_sided_weakness",
        "weakness on one side",
        "udhaifu upande mmoja",
        None,
    ),
    symptom(
        "chest_pain",
        "chest pain",
        "maumivu ya kifua",
        Some("29857009"),
    ),
    symptom(
        "difficulty_breathing",
        "difficulty breathing",
        "shida ya kupumua",
        Some("267036007"),
    ),
    symptom(
        "vaginal_bleeding",
        "vaginal bleeding",
        "kutoka damu ukeni",
        None,
    ),
    symptom("severe_pain", "severe pain", "maumivu makali", None),
    symptom(
        "confusion",
        "confusion",
        "kuchanganyikiwa",
        Some("286933003"),
    ),
    symptom("vomiting", "vomiting", "kutapika", Some("422400008")),
    symptom("fever", "fever", "homa", Some("386661006")),
];

/// The symptom with this code, if Haven knows it.
pub fn symptom_named(code: &str) -> Option<&'static Symptom> {
    SYMPTOMS.iter().find(|s| s.code == code)
}

/// The codes, for error messages and the OpenAPI enum.
pub fn symptom_codes() -> impl Iterator<Item = &'static str> {
    SYMPTOMS.iter().map(|s| s.code)
}

pub const RULES: &[Rule] = &[
    rule(
        "symptom.unconscious",
        Critical,
        "the person is unconscious",
        |f| f.has_symptom(&["unconscious"]),
    ),
    rule(
        "symptom.not_breathing",
        Critical,
        "the person is not breathing",
        |f| f.has_symptom(&["not_breathing", "no_pulse"]),
    ),
    rule(
        "symptom.severe_bleeding",
        Critical,
        "severe bleeding",
        |f| f.has_symptom(&["severe_bleeding"]),
    ),
    rule("symptom.choking", Critical, "choking", |f| {
        f.has_symptom(&["choking"])
    }),
    rule("symptom.seizure", Critical, "a seizure", |f| {
        f.has_symptom(&["seizure"])
    }),
    rule(
        "symptom.stroke_signs",
        Critical,
        "signs of a stroke (face, speech or one-sided weakness)",
        |f| f.has_symptom(&["face_drooping", "slurred_speech", "one_sided_weakness"]),
    ),
    rule(
        "vitals.spo2_low",
        Critical,
        "oxygen saturation below 90%",
        |f| f.vitals.spo2.is_some_and(|v| v < 90.0),
    ),
    rule(
        "vitals.systolic_low",
        Critical,
        "systolic blood pressure below 90",
        |f| f.vitals.systolic_bp.is_some_and(|v| v < 90.0),
    ),
    rule(
        "vitals.heart_rate_extreme",
        Critical,
        "heart rate below 40 or above 150",
        |f| {
            f.vitals
                .heart_rate
                .is_some_and(|v| !(40.0..=150.0).contains(&v))
        },
    ),
    rule(
        "vitals.respiratory_rate_extreme",
        Critical,
        "breathing rate below 8 or above 30",
        |f| {
            f.vitals
                .respiratory_rate
                .is_some_and(|v| !(8.0..=30.0).contains(&v))
        },
    ),
    rule(
        "vitals.gcs_low",
        Critical,
        "Glasgow Coma Scale of 8 or less",
        |f| f.vitals.gcs.is_some_and(|v| v <= 8.0),
    ),
    rule(
        "vitals.glucose_extreme",
        Critical,
        "blood glucose below 3 or above 30 mmol/L",
        |f| {
            f.vitals
                .blood_glucose_mmol
                .is_some_and(|v| !(3.0..=30.0).contains(&v))
        },
    ),
    rule(
        "type.cardiac_chest_pain",
        Critical,
        "a cardiac emergency with chest pain",
        |f| f.is(EmergencyType::Cardiac) && f.has_symptom(&["chest_pain"]),
    ),
    rule(
        "condition.cardiac_history",
        Critical,
        "a cardiac emergency in a person with heart disease",
        |f| {
            f.is(EmergencyType::Cardiac)
                && f.has_condition(&["heart_disease", "coronary_artery_disease", "heart_failure"])
        },
    ),
    rule(
        "condition.respiratory_history",
        Critical,
        "breathing difficulty in a person with asthma or COPD",
        |f| {
            (f.is(EmergencyType::Respiratory) || f.has_symptom(&["difficulty_breathing"]))
                && f.has_condition(&["asthma", "copd"])
        },
    ),
    rule(
        "condition.pregnancy_trauma",
        Critical,
        "injury during pregnancy",
        |f| f.is(EmergencyType::Trauma) && f.has_condition(&["pregnancy"]),
    ),
    rule(
        "type.obstetric_bleeding",
        Critical,
        "bleeding in pregnancy or childbirth",
        |f| {
            f.is(EmergencyType::Obstetric)
                && f.has_symptom(&["vaginal_bleeding", "severe_bleeding"])
        },
    ),
    rule(
        "age.infant_breathing",
        Critical,
        "an infant with breathing difficulty",
        |f| {
            f.age_years.is_some_and(|a| a < 1)
                && (f.is(EmergencyType::Respiratory) || f.has_symptom(&["difficulty_breathing"]))
        },
    ),
    rule("type.cardiac", High, "a cardiac emergency", |f| {
        f.is(EmergencyType::Cardiac)
    }),
    rule("type.respiratory", High, "a breathing emergency", |f| {
        f.is(EmergencyType::Respiratory) || f.has_symptom(&["difficulty_breathing"])
    }),
    rule("type.trauma", High, "an injury", |f| {
        f.is(EmergencyType::Trauma)
    }),
    rule(
        "type.obstetric",
        High,
        "a pregnancy or childbirth emergency",
        |f| f.is(EmergencyType::Obstetric),
    ),
    rule("type.burn", High, "a burn", |f| f.is(EmergencyType::Burn)),
    rule("type.poisoning", High, "a poisoning", |f| {
        f.is(EmergencyType::Poisoning)
    }),
    rule("type.pediatric", High, "a child's emergency", |f| {
        f.is(EmergencyType::Pediatric)
    }),
    rule(
        "vitals.temperature_extreme",
        High,
        "temperature of 40 °C or more, or below 35 °C",
        |f| {
            f.vitals
                .temperature_c
                .is_some_and(|v| !(35.0..40.0).contains(&v))
        },
    ),
    rule("age.elderly", High, "a person aged 75 or more", |f| {
        f.age_years.is_some_and(|a| a >= 75)
    }),
    rule(
        "default",
        Medium,
        "no rule for a higher priority applied",
        |_| true,
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub priority: Priority,
    pub rule: &'static str,
    pub reason: &'static str,
}

/// The first rule that applies.
pub fn prioritise(facts: &Facts) -> Decision {
    let rule = RULES
        .iter()
        .find(|r| (r.applies)(facts))
        .unwrap_or(&RULES[RULES.len() - 1]);
    Decision {
        priority: rule.priority,
        rule: rule.id,
        reason: rule.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symptoms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rules_are_ordered_most_severe_first_and_end_with_a_default() {
        for pair in RULES.windows(2) {
            assert!(pair[0].priority >= pair[1].priority, "{}", pair[1].id);
        }
        assert_eq!(RULES.last().map(|r| r.id), Some("default"));
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }

    #[test]
    fn type_symptoms_vitals_and_conditions_each_decide() {
        let chest = symptoms(&["chest_pain"]);
        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Cardiac),
            symptoms: &chest,
            ..Default::default()
        });
        assert_eq!(
            (d.priority, d.rule),
            (Priority::Critical, "type.cardiac_chest_pain")
        );

        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Cardiac),
            ..Default::default()
        });
        assert_eq!((d.priority, d.rule), (Priority::High, "type.cardiac"));

        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Other),
            vitals: Vitals {
                spo2: Some(85.0),
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(d.rule, "vitals.spo2_low");

        let asthma = symptoms(&["asthma"]);
        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Respiratory),
            conditions: &asthma,
            ..Default::default()
        });
        assert_eq!(d.rule, "condition.respiratory_history");

        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Other),
            ..Default::default()
        });
        assert_eq!((d.priority, d.rule), (Priority::Medium, "default"));

        let d = prioritise(&Facts {
            emergency_type: Some(EmergencyType::Other),
            age_years: Some(80),
            ..Default::default()
        });
        assert_eq!(d.rule, "age.elderly");
    }

    #[test]
    fn vitals_out_of_physiological_range_are_refused_by_field() {
        let v = Vitals {
            spo2: Some(140.0),
            ..Default::default()
        };
        assert_eq!(v.validate().expect_err("bad").field(), Some("vitals.spo2"));
        let v = Vitals {
            heart_rate: Some(f64::NAN),
            ..Default::default()
        };
        assert_eq!(
            v.validate().expect_err("bad").field(),
            Some("vitals.heart_rate")
        );
        assert!(Vitals::default().validate().is_ok());
    }
}
