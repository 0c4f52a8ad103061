//! LOINC codes: `NNNNN-C`, a number of up to seven digits and a check digit by the mod-10
//! algorithm LOINC publishes (the Luhn variant over the number: from the right, odd positions
//! doubled and their digits summed with the even positions; the check digit brings the total
//! to a multiple of ten). A code whose check digit is wrong is a typo, refused as such.
//!
//! The bundled list (`COMMON_TESTS`) is a small subset of LOINC's common laboratory
//! observations with their display names, usual UCUM units and critical limits for adults;
//! the order form looks codes up in it. It is shipped under the LOINC licence: "This material
//! contains content from LOINC (http://loinc.org). LOINC is copyright © Regenstrief Institute,
//! Inc. and the Logical Observation Identifiers Names and Codes (LOINC) Committee and is
//! available at no cost under the license at http://loinc.org/license."

use serde::Serialize;

/// A LOINC code whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LoincCode(String);

/// Why text is not a LOINC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoincError {
    #[error("a LOINC code is digits, a hyphen and a check digit, like 2345-7")]
    Shape,
    #[error("the check digit of this LOINC code is wrong: a typo? (it would be {expected})")]
    CheckDigit { expected: char },
}

/// The check digit of a LOINC number (the part before the hyphen).
pub fn check_digit(number: &str) -> Option<char> {
    if number.is_empty() || number.len() > 7 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut sum = 0u32;
    for (i, b) in number.bytes().rev().enumerate() {
        let d = u32::from(b - b'0');
        // The rightmost digit is position 1 (odd): doubled.
        sum += if i % 2 == 0 {
            let twice = d * 2;
            twice / 10 + twice % 10
        } else {
            d
        };
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

impl LoincCode {
    pub fn parse(text: &str) -> Result<Self, LoincError> {
        let text = text.trim();
        let (number, check) = text.split_once('-').ok_or(LoincError::Shape)?;
        let mut check_chars = check.chars();
        let (Some(given), None) = (check_chars.next(), check_chars.next()) else {
            return Err(LoincError::Shape);
        };
        let expected = check_digit(number).ok_or(LoincError::Shape)?;
        if !given.is_ascii_digit() {
            return Err(LoincError::Shape);
        }
        if given != expected {
            return Err(LoincError::CheckDigit { expected });
        }
        Ok(LoincCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LoincCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One test of the bundled list. Limits are in `unit`, as decimal text (never floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommonTest {
    pub code: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    /// Below this a result is critical (adult limits; the hospital's own may differ).
    pub critical_low: Option<&'static str>,
    /// Above this a result is critical.
    pub critical_high: Option<&'static str>,
}

const fn test(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    critical_low: Option<&'static str>,
    critical_high: Option<&'static str>,
) -> CommonTest {
    CommonTest {
        code,
        name,
        unit,
        critical_low,
        critical_high,
    }
}

/// Common laboratory tests of a Kenyan hospital's menu (haematology, chemistry, serology,
/// malaria, TB, HIV), with their usual units and adult critical limits.
pub const COMMON_TESTS: &[CommonTest] = &[
    test(
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "g/dL",
        Some("7"),
        Some("20"),
    ),
    test(
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "%",
        Some("20"),
        Some("60"),
    ),
    test(
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        Some("2"),
        Some("30"),
    ),
    test(
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "10*3/uL",
        Some("20"),
        Some("1000"),
    ),
    test(
        "789-8",
        "Erythrocytes [#/volume] in Blood by Automated count",
        "10*6/uL",
        None,
        None,
    ),
    test(
        "787-2",
        "MCV [Entitic volume] by Automated count",
        "fL",
        None,
        None,
    ),
    test(
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        Some("40"),
        Some("450"),
    ),
    test(
        "2339-0",
        "Glucose [Mass/volume] in Blood",
        "mg/dL",
        Some("40"),
        Some("450"),
    ),
    test(
        "15074-8",
        "Glucose [Moles/volume] in Blood",
        "mmol/L",
        Some("2.2"),
        Some("25"),
    ),
    test(
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "%",
        None,
        None,
    ),
    test(
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        Some("120"),
        Some("160"),
    ),
    test(
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        Some("2.8"),
        Some("6.2"),
    ),
    test(
        "2075-0",
        "Chloride [Moles/volume] in Serum or Plasma",
        "mmol/L",
        Some("80"),
        Some("120"),
    ),
    test(
        "2028-9",
        "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
        "mmol/L",
        Some("10"),
        Some("40"),
    ),
    test(
        "3094-0",
        "Urea nitrogen [Mass/volume] in Serum or Plasma",
        "mg/dL",
        None,
        Some("100"),
    ),
    test(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        None,
        Some("7.4"),
    ),
    test(
        "17861-6",
        "Calcium [Mass/volume] in Serum or Plasma",
        "mg/dL",
        Some("6.5"),
        Some("13"),
    ),
    test(
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        None,
        None,
    ),
    test(
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        None,
        None,
    ),
    test(
        "1975-2",
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "mg/dL",
        None,
        Some("15"),
    ),
    test(
        "1751-7",
        "Albumin [Mass/volume] in Serum or Plasma",
        "g/dL",
        None,
        None,
    ),
    test(
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "mg/dL",
        None,
        None,
    ),
    test(
        "2524-7",
        "Lactate [Moles/volume] in Serum or Plasma",
        "mmol/L",
        None,
        Some("4"),
    ),
    test(
        "6598-7",
        "Troponin T.cardiac [Mass/volume] in Serum or Plasma",
        "ug/L",
        None,
        Some("0.1"),
    ),
    test("5902-2", "Prothrombin time (PT)", "s", None, Some("30")),
    test(
        "6301-6",
        "INR in Platelet poor plasma by Coagulation assay",
        "{INR}",
        None,
        Some("5"),
    ),
    test(
        "2532-0",
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        None,
        None,
    ),
    test(
        "32623-1",
        "Platelet mean volume [Entitic volume] in Blood by Automated count",
        "fL",
        None,
        None,
    ),
    test(
        "70569-9",
        "Plasmodium sp Ag [Presence] in Blood by Rapid immunoassay",
        "",
        None,
        None,
    ),
    test(
        "32700-7",
        "Microscopic observation [Identifier] in Blood by Malaria smear",
        "",
        None,
        None,
    ),
    test(
        "75622-1",
        "HIV 1 and 2 Ab and HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay",
        "",
        None,
        None,
    ),
    test(
        "20447-9",
        "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection",
        "{copies}/mL",
        None,
        None,
    ),
    test(
        "24467-3",
        "CD3+CD4+ (T4 helper) cells [#/volume] in Blood",
        "/uL",
        None,
        None,
    ),
    test(
        "88142-5",
        "Mycobacterium tuberculosis complex DNA [Presence] by NAA with probe detection",
        "",
        None,
        None,
    ),
    test(
        "5196-1",
        "Hepatitis B virus surface Ag [Presence] in Serum",
        "",
        None,
        None,
    ),
    test(
        "2106-3",
        "Choriogonadotropin (pregnancy test) [Presence] in Urine",
        "",
        None,
        None,
    ),
    test(
        "5811-5",
        "Specific gravity of Urine by Test strip",
        "",
        None,
        None,
    ),
    test(
        "600-7",
        "Bacteria identified in Blood by Culture",
        "",
        None,
        None,
    ),
];

/// The bundled test of a code, if the list has it.
pub fn common_test(code: &str) -> Option<&'static CommonTest> {
    COMMON_TESTS.iter().find(|t| t.code == code.trim())
}

/// Tests whose name contains every word of `query` (case-insensitive), for the order form.
pub fn find_tests(query: &str) -> Vec<&'static CommonTest> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    COMMON_TESTS
        .iter()
        .filter(|t| {
            let name = t.name.to_lowercase();
            !words.is_empty()
                && (words.iter().all(|w| name.contains(w.as_str())) || t.code == query.trim())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_are_loincs() {
        // Codes from LOINC's own examples and the bundled list.
        for code in [
            "2345-7", "718-7", "4548-4", "2160-0", "15074-8", "88142-5", "600-7", "6301-6",
        ] {
            assert!(LoincCode::parse(code).is_ok(), "{code}");
        }
        assert_eq!(
            LoincCode::parse("2345-8"),
            Err(LoincError::CheckDigit { expected: '7' })
        );
        for bad in [
            "2345",
            "-7",
            "2345-",
            "2345-77",
            "23a5-7",
            "12345678-0",
            "2345-x",
            "",
        ] {
            assert_eq!(LoincCode::parse(bad), Err(LoincError::Shape), "{bad:?}");
        }
        assert_eq!(
            LoincCode::parse(" 718-7 ").map(|c| c.to_string()),
            Ok("718-7".into())
        );
    }

    #[test]
    fn every_bundled_code_checks_and_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for t in COMMON_TESTS {
            assert!(LoincCode::parse(t.code).is_ok(), "{}", t.code);
            assert!(seen.insert(t.code), "{} twice", t.code);
            for limit in [t.critical_low, t.critical_high].into_iter().flatten() {
                assert!(crate::decimal::Decimal::parse(limit).is_some(), "{limit}");
            }
        }
    }

    #[test]
    fn the_order_form_finds_tests_by_words_or_code() {
        let found: Vec<&str> = find_tests("glucose blood").iter().map(|t| t.code).collect();
        assert!(
            found.contains(&"2339-0") && found.contains(&"15074-8"),
            "{found:?}"
        );
        assert!(!found.contains(&"2345-7"), "serum is not blood");
        assert_eq!(find_tests("718-7").len(), 1);
        assert!(find_tests("  ").is_empty());
        assert_eq!(common_test("2823-3").map(|t| t.unit), Some("mmol/L"));
    }
}
