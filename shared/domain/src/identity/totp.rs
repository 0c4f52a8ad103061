//! TOTP (RFC 6238) as every authenticator app speaks it: HMAC-SHA-1, 6 digits, 30 s steps.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("the code is not valid")]
    Invalid,
    #[error("the code was already used")]
    Replayed,
}

/// 160 random bits, RFC 4226's recommended secret length.
pub fn generate_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; 20]);
    rand::rng().fill_bytes(&mut secret);
    secret
}

pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI authenticator apps read from a QR code.
pub fn provisioning_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(account),
        secret_base32(secret)
    )
}

fn code_for_step(secret: &[u8], step: u64) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    format!("{:06}", code_for_step(secret, unix_seconds / STEP_SECONDS))
}

/// Accepts the current step's code or one step either side (clock drift); returns the step.
/// A code of `last_used_step` or earlier is a replay.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_seconds: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Invalid);
    }
    let now = unix_seconds / STEP_SECONDS;
    let mut matched = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!("{:06}", code_for_step(secret, step));
        // Check all three steps whatever matches, so timing tells nothing.
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    let step = matched.ok_or(TotpError::Invalid)?;
    match last_used_step {
        Some(last) if step <= last => Err(TotpError::Replayed),
        _ => Ok(step),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        // Appendix B, truncated to 6 digits.
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
            (20000000000, "353130"),
        ] {
            assert_eq!(code_at(RFC_SECRET, t), code, "t = {t}");
        }
    }

    #[test]
    fn drift_of_one_step_is_accepted_and_replays_are_not() {
        let t = 1_795_000_000;
        let previous = code_at(RFC_SECRET, t - 30);
        let step = verify(RFC_SECRET, &previous, t, None).expect("one step late");
        assert_eq!(step, (t - 30) / 30);
        assert_eq!(
            verify(RFC_SECRET, &previous, t, Some(step)),
            Err(TotpError::Replayed)
        );
        let current = code_at(RFC_SECRET, t);
        assert_eq!(verify(RFC_SECRET, &current, t, Some(step)), Ok(t / 30));
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, t - 90), t, None),
            Err(TotpError::Invalid)
        );
        assert_eq!(
            verify(RFC_SECRET, "12345", t, None),
            Err(TotpError::Invalid)
        );
        assert_eq!(
            verify(RFC_SECRET, "abcdef", t, None),
            Err(TotpError::Invalid)
        );
    }

    #[test]
    fn provisioning_uri_is_what_apps_expect() {
        let uri = provisioning_uri(RFC_SECRET, "Haven", "achieng@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Haven:achieng%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Haven&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(generate_secret().len(), 20);
    }
}
