#![allow(clippy::unwrap_used)]

use super::*;
use crate::ack::{AckCode, ErrorDetail};
use proptest::prelude::*;

const A04: &str = "MSH|^~\\&|REG|KNH|HAVEN|H1|20261203101500||ADT^A04^ADT_A01|MSG0001|P|2.5\r\
EVN|A04|20261203101500\r\
PID|1||12345^^^KNH^MR~987654^^^KE^NI||Otieno^Akinyi^W||19900214|F|||1 Ngong Rd^^Nairobi^^00100\r\
PV1|1|E\r";

fn parse(text: &str) -> Message {
    Message::parse(text.as_bytes()).unwrap()
}

fn fails(text: &[u8]) -> ParseError {
    Message::parse(text).unwrap_err()
}

#[test]
fn reads_the_header() {
    let m = parse(A04);
    assert_eq!(m.delimiters, Delimiters::default());
    assert_eq!(m.message_type(), Some(("ADT", "A04")));
    assert_eq!(m.control_id(), Some("MSG0001"));
    assert_eq!(m.version(), Some("2.5"));
    let names: Vec<&str> = m.segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["MSH", "EVN", "PID", "PV1"]);
}

#[test]
fn msh_1_and_msh_2_are_literal() {
    let m = parse(A04);
    let msh = m.segment("MSH").unwrap();
    assert_eq!(msh.value(1), Some("|"));
    assert_eq!(msh.value(2), Some("^~\\&"));
    assert_eq!(msh.repetitions(2).len(), 1);
    assert_eq!(msh.get(3, 1), Some("REG"));
    assert_eq!(msh.get(9, 3), Some("ADT_A01"));
    assert_eq!(msh.field_count(), 12);
}

#[test]
fn numbers_fields_components_and_subcomponents_from_one() {
    let m = parse(A04);
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.value(1), Some("1"));
    assert_eq!(pid.get(5, 1), Some("Otieno"));
    assert_eq!(pid.get(5, 2), Some("Akinyi"));
    assert_eq!(pid.get(11, 3), Some("Nairobi"));
    assert_eq!(pid.get(11, 2), None, "an empty component is absent");
    assert_eq!(pid.get(11, 9), None);
    assert_eq!(pid.get(0, 1), None);
    assert_eq!(pid.get(5, 0), None);
    assert_eq!(pid.field(2), None, "an empty field is absent");
    assert_eq!(pid.field(99), None);
    assert!(pid.repetitions(99).is_empty());
    let m = parse("MSH|^~\\&|A\rZZZ|a&b^c\r");
    let rep = &m.segment("ZZZ").unwrap().repetitions(1)[0];
    assert_eq!(rep.subcomponent(1, 1), Some("a"));
    assert_eq!(rep.subcomponent(1, 2), Some("b"));
    assert_eq!(rep.subcomponent(1, 3), None);
    assert_eq!(rep.subcomponent(0, 1), None);
    assert_eq!(rep.subcomponent(1, 0), None);
    assert_eq!(rep.component(2), Some("c"));
}

#[test]
fn repeated_fields_are_repetitions() {
    let m = parse(A04);
    let ids = m.segment("PID").unwrap().repetitions(3);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].component(1), Some("12345"));
    assert_eq!(ids[0].component(5), Some("MR"));
    assert_eq!(ids[1].component(1), Some("987654"));
    assert_eq!(ids[1].component(4), Some("KE"));
    assert_eq!(ids[1].component(5), Some("NI"));
    // An empty repetition keeps its place.
    let m = parse("MSH|^~\\&\rPID|||~X~\r");
    let reps = m.segment("PID").unwrap().repetitions(3);
    assert_eq!(reps.len(), 3);
    assert_eq!(reps[0].component(1), None);
    assert_eq!(reps[1].component(1), Some("X"));
}

