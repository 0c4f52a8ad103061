//! SNS subscription filter policies on message attributes (`FilterPolicyScope:
//! MessageAttributes`), so the embedded topics fan out exactly as SNS does.
//!
//! A policy is a JSON object; every key must match (AND), and each key holds an array of
//! alternatives (OR). Attribute values are text; a value that is a JSON array stands for an SNS
//! `String.Array` and matches when any element does. Numbers compare numerically because the
//! port's attributes carry no type, so a numeric-looking text is taken as an SNS `Number`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A parsed filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    rules: Vec<(String, Vec<Pattern>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    Number(f64),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Literal>),
    AnythingButPrefix(String),
    AnythingButSuffix(String),
    Exists(bool),
    /// All comparisons must hold.
    Numeric(Vec<(NumericOp, f64)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NumericOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One value of an attribute: the attribute itself, or one element of its array.
struct Candidate {
    text: String,
    number: Option<f64>,
}

impl Candidate {
    fn new(text: String) -> Self {
        let number = text.trim().parse::<f64>().ok().filter(|n| n.is_finite());
        Candidate { text, number }
    }
}

fn candidates(value: &str) -> Vec<Candidate> {
    let array = if value.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Json>>(value).ok()
    } else {
        None
    };
    if let Some(elements) = array {
        return elements
            .into_iter()
            .filter_map(|e| match e {
                Json::String(s) => Some(Candidate::new(s)),
                Json::Number(n) => Some(Candidate::new(n.to_string())),
                // SNS arrays may hold booleans and nulls; no pattern here matches them.
                _ => None,
            })
            .collect();
    }
    vec![Candidate::new(value.to_owned())]
}

impl FilterPolicy {
    /// Parses a policy; empty text or `{}` matches every message.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(FilterPolicy { rules: Vec::new() });
        }
        let json: Json =
            serde_json::from_str(text).map_err(|_| "a filter policy must be JSON".to_owned())?;
        let Json::Object(map) = json else {
            return Err("a filter policy must be a JSON object".to_owned());
        };
        let mut rules = Vec::with_capacity(map.len());
        for (name, alternatives) in map {
            let Json::Array(alternatives) = alternatives else {
                return Err(format!("the policy for {name} must be an array"));
            };
            if alternatives.is_empty() {
                return Err(format!("the policy for {name} must not be empty"));
            }
            let patterns = alternatives
                .iter()
                .map(|a| parse_pattern(a).map_err(|e| format!("{name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            rules.push((name, patterns));
        }
        Ok(FilterPolicy { rules })
    }

    /// Whether a message with these attributes passes the policy.
    pub fn matches(&self, attributes: &BTreeMap<String, String>) -> bool {
        self.rules.iter().all(|(name, patterns)| {
            let values = attributes.get(name).map(|v| candidates(v));
            patterns.iter().any(|p| p.matches(values.as_deref()))
        })
    }
}

fn parse_pattern(json: &Json) -> Result<Pattern, String> {
    match json {
        Json::String(s) => Ok(Pattern::Exact(s.clone())),
        Json::Number(n) => Ok(Pattern::Number(number(n)?)),
        Json::Object(map) => {
            let mut entries = map.iter();
            let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
                return Err("an operator object holds exactly one operator".to_owned());
            };
            match (op.as_str(), arg) {
                ("prefix", Json::String(p)) => Ok(Pattern::Prefix(p.clone())),
                ("suffix", Json::String(p)) => Ok(Pattern::Suffix(p.clone())),
                ("equals-ignore-case", Json::String(p)) => Ok(Pattern::EqualsIgnoreCase(p.clone())),
                ("exists", Json::Bool(b)) => Ok(Pattern::Exists(*b)),
                ("anything-but", arg) => parse_anything_but(arg),
                ("numeric", Json::Array(parts)) => parse_numeric(parts),
                (op, _) => Err(format!("unsupported operator or argument: {op}")),
            }
        }
        _ => Err("an alternative is a string, a number or an operator object".to_owned()),
    }
}

fn number(n: &serde_json::Number) -> Result<f64, String> {
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| "a number is out of range".to_owned())
}

fn literal(json: &Json) -> Result<Literal, String> {
    match json {
        Json::String(s) => Ok(Literal::Text(s.clone())),
        Json::Number(n) => Ok(Literal::Number(number(n)?)),
        _ => Err("anything-but takes strings or numbers".to_owned()),
    }
}

