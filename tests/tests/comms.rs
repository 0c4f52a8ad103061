//! The notification pipeline end to end, through the local gateway with its queue workers
//! running and a real webhook receiver: signed delivery, independent verification, answers,
//! retries, escalation to the next hospital and to SMS, recovery from crashes, poison
//! messages.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use haven_domain::comms::CommsSettings;
use haven_tests::gateway::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, RunningGateway};
use haven_tests::http::{call, login, new_patient, new_staff};
use haven_tests::receiver::{Delivery, Receiver, Reply};
use serde_json::{Value, json};

/// The demo hospitals in Nairobi: every one an alert in the city may be offered to.
const NAIROBI: [&str; 8] = [
    "demo-knh",
    "demo-akuh-nairobi",
    "demo-nairobi-hospital",
    "demo-mp-shah",
    "demo-mama-lucy",
    "demo-mbagathi",
    "demo-gertrudes",
    "demo-pumwani",
];
const CBD: (f64, f64) = (-1.2864, 36.8172);

/// Short retries so failures play out in seconds; the deadline as given.
fn settings(deadline: Duration) -> CommsSettings {
    CommsSettings {
        ack_deadline: deadline,
        retry_base: Duration::from_millis(400),
        retry_cap: Duration::from_secs(5),
        ..CommsSettings::default()
    }
}

async fn admin(gw: &RunningGateway) -> String {
    login(gw, ADMIN_EMAIL, ADMIN_PASSWORD).await
}

/// Points every Nairobi hospital's webhook at `receiver`; returns each one's secret.
async fn webhooks_to(gw: &RunningGateway, receiver: &Receiver) -> BTreeMap<String, String> {
    let token = admin(gw).await;
    let mut secrets = BTreeMap::new();
    for h in NAIROBI {
        let (status, body) = call(
            gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}/webhook"),
            Some(&token),
            Some(json!({"url": receiver.url, "formats": ["fhir", "hl7v2"]})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let secret = body["secret"].as_str().expect("secret");
        assert!(secret.starts_with("whsec_"));
        secrets.insert(h.to_owned(), secret.to_owned());
    }
    secrets
}

async fn trigger(gw: &RunningGateway, token: &str, kind: &str, at: (f64, f64)) -> Value {
    let (status, alert) = call(
        gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(token),
        Some(json!({"latitude": at.0, "longitude": at.1, "accuracy_m": 10.0, "emergency_type": kind})),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    alert
}

fn of_alert<'a>(deliveries: &'a [Delivery], alert_id: &str, kind: &str) -> Vec<&'a Delivery> {
    deliveries
        .iter()
        .filter(|d| d.json["alert_id"] == alert_id && d.json["type"] == kind)
        .collect()
}

fn python(args: &[&str], stdin: &str) -> Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/tests/python/independent.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the project's .venv (run `make test`, or scripts/venv.sh)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "independent.py {args:?} refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

