//! Position reports: an ambulance's (its crew's device, or a dispatcher) and the patient's.
//! Each is recorded, added to the alert's track, checked against the arrival geofences, and
//! pushed to everyone watching the alert with a fresh ETA.

use serde::{Deserialize, Serialize};

use crate::dispatch::ambulance::{self, Ambulance, Fix, UnitStatus, change_unit};
use crate::dispatch::fleet::{AmbulanceView, move_unit, view};
use crate::emergencies::alert::{Alert, Location, MAX_ACCURACY_M, Status};
use crate::emergencies::view::Viewer;
use crate::tracking::{LocationMessage, Outgoing, Source, road, track, watchers};
use haven_kernel::Timestamp;
use haven_kernel::envelope::Envelope;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Ports, RouteRequest};
use haven_kernel::roles::Role;

/// A unit this close to the patient is with them (plus the patient fix's own uncertainty, up
/// to `MAX_FENCE_SLACK_M`).
pub const PATIENT_FENCE_M: f64 = 150.0;
const MAX_FENCE_SLACK_M: f64 = 100.0;
/// A unit on scene that is this far away has left with the patient.
pub const LEAVE_SCENE_M: f64 = 400.0;
/// A unit this close to the destination hospital has arrived there (a campus is large).
pub const HOSPITAL_FENCE_M: f64 = 300.0;
/// The fastest an ambulance reports (km/h); more is a broken device.
const MAX_SPEED_KMH: f64 = 300.0;

/// `{latitude, longitude, speed_kmh?, heading?, accuracy_m?}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionReport {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub speed_kmh: Option<f64>,
    #[serde(default)]
    pub heading: Option<f64>,
    #[serde(default)]
    pub accuracy_m: Option<f64>,
}

impl PositionReport {
    pub fn validate(&self) -> Result<Coordinates, DomainError> {
        let at = Coordinates::new(self.latitude, self.longitude)?;
        if let Some(v) = self.speed_kmh
            && !(v.is_finite() && (0.0..=MAX_SPEED_KMH).contains(&v))
        {
            return Err(DomainError::invalid(
                "speed_kmh",
                format!("speed_kmh is 0 to {MAX_SPEED_KMH}"),
            ));
        }
        if let Some(h) = self.heading
            && !(h.is_finite() && (0.0..360.0).contains(&h))
        {
            return Err(DomainError::invalid(
                "heading",
                "heading is degrees from north, 0 to less than 360",
            ));
        }
        if let Some(a) = self.accuracy_m
            && !(a.is_finite() && (0.0..=MAX_ACCURACY_M).contains(&a))
        {
            return Err(DomainError::invalid(
                "accuracy_m",
                format!("accuracy_m is 0 to {MAX_ACCURACY_M} metres"),
            ));
        }
        Ok(at)
    }

    fn fix(&self, now: Timestamp) -> Fix {
        Fix {
            latitude: self.latitude,
            longitude: self.longitude,
            at: now.to_rfc3339(),
            speed_kmh: self.speed_kmh,
            heading: self.heading,
            accuracy_m: self.accuracy_m,
        }
    }
}

fn metres(a: Coordinates, b: Coordinates) -> f64 {
    a.distance_km(b) * 1000.0
}

/// The fence around the patient: wider when their own fix is vague.
pub fn patient_fence_m(alert: &Alert) -> f64 {
    PATIENT_FENCE_M
        + alert
            .location
            .accuracy_m
            .unwrap_or(0.0)
            .min(MAX_FENCE_SLACK_M)
}

/// Where the unit's position puts it in its lifecycle: at the patient, away with them, at
/// the hospital. Moves the alert with it (see `fleet::move_unit`).
fn geofence(
    unit: &mut Ambulance,
    alert: &mut Alert,
    here: Coordinates,
    now: Timestamp,
) -> Result<(), DomainError> {
    let to_patient = metres(here, alert.location.coordinates());
    let next = match unit.status {
        UnitStatus::Dispatched | UnitStatus::EnRoute if to_patient <= patient_fence_m(alert) => {
            Some(UnitStatus::OnScene)
        }
        // Moving: the crew is on its way.
        UnitStatus::Dispatched => Some(UnitStatus::EnRoute),
        UnitStatus::OnScene if to_patient > LEAVE_SCENE_M => Some(UnitStatus::Transporting),
        UnitStatus::Transporting
            if alert
                .hospital_coordinates()
                .is_some_and(|h| metres(here, h) <= HOSPITAL_FENCE_M) =>
        {
            Some(UnitStatus::AtHospital)
        }
        _ => None,
    };
    match next {
        Some(to) => move_unit(unit, Some(alert), to, now, "geofence"),
        None => Ok(()),
    }
}

