//! FHIR R4 export of the medical profile: a `collection` Bundle of Patient,
//! AllergyIntolerance, Condition, MedicationStatement, the blood group as an Observation
//! (LOINC 882-1), RelatedPerson for emergency contacts and Coverage. Built per request from
//! the sealed profile; never stored.

use serde_json::{Value, json};

use crate::medical::profile::{MedicalProfile, Severity};

pub const CONTENT_TYPE: &str = "application/fhir+json";
/// LOINC: ABO and Rh group [Type] in Blood.
const LOINC_BLOOD_GROUP: &str = "882-1";

/// Who the profile belongs to, from their account.
pub struct PatientFacts<'a> {
    pub id: &'a str,
    pub full_name: &'a str,
    pub phone: Option<&'a str>,
}

fn entry(id: String, resource: Value) -> Value {
    json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": resource })
}

/// A fresh UUID per resource: `fullUrl`s must be unique within the Bundle.
fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn bundle(patient: &PatientFacts, profile: &MedicalProfile, at: &str) -> Value {
    let patient_uuid = uuid();
    let subject = json!({ "reference": format!("urn:uuid:{patient_uuid}") });
    let mut p = json!({
        "resourceType": "Patient",
        "id": patient.id,
        "name": [{ "text": patient.full_name }],
    });
    if let Some(phone) = patient.phone {
        p["telecom"] = json!([{ "system": "phone", "value": phone, "use": "mobile" }]);
    }
    if let Some(dob) = &profile.date_of_birth {
        p["birthDate"] = json!(dob);
    }
    if let Some(sex) = profile.sex {
        p["gender"] = json!(sex.as_str());
    }
    let mut entries = vec![entry(patient_uuid, p)];

    for (i, a) in profile.allergies.iter().enumerate() {
        let (severity, criticality) = match a.severity {
            Severity::Mild => ("mild", "low"),
            Severity::Moderate => ("moderate", "low"),
            Severity::Severe => ("severe", "high"),
            Severity::LifeThreatening => ("severe", "high"),
        };
        let mut resource = json!({
            "resourceType": "AllergyIntolerance",
            "id": format!("allergy-{i}"),
            "clinicalStatus": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active" }] },
            "criticality": criticality,
            "code": { "text": a.substance },
            "patient": subject,
        });
        let mut reaction = json!({ "severity": severity });
        if let Some(r) = &a.reaction {
            reaction["manifestation"] = json!([{ "text": r }]);
            resource["reaction"] = json!([reaction]);
        }
        entries.push(entry(uuid(), resource));
    }
    for (i, c) in profile.conditions.iter().enumerate() {
        let mut code = json!({ "text": c.name });
        if let Some(icd) = &c.icd10 {
            code["coding"] = json!([{ "system": "http://hl7.org/fhir/sid/icd-10", "code": icd }]);
        }
        entries.push(entry(
            uuid(),
            json!({
                "resourceType": "Condition",
                "id": format!("condition-{i}"),
                "clinicalStatus": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active" }] },
                "code": code,
                "subject": subject,
            }),
        ));
    }
    for (i, m) in profile.medications.iter().enumerate() {
        entries.push(entry(
            uuid(),
            json!({
                "resourceType": "MedicationStatement",
                "id": format!("medication-{i}"),
                "status": "active",
                "medicationCodeableConcept": { "text": m.name },
                "subject": subject,
                "dosage": [{ "text": format!("{}, {}", m.dose, m.frequency) }],
            }),
        ));
    }
    if let Some(blood) = &profile.blood_type {
        entries.push(entry(
            uuid(),
            json!({
                "resourceType": "Observation",
                "id": "blood-group",
                "status": "final",
                "category": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory" }] }],
                "code": { "coding": [{
                    "system": "http://loinc.org",
                    "code": LOINC_BLOOD_GROUP,
                    "display": "ABO and Rh group [Type] in Blood" }],
                    "text": "Blood group" },
                "subject": subject,
                "valueCodeableConcept": { "text": blood },
            }),
        ));
    }
    for (i, c) in profile.emergency_contacts.iter().enumerate() {
        entries.push(entry(
            uuid(),
            json!({
                "resourceType": "RelatedPerson",
                "id": format!("contact-{i}"),
                "patient": subject,
                "relationship": [{ "text": c.relation }],
                "name": [{ "text": c.name }],
                "telecom": [{ "system": "phone", "value": c.phone }],
            }),
        ));
    }
    if let Some(ins) = &profile.insurance {
        entries.push(entry(
            uuid(),
            json!({
                "resourceType": "Coverage",
                "id": "coverage",
                "status": "active",
                "subscriberId": ins.member_number,
                "beneficiary": subject,
                "payor": [{ "display": ins.provider }],
            }),
        ));
    }
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": at,
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::medical::profile::{Allergy, Insurance};

    #[test]
    fn every_part_of_the_profile_becomes_its_resource() {
        let profile = MedicalProfile {
            blood_type: Some("AB+".into()),
            allergies: vec![Allergy {
                substance: "Peanuts".into(),
                reaction: None,
                severity: Severity::LifeThreatening,
            }],
            insurance: Some(Insurance {
                provider: "NHIF".into(),
                member_number: "1".into(),
            }),
            ..Default::default()
        };
        let patient = PatientFacts {
            id: "p1",
            full_name: "Achieng Otieno",
            phone: None,
        };
        let b = bundle(&patient, &profile, "2026-11-23T10:00:00Z");
        let kinds: Vec<&str> = b["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().expect("type"))
            .collect();
        assert_eq!(
            kinds,
            ["Patient", "AllergyIntolerance", "Observation", "Coverage"]
        );
        assert_eq!(b["entry"][1]["resource"]["criticality"], "high");
        assert_eq!(
            b["entry"][2]["resource"]["code"]["coding"][0]["code"],
            "882-1"
        );
        let patient_url = b["entry"][0]["fullUrl"].as_str().expect("url");
        assert_eq!(
            b["entry"][3]["resource"]["beneficiary"]["reference"],
            patient_url
        );
    }
}
