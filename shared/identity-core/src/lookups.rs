//! How an account is found by its email or phone: a lookup item whose key is a keyed
//! blind-index token (HMAC-SHA-256 under identity's own key, `haven_kernel::blind_index`),
//! never the value and never a plain hash of it. A plain SHA-256 of an email or a Kenyan phone
//! number falls to a dictionary; a token cannot be computed without the key, which only
//! identity's functions can unwrap (under `IdentityKey`).
//!
//! Accounts made before the keyed tokens have lookups under the SHA-256 of the value
//! (`EMAIL#<hex>`, `PHONE#<hex>`). They are still found, and moved to the keyed form the first
//! time they are; a new account checks that no old lookup holds its email or phone.

use std::sync::Arc;

use haven_kernel::DomainError;
use haven_kernel::blind_index::{self, BlindIndex};
use haven_kernel::item::{Key, Value};
use haven_kernel::ports::{Condition, Ports, TransactOp};

use crate::codes;

/// Identity's keyed tokens, for one request.
pub struct Lookups(Arc<BlindIndex>);

/// The key of the tokens (made the first time anywhere).
pub async fn load<P: Ports>(ports: &P) -> Result<Lookups, DomainError> {
    Ok(Lookups(
        blind_index::load_realm(ports, blind_index::IDENTITY).await?,
    ))
}

const SCOPE: &str = "account";

impl Lookups {
    /// The token of a normalised email or an E.164 phone.
    pub fn token(&self, kind: &str, value: &str) -> String {
        self.0.token(SCOPE, kind, value)
    }
    pub fn email_key(&self, normalised_email: &str) -> Key {
        Key::new(
            format!("EMAIL#{}", self.token("email", normalised_email)),
            "LOOKUP",
        )
    }
    pub fn phone_key(&self, phone: &str) -> Key {
        Key::new(format!("PHONE#{}", self.token("phone", phone)), "LOOKUP")
    }
}

/// The lookup of an email as accounts made before the keyed tokens have it.
pub fn legacy_email_key(normalised_email: &str) -> Key {
    Key::new(
        format!("EMAIL#{}", codes::lookup_hash(normalised_email)),
        "LOOKUP",
    )
}

/// The lookup of a phone as accounts made before the keyed tokens have it.
pub fn legacy_phone_key(phone: &str) -> Key {
    Key::new(format!("PHONE#{}", codes::lookup_hash(phone)), "LOOKUP")
}

/// The user id a lookup names: the keyed one, else the legacy one, which is then moved to the
/// keyed key (best effort: a lost race or a failure leaves it to be moved next time).
pub async fn find<P: Ports>(
    ports: &P,
    keyed: Key,
    legacy: Key,
) -> Result<Option<String>, DomainError> {
    use haven_kernel::ports::Table;
    if let Some(item) = ports.table().get(&keyed).await? {
        return Ok(item.s("user_id").map(str::to_owned));
    }
    let Some(old) = ports.table().get(&legacy).await? else {
        return Ok(None);
    };
    let Some(user_id) = old.s("user_id").map(str::to_owned) else {
        return Ok(None);
    };
    let moved = ports
        .table()
        .transact_write(vec![
            TransactOp::Put {
                item: haven_kernel::Item::new(&keyed).with("user_id", Value::s(&user_id)),
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Delete {
                key: legacy,
                condition: Some(Condition::equals("user_id", Value::s(&user_id))),
            },
        ])
        .await;
    if let Err(e) = moved {
        tracing::debug!(error = %e, "an old lookup was not moved; it is read as it is");
    }
    Ok(Some(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_lookups_hide_the_value_and_differ_from_the_plain_hash() {
        let lookups = Lookups(Arc::new(BlindIndex::from_key([3; 32])));
        let keyed = lookups.email_key("wanjiru@example.org");
        assert!(!keyed.pk.contains("wanjiru"));
        assert_ne!(keyed, legacy_email_key("wanjiru@example.org"));
        assert_ne!(
            lookups.phone_key("+254712345678"),
            legacy_phone_key("+254712345678")
        );
        assert_ne!(
            lookups.token("email", "a@b.co"),
            lookups.token("phone", "a@b.co"),
            "kinds do not share tokens"
        );
        let other = Lookups(Arc::new(BlindIndex::from_key([4; 32])));
        assert_ne!(other.email_key("wanjiru@example.org"), keyed);
    }
}
