//! The fleet's use cases: register a unit, read and list units, propose the nearest suitable
//! available units for an alert, assign one, and move a unit through its lifecycle (which
//! moves the alert it works: on scene → `arrived`, at the hospital → `at_hospital`).

use serde::{Deserialize, Serialize};

use crate::dispatch::ambulance::{
    self, Ambulance, Capability, UnitChange, UnitStatus, change_unit,
};
use crate::emergencies::alert::{Alert, Dispatch, Priority, Status};
use crate::emergencies::trigger::load_alert;
use crate::emergencies::view::Viewer;
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{
    Condition, Cursor, Index, Ports, Query, Route, RouteRequest, SortKey, Table, TransactOp,
};
use haven_kernel::roles::Role;

pub const MAX_CREW: usize = 6;
const MAX_CALL_SIGN_CHARS: usize = 32;

fn dispatcher(viewer: &Viewer) -> bool {
    viewer.role == Role::Dispatcher && viewer.bypass_jti.is_none()
}

/// What `POST /ambulances` takes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAmbulance {
    pub call_sign: String,
    pub latitude: f64,
    pub longitude: f64,
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub hospital_id: Option<String>,
    /// Responders (user ids) who crew it.
    #[serde(default)]
    pub crew: Vec<String>,
}

/// What callers see of a unit (the recent fixes stay inside).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmbulanceView {
    pub ambulance_id: String,
    pub call_sign: String,
    pub capabilities: Vec<Capability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
    pub base: Coordinates,
    pub crew: Vec<String>,
    pub status: UnitStatus,
    pub status_changed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<ambulance::Fix>,
    pub created_at: String,
}

pub fn view(u: &Ambulance) -> AmbulanceView {
    AmbulanceView {
        ambulance_id: u.ambulance_id.clone(),
        call_sign: u.call_sign.clone(),
        capabilities: u.capabilities.clone(),
        hospital_id: u.hospital_id.clone(),
        base: u.base,
        crew: u.crew.clone(),
        status: u.status,
        status_changed_at: u.status_changed_at.clone(),
        alert_id: u.alert_id.clone(),
        position: u.position.clone(),
        created_at: u.created_at.clone(),
    }
}

/// The item that keeps call signs unique (case, spaces and hyphens ignored).
pub fn call_sign_key(call_sign: &str) -> Key {
    let normal: String = call_sign
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    Key::new(format!("CALLSIGN#{normal}"), "CALLSIGN")
}

/// Who manages which units: dispatchers and system admins all of them, a hospital's admin
/// its own.
fn may_manage(viewer: &Viewer, unit_hospital: Option<&str>) -> bool {
    if viewer.bypass_jti.is_some() {
        return false;
    }
    match viewer.role {
        Role::Dispatcher | Role::SystemAdmin => true,
        Role::HospitalAdmin => {
            viewer.hospital_id.is_some() && viewer.hospital_id.as_deref() == unit_hospital
        }
        _ => false,
    }
}

/// Who may see a unit: its managers and its crew.
fn may_see(viewer: &Viewer, unit: &Ambulance) -> bool {
    may_manage(viewer, unit.hospital_id.as_deref())
        || (viewer.role == Role::Responder && unit.crewed_by(&viewer.user_id))
}

