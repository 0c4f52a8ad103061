//! The alert: one person's emergency, from the tap to the hospital door. Its status follows
//! an explicit state machine; every transition is timestamped and kept (the KPIs read them).
//! Clinical details (note, symptoms, vitals, the priority rule) are sealed; what stays in
//! clear is what routing needs: type, priority, place, hospitals, status.

use serde::{Deserialize, Serialize};

use crate::hospitals::EdStatus;
use crate::hospitals::ranking::{NearestBeyond, RankedHospital, ScoreParts};
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::EncryptionContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Triggered,
    /// From a low-trust source; waits for a second factor before hospitals are told.
    Unverified,
    Matched,
    Notified,
    Acknowledged,
    /// A unit is on its way.
    EnRoute,
    /// The unit is with the patient (the patient geofence, or the crew says so).
    Arrived,
    /// The unit has brought the patient to the hospital (the hospital geofence).
    AtHospital,
    Closed,
    Cancelled,
    /// The matched hospital did not answer or refused, or none was in reach: a dispatcher
    /// and the fallbacks take over.
    Escalated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Unverified => "unverified",
            Status::Matched => "matched",
            Status::Notified => "notified",
            Status::Acknowledged => "acknowledged",
            Status::EnRoute => "en_route",
            Status::Arrived => "arrived",
            Status::AtHospital => "at_hospital",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
            Status::Escalated => "escalated",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Cancelled)
    }

    /// The state machine. `Matched → Matched` is a dispatcher sending the alert elsewhere.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Triggered, Unverified | Matched | Escalated | Cancelled)
                | (Unverified, Matched | Escalated | Cancelled)
                | (
                    Matched,
                    Matched | Notified | Acknowledged | Escalated | Cancelled
                )
                | (Notified, Matched | Acknowledged | Escalated | Cancelled)
                | (
                    Escalated,
                    Escalated | Matched | Notified | Acknowledged | Cancelled
                )
                | (Acknowledged, EnRoute | Escalated | Cancelled)
                | (EnRoute, Arrived | Cancelled)
                | (Arrived, AtHospital | Closed)
                | (AtHospital, Closed)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyType {
    Cardiac,
    Trauma,
    Respiratory,
    Obstetric,
    Pediatric,
    Burn,
    Poisoning,
    Other,
}

impl EmergencyType {
    pub const ALL: [&'static str; 8] = [
        "cardiac",
        "trauma",
        "respiratory",
        "obstetric",
        "pediatric",
        "burn",
        "poisoning",
        "other",
    ];

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
            DomainError::invalid(
                "emergency_type",
                format!("unknown emergency_type; one of {}", Self::ALL.join(", ")),
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyType::Cardiac => "cardiac",
            EmergencyType::Trauma => "trauma",
            EmergencyType::Respiratory => "respiratory",
            EmergencyType::Obstetric => "obstetric",
            EmergencyType::Pediatric => "pediatric",
            EmergencyType::Burn => "burn",
            EmergencyType::Poisoning => "poisoning",
            EmergencyType::Other => "other",
        }
    }

    /// The hospital specialty that treats it best; for `other`, any emergency department.
    pub fn specialty(self) -> &'static str {
        match self {
            EmergencyType::Cardiac => "cardiac",
            EmergencyType::Trauma => "trauma",
            EmergencyType::Respiratory => "respiratory",
            EmergencyType::Obstetric => "maternity",
            EmergencyType::Pediatric => "pediatric",
            EmergencyType::Burn => "burns",
            EmergencyType::Poisoning => "toxicology",
            EmergencyType::Other => "emergency",
        }
    }
}

/// Where the person is, as their device reported it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// The largest accuracy radius accepted: a cell-tower fix in the countryside.
pub const MAX_ACCURACY_M: f64 = 50_000.0;

