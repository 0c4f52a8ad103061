//! The gateway killed with SIGKILL in the middle of a burst of 200 alerts, after 10 and after
//! 80 were accepted, and started again on the same data each time. What a patient and a
//! hospital must still be able to count on:
//! - every accepted alert reaches its first hospital within 30 s of the restart;
//! - no alert moves past a hospital for silence when that hospital was never told;
//! - no hospital receives one alert under two `webhook-id`s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::process::{ADMIN_PASSWORD, Gateway, send, sign_in, start_gateway};

const ALERTS: usize = 200;
const KILL_AFTER: [usize; 2] = [10, 80];
const SENDERS: usize = 16;
/// Short, so that deadlines fire during the test: the rule under test is what a deadline
/// does when its hospital was never told.
const ACK_DEADLINE_SECONDS: &str = "6";
const WITHIN: Duration = Duration::from_secs(30);
const PASSWORD: &str = "amber falcon river quartz 42";

/// The demo hospitals an alert around Nairobi may be offered to; all send to the receiver.
use haven_local::seed::NAIROBI_HOSPITALS as NAIROBI;

#[derive(Clone)]
struct Receipt {
    at: Instant,
    wall: SystemTime,
    webhook_id: String,
    alert_id: String,
    hospital_id: String,
    kind: String,
}

