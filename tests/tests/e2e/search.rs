//! The directory's search against a full scan of the same facilities with the same live data,
//! on both backends: the real KMHFL list when the reference folder has it, else a synthetic
//! one. For 500 points the answer (the hospitals, their scores and order, what was passed
//! over and why) must be exactly the full scan's, for a nearby search and for an alert's.

use haven_alerts::hospitals::directory;
use haven_alerts::hospitals::import;
use haven_alerts::hospitals::manage;
use haven_alerts::hospitals::profile::{EdStatus, Hospital};
use haven_alerts::hospitals::ranking::{Care, Criteria, Ranking, rank};
use haven_alerts::hospitals::search::full_scan;
use haven_kernel::geo::Coordinates;
use haven_kernel::ports::{Ports, Table};
use haven_tests::facilities;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The criteria a nearby search uses (25 km, limit 10) and an alert's (critical trauma:
/// 100 km, the match and four fallbacks, stabilising facilities as a last resort).
fn criteria() -> [(f64, Criteria); 2] {
    [
        (
            25.0,
            Criteria {
                specialty: None,
                specialty_required: true,
                min_beds: 0,
                min_level: 2,
                needs_icu: false,
                care: Care::Emergency,
                stabilise_as_last_resort: false,
                limit: 10,
            },
        ),
        (
            100.0,
            Criteria {
                specialty: Some("trauma".into()),
                specialty_required: false,
                min_beds: 0,
                min_level: 2,
                needs_icu: true,
                care: Care::Emergency,
                stabilise_as_last_resort: true,
                limit: 5,
            },
        ),
    ]
}

