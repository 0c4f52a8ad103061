//! The ORU^R01 reader against hl7apy over a corpus of 200 generated messages
//! (tests/python/oru_corpus.py): for every OBX, what Haven reads (type, code, each value,
//! units, range, flags, status, notes, and its group) must be what hl7apy reads. A mismatch
//! names the message, the OBX and the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use haven_hl7::Message;
use haven_labs_core::oru::{self, Coded, Value};
use serde_json::{Value as Json, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The corpus directory, removed however the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn coded_text(c: &Coded) -> String {
    let mut parts = vec![
        c.code.clone().unwrap_or_default(),
        c.text.clone().unwrap_or_default(),
        c.system.clone().unwrap_or_default(),
    ];
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts.join("^")
}

/// A value as the corpus writes it (see oru_corpus.py).
fn value_text(v: &Value) -> String {
    match v {
        Value::Number { comparator, value } => {
            format!("{}{value}", comparator.as_deref().unwrap_or(""))
        }
        Value::Pair {
            comparator,
            first,
            separator,
            second,
        } => format!(
            "{}{first}{separator}{second}",
            comparator.as_deref().unwrap_or("")
        ),
        Value::Text { text } => text.clone(),
        Value::Coded(c) => coded_text(c),
    }
}

fn haven_reading(name: &str, bytes: &[u8]) -> Vec<Json> {
    let message = Message::parse(bytes).unwrap_or_else(|e| panic!("{name}: not HL7: {e}"));
    let read = oru::read(&message).unwrap_or_else(|p| panic!("{name}: refused: {p:#?}"));
    let mut out = Vec::new();
    for (g, group) in read.groups.iter().enumerate() {
        for o in &group.observations {
            out.push(json!({
                "group": g,
                "set_id": o.set_id,
                "type": o.value_type.map(|t| format!("{t:?}")),
                "code": o.code.code,
                "values": o.values.iter().map(value_text).collect::<Vec<_>>(),
                "units": o.units.as_ref().and_then(|u| u.code.clone()),
                "range": o.reference_range,
                "flags": o.abnormal_flags,
                "status": o.status.code(),
                "notes": o.notes,
            }));
        }
    }
    out
}

#[test]
fn reads_every_observation_as_hl7apy_does() {
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        eprintln!(
            "SKIPPED: no Python venv at {} (scripts/venv.sh installs hl7apy)",
            python.display()
        );
        return;
    }
    let dir =
        Scratch(std::env::temp_dir().join(format!("haven-oru-corpus-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let output = Command::new(&python)
        .arg(root().join("tests/python/oru_corpus.py"))
        .arg(&dir.0)
        .arg("200")
        .output()
        .expect("run oru_corpus.py");
    assert!(
        output.status.success(),
        "oru_corpus.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 200);
    let (mut observations, mut values) = (0, 0);
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ours = haven_reading(&name, &std::fs::read(path).unwrap());
        let theirs: Vec<Json> =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: how many OBX");
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            for field in [
                "group", "set_id", "type", "code", "values", "units", "range", "flags", "status",
                "notes",
            ] {
                assert_eq!(a[field], b[field], "{name}: OBX {} {field}", i + 1);
            }
            values += b["values"].as_array().map_or(0, Vec::len);
        }
        observations += ours.len();
    }
    eprintln!("200 messages, {observations} observations and {values} values agree with hl7apy");
}
