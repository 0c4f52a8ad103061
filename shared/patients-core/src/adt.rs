//! HL7 v2 ADT import: A04 registers a patient, A08 updates one, A40 merges two. The answer
//! is an ACK: `AA`; `AE` with an `ERR` naming the segment, field and component of what was
//! wrong (nothing is written); `AR` for a message Haven does not take at all.
//!
//! PID is read as HL7 v2.5 defines it: PID-3 identifiers (CX: id ^ check digit ^ scheme ^
//! assigning authority ^ type code), PID-5 name (XPN: family ^ given ^ middle), PID-7 date of
//! birth, PID-8 sex, PID-11 address (XAD; component 4, state or province, is the county),
//! PID-13 phone and email (XTN), and NK1-2/3/5 the next of kin. Haven's own MRN is the PID-3
//! entry of type `MR` whose value carries a valid check character.

use haven_hl7::Message;
use haven_hl7::ack::{AckCode, ErrorDetail};
use serde::Serialize;

use crate::access::{Purpose, Staff};
use crate::identifiers::{Identifier, IdentifierType};
use crate::mrn::Mrn;
use crate::record::{NextOfKin, PatientDetails, PatientInput, Sex};
use crate::registry::{self, Opened};
use haven_kernel::DomainError;
use haven_kernel::ports::Ports;

/// What an import did, for the ACK and for JSON callers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportOutcome {
    pub ack_code: &'static str,
    pub message_type: Option<String>,
    pub control_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrn: Option<String>,
    pub errors: Vec<ImportError>,
    /// The HL7 ACK itself.
    #[serde(skip)]
    pub ack: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportError {
    pub segment: String,
    pub sequence: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<usize>,
    pub code: u16,
    pub text: String,
}

impl From<&ErrorDetail> for ImportError {
    fn from(e: &ErrorDetail) -> Self {
        ImportError {
            segment: e.segment.clone(),
            sequence: e.sequence,
            field: e.field,
            component: e.component,
            code: e.code,
            text: e.text.clone(),
        }
    }
}

/// HL7 table 0357 codes used here.
const REQUIRED_FIELD_MISSING: u16 = 101;
const DATA_TYPE_ERROR: u16 = 102;
const TABLE_VALUE_NOT_FOUND: u16 = 103;
const UNSUPPORTED_MESSAGE_TYPE: u16 = 200;
const UNSUPPORTED_EVENT: u16 = 201;
const UNKNOWN_KEY: u16 = 204;
const INTERNAL_ERROR: u16 = 207;

/// Where in the message something is, for an `ERR`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct At {
    segment: &'static str,
    sequence: usize,
    field: Option<usize>,
    component: Option<usize>,
}

fn at(message: &Message, segment: &'static str, field: usize, component: Option<usize>) -> At {
    // ERR-2.2 counts segments of this name (the first PID is 1 wherever it stands).
    let sequence = usize::from(message.segment(segment).is_some());
    At {
        segment,
        sequence,
        field: Some(field),
        component,
    }
}

fn detail(at: At, code: u16, text: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        segment: at.segment.to_owned(),
        sequence: at.sequence,
        field: at.field,
        component: at.component,
        code,
        text: text.into(),
    }
}

/// Where a record field of [`PatientInput`] comes from in the message.
fn origin(message: &Message, field: &str) -> At {
    let pid = |f, c| at(message, "PID", f, c);
    match field {
        "family_name" => pid(5, Some(1)),
        "given_name" => pid(5, Some(2)),
        "other_names" => pid(5, Some(3)),
        "date_of_birth" | "estimated_age" => pid(7, None),
        "sex" => pid(8, None),
        "address" => pid(11, Some(1)),
        "county" => pid(11, Some(4)),
        "phone" | "email" => pid(13, None),
        f if f.starts_with("identifiers") => pid(3, Some(1)),
        f if f.starts_with("next_of_kin") => {
            let component = if f.ends_with("phone") { 5 } else { 2 };
            at(message, "NK1", component, None)
        }
        _ => pid(3, None),
    }
}

