//! The patient's own emergency profile: what a hospital needs to know in the first minutes.
//! Every field is medical data; the whole profile is sealed as one record.

use serde::{Deserialize, Serialize};

use haven_kernel::error::DomainError;

pub const BLOOD_TYPES: &[&str] = &["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];
const MAX_ITEMS: usize = 50;
const MAX_CONTACTS: usize = 5;
const MAX_TEXT: usize = 120;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalProfile {
    #[serde(default)]
    pub blood_type: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    /// As the person states it; hospitals prepare by it (FHIR `Patient.gender`, HL7 PID-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub allergies: Vec<Allergy>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub medications: Vec<Medication>,
    #[serde(default)]
    pub emergency_contacts: Vec<EmergencyContact>,
    #[serde(default)]
    pub insurance: Option<Insurance>,
}

pub use haven_kernel::person::Sex;

/// An age as a band, which is what an emergency department prepares by (a cot or a bed,
/// paediatric doses), without disclosing the date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AgeBand {
    /// Whole years, inclusive.
    pub from: u32,
    /// Whole years, inclusive; `None` for the open top band.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
}

impl AgeBand {
    /// Infant, toddler, child, teenager, then decades of adults, 80 and over.
    pub fn of(age: u32) -> Self {
        let (from, to) = match age {
            0 => (0, Some(0)),
            1..=4 => (1, Some(4)),
            5..=12 => (5, Some(12)),
            13..=17 => (13, Some(17)),
            18..=29 => (18, Some(29)),
            80.. => (80, None),
            a => (a / 10 * 10, Some(a / 10 * 10 + 9)),
        };
        AgeBand { from, to }
    }

    /// `under 1`, `1-4`, `30-39`, `80+`.
    pub fn label(self) -> String {
        match self.to {
            Some(0) => "under 1".into(),
            Some(to) => format!("{}-{to}", self.from),
            None => format!("{}+", self.from),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
    LifeThreatening,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allergy {
    pub substance: String,
    #[serde(default)]
    pub reaction: Option<String>,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub name: String,
    /// ICD-10 code, e.g. `J45.9`.
    #[serde(default)]
    pub icd10: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    pub name: String,
    pub dose: String,
    pub frequency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContact {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insurance {
    pub provider: String,
    pub member_number: String,
}

fn text(field: &str, value: &str) -> Result<(), DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_TEXT {
        return Err(DomainError::invalid(
            field,
            format!("{field} has 1 to {MAX_TEXT} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("{field} has no control characters"),
        ));
    }
    Ok(())
}

fn count(field: &str, len: usize, max: usize) -> Result<(), DomainError> {
    if len > max {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} entries"),
        ));
    }
    Ok(())
}

fn icd10(field: &str, code: &str) -> Result<(), DomainError> {
    let b = code.as_bytes();
    let head = b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase());
    let tail = match &code.get(3..) {
        Some("") | None => true,
        Some(rest) => {
            rest.len() >= 2
                && rest.len() <= 5
                && rest.starts_with('.')
                && rest[1..].bytes().all(|c| c.is_ascii_alphanumeric())
        }
    };
    if head && tail {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            "an ICD-10 code looks like J45 or J45.909",
        ))
    }
}

impl MedicalProfile {
    /// Checks every field; the error names the first offending one. `today` is `YYYY-MM-DD`.
    pub fn validate(&self, today: &str) -> Result<(), DomainError> {
        if let Some(b) = &self.blood_type
            && !BLOOD_TYPES.contains(&b.as_str())
        {
            return Err(DomainError::invalid(
                "blood_type",
                format!("blood_type is one of {}", BLOOD_TYPES.join(", ")),
            ));
        }
        if let Some(d) = &self.date_of_birth {
            let valid = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()
                && d.len() == 10
                && d.as_str() >= "1900-01-01"
                && d.as_str() <= today;
            if !valid {
                return Err(DomainError::invalid(
                    "date_of_birth",
                    "date_of_birth is a past date as YYYY-MM-DD",
                ));
            }
        }
        count("allergies", self.allergies.len(), MAX_ITEMS)?;
        for (i, a) in self.allergies.iter().enumerate() {
            text(&format!("allergies[{i}].substance"), &a.substance)?;
            if let Some(r) = &a.reaction {
                text(&format!("allergies[{i}].reaction"), r)?;
            }
        }
        count("conditions", self.conditions.len(), MAX_ITEMS)?;
        for (i, c) in self.conditions.iter().enumerate() {
            text(&format!("conditions[{i}].name"), &c.name)?;
            if let Some(code) = &c.icd10 {
                icd10(&format!("conditions[{i}].icd10"), code)?;
            }
        }
        count("medications", self.medications.len(), MAX_ITEMS)?;
        for (i, m) in self.medications.iter().enumerate() {
            text(&format!("medications[{i}].name"), &m.name)?;
            text(&format!("medications[{i}].dose"), &m.dose)?;
            text(&format!("medications[{i}].frequency"), &m.frequency)?;
        }
        count(
            "emergency_contacts",
            self.emergency_contacts.len(),
            MAX_CONTACTS,
        )?;
        for (i, c) in self.emergency_contacts.iter().enumerate() {
            text(&format!("emergency_contacts[{i}].name"), &c.name)?;
            text(&format!("emergency_contacts[{i}].relation"), &c.relation)?;
            haven_kernel::ports::publisher::validate_phone_number(&c.phone).map_err(|_| {
                DomainError::invalid(
                    &format!("emergency_contacts[{i}].phone"),
                    "a phone number must be in E.164 form, like +254712345678",
                )
            })?;
        }
        if let Some(ins) = &self.insurance {
            text("insurance.provider", &ins.provider)?;
            text("insurance.member_number", &ins.member_number)?;
        }
        Ok(())
    }

