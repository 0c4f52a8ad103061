//! The track of an alert: its positions, patient's and ambulance's, for the timeline and the
//! KPIs. Bounded by construction: each source writes into `SLOTS` slots in turn (the slot is
//! the writer's version), so a long call overwrites its oldest positions instead of growing,
//! and the whole track expires `TTL` after its last write.

use serde::{Deserialize, Serialize};

use crate::dispatch::Fix;
use crate::emergencies::trigger::load_alert;
use crate::emergencies::view::Viewer;
use crate::tracking::Source;
use haven_kernel::Timestamp;
use haven_kernel::error::DomainError;
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{Ports, Query, Table};

/// Positions kept per source and alert.
pub const SLOTS: i64 = 500;
pub const TTL: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// One position of the track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackPoint {
    pub source: Source,
    pub latitude: f64,
    pub longitude: f64,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambulance_id: Option<String>,
}

/// The item for one position; `sequence` is the writer's version.
pub fn item(
    alert_id: &str,
    source: Source,
    sequence: i64,
    fix: &Fix,
    ambulance_id: Option<&str>,
    now: Timestamp,
) -> Item {
    let point = TrackPoint {
        source,
        latitude: fix.latitude,
        longitude: fix.longitude,
        at: fix.at.clone(),
        speed_kmh: fix.speed_kmh,
        accuracy_m: fix.accuracy_m,
        ambulance_id: ambulance_id.map(str::to_owned),
    };
    let slot = sequence.rem_euclid(SLOTS);
    Item::new(&Key::new(
        format!("TRACK#{alert_id}"),
        format!("{}#{slot:04}", source.as_str()),
    ))
    .with(EXPIRES_AT, Value::n(now.plus(TTL).epoch_seconds()))
    .with_record(&point)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    pub alert_id: String,
    /// Oldest first.
    pub positions: Vec<TrackPoint>,
}

/// `GET /emergency/{alert_id}/track`: for whoever may see the alert.
pub async fn read<P: Ports>(
    ports: &P,
    viewer: &Viewer,
    alert_id: &str,
) -> Result<Track, DomainError> {
    let (alert, _) = load_alert(ports, alert_id).await?;
    if !viewer.can_see(&alert) {
        return Err(DomainError::NotFound("alert".into()));
    }
    let now = ports.clock().now().epoch_seconds();
    let mut positions = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports
            .table()
            .query(
                Query::partition(format!("TRACK#{alert_id}"))
                    .limit(SLOTS as u32)
                    .after(cursor),
            )
            .await?;
        positions.extend(
            page.items
                .iter()
                .filter(|i| !i.is_expired(now))
                .filter_map(Item::to_record::<TrackPoint>),
        );
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    positions.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Track {
        alert_id: alert.alert_id,
        positions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_wrap_so_a_track_is_bounded() {
        let fix = Fix {
            latitude: 1.0,
            longitude: 2.0,
            at: "2026-11-23T10:00:00.000Z".into(),
            speed_kmh: None,
            heading: None,
            accuracy_m: None,
        };
        let now = Timestamp::from_millis(0);
        let a = item("a1", Source::Ambulance, 7, &fix, Some("u1"), now);
        let b = item("a1", Source::Ambulance, 7 + SLOTS, &fix, Some("u1"), now);
        let p = item("a1", Source::Patient, 7, &fix, None, now);
        assert_eq!(a.key(), b.key(), "the same slot a lap later");
        assert_ne!(a.key(), p.key(), "sources have their own slots");
        assert_eq!(a.s("sk"), Some("ambulance#0007"));
        assert!(a.i64(EXPIRES_AT).is_some());
        let back: TrackPoint = a.to_record().expect("record");
        assert_eq!(back.ambulance_id.as_deref(), Some("u1"));
    }
}