/// PID-3 type codes of the identifiers Haven keeps (HL7 table 0203 and local usage).
fn identifier_type(code: &str) -> Option<IdentifierType> {
    match code.to_ascii_uppercase().as_str() {
        "NI" | "NID" | "NNKEN" | "NATIONAL_ID" => Some(IdentifierType::NationalId),
        "PPN" | "PP" | "PASSPORT" => Some(IdentifierType::Passport),
        "BCT" | "BC" | "BIRTH_CERTIFICATE" => Some(IdentifierType::BirthCertificate),
        "MB" | "SHA" | "SHA_NUMBER" => Some(IdentifierType::ShaNumber),
        "NUPI" | "NH" => Some(IdentifierType::Nupi),
        "RID" | "REFUGEE_ID" => Some(IdentifierType::RefugeeId),
        "AID" | "ALIEN_ID" => Some(IdentifierType::AlienId),
        _ => None,
    }
}

/// Haven's MRN among the PID-3 identifiers, if one is there.
fn haven_mrn(message: &Message) -> Option<Mrn> {
    let pid = message.segment("PID")?;
    pid.repetitions(3)
        .iter()
        .filter(|r| r.component(5).is_some_and(|t| t.eq_ignore_ascii_case("MR")))
        .find_map(|r| r.component(1).and_then(|v| Mrn::parse(v).ok()))
}

/// An HL7 date (`YYYYMMDD`, maybe with a time after it) as `YYYY-MM-DD`.
fn date(value: &str) -> Option<String> {
    let d = value.get(..8)?;
    d.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]))
}

/// A field of the message that overrides `current` when present; `""` clears it.
enum Given<T> {
    Absent,
    Cleared,
    Value(T),
}

impl<T> Given<T> {
    fn over(self, current: Option<T>) -> Option<T> {
        match self {
            Given::Absent => current,
            Given::Cleared => None,
            Given::Value(v) => Some(v),
        }
    }
}