/// Where the unit is heading now and how long it will take.
async fn eta_of<P: Ports>(ports: &P, unit: &Ambulance, alert: Option<&Alert>) -> Option<f64> {
    let alert = alert?;
    let target = match unit.status {
        UnitStatus::Dispatched | UnitStatus::EnRoute => Some(alert.location.coordinates()),
        UnitStatus::OnScene | UnitStatus::Transporting => alert.hospital_coordinates(),
        _ => None,
    }?;
    let route = road(
        ports,
        RouteRequest {
            from: unit.whereabouts(),
            to: target,
            at: ports.clock().now(),
            observed_kmh: unit.observed_kmh(),
        },
    )
    .await;
    Some(route.minutes)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitPosition {
    pub ambulance: AmbulanceView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_minutes: Option<f64>,
}

/// An ambulance's position: from its crew, or a dispatcher.
pub async fn report_unit<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    ambulance_id: &str,
    report: PositionReport,
) -> Result<UnitPosition, DomainError> {
    let here = report.validate()?;
    let changed = change_unit(ports, ambulance_id, None, |unit, alert, now| {
        let crew = viewer.role == Role::Responder && unit.crewed_by(&viewer.user_id);
        let dispatcher = viewer.role == Role::Dispatcher;
        if viewer.bypass_jti.is_some() || !(crew || dispatcher) {
            return Err(DomainError::Forbidden);
        }
        let fix = report.fix(now);
        unit.record(fix.clone(), now);
        let mut extra = Vec::new();
        if let Some(alert) = alert
            && unit.alert_id.as_deref() == Some(alert.alert_id.as_str())
        {
            extra.push(track::item(
                &alert.alert_id,
                Source::Ambulance,
                unit.version + 1,
                &fix,
                Some(&unit.ambulance_id),
                now,
            ));
            if alert.status.is_open() {
                geofence(unit, alert, here, now)?;
            }
        }
        Ok(extra)
    })
    .await?;
    let alert = changed
        .alert
        .as_ref()
        .filter(|a| changed.unit.alert_id.as_deref() == Some(a.alert_id.as_str()));
    let eta_minutes = eta_of(ports, &changed.unit, alert).await;
    if let (Some(alert), Some(fix)) = (alert, changed.unit.position.as_ref()) {
        let message = Outgoing::Location(LocationMessage {
            alert_id: alert.alert_id.clone(),
            source: Source::Ambulance,
            latitude: fix.latitude,
            longitude: fix.longitude,
            at: fix.at.clone(),
            eta_minutes,
            accuracy_m: fix.accuracy_m,
            speed_kmh: fix.speed_kmh,
            heading: fix.heading,
            ambulance_id: Some(changed.unit.ambulance_id.clone()),
            call_sign: Some(changed.unit.call_sign.clone()),
        });
        watchers::broadcast(ports, &alert.alert_id, &message).await;
    }
    watchers::announce(ports, &changed).await;
    Ok(UnitPosition {
        ambulance: view(&changed.unit),
        alert_id: alert.map(|a| a.alert_id.clone()),
        alert_status: alert.map(|a| a.status),
        eta_minutes,
    })
}

