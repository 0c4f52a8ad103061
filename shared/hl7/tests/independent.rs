//! haven-hl7 against an independent reader: tests/python/hl7_corpus.py builds a corpus of
//! ADT and ORU messages with hl7apy and writes hl7apy's reading of every subcomponent; each
//! must read the same here, and haven-hl7 must find nothing hl7apy did not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use haven_hl7::Message;

/// Segment, its occurrence among segments of that name, field, repetition, component,
/// subcomponent (all 1-based) and the value.
type Cell = (String, usize, usize, usize, usize, usize, String);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn reads_every_cell_as_hl7apy_does() {
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        eprintln!(
            "SKIPPED reads_every_cell_as_hl7apy_does: no Python venv at {} (make the venv with \
             hl7apy==1.3.5 to run this comparison)",
            python.display()
        );
        return;
    }
    let dir =
        Scratch(std::env::temp_dir().join(format!("haven-hl7-corpus-{}", std::process::id())));
    let dir = &dir.0;
    let _ = std::fs::remove_dir_all(dir);
    let output = Command::new(&python)
        .arg(root().join("tests/python/hl7_corpus.py"))
        .arg(dir)
        .output()
        .expect("run hl7_corpus.py");
    assert!(
        output.status.success(),
        "hl7_corpus.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 25,
        "only {} messages in the corpus",
        names.len()
    );
    let mut compared = 0;
    for path in &names {
        compared += compare(path);
    }
    eprintln!(
        "{} messages, {compared} cells agree with hl7apy",
        names.len()
    );
}

/// The corpus directory, removed however the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compares one message; returns how many cells it checked.
fn compare(path: &Path) -> usize {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).unwrap();
    let message =
        Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: haven-hl7 refused it: {e}"));
    let json = std::fs::read_to_string(path.with_extension("json")).unwrap();
    let cells: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();

    let mut expected = BTreeSet::new();
    for cell in &cells {
        let cell = cell.as_array().unwrap();
        let number = |i: usize| cell[i].as_u64().unwrap() as usize;
        let (segment, sequence, field, repetition, component) = (
            cell[0].as_str().unwrap().to_owned(),
            number(1),
            number(2),
            number(3),
            number(4),
        );
        let value = cell[5].as_str().unwrap().to_owned();
        let sub = if cell.len() > 6 { number(6) } else { 1 };
        let read = message
            .segments_named(&segment)
            .nth(sequence - 1)
            .unwrap_or_else(|| panic!("{name}: no {segment} number {sequence}"))
            .repetitions(field)
            .get(repetition - 1)
            .and_then(|r| r.subcomponent(component, sub));
        let want = (!value.is_empty()).then_some(value.as_str());
        assert_eq!(
            read, want,
            "{name}: {segment}[{sequence}]-{field}[{repetition}].{component}.{sub}"
        );
        if !value.is_empty() {
            expected.insert((segment, sequence, field, repetition, component, sub, value));
        }
    }
    let found = non_empty_cells(&message);
    let extra: Vec<&Cell> = found.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "{name}: haven-hl7 read values hl7apy did not: {extra:?}"
    );
    assert_eq!(found.len(), expected.len(), "{name}");
    cells.len()
}

fn non_empty_cells(message: &Message) -> BTreeSet<Cell> {
    let mut cells = BTreeSet::new();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for segment in &message.segments {
        let sequence = match seen.iter_mut().find(|(n, _)| *n == segment.name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                seen.push((&segment.name, 1));
                1
            }
        };
        for f in 1..=segment.field_count() {
            for (r, repetition) in segment.repetitions(f).iter().enumerate() {
                for (c, component) in repetition.components.iter().enumerate() {
                    for (s, value) in component.subcomponents.iter().enumerate() {
                        if !value.is_empty() {
                            cells.insert((
                                segment.name.clone(),
                                sequence,
                                f,
                                r + 1,
                                c + 1,
                                s + 1,
                                value.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
    cells
}