/// The record's input from PID and NK1, over `current` (for A08): fields the message leaves
/// empty keep their value, `""` clears them. Errors name where in the message.
fn input_from(
    message: &Message,
    current: Option<&PatientDetails>,
) -> Result<PatientInput, ErrorDetail> {
    let pid = message.segment("PID").ok_or_else(|| {
        detail(
            At {
                segment: "PID",
                sequence: 0,
                field: None,
                component: None,
            },
            REQUIRED_FIELD_MISSING,
            "the message has no PID segment",
        )
    })?;
    let text = |f: usize, c: usize| -> Given<String> {
        if pid.is_null(f) {
            Given::Cleared
        } else {
            pid.get(f, c)
                .map_or(Given::Absent, |v| Given::Value(v.to_owned()))
        }
    };
    let required = |value: Option<String>, field: usize, component: usize, what: &str| {
        value.ok_or_else(|| {
            detail(
                at(message, "PID", field, Some(component)),
                REQUIRED_FIELD_MISSING,
                format!("the {what} is required"),
            )
        })
    };
    let family_name = required(
        text(5, 1).over(current.map(|c| c.family_name.clone())),
        5,
        1,
        "family name",
    )?;
    let given_name = required(
        text(5, 2).over(current.map(|c| c.given_name.clone())),
        5,
        2,
        "given name",
    )?;
    let other_names = text(5, 3).over(current.and_then(|c| c.other_names.clone()));
    let date_of_birth = match text(7, 1) {
        Given::Value(v) => Some(date(&v).ok_or_else(|| {
            detail(
                at(message, "PID", 7, None),
                DATA_TYPE_ERROR,
                "the date of birth is not an HL7 date (YYYYMMDD)",
            )
        })?),
        Given::Cleared => None,
        Given::Absent => current.and_then(|c| c.date_of_birth.clone()),
    };
    let sex = match text(8, 1) {
        Given::Value(v) => Sex::from_hl7(&v).ok_or_else(|| {
            detail(
                at(message, "PID", 8, None),
                TABLE_VALUE_NOT_FOUND,
                "sex is F, M, O, U, A or N (HL7 table 0001)",
            )
        })?,
        _ => current.map_or(Sex::Unknown, |c| c.sex),
    };
    let address = {
        let parts: Vec<&str> = [1, 2, 3].iter().filter_map(|c| pid.get(11, *c)).collect();
        if pid.is_null(11) {
            Given::Cleared
        } else if parts.is_empty() {
            Given::Absent
        } else {
            Given::Value(parts.join(", "))
        }
    }
    .over(current.and_then(|c| c.address.clone()));
    let county = text(11, 4).over(current.and_then(|c| c.county.clone()));
    // PID-13: phones (use PRN/ORN/WPN, equipment PH/CP) and an email (equipment Internet).
    let mut phone = Given::Absent;
    let mut email = Given::Absent;
    if pid.is_null(13) {
        phone = Given::Cleared;
        email = Given::Cleared;
    }
    for r in pid.repetitions(13) {
        let equipment = r.component(3).unwrap_or_default();
        if equipment.eq_ignore_ascii_case("Internet") || r.component(2) == Some("NET") {
            if let Some(e) = r.component(4) {
                email = Given::Value(e.to_owned());
            }
        } else if matches!(phone, Given::Absent) {
            let number = r.component(12).or(r.component(1));
            if let Some(n) = number {
                phone = Given::Value(n.to_owned());
            }
        }
    }
    let phone = phone.over(current.and_then(|c| c.phone.clone()));
    let email = email.over(current.and_then(|c| c.email.clone()));
    // PID-3: identifiers of the types Haven keeps; the MRN and others' numbers are not.
    let mut identifiers: Vec<Identifier> = Vec::new();
    let mut any_listed = false;
    for r in pid.repetitions(3) {
        let (Some(value), Some(kind)) = (r.component(1), r.component(5).and_then(identifier_type))
        else {
            continue;
        };
        any_listed = true;
        if !identifiers
            .iter()
            .any(|i| i.kind == kind && i.value == value)
        {
            identifiers.push(Identifier {
                kind,
                value: value.to_owned(),
            });
        }
    }
    if !any_listed && let Some(c) = current {
        identifiers = c.identifiers.clone();
    }
    let next_of_kin = match message.segment("NK1") {
        Some(nk1) => match (nk1.get(2, 2), nk1.get(2, 1)) {
            (given, Some(family)) => Some(NextOfKin {
                name: given.map_or(family.to_owned(), |g| format!("{g} {family}")),
                relationship: nk1.get(3, 2).or(nk1.get(3, 1)).map(str::to_owned),
                phone: nk1.get(5, 12).or(nk1.get(5, 1)).map(str::to_owned),
            }),
            _ => None,
        },
        None => current.and_then(|c| c.next_of_kin.clone()),
    };
    Ok(PatientInput {
        given_name,
        family_name,
        other_names,
        date_of_birth,
        estimated_age: None,
        sex,
        phone,
        email,
        county,
        address,
        next_of_kin,
        identifiers,
        haven_user_id: current.and_then(|c| c.haven_user_id.clone()),
        hospital_id: None,
    })
}

/// Maps a refused record to the place in the message that carried it.
fn refused(message: &Message, e: &DomainError) -> ErrorDetail {
    match e {
        DomainError::Invalid {
            field,
            message: text,
        } => {
            let place = origin(message, field.as_deref().unwrap_or(""));
            let code = if field
                .as_deref()
                .is_some_and(|f| f == "county" || f == "sex")
            {
                TABLE_VALUE_NOT_FOUND
            } else {
                DATA_TYPE_ERROR
            };
            detail(place, code, text.clone())
        }
        DomainError::NotFound(_) => detail(
            at(message, "PID", 3, Some(1)),
            UNKNOWN_KEY,
            "no patient of this hospital has this MRN",
        ),
        other => detail(
            At {
                segment: "MSH",
                sequence: 1,
                field: None,
                component: None,
            },
            INTERNAL_ERROR,
            other.to_string(),
        ),
    }
}

