//! A burst of 1,000 alerts through the local platform (embedded backend, queue workers,
//! a real webhook receiver): alerts per second, and trigger → webhook receipt latency.
//! Fails if any alert is missing or arrives twice.
//!
//!     cargo bench -p haven-tests --bench notifications
//!
//! `HAVEN_BURST_ALERTS` and `HAVEN_BURST_CONCURRENCY` change the size of the burst.

use std::time::Duration;

fn number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = number("HAVEN_BURST_ALERTS", 1000);
    let concurrency = number("HAVEN_BURST_CONCURRENCY", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(haven_tests::burst::run(
        n,
        concurrency,
        Duration::from_secs(600),
    ));
    println!(
        "burst: {} alerts, {} concurrent senders, all delivered in {:.1?} = {:.1} alerts/s",
        report.alerts,
        concurrency,
        report.elapsed,
        report.alerts as f64 / report.elapsed.as_secs_f64()
    );
    haven_tests::bench::report("trigger -> webhook receipt", report.latencies.clone());
    println!(
        "missing: {}  delivered more than once: {}",
        report.missing, report.duplicated
    );
    assert_eq!(report.missing, 0, "every alert is delivered");
    assert_eq!(report.duplicated, 0, "no alert is delivered twice");
}
