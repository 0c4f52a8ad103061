//! Use cases of the hospitals context: the nearby search, and what system admins and a
//! hospital's own staff do to keep its profile and capacity true.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hospitals::capability::EmergencyCare;
use crate::hospitals::directory::{self, find, nearest_beyond};
use crate::hospitals::profile::{
    BedCount, CapacityState, Channel, Department, EdStatus, FacilityType, Hospital, Performance,
    SPECIALTIES,
};
use crate::hospitals::ranking::{Care, Criteria, Ranking};
use crate::hospitals::search::MAX_RADIUS_KM;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::ids::is_valid_id;
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{Condition, Ports, Table, TableError, TransactOp};
use haven_kernel::roles::Role;

pub const DEFAULT_RADIUS_KM: f64 = 25.0;
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 50;
/// Capacity reports are kept this long as events (bed-management history).
const CAPACITY_EVENT_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// Concurrent capacity reports are merged, not refused: this many tries.
const WRITE_ATTEMPTS: usize = 5;

/// Who is acting on a hospital: their role and, for staff, their hospital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
}

impl Actor {
    pub fn of(claims: &haven_identity_core::tokens::Claims) -> Self {
        Actor {
            user_id: claims.sub.clone(),
            role: claims.role,
            hospital_id: claims.hospital_id.clone(),
        }
    }
    pub(crate) fn works_at(&self, hospital_id: &str) -> bool {
        self.role.is_hospital_staff() && self.hospital_id.as_deref() == Some(hospital_id)
    }
}

/// How many hospitals a search tries to know before ranking: enough that the best-scoring
/// ones are among them, not just the nearest few.
pub fn candidate_pool(limit: usize) -> usize {
    (limit * 3).max(20)
}

/// Every hospital, read once through the directory's view (an import matches a file
/// against them in memory).
pub async fn all<T: Table>(table: &T) -> Result<Vec<Hospital>, DomainError> {
    crate::hospitals::directory::load_all(table).await
}

/// `GET /hospitals/nearby` parameters, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NearbyRequest {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub radius_km: Option<f64>,
    pub specialty: Option<String>,
    pub min_beds: Option<u32>,
    pub min_level: Option<u8>,
    pub limit: Option<usize>,
    /// `emergency` (the default) or `any`.
    pub care: Option<String>,
}

pub async fn nearby<P: Ports>(ports: &P, request: NearbyRequest) -> Result<Ranking, DomainError> {
    let latitude = request
        .latitude
        .ok_or_else(|| DomainError::invalid("lat", "lat is required"))?;
    let longitude = request
        .longitude
        .ok_or_else(|| DomainError::invalid("lng", "lng is required"))?;
    let center = Coordinates::new(latitude, longitude).map_err(|e| match e.field() {
        Some("latitude") => DomainError::invalid("lat", "lat must be between -90 and 90"),
        _ => DomainError::invalid("lng", "lng must be between -180 and 180"),
    })?;
    let radius_km = request.radius_km.unwrap_or(DEFAULT_RADIUS_KM);
    if !(radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
        return Err(DomainError::invalid(
            "radius_km",
            format!("radius_km is more than 0 and at most {MAX_RADIUS_KM}"),
        ));
    }
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT}"),
        ));
    }
    if let Some(s) = &request.specialty
        && !SPECIALTIES.contains(&s.as_str())
    {
        return Err(DomainError::invalid(
            "specialty",
            format!("unknown specialty; known: {}", SPECIALTIES.join(", ")),
        ));
    }
    let min_level = request.min_level.unwrap_or(2);
    if !(2..=6).contains(&min_level) {
        return Err(DomainError::invalid("min_level", "min_level is 2 to 6"));
    }
    let care = match request.care.as_deref() {
        None => Care::Emergency,
        Some(text) => Care::parse(text).ok_or_else(|| {
            DomainError::invalid(
                "care",
                "care is emergency (facilities that can treat an emergency) or any",
            )
        })?,
    };
    let criteria = Criteria {
        specialty: request.specialty,
        specialty_required: true,
        min_beds: request.min_beds.unwrap_or(0),
        min_level,
        needs_icu: false,
        care,
        stabilise_as_last_resort: false,
        limit,
    };
    let (mut ranking, _) = find(ports, center, radius_km, &criteria).await?;
    if ranking.hospitals.is_empty() {
        ranking.nearest_beyond = nearest_beyond(ports, center, radius_km, &criteria).await?;
    }
    Ok(ranking)
}