/// The hospital an import is for: the caller's, or for a system admin the `hospital_id`
/// named (or MSH-6, the receiving facility).
fn hospital_of(
    staff: &Staff,
    named: Option<&str>,
    message: &Message,
) -> Result<String, DomainError> {
    if staff.role != haven_kernel::Role::SystemAdmin {
        // Staff import for their own hospital; MSH-6 is often a name of the sender's choosing.
        return staff.hospital_to_write(named);
    }
    let from_message = message.segment("MSH").and_then(|m| m.value(6));
    staff.hospital_to_write(named.or(from_message))
}

/// Imports one ADT message. `now` is the ACK's time (`YYYYMMDDHHMMSS`), `ack_id` its
/// control id. Refusals of the caller (403, 404) are errors; everything about the message is
/// in the outcome's ACK.
pub async fn import<P: Ports>(
    ports: &P,
    staff: &Staff,
    bytes: &[u8],
    named_hospital: Option<&str>,
    now: &str,
    ack_id: &str,
) -> Result<ImportOutcome, DomainError> {
    staff.may_write()?;
    let message = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            let err = ErrorDetail {
                segment: e.segment.clone().unwrap_or_else(|| "MSH".into()),
                sequence: e.sequence,
                field: e.field,
                component: None,
                code: if e.segment.as_deref() == Some("MSH") || e.segment.is_none() {
                    REQUIRED_FIELD_MISSING
                } else {
                    DATA_TYPE_ERROR
                },
                text: e.reason.clone(),
            };
            return Ok(outcome(
                None,
                AckCode::Reject,
                vec![err],
                None,
                now,
                ack_id,
                "HAVEN",
            ));
        }
    };
    let hospital_id = hospital_of(staff, named_hospital, &message)?;
    let (kind, event) = message
        .message_type()
        .map(|(k, e)| (k.to_ascii_uppercase(), e.to_ascii_uppercase()))
        .unwrap_or_default();
    if kind != "ADT" {
        let err = detail(
            at(&message, "MSH", 9, Some(1)),
            UNSUPPORTED_MESSAGE_TYPE,
            format!("Haven imports ADT messages here, not {kind}"),
        );
        return Ok(outcome(
            Some(&message),
            AckCode::Reject,
            vec![err],
            None,
            now,
            ack_id,
            &hospital_id,
        ));
    }
    let purpose = Purpose::Operations;
    let result: Result<Opened, ErrorDetail> = match event.as_str() {
        "A04" | "A01" | "A05" => match input_from(&message, None) {
            Err(e) => Err(e),
            Ok(mut input) => {
                input.hospital_id = Some(hospital_id.clone());
                registry::create(ports, staff, input, purpose)
                    .await
                    .map_err(|e| refused(&message, &e))
            }
        },
        "A08" | "A31" => update(ports, staff, &message, &hospital_id, purpose).await,
        "A40" => merge(ports, staff, &message, &hospital_id, purpose).await,
        other => Err(detail(
            at(&message, "MSH", 9, Some(2)),
            UNSUPPORTED_EVENT,
            format!(
                "ADT^{other} is not imported; Haven takes A04 (or A01, A05), A08 (or A31) and A40"
            ),
        )),
    };
    Ok(match result {
        Ok(opened) => outcome(
            Some(&message),
            AckCode::Accept,
            Vec::new(),
            Some(&opened),
            now,
            ack_id,
            &hospital_id,
        ),
        Err(e) if e.code == UNSUPPORTED_EVENT => outcome(
            Some(&message),
            AckCode::Reject,
            vec![e],
            None,
            now,
            ack_id,
            &hospital_id,
        ),
        Err(e) => outcome(
            Some(&message),
            AckCode::Error,
            vec![e],
            None,
            now,
            ack_id,
            &hospital_id,
        ),
    })
}

