//! The item model of the table: DynamoDB's attribute values, kept small and typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Attribute names of the key schema. Every item has `pk` and `sk`; the GSI attributes are
/// optional, so the indexes are sparse.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Epoch seconds after which the item is treated as gone (DynamoDB TTL attribute).
pub const EXPIRES_AT: &str = "expires_at";

/// One attribute value. Serialises the way DynamoDB JSON does (`{"S": "..."}`), which is
/// also how the embedded table stores items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    S(String),
    /// A number, kept as its decimal text so no precision is lost on the way through.
    N(String),
    B(#[serde(with = "b64")] Vec<u8>),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    #[serde(rename = "SS")]
    StringSet(Vec<String>),
}

impl Value {
    pub fn s(v: impl Into<String>) -> Self {
        Value::S(v.into())
    }
    pub fn n(v: impl Into<i128>) -> Self {
        Value::N(v.into().to_string())
    }
    pub fn f(v: f64) -> Self {
        Value::N(v.to_string())
    }
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::N(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::B(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An item: a map of attribute names to values. Always carries `pk` and `sk` when stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Item(pub BTreeMap<String, Value>);

impl Item {
    pub fn new(key: &Key) -> Self {
        let mut item = Item::default();
        item.set(PK, Value::s(&key.pk));
        item.set(SK, Value::s(&key.sk));
        item
    }
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }
    pub fn set(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_owned(), value);
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }
    pub fn s(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_s)
    }
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
    /// The primary key, when both key attributes are strings.
    pub fn key(&self) -> Option<Key> {
        Some(Key::new(self.s(PK)?, self.s(SK)?))
    }
    /// Writes the fields of a serialisable record as attributes (objects become maps, `None`
    /// becomes NULL), next to whatever keys and index attributes the item already holds.
    pub fn with_record<T: Serialize>(mut self, record: &T) -> Self {
        if let Ok(Value::M(fields)) = serde_json::to_value(record).map(json_to_value) {
            self.0.extend(fields);
        }
        self
    }
    /// Reads a record back; attributes the record does not name (keys, index attributes,
    /// envelopes) are ignored.
    pub fn to_record<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(crate::record::MapDe(&self.0)).ok()
    }
    /// Whether the item's TTL has passed at `now_epoch_seconds`. DynamoDB deletes expired
    /// items lazily (up to days later), so every reader must apply this itself.
    pub fn is_expired(&self, now_epoch_seconds: i64) -> bool {
        matches!(self.i64(EXPIRES_AT), Some(at) if at <= now_epoch_seconds)
    }
}

/// Plain JSON into attribute values (numbers as N, arrays as L, objects as M).
pub fn json_to_value(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null(true),
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::N(n.to_string()),
        serde_json::Value::String(s) => Value::S(s),
        serde_json::Value::Array(a) => Value::L(a.into_iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::M(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
    }
}

/// Attribute values back into plain JSON.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::S(s) => J::String(s.clone()),
        Value::N(n) => serde_json::from_str(n).unwrap_or(J::Null),
        Value::B(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
        Value::Bool(b) => J::Bool(*b),
        Value::Null(_) => J::Null,
        Value::L(l) => J::Array(l.iter().map(value_to_json).collect()),
        Value::M(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        Value::StringSet(s) => J::Array(s.iter().map(|x| J::String(x.clone())).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_dynamodb_json() {
        let item = Item::new(&Key::new("A#1", "B#2"))
            .with("n", Value::n(42))
            .with("b", Value::B(vec![1, 2, 3]))
            .with("ok", Value::Bool(true));
        let json = serde_json::to_value(&item).expect("serialise");
        assert_eq!(json["pk"], serde_json::json!({"S": "A#1"}));
        assert_eq!(json["n"], serde_json::json!({"N": "42"}));
        assert_eq!(json["b"], serde_json::json!({"B": "AQID"}));
        assert_eq!(json["ok"], serde_json::json!({"BOOL": true}));
        let back: Item = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, item);
    }

    #[test]
    fn expiry_is_inclusive_of_the_instant() {
        let item = Item::new(&Key::new("a", "b")).with(EXPIRES_AT, Value::n(100));
        assert!(!item.is_expired(99));
        assert!(item.is_expired(100));
        assert!(!Item::new(&Key::new("a", "b")).is_expired(i64::MAX));
    }
}
