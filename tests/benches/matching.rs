//! Hospital matching on the embedded backend, over the real KMHFL facility list when the
//! reference folder has it (else 12,000 synthetic facilities):
//!
//!   cargo bench -p haven-tests --bench matching
//!
//! Prints p50/p99 of the directory's search and of the whole trigger use case, and compares
//! the search with a full scan of the same facilities (time, live items read, agreement).
//! Asserts nothing about speed; figures go to docs/benchmarks.md.

use std::time::Instant;

use haven_alerts::emergencies::trigger::{self, Reporter, TriggerRequest};
use haven_alerts::hospitals::directory::{self, find};
use haven_alerts::hospitals::import;
use haven_alerts::hospitals::ranking::{Care, Criteria, rank};
use haven_alerts::hospitals::search::full_scan;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Ports, Queue};
use haven_platform::EmbeddedPorts;
use haven_tests::facilities;

use haven_tests::bench::report;

fn main() {
    let queries: usize = std::env::var("HAVEN_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    haven_platform::block_on(async move {
        let (hospitals, source) = facilities::load(12_000);
        println!("facilities: {source}");
        let dir = tempfile::tempdir().expect("temporary directory");
        let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
        let started = Instant::now();
        let imported = import::import(&ports, hospitals.clone(), false)
            .await
            .expect("import");
        println!(
            "import: {} hospitals in {:.2?} (the path `haven-admin import-hospitals` takes)",
            imported.created,
            started.elapsed()
        );

        let started = Instant::now();
        let loaded = directory::current(&ports).await.expect("directory");
        println!(
            "directory: {} hospitals loaded in {:.2?} (what a cold process pays on its first search)",
            loaded.len(),
            started.elapsed()
        );
        let points = facilities::query_points(&hospitals, queries, 42);
        for (label, radius, limit) in [
            ("nearby 25 km, limit 10", 25.0, 10),
            ("nearby 100 km, limit 5", 100.0, 5),
        ] {
            let criteria = Criteria {
                specialty: None,
                specialty_required: true,
                min_beds: 0,
                min_level: 2,
                needs_icu: false,
                care: Care::Emergency,
                stabilise_as_last_resort: false,
                limit,
            };
            let mut search_times = Vec::new();
            let mut scan_times = Vec::new();
            let (mut items, mut calls, mut in_radius, mut same_top, mut same_set) =
                (0usize, 0usize, 0usize, 0usize, 0usize);
            for &(lat, lng) in &points {
                let center = Coordinates::new(lat, lng).expect("point");
                let t = Instant::now();
                let (ranking, stats) = find(&ports, center, radius, &criteria)
                    .await
                    .expect("search");
                search_times.push(t.elapsed());
                items += stats.items_read;
                calls += stats.queries;
                in_radius += stats.in_radius;

                let t = Instant::now();
                let scanned = rank(&full_scan(&hospitals, center, radius), &criteria);
                scan_times.push(t.elapsed());
                let ids = |r: &haven_alerts::hospitals::ranking::Ranking| {
                    r.hospitals
                        .iter()
                        .map(|h| h.hospital_id.clone())
                        .collect::<Vec<_>>()
                };
                same_top += usize::from(ids(&ranking).first() == ids(&scanned).first());
                same_set += usize::from(ids(&ranking) == ids(&scanned));
            }
            report(&format!("directory search + rank ({label})"), search_times);
            report(&format!("full scan in memory + rank ({label})"), scan_times);
            println!(
                "    per search: {:.1} hospitals in the radius, {:.1} live items read in {:.1} batch reads; \
                 same top hospital as the full scan {:.1}%, same list {:.1}%",
                in_radius as f64 / points.len() as f64,
                items as f64 / points.len() as f64,
                calls as f64 / points.len() as f64,
                100.0 * same_top as f64 / points.len() as f64,
                100.0 * same_set as f64 / points.len() as f64,
            );
        }

        // The whole trigger: validate, deduplicate, prioritise, match, seal, store, publish.
        let mut trigger_times = Vec::new();
        for (i, &(lat, lng)) in points.iter().enumerate() {
            let reporter = Reporter {
                user_id: format!("bench-patient-{i}"),
                bypass: None,
            };
            let request = TriggerRequest {
                latitude: lat,
                longitude: lng,
                accuracy_m: Some(15.0),
                emergency_type: ["cardiac", "trauma", "obstetric", "other"][i % 4].into(),
                note: Some("benchmark".into()),
                symptoms: vec!["chest_pain".into()],
                vitals: None,
            };
            let key = format!("bench-{i}");
            let t = Instant::now();
            trigger::trigger(&ports, &reporter, request, Some(&key))
                .await
                .expect("trigger");
            trigger_times.push(t.elapsed());
        }
        report("trigger use case (embedded, new alert each)", trigger_times);
        let depth = ports.queue().depth("hospital-api").await.expect("depth");
        println!("    hand-offs waiting on hospital-api: {}", depth.visible);
    });
}
