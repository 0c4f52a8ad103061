//! Reading an ORU^R01 (HL7 v2.5 unsolicited observation result) into typed results. The bytes
//! are parsed by `haven-hl7` (MLLP framing, CR/LF/CRLF, escape sequences, repetitions,
//! Z-segments); this reads the groups: PID, then per order an optional ORC and an OBR with its
//! NTEs and OBX segments, each OBX with its own NTEs. Z-segments and segments it does not use
//! (PD1, PV1, SPM, TQ1…) are passed over.
//!
//! Every problem is collected with its place (segment, occurrence, field, component) and its
//! HL7 table 0357 code, and a message with any problem yields no results at all: a result that
//! cannot be fully understood is not half stored.
//!
//! Choices where the standard leaves room, each what a receiver should do with messy senders:
//! - ST, TX and FT values are the whole repetition, components joined by `^` (a sender that
//!   did not escape a caret still means one text); each repetition is one value.
//! - An NM value may start with a comparator (`<5`, `>=200`): labs send it so, and it is read
//!   as SN would be.
//! - Numbers are decimals kept exact (`Decimal`), never floats.

use haven_hl7::Message;
use haven_hl7::ack::ErrorDetail;
use serde::Serialize;

use crate::decimal::Decimal;

/// Table 0357 codes used here.
const REQUIRED_FIELD_MISSING: u16 = 101;
const DATA_TYPE_ERROR: u16 = 102;
const TABLE_VALUE_NOT_FOUND: u16 = 103;
const SEGMENT_SEQUENCE_ERROR: u16 = 100;

/// A coded element (CE/CWE): identifier, text, coding system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coded {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// OBX-2, the type of OBX-5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValueType {
    NM,
    SN,
    ST,
    TX,
    FT,
    CE,
    CWE,
}

impl ValueType {
    fn parse(text: &str) -> Option<ValueType> {
        Some(match text {
            "NM" => ValueType::NM,
            "SN" => ValueType::SN,
            "ST" => ValueType::ST,
            "TX" => ValueType::TX,
            "FT" => ValueType::FT,
            "CE" => ValueType::CE,
            "CWE" => ValueType::CWE,
            _ => return None,
        })
    }
}

/// One value of OBX-5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// NM, or SN with one number: an optional comparator (`<`, `>`, `<=`, `>=`, `=`, `<>`).
    Number {
        #[serde(skip_serializing_if = "Option::is_none")]
        comparator: Option<String>,
        value: String,
    },
    /// SN with two numbers: a ratio (`:`, `/`) or a range (`-`), as `1:128` or `10-20`.
    Pair {
        #[serde(skip_serializing_if = "Option::is_none")]
        comparator: Option<String>,
        first: String,
        separator: String,
        second: String,
    },
    Text {
        text: String,
    },
    Coded(Coded),
}

/// Table 0078, interpretation codes (v2.5, and POS/NEG, which labs send).
pub const ABNORMAL_FLAGS: &[&str] = &[
    "L", "H", "LL", "HH", "<", ">", "N", "A", "AA", "U", "D", "B", "W", "S", "R", "I", "MS", "VS",
    "POS", "NEG",
];

/// Table 0085, the status of an observation's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResultStatus {
    /// C: a correction of a result sent before.
    Corrected,
    /// D: delete the result sent before.
    Deleted,
    /// F: final.
    Final,
    /// I: specimen in lab, no result yet.
    Pending,
    /// P: preliminary.
    Preliminary,
    /// R: entered, not verified.
    Unverified,
    /// S: partial.
    Partial,
    /// U: the last result, now final (no value change).
    MadeFinal,
    /// W: the result was for the wrong patient: withdraw it.
    WrongPatient,
    /// X: the result cannot be obtained.
    CannotObtain,
    /// N, O: not asked for / order detail: no result.
    NoResult,
}

