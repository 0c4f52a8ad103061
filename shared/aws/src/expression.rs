//! Renders typed conditions, updates and key conditions to DynamoDB expressions. Every name
//! becomes a `#nN` placeholder and every value a `:vN` placeholder, so no input is ever
//! spliced into expression text (and reserved words such as `status` need no care).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use haven_kernel::Value;
use haven_kernel::item::PK;
use haven_kernel::ports::table::Comparison;
use haven_kernel::ports::{Condition, Index, SortKey, Update};

use crate::attributes::to_attribute_value;

/// Placeholders shared by the expressions of one request (DynamoDB takes one name map and one
/// value map per request, and refuses unused entries; every placeholder made here is used).
#[derive(Debug, Default)]
pub(crate) struct Expression {
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

impl Expression {
    pub fn new() -> Self {
        Expression::default()
    }

    /// The placeholder of an attribute name; one name keeps one placeholder.
    pub fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.push((placeholder.clone(), name.to_owned()));
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }

    fn string(&mut self, text: &str) -> String {
        self.value(AttributeValue::S(text.to_owned()))
    }

    /// `ExpressionAttributeNames`, or `None` when empty (DynamoDB refuses an empty map).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().cloned().collect())
    }

    /// `ExpressionAttributeValues`, or `None` when empty.
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.iter().cloned().collect())
    }

    pub fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Exists(name) => format!("attribute_exists({})", self.name(name)),
            Condition::NotExists(name) => format!("attribute_not_exists({})", self.name(name)),
            Condition::Compare(name, op, value) => {
                let op = match op {
                    Comparison::Eq => "=",
                    Comparison::Ne => "<>",
                    Comparison::Lt => "<",
                    Comparison::Le => "<=",
                    Comparison::Gt => ">",
                    Comparison::Ge => ">=",
                };
                let name = self.name(name);
                let value = self.value(to_attribute_value(value));
                format!("{name} {op} {value}")
            }
            Condition::BeginsWith(name, prefix) => {
                let name = self.name(name);
                let prefix = self.string(prefix);
                format!("begins_with({name}, {prefix})")
            }
            Condition::And(all) => self.junction(all, "AND", true),
            Condition::Or(any) => self.junction(any, "OR", false),
            Condition::Not(inner) => format!("(NOT {})", self.condition(inner)),
        }
    }

    /// `AND` / `OR` of the parts. DynamoDB has no `TRUE` or `FALSE`, so an empty `And` (which
    /// always holds) and an empty `Or` (which never does) become a tautology or contradiction
    /// on the key attribute, matching `Condition::holds`.
    fn junction(&mut self, parts: &[Condition], operator: &str, empty_holds: bool) -> String {
        match parts {
            [] => {
                let pk = self.name(PK);
                if empty_holds {
                    format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
                } else {
                    format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
                }
            }
            [only] => self.condition(only),
            _ => {
                let rendered: Vec<String> = parts.iter().map(|c| self.condition(c)).collect();
                format!("({})", rendered.join(&format!(" {operator} ")))
            }
        }
    }

    /// The update expression (`SET ... REMOVE ... ADD ...`). Call `Update::validate` first:
    /// an empty update renders as an empty text, which DynamoDB refuses.
    pub fn update(&mut self, update: &Update) -> String {
        let mut clauses = Vec::new();
        let mut set = Vec::new();
        for (name, value) in &update.set {
            let name = self.name(name);
            let value = self.value(to_attribute_value(value));
            set.push(format!("{name} = {value}"));
        }
        for (name, value) in &update.set_if_absent {
            let name = self.name(name);
            let value = self.value(to_attribute_value(value));
            set.push(format!("{name} = if_not_exists({name}, {value})"));
        }
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !update.remove.is_empty() {
            let names: Vec<String> = update.remove.iter().map(|n| self.name(n)).collect();
            clauses.push(format!("REMOVE {}", names.join(", ")));
        }
        if !update.add.is_empty() {
            let mut adds = Vec::new();
            for (name, by) in &update.add {
                let name = self.name(name);
                let by = self.value(to_attribute_value(&Value::n(*by)));
                adds.push(format!("{name} {by}"));
            }
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        clauses.join(" ")
    }

    /// The key condition of a query on `index`.
    pub fn key_condition(
        &mut self,
        index: Index,
        partition: &str,
        sort: Option<&SortKey>,
    ) -> String {
        let p = self.name(index.partition_attribute());
        let pv = self.string(partition);
        let mut text = format!("{p} = {pv}");
        if let Some(sort) = sort {
            let s = self.name(index.sort_attribute());
            let rendered = match sort {
                SortKey::Eq(v) => format!("{s} = {}", self.string(v)),
                SortKey::BeginsWith(v) => format!("begins_with({s}, {})", self.string(v)),
                SortKey::Between(lo, hi) => {
                    let lo = self.string(lo);
                    let hi = self.string(hi);
                    format!("{s} BETWEEN {lo} AND {hi}")
                }
                SortKey::Lt(v) => format!("{s} < {}", self.string(v)),
                SortKey::Le(v) => format!("{s} <= {}", self.string(v)),
                SortKey::Gt(v) => format!("{s} > {}", self.string(v)),
                SortKey::Ge(v) => format!("{s} >= {}", self.string(v)),
            };
            text.push_str(" AND ");
            text.push_str(&rendered);
        }
        text
    }

    /// Keeps items whose TTL has not passed at `now` (epoch seconds): DynamoDB deletes
    /// expired items lazily, so a query still finds them until then.
    pub fn not_expired(&mut self, attribute: &str, now_epoch_seconds: i64) -> String {
        let e = self.name(attribute);
        let now = self.value(AttributeValue::N(now_epoch_seconds.to_string()));
        format!("(attribute_not_exists({e}) OR {e} > {now})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e: &Expression) -> Vec<(String, String)> {
        let mut n: Vec<_> = e.names().unwrap_or_default().into_iter().collect();
        n.sort();
        n
    }

    #[test]
    fn conditions_use_placeholders_for_every_name_and_value() {
        let mut e = Expression::new();
        let c = Condition::And(vec![
            Condition::item_present(),
            Condition::Or(vec![
                Condition::version_is(3),
                Condition::Compare("status".into(), Comparison::Ne, Value::s("x) OR (1=1")),
            ]),
            Condition::Not(Box::new(Condition::BeginsWith(
                "status".into(),
                "closed".into(),
            ))),
        ]);
        let text = e.condition(&c);
        assert_eq!(
            text,
            "(attribute_exists(#n0) AND (#n1 = :v0 OR #n2 <> :v1) AND (NOT begins_with(#n2, :v2)))"
        );
        assert_eq!(
            names(&e),
            [
                ("#n0".to_owned(), "pk".to_owned()),
                ("#n1".to_owned(), "version".to_owned()),
                ("#n2".to_owned(), "status".to_owned())
            ]
        );
        let values = e.values().unwrap_or_default();
        assert_eq!(values.get(":v0"), Some(&AttributeValue::N("3".into())));
        assert_eq!(
            values.get(":v1"),
            Some(&AttributeValue::S("x) OR (1=1".into()))
        );
        assert_eq!(values.get(":v2"), Some(&AttributeValue::S("closed".into())));
    }

    #[test]
    fn every_comparison_operator() {
        let ops = [
            (Comparison::Eq, "="),
            (Comparison::Ne, "<>"),
            (Comparison::Lt, "<"),
            (Comparison::Le, "<="),
            (Comparison::Gt, ">"),
            (Comparison::Ge, ">="),
        ];
        for (op, text) in ops {
            let mut e = Expression::new();
            let rendered = e.condition(&Condition::Compare("n".into(), op, Value::n(1)));
            assert_eq!(rendered, format!("#n0 {text} :v0"));
        }
        let mut e = Expression::new();
        assert_eq!(
            e.condition(&Condition::item_absent()),
            "attribute_not_exists(#n0)"
        );
    }

    #[test]
    fn empty_and_or_single_junctions() {
        let mut e = Expression::new();
        assert_eq!(
            e.condition(&Condition::And(vec![])),
            "(attribute_exists(#n0) OR attribute_not_exists(#n0))"
        );
        assert_eq!(
            e.condition(&Condition::Or(vec![])),
            "(attribute_exists(#n0) AND attribute_not_exists(#n0))"
        );
        assert_eq!(
            e.condition(&Condition::Or(vec![Condition::item_absent()])),
            "attribute_not_exists(#n0)"
        );
        assert!(e.values().is_none(), "no values: the map is left out");
    }

    #[test]
    fn updates_render_set_if_not_exists_remove_and_add() {
        let mut e = Expression::new();
        let u = Update::new()
            .set("status", Value::s("acked"))
            .set_if_absent("created_at", Value::n(7))
            .remove("lease")
            .add("version", 1);
        let text = e.update(&u);
        assert_eq!(
            text,
            "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) REMOVE #n2 ADD #n3 :v2"
        );
        // The condition of the same request continues the numbering.
        assert_eq!(e.condition(&Condition::version_is(4)), "#n3 = :v3");
        assert_eq!(e.values().map(|v| v.len()), Some(4));
        assert_eq!(
            e.update(&Update::new().remove("a").remove("b")),
            "REMOVE #n4, #n5"
        );
        assert_eq!(e.values().map(|v| v.len()), Some(4));
    }

    #[test]
    fn key_conditions_on_each_sort_operator_and_index() {
        let cases = [
            (SortKey::Eq("A".into()), "#n1 = :v1"),
            (SortKey::BeginsWith("A".into()), "begins_with(#n1, :v1)"),
            (
                SortKey::Between("A".into(), "B".into()),
                "#n1 BETWEEN :v1 AND :v2",
            ),
            (SortKey::Lt("A".into()), "#n1 < :v1"),
            (SortKey::Le("A".into()), "#n1 <= :v1"),
            (SortKey::Gt("A".into()), "#n1 > :v1"),
            (SortKey::Ge("A".into()), "#n1 >= :v1"),
        ];
        for (sort, want) in cases {
            let mut e = Expression::new();
            assert_eq!(
                e.key_condition(Index::Gsi3, "GEO#kzf0", Some(&sort)),
                format!("#n0 = :v0 AND {want}")
            );
            assert_eq!(
                names(&e),
                [
                    ("#n0".to_owned(), "gsi3pk".to_owned()),
                    ("#n1".to_owned(), "gsi3sk".to_owned())
                ]
            );
        }
        let mut e = Expression::new();
        assert_eq!(e.key_condition(Index::Table, "P", None), "#n0 = :v0");
        assert_eq!(names(&e), [("#n0".to_owned(), "pk".to_owned())]);
        assert_eq!(
            e.not_expired("expires_at", 1_700_000_000),
            "(attribute_not_exists(#n1) OR #n1 > :v1)"
        );
        assert_eq!(
            e.values().and_then(|v| v.get(":v1").cloned()),
            Some(AttributeValue::N("1700000000".into()))
        );
    }
}
