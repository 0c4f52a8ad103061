//! The Table port: DynamoDB semantics for one table with a `pk`/`sk` key and sparse GSIs.
//!
//! Conditions and updates are typed values rather than expression strings: the AWS adapter
//! renders them to DynamoDB expressions, the embedded adapter evaluates them with
//! [`Condition::holds`] and [`Update::apply`], so both agree by construction.

use std::cmp::Ordering;
use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::item::{Item, Key, PK, SK, Value};

/// DynamoDB's limit on one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// The indexes of the table. Every key attribute is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Index {
    /// The base table: `pk` / `sk`.
    Table,
    /// `gsi1pk` / `gsi1sk`: items grouped under an owner (a hospital's staff, a person's
    /// sessions, a patient's alerts).
    Gsi1,
    /// `gsi2pk` / `gsi2sk`: work queues and status views (sparse).
    Gsi2,
    /// `gsi3pk` / `gsi3sk`: geography (geohash cells).
    Gsi3,
}

impl Index {
    pub const ALL: [Index; 4] = [Index::Table, Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The index name as DynamoDB knows it, `None` for the base table.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
            Index::Gsi3 => Some("gsi3"),
        }
    }
    pub fn partition_attribute(self) -> &'static str {
        match self {
            Index::Table => PK,
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
            Index::Gsi3 => "gsi3pk",
        }
    }
    pub fn sort_attribute(self) -> &'static str {
        match self {
            Index::Table => SK,
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
            Index::Gsi3 => "gsi3sk",
        }
    }
}

/// Comparison operators of condition expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on one item (top-level attributes), as in DynamoDB condition expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Exists(String),
    NotExists(String),
    Compare(String, Comparison, Value),
    BeginsWith(String, String),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// The item must not exist yet (`attribute_not_exists(pk)`).
    pub fn item_absent() -> Self {
        Condition::NotExists(PK.to_owned())
    }
    /// The item must exist (`attribute_exists(pk)`).
    pub fn item_present() -> Self {
        Condition::Exists(PK.to_owned())
    }
    pub fn equals(name: &str, value: Value) -> Self {
        Condition::Compare(name.to_owned(), Comparison::Eq, value)
    }
    /// Optimistic locking: the stored `version` is the one the writer read.
    pub fn version_is(version: i64) -> Self {
        Condition::equals("version", Value::n(version))
    }

    /// Evaluates the condition against the current item (`None` when there is none), with
    /// DynamoDB's rules: a missing attribute fails every comparison, values of different types
    /// are never equal and never ordered.
    pub fn holds(&self, item: Option<&Item>) -> bool {
        let attribute = |name: &str| item.and_then(|i| i.get(name));
        match self {
            Condition::Exists(name) => attribute(name).is_some(),
            Condition::NotExists(name) => attribute(name).is_none(),
            Condition::Compare(name, op, expected) => match attribute(name) {
                None => false,
                Some(actual) => match (op, compare(actual, expected)) {
                    (Comparison::Ne, None) => true,
                    (_, None) => false,
                    (Comparison::Eq, Some(o)) => o == Ordering::Equal,
                    (Comparison::Ne, Some(o)) => o != Ordering::Equal,
                    (Comparison::Lt, Some(o)) => o == Ordering::Less,
                    (Comparison::Le, Some(o)) => o != Ordering::Greater,
                    (Comparison::Gt, Some(o)) => o == Ordering::Greater,
                    (Comparison::Ge, Some(o)) => o != Ordering::Less,
                },
            },
            Condition::BeginsWith(name, prefix) => {
                matches!(attribute(name), Some(Value::S(s)) if s.starts_with(prefix.as_str()))
            }
            Condition::And(all) => all.iter().all(|c| c.holds(item)),
            Condition::Or(any) => any.iter().any(|c| c.holds(item)),
            Condition::Not(inner) => !inner.holds(item),
        }
    }
}

