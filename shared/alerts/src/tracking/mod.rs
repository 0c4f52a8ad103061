//! tracking: live positions of the patient and the ambulance, pushed to everyone watching an
//! alert over WebSockets; ETAs from the Routing port; the best hospital and unit for an
//! alert; arrival geofences; and a bounded track of positions per alert.

pub mod eta;
pub mod optimize;
pub mod positions;
pub mod speed;
pub mod track;
pub mod watchers;

use serde::Serialize;

use crate::dispatch::UnitStatus;
use crate::emergencies::alert::{Alert, Status};
use haven_kernel::ports::{Ports, Route, RouteRequest, Routing};

/// A drive by road: the Routing port's answer, or the estimator's when the port fails (an
/// ETA is never refused because a routing engine is down).
pub async fn road<P: Ports>(ports: &P, request: RouteRequest) -> Route {
    match ports.routing().route(&request).await {
        Ok(route) => route,
        Err(e) => {
            tracing::warn!(error = %e, "routing failed; estimating instead");
            speed::SpeedModel::default().estimate(&request)
        }
    }
}

/// Who a position is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Ambulance,
    Patient,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ambulance => "ambulance",
            Source::Patient => "patient",
        }
    }
}

/// A position pushed to watchers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationMessage {
    pub alert_id: String,
    pub source: Source,
    pub latitude: f64,
    pub longitude: f64,
    pub at: String,
    /// Minutes for the unit to reach the patient (or, carrying them, the hospital).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_minutes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambulance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_sign: Option<String>,
}

/// A status change pushed to watchers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusMessage {
    pub alert_id: String,
    pub status: Status,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambulance_status: Option<UnitStatus>,
    /// The hospital asked or, once acknowledged, the one expecting the patient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_name: Option<String>,
}

impl StatusMessage {
    /// The alert as it stands now; `at` is when it reached its status.
    pub fn of(alert: &Alert, ambulance_status: Option<UnitStatus>) -> Self {
        StatusMessage {
            alert_id: alert.alert_id.clone(),
            status: alert.status,
            at: alert
                .timeline
                .iter()
                .rev()
                .find(|t| t.status == alert.status)
                .map(|t| t.at.clone())
                .unwrap_or_default(),
            ambulance_status,
            hospital_id: alert.hospital.as_ref().map(|h| h.hospital_id.clone()),
            hospital_name: alert.hospital.as_ref().map(|h| h.name.clone()),
        }
    }
}

/// Everything the server sends on a tracking socket (`type` tells them apart; the protocol
/// is in docs/tracking.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Location(LocationMessage),
    Status(StatusMessage),
    Subscribed { alert_id: String, status: Status },
    Unsubscribed { alert_id: String },
    Error { code: String, detail: String },
}

impl Outgoing {
    pub fn error(code: &str, detail: impl Into<String>) -> Self {
        Outgoing::Error {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_by_type_in_snake_case() {
        let m = Outgoing::Location(LocationMessage {
            alert_id: "a1".into(),
            source: Source::Ambulance,
            latitude: -1.3,
            longitude: 36.8,
            at: "2026-11-23T10:00:00.000Z".into(),
            eta_minutes: Some(4.5),
            accuracy_m: None,
            speed_kmh: None,
            heading: None,
            ambulance_id: Some("u1".into()),
            call_sign: None,
        });
        let v: serde_json::Value = serde_json::from_slice(&m.to_bytes()).expect("json");
        assert_eq!(v["type"], "location");
        assert_eq!(v["source"], "ambulance");
        assert_eq!(v["eta_minutes"], 4.5);
        assert!(v.get("speed_kmh").is_none());
        let e: serde_json::Value =
            serde_json::from_slice(&Outgoing::error("bad-json", "x").to_bytes()).expect("json");
        assert_eq!(
            e,
            serde_json::json!({"type": "error", "code": "bad-json", "detail": "x"})
        );
        let mut alert = crate::emergencies::alert::tests::sample();
        alert.hospital = Some(crate::emergencies::alert::tests::hospital("h1"));
        for (status, at) in [
            (Status::Matched, "2026-11-23T10:00:01.000Z"),
            (Status::Notified, "2026-11-23T10:00:02.000Z"),
            (Status::Acknowledged, "2026-11-23T10:00:40.000Z"),
            (Status::EnRoute, "2026-11-23T10:01:00.000Z"),
            (Status::Arrived, "2026-11-23T10:09:00.000Z"),
            (Status::AtHospital, "2026-11-23T10:30:00.000Z"),
        ] {
            let at = haven_kernel::Timestamp::parse_rfc3339(at).expect("time");
            alert
                .transition(status, at, "system", None)
                .expect("allowed");
        }
        let s = Outgoing::Status(StatusMessage::of(&alert, Some(UnitStatus::AtHospital)));
        let v: serde_json::Value = serde_json::from_slice(&s.to_bytes()).expect("json");
        assert_eq!(v["type"], "status");
        assert_eq!(v["status"], "at_hospital");
        assert_eq!(v["at"], "2026-11-23T10:30:00.000Z");
        assert_eq!(v["ambulance_status"], "at_hospital");
        assert_eq!(v["hospital_id"], "h1");
        assert_eq!(v["hospital_name"], "Hospital h1");
        // `at` is when the alert reached its current status, not its latest entry.
        alert.hospital = None;
        alert.status = Status::Arrived;
        let v = serde_json::to_value(StatusMessage::of(&alert, None)).expect("json");
        assert_eq!(v["at"], "2026-11-23T10:09:00.000Z");
        assert!(v.get("hospital_id").is_none() && v.get("ambulance_status").is_none());
    }
}
