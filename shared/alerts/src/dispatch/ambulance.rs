//! One ambulance: who crews it, what it can do, where it is and what it is doing.

use serde::{Deserialize, Serialize};

use crate::emergencies::alert::{Alert, CLINICAL};
use crate::emergencies::trigger::load_alert;
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::geo::Coordinates;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{Condition, Ports, Table, TableError, TransactOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    Available,
    Dispatched,
    EnRoute,
    OnScene,
    Transporting,
    AtHospital,
    OutOfService,
}

impl UnitStatus {
    pub const ALL: [&'static str; 7] = [
        "available",
        "dispatched",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "out_of_service",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Dispatched => "dispatched",
            UnitStatus::EnRoute => "en_route",
            UnitStatus::OnScene => "on_scene",
            UnitStatus::Transporting => "transporting",
            UnitStatus::AtHospital => "at_hospital",
            UnitStatus::OutOfService => "out_of_service",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
            DomainError::invalid(
                "status",
                format!("unknown status; one of {}", Self::ALL.join(", ")),
            )
        })
    }

    /// The lifecycle. Any working state may go back to `available` (stood down, no
    /// transport needed); `dispatched` is only reached by an assignment.
    pub fn can_become(self, next: UnitStatus) -> bool {
        use UnitStatus::*;
        matches!(
            (self, next),
            (Available, Dispatched | OutOfService)
                | (Dispatched, EnRoute | OnScene | Available)
                | (EnRoute, OnScene | Available)
                | (OnScene, Transporting | Available)
                | (Transporting, AtHospital | Available)
                | (AtHospital, Available)
                | (OutOfService, Available)
        )
    }

    /// Working an alert.
    pub fn is_busy(self) -> bool {
        !matches!(self, UnitStatus::Available | UnitStatus::OutOfService)
    }
}

/// What a unit is equipped and crewed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Basic life support.
    Bls,
    /// Advanced life support (paramedics, cardiac monitor, drugs).
    Als,
    /// Mobile intensive care.
    CriticalCare,
    Neonatal,
    Bariatric,
}

impl Capability {
    pub const ALL: [&'static str; 5] = ["bls", "als", "critical_care", "neonatal", "bariatric"];

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
            DomainError::invalid(
                "capabilities",
                format!("unknown capability; one of {}", Self::ALL.join(", ")),
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Bls => "bls",
            Capability::Als => "als",
            Capability::CriticalCare => "critical_care",
            Capability::Neonatal => "neonatal",
            Capability::Bariatric => "bariatric",
        }
    }
}

/// A position report, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub latitude: f64,
    pub longitude: f64,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

impl Fix {
    pub fn coordinates(&self) -> Coordinates {
        Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
    fn at(&self) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(&self.at)
    }
}

/// How many recent fixes a unit keeps for its observed speed, and for how long.
const RECENT_FIXES: usize = 10;
const RECENT_WINDOW_MS: i64 = 3 * 60 * 1000;
/// The shortest stretch that says anything about a unit's speed.
const MIN_OBSERVED_MS: i64 = 20 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ambulance {
    pub ambulance_id: String,
    pub call_sign: String,
    pub capabilities: Vec<Capability>,
    /// The hospital that runs it, if any (its admins manage it).
    #[serde(default)]
    pub hospital_id: Option<String>,
    /// Where it is stationed.
    pub base: Coordinates,
    /// The responders (user ids) who crew it: they report its position and status.
    #[serde(default)]
    pub crew: Vec<String>,
    pub status: UnitStatus,
    pub status_changed_at: String,
    /// The alert it is working, while busy.
    #[serde(default)]
    pub alert_id: Option<String>,
    #[serde(default)]
    pub position: Option<Fix>,
    #[serde(default)]
    pub recent: Vec<Fix>,
    pub created_at: String,
    pub version: i64,
}