/// A hospital's webhook endpoint on a loopback port that takes everything.
async fn receiver() -> (String, Arc<Mutex<Vec<Receipt>>>) {
    let seen: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                store.lock().expect("receipts").push(Receipt {
                    at: Instant::now(),
                    wall: SystemTime::now(),
                    webhook_id: headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    alert_id: text(&json["alert_id"]),
                    hospital_id: text(&json["hospital_id"]),
                    kind: text(&json["type"]),
                });
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

fn gateway(data: &Path, run: &Path) -> Gateway {
    start_gateway(
        data,
        run,
        &[
            ("HAVEN_ACK_DEADLINE_SECONDS", ACK_DEADLINE_SECONDS),
            ("HAVEN_RETRY_BASE_MS", "200"),
            ("HAVEN_ALLOW_PRIVATE_WEBHOOKS", "1"),
        ],
    )
}

struct Accepted {
    alert_id: String,
    hospital_id: String,
    at: Instant,
}

/// Sends alerts from `SENDERS` people at once until `target` in all are accepted, then
/// returns at once, with requests still in flight (the caller kills the gateway then).
async fn burst_until(
    base: &str,
    patients: &[String],
    next: &Arc<AtomicUsize>,
    accepted: &Arc<Mutex<Vec<Accepted>>>,
    target: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let reached = Arc::new(tokio::sync::Notify::new());
    let alive = Arc::new(AtomicUsize::new(patients.len()));
    let mut tasks = Vec::new();
    for patient in patients {
        let (base, patient) = (base.to_owned(), patient.clone());
        let (next, accepted, reached) = (next.clone(), accepted.clone(), reached.clone());
        let alive = alive.clone();
        tasks.push(tokio::spawn(async move {
            send_until(&base, &patient, &next, &accepted, target, &reached).await;
            // The last sender to stop wakes the caller too (every alert sent, or none left
            // to reach the target with).
            if alive.fetch_sub(1, Ordering::SeqCst) == 1 {
                reached.notify_one();
            }
        }));
    }
    reached.notified().await;
    tasks
}

/// One person's part of the burst.
async fn send_until(
    base: &str,
    patient: &str,
    next: &AtomicUsize,
    accepted: &Mutex<Vec<Accepted>>,
    target: usize,
    reached: &tokio::sync::Notify,
) {
    let side = (ALERTS as f64).sqrt().ceil() as usize;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    loop {
        if accepted.lock().expect("accepted").len() >= target {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= ALERTS {
            return;
        }
        // Points about a kilometre apart, so no alert joins another.
        let lat = -1.45 + 0.011 * (i / side) as f64;
        let lng = 36.65 + 0.011 * (i % side) as f64;
        let sent = client
            .post(format!("{base}/api/v1/emergency/alert"))
            .bearer_auth(patient)
            .json(&json!({"latitude": lat, "longitude": lng, "emergency_type": "trauma"}))
            .send()
            .await;
        // The gateway was killed under this request: it was never accepted.
        let Ok(response) = sent else { return };
        if response.status().as_u16() != 201 {
            return;
        }
        let Ok(alert) = response.json::<Value>().await else {
            return;
        };
        let mut all = accepted.lock().expect("accepted");
        all.push(Accepted {
            alert_id: alert["alert_id"].as_str().expect("id").to_owned(),
            hospital_id: alert["hospital"]["hospital_id"]
                .as_str()
                .expect("matched")
                .to_owned(),
            at: Instant::now(),
        });
        if all.len() >= target {
            reached.notify_one();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_killed_mid_burst_loses_no_alert_and_passes_over_no_untold_hospital() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (data, run) = (dir.path().join("data"), dir.path().join("run"));
    let (hook, receipts) = receiver().await;
    let mut gw = gateway(&data, &run);

    let admin = sign_in(&gw.url, "admin@haven.local", ADMIN_PASSWORD).await;
    for h in NAIROBI {
        let (status, body) = send(
            "PUT",
            &format!("{}/api/v1/hospitals/{h}/webhook", gw.url),
            Some(&admin),
            Some(json!({"url": hook})),
        )
        .await;
        assert_eq!(status, 200, "{h}: {body}");
    }
    let (status, body) = send(
        "POST",
        &format!("{}/api/v1/users", gw.url),
        Some(&admin),
        Some(
            json!({"email": "otieno@dispatch.test", "password": PASSWORD,
                    "full_name": "Otieno Dispatch", "role": "dispatcher"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut patients = Vec::new();
    for i in 0..SENDERS {
        let email = format!("crowd{i}@example.org");
        let (status, body) = send(
            "POST",
            &format!("{}/api/v1/auth/register", gw.url),
            None,
            Some(json!({"email": email, "password": PASSWORD, "full_name": format!("Crowd Person {i}")})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        patients.push(sign_in(&gw.url, &email, PASSWORD).await);
    }

    let next = Arc::new(AtomicUsize::new(0));
    let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
    let mut restarts = Vec::new();
    for target in KILL_AFTER {
        let tasks = burst_until(&gw.url, &patients, &next, &accepted, target).await;
        // SIGKILL: no shutdown hook runs, deliveries and deadlines are left mid-flight.
        gw.child.kill().expect("SIGKILL");
        let _ = gw.child.wait();
        for t in tasks {
            t.await.expect("sender");
        }
        gw = gateway(&data, &run);
        restarts.push(Instant::now());
    }
    let tasks = burst_until(&gw.url, &patients, &next, &accepted, usize::MAX).await;
    for t in tasks {
        t.await.expect("sender");
    }
    let accepted: Vec<Accepted> = std::mem::take(&mut *accepted.lock().expect("accepted"));
    assert!(
        accepted.len() >= 150,
        "{} of {ALERTS} accepted",
        accepted.len()
    );

    // Every accepted alert reaches its first hospital within 30 s of the restart after it
    // (or of its acceptance, after the last restart).
    let due = |a: &Accepted| {
        let from = restarts.iter().copied().find(|r| *r > a.at).unwrap_or(a.at);
        from + WITHIN
    };
    let first_receipt = |all: &[Receipt], a: &Accepted| {
        all.iter()
            .filter(|r| r.alert_id == a.alert_id && r.hospital_id == a.hospital_id)
            .filter(|r| r.kind == "alert.created")
            .map(|r| r.at)
            .min()
    };
    let last_due = accepted.iter().map(due).max().expect("alerts");
    loop {
        let all = receipts.lock().expect("receipts").clone();
        let missing: Vec<&Accepted> = accepted
            .iter()
            .filter(|a| first_receipt(&all, a).is_none())
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < last_due,
            "{} accepted alerts never reached their first hospital, e.g. {}",
            missing.len(),
            missing[0].alert_id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = receipts.lock().expect("receipts").clone();
    let late: Vec<(&str, Duration)> = accepted
        .iter()
        .filter_map(|a| {
            let got = first_receipt(&all, a).expect("received");
            (got > due(a)).then(|| (a.alert_id.as_str(), got - a.at))
        })
        .collect();
    assert!(late.is_empty(), "reached their hospital late: {late:?}");

    // Let deadlines run past the restarts, then read every alert's offers as a dispatcher.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let dispatcher = sign_in(&gw.url, "otieno@dispatch.test", PASSWORD).await;
    let mut passed_over = 0;
    for a in &accepted {
        let (status, comms) = send(
            "GET",
            &format!("{}/api/v1/hospital/comms/status/{}", gw.url, a.alert_id),
            Some(&dispatcher),
            None,
        )
        .await;
        assert_eq!(status, 200, "{comms}");
        // Read after the record: alerts are still moving on while this loop runs.
        let all = receipts.lock().expect("receipts").clone();
        for offer in comms["offers"].as_array().expect("offers") {
            let Some(expired) = offer["expired_at"].as_str() else {
                continue;
            };
            let hospital = offer["hospital_id"].as_str().expect("hospital");
            assert!(
                NAIROBI.contains(&hospital),
                "{hospital} has no webhook here"
            );
            let expired: SystemTime = chrono::DateTime::parse_from_rfc3339(expired)
                .expect("time")
                .into();
            let told = all.iter().any(|r| {
                r.alert_id == a.alert_id && r.hospital_id == hospital && r.wall <= expired
            });
            assert!(
                told,
                "alert {} moved past {hospital} at {expired:?}, which was never told; the \
                 receiver saw {:?}; Haven's record: {comms:#}",
                a.alert_id,
                all.iter()
                    .filter(|r| r.alert_id == a.alert_id)
                    .map(|r| (&r.hospital_id, &r.kind, r.wall))
                    .collect::<Vec<_>>()
            );
            passed_over += 1;
        }
    }
    // The deadline is short: the rule was exercised, not vacuously true.
    assert!(passed_over > 0, "no deadline moved any alert on");

    // One alert, one hospital, one event: one webhook-id, however many attempts it took.
    let all = receipts.lock().expect("receipts").clone();
    let mut ids: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for r in &all {
        ids.entry((r.alert_id.clone(), r.hospital_id.clone(), r.kind.clone()))
            .or_default()
            .insert(r.webhook_id.clone());
    }
    let twice: Vec<_> = ids.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "under two webhook-ids: {twice:?}");
}
