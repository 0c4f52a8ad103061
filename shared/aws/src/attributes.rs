//! Conversion between the domain's [`Value`] and DynamoDB's [`AttributeValue`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use haven_kernel::ports::TableError;
use haven_kernel::{Item, Key, Value};

pub fn to_attribute_value(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.clone()),
        Value::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null(b) => AttributeValue::Null(*b),
        Value::L(l) => AttributeValue::L(l.iter().map(to_attribute_value).collect()),
        Value::M(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), to_attribute_value(v)))
                .collect(),
        ),
        Value::StringSet(ss) => AttributeValue::Ss(ss.clone()),
    }
}

/// `Err` names the DynamoDB type Haven has no value for (`NS`, `BS`, or one newer than
/// this SDK); Haven never writes those.
pub fn from_attribute_value(value: AttributeValue) -> Result<Value, &'static str> {
    Ok(match value {
        AttributeValue::S(s) => Value::S(s),
        AttributeValue::N(n) => Value::N(n),
        AttributeValue::B(b) => Value::B(b.into_inner()),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Null(b) => Value::Null(b),
        AttributeValue::L(l) => Value::L(
            l.into_iter()
                .map(from_attribute_value)
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(m) => Value::M(
            m.into_iter()
                .map(|(k, v)| Ok((k, from_attribute_value(v)?)))
                .collect::<Result<BTreeMap<_, _>, &'static str>>()?,
        ),
        AttributeValue::Ss(ss) => Value::StringSet(ss),
        AttributeValue::Ns(_) => return Err("NS"),
        AttributeValue::Bs(_) => return Err("BS"),
        _ => return Err("an unknown type"),
    })
}

pub fn item_to_attributes(item: &Item) -> HashMap<String, AttributeValue> {
    item.0
        .iter()
        .map(|(k, v)| (k.clone(), to_attribute_value(v)))
        .collect()
}

/// Reads an item; an attribute of a type Haven does not use is an error naming the
/// attribute and type, never its value.
pub fn item_from_attributes(
    attributes: HashMap<String, AttributeValue>,
) -> Result<Item, TableError> {
    let mut item = Item::default();
    for (name, value) in attributes {
        let value = from_attribute_value(value).map_err(|kind| {
            TableError::Invalid(format!(
                "attribute {name} holds {kind}, which Haven does not read"
            ))
        })?;
        item.0.insert(name, value);
    }
    Ok(item)
}

pub fn key_to_attributes(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            haven_kernel::item::PK.to_owned(),
            AttributeValue::S(key.pk.clone()),
        ),
        (
            haven_kernel::item::SK.to_owned(),
            AttributeValue::S(key.sk.clone()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Value {
        Value::M(BTreeMap::from([
            ("s".to_owned(), Value::s("Kenyatta National Hospital")),
            ("n".to_owned(), Value::N("-12.5e3".to_owned())),
            (
                "big".to_owned(),
                Value::N("123456789012345678901234567890".to_owned()),
            ),
            ("b".to_owned(), Value::B(vec![0, 1, 254, 255])),
            ("t".to_owned(), Value::Bool(true)),
            ("null".to_owned(), Value::Null(true)),
            ("empty".to_owned(), Value::s("")),
            (
                "l".to_owned(),
                Value::L(vec![
                    Value::n(1),
                    Value::s("x"),
                    Value::L(vec![]),
                    Value::M(BTreeMap::new()),
                ]),
            ),
            (
                "ss".to_owned(),
                Value::StringSet(vec!["sms".into(), "webhook".into()]),
            ),
        ]))
    }

    #[test]
    fn every_value_round_trips() {
        let value = every_kind();
        let attribute = to_attribute_value(&value);
        assert_eq!(from_attribute_value(attribute), Ok(value));
    }

    #[test]
    fn values_map_to_the_matching_dynamodb_types() {
        assert_eq!(
            to_attribute_value(&Value::n(42)),
            AttributeValue::N("42".into())
        );
        assert_eq!(
            to_attribute_value(&Value::Bool(false)),
            AttributeValue::Bool(false)
        );
        assert_eq!(
            to_attribute_value(&Value::StringSet(vec!["a".into()])),
            AttributeValue::Ss(vec!["a".into()])
        );
        assert_eq!(
            to_attribute_value(&Value::B(vec![7])),
            AttributeValue::B(Blob::new(vec![7]))
        );
    }

    #[test]
    fn items_round_trip_and_unused_types_are_refused_by_name() {
        let item = Item::new(&Key::new("A#1", "META")).with("all", every_kind());
        assert_eq!(item_from_attributes(item_to_attributes(&item)), Ok(item));
        let odd = HashMap::from([("scores".to_owned(), AttributeValue::Ns(vec!["1".into()]))]);
        match item_from_attributes(odd) {
            Err(TableError::Invalid(m)) => assert!(m.contains("scores") && m.contains("NS"), "{m}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn keys_are_two_strings() {
        let key = key_to_attributes(&Key::new("p", "s"));
        assert_eq!(key.get("pk"), Some(&AttributeValue::S("p".into())));
        assert_eq!(key.get("sk"), Some(&AttributeValue::S("s".into())));
    }
}
