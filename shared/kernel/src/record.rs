//! Reading a record straight out of an item's attribute values, with no JSON tree in between.
//! Every read of an alert, a hospital or a session decodes one; going through
//! `serde_json::Value` first cost a second copy of every string and map.
//!
//! The rules are those of the JSON round trip they replace: numbers are their decimal text,
//! `NULL` is `None`, binary is a list of bytes, a string set is a list of strings, and
//! attributes a record does not name are ignored (unless it denies unknown fields, as with
//! JSON).

use std::collections::btree_map;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use crate::item::Value;

#[derive(Debug)]
pub struct RecordError(String);

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RecordError {}

impl de::Error for RecordError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        RecordError(msg.to_string())
    }
}

/// One attribute value, read as serde data.
pub struct ValueDe<'a>(pub &'a Value);

/// The attributes of an item, read as a map.
pub struct MapDe<'a>(pub &'a std::collections::BTreeMap<String, Value>);

fn number<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, RecordError> {
    if let Ok(i) = text.parse::<i64>() {
        return visitor.visit_i64(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return visitor.visit_u64(u);
    }
    match text.parse::<f64>() {
        Ok(f) => visitor.visit_f64(f),
        Err(_) => Err(de::Error::custom("a number attribute that is not a number")),
    }
}

impl<'de, 'a: 'de> Deserializer<'de> for ValueDe<'a> {
    type Error = RecordError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RecordError> {
        match self.0 {
            Value::S(s) => visitor.visit_borrowed_str(s),
            Value::N(n) => number(n, visitor),
            Value::B(b) => visitor.visit_seq(Bytes(b.iter())),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Null(_) => visitor.visit_unit(),
            Value::L(l) => visitor.visit_seq(List(l.iter())),
            Value::M(m) => visitor.visit_map(Entries {
                entries: m.iter(),
                value: None,
            }),
            Value::StringSet(s) => visitor.visit_seq(Strings(s.iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RecordError> {
        match self.0 {
            Value::Null(_) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RecordError> {
        match self.0 {
            // Unit variants are their names, as in JSON.
            Value::S(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::M(m) if m.len() == 1 => {
                let (variant, value) = m.iter().next().expect("one entry");
                visitor.visit_enum(Variant { variant, value })
            }
            _ => Err(de::Error::custom("an enum is a name or a one-entry map")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, RecordError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de, 'a: 'de> Deserializer<'de> for MapDe<'a> {
    type Error = RecordError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RecordError> {
        visitor.visit_map(Entries {
            entries: self.0.iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Entries<'a> {
    entries: btree_map::Iter<'a, String, Value>,
    value: Option<&'a Value>,
}

impl<'de, 'a: 'de> MapAccess<'de> for Entries<'a> {
    type Error = RecordError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, RecordError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k.as_str()))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, RecordError> {
        match self.value.take() {
            Some(v) => seed.deserialize(ValueDe(v)),
            None => Err(de::Error::custom("a value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct List<'a>(std::slice::Iter<'a, Value>);

impl<'de, 'a: 'de> SeqAccess<'de> for List<'a> {
    type Error = RecordError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RecordError> {
        self.0
            .next()
            .map(|v| seed.deserialize(ValueDe(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Strings<'a>(std::slice::Iter<'a, String>);

impl<'de, 'a: 'de> SeqAccess<'de> for Strings<'a> {
    type Error = RecordError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RecordError> {
        self.0
            .next()
            .map(|s| seed.deserialize(de::value::BorrowedStrDeserializer::new(s.as_str())))
            .transpose()
    }
}

struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl<'de, 'a: 'de> SeqAccess<'de> for Bytes<'a> {
    type Error = RecordError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RecordError> {
        self.0
            .next()
            .map(|b| seed.deserialize((*b).into_deserializer()))
            .transpose()
    }
}

struct Variant<'a> {
    variant: &'a str,
    value: &'a Value,
}

impl<'de, 'a: 'de> de::EnumAccess<'de> for Variant<'a> {
    type Error = RecordError;
    type Variant = ValueDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, ValueDe<'a>), RecordError> {
        let name = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.variant))?;
        Ok((name, ValueDe(self.value)))
    }
}

impl<'de, 'a: 'de> de::VariantAccess<'de> for ValueDe<'a> {
    type Error = RecordError;

    fn unit_variant(self) -> Result<(), RecordError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, RecordError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, RecordError> {
        self.deserialize_any(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RecordError> {
        self.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use crate::item::{Item, Key, json_to_value, value_to_json};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Open,
        Closed,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Point { x: f64 },
        Named(String),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Record {
        name: String,
        count: u32,
        ratio: f64,
        big: u64,
        negative: i64,
        maybe: Option<String>,
        missing: Option<u8>,
        #[serde(default)]
        defaulted: Vec<String>,
        kind: Kind,
        shapes: Vec<Shape>,
        nested: BTreeMap<String, Vec<u16>>,
        flag: bool,
        bytes: Vec<u8>,
    }

    fn sample() -> Record {
        Record {
            name: "Kenyatta National Hospital".into(),
            count: 1455,
            ratio: 0.625,
            big: u64::MAX,
            negative: -3,
            maybe: Some("x".into()),
            missing: None,
            defaulted: vec![],
            kind: Kind::Closed,
            shapes: vec![Shape::Point { x: 1.5 }, Shape::Named("ward".into())],
            nested: BTreeMap::from([("icu".into(), vec![4, 2])]),
            flag: true,
            bytes: vec![0, 255, 7],
        }
    }

    #[test]
    fn a_record_reads_back_as_the_json_round_trip_read_it() {
        let item = Item::new(&Key::new("A#1", "B")).with_record(&sample());
        assert_eq!(item.to_record::<Record>(), Some(sample()));
        // The same answer as going through a JSON tree, which it replaces.
        let fields: serde_json::Map<String, serde_json::Value> = item
            .0
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect();
        let via_json: Record =
            serde_json::from_value(serde_json::Value::Object(fields)).expect("json");
        assert_eq!(via_json, sample());
        // Wrong shapes are refused, not guessed.
        let mut wrong = item.clone();
        wrong.set("count", json_to_value(serde_json::json!("many")));
        assert_eq!(wrong.to_record::<Record>(), None);
    }
}
