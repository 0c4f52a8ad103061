//! Secrets people type or devices keep: one-time codes, opaque tokens, and the hashes that
//! are stored in their place.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A 6-digit code, uniform over 000000–999999 (range sampling, no modulo bias).
pub fn one_time_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// 256 random bits as base64url: refresh tokens, device emergency credentials.
pub fn opaque_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 as lowercase hex: stored instead of a secret, and the key of lookups by email or
/// phone so table keys hold no personal data. (Tokens and credentials are 256-bit random, so
/// an unsalted hash is enough for them.)
pub fn lookup_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| one_time_code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 190);
    }

    #[test]
    fn tokens_are_256_bits_and_hash_stably() {
        let t = opaque_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).expect("b64").len(), 32);
        assert_ne!(t, opaque_token());
        assert_eq!(
            lookup_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            constant_time_eq("abc", "abc")
                && !constant_time_eq("abc", "abd")
                && !constant_time_eq("abc", "ab")
        );
    }
}
