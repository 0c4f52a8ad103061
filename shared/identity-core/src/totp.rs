//! TOTP (RFC 6238) as every authenticator app speaks it: HMAC-SHA-1, 6 digits, 30 s steps.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{RngCore, TryRngCore};
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

/// 160 random bits from the OS, RFC 4226's recommended secret length. Panics only if the OS
/// has no randomness to give, when no secret may be issued at all.
pub fn generate_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; 20]);
    OsRng.unwrap_err().fill_bytes(&mut secret);
    secret
}

/// RFC 4648 base32 without padding, as authenticator apps take it.
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

/// RFC 4226's dynamically truncated 31-bit value of HMAC-SHA-1(secret, step).
fn truncated(secret: &[u8], step: u64) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ])
}

fn code_for_step(secret: &[u8], step: u64) -> u32 {
    truncated(secret, step) % 10u32.pow(DIGITS)
}

fn format_code(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS as usize)
}

/// The code for the step containing `unix_seconds`, zero-padded.
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    format_code(code_for_step(secret, unix_seconds / STEP_SECONDS))
}

/// Accepts the current step's code or one step either side (clock drift); returns the step.
/// A code of `last_used_step` or earlier is a replay: each code is accepted once.
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
    let mut fresh = None;
    let mut replayed = false;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format_code(code_for_step(secret, step));
        // All three steps are computed and compared whatever matches, so timing tells
        // nothing about which step (if any) did.
        let matches = bool::from(expected.as_bytes().ct_eq(code.as_bytes()));
        let used = last_used_step.is_some_and(|last| step <= last);
        if matches && used {
            replayed = true;
        } else if matches && fresh.is_none() {
            fresh = Some(step);
        }
    }
    match fresh {
        Some(step) => Ok(step),
        None if replayed => Err(TotpError::Replayed),
        None => Err(TotpError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        // Appendix B's 8-digit values, then the same truncated to our 6 digits.
        for (t, eight, six) in [
            (59, 94287082, "287082"),
            (1111111109, 7081804, "081804"),
            (1111111111, 14050471, "050471"),
            (1234567890, 89005924, "005924"),
            (2000000000, 69279037, "279037"),
            (20000000000, 65353130, "353130"),
        ] {
            assert_eq!(truncated(RFC_SECRET, t / STEP_SECONDS) % 100_000_000, eight);
            assert_eq!(code_at(RFC_SECRET, t), six, "t = {t}");
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
        assert_eq!(
            verify(RFC_SECRET, "1234567", t, None),
            Err(TotpError::Invalid)
        );
        assert_eq!(
            verify(RFC_SECRET, "+12345", t, None),
            Err(TotpError::Invalid)
        );
    }

    #[test]
    fn a_used_step_refuses_every_earlier_code_and_accepts_later_ones() {
        let t = 1_795_000_000;
        let now = t / STEP_SECONDS;
        let next = code_at(RFC_SECRET, t + 30);
        // The next step's code, used early, is accepted (drift) and then blocks the current one.
        assert_eq!(verify(RFC_SECRET, &next, t, None), Ok(now + 1));
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, t), t, Some(now + 1)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            verify(RFC_SECRET, &next, t + 30, Some(now + 1)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            verify(
                RFC_SECRET,
                &code_at(RFC_SECRET, t + 60),
                t + 30,
                Some(now + 1)
            ),
            Ok(now + 2)
        );
        // Surrounding whitespace, as pasted from an app, is forgiven.
        assert_eq!(
            verify(
                RFC_SECRET,
                &format!(" {} ", code_at(RFC_SECRET, t)),
                t,
                None
            ),
            Ok(now)
        );
    }

    #[test]
    fn the_first_step_has_no_earlier_neighbour() {
        assert_eq!(verify(RFC_SECRET, &code_at(RFC_SECRET, 0), 5, None), Ok(0));
        assert_eq!(verify(RFC_SECRET, &code_at(RFC_SECRET, 30), 5, None), Ok(1));
    }

    #[test]
    fn provisioning_uri_is_what_apps_expect() {
        let uri = provisioning_uri(RFC_SECRET, "Haven", "achieng@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Haven:achieng%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Haven&algorithm=SHA1&digits=6&period=30"
        );
        let secret = generate_secret();
        assert_eq!(secret.len(), 20);
        assert_ne!(*secret, *generate_secret());
        assert_eq!(
            data_encoding::BASE32_NOPAD
                .decode(secret_base32(&secret).as_bytes())
                .expect("base32"),
            *secret
        );
        let spaced = provisioning_uri(RFC_SECRET, "Haven Health", "Achieng Otieno+1");
        assert!(
            spaced.starts_with("otpauth://totp/Haven%20Health:Achieng%20Otieno%2B1?"),
            "{spaced}"
        );
        assert!(spaced.contains("&issuer=Haven%20Health&"), "{spaced}");
    }
}
