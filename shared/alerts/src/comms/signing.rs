//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, the signature is HMAC-SHA256 under the
//! secret's bytes, sent as `v1,<base64>`. During a rotation both secrets sign, space-separated,
//! so a receiver holding either one accepts the delivery.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const SECRET_PREFIX: &str = "whsec_";
/// Receivers should refuse deliveries whose timestamp is further than this from their clock.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
const SECRET_BYTES: usize = 32;

/// A webhook signing secret: its bytes, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Secret(Zeroizing::new(bytes))
    }

    /// Reads `whsec_<base64>` (the prefix is optional, as receivers' libraries allow).
    pub fn parse(text: &str) -> Option<Self> {
        let b64 = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = STANDARD.decode(b64).ok()?;
        (bytes.len() >= 24 && bytes.len() <= 64).then(|| Secret(Zeroizing::new(bytes)))
    }

    /// `whsec_<base64>`, as shown once to the hospital's admin.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0[..]))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    /// `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &str) -> Vec<u8> {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts every key length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The `webhook-signature` header: one signature per secret, current first.
pub fn signature_header(secrets: &[&Secret], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is more than five minutes away")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// What a receiver does (and what our tests do): check the time, then any `v1` signature.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &str,
    header: &str,
    now_seconds: i64,
) -> Result<(), VerifyError> {
    if (now_seconds - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::Stale);
    }
    let expected = secret.mac(id, timestamp, body);
    let matches = header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|sig| bool::from(sig.ct_eq(&expected)));
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn signs_like_the_reference_implementation() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn both_secrets_sign_during_a_rotation_and_either_verifies() {
        let old = Secret::generate();
        let new = Secret::generate();
        let header = signature_header(&[&new, &old], "msg_1", 1_000, "{}");
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(verify(&old, "msg_1", 1_000, "{}", &header, 1_010), Ok(()));
        assert_eq!(verify(&new, "msg_1", 1_000, "{}", &header, 1_010), Ok(()));
        let stranger = Secret::generate();
        assert_eq!(
            verify(&stranger, "msg_1", 1_000, "{}", &header, 1_010),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(
                &new,
                "msg_1",
                1_000,
                "{}",
                &header,
                1_000 + TOLERANCE_SECONDS + 1
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(&new, "msg_1", 1_000, "{ }", &header, 1_010),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn secrets_round_trip_and_short_ones_are_refused() {
        let s = Secret::generate();
        let shown = s.reveal();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(Secret::parse(&shown), Some(s));
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), None);
        assert_eq!(format!("{:?}", Secret::generate()), "Secret(..)");
    }
}