/// The answer as data to compare: ids and scores, then ids and reasons, in order.
type Shape = (Vec<(String, f64)>, Vec<(String, &'static str)>);

fn shape(r: &Ranking) -> Shape {
    (
        r.hospitals
            .iter()
            .map(|h| (h.hospital_id.clone(), h.score))
            .collect(),
        r.passed_over
            .iter()
            .map(|p| (p.hospital_id.clone(), p.reason))
            .collect(),
    )
}

/// Live data that varies as on a platform in use: some emergency departments diverting or
/// closed, beds reported full or with room, a record of answering.
async fn live_data<P: Ports>(ports: &P, hospitals: &[Hospital]) {
    let mut rng = StdRng::seed_from_u64(42);
    let mut changed = Vec::new();
    for h in hospitals.iter().filter(|h| h.level >= 3) {
        let mut h = h.clone();
        match rng.random_range(0..10) {
            0 => h.ed_status = EdStatus::Diverting,
            1 => h.ed_status = EdStatus::Closed,
            2 => h.beds_available = Some(0),
            3..=5 => {
                h.beds_available = Some(rng.random_range(1..=h.beds_total.clamp(1, 40)));
                h.icu_beds_available = Some(rng.random_range(0..4));
            }
            6 => {
                h.performance.offered = 10;
                h.performance.accepted = rng.random_range(0..=10);
                h.performance.acknowledged = h.performance.accepted;
                h.performance.ack_seconds_total = rng.random_range(30..3000);
            }
            _ => continue,
        }
        h.version += 1;
        changed.push(h);
    }
    for h in changed {
        // Capacity and performance are live data: written without bumping the directory,
        // as a capacity report or an answer writes them.
        ports.table().put(h.to_item(), None).await.expect("put");
    }
}

/// The facilities within 40 km of five towns: the AWS half runs the same adapters on a part
/// of the list, because moto copies every item it returns (about 2 ms each).
fn near_towns(hospitals: Vec<Hospital>) -> Vec<Hospital> {
    let towns = [
        (-1.2864, 36.8172),
        (-4.0435, 39.6682),
        (-0.0917, 34.7680),
        (-0.3031, 36.0800),
        (0.5143, 35.2698),
    ];
    hospitals
        .into_iter()
        .filter(|h| {
            towns.iter().any(|&(lat, lng)| {
                Coordinates {
                    latitude: lat,
                    longitude: lng,
                }
                .distance_km(h.coordinates())
                    <= 40.0
            })
        })
        .collect()
}

/// `every_criteria`: both criteria at every point; else the nearby search at every point and
/// the alert's at every other.
async fn the_search_ranks_exactly_as_a_full_scan<P: Ports>(
    ports: P,
    points: usize,
    every_criteria: bool,
    subset: fn(Vec<Hospital>) -> Vec<Hospital>,
) {
    let started = std::time::Instant::now();
    let (hospitals, source) = facilities::load(6_000);
    let hospitals = subset(hospitals);
    let report = import::import(&ports, hospitals.clone(), false)
        .await
        .expect("import");
    assert_eq!(report.created, hospitals.len(), "{source}");
    live_data(&ports, &hospitals).await;
    let prepared = started.elapsed();
    // The reference: every stored hospital, as it is now.
    let mut live = manage::all(ports.table()).await.expect("all");
    // The same points every run, whatever order the view's partitions answered in.
    live.sort_by(|a, b| a.hospital_id.cmp(&b.hospital_id));
    assert_eq!(live.len(), hospitals.len());
    let mut read = 0;
    let mut in_radius = 0;
    let mut compared = 0;
    for (n, (lat, lng)) in facilities::query_points(&live, points, 11)
        .into_iter()
        .enumerate()
    {
        let center = Coordinates::new(lat, lng).expect("point");
        for (k, (radius, c)) in criteria().into_iter().enumerate() {
            // The nearby search (top 10) at every point; the alert's at every point, or
            // at every other point when `every_criteria` is off.
            if !every_criteria && k == 1 && n % 2 == 0 {
                continue;
            }
            let (found, stats) = directory::find(&ports, center, radius, &c)
                .await
                .expect("search");
            let reference = rank(&full_scan(&live, center, radius), &c);
            let (got, want) = (shape(&found), shape(&reference));
            if got != want {
                let first = got
                    .1
                    .iter()
                    .zip(&want.1)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.1.len().min(want.1.len()));
                panic!(
                    "{source}: ({lat}, {lng}) within {radius} km: hospitals equal {}; passed over \
                     differ from entry {first} of {}/{}: {:?} vs {:?}",
                    got.0 == want.0,
                    got.1.len(),
                    want.1.len(),
                    &found.passed_over[first.min(found.passed_over.len().saturating_sub(1))..],
                    &reference.passed_over
                        [first.min(reference.passed_over.len().saturating_sub(1))..]
                );
            }
            read += stats.items_read;
            in_radius += stats.in_radius;
            compared += 1;
        }
    }
    println!(
        "{source} ({} used): {compared} searches equal to the full scan; live items read {:.1} per search of {:.1} in the radius \
         (import and live data {prepared:.1?}, searches {:.1?})",
        live.len(),
        read as f64 / compared as f64,
        in_radius as f64 / compared as f64,
        started.elapsed() - prepared
    );
    assert!(read < in_radius, "the search reads only what it ranks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_search_equals_the_full_scan() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = haven_platform::EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    the_search_ranks_exactly_as_a_full_scan(ports, 500, true, |all| all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_search_equals_the_full_scan() {
    let aws = haven_tests::backends::aws().await;
    let ports = haven_platform::AwsPorts::new(
        aws.backend,
        std::sync::Arc::new(haven_kernel::SystemClock),
        std::sync::Arc::new(haven_kernel::RandomIds),
    );
    the_search_ranks_exactly_as_a_full_scan(ports, 500, false, near_towns).await;
}

/// A profile change reaches a process's directory at its next look at the version; live data
/// needs no reload at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_follows_profile_changes_and_reads_capacity_live() {
    use haven_kernel::{ManualClock, RandomIds, Timestamp};
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = ManualClock::at(Timestamp::from_millis(1_795_000_000_000));
    let ports = haven_platform::EmbeddedPorts::open(
        dir.path().to_path_buf(),
        std::sync::Arc::new(clock.clone()),
        std::sync::Arc::new(RandomIds),
    )
    .expect("ports");
    let parse = |json: &str| import::parse_json(json.as_bytes()).expect("json").hospitals;
    import::import(
        &ports,
        parse(
            r#"[{"hospital_id":"a","name":"A","latitude":-1.30,"longitude":36.80,"level":5,"facility_type":"hospital","specialties":["emergency"],"ed_status":"open"}]"#,
        ),
        false,
    )
    .await
    .expect("import");
    let c = &criteria()[0].1;
    // Where B will be: A is 0.15 km away.
    let center = Coordinates::new(-1.301, 36.801).expect("point");
    let ids = |r: &Ranking| -> Vec<String> {
        r.hospitals.iter().map(|h| h.hospital_id.clone()).collect()
    };
    let (first, _) = directory::find(&ports, center, 25.0, c)
        .await
        .expect("find");
    assert_eq!(ids(&first), ["a"]);
    // A second hospital registered through the use case: seen after the version is looked at.
    let admin = manage::Actor {
        user_id: "root".into(),
        role: haven_kernel::Role::SystemAdmin,
        hospital_id: None,
    };
    let created: manage::NewHospital = serde_json::from_value(serde_json::json!({
        "name": "B", "latitude": -1.301, "longitude": 36.801, "level": 6,
        "facility_type": "hospital", "specialties": ["emergency"]
    }))
    .expect("new hospital");
    let b = manage::create(&ports, &admin, created)
        .await
        .expect("create")
        .hospital_id;
    let (mine, _) = directory::find(&ports, center, 25.0, c)
        .await
        .expect("find");
    assert_eq!(
        mine.hospitals.len(),
        2,
        "the process that made it sees it at once"
    );
    // Another process (its own cache) registers C: this one sees it once it looks again.
    let other = haven_platform::EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    let third: manage::NewHospital = serde_json::from_value(serde_json::json!({
        "name": "C", "latitude": -1.302, "longitude": 36.802, "level": 4,
        "facility_type": "hospital", "specialties": ["emergency"]
    }))
    .expect("new hospital");
    manage::create(&other, &admin, third).await.expect("create");
    let (cached, _) = directory::find(&ports, center, 25.0, c)
        .await
        .expect("find");
    assert_eq!(
        cached.hospitals.len(),
        2,
        "within CHECK_EVERY the directory is trusted"
    );
    clock.advance(directory::CHECK_EVERY);
    let (fresh, _) = directory::find(&ports, center, 25.0, c)
        .await
        .expect("find");
    assert_eq!(
        fresh.hospitals.len(),
        3,
        "the bump was seen: {:?}",
        ids(&fresh)
    );
    // Capacity is live: B's department closes (written by another process, straight to the
    // table). Within LIVE_FRESHNESS this process may still rank its copy; after it, never.
    let mut closed = manage::load(&ports, &b).await.expect("load");
    closed.ed_status = EdStatus::Closed;
    other
        .table()
        .put(closed.to_item(), None)
        .await
        .expect("put");
    clock.advance(directory::LIVE_FRESHNESS);
    let (live, _) = directory::find(&ports, center, 25.0, c)
        .await
        .expect("find");
    assert!(!ids(&live).contains(&b), "{:?}", ids(&live));
    assert_eq!(live.passed_over[0].reason, "ed_closed");
}