/// The fleet's partition on GSI2; the sort key starts with the status, so "available units"
/// is one prefix query.
pub const FLEET: &str = "FLEET";

impl Ambulance {
    /// A new unit, available at its base.
    pub fn new(
        ambulance_id: String,
        call_sign: String,
        capabilities: Vec<Capability>,
        hospital_id: Option<String>,
        base: Coordinates,
        crew: Vec<String>,
        now: Timestamp,
    ) -> Self {
        Ambulance {
            ambulance_id,
            call_sign,
            capabilities,
            hospital_id,
            base,
            crew,
            status: UnitStatus::Available,
            status_changed_at: now.to_rfc3339(),
            alert_id: None,
            position: None,
            recent: vec![],
            created_at: now.to_rfc3339(),
            version: 1,
        }
    }

    pub fn key(ambulance_id: &str) -> Key {
        Key::new(format!("AMBULANCE#{ambulance_id}"), "AMBULANCE")
    }

    /// Where it is now: its last fix, else its base.
    pub fn whereabouts(&self) -> Coordinates {
        self.position
            .as_ref()
            .map(Fix::coordinates)
            .unwrap_or(self.base)
    }

    pub fn has(&self, capability: Capability) -> bool {
        // A critical-care unit carries everything an ALS unit does, and ALS everything BLS.
        self.capabilities.iter().any(|c| {
            *c == capability
                || matches!(
                    (c, capability),
                    (Capability::CriticalCare, Capability::Als | Capability::Bls)
                        | (Capability::Als, Capability::Bls)
                )
        })
    }

    pub fn crewed_by(&self, user_id: &str) -> bool {
        self.crew.iter().any(|c| c == user_id)
    }

    /// Moves to `to`, or refuses with the current state (409).
    pub fn set_status(&mut self, to: UnitStatus, now: Timestamp) -> Result<(), DomainError> {
        if !self.status.can_become(to) {
            return Err(DomainError::Conflict {
                message: format!(
                    "a unit that is {} cannot become {}",
                    self.status.as_str(),
                    to.as_str()
                ),
                current: Some(self.status.as_str().to_owned()),
            });
        }
        self.status = to;
        self.status_changed_at = now.to_rfc3339();
        if !to.is_busy() {
            self.alert_id = None;
        }
        Ok(())
    }

    /// Records a fix and keeps the recent ones for the observed speed.
    pub fn record(&mut self, fix: Fix, now: Timestamp) {
        self.recent.push(fix.clone());
        let oldest = now.millis() - RECENT_WINDOW_MS;
        self.recent
            .retain(|f| f.at().is_some_and(|t| t.millis() >= oldest));
        let excess = self.recent.len().saturating_sub(RECENT_FIXES);
        self.recent.drain(..excess);
        self.position = Some(fix);
    }

    /// Its speed over its recent fixes, km/h: what the device reported, else distance over
    /// time once the fixes span long enough to mean something.
    pub fn observed_kmh(&self) -> Option<f64> {
        let reported: Vec<f64> = self
            .recent
            .iter()
            .rev()
            .take(3)
            .filter_map(|f| f.speed_kmh)
            .collect();
        if !reported.is_empty() {
            return Some(reported.iter().sum::<f64>() / reported.len() as f64);
        }
        let first = self.recent.first()?;
        let last = self.recent.last()?;
        let elapsed = last.at()?.millis() - first.at()?.millis();
        if elapsed < MIN_OBSERVED_MS {
            return None;
        }
        let km: f64 = self
            .recent
            .windows(2)
            .map(|w| w[0].coordinates().distance_km(w[1].coordinates()))
            .sum();
        Some(km / (elapsed as f64 / 3_600_000.0))
    }

    pub fn to_item(&self) -> Item {
        Item::new(&Self::key(&self.ambulance_id))
            .with("kind", Value::s("ambulance"))
            .with("gsi2pk", Value::s(FLEET))
            .with(
                "gsi2sk",
                Value::s(format!("{}#{}", self.status.as_str(), self.ambulance_id)),
            )
            .with_record(self)
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        item.to_record()
    }
}

