//! HL7 v2.5 ADT^A04 ("register a patient": an emergency arrival is expected) for hospitals
//! whose systems take HL7 v2 rather than FHIR. Segments end with a carriage return; text is
//! escaped so a `|`, `^`, `~`, `\` or `&` in a name or an allergy cannot break the message.

use crate::comms::clinical::{ClinicalPicture, hl7_allergy_severity};
use crate::emergencies::alert::Alert;
use crate::medical::profile::MedicalProfile;

/// HL7's form for a local coding system (table 0396: `99zzz`): Haven's own codes.
pub const LOCAL_CODES: &str = "99HVN";

/// MSH-2: component `^`, repetition `~`, escape `\`, subcomponent `&`.
pub const ENCODING_CHARACTERS: &str = "^~\\&";

/// Escapes text for a field, as HL7 v2 section 2.7 defines.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' => out.push_str("\\X0D\\"),
            '\n' => out.push_str("\\X0A\\"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `YYYYMMDDHHMMSS` from an RFC 3339 time (HL7's DTM, in UTC).
fn dtm(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

pub struct Admission<'a> {
    pub alert: &'a Alert,
    pub hospital_id: &'a str,
    pub patient_name: &'a str,
    pub patient_phone: Option<&'a str>,
    /// The profile, when break-glass applies.
    pub profile: Option<&'a MedicalProfile>,
    /// What is wrong, as OBX segments (absent in a stand-down).
    pub clinical: Option<&'a ClinicalPicture>,
    /// MSH-10, unique per message.
    pub control_id: &'a str,
    pub at: &'a str,
}

/// The ADT^A04 message, segments separated by `\r`.
pub fn adt_a04(a: &Admission) -> String {
    let at = dtm(a.at);
    let alert = a.alert;
    let (given, family) = match a.patient_name.trim().rsplit_once(' ') {
        Some((given, family)) => (given, family),
        None => ("", a.patient_name.trim()),
    };
    let mut segments = vec![
        format!(
            "MSH|{ENCODING_CHARACTERS}|HAVEN|HAVEN|{}|{}|{at}||ADT^A04^ADT_A01|{}|P|2.5|||AL|NE||UNICODE UTF-8",
            escape(a.hospital_id),
            escape(a.hospital_id),
            escape(a.control_id)
        ),
        format!("EVN|A04|{at}"),
    ];
    let dob = a
        .profile
        .and_then(|p| p.date_of_birth.as_deref())
        .map(|d| d.replace('-', ""))
        .unwrap_or_default();
    let sex = a
        .clinical
        .and_then(|c| c.sex)
        .map_or("U", crate::medical::profile::Sex::hl7);
    segments.push(format!(
        "PID|1||{}^^^HAVEN^PI||{}^{}||{dob}|{sex}|||||{}",
        escape(&alert.patient_id),
        escape(family),
        escape(given),
        a.patient_phone.map(escape).unwrap_or_default()
    ));
    // PV1-2 E: emergency; PV1-19 the visit number is the alert; PV1-44 the expected arrival.
    let mut pv1 = vec![String::new(); 45];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = "E".into();
    pv1[3] = format!("^^^{}", escape(a.hospital_id));
    pv1[19] = format!("{}^^^HAVEN^VN", escape(&alert.alert_id));
    pv1[44] = at.clone();
    segments.push(pv1.join("|"));
    segments.push(format!(
        "PV2|||^{}",
        escape(&format!(
            "{} emergency, priority {}",
            alert.emergency_type.as_str(),
            alert.priority.as_str()
        ))
    ));
    if let Some(c) = a.clinical {
        segments.extend(observations(c, &at));
    }
    if let Some(profile) = a.profile {
        for (i, allergy) in profile.allergies.iter().enumerate() {
            let severity = hl7_allergy_severity(allergy.severity);
            segments.push(format!(
                "AL1|{}|DA|^{}|{severity}|{}",
                i + 1,
                escape(&allergy.substance),
                allergy.reaction.as_deref().map(escape).unwrap_or_default()
            ));
        }
        for (i, condition) in profile.conditions.iter().enumerate() {
            let code = condition.icd10.as_deref().map(escape).unwrap_or_default();
            let system = if code.is_empty() { "" } else { "I10" };
            segments.push(format!(
                "DG1|{}||{code}^{}^{system}||{at}|F",
                i + 1,
                escape(&condition.name)
            ));
        }
    }
    let mut message = segments.join("\r");
    message.push('\r');
    message
}

/// The clinical picture as OBX segments (ADT_A01 carries them after PV2): vitals as NM with
/// LOINC codes and UCUM units, the age band as SN, each symptom as a chief complaint (LOINC
/// 8661-1, CWE with Haven's code), and the priority's reason and the note as text.
fn observations(c: &ClinicalPicture, at: &str) -> Vec<String> {
    let mut obx: Vec<(String, String, String, String)> = Vec::new();
    for (code, display, value, unit) in c.vital_signs() {
        obx.push((
            "NM".into(),
            format!("{code}^{}^LN", escape(display)),
            format!("{value}"),
            format!("{}^^UCUM", escape(unit)),
        ));
    }
    if let Some(band) = c.age_band {
        let value = match band.to {
            Some(to) => format!("^{}^-^{to}", band.from),
            None => format!(">=^{}", band.from),
        };
        obx.push((
            "SN".into(),
            "30525-0^Age^LN".into(),
            value,
            "a^year^UCUM".into(),
        ));
    }
    for s in &c.symptoms {
        obx.push((
            "CWE".into(),
            "8661-1^Chief complaint^LN".into(),
            format!("{}^{}^{LOCAL_CODES}", escape(&s.code), escape(&s.display)),
            String::new(),
        ));
    }
    obx.push((
        "ST".into(),
        format!("PRIORITY^Priority reason^{LOCAL_CODES}"),
        escape(&c.priority_reason),
        String::new(),
    ));
    if let Some(note) = &c.note {
        obx.push((
            "TX".into(),
            format!("NOTE^Note from the scene^{LOCAL_CODES}"),
            escape(note),
            String::new(),
        ));
    }
    obx.into_iter()
        .enumerate()
        // OBX-11 P: reported from the scene, not a result the hospital measured.
        .map(|(i, (kind, code, value, unit))| {
            format!("OBX|{}|{kind}|{code}||{value}|{unit}|||||P|||{at}", i + 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::medical::profile::{Allergy, Condition, Severity};

    #[test]
    fn delimiters_in_text_are_escaped() {
        assert_eq!(escape(r"a|b^c~d\e&f"), r"a\F\b\S\c\R\d\E\e\T\f");
        assert_eq!(escape("line\nbreak"), "line\\X0A\\break");
    }

    #[test]
    fn the_message_has_its_segments_in_order_and_no_stray_delimiters() {
        let alert = crate::comms::tests::alert();
        let profile = MedicalProfile {
            allergies: vec![Allergy {
                substance: "Penicillin | amoxicillin".into(),
                reaction: Some("rash ^ swelling".into()),
                severity: Severity::Severe,
            }],
            conditions: vec![Condition {
                name: "Asthma".into(),
                icd10: Some("J45.9".into()),
            }],
            ..Default::default()
        };
        let message = adt_a04(&Admission {
            alert: &alert,
            hospital_id: "demo-knh",
            patient_name: "Amina W. Otieno",
            patient_phone: Some("+254712345678"),
            profile: Some(&profile),
            clinical: None,
            control_id: "c1",
            at: "2026-11-23T10:00:00.000Z",
        });
        let segments: Vec<&str> = message.trim_end_matches('\r').split('\r').collect();
        let names: Vec<&str> = segments.iter().map(|s| &s[..3]).collect();
        assert_eq!(names, ["MSH", "EVN", "PID", "PV1", "PV2", "AL1", "DG1"]);
        assert!(segments[0].starts_with("MSH|^~\\&|HAVEN|"));
        assert!(segments[0].contains("|ADT^A04^ADT_A01|c1|P|2.5|"));
        assert!(segments[2].contains("|Otieno^Amina W.|"));
        assert_eq!(segments[5].split('|').count(), 6, "{}", segments[5]);
        assert!(segments[5].contains(r"Penicillin \F\ amoxicillin"));
        assert!(segments[6].contains("J45.9^Asthma^I10"));
        assert!(segments[3].split('|').nth(44) == Some("20261123100000"));
    }
}