impl ResultStatus {
    fn parse(text: &str) -> Option<ResultStatus> {
        Some(match text {
            "C" => ResultStatus::Corrected,
            "D" => ResultStatus::Deleted,
            "F" => ResultStatus::Final,
            "I" => ResultStatus::Pending,
            "P" => ResultStatus::Preliminary,
            "R" => ResultStatus::Unverified,
            "S" => ResultStatus::Partial,
            "U" => ResultStatus::MadeFinal,
            "W" => ResultStatus::WrongPatient,
            "X" => ResultStatus::CannotObtain,
            "N" | "O" => ResultStatus::NoResult,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            ResultStatus::Corrected => "C",
            ResultStatus::Deleted => "D",
            ResultStatus::Final => "F",
            ResultStatus::Pending => "I",
            ResultStatus::Preliminary => "P",
            ResultStatus::Unverified => "R",
            ResultStatus::Partial => "S",
            ResultStatus::MadeFinal => "U",
            ResultStatus::WrongPatient => "W",
            ResultStatus::CannotObtain => "X",
            ResultStatus::NoResult => "N",
        }
    }
}

/// One OBX with its notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// OBX-1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_id: Option<String>,
    pub value_type: Option<ValueType>,
    /// OBX-3: what was observed (a LOINC code, usually).
    pub code: Coded,
    /// OBX-4: tells apart several OBX of one code in a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_id: Option<String>,
    /// OBX-5, one per repetition.
    pub values: Vec<Value>,
    /// OBX-6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Coded>,
    /// OBX-7, as sent (`3.5-5.1`, `<200`, `negative`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_range: Option<String>,
    /// OBX-8, table 0078.
    pub abnormal_flags: Vec<String>,
    /// OBX-11, table 0085.
    pub status: ResultStatus,
    /// OBX-14.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// NTE-3 of the NTEs after this OBX, each repetition a line.
    pub notes: Vec<String>,
}

/// One OBR (with its ORC, if any): one ordered test or panel and its observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultGroup {
    /// OBR-2.1, else ORC-2.1: the placer's (Haven's) order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placer_order: Option<String>,
    /// OBR-3.1, else ORC-3.1: the lab's own number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filler_order: Option<String>,
    /// OBR-4.
    pub service: Coded,
    /// OBR-25, table 0123.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// NTEs after the OBR, before its first OBX.
    pub notes: Vec<String>,
    pub observations: Vec<Observation>,
}

/// PID as results need it: whose they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PatientRef {
    /// PID-3: (id, type code) of each repetition.
    pub identifiers: Vec<(String, Option<String>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

/// An ORU^R01 read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultMessage {
    /// MSH-10: a second message with the same id is a resend.
    pub control_id: String,
    pub patient: PatientRef,
    pub groups: Vec<ResultGroup>,
}

struct Problems(Vec<ErrorDetail>);

impl Problems {
    fn add(
        &mut self,
        (segment, sequence): (&str, usize),
        field: usize,
        component: Option<usize>,
        code: u16,
        text: impl Into<String>,
    ) {
        self.0.push(ErrorDetail {
            segment: segment.to_owned(),
            sequence,
            field: Some(field),
            component,
            code,
            text: text.into(),
        });
    }
}

fn coded(rep: Option<&haven_hl7::Repetition>) -> Coded {
    let part = |n| rep.and_then(|r| r.component(n)).map(str::to_owned);
    Coded {
        code: part(1),
        text: part(2),
        system: part(3),
    }
}

/// A repetition as one text: components joined by `^`, subcomponents by `&`, trailing empty
/// parts dropped (a sender's unescaped caret is still one text).
fn whole_text(rep: &haven_hl7::Repetition) -> String {
    let mut parts: Vec<String> = rep
        .components
        .iter()
        .map(|c| {
            let mut subs: Vec<&str> = c.subcomponents.iter().map(String::as_str).collect();
            while subs.last().is_some_and(|s| s.is_empty()) {
                subs.pop();
            }
            subs.join("&")
        })
        .collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts.join("^")
}

