//! Demo data for a local platform: hospitals around Nairobi, Mombasa and Kisumu (public
//! facts: names, levels, KMHFL codes and approximate coordinates; capacities are invented;
//! a KMHFL import merges into them by code), loaded once
//! (a marker item records it), and a small ambulance fleet, written wherever it is absent.

use haven_alerts::hospitals::Hospital;
use haven_kernel::ports::{Condition, Table, TableError};
use haven_kernel::{Item, Key, Value};

const HOSPITALS: &str = include_str!("../seed/hospitals.json");

/// v3: the hospitals carry their KMHFL codes and types, so an import merges into them.
fn marker() -> Key {
    Key::new("META#DEMO", "SEED#v3")
}

/// The demo hospitals in Nairobi: an alert in the city may be offered to any of them (tests
/// point all of their webhooks at one receiver).
pub const NAIROBI_HOSPITALS: [&str; 8] = [
    "demo-knh",
    "demo-akuh-nairobi",
    "demo-nairobi-hospital",
    "demo-mp-shah",
    "demo-mama-lucy",
    "demo-mbagathi",
    "demo-gertrudes",
    "demo-pumwani",
];

pub fn demo_hospitals() -> Result<Vec<Hospital>, serde_json::Error> {
    serde_json::from_str(HOSPITALS)
}

/// Writes the demo hospitals unless this data directory already has them. Returns how many
/// were written (0 on later starts).
pub async fn load_demo<T: Table>(table: &T, now: haven_kernel::Timestamp) -> Result<usize, String> {
    // Idempotent, and also for data directories seeded before there was a fleet.
    load_demo_fleet(table, now).await?;
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

/// Four available units around Nairobi, without crew (a dispatcher reports for them, or an
/// admin registers crewed ones). Written only where absent, so a running fleet is left alone.
pub async fn load_demo_fleet<T: Table>(
    table: &T,
    now: haven_kernel::Timestamp,
) -> Result<usize, String> {
    use haven_alerts::dispatch::{Ambulance, Capability};
    use haven_kernel::geo::Coordinates;
    let units = [
        (
            "demo-unit-1",
            "NRB 101",
            Some("demo-knh"),
            (-1.3005, 36.8080),
            vec![Capability::CriticalCare],
        ),
        (
            "demo-unit-2",
            "NRB 102",
            None,
            (-1.2833, 36.8219),
            vec![Capability::Als],
        ),
        (
            "demo-unit-3",
            "NRB 103",
            None,
            (-1.2630, 36.8030),
            vec![Capability::Bls],
        ),
        (
            "demo-unit-4",
            "NRB 104",
            None,
            (-1.3190, 36.8500),
            vec![Capability::Als, Capability::Neonatal],
        ),
    ];
    let mut written = 0;
    for (id, call_sign, hospital, (lat, lng), capabilities) in units {
        let unit = Ambulance::new(
            id.into(),
            call_sign.into(),
            capabilities,
            hospital.map(str::to_owned),
            Coordinates::new(lat, lng).map_err(|e| e.to_string())?,
            vec![],
            now,
        );
        let claim = Item::new(&haven_alerts::dispatch::fleet::call_sign_key(call_sign))
            .with("ambulance_id", Value::s(id));
        for item in [claim, unit.to_item()] {
            match table.put(item, Some(Condition::item_absent())).await {
                Ok(()) => written += 1,
                Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(written / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nairobi_list_names_demo_hospitals() {
        let seeded = demo_hospitals().expect("seed");
        for id in NAIROBI_HOSPITALS {
            assert!(
                seeded.iter().any(|h| h.hospital_id == id),
                "{id} is not seeded"
            );
        }
    }
}