#[test]
fn unescapes_values_after_splitting() {
    // python-hl7 #84: escaped delimiters must come out as text, not split the value.
    let m = parse(
        "MSH|^~\\&|A\rNTE|1||Na\\S\\Cl 0.9\\T\\ water\\F\\ok \\R\\ \\E\\n\\.br\\next \\H\\bold\\N\\ \\X41C3A9\\\r",
    );
    let nte = m.segment("NTE").unwrap();
    assert_eq!(nte.repetitions(3).len(), 1);
    assert_eq!(nte.repetitions(3)[0].components.len(), 1);
    assert_eq!(
        nte.value(3),
        Some("Na^Cl 0.9& water|ok ~ \\n\nnext bold Aé")
    );
}

#[test]
fn escape_writes_the_five_sequences() {
    let d = Delimiters::default();
    assert_eq!(
        escape("a|b^c~d\\e&f", &d),
        "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f"
    );
    assert_eq!(escape("one\r\ntwo", &d), "one\\X0D\\\\X0A\\two");
    assert_eq!(escape("plain é", &d), "plain é");
}

#[test]
fn unescape_keeps_what_it_does_not_know() {
    let d = Delimiters::default();
    assert_eq!(unescape("50\\Q\\x", &d), "50\\Q\\x");
    assert_eq!(unescape("C:\\temp", &d), "C:\\temp", "unterminated");
    assert_eq!(unescape("a\\", &d), "a\\");
    assert_eq!(unescape("\\\\", &d), "\\\\", "empty sequence");
    assert_eq!(unescape("\\X4\\", &d), "\\X4\\", "odd hex");
    assert_eq!(unescape("\\XZZ\\", &d), "\\XZZ\\", "not hex");
    assert_eq!(unescape("\\.sp\\", &d), "\\.sp\\");
    assert_eq!(unescape("\\XFF\\", &d), "\u{FFFD}", "lossy");
    // One character's bytes split over two sequences.
    assert_eq!(unescape("\\XC3\\\\XA9\\", &d), "é");
    assert_eq!(unescape("\\X41\\b\\X42\\", &d), "AbB");
}

#[test]
fn other_delimiters_are_read_from_msh() {
    let m = parse("MSH#*@!%#SND#FAC#####ADT*A08#42#P#2.3\rPID#1##1*!S!@B!C*x%y##N!E!a\r");
    assert_eq!(
        m.delimiters,
        Delimiters {
            field: '#',
            component: '*',
            repetition: '@',
            escape: '!',
            subcomponent: '%',
        }
    );
    assert_eq!(m.message_type(), Some(("ADT", "A08")));
    assert_eq!(m.segment("MSH").unwrap().value(2), Some("*@!%"));
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.repetitions(3).len(), 2);
    assert_eq!(
        pid.get(3, 2),
        Some("*"),
        "\\S\\ is this message's component separator"
    );
    assert_eq!(pid.repetitions(3)[1].subcomponent(2, 2), Some("y"));
    assert_eq!(pid.value(5), Some("N!a"));
    assert_eq!(pid.get(3, 1), Some("1"));
    assert_eq!(
        pid.repetitions(3)[1].component(1),
        Some("B!C"),
        "unterminated"
    );
}

#[test]
fn msh_2_may_carry_the_truncation_character() {
    let m = parse("MSH|^~\\&#|A|B|||20261203||ADT^A04^ADT_A01|1|P|2.7\rPID|1||X#Y\r");
    assert_eq!(m.delimiters, Delimiters::default());
    assert_eq!(m.segment("MSH").unwrap().value(2), Some("^~\\&#"));
    assert_eq!(m.version(), Some("2.7"));
    assert_eq!(m.segment("PID").unwrap().value(3), Some("X#Y"));
}

#[test]
fn z_segments_and_unknown_segments_are_kept() {
    let m = parse(&format!("{A04}ZPI|1|Ward 7^Bed 3\rXYZ|odd\r"));
    assert_eq!(m.segment("ZPI").unwrap().get(2, 2), Some("Bed 3"));
    assert_eq!(m.segment("XYZ").unwrap().value(1), Some("odd"));
    assert_eq!(m.segments.len(), 6);
}