    /// Condition names as the priority rules match them: lowercase, words joined by `_`.
    pub fn condition_words(&self) -> Vec<String> {
        self.conditions
            .iter()
            .map(|c| {
                c.name
                    .trim()
                    .to_lowercase()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("_")
            })
            .collect()
    }

    /// Whole years of age on `today` (`YYYY-MM-DD`), when the date of birth is known.
    pub fn age_on(&self, today: &str) -> Option<u32> {
        let born =
            chrono::NaiveDate::parse_from_str(self.date_of_birth.as_deref()?, "%Y-%m-%d").ok()?;
        let today = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").ok()?;
        today.years_since(born)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_in_bands_a_department_prepares_by() {
        let labels: Vec<String> = [0, 1, 4, 5, 12, 13, 17, 18, 29, 30, 39, 75, 79, 80, 104]
            .into_iter()
            .map(|a| AgeBand::of(a).label())
            .collect();
        assert_eq!(
            labels,
            [
                "under 1", "1-4", "1-4", "5-12", "5-12", "13-17", "13-17", "18-29", "18-29",
                "30-39", "30-39", "70-79", "70-79", "80+", "80+"
            ]
        );
        for a in 0..120 {
            let b = AgeBand::of(a);
            assert!(b.from <= a && b.to.is_none_or(|t| a <= t), "{a} in {b:?}");
        }
    }

    pub(crate) fn sample() -> MedicalProfile {
        MedicalProfile {
            blood_type: Some("O-".into()),
            date_of_birth: Some("1988-04-12".into()),
            sex: Some(Sex::Female),
            allergies: vec![Allergy {
                substance: "Penicillin".into(),
                reaction: Some("Hives".into()),
                severity: Severity::Severe,
            }],
            conditions: vec![Condition {
                name: "Asthma".into(),
                icd10: Some("J45.9".into()),
            }],
            medications: vec![Medication {
                name: "Salbutamol inhaler".into(),
                dose: "100 mcg".into(),
                frequency: "as needed".into(),
            }],
            emergency_contacts: vec![EmergencyContact {
                name: "Otieno Odhiambo".into(),
                relation: "brother".into(),
                phone: "+254712345678".into(),
            }],
            insurance: Some(Insurance {
                provider: "NHIF".into(),
                member_number: "NHIF-1234567".into(),
            }),
        }
    }

    #[test]
    fn every_field_is_checked_by_name() {
        let today = "2026-11-23";
        assert!(sample().validate(today).is_ok());
        type Change = Box<dyn Fn(&mut MedicalProfile)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|p| p.blood_type = Some("C+".into())), "blood_type"),
            (
                Box::new(|p| p.date_of_birth = Some("2030-01-01".into())),
                "date_of_birth",
            ),
            (
                Box::new(|p| p.date_of_birth = Some("12/04/1988".into())),
                "date_of_birth",
            ),
            (
                Box::new(|p| p.allergies[0].substance = " ".into()),
                "allergies[0].substance",
            ),
            (
                Box::new(|p| p.conditions[0].icd10 = Some("asthma".into())),
                "conditions[0].icd10",
            ),
            (
                Box::new(|p| p.medications[0].dose = "x".repeat(121)),
                "medications[0].dose",
            ),
            (
                Box::new(|p| p.emergency_contacts[0].phone = "0712".into()),
                "emergency_contacts[0].phone",
            ),
            (
                Box::new(|p| p.insurance.as_mut().expect("insurance").member_number = "".into()),
                "insurance.member_number",
            ),
            (
                Box::new(|p| p.emergency_contacts = vec![p.emergency_contacts[0].clone(); 6]),
                "emergency_contacts",
            ),
        ];
        for (change, field) in cases {
            let mut p = sample();
            change(&mut p);
            assert_eq!(p.validate(today).expect_err(field).field(), Some(field));
        }
    }

    #[test]
    fn conditions_and_age_feed_the_priority_rules() {
        let p = sample();
        assert_eq!(p.condition_words(), ["asthma"]);
        assert_eq!(p.age_on("2026-11-23"), Some(38));
        assert_eq!(p.age_on("2026-04-11"), Some(37));
    }
}
