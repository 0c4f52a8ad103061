//! What a hospital knows of a patient, as staff type it and as it is sealed. Every field here
//! is personal data: the whole of it is one envelope in the table (see `store`).

use serde::{Deserialize, Serialize};

use crate::identifiers::{self, Identifier};
use crate::names;
pub use haven_kernel::person::Sex;
use haven_kernel::{DomainError, phone};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextOfKin {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A patient's details as a client sends them (`POST /patients`, `PUT /patients/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    pub given_name: String,
    pub family_name: String,
    #[serde(default)]
    pub other_names: Option<String>,
    /// `YYYY-MM-DD`; or leave it out and give `estimated_age`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub estimated_age: Option<u32>,
    pub sex: Sex,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub next_of_kin: Option<NextOfKin>,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    /// The person's Haven account, when they have one: links their emergency alerts.
    #[serde(default)]
    pub haven_user_id: Option<String>,
    /// Which hospital's patient: required of a system admin, implied for staff.
    #[serde(default)]
    pub hospital_id: Option<String>,
}

/// The details as sealed: checked, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientDetails {
    pub given_name: String,
    pub family_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_names: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// The date of birth was worked out from an age someone guessed.
    #[serde(default)]
    pub birth_date_estimated: bool,
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_of_kin: Option<NextOfKin>,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haven_user_id: Option<String>,
}

/// Kenya's 47 counties, as the Constitution's First Schedule names them.
pub const COUNTIES: [&str; 47] = [
    "Mombasa",
    "Kwale",
    "Kilifi",
    "Tana River",
    "Lamu",
    "Taita-Taveta",
    "Garissa",
    "Wajir",
    "Mandera",
    "Marsabit",
    "Isiolo",
    "Meru",
    "Tharaka-Nithi",
    "Embu",
    "Kitui",
    "Machakos",
    "Makueni",
    "Nyandarua",
    "Nyeri",
    "Kirinyaga",
    "Murang'a",
    "Kiambu",
    "Turkana",
    "West Pokot",
    "Samburu",
    "Trans Nzoia",
    "Uasin Gishu",
    "Elgeyo-Marakwet",
    "Nandi",
    "Baringo",
    "Laikipia",
    "Nakuru",
    "Narok",
    "Kajiado",
    "Kericho",
    "Bomet",
    "Kakamega",
    "Vihiga",
    "Bungoma",
    "Busia",
    "Siaya",
    "Kisumu",
    "Homa Bay",
    "Migori",
    "Kisii",
    "Nyamira",
    "Nairobi",
];

/// The county as the list names it, from any case, spacing or punctuation people type.
pub fn county(typed: &str) -> Option<&'static str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let want = fold(typed);
    let want = want.strip_suffix("county").unwrap_or(&want);
    COUNTIES.iter().copied().find(|c| fold(c) == want)
}

fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let t = value.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("{field} has 1 to {max} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("{field} cannot hold control characters"),
        ));
    }
    Ok(t.to_owned())
}

fn optional(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

fn name(field: &str, value: &str) -> Result<String, DomainError> {
    let t = text(field, value, 100)?;
    if names::words(&t).is_empty() {
        return Err(DomainError::invalid(
            field,
            "a name needs at least one letter",
        ));
    }
    Ok(t)
}

fn phone_field(field: &str, value: Option<&str>) -> Result<Option<String>, DomainError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => phone::normalise(v).map(Some).ok_or_else(|| {
            DomainError::invalid(
                field,
                "a phone number like 0712 345 678 or +254712345678 (other countries with their +code)",
            )
        }),
    }
}

/// An email address in the form search and messages use: trimmed, lower case.
pub fn email(value: &str) -> Option<String> {
    let e = value.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

/// The date of birth, checked: a real date, not in the future, at most 130 years ago.
fn birth_date(value: &str, today: chrono::NaiveDate) -> Result<String, DomainError> {
    let date = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        DomainError::invalid(
            "date_of_birth",
            "a date of birth is YYYY-MM-DD, like 1990-04-12",
        )
    })?;
    if date > today {
        return Err(DomainError::invalid(
            "date_of_birth",
            "the date of birth is in the future",
        ));
    }
    if today.years_since(date).unwrap_or(0) > 130 {
        return Err(DomainError::invalid(
            "date_of_birth",
            "the date of birth is more than 130 years ago",
        ));
    }
    Ok(date.format("%Y-%m-%d").to_string())
}