impl Location {
    pub fn new(
        latitude: f64,
        longitude: f64,
        accuracy_m: Option<f64>,
    ) -> Result<Self, DomainError> {
        haven_kernel::geo::Coordinates::new(latitude, longitude)?;
        if let Some(a) = accuracy_m
            && !(a.is_finite() && (0.0..=MAX_ACCURACY_M).contains(&a))
        {
            return Err(DomainError::invalid(
                "accuracy_m",
                format!("accuracy_m is 0 to {MAX_ACCURACY_M} metres"),
            ));
        }
        Ok(Location {
            latitude,
            longitude,
            accuracy_m,
        })
    }
    pub fn coordinates(&self) -> haven_kernel::geo::Coordinates {
        haven_kernel::geo::Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

/// A hospital chosen for the alert, with the ranking that chose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedHospital {
    pub hospital_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub distance_km: f64,
    pub eta_minutes: f64,
    pub score: f64,
    pub score_parts: ScoreParts,
    pub ed_status: EdStatus,
    pub level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resort_detail: Option<String>,
}

impl MatchedHospital {
    pub fn coordinates(&self) -> haven_kernel::geo::Coordinates {
        haven_kernel::geo::Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

impl From<&RankedHospital> for MatchedHospital {
    fn from(r: &RankedHospital) -> Self {
        MatchedHospital {
            hospital_id: r.hospital_id.clone(),
            name: r.name.clone(),
            latitude: r.latitude,
            longitude: r.longitude,
            distance_km: r.distance_km,
            eta_minutes: r.eta_minutes,
            score: r.score,
            score_parts: r.score_parts,
            ed_status: r.ed_status,
            level: r.level,
            last_resort: r.last_resort.map(str::to_owned),
            last_resort_detail: r.last_resort_detail.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: Status,
    pub at: String,
    /// Who caused it: a user id, or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A signed-in person.
    App,
    /// An emergency bypass token: one factor, so non-critical alerts are verified first.
    Bypass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: String,
    /// The person in distress (their account).
    pub patient_id: String,
    pub source: Source,
    /// The bypass token that raised it: that token may act on this alert and no other.
    #[serde(default)]
    pub bypass_jti: Option<String>,
    pub status: Status,
    pub priority: Priority,
    pub emergency_type: EmergencyType,
    pub location: Location,
    pub location_updated_at: String,
    #[serde(default)]
    pub hospital: Option<MatchedHospital>,
    #[serde(default)]
    pub fallbacks: Vec<MatchedHospital>,
    /// Hospitals that have been handed the alert; their staff may see it.
    #[serde(default)]
    pub routed_to: Vec<String>,
    /// Each hospital it was offered to, in order, with its answer (see `comms`).
    #[serde(default)]
    pub offers: Vec<crate::comms::Offer>,
    /// Ambulance crew assigned to it (dispatch): they may see and track it.
    #[serde(default)]
    pub responders: Vec<String>,
    /// The unit sent to it, and when it reached the patient and the hospital.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<Dispatch>,
    #[serde(default)]
    pub verification_required: bool,
    #[serde(default)]
    pub verified_at: Option<String>,
    /// Went ahead without verification because it was critical: a dispatcher reviews it.
    #[serde(default)]
    pub review_required: bool,
    /// When no hospital in reach could treat it: the nearest that could, beyond reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nearest_beyond: Vec<NearestBeyond>,
    pub timeline: Vec<Transition>,
    pub created_at: String,
    pub version: i64,
}

/// The ambulance sent to an alert. The times are when things happened (a geofence or the
/// crew), which the alert's own status may catch up with later: a unit can be on its way
/// before a hospital has accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub ambulance_id: String,
    pub call_sign: String,
    pub assigned_at: String,
    pub assigned_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_scene_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_scene_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hospital_at: Option<String>,
    /// The unit was stood down or freed before the end (reassigned, cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

impl Dispatch {
    /// Still working this alert.
    pub fn is_active(&self) -> bool {
        self.released_at.is_none()
    }
}

/// Clinical details of an alert, sealed under the patient's and the alert's ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClinicalDetails {
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub vitals: Option<super::priority::Vitals>,
    pub priority_rule: String,
    pub priority_reason: String,
}

/// Attribute prefix of the sealed clinical details.
pub const CLINICAL: &str = "clinical";

impl Alert {
    /// The offer to `hospital_id`, the latest if it was offered more than once.
    pub fn offer_to(&self, hospital_id: &str) -> Option<&crate::comms::Offer> {
        self.offers
            .iter()
            .rev()
            .find(|o| o.hospital_id() == hospital_id)
    }

    pub fn offer_to_mut(&mut self, hospital_id: &str) -> Option<&mut crate::comms::Offer> {
        self.offers
            .iter_mut()
            .rev()
            .find(|o| o.hospital_id() == hospital_id)
    }

    /// Where the hospital it is going to is, once it has one.
    pub fn hospital_coordinates(&self) -> Option<haven_kernel::geo::Coordinates> {
        self.hospital.as_ref().map(MatchedHospital::coordinates)
    }

    /// Waiting for a hospital to answer.
    pub fn awaits_answer(&self) -> bool {
        matches!(
            self.status,
            Status::Matched | Status::Notified | Status::Escalated
        )
    }

    /// Brings the status up to what the dispatch says once the alert may follow it: after a
    /// hospital accepts, a unit already sent makes it `en_route`, one already with the
    /// patient `arrived`, one at the hospital `at_hospital`.
    pub fn catch_up_with_dispatch(&mut self, now: Timestamp, by: &str) {
        let Some(d) = self.dispatch.clone().filter(Dispatch::is_active) else {
            return;
        };
        let steps = [
            (Status::EnRoute, true, "unit on its way"),
            (
                Status::Arrived,
                d.on_scene_at.is_some(),
                "unit with the patient",
            ),
            (
                Status::AtHospital,
                d.at_hospital_at.is_some(),
                "unit at the hospital",
            ),
        ];
        for (status, happened, note) in steps {
            if happened && self.status.can_become(status) {
                let note = format!("{note} ({})", d.call_sign);
                // Legal by the check above.
                let _ = self.transition(status, now, by, Some(&note));
            }
        }
    }

    pub fn key(alert_id: &str) -> Key {
        Key::new(format!("ALERT#{alert_id}"), "ALERT")
    }

    /// The encryption context of the alert's clinical details.
    pub fn clinical_context(&self) -> EncryptionContext {
        EncryptionContext::new()
            .with("purpose", "alert-clinical")
            .with("alert_id", &self.alert_id)
            .with("patient_id", &self.patient_id)
    }

    /// Moves to `to`, or refuses with the current state (409).
    pub fn transition(
        &mut self,
        to: Status,
        at: Timestamp,
        by: &str,
        note: Option<&str>,
    ) -> Result<(), DomainError> {
        if !self.status.can_become(to) {
            return Err(DomainError::Conflict {
                message: format!(
                    "an alert that is {} cannot become {}",
                    self.status.as_str(),
                    to.as_str()
                ),
                current: Some(self.status.as_str().to_owned()),
            });
        }
        self.status = to;
        self.timeline.push(Transition {
            status: to,
            at: at.to_rfc3339(),
            by: Some(by.to_owned()),
            note: note.map(str::to_owned),
        });
        Ok(())
    }

    pub fn to_item(&self) -> Item {
        let sort = haven_kernel::refs::alert_sort(&self.created_at, &self.alert_id);
        Item::new(&Self::key(&self.alert_id))
            .with("kind", Value::s("alert"))
            .with(
                "gsi1pk",
                Value::s(haven_kernel::refs::user_alerts_partition(&self.patient_id)),
            )
            .with("gsi1sk", Value::s(&sort))
            .with("gsi2pk", Value::s("ALERTS"))
            .with("gsi2sk", Value::s(&sort))
            .with_record(self)
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        item.to_record()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_legal_and_terminal_states_stay_terminal() {
        use Status::*;
        let path = [
            Triggered,
            Matched,
            Notified,
            Acknowledged,
            EnRoute,
            Arrived,
            Closed,
        ];
        for pair in path.windows(2) {
            assert!(
                pair[0].can_become(pair[1]),
                "{:?} -> {:?}",
                pair[0],
                pair[1]
            );
        }
        let all = [
            Triggered,
            Unverified,
            Matched,
            Notified,
            Acknowledged,
            EnRoute,
            Arrived,
            Closed,
            Cancelled,
            Escalated,
        ];
        for s in all {
            assert!(!Closed.can_become(s));
            assert!(!Cancelled.can_become(s));
            assert!(!s.can_become(Triggered));
        }
        assert!(!Arrived.can_become(Cancelled));
        assert!(!Unverified.can_become(Notified));
    }

    #[test]
    fn an_illegal_transition_reports_the_current_state_and_changes_nothing() {
        let mut alert = sample();
        alert
            .transition(Status::Cancelled, Timestamp::from_millis(1_000), "u", None)
            .expect("legal");
        let err = alert
            .transition(Status::Cancelled, Timestamp::from_millis(2_000), "u", None)
            .expect_err("illegal");
        assert_eq!(
            err,
            DomainError::Conflict {
                message: "an alert that is cancelled cannot become cancelled".into(),
                current: Some("cancelled".into())
            }
        );
        assert_eq!(alert.timeline.len(), 2);
        assert_eq!(alert.timeline[1].status, Status::Cancelled);
    }

    #[test]
    fn item_round_trip() {
        let alert = sample();
        let item = alert.to_item();
        assert_eq!(item.s("gsi1pk"), Some("USER#p1#ALERTS"));
        assert_eq!(Alert::from_item(&item), Some(alert));
    }

    #[test]
    fn types_parse_with_a_field_error() {
        assert_eq!(EmergencyType::parse("burn"), Ok(EmergencyType::Burn));
        assert_eq!(
            EmergencyType::parse("alien").expect_err("bad").field(),
            Some("emergency_type")
        );
        assert_eq!(
            Location::new(0.0, 0.0, Some(-1.0))
                .expect_err("bad")
                .field(),
            Some("accuracy_m")
        );
    }

    /// A level-5 hospital with an open emergency department.
    pub(crate) fn hospital(id: &str) -> MatchedHospital {
        MatchedHospital {
            hospital_id: id.into(),
            name: format!("Hospital {id}"),
            latitude: -1.3,
            longitude: 36.8,
            distance_km: 2.0,
            eta_minutes: 5.0,
            score: 0.8,
            score_parts: Default::default(),
            ed_status: crate::hospitals::EdStatus::Open,
            level: 5,
            last_resort: None,
            last_resort_detail: None,
        }
    }

    pub(crate) fn sample() -> Alert {
        Alert {
            alert_id: "a1".into(),
            patient_id: "p1".into(),
            source: Source::App,
            bypass_jti: None,
            status: Status::Triggered,
            priority: Priority::High,
            emergency_type: EmergencyType::Trauma,
            location: Location::new(-1.3, 36.8, Some(12.0)).expect("valid"),
            location_updated_at: "2026-11-23T10:00:00.000Z".into(),
            hospital: None,
            fallbacks: vec![],
            routed_to: vec![],
            offers: vec![],
            responders: vec![],
            dispatch: None,
            verification_required: false,
            verified_at: None,
            review_required: false,
            nearest_beyond: vec![],
            timeline: vec![Transition {
                status: Status::Triggered,
                at: "2026-11-23T10:00:00.000Z".into(),
                by: None,
                note: None,
            }],
            created_at: "2026-11-23T10:00:00.000Z".into(),
            version: 1,
        }
    }
}
