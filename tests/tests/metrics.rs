//! The alert path's metrics, end to end: alerts through the local gateway (embedded backend,
//! queue workers running, a real webhook receiver), and the CloudWatch Embedded Metric Format
//! lines the functions write for them, captured from the same log layer the Lambda functions
//! install.

use std::sync::OnceLock;
use std::time::Duration;

use haven_alerts::comms::CommsSettings;
use haven_edge::logging::{JsonLines, MemoryLog, NAMESPACE};
use haven_kernel::metrics::TARGET;
use haven_tests::gateway::{self, ADMIN_EMAIL, ADMIN_PASSWORD, Options, RunningGateway};
use haven_tests::http::{call, login, new_patient, new_staff, trigger};
use haven_tests::receiver::Receiver;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

const CBD: (f64, f64) = (-1.2864, 36.8172);

/// The process's metric lines (a global subscriber: the gateway's tasks run on many threads).
fn captured() -> &'static MemoryLog {
    static CAPTURED: OnceLock<MemoryLog> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = MemoryLog::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::filter::Targets::new()
                    .with_target(TARGET, tracing::Level::INFO),
            )
            .with(JsonLines::new(captured.clone(), "test"));
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        captured
    })
}

/// Every metric line about `alert_id`, as (name, value, line).
fn metrics_of(alert_id: &str) -> Vec<(String, f64, Value)> {
    captured()
        .lines()
        .expect("one JSON object a line")
        .into_iter()
        .filter(|l| l["alert_id"] == alert_id)
        .map(|l| {
            let name = l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                .as_str()
                .expect("a metric directive")
                .to_owned();
            let value = l[&name].as_f64().expect("the metric's value on the line");
            (name, value, l)
        })
        .collect()
}

async fn wait_for_metric(alert_id: &str, name: &str) -> f64 {
    for _ in 0..300 {
        if let Some((_, v, _)) = metrics_of(alert_id).into_iter().find(|(n, _, _)| n == name) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {name} for {alert_id}: {:?}", metrics_of(alert_id));
}

async fn answer(gw: &RunningGateway, hospital: &str, alert_id: &str, decision: &str) -> Value {
    let nurse = new_staff(gw, "nurse", Some(hospital)).await;
    let (status, answer) = call(
        gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&nurse),
        Some(json!({"alert_id": alert_id, "decision": decision})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_path_is_measured_from_the_tap_to_an_answer() {
    captured();
    let gw = gateway::embedded_with(Options::pipeline(CommsSettings {
        ack_deadline: Duration::from_secs(60),
        ..CommsSettings::default()
    }))
    .await;
    let receiver = Receiver::start().await;
    let admin = login(&gw, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    haven_tests::burst::webhooks_to(&gw, &admin, &receiver.url, &["fhir"]).await;
    let (patient, _) = new_patient(&gw, "Wanjiku Kamau").await;

    // Accepted: matched, told, acknowledged, in that order, each timed from the tap.
    let alert = trigger(&gw, &patient, "cardiac", CBD).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let hospital = alert["hospital"]["hospital_id"]
        .as_str()
        .expect("hospital")
        .to_owned();
    let matched = wait_for_metric(&alert_id, "TimeToMatch").await;
    let told = wait_for_metric(&alert_id, "TimeToFirstDelivery").await;
    answer(&gw, &hospital, &alert_id, "accept").await;
    let acknowledged = wait_for_metric(&alert_id, "TimeToAcknowledgement").await;
    assert!(
        0.0 <= matched && matched <= told && told <= acknowledged && acknowledged < 60_000.0,
        "match {matched} ms, first delivery {told} ms, acknowledgement {acknowledged} ms"
    );
    let lines = metrics_of(&alert_id);
    let names: Vec<&str> = lines.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "TimeToFirstDelivery")
            .count(),
        1,
        "the first delivery is counted once: {names:?}"
    );
    assert!(!names.contains(&"Escalations"), "{names:?}");
    for (name, _, line) in &lines {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Stage"]]));
        assert_eq!(line["Stage"], "test");
        assert_eq!(directive["Metrics"][0]["Unit"], "Milliseconds", "{name}");
    }

    // Declined: the alert moves on to the next hospital, and that counts as an escalation.
    let (other_patient, _) = new_patient(&gw, "Otieno Ouma").await;
    let second = trigger(&gw, &other_patient, "trauma", CBD).await;
    let second_id = second["alert_id"].as_str().expect("id").to_owned();
    let first_choice = second["hospital"]["hospital_id"]
        .as_str()
        .expect("hospital");
    let moved = answer(&gw, first_choice, &second_id, "decline").await;
    assert_eq!(moved["status"], "escalated", "{moved}");
    assert_eq!(wait_for_metric(&second_id, "Escalations").await, 1.0);
    assert!(
        !metrics_of(&second_id)
            .iter()
            .any(|(n, _, _)| n == "AlertsUnacknowledged" || n == "TimeToAcknowledgement"),
        "a fallback is being asked: not unacknowledged yet"
    );

    // Nobody in reach: handed to dispatch at once, and counted as unacknowledged.
    let (far_patient, _) = new_patient(&gw, "Lokiru Ekai").await;
    let far = trigger(&gw, &far_patient, "cardiac", (4.2, 34.4)).await;
    assert_eq!(far["status"], "escalated", "{far}");
    let far_id = far["alert_id"].as_str().expect("id");
    assert_eq!(wait_for_metric(far_id, "AlertsUnacknowledged").await, 1.0);
    assert!(
        !metrics_of(far_id)
            .iter()
            .any(|(n, _, _)| n == "TimeToMatch"),
        "nothing was matched"
    );
}
