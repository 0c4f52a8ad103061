//! Patient search over a large register on the embedded backend: 100,000 synthetic patients
//! (Kenyan names, phones, national IDs) in one hospital, then 500 searches each by a name
//! prefix, a phone typed as `07…`, and an MRN, through the search use case (blind-index
//! lookups, the candidates' records opened, each hit audited):
//!
//!   cargo bench -p haven-tests --bench patients          # HAVEN_BENCH_PATIENTS=100000
//!
//! Prints figures; asserts nothing about speed.

use std::time::{Duration, Instant};

use futures::StreamExt;
use haven_kernel::blind_index;
use haven_kernel::item::{Item, Value};
use haven_kernel::ports::{Ports, Table};
use haven_kernel::{Role, refs};
use haven_patients_core::mrn::Mrn;
use haven_patients_core::record::PatientInput;
use haven_patients_core::registry::{self, NewRecord};
use haven_patients_core::store;
use haven_patients_core::{Purpose, Staff, search};
use haven_platform::EmbeddedPorts;
use rand::{Rng, SeedableRng};

const GIVEN: &[&str] = &[
    "Wanjiru", "Wanjiku", "Njeri", "Achieng", "Akinyi", "Atieno", "Chebet", "Jepkorir", "Mumbua",
    "Mwende", "Nafula", "Naliaka", "Zawadi", "Amina", "Fatuma", "Halima", "Grace", "Mercy",
    "Faith", "Esther", "Kamau", "Otieno", "Ochieng", "Kipchoge", "Kiprono", "Mutua", "Musyoka",
    "Wafula", "Barasa", "Juma", "Hassan", "Omondi", "Odhiambo", "Baraka", "Brian", "Kevin",
    "Dennis", "Peter", "John", "Joseph",
];
const FAMILY: &[&str] = &[
    "Kamau",
    "Mwangi",
    "Njoroge",
    "Kariuki",
    "Wambui",
    "Nyambura",
    "Otieno",
    "Odhiambo",
    "Onyango",
    "Okoth",
    "Ouma",
    "Kiprotich",
    "Kipkemboi",
    "Cheruiyot",
    "Rotich",
    "Mutua",
    "Muthoka",
    "Kilonzo",
    "Wafula",
    "Wekesa",
    "Simiyu",
    "Barasa",
    "Omar",
    "Abdi",
    "Mohamed",
    "Ali",
    "Hassan",
    "Chege",
    "Gitau",
    "Macharia",
    "Kimani",
    "Ndungu",
    "Karanja",
    "Mugo",
    "Nyaga",
    "Muriuki",
    "Kirui",
    "Langat",
    "Koech",
    "Korir",
];

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<44} n={:<5} mean={:>10.3?} p50={:>10.3?} p99={:>10.3?}",
        samples.len(),
        mean,
        pct(0.5),
        pct(0.99)
    );
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("HAVEN_BENCH_PATIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    let hospital = "bench-hospital";
    ports
        .table()
        .put(
            Item::new(&refs::hospital_profile(hospital)).with(
                refs::HOSPITAL_NAME,
                Value::s("Bench County Referral Hospital"),
            ),
            None,
        )
        .await
        .expect("hospital");
    let staff = Staff {
        user_id: "bench-nurse".into(),
        role: Role::Nurse,
        hospital_id: Some(hospital.into()),
    };
    let index = blind_index::load(&ports).await.expect("blind-index key");
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let people: Vec<(String, String, String, String)> = (0..count)
        .map(|i| {
            let given = GIVEN[rng.random_range(0..GIVEN.len())];
            let family = FAMILY[rng.random_range(0..FAMILY.len())];
            let phone = format!("07{:08}", rng.random_range(0..100_000_000u32));
            let national_id = format!("{:08}", 10_000_000 + i);
            (given.to_owned(), family.to_owned(), phone, national_id)
        })
        .collect();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
    let started = Instant::now();
    // The records as `create` writes them, without the race for each number (one writer here).
    let writes = people
        .iter()
        .enumerate()
        .map(|(i, (given, family, phone, national_id))| {
            let (ports, index, staff) = (&ports, &index, &staff);
            async move {
                let input: PatientInput = serde_json::from_value(serde_json::json!({
                    "given_name": given, "family_name": family, "sex": "unknown",
                    "phone": phone, "estimated_age": 30 + i % 40,
                    "identifiers": [{"type": "national_id", "value": national_id}]
                }))
                .expect("input");
                let details = input.validate(today).expect("valid");
                let id = format!("bench{i:08}");
                let key = store::data_key(ports, &id, hospital)
                    .await
                    .expect("data key");
                let (_, _, ops) = registry::new_record(
                    ports,
                    index,
                    &key,
                    &NewRecord {
                        hospital_id: hospital,
                        patient_id: &id,
                        actor: &staff.user_id,
                        details: &details,
                        mrn: Mrn::new("BCRH", i as u64 + 1),
                    },
                )
                .await
                .expect("record");
                ports.table().transact_write(ops).await.expect("write");
            }
        });
    futures::stream::iter(writes)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    println!(
        "seeded {count} patients in {:.1?} ({:.0} per second)",
        started.elapsed(),
        count as f64 / started.elapsed().as_secs_f64()
    );

    let queries = 500;
    let mut by_kind: Vec<(&str, Vec<String>)> = vec![
        ("name prefixes (4 letters of each of two words)", Vec::new()),
        ("name prefix (5 letters of a family name)", Vec::new()),
        ("phone as typed (07...)", Vec::new()),
        ("MRN", Vec::new()),
        ("national ID", Vec::new()),
    ];
    for _ in 0..queries {
        let (given, family, phone, national_id) = &people[rng.random_range(0..count)];
        let prefix = |name: &str, n: usize| name.chars().take(n).collect::<String>().to_lowercase();
        by_kind[0]
            .1
            .push(format!("{} {}", prefix(given, 4), prefix(family, 4)));
        by_kind[1].1.push(prefix(family, 5));
        by_kind[2].1.push(phone.clone());
        by_kind[3]
            .1
            .push(Mrn::new("BCRH", rng.random_range(1..=count as u64)).to_string());
        by_kind[4].1.push(national_id.clone());
    }
    for (kind, qs) in by_kind {
        let mut samples = Vec::with_capacity(qs.len());
        let mut found = 0;
        for q in &qs {
            let t = Instant::now();
            let page = search::search(&ports, &staff, None, q, 20, None, Purpose::Treatment)
                .await
                .expect("search");
            samples.push(t.elapsed());
            found += page.results.len();
        }
        report(kind, samples);
        println!(
            "{:<44} results per search: {:.1}",
            "",
            found as f64 / qs.len() as f64
        );
    }
}
