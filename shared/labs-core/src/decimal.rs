//! Decimal numbers as laboratories write them (`5`, `-0.25`, `+12.`, `.5`): kept exactly as
//! an integer and a scale, compared without floating point, so a result of 2.80 is exactly at a
//! limit of 2.8 and never a rounding error either side of it.

use std::cmp::Ordering;

/// A decimal: `units × 10^-scale`.
/// Equal when the numbers are (`2.80` is `2.8`).
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    units: i128,
    scale: u32,
}

/// More digits than any instrument reports; keeps every comparison inside i128.
const MAX_DIGITS: usize = 30;

impl Decimal {
    /// HL7's NM: an optional sign, digits, an optional point and digits; at least one digit.
    pub fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, body) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let digits = whole.len() + fraction.len();
        if digits == 0
            || digits > MAX_DIGITS
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            units = units * 10 + i128::from(b - b'0');
        }
        Some(Decimal {
            units: if negative { -units } else { units },
            scale: fraction.len() as u32,
        })
    }

    fn at_scale(self, scale: u32) -> i128 {
        self.units * 10i128.pow(scale - self.scale)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.at_scale(scale).cmp(&other.at_scale(scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).expect(text)
    }

    #[test]
    fn decimals_parse_as_labs_write_them_and_compare_exactly() {
        assert_eq!(d("2.80"), d("2.8"));
        assert!(d("2.79") < d("2.8"));
        assert!(d("-0.5") < d("0"));
        assert!(d(".5") > d("0.49999"));
        assert_eq!(d("+12."), d("12"));
        assert_eq!(d("-0"), d("0"));
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e3",
            "12a",
            " - 1",
            "1,5",
            &"9".repeat(31),
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }
}
