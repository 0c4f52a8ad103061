//! A patient as a FHIR R4 Patient, with the Kenya Core identifier systems. The systems are
//! configuration ([`IdentifierSystems`]): the Kenyan guides disagree on them, and a county's
//! HIE names its own.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::identifiers::IdentifierType;
use crate::registry::{Opened, Status};

pub const CONTENT_TYPE: &str = "application/fhir+json";
/// HL7's identifier type codes (table 0203).
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// The URIs identifiers are published under.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentifierSystems {
    /// The MRN's system; `{hospital_id}` is replaced by the hospital's id.
    pub mrn: String,
    pub phone: String,
    /// By identifier type (`national_id`, `sha_number`…).
    pub by_type: BTreeMap<String, String>,
    /// The profile the Patient claims in `meta.profile`, if any.
    pub profile: Option<String>,
}

impl Default for IdentifierSystems {
    fn default() -> Self {
        let base = "https://fhir.health.go.ke/identifier";
        let by_type = IdentifierType::ALL
            .iter()
            .map(|t| {
                (
                    t.as_str().to_owned(),
                    format!("{base}/{}", t.as_str().replace('_', "-")),
                )
            })
            .collect();
        IdentifierSystems {
            mrn: "https://haven.health/fhir/identifier/mrn/{hospital_id}".into(),
            phone: format!("{base}/phone"),
            by_type,
            profile: None,
        }
    }
}

impl IdentifierSystems {
    /// The defaults with the overrides of a JSON object (the `HAVEN_FHIR_IDENTIFIER_SYSTEMS`
    /// setting): `{"by_type": {"national_id": "…"}, "mrn": "…"}`.
    pub fn with_overrides(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Overrides {
            mrn: Option<String>,
            phone: Option<String>,
            #[serde(default)]
            by_type: BTreeMap<String, String>,
            profile: Option<String>,
        }
        let o: Overrides = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut systems = IdentifierSystems::default();
        for (kind, system) in o.by_type {
            if !systems.by_type.contains_key(&kind) {
                return Err(format!("no identifier type {kind}"));
            }
            systems.by_type.insert(kind, system);
        }
        if let Some(m) = o.mrn {
            systems.mrn = m;
        }
        if let Some(p) = o.phone {
            systems.phone = p;
        }
        systems.profile = o.profile.or(systems.profile);
        Ok(systems)
    }
}

/// The v2-0203 code of an identifier type, where one fits.
fn type_code(kind: IdentifierType) -> (Option<&'static str>, &'static str) {
    match kind {
        IdentifierType::NationalId => (Some("NI"), "National ID"),
        IdentifierType::BirthCertificate => (Some("BCT"), "Birth certificate"),
        IdentifierType::Passport => (Some("PPN"), "Passport number"),
        IdentifierType::AlienId => (None, "Alien ID"),
        IdentifierType::RefugeeId => (None, "Refugee ID"),
        IdentifierType::Nupi => (None, "National Unique Patient Identifier"),
        IdentifierType::ShaNumber => (Some("MB"), "SHA member number"),
    }
}

fn identifier_type(code: Option<&str>, text: &str) -> Value {
    match code {
        Some(c) => json!({"coding": [{"system": V2_0203, "code": c}], "text": text}),
        None => json!({"text": text}),
    }
}

/// The FHIR R4 Patient of a record.
pub fn patient(opened: &Opened, systems: &IdentifierSystems) -> Value {
    let d = &opened.sealed.details;
    let hospital_id = opened.hospital_id();
    let mrn_system = systems.mrn.replace("{hospital_id}", hospital_id);
    let mut identifiers = vec![json!({
        "use": "usual",
        "type": identifier_type(Some("MR"), "Medical record number"),
        "system": mrn_system,
        "value": opened.sealed.mrn,
    })];
    for other in &opened.sealed.other_mrns {
        identifiers.push(json!({
            "use": "old",
            "type": identifier_type(Some("MR"), "Medical record number"),
            "system": mrn_system,
            "value": other,
        }));
    }
    for id in &d.identifiers {
        let (code, text) = type_code(id.kind);
        let mut i = json!({
            "use": "official",
            "type": identifier_type(code, text),
            "value": id.value,
        });
        if let Some(system) = systems.by_type.get(id.kind.as_str()) {
            i["system"] = json!(system);
        }
        identifiers.push(i);
    }
    let mut given = vec![d.given_name.clone()];
    if let Some(o) = &d.other_names {
        given.extend(o.split_whitespace().map(str::to_owned));
    }
    let mut text = given.join(" ");
    text.push(' ');
    text.push_str(&d.family_name);
    let mut patient = json!({
        "resourceType": "Patient",
        "id": opened.id,
        "meta": {"versionId": opened.version().to_string(), "lastUpdated": opened.item.s("updated_at").unwrap_or_default()},
        "identifier": identifiers,
        "active": opened.status() == Status::Active,
        "name": [{"use": "official", "text": text, "family": d.family_name, "given": given}],
        "gender": d.sex.as_str(),
    });
    if let Some(profile) = &systems.profile {
        patient["meta"]["profile"] = json!([profile]);
    }
    let mut telecom = Vec::new();
    if let Some(p) = &d.phone {
        telecom.push(json!({"system": "phone", "value": p, "use": "mobile"}));
    }
    if let Some(e) = &d.email {
        telecom.push(json!({"system": "email", "value": e}));
    }
    if !telecom.is_empty() {
        patient["telecom"] = json!(telecom);
    }
    if let Some(b) = &d.date_of_birth {
        patient["birthDate"] = json!(b);
        if d.birth_date_estimated {
            // Worked out from a guessed age; no core extension marks an estimate.
            patient["extension"] = json!([{
                "url": "https://haven.health/fhir/StructureDefinition/birth-date-estimated",
                "valueBoolean": true
            }]);
        }
    }
    if d.address.is_some() || d.county.is_some() {
        let mut address = json!({"use": "home", "country": "KE"});
        if let Some(a) = &d.address {
            address["text"] = json!(a);
        }
        if let Some(c) = &d.county {
            address["state"] = json!(c);
        }
        patient["address"] = json!([address]);
    }
    if let Some(k) = &d.next_of_kin {
        let mut contact = json!({"name": {"text": k.name}});
        contact["relationship"] = json!([{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N", "display": "Next-of-Kin"}],
            "text": k.relationship.clone().unwrap_or_else(|| "next of kin".into())
        }]);
        if let Some(p) = &k.phone {
            contact["telecom"] = json!([{"system": "phone", "value": p}]);
        }
        patient["contact"] = json!([contact]);
    }
    if let Some(into) = opened.item.s("merged_into") {
        patient["link"] =
            json!([{"other": {"reference": format!("Patient/{into}")}, "type": "replaced-by"}]);
    }
    patient
}

/// `?_include=everything`: the Patient and what other contexts hold of them, as a Bundle of
/// type `collection`. Today that is the Patient; labs, appointments and prescriptions add
/// their resources as they land.
pub fn everything(patient: Value, base_url: &str) -> Value {
    let id = patient["id"].as_str().unwrap_or_default().to_owned();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": format!("{base_url}/Patient/{id}"), "resource": patient}],
    })
}
