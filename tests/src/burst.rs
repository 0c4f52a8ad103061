//! A burst of alerts through the whole local platform: triggered over HTTP, delivered by the
//! workers to a real receiver. Shared by the exactly-once test and the benchmark.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::gateway::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, RunningGateway};
use crate::http::{call, login, new_patient};
use crate::receiver::Receiver;

/// What a burst measured.
pub struct BurstReport {
    pub alerts: usize,
    /// From the first trigger to the last receipt.
    pub elapsed: Duration,
    /// Trigger sent → webhook received, per alert.
    pub latencies: Vec<Duration>,
    /// Alerts whose `alert.created` arrived more than once, or under more than one id.
    pub duplicated: usize,
    pub missing: usize,
}

/// Nairobi's demo hospitals: an alert in the city may be offered to any of them.
pub use haven_local::seed::NAIROBI_HOSPITALS as NAIROBI;

/// Sends `n` alerts from points about a kilometre apart around Nairobi (so none joins
/// another), `concurrency` at a time, and waits up to `limit` for every delivery.
pub async fn run(n: usize, concurrency: usize, limit: Duration) -> BurstReport {
    let comms = haven_alerts::comms::CommsSettings {
        // No escalations during the burst: only first deliveries are counted.
        ack_deadline: Duration::from_secs(900),
        retry_base: Duration::from_millis(200),
        ..Default::default()
    };
    let gw = Arc::new(crate::gateway::embedded_with(Options::pipeline(comms)).await);
    let receiver = Receiver::start().await;
    let admin = login(&gw, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    webhooks_to(&gw, &admin, &receiver.url, &["fhir"]).await;
    // Many people, each tapping in turn: one person's simultaneous alerts are serialised
    // on purpose (they join), so a burst is a crowd.
    let mut patients = Vec::new();
    for i in 0..concurrency {
        patients.push(new_patient(&gw, &format!("Burst Patient {i}")).await.0);
    }
    let side = (n as f64).sqrt().ceil() as usize;
    let started = Instant::now();
    let sent: Arc<tokio::sync::Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for patient in patients {
        let (gw, sent, next) = (gw.clone(), sent.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let lat = -1.45 + 0.011 * (i / side) as f64;
                let lng = 36.65 + 0.011 * (i % side) as f64;
                let at = Instant::now();
                let (s, alert) = call(
                    &gw,
                    "POST",
                    "/api/v1/emergency/alert",
                    Some(&patient),
                    Some(json!({"latitude": lat, "longitude": lng, "emergency_type": "trauma"})),
                )
                .await;
                assert_eq!(s, 201, "{alert}");
                assert_eq!(alert["outcome"], "created", "{alert}");
                let id = alert["alert_id"].as_str().expect("id").to_owned();
                sent.lock().await.insert(id, at);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let ids: BTreeSet<String> = sent.lock().await.keys().cloned().collect();
    let waited = Instant::now();
    loop {
        let got: BTreeSet<String> = receiver
            .accepted()
            .iter()
            .filter(|d| d.json["type"] == "alert.created")
            .filter_map(|d| d.json["alert_id"].as_str().map(str::to_owned))
            .collect();
        if ids.is_subset(&got) || waited.elapsed() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    // Late copies would show up now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = sent.lock().await;
    let mut by_alert: BTreeMap<String, Vec<(String, Instant)>> = BTreeMap::new();
    for d in receiver.deliveries() {
        if d.json["type"] == "alert.created"
            && let Some(a) = d.json["alert_id"].as_str()
        {
            by_alert
                .entry(a.to_owned())
                .or_default()
                .push((d.id().to_owned(), d.at));
        }
    }
    let mut latencies = Vec::new();
    let (mut duplicated, mut missing) = (0, 0);
    for (id, at) in sent.iter() {
        match by_alert.get(id) {
            None => missing += 1,
            Some(copies) => {
                if copies.len() != 1 {
                    duplicated += 1;
                }
                latencies.push(copies[0].1.duration_since(*at));
            }
        }
    }
    BurstReport {
        alerts: sent.len(),
        elapsed,
        latencies,
        duplicated,
        missing,
    }
}

/// Points every Nairobi hospital's webhook at `url`; returns each one's signing secret.
pub async fn webhooks_to(
    gw: &RunningGateway,
    admin: &str,
    url: &str,
    formats: &[&str],
) -> BTreeMap<String, String> {
    let mut secrets = BTreeMap::new();
    for h in NAIROBI {
        let (status, body) = call(
            gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}/webhook"),
            Some(admin),
            Some(json!({"url": url, "formats": formats})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let secret = body["secret"].as_str().expect("secret");
        assert!(secret.starts_with("whsec_"));
        secrets.insert(h.to_owned(), secret.to_owned());
    }
    secrets
}