/// The patient PID-3 names by Haven's MRN (what `doing` needs: "an update", "a merge").
async fn named_in_pid<P: Ports>(
    ports: &P,
    message: &Message,
    hospital_id: &str,
    doing: &str,
) -> Result<Opened, ErrorDetail> {
    let mrn = haven_mrn(message).ok_or_else(|| {
        detail(
            at(message, "PID", 3, Some(1)),
            REQUIRED_FIELD_MISSING,
            format!("{doing} names the patient by Haven's MRN in PID-3 (type MR)"),
        )
    })?;
    registry::find_by_mrn(ports, hospital_id, &mrn)
        .await
        .map_err(|e| refused(message, &e))?
        .ok_or_else(|| refused(message, &DomainError::NotFound("patient".into())))
}

async fn update<P: Ports>(
    ports: &P,
    staff: &Staff,
    message: &Message,
    hospital_id: &str,
    purpose: Purpose,
) -> Result<Opened, ErrorDetail> {
    let current = named_in_pid(ports, message, hospital_id, "an update").await?;
    let input = input_from(message, Some(&current.sealed.details))?;
    registry::replace(
        ports,
        staff,
        &current.id,
        input,
        Some(current.version()),
        purpose,
    )
    .await
    .map_err(|e| refused(message, &e))
}

async fn merge<P: Ports>(
    ports: &P,
    staff: &Staff,
    message: &Message,
    hospital_id: &str,
    purpose: Purpose,
) -> Result<Opened, ErrorDetail> {
    let survivor = named_in_pid(ports, message, hospital_id, "a merge").await?;
    let retired_mrn = message
        .segment("MRG")
        .and_then(|m| {
            m.repetitions(1)
                .iter()
                .find_map(|r| r.component(1).and_then(|v| Mrn::parse(v).ok()))
        })
        .ok_or_else(|| {
            detail(
                at(message, "MRG", 1, Some(1)),
                REQUIRED_FIELD_MISSING,
                "a merge names the retired patient by Haven's MRN in MRG-1",
            )
        })?;
    let retired = registry::find_by_mrn(ports, hospital_id, &retired_mrn)
        .await
        .map_err(|e| refused(message, &e))?
        .ok_or_else(|| {
            detail(
                at(message, "MRG", 1, Some(1)),
                UNKNOWN_KEY,
                "no patient of this hospital has the MRN in MRG-1",
            )
        })?;
    registry::merge(ports, staff, &survivor.id, &retired.id, purpose)
        .await
        .map_err(|e| refused(message, &e))
}

