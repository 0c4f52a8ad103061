//! Medical record numbers: a hospital's prefix, its sequence number and a check character,
//! `KNH-000123-M`. The check is OpenMRS idgen's Luhn mod 30 over the sequence digits, with
//! the alphabet `0123456789ACDEFGHJKLMNPRTUVWXY` (no B, I, O, Q, S or Z, which are misread
//! as digits). It catches every single-character typo and every swap of neighbours.

use std::fmt;

/// The 30 characters of the check, in code-point order.
pub const ALPHABET: &[u8; 30] = b"0123456789ACDEFGHJKLMNPRTUVWXY";

/// Digits of the sequence number, zero-padded; more once a hospital passes 999,999.
const WIDTH: usize = 6;
/// At most this many letters in a prefix.
pub const PREFIX_MAX: usize = 5;

fn code_point(c: u8) -> Option<usize> {
    ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())
}

/// The Luhn mod 30 check character of `input` (characters of [`ALPHABET`]).
pub fn check_character(input: &str) -> Option<char> {
    let n = ALPHABET.len();
    let mut factor = 2;
    let mut sum = 0;
    for c in input.bytes().rev() {
        let addend = factor * code_point(c)?;
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / n + addend % n;
    }
    Some(ALPHABET[(n - sum % n) % n] as char)
}

/// A medical record number as issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mrn {
    prefix: String,
    number: u64,
}

/// Why a text is not an MRN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MrnError {
    #[error(
        "an MRN looks like KNH-000123-M: the hospital's letters, the number, a check character"
    )]
    Shape,
    /// The right shape with the wrong check: a typo.
    #[error("the check character does not match the number; check the MRN for a typo")]
    Check,
}

impl Mrn {
    /// The MRN of sequence number `number` at the hospital with `prefix`.
    pub fn new(prefix: &str, number: u64) -> Self {
        Mrn {
            prefix: prefix.to_ascii_uppercase(),
            number,
        }
    }

    pub fn number(&self) -> u64 {
        self.number
    }

    fn digits(&self) -> String {
        format!("{:0WIDTH$}", self.number)
    }

    /// Reads an MRN typed in any case, with its check verified.
    pub fn parse(text: &str) -> Result<Self, MrnError> {
        let text = text.trim();
        let mut parts = text.split('-');
        let (Some(prefix), Some(digits), Some(check), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MrnError::Shape);
        };
        if prefix.is_empty()
            || prefix.len() > PREFIX_MAX
            || !prefix.bytes().all(|b| b.is_ascii_alphabetic())
            || digits.len() < WIDTH
            || digits.len() > 12
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || check.len() != 1
        {
            return Err(MrnError::Shape);
        }
        let number: u64 = digits.parse().map_err(|_| MrnError::Shape)?;
        let mrn = Mrn::new(prefix, number);
        // A padded form other than ours (`KNH-0000123-…`) is not one we issued.
        if mrn.digits() != digits {
            return Err(MrnError::Shape);
        }
        let given = check.as_bytes()[0].to_ascii_uppercase() as char;
        if code_point(given as u8).is_none() || check_character(&mrn.digits()) != Some(given) {
            return Err(MrnError::Check);
        }
        Ok(mrn)
    }

    /// Whether a text has an MRN's shape, whatever its check: a search tells a typo from a
    /// name by this.
    pub fn looks_like(text: &str) -> bool {
        !matches!(Mrn::parse(text), Err(MrnError::Shape))
    }
}

impl fmt::Display for Mrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        let check = check_character(&digits).unwrap_or('0');
        write!(f, "{}-{digits}-{check}", self.prefix)
    }
}