pub async fn load<P: Ports>(ports: &P, hospital_id: &str) -> Result<Hospital, DomainError> {
    let not_found = || DomainError::NotFound("hospital".into());
    if !is_valid_id(hospital_id) {
        return Err(not_found());
    }
    ports
        .table()
        .get(&Hospital::key(hospital_id))
        .await?
        .as_ref()
        .and_then(Hospital::from_item)
        .ok_or_else(not_found)
}

/// `POST /hospitals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHospital {
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub level: u8,
    #[serde(default)]
    pub mfl_code: Option<String>,
    #[serde(default)]
    pub facility_type: Option<FacilityType>,
    #[serde(default)]
    pub specialties: Vec<String>,
    #[serde(default)]
    pub beds_total: Option<u32>,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub departments: Vec<Department>,
    #[serde(default)]
    pub equipment: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub sms_numbers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedHospital {
    pub hospital_id: String,
}

pub async fn create<P: Ports>(
    ports: &P,
    actor: &Actor,
    input: NewHospital,
) -> Result<CreatedHospital, DomainError> {
    if actor.role != Role::SystemAdmin {
        return Err(DomainError::Forbidden);
    }
    let hospital = Hospital {
        hospital_id: ports.ids().next_id(),
        name: input.name.trim().to_owned(),
        latitude: input.latitude,
        longitude: input.longitude,
        level: input.level,
        mfl_code: input.mfl_code,
        facility_type: input.facility_type,
        county: input.county,
        phone: input.phone,
        specialties: input.specialties,
        departments: input.departments,
        equipment: input.equipment,
        beds: BTreeMap::new(),
        beds_total: input.beds_total.unwrap_or(0),
        // How many are free is unknown until its staff first report.
        beds_available: None,
        icu_beds_available: None,
        ed_status: EdStatus::Open,
        channels: input.channels,
        sms_numbers: input.sms_numbers,
        performance: Performance::default(),
        source: None,
        capacity_updated_at: None,
        version: 1,
    };
    hospital.validate()?;
    ports
        .table()
        .transact_write(vec![
            TransactOp::Put {
                item: hospital.to_item(),
                condition: Some(Condition::item_absent()),
            },
            directory::bump(),
        ])
        .await?;
    directory::changed_here(ports);
    Ok(CreatedHospital {
        hospital_id: hospital.hospital_id,
    })
}

/// `PUT /hospitals/{id}`: the profile, departments, specialties, equipment and channels.
/// Absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub county: Option<String>,
    pub level: Option<u8>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub mfl_code: Option<String>,
    pub facility_type: Option<FacilityType>,
    pub specialties: Option<Vec<String>>,
    pub departments: Option<Vec<Department>>,
    pub equipment: Option<Vec<String>>,
    pub channels: Option<Vec<Channel>>,
    pub sms_numbers: Option<Vec<String>>,
}

pub async fn update_profile<P: Ports>(
    ports: &P,
    actor: &Actor,
    hospital_id: &str,
    changes: ProfileChanges,
) -> Result<Capabilities, DomainError> {
    // Whether a hospital exists is public; who may change it is not.
    load(ports, hospital_id).await?;
    let may = actor.role == Role::SystemAdmin
        || (actor.role == Role::HospitalAdmin && actor.works_at(hospital_id));
    if !may {
        return Err(DomainError::Forbidden);
    }
    // Level, type and place decide who gets sent patients, and the code which register
    // entry it is: only Haven's admins change them.
    let moves = changes.level.is_some()
        || changes.latitude.is_some()
        || changes.longitude.is_some()
        || changes.mfl_code.is_some()
        || changes.facility_type.is_some();
    if moves && actor.role != Role::SystemAdmin {
        return Err(DomainError::Forbidden);
    }
    write_with_retry(ports, hospital_id, |h| {
        changes.clone().apply(h);
        Ok(None)
    })
    .await
    .map(|h| capabilities_of(&h))
}

/// Puts `value` in `slot` when there is one.
fn replace<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

impl ProfileChanges {
    fn apply(self, h: &mut Hospital) {
        replace(&mut h.name, self.name.map(|n| n.trim().to_owned()));
        replace(&mut h.phone, self.phone.map(Some));
        replace(&mut h.county, self.county.map(Some));
        replace(&mut h.level, self.level);
        replace(&mut h.latitude, self.latitude);
        replace(&mut h.longitude, self.longitude);
        replace(&mut h.mfl_code, self.mfl_code.map(Some));
        replace(&mut h.facility_type, self.facility_type.map(Some));
        replace(&mut h.specialties, self.specialties);
        replace(&mut h.departments, self.departments);
        replace(&mut h.equipment, self.equipment);
        replace(&mut h.channels, self.channels);
        replace(&mut h.sms_numbers, self.sms_numbers);
    }
}

