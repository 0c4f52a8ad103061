//! What callers see of an alert, and who may see it.

use serde::Serialize;

use crate::emergencies::alert::{
    Alert, ClinicalDetails, Location, MatchedHospital, Priority, Status, Transition,
};
use crate::emergencies::priority::Vitals;
use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::roles::Role;

/// The caller, as far as alerts care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
    /// Set when the caller holds an emergency bypass token (its id).
    pub bypass_jti: Option<String>,
}

impl Viewer {
    /// The viewer a verified token names.
    pub fn of(claims: &Claims) -> Self {
        Viewer {
            user_id: claims.sub.clone(),
            role: claims.role,
            hospital_id: claims.hospital_id.clone(),
            bypass_jti: (claims.kind == TokenKind::Bypass).then(|| claims.jti.clone()),
        }
    }

    /// The person the alert is about, acting for themselves. A bypass token acts on the one
    /// alert it raised and no other.
    pub fn is_reporter(&self, alert: &Alert) -> bool {
        match &self.bypass_jti {
            Some(jti) => alert.bypass_jti.as_deref() == Some(jti.as_str()),
            None => self.role == Role::Patient && alert.patient_id == self.user_id,
        }
    }

    /// Patients see their own alerts; dispatchers all; responders those they are assigned
    /// to; the clinical staff of a hospital the alert was routed to, those. Nobody else.
    pub fn can_see(&self, alert: &Alert) -> bool {
        if self.is_reporter(alert) {
            return true;
        }
        if self.bypass_jti.is_some() {
            return false;
        }
        match self.role {
            Role::Dispatcher => true,
            Role::Responder => alert.responders.contains(&self.user_id),
            Role::Nurse | Role::Doctor | Role::HospitalAdmin => self
                .hospital_id
                .as_ref()
                .is_some_and(|h| alert.routed_to.contains(h)),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clinical {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub symptoms: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vitals: Option<Vitals>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub alert_id: String,
    pub status: Status,
    pub priority: Priority,
    pub priority_reason: String,
    pub priority_rule: String,
    pub emergency_type: crate::emergencies::alert::EmergencyType,
    pub location: Location,
    pub location_updated_at: String,
    pub hospital: Option<MatchedHospital>,
    pub fallbacks: Vec<MatchedHospital>,
    /// The ambulance sent, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<crate::emergencies::alert::Dispatch>,
    pub verification_required: bool,
    pub review_required: bool,
    /// When no hospital in reach can treat the patient: the nearest that can, beyond reach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nearest_beyond: Vec<crate::hospitals::ranking::NearestBeyond>,
    pub clinical: Clinical,
    pub created_at: String,
    pub timeline: Vec<Transition>,
}

pub fn view(alert: &Alert, details: &ClinicalDetails) -> AlertView {
    AlertView {
        alert_id: alert.alert_id.clone(),
        status: alert.status,
        priority: alert.priority,
        priority_reason: details.priority_reason.clone(),
        priority_rule: details.priority_rule.clone(),
        emergency_type: alert.emergency_type,
        location: alert.location,
        location_updated_at: alert.location_updated_at.clone(),
        hospital: alert.hospital.clone(),
        fallbacks: alert.fallbacks.clone(),
        dispatch: alert.dispatch.clone(),
        verification_required: alert.verification_required && alert.verified_at.is_none(),
        review_required: alert.review_required,
        nearest_beyond: alert.nearest_beyond.clone(),
        clinical: Clinical {
            note: details.note.clone(),
            symptoms: details.symptoms.clone(),
            vitals: details.vitals,
        },
        created_at: alert.created_at.clone(),
        timeline: alert.timeline.clone(),
    }
}

/// One line of `GET /emergency/history`: no clinical details, so no decryption per line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertSummary {
    pub alert_id: String,
    pub status: Status,
    pub priority: Priority,
    pub emergency_type: crate::emergencies::alert::EmergencyType,
    pub created_at: String,
    pub hospital_id: Option<String>,
    pub hospital_name: Option<String>,
}

pub fn summary(alert: &Alert) -> AlertSummary {
    AlertSummary {
        alert_id: alert.alert_id.clone(),
        status: alert.status,
        priority: alert.priority,
        emergency_type: alert.emergency_type,
        created_at: alert.created_at.clone(),
        hospital_id: alert.hospital.as_ref().map(|h| h.hospital_id.clone()),
        hospital_name: alert.hospital.as_ref().map(|h| h.name.clone()),
    }
}