fn parse_anything_but(arg: &Json) -> Result<Pattern, String> {
    match arg {
        Json::Array(items) if !items.is_empty() => Ok(Pattern::AnythingBut(
            items.iter().map(literal).collect::<Result<_, _>>()?,
        )),
        Json::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((op, Json::String(p))) if op == "prefix" => {
                Ok(Pattern::AnythingButPrefix(p.clone()))
            }
            Some((op, Json::String(p))) if op == "suffix" => {
                Ok(Pattern::AnythingButSuffix(p.clone()))
            }
            _ => Err("anything-but takes a prefix or suffix object".to_owned()),
        },
        Json::String(_) | Json::Number(_) => Ok(Pattern::AnythingBut(vec![literal(arg)?])),
        _ => Err("anything-but takes a value, a non-empty array or a prefix/suffix".to_owned()),
    }
}

fn parse_numeric(parts: &[Json]) -> Result<Pattern, String> {
    if parts.is_empty() || !parts.len().is_multiple_of(2) {
        return Err("numeric takes operator/number pairs".to_owned());
    }
    let mut comparisons = Vec::with_capacity(parts.len() / 2);
    for pair in parts.chunks_exact(2) {
        let op = match pair[0].as_str() {
            Some("=") => NumericOp::Eq,
            Some("<") => NumericOp::Lt,
            Some("<=") => NumericOp::Le,
            Some(">") => NumericOp::Gt,
            Some(">=") => NumericOp::Ge,
            _ => return Err("numeric operators are =, <, <=, >, >=".to_owned()),
        };
        let Json::Number(n) = &pair[1] else {
            return Err("numeric compares with numbers".to_owned());
        };
        comparisons.push((op, number(n)?));
    }
    Ok(Pattern::Numeric(comparisons))
}

impl Pattern {
    /// `values` is `None` when the attribute is missing.
    fn matches(&self, values: Option<&[Candidate]>) -> bool {
        let Some(values) = values else {
            // A missing attribute fails every pattern but `exists: false`.
            return matches!(self, Pattern::Exists(false));
        };
        match self {
            Pattern::Exists(present) => *present,
            _ => values.iter().any(|v| self.matches_one(v)),
        }
    }

