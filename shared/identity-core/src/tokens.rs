//! JWTs, with RFC 8725's hygiene: one algorithm (EdDSA, Ed25519) pinned on verification, a
//! `kid` that must name a known key, and the token kind checked in both the header (`typ`)
//! and the claims, so an MFA or bypass token never passes as an access token.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use haven_kernel::Role;

pub const ISSUER: &str = "haven";
pub const AUDIENCE: &str = "haven-api";
/// Clock skew tolerated between the machines that sign and verify.
pub const LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Mfa,
    Bypass,
}

impl TokenKind {
    pub fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::Mfa => "mfa+jwt",
            TokenKind::Bypass => "bypass+jwt",
        }
    }
    pub fn lifetime(self) -> Duration {
        match self {
            TokenKind::Access => Duration::from_secs(15 * 60),
            TokenKind::Mfa => Duration::from_secs(5 * 60),
            TokenKind::Bypass => Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub kind: TokenKind,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
    /// The session (refresh-token family) of an access token; logout revokes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    /// For bypass tokens: the one alert they may act on, once bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("wrong token kind")]
    WrongKind,
    #[error("wrong issuer or audience")]
    WrongAudience,
    #[error("token issued in the future")]
    NotYetValid,
    #[error("key error: {0}")]
    Key(String),
}

/// The public half of a signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKey {
    pub kid: String,
    pub x: [u8; 32],
}

impl VerifyingKey {
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.x),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

pub fn jwks(keys: &[VerifyingKey]) -> serde_json::Value {
    serde_json::json!({ "keys": keys.iter().map(VerifyingKey::jwk).collect::<Vec<_>>() })
}

