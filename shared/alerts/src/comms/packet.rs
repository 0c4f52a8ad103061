//! The emergency packet a hospital receives: who, what, where, how soon, how to answer, and,
//! while break-glass applies (the alert is open and routed to that hospital), the patient's
//! medical profile — as a FHIR R4 Bundle, and as HL7 v2.5 for hospitals that ask for it.
//! Built per delivery from the sealed records; never stored.

use serde::Serialize;
use serde_json::{Value, json};

use crate::comms::clinical::{ClinicalPicture, MedicalSummary, fhir_observations, symptom_concept};
use crate::emergencies::alert::Alert;
use crate::emergencies::handoff::ALERT_CANCELLED;
use crate::medical::fhir::{PatientFacts, bundle};
use crate::medical::profile::MedicalProfile;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacketLocation {
    pub latitude: f64,
    pub longitude: f64,
}

/// The body of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookPayload {
    #[serde(rename = "type")]
    pub kind: String,
    pub alert_id: String,
    pub hospital_id: String,
    pub priority: String,
    pub emergency_type: String,
    pub location: PacketLocation,
    pub eta_minutes: Option<f64>,
    pub ack_url: Option<String>,
    /// What is wrong and who, for the department to prepare (absent in a stand-down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical: Option<ClinicalPicture>,
    /// The patient's medical profile in brief, while break-glass applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medical: Option<MedicalSummary>,
    pub fhir: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hl7v2: Option<String>,
}

/// Whether the hospital may see the patient's medical profile in this delivery.
pub fn break_glass_applies(alert: &Alert, hospital_id: &str, event: &str) -> bool {
    event != ALERT_CANCELLED
        && alert.status.is_open()
        && alert.routed_to.iter().any(|h| h == hospital_id)
}

/// The FHIR R4 `collection` Bundle: Patient (and the profile's resources when given), the
/// emergency Encounter, where the patient is (Location), the request for emergency care
/// (ServiceRequest) addressed to the hospital with the symptoms as its reasons and the
/// priority's reason and the note from the scene as its notes, and the reported vital signs
/// and age band as Observations.
pub fn fhir_bundle(
    alert: &Alert,
    hospital_id: &str,
    patient: &PatientFacts,
    profile: Option<&MedicalProfile>,
    picture: Option<&ClinicalPicture>,
    event: &str,
    at: &str,
) -> Value {
    let empty = MedicalProfile::default();
    let mut b = bundle(patient, profile.unwrap_or(&empty), at);
    let patient_ref = b["entry"][0]["fullUrl"].clone();
    let location_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let encounter_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let cancelled = event == ALERT_CANCELLED;
    let priority = match alert.priority.as_str() {
        "critical" => "stat",
        "high" => "asap",
        _ => "urgent",
    };
    let mut reasons: Vec<Value> = picture
        .map(|p| p.symptoms.iter().map(symptom_concept).collect())
        .unwrap_or_default();
    reasons.push(json!({ "text": format!("{} emergency", alert.emergency_type.as_str()) }));
    let mut notes = Vec::new();
    if let Some(p) = picture {
        notes.push(json!({ "text": format!(
            "Priority {}: {} (Haven rule {})",
            alert.priority.as_str(), p.priority_reason, p.priority_rule
        ) }));
        if let Some(note) = &p.note {
            notes.push(json!({ "authorString": "reported with the alert", "text": note }));
        }
    }
    let mut extra = vec![
        json!({
            "fullUrl": location_url,
            "resource": {
                "resourceType": "Location",
                "id": format!("alert-{}", alert.alert_id),
                "status": "active",
                "name": "Where the patient is",
                "mode": "instance",
                "position": {
                    "latitude": alert.location.latitude,
                    "longitude": alert.location.longitude,
                },
            }
        }),
        json!({
            "fullUrl": encounter_url,
            "resource": {
                "resourceType": "Encounter",
                "id": alert.alert_id,
                "identifier": [{ "system": "urn:haven:alert", "value": alert.alert_id }],
                "status": if cancelled { "cancelled" } else { "planned" },
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "EMER",
                    "display": "emergency",
                },
                "priority": { "text": alert.priority.as_str() },
                "reasonCode": reasons,
                "subject": { "reference": patient_ref },
                "location": [{ "location": { "reference": location_url } }],
                "serviceProvider": { "identifier": { "system": "urn:haven:hospital", "value": hospital_id } },
            }
        }),
        json!({
            "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            "resource": {
                "resourceType": "ServiceRequest",
                "id": format!("sr-{}", alert.alert_id),
                "status": if cancelled { "revoked" } else { "active" },
                "intent": "order",
                "priority": priority,
                "code": { "text": "Emergency department care" },
                "subject": { "reference": patient_ref },
                "encounter": { "reference": encounter_url },
                "authoredOn": at,
                "performer": [{ "identifier": { "system": "urn:haven:hospital", "value": hospital_id } }],
                "locationReference": [{ "reference": location_url }],
                "reasonCode": reasons,
            }
        }),
    ];
    if !notes.is_empty() {
        extra[2]["resource"]["note"] = json!(notes);
    }
    if let Some(p) = picture {
        extra.extend(
            fhir_observations(p, &json!({ "reference": patient_ref }), &encounter_url, &alert.created_at)
                .into_iter()
                .map(|o| json!({ "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": o })),
        );
    }
    if let Some(entries) = b["entry"].as_array_mut() {
        entries.extend(extra);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comms::tests::alert;

    #[test]
    fn the_bundle_links_patient_encounter_location_and_request() {
        let mut a = alert();
        a.routed_to = vec!["h1".into()];
        let patient = PatientFacts {
            id: "p1",
            full_name: "Amina Otieno",
            phone: None,
        };
        let b = fhir_bundle(
            &a,
            "h1",
            &patient,
            None,
            None,
            "alert.created",
            "2026-11-23T10:00:00Z",
        );
        let types: Vec<&str> = b["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().expect("type"))
            .collect();
        assert_eq!(
            types,
            ["Patient", "Location", "Encounter", "ServiceRequest"]
        );
        assert_eq!(
            b["entry"][2]["resource"]["subject"]["reference"],
            b["entry"][0]["fullUrl"]
        );
        assert_eq!(b["entry"][3]["resource"]["priority"], "stat");
        assert!(break_glass_applies(&a, "h1", "alert.created"));
        assert!(!break_glass_applies(&a, "h2", "alert.created"));
        assert!(!break_glass_applies(&a, "h1", "alert.cancelled"));
    }
}