pub async fn load<P: Ports>(ports: &P, ambulance_id: &str) -> Result<Ambulance, DomainError> {
    let not_found = || DomainError::NotFound("ambulance".into());
    if !haven_kernel::ids::is_valid_id(ambulance_id) {
        return Err(not_found());
    }
    let item = ports
        .table()
        .get(&Ambulance::key(ambulance_id))
        .await?
        .ok_or_else(not_found)?;
    Ambulance::from_item(&item).ok_or_else(not_found)
}

const ATTEMPTS: usize = 5;

/// A unit and the alert it works, changed together: both are written under their versions
/// in one transaction (the alert only when it changed), with any extra items, and retried
/// when another writer got in between. `alert_id` names the alert when the unit has none yet
/// (an assignment). Returns both as written and the alert as it was before.
pub(crate) async fn change_unit<P: Ports>(
    ports: &P,
    ambulance_id: &str,
    alert_id: Option<&str>,
    mut apply: impl FnMut(
        &mut Ambulance,
        Option<&mut Alert>,
        Timestamp,
    ) -> Result<Vec<Item>, DomainError>,
) -> Result<UnitChange, DomainError> {
    for _ in 0..ATTEMPTS {
        let mut unit = load(ports, ambulance_id).await?;
        let alert_id = alert_id
            .map(str::to_owned)
            .or_else(|| unit.alert_id.clone());
        let loaded = match &alert_id {
            Some(id) => match load_alert(ports, id).await {
                Ok(found) => Some(found),
                // A unit's alert that has gone (erased) does not stop the unit.
                Err(DomainError::NotFound(_)) if unit.alert_id.as_deref() == Some(id) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let (mut alert, sealed) = match loaded {
            Some((a, s)) => (Some(a), s),
            None => (None, None),
        };
        let before = alert.clone();
        let now = ports.clock().now();
        let unit_version = unit.version;
        let extra = apply(&mut unit, alert.as_mut(), now)?;
        unit.version = unit_version + 1;
        let mut ops = vec![TransactOp::Put {
            item: unit.to_item(),
            condition: Some(Condition::version_is(unit_version)),
        }];
        if let Some(a) = alert.as_mut()
            && Some(&*a) != before.as_ref()
        {
            let version = a.version;
            a.version = version + 1;
            let mut item = a.to_item();
            if let Some(s) = &sealed {
                s.write_to(&mut item, CLINICAL);
            }
            ops.push(TransactOp::Put {
                item,
                condition: Some(Condition::version_is(version)),
            });
        }
        ops.extend(extra.into_iter().map(|item| TransactOp::Put {
            item,
            condition: None,
        }));
        match ports.table().transact_write(ops).await {
            Ok(()) => {
                return Ok(UnitChange {
                    unit,
                    alert,
                    before,
                });
            }
            Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::conflict(
        "the unit is changing fast; read it again",
    ))
}

pub(crate) struct UnitChange {
    pub unit: Ambulance,
    pub alert: Option<Alert>,
    pub before: Option<Alert>,
}

impl UnitChange {
    /// The alert's new status, when the change moved it.
    pub fn alert_moved(&self) -> Option<(crate::emergencies::alert::Status, String)> {
        let (after, before) = (self.alert.as_ref()?, self.before.as_ref()?);
        (after.status != before.status).then(|| {
            let at = after
                .timeline
                .last()
                .map(|t| t.at.clone())
                .unwrap_or_default();
            (after.status, at)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn unit() -> Ambulance {
        Ambulance {
            ambulance_id: "u1".into(),
            call_sign: "KBX 101".into(),
            capabilities: vec![Capability::Als],
            hospital_id: None,
            base: Coordinates::new(-1.29, 36.82).expect("valid"),
            crew: vec!["r1".into()],
            status: UnitStatus::Available,
            status_changed_at: "2026-11-23T10:00:00.000Z".into(),
            alert_id: None,
            position: None,
            recent: vec![],
            created_at: "2026-11-23T10:00:00.000Z".into(),
            version: 1,
        }
    }

    fn fix(lat: f64, at_ms: i64, speed: Option<f64>) -> Fix {
        Fix {
            latitude: lat,
            longitude: 36.82,
            at: Timestamp::from_millis(at_ms).to_rfc3339(),
            speed_kmh: speed,
            heading: None,
            accuracy_m: None,
        }
    }

    #[test]
    fn the_lifecycle_goes_round_and_refuses_shortcuts() {
        use UnitStatus::*;
        let round = [
            Available,
            Dispatched,
            EnRoute,
            OnScene,
            Transporting,
            AtHospital,
            Available,
        ];
        for w in round.windows(2) {
            assert!(w[0].can_become(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        assert!(!Available.can_become(EnRoute));
        assert!(!EnRoute.can_become(Transporting));
        assert!(!AtHospital.can_become(Dispatched));
        let mut u = unit();
        u.alert_id = Some("a1".into());
        u.status = Dispatched;
        let err = u
            .set_status(AtHospital, Timestamp::from_millis(0))
            .expect_err("illegal");
        assert!(
            matches!(err, DomainError::Conflict { current: Some(ref c), .. } if c == "dispatched")
        );
        u.set_status(Available, Timestamp::from_millis(0))
            .expect("stood down");
        assert_eq!(u.alert_id, None, "a free unit works no alert");
    }

    #[test]
    fn capabilities_include_the_lesser_ones() {
        let mut u = unit();
        assert!(u.has(Capability::Bls) && u.has(Capability::Als));
        assert!(!u.has(Capability::CriticalCare) && !u.has(Capability::Neonatal));
        u.capabilities = vec![Capability::Bls];
        assert!(!u.has(Capability::Als));
        assert_eq!(Capability::parse("als"), Ok(Capability::Als));
        assert_eq!(
            Capability::parse("jetpack").expect_err("bad").field(),
            Some("capabilities")
        );
    }

    #[test]
    fn observed_speed_needs_a_long_enough_stretch_and_prefers_the_device() {
        let mut u = unit();
        let t0 = 1_795_000_000_000;
        // 0.01° of latitude is 1.112 km; over 60 s that is 66.7 km/h.
        u.record(fix(-1.30, t0, None), Timestamp::from_millis(t0));
        u.record(
            fix(-1.295, t0 + 10_000, None),
            Timestamp::from_millis(t0 + 10_000),
        );
        assert_eq!(u.observed_kmh(), None, "10 s says nothing");
        u.record(
            fix(-1.29, t0 + 60_000, None),
            Timestamp::from_millis(t0 + 60_000),
        );
        let v = u.observed_kmh().expect("observed");
        assert!((v - 66.7).abs() < 0.5, "{v}");
        u.record(
            fix(-1.289, t0 + 61_000, Some(40.0)),
            Timestamp::from_millis(t0 + 61_000),
        );
        assert_eq!(u.observed_kmh(), Some(40.0));
        // Old fixes fall out of the window, and never more than ten are kept.
        for i in 0..30 {
            let t = t0 + 400_000 + i * 1000;
            u.record(fix(-1.28, t, None), Timestamp::from_millis(t));
        }
        assert_eq!(u.recent.len(), 10);
        assert!(u.recent.iter().all(|f| f.speed_kmh.is_none()));
    }

    #[test]
    fn item_round_trip_and_fleet_sort_key() {
        let u = unit();
        let item = u.to_item();
        assert_eq!(item.s("gsi2sk"), Some("available#u1"));
        assert_eq!(Ambulance::from_item(&item), Some(u));
    }
}
