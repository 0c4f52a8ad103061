//! What the benchmark binaries print.

use std::time::Duration;

/// Prints `n`, mean, p50 and p99 of the samples on one line.
pub fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    if samples.is_empty() {
        println!("{name:<52} no samples");
        return;
    }
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<52} n={:<5} mean={:>10.3?} p50={:>10.3?} p99={:>10.3?}",
        samples.len(),
        mean,
        pct(0.5),
        pct(0.99)
    );
}
