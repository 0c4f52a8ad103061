//! Hospital data a dispatcher can trust, over the real Kenya Master Health Facility List
//! (`../shared/data/`, never committed): the demo seed and the CSV imported into one embedded
//! backend, as `make dev` and `haven-admin import-hospitals` do. Without the CSV these tests
//! say so and pass (CI machines may not have it).
//!
//! The expected answers were checked by hand in the CSV (level, type, services, distance
//! from the point); each case says why. docs/emergencies.md has the same table.

use std::collections::BTreeMap;

use haven_alerts::emergencies::trigger::{self, Reporter, TriggerRequest};
use haven_alerts::hospitals::import::{self, name_words};
use haven_alerts::hospitals::manage::{self, NearbyRequest};
use haven_alerts::hospitals::ranking::Ranking;
use haven_alerts::hospitals::{CapacityState, FacilityType, Hospital};
use haven_kernel::ports::Ports;
use haven_platform::EmbeddedPorts;
use haven_tests::facilities::kmhfl_csv;

/// The demo seed and the KMHFL list in a fresh embedded backend, with the parsed rows and
/// the first import's report. `None` (and a line saying why) without the CSV.
async fn platform() -> Option<(
    tempfile::TempDir,
    EmbeddedPorts,
    Vec<Hospital>,
    import::ImportReport,
)> {
    let Some(csv) = kmhfl_csv() else {
        println!(
            "skipped: the KMHFL CSV is not at ../shared/data/ (or ${})",
            haven_tests::facilities::CSV_ENV
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    haven_local::seed::load_demo(ports.table(), ports.clock().now())
        .await
        .expect("demo seed");
    let parsed =
        import::parse_kmhfl_csv(std::fs::File::open(csv).expect("open the CSV")).expect("parse");
    let started = std::time::Instant::now();
    let report = import::import(&ports, parsed.hospitals.clone(), false)
        .await
        .expect("import");
    println!(
        "imported {} rows in {:.2?}: {report:?}",
        parsed.hospitals.len(),
        started.elapsed()
    );
    Some((dir, ports, parsed.hospitals, report))
}

fn by_id(hospitals: &[Hospital]) -> BTreeMap<&str, &Hospital> {
    hospitals
        .iter()
        .map(|h| (h.hospital_id.as_str(), h))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_merges_the_demo_hospitals_and_a_second_run_changes_nothing() {
    let Some((_dir, ports, rows, report)) = platform().await else {
        return;
    };
    let seed = haven_local::seed::demo_hospitals().expect("seed");
    let seed_codes: Vec<&str> = seed.iter().filter_map(|h| h.mfl_code.as_deref()).collect();
    assert_eq!(
        seed_codes.len(),
        seed.len(),
        "every demo hospital has its code"
    );
    // Every row with a demo hospital's code joins that hospital (Nairobi Hospital, 13110,
    // has no coordinates in the list, so no row of it is imported).
    let seeded_rows = rows
        .iter()
        .filter(|r| {
            r.mfl_code
                .as_deref()
                .is_some_and(|c| seed_codes.contains(&c))
        })
        .count();
    assert_eq!(seeded_rows, seed.len() - 1);
    assert_eq!(report.created, rows.len() - seeded_rows, "{report:?}");
    assert_eq!(report.merged + report.existing, seeded_rows, "{report:?}");
    assert!(report.merged > 0, "{report:?}");

    // Observation 1: no referral hospital twice in the three cities of the demo seed.
    let all = manage::all(ports.table()).await.expect("list");
    assert_eq!(all.len(), rows.len() - seeded_rows + seed.len());
    let mut names: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
    for h in all.iter().filter(|h| {
        h.level >= 5 && matches!(h.county.as_deref(), Some("Nairobi" | "Mombasa" | "Kisumu"))
    }) {
        names
            .entry(name_words(&h.name).into_iter().collect())
            .or_default()
            .push(&h.hospital_id);
    }
    let twice: Vec<_> = names.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "duplicates: {twice:?}");
    assert!(names.len() >= 8, "{names:?}");

    // The merged record keeps its id, reported capacity and channels, and gains the code,
    // type and services the register knows.
    let knh = manage::load(&ports, "demo-knh").await.expect("KNH");
    let demo_knh = seed
        .iter()
        .find(|h| h.hospital_id == "demo-knh")
        .expect("seed");
    assert_eq!(knh.mfl_code.as_deref(), Some("13023"));
    assert_eq!(knh.facility_type, Some(FacilityType::Hospital));
    assert_eq!(
        (knh.beds_total, knh.beds_available, knh.icu_beds_available),
        (1800, Some(35), Some(4))
    );
    assert_eq!(knh.channels, demo_knh.channels);
    assert!(knh.offers("surgery") && knh.offers("cardiac"), "{knh:?}");
    // Observation 2: a hospital only the register knows has registered beds, none reported.
    let mtrh = all
        .iter()
        .find(|h| h.mfl_code.as_deref() == Some("15204"))
        .expect("Moi Teaching and Referral Hospital");
    assert_eq!(
        (mtrh.beds_total, mtrh.capacity(), mtrh.beds_available),
        (819, CapacityState::Unreported, None)
    );

    // The same file again changes nothing.
    let started = std::time::Instant::now();
    let again = import::import(&ports, rows.clone(), false)
        .await
        .expect("re-import");
    println!("re-imported in {:.2?}: {again:?}", started.elapsed());
    assert_eq!(
        (again.created, again.merged, again.replaced, again.existing),
        (0, 0, 0, rows.len())
    );
    let after = manage::all(ports.table()).await.expect("list");
    assert_eq!(by_id(&after), by_id(&all));
}

/// An alert raised at a point, as the trigger use case answers it.
async fn alert(
    ports: &EmbeddedPorts,
    who: &str,
    (latitude, longitude): (f64, f64),
    kind: &str,
    symptoms: &[&str],
) -> serde_json::Value {
    let triggered = trigger::trigger(
        ports,
        &Reporter {
            user_id: who.into(),
            bypass: None,
        },
        TriggerRequest {
            latitude,
            longitude,
            accuracy_m: Some(10.0),
            emergency_type: kind.into(),
            note: None,
            symptoms: symptoms.iter().map(|s| s.to_string()).collect(),
            vitals: None,
        },
        None,
    )
    .await
    .expect("trigger");
    serde_json::to_value(&triggered.alert).expect("json")
}

async fn nearby(
    ports: &EmbeddedPorts,
    (latitude, longitude): (f64, f64),
    radius_km: f64,
    limit: usize,
) -> Ranking {
    manage::nearby(
        ports,
        NearbyRequest {
            latitude: Some(latitude),
            longitude: Some(longitude),
            radius_km: Some(radius_km),
            limit: Some(limit),
            ..Default::default()
        },
    )
    .await
    .expect("nearby")
}

/// The stored record of an alert's first hospital.
async fn first_hospital(ports: &EmbeddedPorts, alert: &serde_json::Value) -> Hospital {
    let id = alert["hospital"]["hospital_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no hospital: {alert}"));
    manage::load(ports, id).await.expect("hospital")
}

/// Nothing listed is also passed over, whatever the answer (observation 6).
fn consistent(ranking: &Ranking) {
    for p in &ranking.passed_over {
        assert!(
            ranking
                .hospitals
                .iter()
                .all(|h| h.hospital_id != p.hospital_id),
            "{} is listed and passed over ({})",
            p.name,
            p.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_towns_get_the_answers_checked_by_hand() {
    let Some((_dir, ports, _, _)) = platform().await else {
        return;
    };

    // 1. Nairobi CBD, trauma → Kenyatta National Hospital (demo-knh, KMHFL 13023), 1.95 km:
    //    level 6, casualty services, 35 free beds reported. Nearer level-4+ hospitals with
    //    casualty services are all within the 5-minute travel grace too (Better Living
    //    Hospital 1.04 km, level 4, nothing reported; The Nairobi Hospital 1.72 km, level 5),
    //    so level and reported room decide.
    let cbd = alert(&ports, "p-cbd", (-1.2864, 36.8172), "trauma", &[]).await;
    assert_eq!(cbd["hospital"]["hospital_id"], "demo-knh", "{cbd}");

    // 2. Mombasa town, cardiac with chest pain (critical) → Aga Khan Hospital, Mombasa
    //    (demo-akh-mombasa, KMHFL 11203), 0.84 km: level 4, casualty services, the only
    //    hospital in reach listing cardiac care, an ICU bed reported. Coast General (1.7 km,
    //    level 5) and Nairobi Women's Hospital Mvita (0.19 km, level 4) have an emergency
    //    department but no cardiac care (specialty part 0.5 against 1).
    let mombasa = alert(
        &ports,
        "p-mombasa",
        (-4.0435, 39.6682),
        "cardiac",
        &["chest_pain"],
    )
    .await;
    assert_eq!(mombasa["priority"], "critical");
    assert_eq!(
        mombasa["hospital"]["hospital_id"], "demo-akh-mombasa",
        "{mombasa}"
    );

    // 3. Kisumu town, obstetric → Jaramogi Oginga Odinga Teaching and Referral Hospital
    //    (demo-jootrh, KMHFL 13939), 0.16 km: level 5, casualty services and comprehensive
    //    obstetric care (maternity). Avenue Hospital (0.43 km in the register) lists no
    //    maternity care.
    let kisumu = alert(&ports, "p-kisumu", (-0.0917, 34.7680), "obstetric", &[]).await;
    assert_eq!(kisumu["hospital"]["hospital_id"], "demo-jootrh", "{kisumu}");

    // 4. Central Nakuru, a general search → Nakuru Provincial General Hospital (KMHFL
    //    15288), 0.87 km: level 5, casualty services, ICU, 588 registered beds. Medicross
    //    Hospital (0.71 km, level 4) lists no emergency service; Mediheal Nakuru Annex
    //    (1.05 km) has one but is level 4.
    let nakuru = nearby(&ports, (-0.2850, 36.0690), 10.0, 5).await;
    consistent(&nakuru);
    let first = &nakuru.hospitals[0];
    let pgh = manage::load(&ports, &first.hospital_id).await.expect("PGH");
    assert_eq!(pgh.mfl_code.as_deref(), Some("15288"), "{nakuru:?}");
    assert_eq!(first.capacity, CapacityState::Unreported);
    assert_eq!(first.beds_available, None);

    // 5. Lodwar, a general search → Lodwar County Referral Hospital (KMHFL 15049), 0.58 km:
    //    level 4, casualty services; the only facility within 60 km that can treat (the rest
    //    are level-2 clinics and dispensaries, and level-3 medical and health centres).
    //    Observation 5: before, a dental clinic and level-2 clinics with 0 beds filled the
    //    top 10.
    let lodwar = nearby(&ports, (3.1191, 35.5973), 25.0, 10).await;
    consistent(&lodwar);
    assert_eq!(lodwar.hospitals.len(), 1, "{lodwar:?}");
    let referral = manage::load(&ports, &lodwar.hospitals[0].hospital_id)
        .await
        .expect("Lodwar");
    assert_eq!(referral.mfl_code.as_deref(), Some("15049"));
    assert!(
        lodwar
            .passed_over
            .iter()
            .all(|p| p.reason == "no_emergency_care"),
        "only nearer clinics are passed over: {:?}",
        lodwar.passed_over
    );

    // Observation 3: the Nairobi trauma points go to a level-4+ hospital with casualty
    // services, not to the level-3 centres a few hundred metres away.
    for (i, point) in [
        (-1.2653, 36.7469), // Kangemi: Penda Medical Center Kangemi (level 3) was first
        (-1.2820, 36.8600), // Eastleigh: Bahati Health Centre (level 3) was a fallback
        (-1.2200, 36.8900), // Roysambu: Aga Khan Roysambu Medical and Dialysis Centre
        (-1.3100, 36.7800), // Lang'ata
    ]
    .into_iter()
    .enumerate()
    {
        let a = alert(&ports, &format!("p-trauma-{i}"), point, "trauma", &[]).await;
        let h = first_hospital(&ports, &a).await;
        assert!(
            h.level >= 4 && h.facility_type == Some(FacilityType::Hospital) && h.offers("trauma"),
            "{point:?}: {} (level {}, {:?}, {:?})",
            h.name,
            h.level,
            h.facility_type,
            h.specialties
        );
        for f in a["fallbacks"].as_array().expect("fallbacks") {
            assert!(f["level"].as_u64() >= Some(4), "{point:?}: {f}");
        }
    }

    // Observation 4: a general search in central Nairobi does not list the National Spinal
    // Injury Hospital (KMHFL 13194, a specialist hospital without an emergency service); a
    // search for its specialty does.
    let general = nearby(&ports, (-1.2864, 36.8172), 10.0, 5).await;
    consistent(&general);
    let spinal = manage::all(ports.table())
        .await
        .expect("list")
        .into_iter()
        .find(|h| h.mfl_code.as_deref() == Some("13194"))
        .expect("spinal injury hospital");
    assert_eq!(spinal.facility_type, Some(FacilityType::SpecialistHospital));
    assert!(
        general
            .hospitals
            .iter()
            .all(|h| h.hospital_id != spinal.hospital_id),
        "{general:?}"
    );
    let ortho = manage::nearby(
        &ports,
        NearbyRequest {
            latitude: Some(-1.2864),
            longitude: Some(36.8172),
            radius_km: Some(5.0),
            specialty: Some("orthopaedics".into()),
            limit: Some(10),
            ..Default::default()
        },
    )
    .await
    .expect("nearby");
    assert!(
        ortho
            .hospitals
            .iter()
            .any(|h| h.hospital_id == spinal.hospital_id),
        "{ortho:?}"
    );

    // Observation 7: out at sea off the south coast, nothing within 100 km; the answer names
    // Coast General (103.8 km) for a dispatcher.
    let sea = alert(&ports, "p-sea", (-4.5, 40.5), "trauma", &[]).await;
    assert_eq!(sea["status"], "escalated");
    assert!(
        sea["nearest_beyond"]
            .as_array()
            .expect("nearest beyond")
            .iter()
            .any(|b| b["hospital_id"] == "demo-cgtrh"),
        "{sea}"
    );
}
