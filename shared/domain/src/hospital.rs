//! Hospitals as the alert path needs them: where they are, what they treat, how much room
//! they have. Stored one item per hospital, indexed by geohash cell on GSI3 so a search reads
//! only the cells around a patient.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::geo::Coordinates;
use crate::item::{Item, Key, Value, json_to_value, value_to_json};

/// Geohash length of a GSI3 cell: 5 characters is about 4.9 km × 4.9 km at the equator.
pub const GEO_CELL_PRECISION: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdStatus {
    Open,
    Diverting,
    Closed,
}

impl EdStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EdStatus::Open => "open",
            EdStatus::Diverting => "diverting",
            EdStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hospital {
    pub hospital_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Kenya Essential Package for Health level, 2 (dispensary) to 6 (national referral).
    pub level: u8,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub specialties: Vec<String>,
    #[serde(default)]
    pub beds_total: u32,
    #[serde(default)]
    pub beds_available: u32,
    #[serde(default)]
    pub icu_beds_available: u32,
    pub ed_status: EdStatus,
}

impl Hospital {
    pub fn key(hospital_id: &str) -> Key {
        Key::new(format!("HOSPITAL#{hospital_id}"), "PROFILE")
    }

    pub fn coordinates(&self) -> Result<Coordinates, DomainError> {
        Coordinates::new(self.latitude, self.longitude)
    }

    pub fn to_item(&self) -> Item {
        let geohash = Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
        .geohash(9);
        let cell = &geohash[..GEO_CELL_PRECISION];
        let mut item = Item::new(&Self::key(&self.hospital_id))
            .with("kind", Value::s("hospital"))
            .with("gsi3pk", Value::s(format!("GEO#{cell}")))
            .with(
                "gsi3sk",
                Value::s(format!("{geohash}#{}", self.hospital_id)),
            );
        if let Ok(Value::M(fields)) = serde_json::to_value(self).map(json_to_value) {
            for (k, v) in fields {
                item.set(&k, v);
            }
        }
        item
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        let fields: serde_json::Map<String, serde_json::Value> = item
            .0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "pk" | "sk" | "kind" | "gsi3pk" | "gsi3sk"))
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(fields)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_round_trip_and_geo_index() {
        let h = Hospital {
            hospital_id: "knh".into(),
            name: "Kenyatta National Hospital".into(),
            latitude: -1.3009,
            longitude: 36.8073,
            level: 6,
            county: Some("Nairobi".into()),
            specialties: vec!["trauma".into(), "cardiac".into()],
            beds_total: 1800,
            beds_available: 40,
            icu_beds_available: 3,
            ed_status: EdStatus::Open,
        };
        let item = h.to_item();
        assert_eq!(item.key(), Some(Hospital::key("knh")));
        assert!(item.s("gsi3pk").expect("cell").starts_with("GEO#kzf"));
        assert_eq!(Hospital::from_item(&item), Some(h));
    }
}
