//! The KeyRing port on KMS: data keys from GenerateDataKey, unwrapped with Decrypt, both
//! bound to the encryption context (KMS refuses a Decrypt under any other context).

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use haven_kernel::ports::{DataKey, EncryptionContext, KeyRing, KeyRingError, PlaintextKey};
use zeroize::Zeroizing;

use crate::error::Failure;

/// Answers meaning "this wrapped key does not open here"; indistinguishable to callers.
const REFUSED: &[&str] = &[
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "AccessDeniedException",
    "AccessDenied",
];

fn keyring_error(failure: &Failure) -> KeyRingError {
    if failure.code_is(REFUSED) {
        KeyRingError::Refused
    } else {
        tracing::warn!(error = %failure.summary, "KMS request failed");
        KeyRingError::Unavailable(failure.summary.clone())
    }
}

fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.0.is_empty()).then(|| {
        context
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// Copies KMS's plaintext into a wiped-on-drop key, wiping the SDK's buffer too.
fn plaintext_key(blob: Option<Blob>) -> Result<PlaintextKey, KeyRingError> {
    let bytes = Zeroizing::new(blob.map(Blob::into_inner).unwrap_or_default());
    let mut key: PlaintextKey = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return Err(KeyRingError::Unavailable(format!(
            "KMS returned a {}-byte data key, not 32",
            bytes.len()
        )));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[derive(Clone)]
pub struct KmsKeyRing {
    client: Client,
    key_id: String,
    /// Further keys whose blobs this ring may open (never seal with). A function that
    /// handles two kinds of secret, each under its own key, names both; IAM still decides
    /// which keys it may use.
    also_opens: Vec<String>,
}

impl std::fmt::Debug for KmsKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyRing")
            .field("key_id", &self.key_id)
            .field("also_opens", &self.also_opens)
            .finish_non_exhaustive()
    }
}

impl KmsKeyRing {
    /// `key_id`: a key id, key ARN or `alias/...`.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsKeyRing {
            client,
            key_id: key_id.into(),
            also_opens: Vec::new(),
        }
    }

    /// Also opens blobs wrapped by these keys (ids, ARNs or aliases), tried in order after
    /// the ring's own key.
    pub fn also_opening(mut self, key_ids: impl IntoIterator<Item = String>) -> Self {
        self.also_opens = key_ids.into_iter().filter(|k| !k.is_empty()).collect();
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl KeyRing for KmsKeyRing {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyRingError> {
        let mut out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| keyring_error(&Failure::of(&e)))?;
        let plaintext = plaintext_key(out.plaintext.take())?;
        let wrapped = out
            .ciphertext_blob
            .take()
            .map(Blob::into_inner)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| KeyRingError::Unavailable("KMS returned no wrapped key".into()))?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlaintextKey, KeyRingError> {
        if wrapped.is_empty() {
            return Err(KeyRingError::Refused);
        }
        // A blob names its key, but naming the expected one makes KMS refuse a blob wrapped
        // by any other key. A refusal moves on to the next key this ring may open.
        let mut refused = KeyRingError::Refused;
        for key_id in std::iter::once(&self.key_id).chain(&self.also_opens) {
            match self.decrypt_with(key_id, wrapped, context).await {
                Err(KeyRingError::Refused) => continue,
                Err(e @ KeyRingError::Unavailable(_)) => refused = e,
                ok => return ok,
            }
        }
        Err(refused)
    }
}

impl KmsKeyRing {
    async fn decrypt_with(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlaintextKey, KeyRingError> {
        let mut out = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| keyring_error(&Failure::of(&e)))?;
        plaintext_key(out.plaintext.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_indistinguishable_and_the_rest_is_unavailable() {
        let f = |code: &str| Failure {
            code: Some(code.to_owned()),
            message: None,
            summary: code.to_owned(),
        };
        for code in REFUSED {
            assert_eq!(keyring_error(&f(code)), KeyRingError::Refused);
        }
        assert!(matches!(
            keyring_error(&f("KMSInternalException")),
            KeyRingError::Unavailable(_)
        ));
    }

    #[test]
    fn plaintext_keys_are_exactly_32_bytes() {
        let key = plaintext_key(Some(Blob::new(vec![7u8; 32]))).expect("32 bytes");
        assert_eq!(*key, [7u8; 32]);
        assert!(plaintext_key(Some(Blob::new(vec![7u8; 16]))).is_err());
        assert!(plaintext_key(None).is_err());
    }

    #[test]
    fn an_empty_context_is_left_out() {
        assert_eq!(context_map(&EncryptionContext::new()), None);
        let c = EncryptionContext::new().with("owner", "u1");
        assert_eq!(context_map(&c).map(|m| m.len()), Some(1));
    }
}