const COMPARATORS: [&str; 6] = ["<=", ">=", "<>", "<", ">", "="];

/// `<5`, `>= 200`, `7.2`: an optional comparator and a decimal.
fn number_with_comparator(text: &str) -> Option<(Option<String>, String)> {
    let text = text.trim();
    let (comparator, rest) = COMPARATORS
        .iter()
        .find_map(|c| {
            text.strip_prefix(c)
                .map(|rest| (Some((*c).to_owned()), rest))
        })
        .unwrap_or((None, text));
    let rest = rest.trim();
    Decimal::parse(rest)?;
    Some((comparator, rest.to_owned()))
}

fn read_value(value_type: ValueType, rep: &haven_hl7::Repetition) -> Result<Value, &'static str> {
    match value_type {
        ValueType::NM => {
            let text = rep.component(1).unwrap_or_default();
            let (comparator, value) = number_with_comparator(text)
                .ok_or("an NM value is a number, optionally after a comparator")?;
            Ok(Value::Number { comparator, value })
        }
        ValueType::SN => {
            let comparator = rep.component(1).map(str::to_owned);
            if comparator
                .as_deref()
                .is_some_and(|c| !COMPARATORS.contains(&c))
            {
                return Err("SN-1 is a comparator: <, >, <=, >=, = or <>");
            }
            let first = rep.component(2).ok_or("SN-2 holds the number")?;
            Decimal::parse(first).ok_or("SN-2 is a number")?;
            match (rep.component(3), rep.component(4)) {
                (None, None) => Ok(Value::Number {
                    comparator,
                    value: first.trim().to_owned(),
                }),
                (Some(sep), Some(second)) if matches!(sep, ":" | "/" | "-" | "+" | ".") => {
                    Decimal::parse(second).ok_or("SN-4 is a number")?;
                    Ok(Value::Pair {
                        comparator,
                        first: first.trim().to_owned(),
                        separator: sep.to_owned(),
                        second: second.trim().to_owned(),
                    })
                }
                _ => Err("SN-3 is a separator (: / - + .) and SN-4 a second number"),
            }
        }
        ValueType::ST | ValueType::TX | ValueType::FT => Ok(Value::Text {
            text: whole_text(rep),
        }),
        ValueType::CE | ValueType::CWE => {
            let c = coded(Some(rep));
            if c.code.is_none() && c.text.is_none() {
                return Err("a coded value has a code or a text");
            }
            Ok(Value::Coded(c))
        }
    }
}

fn notes_of(segment: &haven_hl7::Segment) -> Vec<String> {
    segment.repetitions(3).iter().map(whole_text).collect()
}

