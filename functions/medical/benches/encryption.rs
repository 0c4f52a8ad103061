//! What a sealed medical profile costs to write and read on the embedded backend, and how
//! many key-ring unwraps (KMS `Decrypt` calls on AWS) a read makes with the data-key cache on
//! and off:
//!
//!   cargo bench -p haven-medical --bench encryption
//!
//! Prints figures; asserts nothing about speed.

use std::time::{Duration, Instant};

use haven_alerts::medical::MedicalProfile;
use haven_alerts::medical::profile::{Allergy, Condition, EmergencyContact, Medication, Severity};
use haven_alerts::medical::records;
use haven_kernel::ports::{CachingKeyRing, Ports};
use haven_platform::EmbeddedPorts;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<40} n={:<5} mean={:>10.3?} p50={:>10.3?} p99={:>10.3?}",
        samples.len(),
        mean,
        pct(0.5),
        pct(0.99)
    );
}

fn profile(i: usize) -> MedicalProfile {
    MedicalProfile {
        blood_type: Some("O+".into()),
        date_of_birth: Some("1985-06-01".into()),
        sex: None,
        allergies: (0..3)
            .map(|a| Allergy {
                substance: format!("substance {i}-{a}"),
                reaction: Some("rash".into()),
                severity: Severity::Moderate,
            })
            .collect(),
        conditions: vec![Condition {
            name: "hypertension".into(),
            icd10: Some("I10".into()),
        }],
        medications: vec![Medication {
            name: "amlodipine".into(),
            dose: "5 mg".into(),
            frequency: "daily".into(),
        }],
        emergency_contacts: vec![EmergencyContact {
            name: "Next of kin".into(),
            relation: "spouse".into(),
            phone: "+254712345678".into(),
        }],
        insurance: None,
    }
}

fn main() {
    let n = 500;
    haven_platform::block_on(async move {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");

        let mut writes = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            records::create(&ports, &format!("owner-{i}"), profile(i))
                .await
                .expect("create");
            writes.push(t.elapsed());
        }
        report("create (seal + conditional put + audit)", writes);
        let mut updates = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            records::replace(&ports, &format!("owner-{i}"), profile(i + 1), Some(1))
                .await
                .expect("replace");
            updates.push(t.elapsed());
        }
        report("replace (If-Match, seal, put, audit)", updates);

        for (label, ttl) in [
            ("cache on (60 s)", Duration::from_secs(60)),
            ("cache off", Duration::ZERO),
        ] {
            ports.key_ring = CachingKeyRing::new(ports.backend.key_ring.clone(), ttl);
            let mut reads = Vec::new();
            // Each profile read three times in a row: a person opening the app, or a
            // hospital re-reading during a handover.
            for i in 0..n {
                for _ in 0..3 {
                    let t = Instant::now();
                    records::read(&ports, &format!("owner-{i}"))
                        .await
                        .expect("read");
                    reads.push(t.elapsed());
                }
            }
            let calls = ports.key_ring().calls();
            report(&format!("read, {label}"), reads);
            println!(
                "    key-ring unwraps per read: {:.2} ({} unwraps, {} cache hits, {} reads)",
                calls.decrypt as f64 / (3 * n) as f64,
                calls.decrypt,
                calls.cache_hits,
                3 * n
            );
        }
    });
}
