//! Bytes to `Message`. Lines are split on bytes before any decoding (CR and LF are single
//! bytes in UTF-8), so invalid UTF-8 is reported against the segment it is in.

use crate::{Component, Delimiters, Field, Message, ParseError, Repetition, Segment, unescape};

const START_BLOCK: u8 = 0x0B;
const END_BLOCK: u8 = 0x1C;

pub(crate) fn message(bytes: &[u8]) -> Result<Message, ParseError> {
    let body = unframe(bytes);
    let mut lines = body
        .split(|b| *b == b'\r' || *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .zip(1..);
    let Some((first, _)) = lines.next() else {
        return Err(error(
            None,
            0,
            None,
            "no segments: an HL7 message starts with MSH",
        ));
    };
    if !first.starts_with(b"MSH") {
        let name = name_of(first);
        let reason = match &name {
            Some(name) => format!("the first segment is {name}; an HL7 message starts with MSH"),
            None => "an HL7 message starts with MSH".to_owned(),
        };
        return Err(error(name, 1, None, reason));
    }
    let (delimiters, msh) = header(text(first, 1)?)?;
    let mut segments = vec![msh];
    for (line, sequence) in lines {
        let line = text(line, sequence)?;
        segments.push(segment(line, sequence, &delimiters)?);
    }
    Ok(Message {
        delimiters,
        segments,
    })
}

/// The message inside MLLP's start and end blocks, when it has them.
fn unframe(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(&[START_BLOCK]).unwrap_or(bytes);
    // The end block is FS CR; tolerate a sender's FS CR LF or bare FS. Trailing line breaks
    // are only blank lines to the parser, so trimming them first changes nothing else.
    let trimmed = bytes.trim_ascii_end();
    let bytes = trimmed.strip_suffix(&[END_BLOCK]).unwrap_or(bytes);
    // A byte-order mark from a Windows editor is not part of MSH.
    bytes.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(bytes)
}

fn text(line: &[u8], sequence: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(line).map_err(|e| {
        let name = name_of(line);
        let at = match &name {
            Some(name) => format!("segment {sequence} ({name})"),
            None => format!("segment {sequence}"),
        };
        error(
            name,
            sequence,
            None,
            format!("{at} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// The segment's name when its first three bytes make one.
fn name_of(line: &[u8]) -> Option<String> {
    let name = line.get(..3)?;
    let name = std::str::from_utf8(name).ok()?;
    is_segment_name(name).then(|| name.to_owned())
}

fn is_segment_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 3
        && b[0].is_ascii_uppercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// MSH: the delimiters from MSH-1 and MSH-2, then the segment with those two kept literally.
fn header(line: &str) -> Result<(Delimiters, Segment), ParseError> {
    let msh_error = |field, reason: &str| error(Some("MSH".to_owned()), 1, Some(field), reason);
    let mut chars = line.get(3..).unwrap_or("").chars();
    let Some(field) = chars.next() else {
        return Err(msh_error(1, "MSH has no field separator (MSH-1)"));
    };
    if !usable_delimiter(field) {
        return Err(msh_error(
            1,
            "MSH-1, the field separator, must not be a letter, digit or space",
        ));
    }
    let after_separator = chars.as_str();
    let (encoding, rest) = match after_separator.split_once(field) {
        Some((encoding, rest)) => (encoding, Some(rest)),
        None => (after_separator, None),
    };
    let chars: Vec<char> = encoding.chars().collect();
    // 2.7 added a fifth, the truncation character (`#`); earlier versions have four.
    let (component, repetition, escape, subcomponent) = match chars.as_slice() {
        [c, r, e, s] | [c, r, e, s, _] => (*c, *r, *e, *s),
        _ => {
            return Err(msh_error(
                2,
                "MSH-2 must hold 4 encoding characters (component, repetition, escape, \
                 subcomponent), or 5 with the truncation character",
            ));
        }
    };
    let mut all = chars.clone();
    all.push(field);
    if !all.iter().all(|c| usable_delimiter(*c)) {
        return Err(msh_error(
            2,
            "MSH-2 encoding characters must not be letters, digits or spaces",
        ));
    }
    all.sort_unstable();
    all.dedup();
    if all.len() != chars.len() + 1 {
        return Err(msh_error(
            2,
            "MSH-1 and MSH-2 must declare distinct delimiters",
        ));
    }
    let delimiters = Delimiters {
        field,
        component,
        repetition,
        escape,
        subcomponent,
    };
    let mut fields = vec![literal(field.to_string()), literal(encoding.to_owned())];
    if let Some(rest) = rest {
        fields.extend(rest.split(field).map(|f| self::field(f, &delimiters)));
    }
    Ok((delimiters, segment_of("MSH".to_owned(), fields)))
}

fn usable_delimiter(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
}

fn segment(line: &str, sequence: usize, d: &Delimiters) -> Result<Segment, ParseError> {
    let mut parts = line.split(d.field);
    let name = parts.next().unwrap_or("");
    if !is_segment_name(name) {
        let shown: String = name.chars().take(20).collect();
        return Err(error(
            None,
            sequence,
            None,
            format!(
                "segment {sequence}: {shown:?} is not a segment name (three upper-case letters or digits)"
            ),
        ));
    }
    if name == "MSH" {
        return Err(error(
            Some(name.to_owned()),
            sequence,
            None,
            format!("segment {sequence} is a second MSH: parse one message at a time"),
        ));
    }
    let fields = parts.map(|f| field(f, d)).collect();
    Ok(segment_of(name.to_owned(), fields))
}

fn segment_of(name: String, mut fields: Vec<Field>) -> Segment {
    // Trailing empty fields say nothing; dropping them makes field_count the last one used.
    while fields.last().is_some_and(|f| f.repetitions.is_empty()) {
        fields.pop();
    }
    Segment { name, fields }
}

fn field(text: &str, d: &Delimiters) -> Field {
    if text.is_empty() {
        return Field {
            repetitions: Vec::new(),
        };
    }
    // Split on every delimiter before unescaping: an escaped delimiter is then plain text.
    let repetitions = text
        .split(d.repetition)
        .map(|r| Repetition {
            components: r
                .split(d.component)
                .map(|c| Component {
                    subcomponents: c.split(d.subcomponent).map(|s| unescape(s, d)).collect(),
                })
                .collect(),
        })
        .collect();
    Field { repetitions }
}

fn literal(text: String) -> Field {
    Field {
        repetitions: vec![Repetition {
            components: vec![Component {
                subcomponents: vec![text],
            }],
        }],
    }
}

fn error(
    segment: Option<String>,
    sequence: usize,
    field: Option<usize>,
    reason: impl Into<String>,
) -> ParseError {
    ParseError {
        segment,
        sequence,
        field,
        reason: reason.into(),
    }
}