#[test]
fn several_segments_of_one_name() {
    let m = parse(
        "MSH|^~\\&|LAB||||||ORU^R01^ORU_R01|7|P|2.5\rPID|1||1\rOBR|1\rOBX|1|NM|GLU||5.4\rNTE|1||fasting\rOBX|2|NM|HB||13\rOBR|2\rOBX|3|ST|X||y\r",
    );
    let values: Vec<&str> = m.segments_named("OBX").filter_map(|s| s.value(5)).collect();
    assert_eq!(values, ["5.4", "13", "y"]);
    assert_eq!(m.segments_named("OBR").count(), 2);
    assert_eq!(m.segment("OBX").unwrap().value(3), Some("GLU"), "the first");
    assert_eq!(m.segments_named("AL1").count(), 0);
    assert!(m.segment("AL1").is_none());
}

#[test]
fn lf_crlf_and_blank_lines_separate_segments() {
    let expected = parse(A04);
    for text in [
        A04.replace('\r', "\n"),
        A04.replace('\r', "\r\n"),
        A04.replace('\r', "\r\n\r\n  \n"),
        format!("\n\n{}", A04),
    ] {
        assert_eq!(parse(&text), expected, "{text:?}");
    }
}

#[test]
fn mllp_framing_is_stripped() {
    let expected = parse(A04);
    for framed in [
        [&[0x0B][..], A04.as_bytes(), &[0x1C, 0x0D]].concat(),
        [&[0x0B][..], A04.as_bytes(), &[0x1C]].concat(),
        [&[0x0B][..], A04.as_bytes(), &[0x1C, 0x0D, 0x0A]].concat(),
        [&[0x0B][..], A04.as_bytes()].concat(),
    ] {
        assert_eq!(Message::parse(&framed).unwrap(), expected);
    }
}

#[test]
fn trailing_empty_fields_are_dropped() {
    let m = parse("MSH|^~\\&|A||||||ADT^A04|1|P|2.5||||||\rPID|1||X|||||\rPV1|\r");
    assert_eq!(m.segment("MSH").unwrap().field_count(), 12);
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.field_count(), 3);
    assert_eq!(pid.field(4), None);
    assert_eq!(m.segment("PV1").unwrap().field_count(), 0);
}

#[test]
fn a_message_of_only_msh() {
    for text in ["MSH|^~\\&|A|B", "MSH|^~\\&", "MSH|^~\\&|"] {
        let m = parse(text);
        assert_eq!(m.segments.len(), 1);
        assert_eq!(m.message_type(), None);
        assert_eq!(m.control_id(), None);
    }
    assert_eq!(parse("MSH|^~\\&").segment("MSH").unwrap().field_count(), 2);
}

#[test]
fn the_explicit_null_is_not_an_empty_field() {
    let m = parse("MSH|^~\\&\rPID|1|\"\"||\"\"^x|\"\"~\"\"\r");
    let pid = m.segment("PID").unwrap();
    assert!(pid.is_null(2));
    assert_eq!(pid.value(2), Some("\"\""));
    assert!(!pid.is_null(3), "empty");
    assert!(!pid.is_null(4), "a null component is not a null field");
    assert!(!pid.is_null(5));
    assert!(!pid.is_null(1));
    assert!(!pid.is_null(40));
}

#[test]
fn a_bare_ack_type_has_no_trigger() {
    let m = parse("MSH|^~\\&|A||||||ACK|1|P|2.3\rMSA|AA|1\r");
    assert_eq!(m.message_type(), Some(("ACK", "")));
}

#[test]
fn the_first_segment_must_be_msh() {
    let e = fails(b"PID|1||X\rMSH|^~\\&\r");
    assert_eq!(e.segment.as_deref(), Some("PID"));
    assert_eq!(e.sequence, 1);
    assert!(e.to_string().contains("MSH"), "{e}");
    let e = fails(b"");
    assert_eq!((e.segment, e.sequence), (None, 0));
    assert_eq!(fails(b"\r\n \r").sequence, 0);
    assert_eq!(fails(&[0x0B, 0x1C, 0x0D]).sequence, 0);
    assert_eq!(fails(b"hello").segment, None);
}