/// Orders two values the way DynamoDB does; `None` when they cannot be compared.
/// Lists, maps and sets only compare for equality.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::S(x), Value::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::N(x), Value::N(y)) => compare_numbers(x, y),
        (Value::B(x), Value::B(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if x == y => Some(Ordering::Equal),
        (Value::Null(_), Value::Null(_)) => Some(Ordering::Equal),
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => {
            (x == y).then_some(Ordering::Equal)
        }
        _ => None,
    }
}

fn compare_numbers(x: &str, y: &str) -> Option<Ordering> {
    match (x.parse::<i128>(), y.parse::<i128>()) {
        (Ok(a), Ok(b)) => Some(a.cmp(&b)),
        _ => x.parse::<f64>().ok()?.partial_cmp(&y.parse::<f64>().ok()?),
    }
}

/// An update of one item, as in DynamoDB update expressions (`SET`, `REMOVE`, `ADD`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    /// `SET name = if_not_exists(name, value)`.
    pub set_if_absent: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// `ADD name :n` on a number (a missing attribute counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn new() -> Self {
        Update::default()
    }
    pub fn set(mut self, name: &str, value: Value) -> Self {
        self.set.push((name.to_owned(), value));
        self
    }
    pub fn set_if_absent(mut self, name: &str, value: Value) -> Self {
        self.set_if_absent.push((name.to_owned(), value));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }
    pub fn add(mut self, name: &str, by: i64) -> Self {
        self.add.push((name.to_owned(), by));
        self
    }

    /// Every attribute this update touches; key attributes may not be among them.
    pub fn touched(&self) -> impl Iterator<Item = &str> {
        self.set
            .iter()
            .chain(&self.set_if_absent)
            .map(|(n, _)| n.as_str())
            .chain(self.remove.iter().map(String::as_str))
            .chain(self.add.iter().map(|(n, _)| n.as_str()))
    }

    /// Checks what DynamoDB would refuse before any write happens.
    pub fn validate(&self) -> Result<(), TableError> {
        if self.touched().next().is_none() {
            return Err(TableError::Invalid(
                "an update must change something".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in self.touched() {
            if name == PK || name == SK {
                return Err(TableError::Invalid(format!(
                    "the key attribute {name} cannot be updated"
                )));
            }
            if !seen.insert(name) {
                return Err(TableError::Invalid(format!(
                    "attribute {name} appears twice in one update"
                )));
            }
        }
        Ok(())
    }

    /// The item after this update, starting from `current` (or an empty item with `key`).
    pub fn apply(&self, key: &Key, current: Option<&Item>) -> Result<Item, TableError> {
        let mut item = current.cloned().unwrap_or_else(|| Item::new(key));
        for (name, value) in &self.set {
            item.set(name, value.clone());
        }
        for (name, value) in &self.set_if_absent {
            if item.get(name).is_none() {
                item.set(name, value.clone());
            }
        }
        for name in &self.remove {
            item.remove(name);
        }
        for (name, by) in &self.add {
            let now = match item.get(name) {
                None => 0i128,
                Some(Value::N(n)) => n
                    .parse::<i128>()
                    .map_err(|_| TableError::Invalid(format!("ADD needs an integer in {name}")))?,
                Some(_) => {
                    return Err(TableError::Invalid(format!("ADD needs a number in {name}")));
                }
            };
            item.set(name, Value::n(now + i128::from(*by)));
        }
        Ok(item)
    }
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's `BETWEEN`.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortKey {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::Eq(v) => sk == v,
            SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKey::Between(lo, hi) => sk >= lo.as_str() && sk <= hi.as_str(),
            SortKey::Lt(v) => sk < v.as_str(),
            SortKey::Le(v) => sk <= v.as_str(),
            SortKey::Gt(v) => sk > v.as_str(),
            SortKey::Ge(v) => sk >= v.as_str(),
        }
    }
}

/// A query on one partition of the base table or a GSI.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub sort: Option<SortKey>,
    /// Ascending sort-key order when true (DynamoDB's `ScanIndexForward`).
    pub forward: bool,
    pub limit: Option<u32>,
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Query {
            index: Index::Table,
            partition: partition.into(),
            sort: None,
            forward: true,
            limit: None,
            cursor: None,
        }
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = Some(sort);
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query. `cursor` is present when more items may follow; a page can hold
/// fewer than `limit` items even then (expired items are filtered after the limit applies).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub cursor: Option<Cursor>,
}

