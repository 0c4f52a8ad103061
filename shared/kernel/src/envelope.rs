//! Envelope encryption: each record gets its own data key from the KeyRing (KMS or the local
//! key file); the record is sealed with AES-256-GCM under that key, with the encryption
//! context as associated data. Only the wrapped key is stored, so reading a record needs the
//! key ring to agree to unwrap it under the same context.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::item::{Item, Value};
use crate::ports::Update;
use crate::ports::{DataKey, EncryptionContext, KeyRing, KeyRingError};

/// Format version of [`Envelope`], stored with it.
pub const ENVELOPE_VERSION: i64 = 1;

/// A sealed record as stored: never the plaintext, never the plaintext key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: i64,
    pub wrapped_key: Vec<u8>,
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    /// Damaged ciphertext, another context, or an unknown format: deliberately one error.
    #[error("the record cannot be opened")]
    Unreadable,
}

fn associated_data(context: &EncryptionContext) -> Vec<u8> {
    let mut aad = b"haven-envelope-v1\0".to_vec();
    aad.extend_from_slice(&context.canonical_bytes());
    aad
}

/// Seals `plaintext` under a fresh data key bound to `context`.
pub async fn seal<K: KeyRing>(
    key_ring: &K,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Envelope, EnvelopeError> {
    let data_key = key_ring.generate_data_key(context).await?;
    seal_under(&data_key, context, plaintext)
}

/// Seals `plaintext` under a data key already made for `context`: for a write that may be
/// retried (a lost race for a number), so each try does not cost a key-ring call. Each
/// sealing draws a fresh random nonce; only one of the tries is ever stored.
pub fn seal_under(
    data_key: &DataKey,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Envelope, EnvelopeError> {
    let cipher = Aes256Gcm::new_from_slice(&data_key.plaintext[..])
        .map_err(|_| EnvelopeError::Unreadable)?;
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let aad = associated_data(context);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| EnvelopeError::Unreadable)?;
    Ok(Envelope {
        version: ENVELOPE_VERSION,
        wrapped_key: data_key.wrapped.clone(),
        nonce,
        ciphertext,
    })
}

/// Opens an envelope sealed under `context`; any other context is refused.
pub async fn open<K: KeyRing>(
    key_ring: &K,
    context: &EncryptionContext,
    envelope: &Envelope,
) -> Result<zeroize::Zeroizing<Vec<u8>>, EnvelopeError> {
    if envelope.version != ENVELOPE_VERSION {
        return Err(EnvelopeError::Unreadable);
    }
    let key = key_ring
        .decrypt_data_key(&envelope.wrapped_key, context)
        .await?;
    let cipher = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| EnvelopeError::Unreadable)?;
    let aad = associated_data(context);
    cipher
        .decrypt(
            Nonce::from_slice(&envelope.nonce),
            Payload {
                msg: &envelope.ciphertext,
                aad: &aad,
            },
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|_| EnvelopeError::Unreadable)
}

/// The attribute suffixes an envelope is stored under.
const FIELDS: [&str; 4] = ["v", "key", "nonce", "ct"];

impl Envelope {
    /// The envelope as attributes `{prefix}_v`, `{prefix}_key`, `{prefix}_nonce`, `{prefix}_ct`.
    fn attributes(&self, prefix: &str) -> [(String, Value); 4] {
        [
            (format!("{prefix}_v"), Value::n(self.version)),
            (format!("{prefix}_key"), Value::B(self.wrapped_key.clone())),
            (format!("{prefix}_nonce"), Value::B(self.nonce.to_vec())),
            (format!("{prefix}_ct"), Value::B(self.ciphertext.clone())),
        ]
    }

    /// Stores the envelope in an item under `prefix`.
    pub fn write_to(&self, item: &mut Item, prefix: &str) {
        for (name, value) in self.attributes(prefix) {
            item.set(&name, value);
        }
    }

    /// Adds the writes of the envelope under `prefix` to an update.
    pub fn set_in(&self, update: Update, prefix: &str) -> Update {
        self.attributes(prefix)
            .into_iter()
            .fold(update, |u, (name, value)| u.set(&name, value))
    }

    /// Adds the removal of an envelope stored under `prefix` to an update.
    pub fn remove_from(update: Update, prefix: &str) -> Update {
        FIELDS
            .iter()
            .fold(update, |u, field| u.remove(&format!("{prefix}_{field}")))
    }

    pub fn read_from(item: &Item, prefix: &str) -> Option<Self> {
        let bytes = |n: &str| {
            item.get(&format!("{prefix}_{n}"))
                .and_then(Value::as_bytes)
                .map(<[u8]>::to_vec)
        };
        Some(Envelope {
            version: item.i64(&format!("{prefix}_v"))?,
            wrapped_key: bytes("key")?,
            nonce: bytes("nonce")?.try_into().ok()?,
            ciphertext: bytes("ct")?,
        })
    }
}
