use super::*;

fn parse(text: &str) -> Result<ResultMessage, Vec<ErrorDetail>> {
    read(&Message::parse(text.as_bytes()).expect("HL7"))
}

const MSH: &str = "MSH|^~\\&|LIS|KNH|HAVEN|KNH|20261206101500||ORU^R01^ORU_R01|LAB000123|P|2.5";
const PID: &str = "PID|1||KNH-000123-7^^^KNH^MR~23456789^^^KEN^NI||Kamau^Wanjiru";

fn message(rest: &[&str]) -> String {
    let mut s = vec![MSH, PID];
    s.extend_from_slice(rest);
    s.join("\r")
}

#[test]
fn reads_orders_observations_values_and_notes() {
    let text = message(&[
        "ORC|RE|ORD-1|F-77",
        "OBR|1|||24323-8^Comprehensive metabolic panel^LN|||20261206090000||||||||||||||||F",
        "NTE|1||Sample slightly haemolysed",
        "OBX|1|NM|2823-3^Potassium^LN||6.8|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|||20261206094500",
        "NTE|1||Repeated: same value~Phoned to ward",
        "OBX|2|SN|2160-0^Creatinine^LN||<^0.3|mg/dL|0.6-1.2|L|||F",
        "OBX|3|SN|5196-1^HBsAg titre^LN||^1^:^128||||||P",
        "OBX|4|CWE|600-7^Culture^LN||3092008^Staphylococcus aureus^SCT~112283007^E. coli^SCT|||A|||C",
        "OBX|5|ST|8251-1^Comment^LN||Glucose^fasting \\F\\ 8h||||||F",
        "OBX|6|NM|2345-7^Glucose^LN||>=450|mg/dL||H~A|||F",
        "ZLB|custom|stuff",
        "OBR|2|ORD-2|F-78|718-7^Hemoglobin^LN",
        "OBX|1|NM|718-7^Hemoglobin^LN||6.2|g/dL|12-16|L|||F",
    ]);
    let read = parse(&text).expect("reads");
    assert_eq!(read.control_id, "LAB000123");
    assert_eq!(
        read.patient.identifiers,
        [
            ("KNH-000123-7".to_owned(), Some("MR".to_owned())),
            ("23456789".to_owned(), Some("NI".to_owned()))
        ]
    );
    assert_eq!(read.patient.family_name.as_deref(), Some("Kamau"));
    assert_eq!(read.groups.len(), 2);
    let g = &read.groups[0];
    assert_eq!(g.placer_order.as_deref(), Some("ORD-1"), "from the ORC");
    assert_eq!(g.filler_order.as_deref(), Some("F-77"));
    assert_eq!(g.notes, ["Sample slightly haemolysed"]);
    assert_eq!(g.observations.len(), 6);
    let k = &g.observations[0];
    assert_eq!(
        k.values,
        [Value::Number {
            comparator: None,
            value: "6.8".into()
        }]
    );
    assert_eq!(
        k.units.as_ref().and_then(|u| u.code.as_deref()),
        Some("mmol/L")
    );
    assert_eq!(k.reference_range.as_deref(), Some("3.5-5.1"));
    assert_eq!(k.abnormal_flags, ["HH"]);
    assert_eq!(k.status, ResultStatus::Final);
    assert_eq!(k.notes, ["Repeated: same value", "Phoned to ward"]);
    assert_eq!(k.observed_at.as_deref(), Some("20261206094500"));
    assert_eq!(
        g.observations[1].values,
        [Value::Number {
            comparator: Some("<".into()),
            value: "0.3".into()
        }]
    );
    assert_eq!(
        g.observations[2].values,
        [Value::Pair {
            comparator: None,
            first: "1".into(),
            separator: ":".into(),
            second: "128".into()
        }]
    );
    assert_eq!(g.observations[2].status, ResultStatus::Preliminary);
    assert_eq!(g.observations[3].values.len(), 2, "repeated OBX-5");
    assert_eq!(g.observations[3].status, ResultStatus::Corrected);
    assert_eq!(
        g.observations[4].values,
        [Value::Text {
            text: "Glucose^fasting | 8h".into()
        }],
        "an unescaped caret is still one text; \\F\\ is a bar"
    );
    assert_eq!(
        g.observations[5].values,
        [Value::Number {
            comparator: Some(">=".into()),
            value: "450".into()
        }],
        "NM with a comparator"
    );
    assert_eq!(g.observations[5].abnormal_flags, ["H", "A"]);
    assert_eq!(read.groups[1].placer_order.as_deref(), Some("ORD-2"));
    assert_eq!(
        read.groups[1].observations[0].code.code.as_deref(),
        Some("718-7")
    );
}

#[test]
fn crlf_lf_and_mllp_framing_read_the_same() {
    let cr = message(&[
        "OBR|1|ORD-1||718-7^Hemoglobin^LN",
        "OBX|1|NM|718-7^Hemoglobin^LN||13.1|g/dL|||||F",
    ]);
    let want = parse(&cr).expect("CR");
    assert_eq!(parse(&cr.replace('\r', "\n")).expect("LF"), want);
    assert_eq!(parse(&cr.replace('\r', "\r\n")).expect("CRLF"), want);
    let framed = format!("\u{b}{cr}\r\u{1c}\r");
    assert_eq!(parse(&framed).expect("MLLP"), want);
}