    fn matches_one(&self, v: &Candidate) -> bool {
        match self {
            Pattern::Exact(s) => v.text == *s,
            Pattern::Number(n) => v.number == Some(*n),
            Pattern::Prefix(p) => v.text.starts_with(p.as_str()),
            Pattern::Suffix(p) => v.text.ends_with(p.as_str()),
            Pattern::EqualsIgnoreCase(s) => v.text.to_lowercase() == s.to_lowercase(),
            Pattern::AnythingBut(literals) => !literals.iter().any(|l| match l {
                Literal::Text(s) => v.text == *s,
                Literal::Number(n) => v.number == Some(*n),
            }),
            Pattern::AnythingButPrefix(p) => !v.text.starts_with(p.as_str()),
            Pattern::AnythingButSuffix(p) => !v.text.ends_with(p.as_str()),
            Pattern::Exists(present) => *present,
            Pattern::Numeric(comparisons) => v.number.is_some_and(|x| {
                comparisons.iter().all(|(op, n)| match op {
                    NumericOp::Eq => x == *n,
                    NumericOp::Lt => x < *n,
                    NumericOp::Le => x <= *n,
                    NumericOp::Gt => x > *n,
                    NumericOp::Ge => x >= *n,
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn matches(policy: &str, pairs: &[(&str, &str)]) -> bool {
        FilterPolicy::parse(policy)
            .expect("policy parses")
            .matches(&attrs(pairs))
    }

    #[test]
    fn empty_policy_matches_everything() {
        assert!(matches("", &[]));
        assert!(matches("{}", &[("a", "b")]));
    }

    #[test]
    fn exact_strings_are_alternatives() {
        let p = r#"{"kind":["fire","flood"]}"#;
        assert!(matches(p, &[("kind", "fire")]));
        assert!(matches(p, &[("kind", "flood")]));
        assert!(!matches(p, &[("kind", "Fire")]));
        assert!(!matches(p, &[]));
    }

    #[test]
    fn every_key_must_match() {
        let p = r#"{"kind":["fire"],"level":["high"]}"#;
        assert!(matches(p, &[("kind", "fire"), ("level", "high")]));
        assert!(!matches(p, &[("kind", "fire"), ("level", "low")]));
        assert!(!matches(p, &[("kind", "fire")]));
    }

    #[test]
    fn string_arrays_match_when_any_element_does() {
        let p = r#"{"channels":["sms"]}"#;
        assert!(matches(p, &[("channels", r#"["webhook","sms"]"#)]));
        assert!(!matches(
            p,
            &[("channels", r#"["webhook","hospital-api"]"#)]
        ));
        assert!(!matches(p, &[("channels", "[]")]));
        // Not valid JSON: an ordinary string.
        assert!(matches(r#"{"channels":["[sms"]}"#, &[("channels", "[sms")]));
        assert!(matches(
            r#"{"n":[{"numeric":[">",4]}]}"#,
            &[("n", "[1, 5]")]
        ));
    }

    #[test]
    fn numbers_compare_numerically() {
        assert!(matches(r#"{"n":[5]}"#, &[("n", "5.0")]));
        assert!(!matches(r#"{"n":[5]}"#, &[("n", "five")]));
        assert!(!matches(r#"{"n":["5"]}"#, &[("n", "5.0")]));
    }

    #[test]
    fn prefix_suffix_and_case() {
        assert!(matches(
            r#"{"a":[{"prefix":"ke-"}]}"#,
            &[("a", "ke-nairobi")]
        ));
        assert!(!matches(
            r#"{"a":[{"prefix":"ke-"}]}"#,
            &[("a", "ug-kampala")]
        ));
        assert!(matches(r#"{"a":[{"suffix":".png"}]}"#, &[("a", "x.png")]));
        assert!(matches(
            r#"{"a":[{"equals-ignore-case":"SMS"}]}"#,
            &[("a", "sms")]
        ));
    }

    #[test]
    fn anything_but_forms() {
        let list = r#"{"a":[{"anything-but":["x","y"]}]}"#;
        assert!(matches(list, &[("a", "z")]));
        assert!(!matches(list, &[("a", "x")]));
        assert!(
            !matches(list, &[]),
            "a missing attribute fails anything-but"
        );
        assert!(matches(r#"{"a":[{"anything-but":"x"}]}"#, &[("a", "y")]));
        assert!(!matches(r#"{"a":[{"anything-but":"x"}]}"#, &[("a", "x")]));
        assert!(!matches(r#"{"a":[{"anything-but":[5]}]}"#, &[("a", "5")]));
        assert!(matches(
            r#"{"a":[{"anything-but":{"prefix":"test-"}}]}"#,
            &[("a", "prod-1")]
        ));
        assert!(!matches(
            r#"{"a":[{"anything-but":{"prefix":"test-"}}]}"#,
            &[("a", "test-1")]
        ));
        // Arrays: any element outside the list is enough.
        assert!(matches(list, &[("a", r#"["x","z"]"#)]));
        assert!(!matches(list, &[("a", r#"["x","y"]"#)]));
    }

    #[test]
    fn exists() {
        assert!(matches(r#"{"a":[{"exists":true}]}"#, &[("a", "")]));
        assert!(!matches(r#"{"a":[{"exists":true}]}"#, &[]));
        assert!(matches(r#"{"a":[{"exists":false}]}"#, &[]));
        assert!(!matches(r#"{"a":[{"exists":false}]}"#, &[("a", "1")]));
        // exists:false is the one alternative a missing attribute can satisfy.
        assert!(matches(r#"{"a":["x",{"exists":false}]}"#, &[]));
    }

    #[test]
    fn numeric_ranges() {
        let p = r#"{"n":[{"numeric":[">=",0,"<",5]}]}"#;
        assert!(matches(p, &[("n", "0")]));
        assert!(matches(p, &[("n", "4.99")]));
        assert!(!matches(p, &[("n", "5")]));
        assert!(!matches(p, &[("n", "-1")]));
        assert!(!matches(p, &[("n", "abc")]));
        assert!(!matches(p, &[]));
        assert!(matches(r#"{"n":[{"numeric":["=",1]}]}"#, &[("n", "1.0")]));
        assert!(matches(
            r#"{"n":[{"numeric":[">",1,"<=",2]}]}"#,
            &[("n", "2")]
        ));
    }

    #[test]
    fn the_catalogue_policies_parse() {
        for topic in haven_kernel::catalogue::TOPICS {
            for s in topic.subscriptions {
                FilterPolicy::parse(s.filter_policy).expect("catalogue policy parses");
            }
        }
    }

    #[test]
    fn malformed_policies_are_refused() {
        for bad in [
            "[]",
            "not json",
            r#"{"a":"x"}"#,
            r#"{"a":[]}"#,
            r#"{"a":[{"numeric":[">"]}]}"#,
            r#"{"a":[{"numeric":["~",1]}]}"#,
            r#"{"a":[{"wildcard":"*"}]}"#,
            r#"{"a":[{"prefix":"x","suffix":"y"}]}"#,
            r#"{"a":[{"anything-but":[]}]}"#,
            r#"{"a":[true]}"#,
        ] {
            assert!(FilterPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
