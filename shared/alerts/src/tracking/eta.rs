//! `GET /eta/{alert_id}`: the drive that is left, leg by leg: the unit to the patient, then
//! on to the hospital (or, with the patient aboard, the unit to the hospital).

use serde::Serialize;

use crate::dispatch::ambulance::{self, Ambulance, UnitStatus};
use crate::emergencies::alert::Status;
use crate::emergencies::trigger::load_alert;
use crate::emergencies::view::Viewer;
use crate::tracking::road;
use crate::tracking::speed::round2;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Basis, Ports, RouteRequest};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leg {
    /// `ambulance`, `patient` or `hospital`.
    pub from: &'static str,
    pub to: &'static str,
    pub distance_km: f64,
    pub minutes: f64,
    pub basis: Basis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eta {
    pub alert_id: String,
    pub status: Status,
    pub legs: Vec<Leg>,
    pub total_minutes: f64,
    /// Where the figures come from: `estimate`, `estimate_observed`, `osrm`, or `mixed`.
    pub basis: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambulance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambulance_status: Option<UnitStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
}

pub async fn eta<P: Ports>(ports: &P, viewer: &Viewer, alert_id: &str) -> Result<Eta, DomainError> {
    let (alert, _) = load_alert(ports, alert_id).await?;
    if !viewer.can_see(&alert) {
        return Err(DomainError::NotFound("alert".into()));
    }
    let unit: Option<Ambulance> = match alert.dispatch.as_ref().filter(|d| d.is_active()) {
        Some(d) => ambulance::load(ports, &d.ambulance_id)
            .await
            .ok()
            .filter(|u| u.alert_id.as_deref() == Some(alert_id)),
        None => None,
    };
    let now = ports.clock().now();
    let patient = alert.location.coordinates();
    let mut plan: Vec<(
        &'static str,
        Coordinates,
        &'static str,
        Coordinates,
        Option<f64>,
    )> = Vec::new();
    let travelling = alert.status.is_open() && alert.status != Status::AtHospital;
    if travelling {
        let carrying = unit
            .as_ref()
            .is_some_and(|u| matches!(u.status, UnitStatus::OnScene | UnitStatus::Transporting));
        if let Some(u) = unit
            .as_ref()
            .filter(|u| matches!(u.status, UnitStatus::Dispatched | UnitStatus::EnRoute))
        {
            plan.push((
                "ambulance",
                u.whereabouts(),
                "patient",
                patient,
                u.observed_kmh(),
            ));
        }
        if let Some(h) = alert.hospital_coordinates() {
            match unit.as_ref().filter(|_| carrying) {
                Some(u) => plan.push((
                    "ambulance",
                    u.whereabouts(),
                    "hospital",
                    h,
                    u.observed_kmh(),
                )),
                None => plan.push(("patient", patient, "hospital", h, None)),
            }
        }
    }
    let mut legs = Vec::new();
    for (from, a, to, b, observed_kmh) in plan {
        let route = road(
            ports,
            RouteRequest {
                from: a,
                to: b,
                at: now,
                observed_kmh,
            },
        )
        .await;
        legs.push(Leg {
            from,
            to,
            distance_km: route.distance_km,
            minutes: route.minutes,
            basis: route.basis,
        });
    }
    let basis = match legs.first() {
        None => "none".to_owned(),
        Some(first) if legs.iter().all(|l| l.basis == first.basis) => {
            first.basis.as_str().to_owned()
        }
        Some(_) => "mixed".to_owned(),
    };
    Ok(Eta {
        alert_id: alert.alert_id.clone(),
        status: alert.status,
        total_minutes: round2(legs.iter().map(|l| l.minutes).sum()),
        legs,
        basis,
        ambulance_id: unit.as_ref().map(|u| u.ambulance_id.clone()),
        ambulance_status: unit.as_ref().map(|u| u.status),
        hospital_id: alert.hospital.as_ref().map(|h| h.hospital_id.clone()),
    })
}