/// `POST /hospitals/{id}/availability`: a capacity report from the hospital's staff.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityReport {
    /// Counts by bed type; a type not named keeps its last count.
    #[serde(default)]
    pub beds: BTreeMap<String, BedCountChange>,
    pub ed_status: Option<EdStatus>,
    /// For hospitals that report totals only.
    pub beds_available: Option<u32>,
    pub icu_beds_available: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BedCountChange {
    pub available: u32,
    pub total: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacitySnapshot {
    pub hospital_id: String,
    pub ed_status: EdStatus,
    pub beds: BTreeMap<String, BedCount>,
    pub capacity: CapacityState,
    pub beds_total: u32,
    pub beds_available: Option<u32>,
    pub icu_beds_available: Option<u32>,
    pub capacity_updated_at: Option<String>,
}

pub async fn report_capacity<P: Ports>(
    ports: &P,
    actor: &Actor,
    hospital_id: &str,
    report: CapacityReport,
) -> Result<CapacitySnapshot, DomainError> {
    load(ports, hospital_id).await?;
    if !actor.works_at(hospital_id) {
        return Err(DomainError::Forbidden);
    }
    if report.beds.is_empty()
        && report.ed_status.is_none()
        && report.beds_available.is_none()
        && report.icu_beds_available.is_none()
    {
        return Err(DomainError::invalid(
            "beds",
            "report at least one of beds, ed_status, beds_available, icu_beds_available",
        ));
    }
    if !report.beds.is_empty()
        && (report.beds_available.is_some() || report.icu_beds_available.is_some())
    {
        return Err(DomainError::invalid(
            "beds_available",
            "send counts by type in beds, or totals, not both",
        ));
    }
    let now = ports.clock().now();
    let actor_id = actor.user_id.clone();
    let hospital = write_with_retry(ports, hospital_id, |h| {
        for (kind, change) in &report.beds {
            let previous = h.beds.get(kind).copied().unwrap_or_default();
            let total = change.total.unwrap_or(previous.total.max(change.available));
            h.beds.insert(
                kind.clone(),
                BedCount {
                    total,
                    available: change.available,
                },
            );
        }
        if let Some(v) = report.beds_available {
            h.beds_available = Some(v);
            h.beds_total = h.beds_total.max(v);
        }
        if let Some(v) = report.icu_beds_available {
            h.icu_beds_available = Some(v);
        }
        if let Some(s) = report.ed_status {
            h.ed_status = s;
        }
        h.recount_beds();
        h.capacity_updated_at = Some(now.to_rfc3339());
        // Each report is an event too: kept for bed-management history.
        let event_key = Key::new(
            format!("HOSPITAL#{}", h.hospital_id),
            format!("CAPACITY#{}#{}", now.to_rfc3339(), ports.ids().next_id()),
        );
        let mut event = Item::new(&event_key)
            .with("reported_by", Value::s(&actor_id))
            .with("ed_status", Value::s(h.ed_status.as_str()))
            .with("beds_total", Value::n(h.beds_total))
            .with(
                EXPIRES_AT,
                Value::n(now.plus(CAPACITY_EVENT_LIFETIME).epoch_seconds()),
            );
        for (name, value) in [
            ("beds_available", h.beds_available),
            ("icu_beds_available", h.icu_beds_available),
        ] {
            if let Some(v) = value {
                event = event.with(name, Value::n(v));
            }
        }
        Ok(Some(event))
    })
    .await?;
    Ok(CapacitySnapshot {
        capacity: hospital.capacity(),
        hospital_id: hospital.hospital_id,
        ed_status: hospital.ed_status,
        beds: hospital.beds,
        beds_total: hospital.beds_total,
        beds_available: hospital.beds_available,
        icu_beds_available: hospital.icu_beds_available,
        capacity_updated_at: hospital.capacity_updated_at,
    })
}

/// Reads, changes and writes a hospital under its version, retrying when someone else wrote
/// in between. `change` may return an extra item written in the same transaction.
pub(crate) async fn write_with_retry<P: Ports>(
    ports: &P,
    hospital_id: &str,
    mut change: impl FnMut(&mut Hospital) -> Result<Option<Item>, DomainError>,
) -> Result<Hospital, DomainError> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut hospital = load(ports, hospital_id).await?;
        let before = hospital.directory_profile();
        let version = hospital.version;
        let extra = change(&mut hospital)?;
        hospital.validate()?;
        hospital.version = version + 1;
        let item = hospital.to_item();
        let condition = Some(Condition::version_is(version));
        // A change to what the directory holds tells every process, in the same write.
        let profile_changed = hospital.directory_profile() != before;
        let bump = profile_changed.then(directory::bump);
        let outcome = match (extra, bump) {
            (None, None) => ports.table().put(item, condition).await,
            (event, bump) => {
                let mut ops = vec![TransactOp::Put { item, condition }];
                ops.extend(event.map(|item| TransactOp::Put {
                    item,
                    condition: None,
                }));
                ops.extend(bump);
                ports.table().transact_write(ops).await
            }
        };
        match outcome {
            Ok(()) => {
                directory::forget_live(ports, hospital_id);
                if profile_changed {
                    directory::changed_here(ports);
                }
                return Ok(hospital);
            }
            Err(TableError::ConditionFailed | TableError::TransactionCanceled(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::conflict(
        "the hospital is being changed by others; try again",
    ))
}

/// Counts a hospital's answer to an offer: `None` when the deadline passed unanswered,
/// else the decision and how long the hospital took. An answer after the deadline does not
/// count the offer again. Best effort: the alert path never waits on statistics.
pub(crate) async fn count_answer<P: Ports>(
    ports: &P,
    hospital_id: &str,
    answer: Option<(crate::comms::Decision, Option<Duration>)>,
    offer_counted: bool,
) {
    let result = write_with_retry(ports, hospital_id, |h| {
        let p = &mut h.performance;
        if !offer_counted {
            p.offered += 1;
        }
        if let Some((crate::comms::Decision::Accept, waited)) = answer {
            p.accepted += 1;
            if let Some(w) = waited {
                p.acknowledged += 1;
                p.ack_seconds_total += w.as_secs();
            }
        }
        Ok(None)
    })
    .await;
    if let Err(error) = result {
        tracing::warn!(hospital_id, %error, "hospital performance not counted");
    }
}

/// Turns a channel on or off for a hospital (a webhook configured, or disabled by a 410).
pub(crate) async fn set_channel<P: Ports>(
    ports: &P,
    hospital_id: &str,
    channel: Channel,
    on: bool,
) -> Result<(), DomainError> {
    write_with_retry(ports, hospital_id, |h| {
        h.channels.retain(|c| *c != channel);
        if on {
            h.channels.push(channel);
            h.channels.sort_unstable();
        }
        Ok(None)
    })
    .await
    .map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceView {
    pub offered: u32,
    pub accepted: u32,
    pub acceptance_rate: Option<f64>,
    pub mean_ack_seconds: Option<f64>,
}

/// `GET /hospitals/{id}/capabilities`: what the hospital can do and has room for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capabilities {
    pub hospital_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub level: u8,
    pub mfl_code: Option<String>,
    pub facility_type: Option<FacilityType>,
    /// What it can do for an emergency of any kind (`capability`).
    pub emergency_care: EmergencyCare,
    pub county: Option<String>,
    pub phone: Option<String>,
    pub specialties: Vec<String>,
    pub departments: Vec<Department>,
    pub equipment: Vec<String>,
    pub ed_status: EdStatus,
    pub beds: BTreeMap<String, BedCount>,
    pub capacity: CapacityState,
    pub beds_total: u32,
    pub beds_available: Option<u32>,
    pub icu_beds_available: Option<u32>,
    pub capacity_updated_at: Option<String>,
    pub channels: Vec<Channel>,
    pub performance: PerformanceView,
}

pub fn capabilities_of(h: &Hospital) -> Capabilities {
    Capabilities {
        hospital_id: h.hospital_id.clone(),
        name: h.name.clone(),
        latitude: h.latitude,
        longitude: h.longitude,
        level: h.level,
        mfl_code: h.mfl_code.clone(),
        facility_type: h.facility_type,
        emergency_care: crate::hospitals::capability::emergency_care(h, None),
        county: h.county.clone(),
        phone: h.phone.clone(),
        specialties: h.specialties.clone(),
        departments: h.departments.clone(),
        equipment: h.equipment.clone(),
        ed_status: h.ed_status,
        beds: h.beds.clone(),
        capacity: h.capacity(),
        beds_total: h.beds_total,
        beds_available: h.beds_available,
        icu_beds_available: h.icu_beds_available,
        capacity_updated_at: h.capacity_updated_at.clone(),
        channels: h.notification_channels(),
        performance: PerformanceView {
            offered: h.performance.offered,
            accepted: h.performance.accepted,
            acceptance_rate: h.performance.acceptance_rate(),
            mean_ack_seconds: h.performance.mean_ack_seconds(),
        },
    }
}

pub async fn capabilities<P: Ports>(
    ports: &P,
    hospital_id: &str,
) -> Result<Capabilities, DomainError> {
    Ok(capabilities_of(&load(ports, hospital_id).await?))
}