/// An Ed25519 signing key. The PKCS#8 document is secret: callers store it sealed.
pub struct SigningKey {
    pub kid: String,
    pkcs8: Zeroizing<Vec<u8>>,
    public: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("pkcs8", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    pub fn generate(kid: &str) -> Result<Self, TokenError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let document = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Self::from_pkcs8(kid, document.as_ref())
    }

    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> Result<Self, TokenError> {
        use aws_lc_rs::signature::KeyPair;
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8)
            .or_else(|_| aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8))
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| TokenError::Key("public key length".into()))?;
        Ok(SigningKey {
            kid: kid.to_owned(),
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            public,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> VerifyingKey {
        VerifyingKey {
            kid: self.kid.clone(),
            x: self.public,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(claims.kind.typ().to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(|e| TokenError::Key(e.to_string()))
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Verifies a compact JWT against `keys` for the `expected` kind at `now` (epoch seconds from
/// the caller's clock; the library's own clock is not used).
pub fn verify(
    token: &str,
    keys: &[VerifyingKey],
    expected: TokenKind,
    now: i64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: RawHeader = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    // Pin the algorithm: the header never chooses how a token is checked.
    if header.alg != "EdDSA" {
        return Err(TokenError::BadSignature);
    }
    if header.typ.as_deref() != Some(expected.typ()) {
        return Err(TokenError::WrongKind);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(TokenError::UnknownKey)?;
    let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(key.x))
        .map_err(|e| TokenError::Key(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &decoding, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => TokenError::WrongAudience,
                _ => TokenError::Malformed,
            }
        })?
        .claims;
    if claims.kind != expected {
        return Err(TokenError::WrongKind);
    }
    in_date(&claims, now)?;
    Ok(claims)
}

/// Whether verified claims hold at `now`, with the clock leeway either way.
pub fn in_date(claims: &Claims, now: i64) -> Result<(), TokenError> {
    // Saturating: the claims are signed by us, but a bug must not become an overflow panic.
    if now >= claims.exp.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::Expired);
    }
    if claims.iat > now.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn claims(kind: TokenKind) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "user-1".into(),
            exp: NOW + kind.lifetime().as_secs() as i64,
            iat: NOW,
            jti: "jti-1".into(),
            kind,
            role: Role::Patient,
            hospital_id: None,
            fam: Some("fam-1".into()),
            alert_id: None,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
    }

    fn key() -> SigningKey {
        SigningKey::generate("k1").expect("key")
    }

    #[test]
    fn round_trip() {
        let k = key();
        let token = k.sign(&claims(TokenKind::Access)).expect("sign");
        assert_eq!(
            verify(&token, &[k.public_key()], TokenKind::Access, NOW + 10),
            Ok(claims(TokenKind::Access))
        );
        let again = SigningKey::from_pkcs8("k1", k.pkcs8()).expect("reload");
        assert_eq!(again.public_key(), k.public_key());
    }

    #[test]
    fn kinds_never_stand_in_for_each_other() {
        let k = key();
        let mfa = k.sign(&claims(TokenKind::Mfa)).expect("sign");
        assert_eq!(
            verify(&mfa, &[k.public_key()], TokenKind::Access, NOW),
            Err(TokenError::WrongKind)
        );
        // An access header over a body claiming another kind: the signature is fine, the kind is not.
        let c = claims(TokenKind::Bypass);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = Some("at+jwt".into());
        let mixed = jsonwebtoken::encode(&header, &c, &EncodingKey::from_ed_der(k.pkcs8()))
            .expect("encode");
        assert_eq!(
            verify(&mixed, &[k.public_key()], TokenKind::Access, NOW),
            Err(TokenError::WrongKind)
        );
        // And the other way round: an access body under an MFA header.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = Some(TokenKind::Mfa.typ().into());
        let mixed = jsonwebtoken::encode(
            &header,
            &claims(TokenKind::Access),
            &EncodingKey::from_ed_der(k.pkcs8()),
        )
        .expect("encode");
        for expected in [TokenKind::Access, TokenKind::Mfa] {
            assert_eq!(
                verify(&mixed, &[k.public_key()], expected, NOW),
                Err(TokenError::WrongKind),
                "{expected:?}"
            );
        }
        // No typ at all, or the generic "JWT", is not a kind.
        for typ in [None, Some("JWT".to_owned())] {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some("k1".into());
            header.typ = typ;
            let untyped = jsonwebtoken::encode(
                &header,
                &claims(TokenKind::Access),
                &EncodingKey::from_ed_der(k.pkcs8()),
            )
            .expect("encode");
            assert_eq!(
                verify(&untyped, &[k.public_key()], TokenKind::Access, NOW),
                Err(TokenError::WrongKind)
            );
        }
    }

    #[test]
    fn forged_tokens_are_refused() {
        let k = key();
        let keys = [k.public_key()];
        let token = k.sign(&claims(TokenKind::Access)).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": "k1"})),
            parts[1]
        );
        assert_eq!(
            verify(&none, &keys, TokenKind::Access, NOW),
            Err(TokenError::BadSignature)
        );
        // Algorithm confusion: HMAC keyed with the public key, as raw bytes or as the JWK's
        // `x` text.
        let public = k.public_key();
        let x_text = URL_SAFE_NO_PAD.encode(public.x);
        for secret in [&public.x[..], x_text.as_bytes()] {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            h.typ = Some("at+jwt".into());
            let hs = jsonwebtoken::encode(
                &h,
                &claims(TokenKind::Access),
                &EncodingKey::from_secret(secret),
            )
            .expect("hs256");
            assert_eq!(
                verify(&hs, &keys, TokenKind::Access, NOW),
                Err(TokenError::BadSignature)
            );
        }
        // Any other spelling of the algorithm in an otherwise genuine token.
        for alg in ["eddsa", "Ed25519", "RS256", "ES256", "HS256", ""] {
            let header = b64(&serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": "k1"}));
            let relabelled = format!("{header}.{}.{}", parts[1], parts[2]);
            assert_eq!(
                verify(&relabelled, &keys, TokenKind::Access, NOW),
                Err(TokenError::BadSignature),
                "{alg}"
            );
        }
        let kidless = {
            let mut h = Header::new(Algorithm::EdDSA);
            h.typ = Some("at+jwt".into());
            jsonwebtoken::encode(
                &h,
                &claims(TokenKind::Access),
                &EncodingKey::from_ed_der(k.pkcs8()),
            )
            .expect("encode")
        };
        assert_eq!(
            verify(&kidless, &keys, TokenKind::Access, NOW),
            Err(TokenError::UnknownKey)
        );
        let mut changed = claims(TokenKind::Access);
        changed.role = Role::SystemAdmin;
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_value(&changed).expect("json")),
            parts[2]
        );
        assert_eq!(
            verify(&tampered, &keys, TokenKind::Access, NOW),
            Err(TokenError::BadSignature)
        );
        let impostor = SigningKey::generate("k1")
            .expect("key")
            .sign(&claims(TokenKind::Access))
            .expect("sign");
        assert_eq!(
            verify(&impostor, &keys, TokenKind::Access, NOW),
            Err(TokenError::BadSignature)
        );
        let other_kid = SigningKey::generate("k2")
            .expect("key")
            .sign(&claims(TokenKind::Access))
            .expect("sign");
        assert_eq!(
            verify(&other_kid, &keys, TokenKind::Access, NOW),
            Err(TokenError::UnknownKey)
        );
        for garbage in ["garbage", "a.b.c", "", "..", &format!("{token}.x")] {
            assert_eq!(
                verify(garbage, &keys, TokenKind::Access, NOW),
                Err(TokenError::Malformed),
                "{garbage}"
            );
        }
        // Every key is tried only by its kid: the right key under another kid does not help.
        let renamed = VerifyingKey {
            kid: "k2".into(),
            x: k.public_key().x,
        };
        assert_eq!(
            verify(&token, &[renamed], TokenKind::Access, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn time_issuer_and_audience_are_checked() {
        let k = key();
        let keys = [k.public_key()];
        let token = k.sign(&claims(TokenKind::Access)).expect("sign");
        let exp = NOW + 15 * 60;
        // Up to 30 s of clock skew either way, and not a second more.
        assert!(verify(&token, &keys, TokenKind::Access, exp + 29).is_ok());
        assert_eq!(
            verify(&token, &keys, TokenKind::Access, exp + 30),
            Err(TokenError::Expired)
        );
        assert!(verify(&token, &keys, TokenKind::Access, NOW - 30).is_ok());
        assert_eq!(
            verify(&token, &keys, TokenKind::Access, NOW - 31),
            Err(TokenError::NotYetValid)
        );
        // The library's own clock plays no part: a token from 1970 is valid at the time the
        // caller gives, though the wall clock says it expired long ago.
        let mut old = claims(TokenKind::Access);
        old.iat = 1_000_000;
        old.exp = 1_000_000 + 900;
        let old = k.sign(&old).expect("sign");
        assert!(verify(&old, &keys, TokenKind::Access, 1_000_100).is_ok());
        assert_eq!(
            verify(&old, &keys, TokenKind::Access, 1_001_000),
            Err(TokenError::Expired)
        );
        let mut wrong = claims(TokenKind::Access);
        wrong.iss = "someone-else".into();
        assert_eq!(
            verify(
                &k.sign(&wrong).expect("sign"),
                &keys,
                TokenKind::Access,
                NOW
            ),
            Err(TokenError::WrongAudience)
        );
        let mut wrong = claims(TokenKind::Access);
        wrong.aud = "another-api".into();
        assert_eq!(
            verify(
                &k.sign(&wrong).expect("sign"),
                &keys,
                TokenKind::Access,
                NOW
            ),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn the_jwk_carries_the_key_that_verifies() {
        let k = key();
        let token = k.sign(&claims(TokenKind::Access)).expect("sign");
        let jwk = k.public_key().jwk();
        assert_eq!(
            (
                jwk["kty"].as_str(),
                jwk["crv"].as_str(),
                jwk["kid"].as_str()
            ),
            (Some("OKP"), Some("Ed25519"), Some("k1"))
        );
        assert_eq!(
            (jwk["alg"].as_str(), jwk["use"].as_str()),
            (Some("EdDSA"), Some("sig"))
        );
        let x = URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().expect("x"))
            .expect("b64");
        assert_eq!(x, k.public_key().x);
        let set = jwks(&[k.public_key(), key().public_key()]);
        assert_eq!(set["keys"].as_array().map(Vec::len), Some(2));
        assert_eq!(set["keys"][0], jwk);
        // An independent check of the signature with the raw public key.
        let (signed, signature) = token.rsplit_once('.').expect("parts");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("b64");
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &x)
            .verify(signed.as_bytes(), &signature)
            .expect("signature verifies with the JWK's key");
        assert!(
            !format!("{k:?}").contains(&format!("{:?}", k.pkcs8())),
            "Debug must not show the private key"
        );
    }
}