/// The patient's device reports where they are: the alert follows them, the track records
/// it, and watchers see it with the unit's time to reach them.
pub async fn report_patient<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
    location: Location,
) -> Result<(Alert, Option<Envelope>), DomainError> {
    let (alert, sealed) = crate::emergencies::store::change(
        ports,
        alert_id,
        |a| viewer.can_see(a),
        |alert, now| {
            if !viewer.is_reporter(alert) {
                return Err(DomainError::Forbidden);
            }
            if !alert.status.is_open()
                || matches!(alert.status, Status::Arrived | Status::AtHospital)
            {
                return Err(DomainError::Conflict {
                    message: format!(
                        "an alert that is {} takes no more locations",
                        alert.status.as_str()
                    ),
                    current: Some(alert.status.as_str().into()),
                });
            }
            alert.location = location;
            alert.location_updated_at = now.to_rfc3339();
            let fix = Fix {
                latitude: location.latitude,
                longitude: location.longitude,
                at: now.to_rfc3339(),
                speed_kmh: None,
                heading: None,
                accuracy_m: location.accuracy_m,
            };
            Ok(vec![track::item(
                &alert.alert_id,
                Source::Patient,
                alert.version + 1,
                &fix,
                None,
                now,
            )])
        },
    )
    .await?;
    let unit = match alert.dispatch.as_ref().filter(|d| d.is_active()) {
        Some(d) => ambulance::load(ports, &d.ambulance_id).await.ok(),
        None => None,
    };
    let eta_minutes = match &unit {
        Some(u) => eta_of(ports, u, Some(&alert)).await,
        None => None,
    };
    let message = Outgoing::Location(LocationMessage {
        alert_id: alert.alert_id.clone(),
        source: Source::Patient,
        latitude: location.latitude,
        longitude: location.longitude,
        at: alert.location_updated_at.clone(),
        eta_minutes,
        accuracy_m: location.accuracy_m,
        speed_kmh: None,
        heading: None,
        ambulance_id: None,
        call_sign: None,
    });
    watchers::broadcast(ports, &alert.alert_id, &message).await;
    Ok((alert, sealed))
}

/// The socket's `location` message: `{action: "location", latitude, longitude, accuracy_m?,
/// speed_kmh?, heading?, alert_id?, ambulance_id?}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketLocation {
    #[serde(default)]
    pub action: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    #[serde(default)]
    pub speed_kmh: Option<f64>,
    #[serde(default)]
    pub heading: Option<f64>,
    /// Which alert; the connection's only subscription when absent.
    #[serde(default)]
    pub alert_id: Option<String>,
    /// Which unit (dispatchers must say; crews may).
    #[serde(default)]
    pub ambulance_id: Option<String>,
}