/// `POST /ambulances`.
pub async fn register<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    new: NewAmbulance,
) -> Result<AmbulanceView, DomainError> {
    let call_sign = new.call_sign.trim().to_owned();
    if call_sign.is_empty()
        || call_sign.chars().count() > MAX_CALL_SIGN_CHARS
        || call_sign.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            "call_sign",
            format!("a call sign is 1 to {MAX_CALL_SIGN_CHARS} printable characters"),
        ));
    }
    let base = Coordinates::new(new.latitude, new.longitude)?;
    if new.capabilities.is_empty() || new.capabilities.len() > Capability::ALL.len() {
        return Err(DomainError::invalid(
            "capabilities",
            format!(
                "list 1 to {} of {}",
                Capability::ALL.len(),
                Capability::ALL.join(", ")
            ),
        ));
    }
    let mut capabilities = new
        .capabilities
        .iter()
        .map(|c| Capability::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    capabilities.sort();
    capabilities.dedup();
    let hospital_id = match (viewer.role, new.hospital_id) {
        // A hospital's admin registers units for their own hospital only.
        (Role::HospitalAdmin, None) => viewer.hospital_id.clone(),
        (_, h) => h,
    };
    if !may_manage(viewer, hospital_id.as_deref()) {
        return Err(DomainError::Forbidden);
    }
    if let Some(h) = &hospital_id {
        crate::hospitals::manage::load(ports, h)
            .await
            .map_err(|_| DomainError::invalid("hospital_id", "no such hospital"))?;
    }
    if new.crew.len() > MAX_CREW {
        return Err(DomainError::invalid(
            "crew",
            format!("a crew has at most {MAX_CREW} responders"),
        ));
    }
    let mut crew = Vec::new();
    for id in &new.crew {
        let user = haven_identity_core::accounts::find_by_id(ports, id).await?;
        if user.is_none_or(|u| u.role != Role::Responder) {
            return Err(DomainError::invalid(
                "crew",
                format!(
                    "{} is not a responder's account",
                    id.chars().take(64).collect::<String>()
                ),
            ));
        }
        if !crew.contains(id) {
            crew.push(id.clone());
        }
    }
    let now = ports.clock().now();
    let unit = Ambulance::new(
        ports.ids().next_id(),
        call_sign.clone(),
        capabilities,
        hospital_id,
        base,
        crew,
        now,
    );
    let claim =
        Item::new(&call_sign_key(&call_sign)).with("ambulance_id", Value::s(&unit.ambulance_id));
    let written = ports
        .table()
        .transact_write(vec![
            TransactOp::Put {
                item: claim,
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Put {
                item: unit.to_item(),
                condition: Some(Condition::item_absent()),
            },
        ])
        .await;
    match written {
        Ok(()) => Ok(view(&unit)),
        Err(haven_kernel::ports::TableError::TransactionCanceled(_)) => {
            Err(DomainError::Conflict {
                message: format!("a unit with call sign {call_sign} exists"),
                current: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /ambulances/{id}`: to its managers and its crew; others learn nothing.
pub async fn get<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    ambulance_id: &str,
) -> Result<AmbulanceView, DomainError> {
    let unit = ambulance::load(ports, ambulance_id).await?;
    if !may_see(viewer, &unit) {
        return Err(DomainError::NotFound("ambulance".into()));
    }
    Ok(view(&unit))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetPage {
    pub ambulances: Vec<AmbulanceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /ambulances?status=`: the units the caller may see, by status then id.
pub async fn list<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    status: Option<UnitStatus>,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<FleetPage, DomainError> {
    let mut query = Query::partition(ambulance::FLEET)
        .on(Index::Gsi2)
        .limit(limit.clamp(1, 200))
        .after(cursor);
    if let Some(s) = status {
        query = query.sort(SortKey::BeginsWith(format!("{}#", s.as_str())));
    }
    let page = ports.table().query(query).await?;
    Ok(FleetPage {
        ambulances: page
            .items
            .iter()
            .filter_map(Ambulance::from_item)
            .filter(|u| may_see(viewer, u))
            .map(|u| view(&u))
            .collect(),
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// Every available unit (the fleet of a city is hundreds, read a page at a time).
async fn available<P: Ports>(ports: &P) -> Result<Vec<Ambulance>, DomainError> {
    let mut units = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports
            .table()
            .query(
                Query::partition(ambulance::FLEET)
                    .on(Index::Gsi2)
                    .sort(SortKey::BeginsWith("available#".into()))
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        units.extend(page.items.iter().filter_map(Ambulance::from_item));
        cursor = page.cursor;
        if cursor.is_none() || units.len() >= 5_000 {
            return Ok(units);
        }
    }
}

/// What an alert needs of a unit: advanced life support when it is critical or its kind
/// usually needs a paramedic, a neonatal unit never hurts a birth but is not required.
pub fn required_capability(alert: &Alert) -> Capability {
    use crate::emergencies::alert::EmergencyType::*;
    match (alert.priority, alert.emergency_type) {
        (Priority::Critical, _) | (_, Cardiac | Respiratory) => Capability::Als,
        _ => Capability::Bls,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub ambulance_id: String,
    pub call_sign: String,
    pub capabilities: Vec<Capability>,
    pub distance_km: f64,
    pub minutes: f64,
    pub basis: haven_kernel::ports::Basis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposals {
    pub alert_id: String,
    pub needs: Capability,
    /// Best first.
    pub ambulances: Vec<Proposal>,
    /// Available units passed over for lacking what the alert needs.
    pub unsuitable: usize,
}

/// How many of the nearest units are routed (by road) before choosing.
const ROUTED_UNITS: usize = 5;

/// The available units that can treat the alert's patient, nearest by road first.
pub(crate) async fn suitable_units<P: Ports>(
    ports: &P,
    alert: &Alert,
) -> Result<(Vec<(Ambulance, Route)>, usize), DomainError> {
    let needs = required_capability(alert);
    let patient = alert.location.coordinates();
    let all = available(ports).await?;
    let total = all.len();
    let mut suitable: Vec<Ambulance> = all.into_iter().filter(|u| u.has(needs)).collect();
    let unsuitable = total - suitable.len();
    suitable.sort_by(|a, b| {
        a.whereabouts()
            .distance_km(patient)
            .total_cmp(&b.whereabouts().distance_km(patient))
    });
    suitable.truncate(ROUTED_UNITS);
    let now = ports.clock().now();
    let mut routed = Vec::new();
    for unit in suitable {
        let route = crate::tracking::road(
            ports,
            RouteRequest {
                from: unit.whereabouts(),
                to: patient,
                at: now,
                observed_kmh: None,
            },
        )
        .await;
        routed.push((unit, route));
    }
    routed.sort_by(|a, b| a.1.minutes.total_cmp(&b.1.minutes));
    Ok((routed, unsuitable))
}

/// `GET /emergency/{alert_id}/ambulances`: the units a dispatcher should consider.
pub async fn propose<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
) -> Result<Proposals, DomainError> {
    if !dispatcher(viewer) {
        return Err(DomainError::Forbidden);
    }
    let (alert, _) = load_alert(ports, alert_id).await?;
    let (routed, unsuitable) = suitable_units(ports, &alert).await?;
    Ok(Proposals {
        alert_id: alert.alert_id.clone(),
        needs: required_capability(&alert),
        ambulances: routed
            .into_iter()
            .map(|(u, r)| Proposal {
                ambulance_id: u.ambulance_id,
                call_sign: u.call_sign,
                capabilities: u.capabilities,
                distance_km: r.distance_km,
                minutes: r.minutes,
                basis: r.basis,
            })
            .collect(),
        unsuitable,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub ambulance: AmbulanceView,
    /// The alert the unit works (none once it is free again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<Status>,
}

impl Assignment {
    fn of(change: &UnitChange) -> Self {
        Assignment {
            ambulance: view(&change.unit),
            alert_id: change.alert.as_ref().map(|a| a.alert_id.clone()),
            alert_status: change.alert.as_ref().map(|a| a.status),
        }
    }
}

/// `POST /ambulances/{id}/assign` `{alert_id}`: a dispatcher sends an available unit. Its
/// crew may then see and track the alert; an accepted alert becomes `en_route`.
pub async fn assign<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    ambulance_id: &str,
    alert_id: &str,
) -> Result<Assignment, DomainError> {
    if !dispatcher(viewer) {
        return Err(DomainError::Forbidden);
    }
    if !haven_kernel::ids::is_valid_id(alert_id) {
        return Err(DomainError::invalid("alert_id", "not an alert id"));
    }
    let changed = change_unit(ports, ambulance_id, Some(alert_id), |unit, alert, now| {
        let alert = alert.ok_or_else(|| DomainError::NotFound("alert".into()))?;
        if unit.alert_id.as_deref() == Some(alert_id) {
            // Sent already: a retry of the same request.
            return Ok(vec![]);
        }
        if unit.status != UnitStatus::Available {
            return Err(DomainError::Conflict {
                message: format!(
                    "{} is {}, not available",
                    unit.call_sign,
                    unit.status.as_str()
                ),
                current: Some(unit.status.as_str().into()),
            });
        }
        if !alert.status.is_open() || matches!(alert.status, Status::Arrived | Status::AtHospital) {
            return Err(DomainError::Conflict {
                message: format!("an alert that is {} needs no unit", alert.status.as_str()),
                current: Some(alert.status.as_str().into()),
            });
        }
        if let Some(d) = alert.dispatch.as_ref().filter(|d| d.is_active()) {
            return Err(DomainError::Conflict {
                message: format!(
                    "{} is already sent to this alert; stand it down first",
                    d.call_sign
                ),
                current: Some(alert.status.as_str().into()),
            });
        }
        unit.set_status(UnitStatus::Dispatched, now)?;
        unit.alert_id = Some(alert_id.to_owned());
        alert.dispatch = Some(Dispatch {
            ambulance_id: unit.ambulance_id.clone(),
            call_sign: unit.call_sign.clone(),
            assigned_at: now.to_rfc3339(),
            assigned_by: viewer.user_id.clone(),
            on_scene_at: None,
            left_scene_at: None,
            at_hospital_at: None,
            released_at: None,
        });
        for member in &unit.crew {
            if !alert.responders.contains(member) {
                alert.responders.push(member.clone());
            }
        }
        alert.catch_up_with_dispatch(now, &viewer.user_id);
        Ok(vec![])
    })
    .await?;
    crate::tracking::watchers::announce(ports, &changed).await;
    Ok(Assignment::of(&changed))
}

/// A unit moving to `to`, and what that means for the alert it works. Shared by the crew's
/// explicit status and the geofences.
pub(crate) fn move_unit(
    unit: &mut Ambulance,
    alert: Option<&mut Alert>,
    to: UnitStatus,
    now: Timestamp,
    by: &str,
) -> Result<(), DomainError> {
    let working = unit.alert_id.clone();
    unit.set_status(to, now)?;
    let Some(alert) = alert else {
        return Ok(());
    };
    let Some(d) = alert
        .dispatch
        .as_mut()
        .filter(|d| d.is_active() && Some(&d.ambulance_id) == Some(&unit.ambulance_id))
    else {
        return Ok(());
    };
    if working.as_deref() != Some(alert.alert_id.as_str()) {
        return Ok(());
    }
    let at = now.to_rfc3339();
    match to {
        UnitStatus::OnScene => d.on_scene_at = d.on_scene_at.clone().or(Some(at)),
        UnitStatus::Transporting => d.left_scene_at = d.left_scene_at.clone().or(Some(at)),
        UnitStatus::AtHospital => d.at_hospital_at = d.at_hospital_at.clone().or(Some(at)),
        UnitStatus::Available if d.at_hospital_at.is_none() => d.released_at = Some(at),
        _ => {}
    }
    alert.catch_up_with_dispatch(now, by);
    Ok(())
}

/// `POST /ambulances/{id}/status` `{status}`: the crew (or a dispatcher) says where the unit
/// is in its lifecycle.
pub async fn set_status<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    ambulance_id: &str,
    to: UnitStatus,
) -> Result<Assignment, DomainError> {
    if to == UnitStatus::Dispatched {
        return Err(DomainError::invalid(
            "status",
            "a unit is dispatched by assigning it to an alert",
        ));
    }
    let changed = change_unit(ports, ambulance_id, None, |unit, alert, now| {
        if !(dispatcher(viewer)
            || unit.crewed_by(&viewer.user_id) && viewer.role == Role::Responder)
        {
            return Err(DomainError::Forbidden);
        }
        if unit.status == to {
            return Ok(vec![]);
        }
        move_unit(unit, alert, to, now, &viewer.user_id)?;
        Ok(vec![])
    })
    .await?;
    crate::tracking::watchers::announce(ports, &changed).await;
    Ok(Assignment::of(&changed))
}
