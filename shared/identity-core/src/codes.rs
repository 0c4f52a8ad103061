//! Secrets people type or devices keep: one-time codes, opaque tokens, and the hashes that
//! are stored in their place.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::OsRng;
use rand::{RngCore, TryRngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many distinct one-time codes there are: 000000 to 999999.
const CODES: u32 = 1_000_000;
/// The largest multiple of `CODES` a u32 holds; draws at or above it are drawn again, so
/// every code is exactly as likely as every other (no modulo bias).
const UNBIASED_LIMIT: u32 = (u32::MAX / CODES) * CODES;

fn code_from(mut draw: impl FnMut() -> u32) -> String {
    loop {
        let x = draw();
        if x < UNBIASED_LIMIT {
            return format!("{:06}", x % CODES);
        }
    }
}

/// A 6-digit code from the OS RNG, uniform over 000000–999999. Panics only if the OS has no
/// randomness to give, when no secret may be issued at all.
pub fn one_time_code() -> String {
    let mut rng = OsRng.unwrap_err();
    code_from(|| rng.next_u32())
}

/// 256 random bits from the OS as base64url without padding: refresh tokens, device
/// emergency credentials.
pub fn opaque_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.unwrap_err().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 as lowercase hex: stored instead of a secret, and the key of lookups by email or
/// phone so table keys hold no personal data. (Tokens and credentials are 256-bit random, so
/// an unsalted hash is enough for them.)
pub fn lookup_hash(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two strings; only their lengths can show through timing
/// (the hashes compared here all have the same length).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
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
    fn draws_past_the_last_whole_million_are_drawn_again() {
        assert_eq!(UNBIASED_LIMIT, 4_294_000_000);
        let mut draws = [u32::MAX, UNBIASED_LIMIT, UNBIASED_LIMIT - 1].into_iter();
        assert_eq!(code_from(|| draws.next().unwrap_or(0)), "999999");
        let mut draws = [7u32].into_iter();
        assert_eq!(code_from(|| draws.next().unwrap_or(0)), "000007");
    }

    #[test]
    fn codes_are_roughly_uniform() {
        // Each leading digit should get about a tenth of 20 000 draws (6σ ≈ 250).
        let mut firsts = [0u32; 10];
        for _ in 0..20_000 {
            let code = one_time_code();
            firsts[usize::from(code.as_bytes()[0] - b'0')] += 1;
        }
        assert!(
            firsts.iter().all(|n| (1750..=2250).contains(n)),
            "{firsts:?}"
        );
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
                && !constant_time_eq("", "a")
                && constant_time_eq("", "")
        );
    }
}