/// A position sent over a socket: the patient's own, or the unit's that its crew (or a
/// dispatcher) reports. Who is on the connection decides which.
pub async fn report_from_connection<P: Ports>(
    ports: &P,
    connection_id: &str,
    message: SocketLocation,
) -> Result<(), DomainError> {
    let (viewer, _) = watchers::watcher(ports, connection_id).await?;
    let report = PositionReport {
        latitude: message.latitude,
        longitude: message.longitude,
        speed_kmh: message.speed_kmh,
        heading: message.heading,
        accuracy_m: message.accuracy_m,
    };
    report.validate()?;
    if let Some(unit) = &message.ambulance_id {
        report_unit(ports, &viewer, unit, report).await?;
        return Ok(());
    }
    let alert_id = match message.alert_id {
        Some(a) => a,
        None => {
            let mut watched = watchers::subscriptions(ports, connection_id).await?;
            if watched.len() != 1 {
                return Err(DomainError::invalid(
                    "alert_id",
                    "name the alert: this connection watches none or several",
                ));
            }
            watched.remove(0)
        }
    };
    if viewer.role == Role::Patient || viewer.bypass_jti.is_some() {
        let location = Location::new(report.latitude, report.longitude, report.accuracy_m)?;
        report_patient(ports, &viewer, &alert_id, location).await?;
        return Ok(());
    }
    if viewer.role != Role::Responder {
        return Err(DomainError::invalid(
            "ambulance_id",
            "say which unit this position is of",
        ));
    }
    let (alert, _) = crate::emergencies::trigger::load_alert(ports, &alert_id).await?;
    if !viewer.can_see(&alert) {
        return Err(DomainError::NotFound("alert".into()));
    }
    let unit = alert
        .dispatch
        .as_ref()
        .filter(|d| d.is_active())
        .map(|d| d.ambulance_id.clone())
        .ok_or_else(|| DomainError::conflict("no unit is sent to this alert"))?;
    report_unit(ports, &viewer, &unit, report).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emergencies::alert::{Dispatch, MatchedHospital};

    fn scene() -> (Ambulance, Alert) {
        let mut unit = crate::dispatch::ambulance::tests::unit();
        let mut alert = crate::emergencies::alert::tests::sample();
        alert.status = Status::Acknowledged;
        alert.hospital = Some(MatchedHospital {
            latitude: -1.3009,
            longitude: 36.8073,
            ..crate::emergencies::alert::tests::hospital("h1")
        });
        unit.status = UnitStatus::Dispatched;
        unit.alert_id = Some(alert.alert_id.clone());
        alert.dispatch = Some(Dispatch {
            ambulance_id: unit.ambulance_id.clone(),
            call_sign: unit.call_sign.clone(),
            assigned_at: "t".into(),
            assigned_by: "d".into(),
            on_scene_at: None,
            left_scene_at: None,
            at_hospital_at: None,
            released_at: None,
        });
        alert.catch_up_with_dispatch(Timestamp::from_millis(0), "d");
        (unit, alert)
    }

    /// `metres` north of the patient.
    fn north_of_patient(metres: f64) -> Coordinates {
        let patient = crate::emergencies::alert::tests::sample().location;
        Coordinates::new(patient.latitude + metres / 111_195.0, patient.longitude).expect("valid")
    }

    #[test]
    fn the_fences_move_unit_and_alert_through_arrival_and_hospital() {
        let (mut unit, mut alert) = scene();
        assert_eq!(alert.status, Status::EnRoute);
        let t = Timestamp::from_millis(1_000);
        // Far away: moving, so en route; the alert stays en route.
        geofence(&mut unit, &mut alert, north_of_patient(3000.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::EnRoute);
        // Just outside the fence (150 m + the patient fix's 12 m): nothing yet.
        geofence(&mut unit, &mut alert, north_of_patient(170.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::EnRoute);
        geofence(&mut unit, &mut alert, north_of_patient(150.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::OnScene);
        assert_eq!(alert.status, Status::Arrived);
        assert!(
            alert
                .dispatch
                .as_ref()
                .and_then(|d| d.on_scene_at.as_ref())
                .is_some()
        );
        // Moving about the scene is not leaving it.
        geofence(&mut unit, &mut alert, north_of_patient(300.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::OnScene);
        geofence(&mut unit, &mut alert, north_of_patient(500.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::Transporting);
        let door = Coordinates::new(-1.3009 + 0.002, 36.8073).expect("valid");
        let street = Coordinates::new(-1.3009 + 0.004, 36.8073).expect("valid");
        geofence(&mut unit, &mut alert, street, t).expect("ok");
        assert_eq!(
            unit.status,
            UnitStatus::Transporting,
            "445 m from the hospital"
        );
        geofence(&mut unit, &mut alert, door, t).expect("ok");
        assert_eq!(
            unit.status,
            UnitStatus::AtHospital,
            "222 m: at the hospital"
        );
        assert_eq!(alert.status, Status::AtHospital);
        let statuses: Vec<Status> = alert.timeline.iter().map(|t| t.status).collect();
        assert!(statuses.ends_with(&[Status::EnRoute, Status::Arrived, Status::AtHospital]));
    }

    #[test]
    fn a_unit_sent_before_the_hospital_accepts_catches_the_alert_up_later() {
        let (mut unit, mut alert) = scene();
        alert.status = Status::Notified;
        alert.timeline.clear();
        let t = Timestamp::from_millis(1_000);
        geofence(&mut unit, &mut alert, north_of_patient(20.0), t).expect("ok");
        assert_eq!(unit.status, UnitStatus::OnScene);
        assert_eq!(
            alert.status,
            Status::Notified,
            "no hospital has accepted yet"
        );
        alert
            .transition(Status::Acknowledged, t, "nurse", None)
            .expect("accept");
        alert.catch_up_with_dispatch(t, "system");
        assert_eq!(
            alert.status,
            Status::Arrived,
            "en route, then arrived, at once"
        );
    }

    #[test]
    fn reports_are_checked_field_by_field() {
        let ok = PositionReport {
            latitude: -1.3,
            longitude: 36.8,
            speed_kmh: Some(40.0),
            heading: Some(359.9),
            accuracy_m: Some(5.0),
        };
        assert!(ok.validate().is_ok());
        for (bad, field) in [
            (
                PositionReport {
                    latitude: 91.0,
                    ..ok
                },
                "latitude",
            ),
            (
                PositionReport {
                    longitude: f64::NAN,
                    ..ok
                },
                "longitude",
            ),
            (
                PositionReport {
                    speed_kmh: Some(-1.0),
                    ..ok
                },
                "speed_kmh",
            ),
            (
                PositionReport {
                    heading: Some(360.0),
                    ..ok
                },
                "heading",
            ),
            (
                PositionReport {
                    accuracy_m: Some(1e9),
                    ..ok
                },
                "accuracy_m",
            ),
        ] {
            assert_eq!(bad.validate().expect_err("refused").field(), Some(field));
        }
    }
}
