//! Phone numbers as people in Kenya type them, read into E.164: `0712 345 678`, `712345678`,
//! `254712345678` and `+254 712-345-678` are all `+254712345678`. Numbers of other countries
//! must carry their `+`.

/// The number in E.164 form, or `None` when it is not a phone number Haven can text.
pub fn normalise(typed: &str) -> Option<String> {
    let trimmed = typed.trim();
    let plus = trimmed.starts_with('+');
    let mut digits = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let national = if plus {
        if let Some(rest) = digits.strip_prefix("254") {
            rest
        } else {
            // Another country's number: E.164 allows 8 to 15 digits, none leading zero.
            return ((8..=15).contains(&digits.len()) && !digits.starts_with('0'))
                .then(|| format!("+{digits}"));
        }
    } else if digits.len() == 12 && digits.starts_with("254") {
        &digits[3..]
    } else if digits.len() == 10 && digits.starts_with('0') {
        &digits[1..]
    } else {
        &digits[..]
    };
    // Kenyan mobile (7…, 1…) and landline numbers are nine digits after the country code.
    (national.len() == 9 && !national.starts_with('0')).then(|| format!("+254{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kenyan_numbers_in_every_form_people_type() {
        for typed in [
            "0712345678",
            "0712 345 678",
            "712345678",
            "254712345678",
            "+254712345678",
            "+254 712-345-678",
            " (0712) 345.678 ",
        ] {
            assert_eq!(
                normalise(typed).as_deref(),
                Some("+254712345678"),
                "{typed}"
            );
        }
        assert_eq!(normalise("0110123456").as_deref(), Some("+254110123456"));
        assert_eq!(normalise("+447911123456").as_deref(), Some("+447911123456"));
    }

    #[test]
    fn what_is_not_a_number() {
        for typed in [
            "",
            "07123",
            "07123456789",
            "0012345678",
            "+0712345678",
            "0712-34S-678",
            "+254 0712 345 678",
            "12345678",
            "+1234567",
            "0712345678 ext 4",
        ] {
            assert_eq!(normalise(typed), None, "{typed}");
        }
    }
}
