//! Demo data for a local platform: hospitals around Nairobi, Mombasa and Kisumu (public
//! facts: names, levels and approximate coordinates; capacities are invented). Loaded once;
//! a marker item records that it was.

use haven_domain::hospitals::Hospital;
use haven_domain::ports::{Condition, Table, TableError};
use haven_domain::{Item, Key, Value};

const HOSPITALS: &str = include_str!("../seed/hospitals.json");

fn marker() -> Key {
    Key::new("META#DEMO", "SEED#v2")
}

pub fn demo_hospitals() -> Result<Vec<Hospital>, serde_json::Error> {
    serde_json::from_str(HOSPITALS)
}

/// Writes the demo hospitals unless this data directory already has them. Returns how many
/// were written (0 on later starts).
pub async fn load_demo<T: Table>(table: &T, now: haven_domain::Timestamp) -> Result<usize, String> {
    if table
        .get(&marker())
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(0);
    }
    let hospitals = demo_hospitals().map_err(|e| format!("seed file: {e}"))?;
    for hospital in &hospitals {
        table
            .put(hospital.to_item(), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let marker = Item::new(&marker()).with("loaded_at", Value::s(now.to_rfc3339()));
    match table.put(marker, Some(Condition::item_absent())).await {
        // Another process seeded at the same time; the hospitals are identical puts.
        Ok(()) | Err(TableError::ConditionFailed) => Ok(hospitals.len()),
        Err(e) => Err(e.to_string()),
    }
}
