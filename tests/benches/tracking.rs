//! Live tracking under load on the local gateway (embedded backend): 50 alerts, each with a
//! unit reporting 10 positions a second over its own socket, and 200 subscribers (4 per
//! alert). Reports position sent → position received at each subscriber, how many arrived,
//! and the process's memory (gateway and all clients share it, so it is an upper bound).
//!
//!     cargo bench -p haven-tests --bench tracking
//!
//! `HAVEN_TRACK_ALERTS`, `HAVEN_TRACK_WATCHERS` (per alert), `HAVEN_TRACK_HZ` and
//! `HAVEN_TRACK_SECONDS` change the shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use haven_tests::http::{call, new_patient, new_staff};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident and peak memory of this process, from /proc.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim_start_matches(name).trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    format!("rss {} (peak {})", field("VmRSS:"), field("VmHWM:"))
}

type Sent = Arc<Mutex<HashMap<(usize, u64), Instant>>>;

fn main() {
    let alerts = number("HAVEN_TRACK_ALERTS", 50);
    let per_alert = number("HAVEN_TRACK_WATCHERS", 4);
    let hz = number("HAVEN_TRACK_HZ", 10) as u64;
    let seconds = number("HAVEN_TRACK_SECONDS", 20) as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let gw = haven_tests::gateway::embedded().await;
        println!("before setup: {}", memory());
        let dispatcher = new_staff(&gw, "dispatcher", None).await;
        let mut scene = Vec::new();
        for i in 0..alerts {
            let (patient, _) = new_patient(&gw, "Bench Patient").await;
            let at = (-1.20 - 0.004 * i as f64, 36.75 + 0.003 * i as f64);
            let (status, alert) = call(&gw, "POST", "/api/v1/emergency/alert", Some(&patient),
                Some(json!({"latitude": at.0, "longitude": at.1, "emergency_type": "trauma"}))).await;
            assert!(status == 201, "{alert}");
            let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
            let (status, unit) = call(&gw, "POST", "/api/v1/ambulances", Some(&dispatcher),
                Some(json!({"call_sign": format!("BENCH {i}"), "latitude": at.0 + 0.05, "longitude": at.1, "capabilities": ["als"]}))).await;
            assert!(status == 201, "{unit}");
            let unit_id = unit["ambulance_id"].as_str().expect("id").to_owned();
            let (status, body) = call(&gw, "POST", &format!("/api/v1/ambulances/{unit_id}/assign"), Some(&dispatcher),
                Some(json!({"alert_id": alert_id}))).await;
            assert!(status == 200, "{body}");
            scene.push((alert_id, unit_id, at));
        }
        // Subscribers: dispatch screens, each on its own socket.
        let sent: Sent = Arc::default();
        let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut watchers = Vec::new();
        let index: Arc<HashMap<String, usize>> =
            Arc::new(scene.iter().enumerate().map(|(i, s)| (s.0.clone(), i)).collect());
        for (alert_id, _, _) in &scene {
            for _ in 0..per_alert {
                let url = format!("{}/ws/emergency/{alert_id}/tracking?token={dispatcher}", gw.ws_url);
                let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("subscriber");
                let (_, mut stream) = socket.split();
                let (sent, latencies, received, index) = (sent.clone(), latencies.clone(), received.clone(), index.clone());
                watchers.push(tokio::spawn(async move {
                    while let Some(Ok(frame)) = stream.next().await {
                        let Ok(m) = serde_json::from_str::<Value>(frame.to_text().unwrap_or("")) else { continue };
                        if m["type"] != "location" { continue; }
                        let at = Instant::now();
                        let alert = index.get(m["alert_id"].as_str().unwrap_or("")).copied();
                        let seq = m["heading"].as_f64().map(|h| (h * 10.0).round() as u64);
                        if let (Some(a), Some(seq)) = (alert, seq)
                            && let Some(t) = sent.lock().expect("lock").get(&(a, seq))
                        {
                            latencies.lock().expect("lock").push(at - *t);
                            received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }));
            }
        }
        println!("{} subscribers on {} alerts: {}", alerts * per_alert, alerts, memory());
        // Units: each reports `hz` positions a second for `seconds`, over its own socket. The
        // sequence number rides in `heading` (tenths of a degree) so receivers can match it.
        let started = Instant::now();
        let mut units = Vec::new();
        for (i, (_, unit_id, at)) in scene.iter().enumerate() {
            let url = format!("{}/ws?token={dispatcher}", gw.ws_url);
            let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("unit");
            let (mut sink, mut stream) = socket.split();
            tokio::spawn(async move { while stream.next().await.is_some() {} });
            let (sent, unit_id, at) = (sent.clone(), unit_id.clone(), *at);
            units.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(1000 / hz));
                for seq in 0..hz * seconds {
                    tick.tick().await;
                    let lat = at.0 + 0.05 - 0.00002 * seq as f64;
                    let message = json!({"action": "location", "ambulance_id": unit_id, "latitude": lat,
                        "longitude": at.1, "heading": (seq % 3600) as f64 / 10.0});
                    sent.lock().expect("lock").insert((i, seq % 3600), Instant::now());
                    if sink.send(Message::Text(message.to_string().into())).await.is_err() { break; }
                }
            }));
        }
        for u in units { let _ = u.await; }
        let sending = started.elapsed();
        // Let the last positions arrive.
        let expected = alerts * per_alert * (hz * seconds) as usize;
        let deadline = Instant::now() + Duration::from_secs(30);
        while received.load(std::sync::atomic::Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = received.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "tracking: {alerts} alerts x {hz}/s for {seconds} s ({:.0} positions/s offered, sent in {:.1?}); {got} of {expected} deliveries received",
            (alerts as u64 * hz) as f64, sending
        );
        haven_tests::bench::report("position sent -> received by a subscriber", latencies.lock().expect("lock").clone());
        println!("after: {}", memory());
        for w in watchers { w.abort(); }
    });
}