#[test]
fn every_problem_is_named_and_nothing_is_read() {
    let text = message(&[
        "OBR|1|ORD-1||718-7^Hemoglobin^LN",
        "OBX|1|NM|718-7^Hemoglobin^LN||thirteen|g/dL|||||F",
        "OBX|2|NM|718-7^Hemoglobin^LN||13|g/dL||ZZ|||F",
        "OBX|3|NM|718-7^Hemoglobin^LN||13|g/dL",
        "OBX|4|XX|718-7^Hemoglobin^LN||13||||||F",
        "OBX|5|NM|||13||||||F",
        "OBX|6|SN|718-7||~^1^x^2||||||F",
    ]);
    let problems = parse(&text).expect_err("refused");
    let places: Vec<(String, usize, Option<usize>, u16)> = problems
        .iter()
        .map(|p| (p.segment.clone(), p.sequence, p.field, p.code))
        .collect();
    assert_eq!(
        places,
        [
            ("OBX".into(), 1, Some(5), 102),
            ("OBX".into(), 2, Some(8), 103),
            ("OBX".into(), 3, Some(11), 101),
            ("OBX".into(), 4, Some(2), 103),
            ("OBX".into(), 5, Some(3), 101),
            ("OBX".into(), 6, Some(5), 102),
            ("OBX".into(), 6, Some(5), 102),
        ],
        "{problems:#?}"
    );
    let none = parse(&[MSH, PID].join("\r")).expect_err("no OBR");
    assert_eq!(none[0].segment, "OBR");
    let orphan = parse(&[MSH, PID, "OBX|1|NM|718-7||1|||||F"].join("\r")).expect_err("no OBR");
    assert_eq!((orphan[0].segment.as_str(), orphan[0].code), ("OBX", 100));
    let anonymous = parse(&[MSH, "OBR|1|A||718-7"].join("\r")).expect_err("no PID");
    assert_eq!(anonymous[0].segment, "PID");
}

#[test]
fn critical_results_by_flag_or_by_the_bundled_limits() {
    let text = message(&[
        "OBR|1|ORD-1||24323-8^Panel^LN",
        "OBX|1|NM|2823-3^Potassium^LN||6.3|mmol/L|||||F",
        "OBX|2|NM|2823-3^Potassium^LN||6.2|mmol/L|||||F",
        "OBX|3|NM|2823-3^Potassium^LN||2.79|mmol/L|||||F",
        "OBX|4|NM|2823-3^Potassium^LN||6.3|mEq/L|||||F",
        "OBX|5|NM|9999-4^Something^LN||1|x||AA|||F",
        "OBX|6|NM|718-7^Hemoglobin^LN||<7|g/dL|||||F",
        "OBX|7|NM|718-7^Hemoglobin^LN||>5|g/dL|||||F",
    ]);
    let read = parse(&text).expect("reads");
    let critical: Vec<bool> = read.groups[0]
        .observations
        .iter()
        .map(|o| o.critical().is_some())
        .collect();
    // 6.2 is at the limit, not above it; another unit is not compared; "<7" is below 7;
    // ">5" may be anything above 5, not known to be critical.
    assert_eq!(critical, [true, false, true, false, true, true, false]);
    assert!(
        read.groups[0].observations[0]
            .critical()
            .is_some_and(|r| r.contains("above the critical limit 6.2"))
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes that parse as HL7 are read or refused, never a panic.
        #[test]
        fn never_panics_on_any_message(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = format!("{MSH}\r{PID}\rOBR|1|A||718-7\r").into_bytes();
            bytes.extend(body);
            if let Ok(m) = Message::parse(&bytes) {
                let _ = read(&m);
            }
        }

        /// OBX segments built from pieces of real ones, in any mix, never panic and never give
        /// a result when a problem was found.
        #[test]
        fn never_panics_on_shuffled_obx(fields in proptest::collection::vec(
            prop_oneof![
                Just(""), Just("NM"), Just("SN"), Just("CWE"), Just("ST"), Just("<^5"), Just("^1^:^2"),
                Just("6.8"), Just("<=7"), Just("HH~L"), Just("F"), Just("C"), Just("W"), Just("Q"),
                Just("2823-3^K^LN"), Just("mmol/L"), Just("\\F\\"), Just("^^^"), Just("~"), Just("&"),
            ],
            0..14,
        )) {
            let obx = format!("OBX|{}", fields.join("|"));
            let text = message(&["OBR|1|A||718-7", &obx]);
            if let Ok(m) = Message::parse(text.as_bytes()) {
                match read(&m) {
                    Ok(r) => prop_assert_eq!(r.groups.len(), 1),
                    Err(p) => prop_assert!(!p.is_empty()),
                }
            }
        }
    }
}
