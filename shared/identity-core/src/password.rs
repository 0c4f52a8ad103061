//! Passwords: argon2id at OWASP's parameters, and a strength check that says what is wrong.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use haven_kernel::DomainError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Result<Argon2<'static>, DomainError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| DomainError::Unavailable(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The roots of the most breached passwords, letters only: a password that is one of them
/// (or a leading fragment of one, or one with a letter or two more) once digits and symbols
/// are stripped and leetspeak undone is refused.
const BREACHED_ROOTS: &[&str] = &[
    "password",
    "mypassword",
    "qwerty",
    "qwertyuiop",
    "qazwsx",
    "qazwsxedc",
    "asdfgh",
    "zxcvbn",
    "letmein",
    "welcome",
    "iloveyou",
    "iloveu",
    "loveme",
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
    "hunter",
    "mustang",
    "flower",
    "access",
    "abc",
    "abcdef",
    "login",
    "changeme",
    "secret",
    "hello",
    "freedom",
    "whatever",
    "default",
    "test",
    "guest",
    "nairobi",
    "kenya",
    "hospital",
    "emergency",
];

/// The same for passwords without letters, compared with their digits.
const BREACHED_NUMBERS: &[&str] = &[
    "123456", "654321", "123123", "121212", "112233", "111111", "000000", "666666", "696969",
    "987654", "147258", "159753", "789456", "102030",
];

/// The shortest leading fragment of a root that counts as the root ("passw", "qwer").
const MIN_FRAGMENT: usize = 4;

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

/// Keyboard rows in order, so that a walk along a row, or on to the next one, is a sequence.
const KEYBOARD: &str = "1234567890qwertyuiopasdfghjklzxcvbnm";

/// Neighbours in a trivial pattern: the same character, next in the alphabet or digits, or
/// next on the keyboard (either direction).
fn adjacent(a: char, b: char) -> bool {
    let position = |c: char| KEYBOARD.find(c).map(|i| i as i64);
    a == b
        || (a as i64 - b as i64).abs() == 1
        || matches!((position(a), position(b)), (Some(x), Some(y)) if (x - y).abs() == 1)
}

fn is_simple_pattern(password: &str) -> bool {
    let chars: Vec<char> = password.to_lowercase().chars().collect();
    let n = chars.len();
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    // Mostly one character, or only a handful of distinct ones.
    if most * 2 > n || counts.len() <= 3 {
        return true;
    }
    // A unit typed twice or more: "abcabcabcabc", "2024!2024!2024!".
    if (1..=n / 2).any(|p| (p..n).all(|i| chars[i] == chars[i - p])) {
        return true;
    }
    // A run along the alphabet, the digits or the keyboard: "abcdefghijkl", "qwertyuiopas".
    let runs = chars.windows(2).filter(|w| adjacent(w[0], w[1])).count();
    runs * 5 >= (n - 1) * 4
}

fn is_breached_root(candidate: &str) -> bool {
    !candidate.is_empty()
        && BREACHED_ROOTS.iter().any(|root| {
            candidate == *root
                || (candidate.len() >= MIN_FRAGMENT && root.starts_with(candidate))
                || (candidate.starts_with(root) && candidate.len() <= root.len() + 2)
        })
}

