//! `POST /route/optimize`: for an alert, the unit and hospital that bring the patient to
//! definitive care soonest — the unit's drive to the patient plus the drive on to a hospital
//! that can take them — and why each alternative lost.
//!
//! The two legs are independent (any unit can take the patient to any hospital), so the best
//! pair is the fastest suitable unit with the fastest hospital that has the care and the room.

use serde::{Deserialize, Serialize};

use crate::dispatch::ambulance::{self, Ambulance};
use crate::dispatch::fleet::{required_capability, suitable_units};
use crate::emergencies::trigger::{MATCH_RADIUS_KM, alert_criteria, load_alert};
use crate::emergencies::view::Viewer;
use crate::hospitals::CapacityState;
use crate::hospitals::directory::find;
use crate::tracking::eta::Leg;
use crate::tracking::road;
use crate::tracking::speed::round2;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Ports, Route, RouteRequest};
use haven_kernel::roles::Role;

/// Hospitals routed by road (the best-scoring ones by the matching rules).
const ROUTED_HOSPITALS: usize = 5;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    pub alert_id: String,
    /// Plan with this unit instead of choosing one.
    #[serde(default)]
    pub ambulance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChosenUnit {
    pub ambulance_id: String,
    pub call_sign: String,
    pub status: ambulance::UnitStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChosenHospital {
    pub hospital_id: String,
    pub name: String,
    pub has_specialty: bool,
    pub capacity: CapacityState,
    pub beds_available: Option<u32>,
    /// Set when nothing better was in reach (`ed_diverting`, `no_free_beds`,
    /// `stabilisation_only`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_resort: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambulance: Option<ChosenUnit>,
    pub hospital: ChosenHospital,
    pub legs: Vec<Leg>,
    pub total_minutes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// `ambulance` or `hospital`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    /// A stable code: `slower`, `lacks_specialty`, `lacks_capability`, and the matching
    /// rules' `ed_closed`, `ed_diverting`, `no_free_beds`, `too_few_beds`,
    /// `capacity_unreported`, `below_level`, `no_emergency_care`, `stabilisation_only`,
    /// `beyond_limit`.
    pub reason: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimized {
    pub alert_id: String,
    pub specialty: String,
    pub best: Plan,
    pub alternatives: Vec<Alternative>,
}

fn leg(from: &'static str, to: &'static str, r: Route) -> Leg {
    Leg {
        from,
        to,
        distance_km: r.distance_km,
        minutes: r.minutes,
        basis: r.basis,
    }
}

pub async fn optimize<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    request: OptimizeRequest,
) -> Result<Optimized, DomainError> {
    if viewer.role != Role::Dispatcher || viewer.bypass_jti.is_some() {
        return Err(DomainError::Forbidden);
    }
    if !haven_kernel::ids::is_valid_id(&request.alert_id) {
        return Err(DomainError::invalid("alert_id", "not an alert id"));
    }
    let (alert, _) = load_alert(ports, &request.alert_id).await?;
    if !alert.status.is_open() {
        return Err(DomainError::Conflict {
            message: format!("an alert that is {} needs no plan", alert.status.as_str()),
            current: Some(alert.status.as_str().into()),
        });
    }
    let patient = alert.location.coordinates();
    let now = ports.clock().now();
    let mut alternatives = Vec::new();

    // The unit: the one asked for, else the one already sent, else the fastest suitable.
    let named = request.ambulance_id.clone().or_else(|| {
        alert
            .dispatch
            .as_ref()
            .filter(|d| d.is_active())
            .map(|d| d.ambulance_id.clone())
    });
    let unit: Option<(Ambulance, Route)> = match named {
        Some(id) => {
            let u = ambulance::load(ports, &id)
                .await
                .map_err(|_| DomainError::invalid("ambulance_id", "no such ambulance"))?;
            let r = road(
                ports,
                RouteRequest {
                    from: u.whereabouts(),
                    to: patient,
                    at: now,
                    observed_kmh: u.observed_kmh(),
                },
            )
            .await;
            Some((u, r))
        }
        None => {
            let (mut routed, unsuitable) = suitable_units(ports, &alert).await?;
            let best = (!routed.is_empty()).then(|| routed.remove(0));
            for (u, r) in routed {
                let behind = best
                    .as_ref()
                    .map(|b| r.minutes - b.1.minutes)
                    .unwrap_or(0.0);
                alternatives.push(Alternative {
                    kind: "ambulance",
                    id: u.ambulance_id,
                    name: u.call_sign,
                    reason: "slower".into(),
                    detail: format!("{:.1} minutes slower to the patient", behind),
                    minutes: Some(r.minutes),
                });
            }
            if unsuitable > 0 {
                alternatives.push(Alternative {
                    kind: "ambulance",
                    id: String::new(),
                    name: format!("{unsuitable} available units"),
                    reason: "lacks_capability".into(),
                    detail: format!("without {}", required_capability(&alert).as_str()),
                    minutes: None,
                });
            }
            best
        }
    };

    // The hospital: the matching rules say which can take the patient, the road says which
    // is soonest; one with the care wanted beats one without.
    let mut criteria = alert_criteria(alert.emergency_type, alert.priority);
    criteria.limit = ROUTED_HOSPITALS;
    let (ranking, _) = find(ports, patient, MATCH_RADIUS_KM, &criteria).await?;
    let specialty = criteria.specialty.clone().unwrap_or_default();
    let mut hospitals = Vec::new();
    for h in &ranking.hospitals {
        let r = road(
            ports,
            RouteRequest {
                from: patient,
                to: Coordinates {
                    latitude: h.latitude,
                    longitude: h.longitude,
                },
                at: now,
                observed_kmh: None,
            },
        )
        .await;
        let has = h.specialties.contains(&specialty);
        hospitals.push((h, r, has));
    }
    let any_has = hospitals.iter().any(|(_, _, has)| *has);
    hospitals.sort_by(|a, b| {
        (b.2 || !any_has)
            .cmp(&(a.2 || !any_has))
            .then(a.1.minutes.total_cmp(&b.1.minutes))
    });
    let Some((best_h, best_r, best_has)) = hospitals.first().cloned() else {
        return Err(DomainError::Conflict {
            message: "no hospital that can take the patient is within reach".into(),
            current: Some(alert.status.as_str().into()),
        });
    };
    for (h, r, has) in hospitals.iter().skip(1) {
        let (reason, detail) = if any_has && !has {
            (
                "lacks_specialty",
                format!("does not offer {specialty} care"),
            )
        } else {
            (
                "slower",
                format!(
                    "{:.1} minutes slower from the patient",
                    r.minutes - best_r.minutes
                ),
            )
        };
        alternatives.push(Alternative {
            kind: "hospital",
            id: h.hospital_id.clone(),
            name: h.name.clone(),
            reason: reason.into(),
            detail,
            minutes: Some(r.minutes),
        });
    }
    for p in &ranking.passed_over {
        alternatives.push(Alternative {
            kind: "hospital",
            id: p.hospital_id.clone(),
            name: p.name.clone(),
            reason: p.reason.into(),
            detail: p.detail.clone(),
            minutes: None,
        });
    }

    let mut legs = Vec::new();
    if let Some((_, r)) = &unit {
        legs.push(leg("ambulance", "patient", *r));
    }
    legs.push(leg("patient", "hospital", best_r));
    Ok(Optimized {
        alert_id: alert.alert_id.clone(),
        specialty,
        best: Plan {
            ambulance: unit.map(|(u, _)| ChosenUnit {
                ambulance_id: u.ambulance_id,
                call_sign: u.call_sign,
                status: u.status,
            }),
            hospital: ChosenHospital {
                hospital_id: best_h.hospital_id.clone(),
                name: best_h.name.clone(),
                has_specialty: best_has,
                capacity: best_h.capacity,
                beds_available: best_h.beds_available,
                last_resort: best_h.last_resort,
            },
            total_minutes: round2(legs.iter().map(|l| l.minutes).sum()),
            legs,
        },
        alternatives,
    })
}