/// A resumable position in a query: the key attributes of the last item evaluated, encoded as
/// opaque URL-safe text so it can travel in a `?cursor=` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    pub fn from_key_attributes(attributes: &Item) -> Self {
        let json = serde_json::to_vec(attributes).unwrap_or_default();
        Cursor(URL_SAFE_NO_PAD.encode(json))
    }
    pub fn key_attributes(&self) -> Result<Item, TableError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| TableError::InvalidCursor)?;
        let item: Item = serde_json::from_slice(&bytes).map_err(|_| TableError::InvalidCursor)?;
        let all_strings = item.0.values().all(|v| matches!(v, Value::S(_)));
        if item.0.is_empty() || item.0.len() > 4 || !all_strings {
            return Err(TableError::InvalidCursor);
        }
        Ok(item)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Accepts a cursor received from a client; it is checked when used.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let cursor = Cursor(text.to_owned());
        cursor.key_attributes()?;
        Ok(cursor)
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check { key: Key, condition: Condition },
}

impl TransactOp {
    pub fn key(&self) -> Option<Key> {
        match self {
            TransactOp::Put { item, .. } => item.key(),
            TransactOp::Update { key, .. }
            | TransactOp::Delete { key, .. }
            | TransactOp::Check { key, .. } => Some(key.clone()),
        }
    }
}

/// Checks what DynamoDB refuses in a transaction before anything is written.
pub fn validate_transaction(ops: &[TransactOp]) -> Result<(), TableError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_ITEMS {
        return Err(TableError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_ITEMS} items, not {}",
            ops.len()
        )));
    }
    let mut keys = std::collections::BTreeSet::new();
    for op in ops {
        let key = op
            .key()
            .ok_or_else(|| TableError::Invalid("every item needs string pk and sk".into()))?;
        if !keys.insert(key.clone()) {
            return Err(TableError::Invalid(format!(
                "two operations on one item ({}, {}) in a transaction",
                key.pk, key.sk
            )));
        }
        if let TransactOp::Update { update, .. } = op {
            update.validate()?;
        }
    }
    Ok(())
}

/// Why a transaction was cancelled, per operation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    None,
    ConditionFailed,
    Other,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    #[error("the condition of the write did not hold")]
    ConditionFailed,
    #[error("the transaction was cancelled")]
    TransactionCanceled(Vec<CancelReason>),
    #[error("invalid request to the table: {0}")]
    Invalid(String),
    #[error("the cursor is not one this table issued")]
    InvalidCursor,
    #[error("the table is busy, try again")]
    Throttled,
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
}

/// The Table port. Reads skip expired items (TTL) on both adapters.
/// Keys a batch read takes per request (DynamoDB's `BatchGetItem` limit); adapters split
/// longer lists.
pub const MAX_BATCH_GET: usize = 100;

pub trait Table: Send + Sync {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, TableError>> + Send;

    /// Several items at once, in the order of `keys` (`None` where absent or expired): one
    /// round trip per [`MAX_BATCH_GET`] keys. Strongly consistent, like `get`.
    fn get_many(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Option<Item>>, TableError>> + Send;

    /// Writes a whole item, replacing any item with its key, when the condition holds.
    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<(), TableError>> + Send;

    /// Updates (or creates) an item when the condition holds; returns the item as written.
    fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<Item, TableError>> + Send;

    /// Deletes an item when the condition holds; returns what was there.
    fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<Option<Item>, TableError>> + Send;

    fn query(&self, query: Query) -> impl Future<Output = Result<Page, TableError>> + Send;

    /// All operations or none (up to [`MAX_TRANSACTION_ITEMS`], one per item).
    fn transact_write(
        &self,
        ops: Vec<TransactOp>,
    ) -> impl Future<Output = Result<(), TableError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item::new(&Key::new("p", "s"))
            .with("version", Value::n(3))
            .with("name", Value::s("Aga Khan"))
    }

