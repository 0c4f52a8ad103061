//! HL7 escape sequences (v2.5 section 2.7): a delimiter inside text travels as `\F\`, `\S\`,
//! `\T\`, `\R\` or `\E\`, other bytes as `\Xhh..\`.

use crate::Delimiters;

/// Escapes text for a field of a message with these delimiters (\F\ \S\ \T\ \R\ \E\).
///
/// CR and LF, which would end the segment, and the MLLP frame bytes 0x0B and 0x1C, which
/// would end the message, go as `\X0D\`, `\X0A\`, `\X0B\` and `\X1C\`: so any text escaped
/// here reads back unchanged.
pub fn escape(text: &str, d: &Delimiters) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // The escape character first: the sequences below are written with it.
        let sequence = if c == d.escape {
            "E"
        } else if c == d.field {
            "F"
        } else if c == d.component {
            "S"
        } else if c == d.subcomponent {
            "T"
        } else if c == d.repetition {
            "R"
        } else {
            match c {
                '\r' => "X0D",
                '\n' => "X0A",
                '\u{0B}' => "X0B",
                '\u{1C}' => "X1C",
                _ => {
                    out.push(c);
                    continue;
                }
            }
        };
        out.push(d.escape);
        out.push_str(sequence);
        out.push(d.escape);
    }
    out
}

/// Decodes escape sequences: \F\ \S\ \T\ \R\ \E\ to the delimiter chars, \Xhh...\ hex bytes
/// (decoded as UTF-8, lossy), \.br\ to a line feed, \H\ and \N\ (highlighting) dropped; an
/// unknown or unterminated sequence is kept literally.
///
/// Adjacent `\X..\` sequences are decoded together, so a character whose UTF-8 bytes a sender
/// split over two sequences survives. An unknown sequence is kept whole, both escape
/// characters included, and reading goes on after it.
pub fn unescape(text: &str, d: &Delimiters) -> String {
    if !text.contains(d.escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut hex = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(d.escape) {
        let (before, from_escape) = rest.split_at(start);
        if !before.is_empty() {
            flush(&mut hex, &mut out);
            out.push_str(before);
        }
        let after_escape = &from_escape[d.escape.len_utf8()..];
        let Some(end) = after_escape.find(d.escape) else {
            // Unterminated: the rest is text.
            flush(&mut hex, &mut out);
            out.push_str(from_escape);
            return out;
        };
        let inner = &after_escape[..end];
        rest = &after_escape[end + d.escape.len_utf8()..];
        let decoded = match inner {
            "F" => Some(d.field),
            "S" => Some(d.component),
            "T" => Some(d.subcomponent),
            "R" => Some(d.repetition),
            "E" => Some(d.escape),
            ".br" => Some('\n'),
            "H" | "N" => continue,
            _ => {
                if let Some(bytes) = hex_bytes(inner) {
                    hex.extend(bytes);
                    continue;
                }
                None
            }
        };
        flush(&mut hex, &mut out);
        match decoded {
            Some(c) => out.push(c),
            None => {
                out.push(d.escape);
                out.push_str(inner);
                out.push(d.escape);
            }
        }
    }
    flush(&mut hex, &mut out);
    out.push_str(rest);
    out
}

/// The bytes of `Xhhhh..`: an even, non-zero number of hex digits after the X.
fn hex_bytes(inner: &str) -> Option<Vec<u8>> {
    let digits = inner.strip_prefix('X')?.as_bytes();
    if digits.is_empty() || digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| Some((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?))
        .collect()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn flush(hex: &mut Vec<u8>, out: &mut String) {
    if !hex.is_empty() {
        out.push_str(&String::from_utf8_lossy(hex));
        hex.clear();
    }
}
