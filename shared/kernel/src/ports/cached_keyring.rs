//! A KeyRing decorator that remembers unwrapped data keys briefly, so reading the same sealed
//! record again does not cost a KMS `Decrypt`. Bounded in time and number; keys are wiped
//! when evicted. New data keys are never cached: every record still gets its own key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::ports::keyring::{DataKey, EncryptionContext, KeyRing, KeyRingError, PlaintextKey};

/// How long a data key stays cached unless `HAVEN_DATA_KEY_CACHE_SECONDS` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// The most keys held at once.
pub const MAX_ENTRIES: usize = 256;

/// Counts of what reached the key ring underneath (on AWS: KMS calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRingCalls {
    pub generate: u64,
    pub decrypt: u64,
    pub cache_hits: u64,
}

pub struct CachingKeyRing<K> {
    inner: K,
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Instant, PlaintextKey)>>,
    generate: AtomicU64,
    decrypt: AtomicU64,
    hits: AtomicU64,
}

impl<K: KeyRing> CachingKeyRing<K> {
    /// `ttl` zero turns caching off (every unwrap reaches `inner`).
    pub fn new(inner: K, ttl: Duration) -> Self {
        CachingKeyRing {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
            generate: AtomicU64::new(0),
            decrypt: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// The TTL from `HAVEN_DATA_KEY_CACHE_SECONDS` (0 disables), else [`DEFAULT_TTL`].
    pub fn from_env(inner: K) -> Self {
        let ttl = std::env::var("HAVEN_DATA_KEY_CACHE_SECONDS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_TTL, Duration::from_secs);
        Self::new(inner, ttl)
    }

    pub fn calls(&self) -> KeyRingCalls {
        KeyRingCalls {
            generate: self.generate.load(Ordering::Relaxed),
            decrypt: self.decrypt.load(Ordering::Relaxed),
            cache_hits: self.hits.load(Ordering::Relaxed),
        }
    }

    /// The cache key binds the wrapped key to its context: the same wrapped key presented
    /// under another context is a miss, and the key ring underneath refuses it.
    fn slot(wrapped: &[u8], context: &EncryptionContext) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((wrapped.len() as u64).to_be_bytes());
        h.update(wrapped);
        h.update(context.canonical_bytes());
        h.finalize().into()
    }
}

impl<K: KeyRing> KeyRing for CachingKeyRing<K> {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyRingError> {
        self.generate.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_data_key(context).await
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlaintextKey, KeyRingError> {
        if self.ttl.is_zero() {
            self.decrypt.fetch_add(1, Ordering::Relaxed);
            return self.inner.decrypt_data_key(wrapped, context).await;
        }
        let slot = Self::slot(wrapped, context);
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock() {
            match entries.get(&slot) {
                Some((at, key)) if now.duration_since(*at) < self.ttl => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(key.clone());
                }
                Some(_) => {
                    entries.remove(&slot);
                }
                None => {}
            }
        }
        self.decrypt.fetch_add(1, Ordering::Relaxed);
        let key = self.inner.decrypt_data_key(wrapped, context).await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            }
            if entries.len() >= MAX_ENTRIES
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
            entries.insert(slot, (now, key.clone()));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    /// Wraps by XOR with the context's hash: enough to see calls and refusals.
    struct Toy;
    impl KeyRing for Toy {
        async fn generate_data_key(&self, c: &EncryptionContext) -> Result<DataKey, KeyRingError> {
            let plain = [7u8; 32];
            let mask: [u8; 32] = Sha256::digest(c.canonical_bytes()).into();
            let wrapped = plain.iter().zip(mask).map(|(a, b)| a ^ b).collect();
            Ok(DataKey {
                plaintext: Zeroizing::new(plain),
                wrapped,
            })
        }
        async fn decrypt_data_key(
            &self,
            wrapped: &[u8],
            c: &EncryptionContext,
        ) -> Result<PlaintextKey, KeyRingError> {
            let mask: [u8; 32] = Sha256::digest(c.canonical_bytes()).into();
            let mut out = [0u8; 32];
            for (i, (a, b)) in wrapped.iter().zip(mask).enumerate() {
                out[i] = a ^ b;
            }
            if out != [7u8; 32] {
                return Err(KeyRingError::Refused);
            }
            Ok(Zeroizing::new(out))
        }
    }

    #[tokio::test]
    async fn repeated_unwraps_hit_the_cache_and_other_contexts_do_not() {
        let ring = CachingKeyRing::new(Toy, Duration::from_secs(60));
        let a = EncryptionContext::new().with("owner", "a");
        let key = ring.generate_data_key(&a).await.expect("key");
        for _ in 0..5 {
            ring.decrypt_data_key(&key.wrapped, &a)
                .await
                .expect("unwrap");
        }
        assert_eq!(
            ring.calls(),
            KeyRingCalls {
                generate: 1,
                decrypt: 1,
                cache_hits: 4
            }
        );
        let b = EncryptionContext::new().with("owner", "b");
        assert_eq!(
            ring.decrypt_data_key(&key.wrapped, &b).await,
            Err(KeyRingError::Refused)
        );
        let off = CachingKeyRing::new(Toy, Duration::ZERO);
        for _ in 0..3 {
            off.decrypt_data_key(&key.wrapped, &a)
                .await
                .expect("unwrap");
        }
        assert_eq!(off.calls().decrypt, 3);
    }
}