fn observation(
    obx: &haven_hl7::Segment,
    at: (&str, usize),
    problems: &mut Problems,
) -> Option<Observation> {
    let before = problems.0.len();
    let value_type = match obx.value(2) {
        None => None,
        Some(t) => match ValueType::parse(t) {
            Some(v) => Some(v),
            None => {
                problems.add(
                    at,
                    2,
                    None,
                    TABLE_VALUE_NOT_FOUND,
                    format!("OBX-2 value type {t} is not one Haven reads (NM SN ST TX FT CE CWE)"),
                );
                None
            }
        },
    };
    let code = coded(obx.repetitions(3).first());
    if code.code.is_none() && code.text.is_none() {
        problems.add(
            at,
            3,
            Some(1),
            REQUIRED_FIELD_MISSING,
            "OBX-3 names what was observed",
        );
    }
    let mut values = Vec::new();
    match (value_type, obx.repetitions(5)) {
        (_, []) => {}
        // An unknown type was reported above.
        (None, _) if obx.value(2).is_some() => {}
        (None, _) => problems.add(
            at,
            2,
            None,
            REQUIRED_FIELD_MISSING,
            "OBX-2 gives the type of the value in OBX-5",
        ),
        (Some(t), reps) => {
            for (i, rep) in reps.iter().enumerate() {
                match read_value(t, rep) {
                    Ok(v) => values.push(v),
                    Err(reason) => problems.add(
                        at,
                        5,
                        Some(1),
                        DATA_TYPE_ERROR,
                        if reps.len() > 1 {
                            format!("repetition {}: {reason}", i + 1)
                        } else {
                            reason.to_owned()
                        },
                    ),
                }
            }
        }
    }
    let mut abnormal_flags = Vec::new();
    for rep in obx.repetitions(8) {
        let Some(flag) = rep.component(1) else {
            continue;
        };
        if ABNORMAL_FLAGS.contains(&flag) {
            abnormal_flags.push(flag.to_owned());
        } else {
            problems.add(
                at,
                8,
                None,
                TABLE_VALUE_NOT_FOUND,
                format!("OBX-8 flag {flag} is not in HL7 table 0078"),
            );
        }
    }
    let status = match obx.value(11) {
        None => {
            problems.add(
                at,
                11,
                None,
                REQUIRED_FIELD_MISSING,
                "OBX-11 gives the result status",
            );
            None
        }
        Some(s) => match ResultStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                problems.add(
                    at,
                    11,
                    None,
                    TABLE_VALUE_NOT_FOUND,
                    format!("OBX-11 status {s} is not in HL7 table 0085"),
                );
                None
            }
        },
    };
    let units = obx.repetitions(6).first().map(|r| coded(Some(r)));
    if problems.0.len() > before {
        return None;
    }
    Some(Observation {
        set_id: obx.value(1).map(str::to_owned),
        value_type,
        code,
        sub_id: obx.value(4).map(str::to_owned),
        values,
        units: units.filter(|u| *u != Coded::default()),
        reference_range: obx
            .repetitions(7)
            .first()
            .map(whole_text)
            .filter(|r| !r.is_empty()),
        abnormal_flags,
        status: status?,
        observed_at: obx.value(14).map(str::to_owned),
        notes: Vec::new(),
    })
}