#[test]
fn bad_encoding_characters_are_refused() {
    for (text, field) in [
        ("MSH", 1),
        ("MSHA^~\\&", 1),
        ("MSH|^~\\", 2),
        ("MSH|^~\\&#$|A", 2),
        ("MSH|^^\\&|A", 2),
        ("MSH|^~\\||A", 2),
        ("MSH|^~a&|A", 2),
        ("MSH|", 2),
    ] {
        let e = fails(text.as_bytes());
        assert_eq!(e.segment.as_deref(), Some("MSH"), "{text}");
        assert_eq!(e.field, Some(field), "{text}: {e}");
        assert_eq!(e.sequence, 1);
    }
}

#[test]
fn invalid_utf8_names_the_segment() {
    let mut bytes = b"MSH|^~\\&|A\rPID|1||".to_vec();
    bytes.extend([0xFF, 0xFE]);
    bytes.extend(b"\rPV1|1\r");
    let e = fails(&bytes);
    assert_eq!(e.segment.as_deref(), Some("PID"));
    assert_eq!(e.sequence, 2);
    assert!(e.reason.contains("UTF-8"), "{e}");
    let e = fails(b"MSH|^~\\&|\xC3\r");
    assert_eq!((e.segment.as_deref(), e.sequence), (Some("MSH"), 1));
}

#[test]
fn bad_segment_names_and_a_second_msh_are_refused() {
    let e = fails(b"MSH|^~\\&\rPID|1\rpid|2\r");
    assert_eq!(e.sequence, 3);
    assert!(e.reason.contains("segment name"), "{e}");
    // A raw line break inside a text field leaves a fragment that is not a segment.
    let e = fails(b"MSH|^~\\&\rNTE|1||first line\nsecond line\r");
    assert_eq!(e.sequence, 3);
    let e = fails(b"MSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\r");
    assert_eq!((e.segment.as_deref(), e.sequence), (Some("MSH"), 3));
}

#[test]
fn a_byte_order_mark_is_skipped() {
    assert_eq!(
        Message::parse(format!("\u{FEFF}{A04}").as_bytes()).unwrap(),
        parse(A04)
    );
}

#[test]
fn ack_for_an_accepted_message() {
    let m = parse(A04);
    let ack = ack::build(
        Some(&m),
        AckCode::Accept,
        &[],
        "20261203101501",
        "ACK0001",
        "HAVEN",
        "H1",
    );
    assert_eq!(
        ack,
        "MSH|^~\\&|HAVEN|H1|REG|KNH|20261203101501||ACK^A04^ACK|ACK0001|P|2.5\rMSA|AA|MSG0001\r"
    );
    let read = parse(&ack);
    assert_eq!(read.message_type(), Some(("ACK", "A04")));
    assert_eq!(read.segment("MSA").unwrap().value(2), Some("MSG0001"));
}

#[test]
fn ack_copies_processing_id_version_and_structured_applications() {
    let m =
        parse("MSH#*@!%#REG*1.2.3*ISO#KNH##HAVEN#20261203##ADT*A08#id|1!F!2#T#2.5.1*KE\rPID#1\r");
    let ack = ack::build(
        Some(&m),
        AckCode::Accept,
        &[],
        "20261203101501",
        "A2",
        "HAVEN",
        "H1",
    );
    assert_eq!(
        ack,
        "MSH|^~\\&|HAVEN|H1|REG^1.2.3^ISO|KNH|20261203101501||ACK^A08^ACK|A2|T|2.5.1^KE\rMSA|AA|id\\F\\1#2\r"
    );
    assert_eq!(parse(&ack).segment("MSA").unwrap().value(2), Some("id|1#2"));
}

