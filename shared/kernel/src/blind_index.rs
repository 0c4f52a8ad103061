//! Blind-index tokens: a keyed HMAC-SHA-256 of a normalised value, so a record can be found by
//! a name prefix, a phone or an identifier while the table holds only the token and the sealed
//! record. The key is a data key from the key ring, generated once, stored wrapped (never in
//! plaintext) and unwrapped once per process.
//!
//! Without the key a token says nothing, and it cannot be computed for a guess: an unkeyed
//! hash of a phone number falls to a dictionary of every phone number in minutes. What a
//! token does reveal, to someone who reads the table, is equality: two records with one token
//! share that value (see docs/encryption.md, "Blind indexes").

use std::sync::{Arc, Mutex};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::DomainError;
use crate::item::{Item, Key, Value};
use crate::ports::{Condition, EncryptionContext, KeyRing, Ports, Table, TableError};

/// Bytes of the HMAC a token keeps: 128 bits, so two values never share one by chance.
const TOKEN_BYTES: usize = 16;

/// Whose tokens a key makes. Each context that indexes gets its own key, wrapped under its own
/// KMS key, so a function of one context cannot compute another's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Realm {
    name: &'static str,
    /// The sort key of the item holding the wrapped key.
    item: &'static str,
}

/// The patients context's key (the first, so its item keeps the first name).
pub const PATIENTS: Realm = Realm {
    name: "patients",
    item: "KEY#1",
};
/// The identity context's key: account lookups by email and phone.
pub const IDENTITY: Realm = Realm {
    name: "identity",
    item: "KEY#identity#1",
};

fn key_item(realm: Realm) -> Key {
    Key::new("BLINDINDEX", realm.item)
}

fn context(realm: Realm) -> EncryptionContext {
    let context = EncryptionContext::new()
        .with("purpose", "blind-index")
        .with("key_version", "1");
    // The patients key was made before there were realms; its context stays as it was.
    if realm == PATIENTS {
        context
    } else {
        context.with("realm", realm.name)
    }
}

/// The unwrapped key, held by the process; wiped when dropped.
pub struct BlindIndex {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex(<key redacted>)")
    }
}

impl BlindIndex {
    /// A key given directly: for tests and benchmarks.
    pub fn from_key(key: [u8; 32]) -> Self {
        BlindIndex {
            key: Zeroizing::new(key),
        }
    }

    /// The token of `value` of `kind` within `scope` (a hospital, say). Each part is
    /// length-prefixed, so no two different triples give one input.
    pub fn token(&self, scope: &str, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("HMAC takes a key of any length");
        for part in [scope, kind, value] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part.as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..TOKEN_BYTES])
    }
}

/// The process's keys, once unwrapped, by realm (one process may serve several contexts).
#[derive(Default)]
struct Cached(Mutex<std::collections::BTreeMap<Realm, Arc<BlindIndex>>>);

/// The blind-index key: from the process cache, else unwrapped from the table, else made (the
/// first caller anywhere stores it; a racing second caller reads the winner's). For writers,
/// which hold the key ring's sealing permission.
pub async fn load<P: Ports>(ports: &P) -> Result<Arc<BlindIndex>, DomainError> {
    load_realm(ports, PATIENTS).await
}

/// As [`load`], for `realm`'s key.
pub async fn load_realm<P: Ports>(ports: &P, realm: Realm) -> Result<Arc<BlindIndex>, DomainError> {
    if let Some(key) = cached(ports, realm) {
        return Ok(key);
    }
    let key = Arc::new(fetch_or_create(ports, realm).await?);
    keep(ports, realm, &key);
    Ok(key)
}

/// The key if one was ever made: for readers, which may only open. `None` means nothing
/// was ever indexed, so there is nothing to find.
pub async fn load_existing<P: Ports>(ports: &P) -> Result<Option<Arc<BlindIndex>>, DomainError> {
    let realm = PATIENTS;
    if let Some(key) = cached(ports, realm) {
        return Ok(Some(key));
    }
    let Some(item) = ports.table().get(&key_item(realm)).await? else {
        return Ok(None);
    };
    let key = Arc::new(unwrap_stored(ports, realm, &item).await?);
    keep(ports, realm, &key);
    Ok(Some(key))
}

fn cached<P: Ports>(ports: &P, realm: Realm) -> Option<Arc<BlindIndex>> {
    let cached = ports.cache().get::<Cached>();
    cached
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&realm)
        .cloned()
}

fn keep<P: Ports>(ports: &P, realm: Realm, key: &Arc<BlindIndex>) {
    ports
        .cache()
        .get::<Cached>()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(realm, key.clone());
}

async fn unwrap_stored<P: Ports>(
    ports: &P,
    realm: Realm,
    item: &Item,
) -> Result<BlindIndex, DomainError> {
    let wrapped = item
        .get("wrapped_key")
        .and_then(Value::as_bytes)
        .ok_or(DomainError::Unreadable)?;
    let key = ports
        .key_ring()
        .decrypt_data_key(wrapped, &context(realm))
        .await?;
    Ok(BlindIndex { key })
}

async fn fetch_or_create<P: Ports>(ports: &P, realm: Realm) -> Result<BlindIndex, DomainError> {
    if let Some(item) = ports.table().get(&key_item(realm)).await? {
        return unwrap_stored(ports, realm, &item).await;
    }
    let fresh = ports.key_ring().generate_data_key(&context(realm)).await?;
    let item = Item::new(&key_item(realm))
        .with("wrapped_key", Value::B(fresh.wrapped.clone()))
        .with("created_at", Value::s(ports.clock().now().to_rfc3339()));
    match ports
        .table()
        .put(item, Some(Condition::item_absent()))
        .await
    {
        Ok(()) => Ok(BlindIndex {
            key: fresh.plaintext,
        }),
        Err(TableError::ConditionFailed) => match ports.table().get(&key_item(realm)).await? {
            Some(item) => unwrap_stored(ports, realm, &item).await,
            None => Err(DomainError::Unavailable(
                "the blind-index key could not be read".into(),
            )),
        },
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_scope_kind_and_value() {
        let a = BlindIndex::from_key([7; 32]);
        let b = BlindIndex::from_key([8; 32]);
        let t = a.token("H1", "phone", "+254712345678");
        assert_eq!(t, a.token("H1", "phone", "+254712345678"));
        assert_eq!(t.len(), 22);
        assert_ne!(t, b.token("H1", "phone", "+254712345678"));
        assert_ne!(t, a.token("H2", "phone", "+254712345678"));
        assert_ne!(t, a.token("H1", "id", "+254712345678"));
        assert_ne!(t, a.token("H1", "phone", "+254712345679"));
        // Length prefixes: moving a boundary changes the token.
        assert_ne!(a.token("H1", "ab", "c"), a.token("H1", "a", "bc"));
        assert!(!t.contains("254712345678"));
    }
}
