//! HL7 v2 messages in ER7, the pipe-delimited encoding: `Message::parse` reads one message
//! into segments, fields, repetitions, components and subcomponents (text already
//! unescaped), and `ack::build` writes the acknowledgement Haven answers with.
//!
//! Numbering is HL7's, 1-based throughout: `segment.get(3, 1)` is PID-3.1. An empty field is
//! absent, as HL7 has it; the explicit null `""` is kept as that text (`Segment::is_null`).
//! Segments Haven does not know (Z-segments among them) are kept like any other.

pub mod ack;
mod escaping;
mod parse;

pub use escaping::{escape, unescape};

/// The five delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    /// `|^~\&`, what nearly every sender uses.
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

/// One parsed message: its delimiters and its segments in order, MSH first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub delimiters: Delimiters,
    pub segments: Vec<Segment>,
}

/// One segment: its three-character name and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    /// Field n is `fields[n - 1]`; for MSH, `fields[0]` is MSH-1, the field separator.
    /// Trailing empty fields are dropped at parse, so the last one has content.
    fields: Vec<Field>,
}

/// One field: its repetitions, none when the field is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub repetitions: Vec<Repetition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Each already unescaped; at least one (an empty component has one empty subcomponent).
    pub subcomponents: Vec<String>,
}

/// Why bytes are not an HL7 message, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub segment: Option<String>,
    /// 1-based index of the segment in the message (blank lines not counted), 0 if none.
    pub sequence: usize,
    pub field: Option<usize>,
    pub reason: String,
}

impl Message {
    /// Parses bytes: strips MLLP framing (0x0B start, 0x1C 0x0D end) when present; segments
    /// separated by CR, LF or CRLF (blank lines ignored); the first segment must be MSH (else
    /// ParseError); delimiters read from MSH-1 and MSH-2; UTF-8 expected, invalid UTF-8 is a
    /// ParseError naming the segment. Never panics on any input.
    ///
    /// Also refused: a segment name that is not three upper-case letters or digits (the first
    /// a letter), MSH-2 with other than 4 or 5 characters or with repeated or alphanumeric
    /// delimiters, and a second MSH (a batch is more than one message).
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        parse::message(bytes)
    }

    /// The first segment with that name.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// Every segment with that name, in message order.
    pub fn segments_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.name == name)
    }

    /// MSH-9.1 and MSH-9.2 (e.g. ("ADT", "A04")), MSH-9.3 structure not needed. None when
    /// MSH-9.1 is absent; the trigger is "" when only MSH-9.2 is (an old-style bare `ACK`).
    pub fn message_type(&self) -> Option<(&str, &str)> {
        let msh = self.segment("MSH")?;
        let code = msh.get(9, 1)?;
        Some((code, msh.get(9, 2).unwrap_or("")))
    }

    /// MSH-10, the sender's message control id.
    pub fn control_id(&self) -> Option<&str> {
        self.segment("MSH")?.value(10)
    }

    /// MSH-12.1, the version id (e.g. "2.5").
    pub fn version(&self) -> Option<&str> {
        self.segment("MSH")?.value(12)
    }
}

impl Segment {
    /// HL7 numbering: for MSH, field(1) is the field separator itself and field(2) the
    /// encoding characters (returned as literal text, not split or unescaped); for other
    /// segments field(1) is the first field after the name. None if absent (or empty).
    pub fn field(&self, n: usize) -> Option<&Field> {
        self.fields
            .get(n.checked_sub(1)?)
            .filter(|f| !f.repetitions.is_empty())
    }

    /// The repetitions of field n (empty slice if absent).
    pub fn repetitions(&self, n: usize) -> &[Repetition] {
        self.field(n).map_or(&[], |f| f.repetitions.as_slice())
    }

    /// First repetition, component `component` (1-based), first subcomponent; None if absent
    /// or empty string.
    pub fn get(&self, n: usize, component: usize) -> Option<&str> {
        self.repetitions(n).first()?.component(component)
    }

    /// Whole first repetition's first component (same as get(n, 1)).
    pub fn value(&self, n: usize) -> Option<&str> {
        self.get(n, 1)
    }

    /// True when the field is the HL7 explicit null `""` (delete the value on the receiver's
    /// side), as against an empty field (leave it as it is).
    pub fn is_null(&self, n: usize) -> bool {
        match self.repetitions(n) {
            [only] => match only.components.as_slice() {
                [c] => matches!(c.subcomponents.as_slice(), [s] if s == "\"\""),
                _ => false,
            },
            _ => false,
        }
    }

    /// How many fields the segment has, up to its last non-empty one (for MSH counting MSH-1
    /// and MSH-2).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }
}

impl Repetition {
    /// Component n (1-based), its first subcomponent; None if absent or empty.
    pub fn component(&self, n: usize) -> Option<&str> {
        self.subcomponent(n, 1)
    }

    /// Component n, subcomponent s (both 1-based); None if absent or empty.
    pub fn subcomponent(&self, n: usize, s: usize) -> Option<&str> {
        let component = self.components.get(n.checked_sub(1)?)?;
        let text = component.subcomponents.get(s.checked_sub(1)?)?;
        (!text.is_empty()).then_some(text.as_str())
    }
}

impl Field {
    /// The field in ER7 with these delimiters, each subcomponent escaped: what `parse` would
    /// read back as this field. Used to copy a field of one message into another.
    pub(crate) fn to_er7(&self, d: &Delimiters) -> String {
        let mut out = String::new();
        for (r, repetition) in self.repetitions.iter().enumerate() {
            if r > 0 {
                out.push(d.repetition);
            }
            for (c, component) in repetition.components.iter().enumerate() {
                if c > 0 {
                    out.push(d.component);
                }
                for (s, sub) in component.subcomponents.iter().enumerate() {
                    if s > 0 {
                        out.push(d.subcomponent);
                    }
                    out.push_str(&escape(sub, d));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
