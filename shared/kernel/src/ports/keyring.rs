//! The KeyRing port: data keys for envelope encryption, each bound to an encryption context.
//! The context is not secret (it is logged by KMS); it names whose record a key protects, and
//! a wrapped key only unwraps under the same context.

use std::collections::BTreeMap;
use std::future::Future;

use zeroize::Zeroizing;

/// Key-value pairs bound to a data key. Ordered, so its canonical form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(pub BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        EncryptionContext::default()
    }
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_owned(), value.to_owned());
        self
    }
    /// A canonical byte form (sorted, length-prefixed), usable as associated data.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

/// A 256-bit plaintext data key, wiped from memory when dropped.
pub type PlaintextKey = Zeroizing<[u8; 32]>;

/// A fresh data key: use `plaintext` once to encrypt, store only `wrapped`.
pub struct DataKey {
    pub plaintext: PlaintextKey,
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("plaintext", &"<redacted>")
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyRingError {
    /// The wrapped key is damaged, from another key ring, or the context differs. The three are
    /// deliberately indistinguishable to callers.
    #[error("the data key cannot be unwrapped under this encryption context")]
    Refused,
    #[error("the key ring is unavailable: {0}")]
    Unavailable(String),
}

pub trait KeyRing: Send + Sync {
    fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<DataKey, KeyRingError>> + Send;

    fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> impl Future<Output = Result<PlaintextKey, KeyRingError>> + Send;
}