#[test]
fn ack_with_errors() {
    let m = parse(A04);
    let errors = [
        ErrorDetail {
            segment: "PID".into(),
            sequence: 3,
            field: Some(3),
            component: Some(1),
            code: 101,
            text: "MRN missing | see PID-3^1".into(),
        },
        ErrorDetail {
            segment: "PID".into(),
            sequence: 3,
            field: Some(8),
            component: None,
            code: 103,
            text: "sex X".into(),
        },
        ErrorDetail {
            segment: "MSH".into(),
            sequence: 1,
            field: None,
            component: None,
            code: 207,
            text: "store down".into(),
        },
    ];
    let ack = ack::build(
        Some(&m),
        AckCode::Error,
        &errors,
        "20261203101501",
        "A3",
        "HAVEN",
        "H1",
    );
    let lines: Vec<&str> = ack.split('\r').collect();
    assert_eq!(
        lines[1..],
        [
            "MSA|AE|MSG0001",
            "ERR||PID^3^3^1^1|101^Required field missing^HL70357|E||||MRN missing \\F\\ see PID-3\\S\\1",
            "ERR||PID^3^8^1|103^Table value not found^HL70357|E||||sex X",
            "ERR||MSH^1|207^Application internal error^HL70357|E||||store down",
            "",
        ]
    );
    let read = parse(&ack);
    let err = read.segments_named("ERR").next().unwrap();
    assert_eq!(err.get(2, 1), Some("PID"));
    assert_eq!(err.get(2, 3), Some("3"));
    assert_eq!(err.get(2, 5), Some("1"));
    assert_eq!(err.get(3, 1), Some("101"));
    assert_eq!(err.get(3, 3), Some("HL70357"));
    assert_eq!(err.value(4), Some("E"));
    assert_eq!(err.value(8), Some("MRN missing | see PID-3^1"));
}

#[test]
fn ack_without_an_original() {
    let errors = [ErrorDetail {
        segment: String::new(),
        sequence: 0,
        field: None,
        component: None,
        code: 200,
        text: "not HL7".into(),
    }];
    let ack = ack::build(
        None,
        AckCode::Reject,
        &errors,
        "20261203101501",
        "A4",
        "HAVEN",
        "H1",
    );
    assert_eq!(
        ack,
        "MSH|^~\\&|HAVEN|H1|||20261203101501||ACK^^ACK|A4|P|2.5\rMSA|AR|\r\
         ERR|||200^Unsupported message type^HL70357|E||||not HL7\r"
    );
    let read = parse(&ack);
    assert_eq!(read.version(), Some("2.5"));
    assert_eq!(read.control_id(), Some("A4"));
}

#[test]
fn ack_codes() {
    assert_eq!(AckCode::Accept.as_str(), "AA");
    assert_eq!(AckCode::Error.as_str(), "AE");
    assert_eq!(AckCode::Reject.as_str(), "AR");
}

#[test]
fn an_error_location_without_a_field_keeps_its_component() {
    let e = ErrorDetail {
        segment: "PID".into(),
        sequence: 2,
        field: None,
        component: Some(4),
        code: 102,
        text: String::new(),
    };
    let ack = ack::build(None, AckCode::Error, &[e], "1", "2", "H", "F");
    assert!(
        ack.contains("ERR||PID^2^^^4|102^Data type error^HL70357|E||||\r"),
        "{ack}"
    );
}

// Property tests.

/// Text around the delimiters, escapes, line breaks and MLLP bytes.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "([|^~&\\\\#\r\n\u{0B}\u{1C}\"XFSTREHN.br0-9A-Fa-z é€😀]|\\\\X[0-9A-F]{2}\\\\){0,24}",
    )
    .unwrap()
}

fn segment_ish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "((MSH|PID|OBX|ZZ1|pid|M)[|^~\\\\&#*!%]{0,6}[A-Za-z0-9|^~\\\\&\"\\r\\n ]{0,40}){1,5}",
    )
    .unwrap()
}

