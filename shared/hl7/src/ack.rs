//! The original-mode acknowledgement (ACK): MSH, MSA and one ERR per problem found.

use crate::{Delimiters, Message, escape};

/// MSA-1: what the receiver did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// AA: accepted and processed.
    Accept,
    /// AE: processed no further because of an error in the message.
    Error,
    /// AR: refused for what it is (its type, version or processing id), not its content.
    Reject,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// One ERR segment: where (segment id, its 1-based sequence in the message, field, component),
/// the HL7 table 0357 code (100 segment sequence error, 101 required field missing, 102 data
/// type error, 103 table value not found, 200 unsupported message type, 201 unsupported event
/// code, 204 unknown key identifier, 205 duplicate key identifier, 206 application record
/// locked, 207 application internal error), and a text for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub segment: String,
    pub sequence: usize,
    pub field: Option<usize>,
    pub component: Option<usize>,
    pub code: u16,
    pub text: String,
}

/// The ACK for `original` (or, when the original could not be parsed, `None`): MSH with
/// sending/receiving application and facility swapped from the original (MSH-3..6), `now` as
/// MSH-7 (YYYYMMDDHHMMSS), MSH-9 `ACK^<trigger>^ACK`, MSH-10 `control_id`, MSH-11 P (or the
/// original's), MSH-12 2.5 (or original's); MSA|<code>|<original control id>; then one ERR per
/// detail: ERR||<segment>^<sequence>^<field>^^<component>|<code>^<description of table 0357
/// code>^HL70357|E||||<escaped text>. Segments joined by CR (\r), message ends with \r.
/// `sending_application`/`facility` are what Haven calls itself (MSH-3/MSH-4 of the ACK),
/// e.g. "HAVEN", "<hospital id>".
///
/// The ACK is written with the standard delimiters `|^~\&` whatever the original used; the
/// fields copied from it are re-encoded. ERR-2 (ERL) carries the repetition as 1 when a field
/// is named, and stops at the last part given; with an empty `segment` ERR-2 is empty.
pub fn build(
    original: Option<&Message>,
    code: AckCode,
    errors: &[ErrorDetail],
    now: &str,
    control_id: &str,
    sending_application: &str,
    sending_facility: &str,
) -> String {
    let d = Delimiters::default();
    let msh = original.and_then(|m| m.segment("MSH"));
    // A field of the original's MSH in the ACK's delimiters, or `default` when it has none.
    let copied = |n: usize, default: &str| {
        msh.and_then(|s| s.field(n))
            .map_or_else(|| default.to_owned(), |f| f.to_er7(&d))
    };
    let trigger = original
        .and_then(Message::message_type)
        .map_or("", |(_, trigger)| trigger);
    let header = [
        "MSH".to_owned(),
        "^~\\&".to_owned(),
        escape(sending_application, &d),
        escape(sending_facility, &d),
        copied(3, ""),
        copied(4, ""),
        escape(now, &d),
        String::new(),
        format!("ACK^{}^ACK", escape(trigger, &d)),
        escape(control_id, &d),
        copied(11, "P"),
        copied(12, "2.5"),
    ];
    let original_id = original.and_then(Message::control_id).unwrap_or("");
    let mut segments = vec![
        header.join("|"),
        format!("MSA|{}|{}", code.as_str(), escape(original_id, &d)),
    ];
    for e in errors {
        segments.push(format!(
            "ERR||{}|{}^{}^HL70357|E||||{}",
            location(e, &d),
            e.code,
            escape(description(e.code), &d),
            escape(&e.text, &d)
        ));
    }
    let mut ack = segments.join("\r");
    ack.push('\r');
    ack
}

/// ERR-2, an ERL: segment id ^ sequence ^ field ^ repetition ^ component ^ subcomponent.
fn location(e: &ErrorDetail, d: &Delimiters) -> String {
    if e.segment.is_empty() {
        return String::new();
    }
    let mut parts = vec![
        escape(&e.segment, d),
        if e.sequence == 0 {
            String::new()
        } else {
            e.sequence.to_string()
        },
    ];
    if let Some(field) = e.field {
        parts.push(field.to_string());
        parts.push("1".to_owned());
    }
    if let Some(component) = e.component {
        // Without a field the component still goes in its place, after an empty field and
        // repetition, rather than be lost.
        parts.resize(4, String::new());
        parts.push(component.to_string());
    }
    parts.join("^")
}

/// The text of an HL7 table 0357 (message error condition) code; "" for one not in it.
fn description(code: u16) -> &'static str {
    match code {
        0 => "Message accepted",
        100 => "Segment sequence error",
        101 => "Required field missing",
        102 => "Data type error",
        103 => "Table value not found",
        104 => "Value too long",
        200 => "Unsupported message type",
        201 => "Unsupported event code",
        202 => "Unsupported processing id",
        203 => "Unsupported version id",
        204 => "Unknown key identifier",
        205 => "Duplicate key identifier",
        206 => "Application record locked",
        207 => "Application internal error",
        _ => "",
    }
}