fn fhir_types(bundle: &Value) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(bundle.to_string().as_bytes()).expect("write");
    let out = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/tests/python/independent.py"))
        .arg("fhir-bundle")
        .arg(file.path())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "fhir.resources refused the Bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn comms_status(gw: &RunningGateway, token: &str, alert_id: &str) -> Value {
    let (status, body) = call(
        gw,
        "GET",
        &format!("/api/v1/hospital/comms/status/{alert_id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

haven_tests::on_both_backends_with_pipeline!(
    an_alert_reaches_its_hospital_signed_once_and_is_acknowledged
);

async fn an_alert_reaches_its_hospital_signed_once_and_is_acknowledged(
    make: impl AsyncFnOnce(Options) -> RunningGateway,
) {
    let gw = make(Options::pipeline(settings(Duration::from_secs(60)))).await;
    let receiver = Receiver::start().await;
    let secrets = webhooks_to(&gw, &receiver).await;
    let (patient, _) = new_patient(&gw, "Amina Wanjiru Otieno").await;
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/medical-profile",
        Some(&patient),
        Some(json!({
            "blood_type": "O+",
            "allergies": [{"substance": "Penicillin | amoxicillin", "severity": "severe"}],
            "conditions": [{"name": "Asthma", "icd10": "J45.9"}],
        })),
    )
    .await;
    assert_eq!(status, 201);
    let alert = trigger(&gw, &patient, "cardiac", CBD).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let hospital = alert["hospital"]["hospital_id"].as_str().expect("hospital").to_owned();

    let deliveries = receiver
        .wait_until(Duration::from_secs(30), "the alert's delivery", |d| {
            !of_alert(d, &alert_id, "alert.created").is_empty()
        })
        .await;
    let created = of_alert(&deliveries, &alert_id, "alert.created");
    let first = created[0];
    assert_eq!(first.json["hospital_id"], hospital.as_str());
    assert_eq!(first.header("content-type"), "application/json");
    assert!(first.id().starts_with("msg_"));
    // An independent implementation of Standard Webhooks accepts the signature...
    let verified = python(
        &["verify-webhook"],
        &json!({"secret": secrets[&hospital], "headers": first.headers, "body": first.body})
            .to_string(),
    );
    assert_eq!(verified["alert_id"], alert_id.as_str());
    // ...and refuses it under another hospital's secret.
    let other = NAIROBI.iter().find(|h| **h != hospital).expect("another");
    let refused = haven_domain::comms::signing::verify(
        &haven_domain::comms::signing::Secret::parse(&secrets[*other]).expect("secret"),
        first.id(),
        first.header("webhook-timestamp").parse().expect("timestamp"),
        &first.body,
        first.header("webhook-signature"),
        chrono::Utc::now().timestamp(),
    );
    assert!(refused.is_err());
    // The packet: priority, place, ETA, an answer link, FHIR with the profile, HL7 v2.
    assert_eq!(first.json["priority"], alert["priority"]);
    assert_eq!(first.json["emergency_type"], "cardiac");
    assert_eq!(first.json["location"]["latitude"], CBD.0);
    assert!(first.json["eta_minutes"].as_f64().expect("eta") > 0.0);
    let types = fhir_types(&first.json["fhir"]);
    for t in ["Patient", "AllergyIntolerance", "Condition", "Encounter", "Location", "ServiceRequest"] {
        assert!(types.contains(t), "{t} missing from {types}");
    }
    let hl7 = python(&["hl7"], first.json["hl7v2"].as_str().expect("hl7v2"));
    assert_eq!(hl7["type"], "ADT^A04^ADT_A01");
    assert_eq!(hl7["encoding"], "^~\\&");
    assert_eq!(hl7["allergy"], "Penicillin \\F\\ amoxicillin");
    assert_eq!(hl7["patient"], "Otieno^Amina Wanjiru");

    // Who may answer: the hospital's staff; not a patient, not another hospital.
    let ack = json!({"alert_id": alert_id, "decision": "accept"});
    let (status, _) = call(&gw, "POST", "/api/v1/hospital/comms/ack", Some(&patient), Some(ack.clone())).await;
    assert_eq!(status, 403);
    let stranger = new_staff(&gw, "nurse", Some(other)).await;
    let (status, _) = call(&gw, "POST", "/api/v1/hospital/comms/ack", Some(&stranger), Some(ack.clone())).await;
    assert_eq!(status, 404);
    let (status, problem) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&new_staff(&gw, "nurse", Some(&hospital)).await),
        Some(json!({"alert_id": alert_id, "decision": "maybe"})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let nurse = new_staff(&gw, "nurse", Some(&hospital)).await;
    let (status, answer) = call(&gw, "POST", "/api/v1/hospital/comms/ack", Some(&nurse), Some(ack.clone())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "acknowledged");
    let (status, again) = call(&gw, "POST", "/api/v1/hospital/comms/ack", Some(&nurse), Some(ack)).await;
    assert_eq!(status, 409, "{again}");
    // The link in the packet answers for the same hospital, so it is too late as well.
    let link = first.json["ack_url"].as_str().expect("ack_url");
    let path = link.trim_start_matches(gw.base_url.as_str());
    let (status, shown) = call(&gw, "GET", path, None, None).await;
    assert_eq!((status, shown["status"].as_str()), (200, Some("acknowledged")));

    let dispatcher = new_staff(&gw, "dispatcher", None).await;
    let status = comms_status(&gw, &dispatcher, &alert_id).await;
    assert_eq!(status["status"], "acknowledged");
    assert_eq!(status["offers"][0]["answer"]["decision"], "accept");
    let webhook: Vec<&Value> = status["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["channel"] == "webhook")
        .collect();
    assert_eq!(webhook.len(), 1, "{status}");
    assert_eq!(webhook[0]["state"], "delivered");
    assert_eq!(webhook[0]["webhook_id"], first.id());
    let attempt = status["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .find(|a| a["channel"] == "webhook")
        .expect("the webhook attempt");
    assert_eq!((attempt["outcome"].as_str(), attempt["status_code"].as_u64()), (Some("delivered"), Some(200)));
    let timeline: Vec<&str> = status["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|t| t["status"].as_str().expect("status"))
        .collect();
    assert_eq!(timeline, ["triggered", "matched", "notified", "acknowledged"]);
    // A patient does not read the delivery records.
    let (code, _) = call(&gw, "GET", &format!("/api/v1/hospital/comms/status/{alert_id}"), Some(&patient), None).await;
    assert_eq!(code, 403);
    // Still one delivery, one id: nothing was sent twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: BTreeSet<String> = of_alert(&receiver.deliveries(), &alert_id, "alert.created")
        .iter()
        .map(|d| d.id().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(of_alert(&receiver.deliveries(), &alert_id, "alert.created").len(), 1);
}