fn some_delimiters() -> impl Strategy<Value = Delimiters> {
    prop_oneof![
        Just(Delimiters::default()),
        Just(Delimiters {
            field: '#',
            component: '*',
            repetition: '@',
            escape: '!',
            subcomponent: '%',
        }),
        Just(Delimiters {
            field: '¦',
            component: '^',
            repetition: '~',
            escape: '/',
            subcomponent: '&',
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::parse(&bytes);
        let mut with_header = b"MSH|^~\\&|".to_vec();
        with_header.extend(&bytes);
        let _ = Message::parse(&with_header);
    }

    #[test]
    fn parse_never_panics_on_segment_ish_text(text in segment_ish(), noise in tricky_text()) {
        if let Ok(m) = Message::parse(text.as_bytes()) {
            // Every accessor, on every segment, at and past the edges.
            let _ = (m.message_type(), m.control_id(), m.version());
            for s in &m.segments {
                for n in 0..s.field_count() + 2 {
                    let _ = (s.field(n), s.value(n), s.get(n, 3), s.is_null(n));
                    for r in s.repetitions(n) {
                        let _ = (r.component(0), r.subcomponent(2, 2));
                    }
                }
            }
            let _ = ack::build(Some(&m), AckCode::Error, &[], &noise, &noise, &noise, &noise);
        }
        let _ = Message::parse(format!("MSH|^~\\&|{noise}\r{text}").as_bytes());
    }

    #[test]
    fn unescape_undoes_escape(text in any::<String>(), tricky in tricky_text(), d in some_delimiters()) {
        prop_assert_eq!(unescape(&escape(&text, &d), &d), text);
        prop_assert_eq!(unescape(&escape(&tricky, &d), &d), tricky);
    }

    #[test]
    fn unescape_never_panics(text in tricky_text(), d in some_delimiters()) {
        let _ = unescape(&text, &d);
    }

}

proptest! {
    // Each case builds a whole message of nested random text: fewer cases keep it near a second.
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A message written from random values, each escaped, reads back to the same values.
    #[test]
    fn a_built_message_reads_back(
        d in some_delimiters(),
        segments in proptest::collection::vec(
            (
                "Z[A-Z0-9]{2}",
                // Fields of repetitions of components of subcomponents.
                proptest::collection::vec(
                    proptest::collection::vec(
                        proptest::collection::vec(proptest::collection::vec(tricky_text(), 1..3), 1..4),
                        1..3,
                    ),
                    0..6,
                ),
            ),
            0..5,
        ),
    ) {
        let (f, c) = (d.field, d.component);
        let mut text = format!(
            "MSH{f}{c}{}{}{}{}ADT{c}A04{f}CTL{f}P{f}2.5\r",
            d.repetition,
            d.escape,
            d.subcomponent,
            f.to_string().repeat(7),
        );
        for (name, fields) in &segments {
            text.push_str(name);
            for field in fields {
                text.push(d.field);
                let reps: Vec<String> = field
                    .iter()
                    .map(|rep| {
                        rep.iter()
                            .map(|comp| {
                                comp.iter().map(|s| escape(s, &d)).collect::<Vec<_>>().join(&d.subcomponent.to_string())
                            })
                            .collect::<Vec<_>>()
                            .join(&d.component.to_string())
                    })
                    .collect();
                text.push_str(&reps.join(&d.repetition.to_string()));
            }
            text.push('\r');
        }
        let m = Message::parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(m.delimiters, d);
        prop_assert_eq!(m.message_type(), Some(("ADT", "A04")));
        prop_assert_eq!(m.segments.len(), segments.len() + 1);
        for ((name, fields), s) in segments.iter().zip(&m.segments[1..]) {
            prop_assert_eq!(&s.name, name);
            for (f, field) in fields.iter().enumerate() {
                let n = f + 1;
                let empty = field.len() == 1 && field[0].len() == 1 && field[0][0].len() == 1 && field[0][0][0].is_empty();
                if empty {
                    prop_assert!(s.field(n).is_none());
                    continue;
                }
                prop_assert_eq!(s.repetitions(n).len(), field.len());
                for (rep, read) in field.iter().zip(s.repetitions(n)) {
                    prop_assert_eq!(read.components.len(), rep.len());
                    for (c, comp) in rep.iter().enumerate() {
                        prop_assert_eq!(&read.components[c].subcomponents, comp);
                        for (k, sub) in comp.iter().enumerate() {
                            let expected = (!sub.is_empty()).then_some(sub.as_str());
                            prop_assert_eq!(read.subcomponent(c + 1, k + 1), expected);
                        }
                    }
                }
            }
        }
    }
}
