//! Facility lists for search tests and benchmarks: the real Kenya Master Health Facility List
//! when the reference data folder holds it (never committed here), else a synthetic list
//! shaped like it (dense towns, sparse countryside, mostly dispensaries).

use std::path::PathBuf;

use haven_alerts::hospitals::import::parse_kmhfl_csv;
use haven_alerts::hospitals::profile::{EdStatus, FacilityType, Hospital, Performance};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Overrides where the KMHFL CSV is looked for.
pub const CSV_ENV: &str = "HAVEN_FACILITIES_CSV";

/// The KMHFL CSV: `$HAVEN_FACILITIES_CSV`, or `../shared/data/` beside the project.
pub fn kmhfl_csv() -> Option<PathBuf> {
    let path = std::env::var_os(CSV_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/data/kenya-health-facilities-kmhfl-2020.csv"
            ))
        });
    path.is_file().then_some(path)
}

/// The real list through the operator's import parser, or `synthetic_count` made-up ones.
/// Returns the hospitals and where they came from.
pub fn load(synthetic_count: usize) -> (Vec<Hospital>, String) {
    if let Some(path) = kmhfl_csv() {
        let file = std::fs::File::open(&path).expect("open the facility list");
        let parsed = parse_kmhfl_csv(file).expect("parse the facility list");
        let source = format!(
            "KMHFL 2020 ({} facilities with coordinates, {} rows skipped)",
            parsed.hospitals.len(),
            parsed.skipped.len()
        );
        return (parsed.hospitals, source);
    }
    (
        synthetic(synthetic_count, 7),
        format!("synthetic ({synthetic_count} facilities; the KMHFL CSV was not found)"),
    )
}

/// Towns the synthetic list clusters around, with their share of facilities.
const TOWNS: &[(f64, f64, f64)] = &[
    (-1.2864, 36.8172, 0.25), // Nairobi
    (-4.0435, 39.6682, 0.08), // Mombasa
    (-0.0917, 34.7680, 0.06), // Kisumu
    (-0.3031, 36.0800, 0.05), // Nakuru
    (0.5143, 35.2698, 0.05),  // Eldoret
    (-0.4167, 36.9500, 0.03), // Nyeri
    (0.0463, 37.6559, 0.03),  // Meru
];

pub fn synthetic(n: usize, seed: u64) -> Vec<Hospital> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let pick: f64 = rng.random();
            let mut cumulative = 0.0;
            let mut place = None;
            for (lat, lng, share) in TOWNS {
                cumulative += share;
                if pick < cumulative {
                    place = Some((
                        lat + rng.random_range(-0.15..0.15),
                        lng + rng.random_range(-0.15..0.15),
                    ));
                    break;
                }
            }
            let (latitude, longitude) = place
                .unwrap_or_else(|| (rng.random_range(-4.6..4.9), rng.random_range(34.0..41.8)));
            let roll: f64 = rng.random();
            let level = match roll {
                r if r < 0.75 => 2,
                r if r < 0.92 => 3,
                r if r < 0.99 => 4,
                r if r < 0.997 => 5,
                _ => 6,
            };
            let mut specialties = Vec::new();
            if level >= 4 {
                for s in [
                    "emergency",
                    "trauma",
                    "maternity",
                    "cardiac",
                    "pediatric",
                    "icu",
                ] {
                    if rng.random_bool(0.5) {
                        specialties.push(s.to_owned());
                    }
                }
            }
            let beds_total = if level >= 3 {
                rng.random_range(0..400)
            } else {
                0
            };
            let facility_type = match level {
                2 if rng.random_bool(0.5) => FacilityType::Clinic,
                2 => FacilityType::Dispensary,
                3 => FacilityType::HealthCentre,
                _ => FacilityType::Hospital,
            };
            Hospital {
                hospital_id: format!("syn-{i:05}"),
                name: format!("Facility {i}"),
                latitude,
                longitude,
                level,
                mfl_code: Some(format!("{}", 90_000 + i)),
                facility_type: Some(facility_type),
                county: None,
                phone: None,
                specialties,
                departments: vec![],
                equipment: vec![],
                beds: Default::default(),
                beds_total,
                // Some report, as a live platform's would; the rest are as imported.
                beds_available: (beds_total > 0 && rng.random_bool(0.5))
                    .then(|| rng.random_range(0..=beds_total.min(40))),
                icu_beds_available: None,
                ed_status: match rng.random_range(0..100) {
                    0..=1 => EdStatus::Closed,
                    2..=6 => EdStatus::Diverting,
                    _ => EdStatus::Open,
                },
                channels: vec![],
                sms_numbers: vec![],
                performance: Performance::default(),
                source: None,
                capacity_updated_at: None,
                version: 1,
            }
        })
        .collect()
}

/// Query points: facilities' own places moved by up to about 3 km, where people are.
pub fn query_points(hospitals: &[Hospital], n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let h = &hospitals[rng.random_range(0..hospitals.len())];
            (
                (h.latitude + rng.random_range(-0.03..0.03)).clamp(-90.0, 90.0),
                (h.longitude + rng.random_range(-0.03..0.03)).clamp(-180.0, 180.0),
            )
        })
        .collect()
}