impl PatientInput {
    /// The details to seal, or the first field that is wrong. `today` is the hospital's date,
    /// for the date of birth and an estimated age.
    pub fn validate(&self, today: chrono::NaiveDate) -> Result<PatientDetails, DomainError> {
        let given_name = name("given_name", &self.given_name)?;
        let family_name = name("family_name", &self.family_name)?;
        let other_names = optional("other_names", self.other_names.as_deref(), 200)?;
        let (date_of_birth, birth_date_estimated) =
            match (self.date_of_birth.as_deref(), self.estimated_age) {
                (Some(d), None) => (Some(birth_date(d, today)?), false),
                (None, Some(age)) if age <= 130 => {
                    let year = chrono::Datelike::year(&today) - age as i32;
                    let date = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
                        .ok_or_else(|| DomainError::invalid("estimated_age", "an age in years"))?;
                    (Some(date.format("%Y-%m-%d").to_string()), true)
                }
                (None, Some(_)) => {
                    return Err(DomainError::invalid(
                        "estimated_age",
                        "an estimated age is 0 to 130 years",
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(DomainError::invalid(
                        "estimated_age",
                        "give a date of birth or an estimated age, not both",
                    ));
                }
                (None, None) => (None, false),
            };
        let phone = phone_field("phone", self.phone.as_deref())?;
        let email = match self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            None => None,
            Some(e) => Some(email(e).ok_or_else(|| {
                DomainError::invalid("email", "an email address like name@example.co.ke")
            })?),
        };
        let county = match self
            .county
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            None => None,
            Some(c) => Some(
                county(c)
                    .ok_or_else(|| {
                        DomainError::invalid("county", "one of Kenya's 47 counties, like Nairobi")
                    })?
                    .to_owned(),
            ),
        };
        let address = optional("address", self.address.as_deref(), 300)?;
        let next_of_kin = match &self.next_of_kin {
            None => None,
            Some(k) => Some(NextOfKin {
                name: name("next_of_kin.name", &k.name)?,
                relationship: optional("next_of_kin.relationship", k.relationship.as_deref(), 50)?,
                phone: phone_field("next_of_kin.phone", k.phone.as_deref())?,
            }),
        };
        let identifiers = identifiers::validate(&self.identifiers)?;
        let haven_user_id = match self.haven_user_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) if haven_kernel::ids::is_valid_id(id) => Some(id.to_owned()),
            Some(_) => {
                return Err(DomainError::invalid(
                    "haven_user_id",
                    "not the id of a Haven account",
                ));
            }
        };
        Ok(PatientDetails {
            given_name,
            family_name,
            other_names,
            date_of_birth,
            birth_date_estimated,
            sex: self.sex,
            phone,
            email,
            county,
            address,
            next_of_kin,
            identifiers,
            haven_user_id,
        })
    }
}

impl PatientDetails {
    /// Every word of every name, normalised, for the index and for checking a match.
    pub fn name_words(&self) -> Vec<String> {
        let mut words = names::words(&self.given_name);
        words.extend(names::words(&self.family_name));
        if let Some(other) = &self.other_names {
            words.extend(names::words(other));
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date")
    }

    fn input() -> PatientInput {
        serde_json::from_value(serde_json::json!({
            "given_name": " Wanjirũ ",
            "family_name": "Kamau",
            "date_of_birth": "1990-04-12",
            "sex": "female",
            "phone": "0712 345 678",
            "email": " Wanjiru@Example.CO.KE ",
            "county": "nairobi county",
            "next_of_kin": {"name": "Otieno", "phone": "712000111"},
            "identifiers": [{"type": "national_id", "value": "12345678"}]
        }))
        .expect("input")
    }

    #[test]
    fn details_come_out_in_canonical_form() {
        let d = input().validate(today()).expect("valid");
        assert_eq!(d.given_name, "Wanjirũ");
        assert_eq!(d.phone.as_deref(), Some("+254712345678"));
        assert_eq!(d.email.as_deref(), Some("wanjiru@example.co.ke"));
        assert_eq!(d.county.as_deref(), Some("Nairobi"));
        assert_eq!(
            d.next_of_kin.and_then(|k| k.phone).as_deref(),
            Some("+254712000111")
        );
        assert_eq!(county("MURANGA"), Some("Murang'a"));
        assert_eq!(county("homa-bay"), Some("Homa Bay"));
    }

    #[test]
    fn each_wrong_field_is_named() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("given_name", serde_json::json!({"given_name": "  "})),
            ("family_name", serde_json::json!({"family_name": "123"})),
            (
                "date_of_birth",
                serde_json::json!({"date_of_birth": "12/04/1990"}),
            ),
            (
                "date_of_birth",
                serde_json::json!({"date_of_birth": "2027-01-01"}),
            ),
            ("estimated_age", serde_json::json!({"estimated_age": 40})),
            ("phone", serde_json::json!({"phone": "0712"})),
            ("email", serde_json::json!({"email": "wanjiru.example"})),
            ("county", serde_json::json!({"county": "Atlantis"})),
            (
                "next_of_kin.phone",
                serde_json::json!({"next_of_kin": {"name": "A", "phone": "x"}}),
            ),
            (
                "identifiers[0].value",
                serde_json::json!({"identifiers": [{"type": "national_id", "value": "12"}]}),
            ),
            (
                "haven_user_id",
                serde_json::json!({"haven_user_id": "USER#1"}),
            ),
        ];
        for (field, patch) in cases {
            let mut v = serde_json::json!({
                "given_name": "Wanjiru", "family_name": "Kamau", "sex": "female",
                "date_of_birth": "1990-04-12"
            });
            for (k, x) in patch.as_object().expect("object") {
                v[k] = x.clone();
            }
            let input: PatientInput = serde_json::from_value(v).expect("shape");
            let e = input.validate(today()).expect_err(field);
            assert_eq!(e.field(), Some(field), "{e}");
        }
    }

    #[test]
    fn an_estimated_age_gives_an_estimated_birth_date() {
        let mut i = input();
        i.date_of_birth = None;
        i.estimated_age = Some(34);
        let d = i.validate(today()).expect("valid");
        assert_eq!(d.date_of_birth.as_deref(), Some("1992-01-01"));
        assert!(d.birth_date_estimated);
        assert_eq!(d.name_words(), ["wanjiru", "kamau"]);
    }
}