fn is_breached(lower: &str) -> bool {
    let letters = |text: &str, leet: bool| -> String {
        text.chars()
            .map(|c| if leet { unleet(c) } else { c })
            .filter(char::is_ascii_alphabetic)
            .collect()
    };
    // Digits and symbols around the word ("2024", "!") are usually decoration and inside it
    // leetspeak ("p@ssw0rd"), but a leading "1" or a trailing "!" may be an "i": try each.
    let decoration = |c: char| !c.is_alphabetic();
    let trimmed = [
        lower,
        lower.trim_start_matches(decoration),
        lower.trim_end_matches(decoration),
        lower.trim_matches(decoration),
    ];
    if is_breached_root(&letters(lower, false))
        || trimmed
            .iter()
            .any(|text| is_breached_root(&letters(text, true)))
    {
        return true;
    }
    if !lower.chars().any(char::is_alphabetic) {
        let digits: String = lower.chars().filter(char::is_ascii_digit).collect();
        return BREACHED_NUMBERS.iter().any(|n| {
            (digits.starts_with(n) && digits.len() <= n.len() + 4)
                || (digits.len() >= MIN_FRAGMENT && n.starts_with(&digits))
        });
    }
    false
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
        return weak(
            "this password is a repeated character, a repeated pattern or a simple sequence",
        );
    }
    let lower = password.to_lowercase();
    // Also as un-leeted, so "4ch1eng" still counts as "achieng".
    let unleeted: String = lower.chars().map(unleet).collect();
    let contains = |part: &str| lower.contains(part) || unleeted.contains(part);
    let local = email
        .rsplit_once('@')
        .map_or(email, |(local, _)| local)
        .to_lowercase();
    // Shorter local parts ("jo") occur by chance in good passwords.
    if local.chars().count() >= 3 && contains(&local) {
        return weak("the password must not contain your email address");
    }
    let name_parts = full_name
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|p| p.chars().count() >= 3);
    for part in name_parts {
        if contains(&part) {
            return weak("the password must not contain your name");
        }
    }
    if is_breached(&lower) {
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
/// tell whether an email is registered. The first call in a process also builds the dummy
/// hash; call it once at start-up to keep that out of a request.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    match DUMMY.get_or_init(|| hash("an unguessable dummy password 0x5eed").ok()) {
        Some(phc) => {
            let _ = verify(password, phc);
        }
        // Hashing costs what verifying does: spend it anyway.
        None => {
            let _ = hash(password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), DomainError>) -> Option<String> {
        r.err().and_then(|e| e.field().map(str::to_owned))
    }

    const EMAIL: &str = "a@example.org";
    const NAME: &str = "Achieng Otieno";

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "short",
            "aaaaaaaaaaaa",
            "123456789012",
            "abcdefghijkl",
            "qwertyuiopas",
            "asdfghjklzxc",
            "zyxwvutsrqpo",
            "aaaaaaaaa1!X",
            "2024!2024!2024!",
            "Password123!",
            "P@ssw0rd2024",
            "Passw!8#29@5",
            "Letmein!!2024",
            "1L0veY0u!!2024",
            "Adm1n1strat0r",
            "Haven2024!!!",
            "123456!@#$%^",
        ] {
            assert_eq!(
                field(check_strength(weak, EMAIL, NAME)),
                Some("password".into()),
                "{weak}"
            );
        }
        for (pw, email, name) in [
            ("achieng-rocks-2024-xyz", "x@example.org", NAME),
            ("4ch1eng rocks the ward", "x@example.org", NAME),
            (
                "my jane-doe wins again",
                "x@example.org",
                "Mary-Jane Wanjiku",
            ),
            ("my wanjiru mail box", "wanjiru@example.org", "W K"),
        ] {
            let refused = check_strength(pw, email, name).expect_err(pw);
            assert_eq!(refused.field(), Some("password"), "{pw}");
        }
        assert!(
            check_strength(&"x7Kq".repeat(40), EMAIL, NAME).is_err(),
            "too long"
        );
        let message = check_strength("Password123!", EMAIL, NAME)
            .expect_err("breached")
            .to_string();
        assert!(message.contains("breached"), "{message}");
    }

    #[test]
    fn passphrases_and_random_passwords_pass() {
        for ok in [
            "correct horse battery staple",
            "amber falcon river quartz 42",
            "Tf8#kLp2!vQz9@Wm",
            // Twelve random digits: no letters to check, but nothing common either.
            "839204716358",
        ] {
            check_strength(ok, EMAIL, NAME).unwrap_or_else(|e| panic!("{ok}: {e}"));
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
