//! A person's official identifiers, checked by the Kenya Core rules as far as each has one.

use serde::{Deserialize, Serialize};

use haven_kernel::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierType {
    NationalId,
    BirthCertificate,
    Passport,
    AlienId,
    RefugeeId,
    /// The National Unique Patient Identifier of the client registry.
    Nupi,
    /// The Social Health Authority's member number.
    ShaNumber,
}

impl IdentifierType {
    pub const ALL: [IdentifierType; 7] = [
        IdentifierType::NationalId,
        IdentifierType::BirthCertificate,
        IdentifierType::Passport,
        IdentifierType::AlienId,
        IdentifierType::RefugeeId,
        IdentifierType::Nupi,
        IdentifierType::ShaNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierType::NationalId => "national_id",
            IdentifierType::BirthCertificate => "birth_certificate",
            IdentifierType::Passport => "passport",
            IdentifierType::AlienId => "alien_id",
            IdentifierType::RefugeeId => "refugee_id",
            IdentifierType::Nupi => "nupi",
            IdentifierType::ShaNumber => "sha_number",
        }
    }

    /// What the value must look like, in the words of the field error.
    fn rule(self) -> &'static str {
        match self {
            IdentifierType::NationalId => "a national ID number is 8 digits",
            IdentifierType::BirthCertificate => {
                "a birth certificate number is 5 to 12 letters and digits"
            }
            IdentifierType::Passport => "a passport number is 6 to 9 letters and digits",
            IdentifierType::AlienId => "an alien ID number is 6 to 10 digits",
            IdentifierType::RefugeeId => {
                "a refugee ID is 5 to 20 letters, digits and dashes, like KAK-12C12345"
            }
            IdentifierType::Nupi => "a NUPI is 6 to 20 letters, digits and dashes",
            IdentifierType::ShaNumber => {
                "an SHA number is CR, 13 digits, a dash and a check number, like CR1234567890123-4"
            }
        }
    }

    fn accepts(self, v: &str) -> bool {
        let len = v.len();
        let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let dashed = |s: &str| {
            s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        match self {
            IdentifierType::NationalId => len == 8 && digits(v),
            IdentifierType::BirthCertificate => (5..=12).contains(&len) && alnum(v),
            IdentifierType::Passport => {
                (6..=9).contains(&len) && alnum(v) && v.bytes().any(|b| b.is_ascii_digit())
            }
            IdentifierType::AlienId => (6..=10).contains(&len) && digits(v),
            IdentifierType::RefugeeId => (5..=20).contains(&len) && dashed(v),
            IdentifierType::Nupi => (6..=20).contains(&len) && dashed(v),
            IdentifierType::ShaNumber => match v.strip_prefix("CR").and_then(|r| r.split_once('-'))
            {
                Some((number, check)) => number.len() == 13 && digits(number) && digits(check),
                None => false,
            },
        }
    }
}

/// One identifier as stored: its type and its value in canonical form (upper case, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    pub value: String,
}

/// The canonical form of a typed identifier: what the index and comparisons use.
pub fn canonical(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// At most this many identifiers per person (a record's index entries must fit one transaction).
pub const MAX_IDENTIFIERS: usize = 6;

/// Checks each identifier (errors name `identifiers[i].value`) and refuses a value given
/// twice.
pub fn validate(given: &[Identifier]) -> Result<Vec<Identifier>, DomainError> {
    if given.len() > MAX_IDENTIFIERS {
        return Err(DomainError::invalid(
            "identifiers",
            format!("at most {MAX_IDENTIFIERS} identifiers"),
        ));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(given.len());
    for (i, id) in given.iter().enumerate() {
        let value = canonical(&id.value);
        if !id.kind.accepts(&value) {
            return Err(DomainError::invalid(
                &format!("identifiers[{i}].value"),
                id.kind.rule(),
            ));
        }
        if out.iter().any(|o| o.kind == id.kind && o.value == value) {
            return Err(DomainError::invalid(
                &format!("identifiers[{i}]"),
                "this identifier is already listed",
            ));
        }
        out.push(Identifier {
            kind: id.kind,
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: IdentifierType, value: &str) -> Identifier {
        Identifier {
            kind,
            value: value.into(),
        }
    }

    #[test]
    fn kenya_core_shapes() {
        use IdentifierType::*;
        let good = [
            id(NationalId, "12345678"),
            id(BirthCertificate, "123456789"),
            id(Passport, "ak 0123456"),
            id(AlienId, "1234567"),
            id(RefugeeId, "KAK-12C12345"),
            id(Nupi, "CR-9032-4098"),
            id(ShaNumber, "cr1234567890123-4"),
        ];
        let stored = validate(&good[..6]).expect("valid");
        assert_eq!(stored[2].value, "AK0123456");
        let sha = validate(&good[6..]).expect("valid");
        assert_eq!(sha[0].value, "CR1234567890123-4");
        let e = validate(&good).expect_err("seven is too many");
        assert_eq!(e.field(), Some("identifiers"));
        for (kind, value) in [
            (NationalId, "1234567"),
            (NationalId, "123456789"),
            (NationalId, "1234567A"),
            (BirthCertificate, "12-34"),
            (Passport, "ABCDEFG"),
            (Passport, "A1234567890"),
            (AlienId, "A12345"),
            (RefugeeId, "-KAK12"),
            (Nupi, "abc"),
            (ShaNumber, "CR123456789012-4"),
            (ShaNumber, "CR1234567890123"),
            (ShaNumber, "SH1234567890123-4"),
            (ShaNumber, "CR1234567890123-"),
        ] {
            let e = validate(&[id(NationalId, "12345678"), id(kind, value)]).expect_err(value);
            assert_eq!(e.field(), Some("identifiers[1].value"), "{value}");
        }
    }

    #[test]
    fn a_value_given_twice_is_refused() {
        let e = validate(&[
            id(IdentifierType::NationalId, "12345678"),
            id(IdentifierType::NationalId, "1234 5678"),
        ])
        .expect_err("duplicate");
        assert_eq!(e.field(), Some("identifiers[1]"));
    }
}