/// A hospital's MRN prefix from its name: the initials of its words, skipping small words
/// (`Kenyatta National Hospital` → `KNH`, `The Nairobi Hospital` → `NH`). A name with no
/// letters gives `H`.
pub fn prefix_from_name(name: &str) -> String {
    const SMALL: [&str; 6] = ["of", "the", "and", "de", "la", "&"];
    let initials: String = name
        .split(|c: char| c.is_whitespace() || c == '-' || c == '/' || c == '(' || c == ')')
        .filter(|w| !w.is_empty() && !SMALL.contains(&w.to_lowercase().as_str()))
        .filter_map(|w| w.chars().find(|c| c.is_ascii_alphabetic()))
        .map(|c| c.to_ascii_uppercase())
        .take(PREFIX_MAX)
        .collect();
    if initials.is_empty() {
        "H".into()
    } else {
        initials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_matches_openmrs_idgen_luhn_mod_30() {
        // Worked by hand from idgen's LuhnModNIdentifierValidator: for "000123", the factors
        // from the right are 2,1,2,1,2,1: 3·2=6, 2, 1·2=2, 0, 0, 0 → 10; (30 − 10) mod 30 = 20 → "M".
        assert_eq!(check_character("000123"), Some('M'));
        assert_eq!(check_character("0"), Some('0'));
        // 29·2 = 58 → 58/30 + 58%30 = 1 + 28 = 29 → (30 − 29) = 1.
        assert_eq!(check_character("Y"), Some('1'));
        assert_eq!(check_character("B"), None);
        assert_eq!(Mrn::new("knh", 123).to_string(), "KNH-000123-M");
    }

    #[test]
    fn every_single_typo_and_neighbour_swap_is_caught() {
        for number in [1u64, 123, 98_765, 400_001, 999_999] {
            let mrn = Mrn::new("KNH", number);
            let text = mrn.to_string();
            assert_eq!(Mrn::parse(&text), Ok(mrn.clone()));
            assert_eq!(Mrn::parse(&text.to_lowercase()), Ok(mrn.clone()));
            let digits = &text[4..10];
            for i in 0..digits.len() {
                for d in b'0'..=b'9' {
                    if digits.as_bytes()[i] == d {
                        continue;
                    }
                    let mut typo = digits.as_bytes().to_vec();
                    typo[i] = d;
                    let typed = format!("KNH-{}-{}", String::from_utf8_lossy(&typo), &text[11..]);
                    assert_eq!(Mrn::parse(&typed), Err(MrnError::Check), "{typed}");
                }
                if i + 1 < digits.len() && digits.as_bytes()[i] != digits.as_bytes()[i + 1] {
                    let mut swapped = digits.as_bytes().to_vec();
                    swapped.swap(i, i + 1);
                    let typed =
                        format!("KNH-{}-{}", String::from_utf8_lossy(&swapped), &text[11..]);
                    assert_eq!(Mrn::parse(&typed), Err(MrnError::Check), "{typed}");
                }
            }
        }
    }

    #[test]
    fn shapes_that_are_not_mrns() {
        for text in [
            "",
            "KNH",
            "KNH-123-L",
            "KNH-000123",
            "KNH-000123-LL",
            "K1H-000123-L",
            "TOOLONG-000123-L",
            "KNH-0000123-L",
            "KNH-00012a-L",
            "mary wanjiku",
        ] {
            assert_eq!(Mrn::parse(text), Err(MrnError::Shape), "{text}");
            assert!(!Mrn::looks_like(text));
        }
        assert_eq!(Mrn::parse("KNH-000123-B"), Err(MrnError::Check));
        assert!(Mrn::looks_like("KNH-000123-M"));
        assert_eq!(
            Mrn::new("KNH", 1_234_567).to_string(),
            format!("KNH-1234567-{}", check_character("1234567").unwrap_or('?'))
        );
        assert!(Mrn::parse(&Mrn::new("KNH", 1_234_567).to_string()).is_ok());
    }

    #[test]
    fn prefixes_are_the_initials_of_the_name() {
        assert_eq!(prefix_from_name("Kenyatta National Hospital"), "KNH");
        assert_eq!(prefix_from_name("The Nairobi Hospital"), "NH");
        assert_eq!(
            prefix_from_name("Moi Teaching and Referral Hospital"),
            "MTRH"
        );
        assert_eq!(
            prefix_from_name("Aga Khan University Hospital (Nairobi)"),
            "AKUHN"
        );
        assert_eq!(prefix_from_name("  "), "H");
        assert_eq!(prefix_from_name("123"), "H");
    }
}
