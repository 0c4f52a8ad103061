//! Passwords: argon2id at OWASP's parameters, and a strength check that says what is wrong.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::DomainError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Result<Argon2<'static>, DomainError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| DomainError::Unavailable(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The roots of the most breached passwords; a password that is one of them plus digits and
/// symbols is refused.
const BREACHED_ROOTS: &[&str] = &[
    "password",
    "passw0rd",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "iloveyou",
    "admin",
    "administrator",
    "haven",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "starwars",
    "trustno",
    "master",
    "shadow",
    "superman",
    "batman",
    "abc",
    "abcdef",
    "login",
    "changeme",
    "secret",
    "hello",
    "freedom",
    "whatever",
    "nairobi",
    "kenya",
    "hospital",
    "emergency",
    "asdfgh",
    "zxcvbn",
    "iloveu",
    "mypassword",
    "default",
];

fn unleet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        other => other,
    }
}

fn is_simple_pattern(p: &str) -> bool {
    let chars: Vec<char> = p.chars().collect();
    let distinct: std::collections::HashSet<char> = chars.iter().copied().collect();
    if distinct.len() <= 3 {
        return true;
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| w[1] as i64 - w[0] as i64)
        .collect();
    let sequential = steps.iter().filter(|s| s.abs() == 1).count();
    if sequential * 10 >= steps.len() * 8 {
        return true;
    }
    const ROWS: &[&str] = &["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"];
    let lower = p.to_lowercase();
    ROWS.iter().any(|row| {
        let doubled = row.repeat(3);
        lower.len() >= MIN_LENGTH && doubled.contains(lower.as_str())
    })
}

/// Refuses weak passwords with a message saying why, on the `password` field.
pub fn check_strength(password: &str, email: &str, full_name: &str) -> Result<(), DomainError> {
    let weak = |why: &str| Err(DomainError::invalid("password", why));
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return weak(&format!(
            "use at least {MIN_LENGTH} characters; a few unrelated words make a strong, memorable password"
        ));
    }
    if length > MAX_LENGTH {
        return weak(&format!("use at most {MAX_LENGTH} characters"));
    }
    if is_simple_pattern(password) {
        return weak("this password is a repeated character or a simple sequence");
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.len() >= 3 && lower.contains(&local) {
        return weak("the password must not contain your email address");
    }
    let name_parts = full_name
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|p| p.chars().count() >= 3);
    for part in name_parts {
        if lower.contains(&part) {
            return weak("the password must not contain your name");
        }
    }
    // Breached passwords are usually a common word, leet-spelled, with digits and symbols
    // around it: compare the word with those stripped, both as written and un-leeted.
    let core = lower.trim_matches(|c: char| !c.is_alphabetic() && !"@$!|".contains(c));
    let letters: String = lower.chars().filter(char::is_ascii_alphabetic).collect();
    let unleeted: String = core
        .chars()
        .map(unleet)
        .filter(char::is_ascii_alphabetic)
        .collect();
    let breached = |root: &str| {
        root.is_empty()
            || BREACHED_ROOTS
                .iter()
                .any(|b| root == *b || (root.len() <= b.len() + 2 && root.starts_with(b)))
    };
    if breached(&letters) || breached(&unleeted) {
        return weak(
            "this password is among the most commonly breached; choose something less guessable",
        );
    }
    Ok(())
}

/// The PHC string of an argon2id hash with a random salt.
pub fn hash(password: &str) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Unavailable(format!("password hashing failed: {e}")))
}

/// Constant-time check of a password against a PHC string (its own parameters apply).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The same work as a real verification, for accounts that do not exist, so timing does not
/// tell whether an email is registered.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc =
        DUMMY.get_or_init(|| hash("an unguessable dummy password 0x5eed").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), DomainError>) -> Option<String> {
        r.err().and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "short",
            "aaaaaaaaaaaa",
            "123456789012",
            "abcdefghijkl",
            "qwertyuiopas",
            "Password123!",
            "P@ssw0rd2024",
            "Letmein!!2024",
        ] {
            assert_eq!(
                field(check_strength(weak, "a@example.org", "Achieng Otieno")),
                Some("password".into()),
                "{weak}"
            );
        }
        assert!(
            check_strength("achieng-rocks-2024-xyz", "x@example.org", "Achieng Otieno").is_err(),
            "contains the name"
        );
        assert!(
            check_strength("my wanjiru mail box", "wanjiru@example.org", "W K").is_err(),
            "contains the email"
        );
        assert!(
            check_strength(&"x7Kq".repeat(40), "a@example.org", "A B").is_err(),
            "too long"
        );
    }

    #[test]
    fn passphrases_pass() {
        for ok in [
            "correct horse battery staple",
            "amber falcon river quartz 42",
            "Tf8#kLp2!vQz9@Wm",
        ] {
            check_strength(ok, "a@example.org", "Achieng Otieno")
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let phc = hash("correct horse battery staple").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery staple", &phc));
        assert!(!verify("correct horse battery stapler", &phc));
        assert!(!verify("x", "not a phc string"));
        assert_ne!(
            phc,
            hash("correct horse battery staple").expect("hash"),
            "salted"
        );
        verify_dummy("anything");
    }
}
