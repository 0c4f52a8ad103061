//! JWT signing keys: generated on first use, stored envelope-encrypted, rotated with the old
//! public key kept in the JWKS until every token it signed has expired.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tokens::{SigningKey, TokenKind, VerifyingKey};
use haven_kernel::envelope::{self, Envelope};
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{
    Condition, EncryptionContext, Ports, Query, SortKey, Table, TableError, TransactOp,
};
use haven_kernel::{DomainError, Timestamp};

const PARTITION: &str = "SIGNINGKEY";
const CURRENT: &str = "CURRENT";
/// How long other processes may keep using a verification key list before re-reading it.
const VERIFYING_TTL: Duration = Duration::from_secs(60);
/// After a rotation the old key verifies for the longest token lifetime plus this margin.
const RETIREMENT_MARGIN: Duration = Duration::from_secs(5 * 60);

fn key_item(kid: &str) -> Key {
    Key::new(PARTITION, format!("KEY#{kid}"))
}

fn current_item() -> Key {
    Key::new(PARTITION, CURRENT)
}

fn context(kid: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "jwt-signing-key")
        .with("kid", kid)
}

/// The keys a process has read, so a request costs no table read for them. One per process
/// (held by its ports), never shared between backends.
#[derive(Default)]
pub struct KeyCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    signing: Option<Arc<SigningKey>>,
    verifying: Vec<VerifyingKey>,
    verifying_loaded_at: Option<Timestamp>,
}

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn forget_signing(&self) {
        self.lock().signing = None;
    }
}

async fn store_new_key<P: Ports>(ports: &P, previous: Option<&str>) -> Result<(), DomainError> {
    let kid = ports.ids().next_id();
    let key = SigningKey::generate(&kid).map_err(|e| DomainError::Unavailable(e.to_string()))?;
    let sealed = envelope::seal(ports.key_ring(), &context(&kid), key.pkcs8())
        .await
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
    let now = ports.clock().now();
    let mut item = Item::new(&key_item(&kid))
        .with("public_x", Value::B(key.public_key().x.to_vec()))
        .with("created_at", Value::s(now.to_rfc3339()));
    sealed.write_to(&mut item, "private");
    let pointer = Item::new(&current_item()).with("kid", Value::s(&kid));
    let pointer_condition = match previous {
        None => Condition::item_absent(),
        Some(old) => Condition::equals("kid", Value::s(old)),
    };
    let mut ops = vec![
        TransactOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Put {
            item: pointer,
            condition: Some(pointer_condition),
        },
    ];
    if let Some(old) = previous {
        let longest = TokenKind::Bypass
            .lifetime()
            .max(TokenKind::Access.lifetime());
        let until = now.plus(longest + RETIREMENT_MARGIN);
        ops.push(TransactOp::Update {
            key: key_item(old),
            update: haven_kernel::ports::Update::new()
                .set("retired_at", Value::s(now.to_rfc3339()))
                .set(EXPIRES_AT, Value::n(until.epoch_seconds())),
            condition: Some(Condition::item_present()),
        });
    }
    match ports.table().transact_write(ops).await {
        // Another process created or rotated at the same moment: its key stands.
        Ok(()) | Err(TableError::TransactionCanceled(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn load_signing_key<P: Ports>(ports: &P) -> Result<SigningKey, DomainError> {
    for _ in 0..3 {
        let Some(pointer) = ports.table().get(&current_item()).await? else {
            store_new_key(ports, None).await?;
            continue;
        };
        let kid = pointer
            .s("kid")
            .ok_or_else(|| DomainError::Unavailable("signing key pointer is damaged".into()))?;
        let item =
            ports.table().get(&key_item(kid)).await?.ok_or_else(|| {
                DomainError::Unavailable("the current signing key is missing".into())
            })?;
        let sealed = Envelope::read_from(&item, "private")
            .ok_or_else(|| DomainError::Unavailable("the signing key record is damaged".into()))?;
        let pkcs8 = envelope::open(ports.key_ring(), &context(kid), &sealed)
            .await
            .map_err(|_| DomainError::Unavailable("the signing key cannot be opened".into()))?;
        return SigningKey::from_pkcs8(kid, &pkcs8)
            .map_err(|e| DomainError::Unavailable(e.to_string()));
    }
    Err(DomainError::Unavailable(
        "no signing key could be established".into(),
    ))
}

/// The key new tokens are signed with, creating the first one if there is none.
pub async fn signing_key<P: Ports>(ports: &P) -> Result<Arc<SigningKey>, DomainError> {
    if let Some(key) = ports.cache().get::<KeyCache>().lock().signing.clone() {
        return Ok(key);
    }
    let key = Arc::new(load_signing_key(ports).await?);
    ports.cache().get::<KeyCache>().lock().signing = Some(key.clone());
    Ok(key)
}

/// Every public key that may still verify a token: the current one and recently retired ones
/// (retired keys expire by TTL once their tokens have).
pub async fn verifying_keys<P: Ports>(
    ports: &P,
    force_refresh: bool,
) -> Result<Vec<VerifyingKey>, DomainError> {
    let now = ports.clock().now();
    {
        let cache = ports.cache().get::<KeyCache>();
        let state = cache.lock();
        let fresh = state
            .verifying_loaded_at
            .is_some_and(|at| now.since(at) < VERIFYING_TTL);
        if fresh && !force_refresh && !state.verifying.is_empty() {
            return Ok(state.verifying.clone());
        }
    }
    // Public halves only: verifying needs no KMS permission, so every function can do it.
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports
            .table()
            .query(
                Query::partition(PARTITION)
                    .sort(SortKey::BeginsWith("KEY#".into()))
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let kid = item.s("sk").and_then(|s| s.strip_prefix("KEY#"));
            let x = item
                .get("public_x")
                .and_then(Value::as_bytes)
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            if let (Some(kid), Some(x)) = (kid, x) {
                keys.push(VerifyingKey {
                    kid: kid.to_owned(),
                    x,
                });
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    let cache = ports.cache().get::<KeyCache>();
    let mut state = cache.lock();
    state.verifying = keys.clone();
    state.verifying_loaded_at = Some(now);
    Ok(keys)
}

/// Starts signing with a new key; the old one keeps verifying until its tokens expire.
/// Returns the new key id.
pub async fn rotate<P: Ports>(ports: &P) -> Result<String, DomainError> {
    let current = signing_key(ports).await?;
    store_new_key(ports, Some(&current.kid)).await?;
    ports.cache().get::<KeyCache>().forget_signing();
    let key = signing_key(ports).await?;
    verifying_keys(ports, true).await?;
    Ok(key.kid.clone())
}