    #[test]
    fn conditions_follow_dynamodb_rules() {
        let i = item();
        assert!(Condition::item_absent().holds(None));
        assert!(!Condition::item_absent().holds(Some(&i)));
        assert!(Condition::version_is(3).holds(Some(&i)));
        assert!(!Condition::version_is(2).holds(Some(&i)));
        // A missing attribute fails comparisons, including on a missing item.
        assert!(!Condition::version_is(3).holds(None));
        // Different types are never equal, but are "not equal".
        assert!(!Condition::equals("version", Value::s("3")).holds(Some(&i)));
        assert!(
            Condition::Compare("version".into(), Comparison::Ne, Value::s("3")).holds(Some(&i))
        );
        assert!(Condition::Compare("version".into(), Comparison::Lt, Value::n(10)).holds(Some(&i)));
        assert!(Condition::BeginsWith("name".into(), "Aga".into()).holds(Some(&i)));
        assert!(
            Condition::Or(vec![Condition::item_absent(), Condition::version_is(3)]).holds(Some(&i))
        );
        assert!(
            !Condition::And(vec![Condition::item_present(), Condition::version_is(4)])
                .holds(Some(&i))
        );
    }

    #[test]
    fn numbers_compare_numerically_not_textually() {
        assert_eq!(compare(&Value::n(9), &Value::n(10)), Some(Ordering::Less));
        assert_eq!(
            compare(&Value::f(2.5), &Value::n(2)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn updates_apply_set_remove_add() {
        let key = Key::new("p", "s");
        let up = Update::new()
            .set("name", Value::s("KNH"))
            .set_if_absent("created", Value::n(1))
            .remove("gone")
            .add("version", 1);
        let current = item()
            .with("gone", Value::Bool(true))
            .with("created", Value::n(0));
        let next = up.apply(&key, Some(&current)).expect("apply");
        assert_eq!(next.s("name"), Some("KNH"));
        assert_eq!(next.i64("version"), Some(4));
        assert_eq!(next.i64("created"), Some(0));
        assert!(next.get("gone").is_none());
        let fresh = up.apply(&key, None).expect("apply");
        assert_eq!(fresh.i64("version"), Some(1));
        assert_eq!(fresh.key(), Some(key));
    }

    #[test]
    fn updates_refuse_key_changes_and_duplicates() {
        assert!(Update::new().set("pk", Value::s("x")).validate().is_err());
        assert!(
            Update::new()
                .set("a", Value::n(1))
                .add("a", 1)
                .validate()
                .is_err()
        );
        assert!(Update::new().validate().is_err());
    }

    #[test]
    fn transactions_refuse_two_ops_on_one_item_and_over_100() {
        let put = |sk: &str| TransactOp::Put {
            item: Item::new(&Key::new("p", sk)),
            condition: None,
        };
        assert!(validate_transaction(&[put("a"), put("a")]).is_err());
        let many: Vec<_> = (0..101).map(|i| put(&i.to_string())).collect();
        assert!(validate_transaction(&many).is_err());
        assert!(validate_transaction(&many[..100]).is_ok());
        assert!(validate_transaction(&[]).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let key = Item::new(&Key::new("p", "s"));
        let c = Cursor::from_key_attributes(&key);
        assert_eq!(
            Cursor::parse(c.as_str())
                .expect("parse")
                .key_attributes()
                .expect("decode"),
            key
        );
        assert_eq!(
            Cursor::parse("not-a-cursor"),
            Err(TableError::InvalidCursor)
        );
    }

    #[test]
    fn sort_key_conditions() {
        assert!(SortKey::BeginsWith("ALERT#".into()).matches("ALERT#1"));
        assert!(SortKey::Between("b".into(), "d".into()).matches("d"));
        assert!(!SortKey::Between("b".into(), "d".into()).matches("da"));
        assert!(SortKey::Lt("b".into()).matches("a"));
    }
}
