//! What several contexts record of a person the same way.

use serde::{Deserialize, Serialize};

/// FHIR's administrative gender values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    /// HL7 v2 table 0001.
    pub fn hl7(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
            Sex::Other => "O",
            Sex::Unknown => "U",
        }
    }

    /// From HL7 v2 table 0001, any case: `A` (ambiguous) is other, `N` (not applicable)
    /// unknown.
    pub fn from_hl7(code: &str) -> Option<Sex> {
        match code.to_ascii_uppercase().as_str() {
            "F" => Some(Sex::Female),
            "M" => Some(Sex::Male),
            "O" | "A" => Some(Sex::Other),
            "U" | "N" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_codes_round_trip() {
        for sex in [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown] {
            assert_eq!(Sex::from_hl7(sex.hl7()), Some(sex));
        }
        assert_eq!(Sex::from_hl7("a"), Some(Sex::Other));
        assert_eq!(Sex::from_hl7("X"), None);
    }
}