/// Reads a parsed ORU^R01, or says every problem with its place.
pub fn read(message: &Message) -> Result<ResultMessage, Vec<ErrorDetail>> {
    let mut problems = Problems(Vec::new());
    let control_id = message.control_id().unwrap_or_default().to_owned();
    let mut patient = None;
    let mut groups: Vec<ResultGroup> = Vec::new();
    let mut pending_orc: Option<&haven_hl7::Segment> = None;
    // Where an NTE belongs: the last OBX of the group, else the group's OBR.
    let mut seen: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for segment in &message.segments {
        let n = seen.entry(segment.name.as_str()).or_insert(0);
        *n += 1;
        let at = (segment.name.as_str(), *n);
        match segment.name.as_str() {
            "PID" => {
                patient = Some(PatientRef {
                    identifiers: segment
                        .repetitions(3)
                        .iter()
                        .filter_map(|r| {
                            r.component(1)
                                .map(|id| (id.to_owned(), r.component(5).map(str::to_owned)))
                        })
                        .collect(),
                    family_name: segment.get(5, 1).map(str::to_owned),
                    given_name: segment.get(5, 2).map(str::to_owned),
                })
            }
            "ORC" => pending_orc = Some(segment),
            "OBR" => {
                let orc = pending_orc.take();
                let from_orc = |f: usize| orc.and_then(|o| o.value(f)).map(str::to_owned);
                let service = coded(segment.repetitions(4).first());
                if service.code.is_none() && service.text.is_none() {
                    problems.add(
                        at,
                        4,
                        Some(1),
                        REQUIRED_FIELD_MISSING,
                        "OBR-4 names the test",
                    );
                }
                groups.push(ResultGroup {
                    placer_order: segment.value(2).map(str::to_owned).or_else(|| from_orc(2)),
                    filler_order: segment.value(3).map(str::to_owned).or_else(|| from_orc(3)),
                    service,
                    status: segment.value(25).map(str::to_owned),
                    notes: Vec::new(),
                    observations: Vec::new(),
                });
            }
            "OBX" => match groups.last_mut() {
                Some(group) => {
                    if let Some(o) = observation(segment, at, &mut problems) {
                        group.observations.push(o);
                    }
                }
                None => problems.add(
                    at,
                    1,
                    None,
                    SEGMENT_SEQUENCE_ERROR,
                    "an OBX comes after the OBR of its order",
                ),
            },
            "NTE" => {
                if let Some(group) = groups.last_mut() {
                    match group.observations.last_mut() {
                        Some(o) => o.notes.extend(notes_of(segment)),
                        None => group.notes.extend(notes_of(segment)),
                    }
                }
                // NTEs before the first OBR are about the patient: not a result.
            }
            _ => {}
        }
    }
    let patient = match patient {
        Some(p) if !p.identifiers.is_empty() => p,
        Some(_) => {
            problems.add(
                ("PID", 1),
                3,
                Some(1),
                REQUIRED_FIELD_MISSING,
                "PID-3 identifies the patient",
            );
            PatientRef::default()
        }
        None => {
            problems.0.push(ErrorDetail {
                segment: "PID".into(),
                sequence: 1,
                field: None,
                component: None,
                code: SEGMENT_SEQUENCE_ERROR,
                text: "an ORU^R01 names its patient in a PID".into(),
            });
            PatientRef::default()
        }
    };
    if groups.is_empty() {
        problems.0.push(ErrorDetail {
            segment: "OBR".into(),
            sequence: 1,
            field: None,
            component: None,
            code: SEGMENT_SEQUENCE_ERROR,
            text: "an ORU^R01 holds at least one OBR".into(),
        });
    }
    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    Ok(ResultMessage {
        control_id,
        patient,
        groups,
    })
}

impl Observation {
    /// Why this result is critical, if it is: flagged HH, LL or AA, or a number beyond the
    /// bundled list's critical limits for its LOINC code (when given in the list's unit).
    pub fn critical(&self) -> Option<String> {
        if let Some(flag) = self
            .abnormal_flags
            .iter()
            .find(|f| matches!(f.as_str(), "HH" | "LL" | "AA"))
        {
            return Some(format!("flagged {flag}"));
        }
        let test = crate::loinc::common_test(self.code.code.as_deref()?)?;
        let unit = self
            .units
            .as_ref()
            .and_then(|u| u.code.as_deref())
            .unwrap_or("");
        if unit != test.unit {
            return None;
        }
        for v in &self.values {
            let Value::Number { comparator, value } = v else {
                continue;
            };
            let value = Decimal::parse(value)?;
            // What the comparator lets us know: `<7` is below 7, `<=7` may be 7.
            let known_below = |limit: &str| {
                Decimal::parse(limit).is_some_and(|l| match comparator.as_deref() {
                    None | Some("=") | Some("<=") => value < l,
                    Some("<") => value <= l,
                    _ => false,
                })
            };
            let known_above = |limit: &str| {
                Decimal::parse(limit).is_some_and(|l| match comparator.as_deref() {
                    None | Some("=") | Some(">=") => value > l,
                    Some(">") => value >= l,
                    _ => false,
                })
            };
            if let Some(low) = test.critical_low
                && known_below(low)
            {
                return Some(format!(
                    "{} below the critical limit {low} {unit}",
                    value_text(v)
                ));
            }
            if let Some(high) = test.critical_high
                && known_above(high)
            {
                return Some(format!(
                    "{} above the critical limit {high} {unit}",
                    value_text(v)
                ));
            }
        }
        None
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Number { comparator, value } => {
            format!("{}{value}", comparator.as_deref().unwrap_or(""))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
