//! The geohash search against a full scan of the same facilities, on the embedded backend:
//! the real KMHFL list when the reference folder has it, else a synthetic one. The search
//! must find every hospital a full scan says is among the nearest qualifying ones, and
//! nothing outside the radius.

use std::collections::HashSet;

use haven_alerts::hospitals::import;
use haven_alerts::hospitals::manage::{self, NearbyRequest, candidate_pool};
use haven_alerts::hospitals::ranking::{Care, Criteria};
use haven_alerts::hospitals::search::{candidates, full_scan};
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::Ports;
use haven_platform::EmbeddedPorts;
use haven_tests::facilities;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_geohash_search_finds_what_a_full_scan_finds() {
    let (hospitals, source) = facilities::load(6_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    let report = import::import(&ports, hospitals.clone(), false)
        .await
        .expect("import");
    assert_eq!(report.created, hospitals.len(), "{source}");
    let again = import::import(&ports, hospitals[..10].to_vec(), false)
        .await
        .expect("re-import");
    assert_eq!(
        (again.created, again.existing),
        (0, 10),
        "re-import keeps live data"
    );

    let criteria = Criteria {
        specialty: None,
        specialty_required: false,
        min_beds: 0,
        min_level: 2,
        needs_icu: false,
        care: Care::Emergency,
        stabilise_as_last_resort: false,
        limit: 5,
    };
    let qualifies = |h: &haven_alerts::hospitals::Hospital| h.level >= 4 && criteria.qualifies(h);
    for (i, (lat, lng)) in facilities::query_points(&hospitals, 120, 11)
        .into_iter()
        .enumerate()
    {
        let center = Coordinates::new(lat, lng).expect("point");
        let radius = [5.0, 25.0, 100.0][i % 3];
        let wanted = candidate_pool(criteria.limit);
        let (found, stats) = candidates(ports.table(), center, radius, wanted, qualifies)
            .await
            .expect("search");
        assert!(stats.queries > 0);
        let found_ids: HashSet<&str> = found
            .iter()
            .map(|c| c.hospital.hospital_id.as_str())
            .collect();
        for c in &found {
            assert!(
                c.distance_km <= radius + 1e-9,
                "{source}: outside the radius"
            );
        }
        let reference = full_scan(&hospitals, center, radius);
        let nearest_qualifying: Vec<&str> = reference
            .iter()
            .filter(|c| qualifies(&c.hospital))
            .take(wanted)
            .map(|c| c.hospital.hospital_id.as_str())
            .collect();
        for id in &nearest_qualifying {
            assert!(
                found_ids.contains(id),
                "{source}: point ({lat}, {lng}) radius {radius}: the search missed {id}"
            );
        }
        // Every hospital nearer than the farthest of those was read too (nothing vanishes).
        if let Some(last) = nearest_qualifying.last() {
            let edge = reference
                .iter()
                .find(|c| c.hospital.hospital_id == *last)
                .map_or(0.0, |c| c.distance_km);
            for c in reference.iter().filter(|c| c.distance_km < edge) {
                assert!(found_ids.contains(c.hospital.hospital_id.as_str()));
            }
        }

        let ranking = manage::nearby(
            &ports,
            NearbyRequest {
                latitude: Some(lat),
                longitude: Some(lng),
                radius_km: Some(radius),
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .expect("nearby");
        for pair in ranking.hospitals.windows(2) {
            assert!(pair[0].score >= pair[1].score);
        }
        assert!(
            ranking
                .hospitals
                .iter()
                .all(|h| h.distance_km <= radius + 1e-6)
        );
    }
}