fn outcome(
    message: Option<&Message>,
    code: AckCode,
    errors: Vec<ErrorDetail>,
    patient: Option<&Opened>,
    now: &str,
    ack_id: &str,
    facility: &str,
) -> ImportOutcome {
    let ack = haven_hl7::ack::build(message, code, &errors, now, ack_id, "HAVEN", facility);
    ImportOutcome {
        ack_code: code.as_str(),
        message_type: message
            .and_then(Message::message_type)
            .map(|(k, e)| format!("{k}^{e}")),
        control_id: message.and_then(Message::control_id).map(str::to_owned),
        patient_id: patient.map(|p| p.id.clone()),
        mrn: patient.map(|p| p.sealed.mrn.clone()),
        errors: errors.iter().map(ImportError::from).collect(),
        ack,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r").as_bytes()).expect("parses")
    }

    const A04: &str = "MSH|^~\\&|EMR|KNH|HAVEN|demo-knh|20261203100000||ADT^A04^ADT_A01|M1|P|2.5
EVN|A04
PID|1||12345678^^^KE^NI~EMR-1^^^EMR^MR~A1234567^^^KE^PPN||Kamau^Wanjiru^Njeri||19900412|F|||Kibera^Olympic^Nairobi^nairobi^^KE||^PRN^PH^^^^^^^^^0712 345 678~^NET^Internet^w@example.org
NK1|1|Kamau^Otieno|BRO^Brother|||^PRN^PH^^^^^^^^^0722000111";

    #[test]
    fn pid_and_nk1_become_a_record() {
        let input = input_from(&message(A04), None).expect("reads");
        assert_eq!(input.family_name, "Kamau");
        assert_eq!(input.given_name, "Wanjiru");
        assert_eq!(input.other_names.as_deref(), Some("Njeri"));
        assert_eq!(input.date_of_birth.as_deref(), Some("1990-04-12"));
        assert_eq!(input.sex, Sex::Female);
        assert_eq!(input.address.as_deref(), Some("Kibera, Olympic, Nairobi"));
        assert_eq!(input.county.as_deref(), Some("nairobi"));
        assert_eq!(input.phone.as_deref(), Some("0712 345 678"));
        assert_eq!(input.email.as_deref(), Some("w@example.org"));
        // The sender's own MR number is not one of the person's identifiers.
        let kinds: Vec<_> = input.identifiers.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [IdentifierType::NationalId, IdentifierType::Passport]
        );
        let kin = input.next_of_kin.expect("kin");
        assert_eq!(kin.name, "Otieno Kamau");
        assert_eq!(kin.relationship.as_deref(), Some("Brother"));
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let details = input_from(&message(A04), None)
            .expect("reads")
            .validate(today)
            .expect("valid");
        assert_eq!(details.county.as_deref(), Some("Nairobi"));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_carry_and_clears_an_explicit_null() {
        let current = input_from(&message(A04), None)
            .expect("reads")
            .validate(chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date"))
            .expect("valid");
        let a08 = message(
            "MSH|^~\\&|EMR|KNH|HAVEN|demo-knh|20261203100000||ADT^A08^ADT_A01|M2|P|2.5
PID|1||KNH-000001-1^^^HAVEN^MR||Kamau^Wanjiru||||||\"\"",
        );
        let input = input_from(&a08, Some(&current)).expect("reads");
        assert_eq!(input.date_of_birth.as_deref(), Some("1990-04-12"));
        assert_eq!(input.phone.as_deref(), Some("+254712345678"));
        assert_eq!(input.address, None, "PID-11 was \"\"");
        assert_eq!(input.identifiers, current.identifiers);
    }

    #[test]
    fn each_problem_names_its_place() {
        let bad = message(
            "MSH|^~\\&|EMR|KNH|HAVEN|demo-knh|20261203100000||ADT^A04^ADT_A01|M3|P|2.5
EVN|A04
PID|1||||Kamau^Wanjiru||1990-04-12|X",
        );
        let e = input_from(&bad, None).expect_err("a bad date");
        assert_eq!(
            (e.segment.as_str(), e.sequence, e.field),
            ("PID", 1, Some(7))
        );
        assert_eq!(e.code, DATA_TYPE_ERROR);
        let no_name = message(
            "MSH|^~\\&|EMR|KNH|HAVEN|demo-knh|20261203100000||ADT^A04^ADT_A01|M4|P|2.5
PID|1||||^Wanjiru",
        );
        let e = input_from(&no_name, None).expect_err("no family name");
        assert_eq!(
            (e.field, e.component, e.code),
            (Some(5), Some(1), REQUIRED_FIELD_MISSING)
        );
        let refused_phone = refused(&message(A04), &DomainError::invalid("phone", "not a phone"));
        assert_eq!(
            (refused_phone.field, refused_phone.code),
            (Some(13), DATA_TYPE_ERROR)
        );
        let refused_kin = refused(
            &message(A04),
            &DomainError::invalid("next_of_kin.phone", "not a phone"),
        );
        assert_eq!(
            (refused_kin.segment.as_str(), refused_kin.field),
            ("NK1", Some(5))
        );
        assert!(
            haven_mrn(&message(A04)).is_none(),
            "EMR-1 is not a Haven MRN"
        );
    }
}
