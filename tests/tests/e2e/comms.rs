//! The notification pipeline end to end, through the local gateway with its queue workers
//! running and a real webhook receiver: signed delivery, independent verification, answers,
//! retries, escalation to the next hospital and to SMS, recovery from crashes, poison
//! messages.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use haven_alerts::comms::CommsSettings;
use haven_tests::gateway::{self, ADMIN_EMAIL, ADMIN_PASSWORD, Options, RunningGateway};
use haven_tests::http::{call, login, new_patient, new_staff, trigger};
use haven_tests::receiver::{Delivery, Receiver, Reply};
use serde_json::{Value, json};

use haven_tests::burst::NAIROBI;
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
    haven_tests::burst::webhooks_to(gw, &admin(gw).await, &receiver.url, &["fhir", "hl7v2"]).await
}

fn of_alert<'a>(deliveries: &'a [Delivery], alert_id: &str, kind: &str) -> Vec<&'a Delivery> {
    deliveries
        .iter()
        .filter(|d| d.json["alert_id"] == alert_id && d.json["type"] == kind)
        .collect()
}

fn python(args: &[&str], stdin: &str) -> Value {
    serde_json::from_str(&haven_tests::independent::run(args, stdin)).expect("json from python")
}

fn fhir_types(bundle: &Value) -> String {
    haven_tests::independent::fhir_bundle(bundle)
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
    an_alert_reaches_its_hospital_signed_once_and_is_acknowledged,
    a_dispatcher_sends_again_and_moves_an_alert_on,
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
            "date_of_birth": "1990-05-01",
            "sex": "female",
            "allergies": [{"substance": "Penicillin | amoxicillin", "severity": "severe"}],
            "conditions": [{"name": "Asthma", "icd10": "J45.9"}],
            "medications": [{"name": "Salbutamol inhaler", "dose": "100 mcg", "frequency": "as needed"}],
        })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, alert) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&patient),
        Some(json!({
            "latitude": CBD.0, "longitude": CBD.1, "accuracy_m": 10.0,
            "emergency_type": "cardiac",
            "symptoms": ["chest_pain", "difficulty_breathing"],
            "vitals": {"heart_rate": 128, "systolic_bp": 95, "diastolic_bp": 60, "spo2": 93},
            "note": "collapsed at the matatu stage on Moi Avenue",
        })),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let hospital = alert["hospital"]["hospital_id"]
        .as_str()
        .expect("hospital")
        .to_owned();

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
    let refused = haven_alerts::comms::signing::verify(
        &haven_alerts::comms::signing::Secret::parse(&secrets[*other]).expect("secret"),
        first.id(),
        first
            .header("webhook-timestamp")
            .parse()
            .expect("timestamp"),
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
    for t in [
        "Patient",
        "AllergyIntolerance",
        "Condition",
        "Encounter",
        "Location",
        "ServiceRequest",
    ] {
        assert!(types.contains(t), "{t} missing from {types}");
    }
    let hl7 = python(&["hl7"], first.json["hl7v2"].as_str().expect("hl7v2"));
    assert_eq!(hl7["type"], "ADT^A04^ADT_A01");
    assert_eq!(hl7["encoding"], "^~\\&");
    assert_eq!(hl7["allergy"], "Penicillin \\F\\ amoxicillin");
    assert_eq!(hl7["patient"], "Otieno^Amina Wanjiru");

    // The clinical picture: what is wrong and who, in JSON, FHIR and HL7 alike.
    let clinical = &first.json["clinical"];
    assert_eq!(
        clinical["priority_reason"], alert["priority_reason"],
        "{clinical}"
    );
    assert_eq!(clinical["symptoms"][0]["code"], "chest_pain");
    assert_eq!(clinical["symptoms"][1]["display"], "difficulty breathing");
    assert_eq!(clinical["vitals"]["heart_rate"], 128.0);
    assert_eq!(
        clinical["note"],
        "collapsed at the matatu stage on Moi Avenue"
    );
    assert_eq!(clinical["sex"], "female");
    assert_eq!(clinical["age_band"]["from"], 30, "{clinical}");
    let medical = &first.json["medical"];
    assert_eq!(medical["blood_type"], "O+");
    assert_eq!(medical["allergies"][0]["severity"], "severe");
    assert_eq!(medical["medications"][0]["name"], "Salbutamol inhaler");
    for t in ["Observation", "MedicationStatement"] {
        assert!(types.contains(t), "{t} missing from {types}");
    }
    let entries = first.json["fhir"]["entry"].as_array().expect("entries");
    let resource = |kind: &str| {
        entries
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == kind)
            .collect::<Vec<_>>()
    };
    let request = resource("ServiceRequest")[0];
    let reasons = request["reasonCode"].to_string();
    assert!(
        reasons.contains("chest_pain") && reasons.contains("29857009"),
        "{reasons}"
    );
    let notes = request["note"].to_string();
    assert!(
        notes.contains("Moi Avenue")
            && notes.contains(alert["priority_reason"].as_str().expect("reason")),
        "{notes}"
    );
    let loinc: Vec<String> = resource("Observation")
        .iter()
        .map(|o| {
            o["code"]["coding"][0]["code"]
                .as_str()
                .expect("code")
                .to_owned()
        })
        .collect();
    for code in ["85354-9", "8867-4", "59408-5", "30525-0"] {
        assert!(
            loinc.iter().any(|c| c == code),
            "{code} missing from {loinc:?}"
        );
    }
    assert_eq!(resource("Patient")[0]["gender"], "female");
    assert_eq!(hl7["sex"], "F");
    let obx = hl7["observations"].as_array().expect("observations");
    let reading = |code: &str| {
        obx.iter()
            .filter(|o| o["code"] == code)
            .map(|o| o["value"].as_str().expect("value").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(reading("8867-4"), ["128"], "{obx:?}");
    assert_eq!(reading("8480-6"), ["95"]);
    assert_eq!(reading("30525-0"), ["^30^-^39"]);
    assert_eq!(reading("8661-1").len(), 2, "two chief complaints");
    assert!(reading("NOTE")[0].contains("Moi Avenue"));
    // Handing the profile over is a disclosure to that hospital in the patient's own log,
    // once however many attempts the delivery took.
    let (status, log) = call(
        &gw,
        "GET",
        "/api/v1/medical-profile/access-log",
        Some(&patient),
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let disclosures: Vec<&Value> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "medical.shared_with_hospital")
        .collect();
    assert_eq!(disclosures.len(), 1, "{log}");
    assert_eq!(disclosures[0]["recipient"], hospital.as_str());
    assert!(
        disclosures[0]["detail"]
            .as_str()
            .expect("detail")
            .contains(first.id())
    );

    // Who may answer: the hospital's staff; not a patient, not another hospital.
    let ack = json!({"alert_id": alert_id, "decision": "accept"});
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&patient),
        Some(ack.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let stranger = new_staff(&gw, "nurse", Some(other)).await;
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&stranger),
        Some(ack.clone()),
    )
    .await;
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
    let (status, answer) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&nurse),
        Some(ack.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "acknowledged");
    let (status, again) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&nurse),
        Some(ack),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    // The link in the packet answers for the same hospital, so it is too late as well.
    let link = first.json["ack_url"].as_str().expect("ack_url");
    let path = link.trim_start_matches(gw.base_url.as_str());
    let (status, shown) = call(&gw, "GET", path, None, None).await;
    assert_eq!(
        (status, shown["status"].as_str(), shown["state"].as_str()),
        (200, Some("acknowledged"), Some("accepted"))
    );
    // The answer page's plain form post is understood, and refused as plainly.
    let (status, kind, page) = post_form(link, "decision=accept").await;
    assert_eq!(
        (status, kind.as_str()),
        (409, "text/html; charset=utf-8"),
        "{page}"
    );
    assert!(page.contains("Your answer was not recorded"), "{page}");

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
    assert_eq!(
        (attempt["outcome"].as_str(), attempt["status_code"].as_u64()),
        (Some("delivered"), Some(200))
    );
    let timeline: Vec<&str> = status["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|t| t["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        timeline,
        ["triggered", "matched", "notified", "acknowledged"]
    );
    // A patient does not read the delivery records.
    let (code, _) = call(
        &gw,
        "GET",
        &format!("/api/v1/hospital/comms/status/{alert_id}"),
        Some(&patient),
        None,
    )
    .await;
    assert_eq!(code, 403);
    // Still one delivery, one id: nothing was sent twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: BTreeSet<String> = of_alert(&receiver.deliveries(), &alert_id, "alert.created")
        .iter()
        .map(|d| d.id().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        of_alert(&receiver.deliveries(), &alert_id, "alert.created").len(),
        1
    );
}

/// The backend files of a running embedded gateway, opened again as another process would.
fn second_process(gw: &RunningGateway, comms: CommsSettings) -> haven_platform::EmbeddedPorts {
    let dir = gw.data_dir.clone().expect("an embedded gateway");
    let mut ports = haven_platform::EmbeddedPorts::in_dir(dir).expect("ports");
    ports.comms = comms;
    ports.comms.allow_private_webhooks = true;
    ports
}

fn gaps(deliveries: &[&Delivery]) -> Vec<Duration> {
    deliveries
        .windows(2)
        .map(|p| p[1].at.duration_since(p[0].at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_growing_gaps_and_gets_the_alert_once() {
    let gw = gateway::embedded_with(Options::pipeline(settings(Duration::from_secs(60)))).await;
    let receiver = Receiver::start().await;
    webhooks_to(&gw, &receiver).await;
    receiver.script(&[Reply::Status(500), Reply::Status(500), Reply::Status(500)]);
    let (patient, _) = new_patient(&gw, "Baraka Mwangi").await;
    let alert = trigger(&gw, &patient, "trauma", CBD).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let deliveries = receiver
        .wait_until(Duration::from_secs(30), "a 2xx after three 500s", |d| {
            of_alert(d, &alert_id, "alert.created")
                .iter()
                .any(|d| d.answered == 200)
        })
        .await;
    let tries = of_alert(&deliveries, &alert_id, "alert.created");
    assert_eq!(
        tries.iter().map(|d| d.answered).collect::<Vec<_>>(),
        [500, 500, 500, 200]
    );
    assert!(
        tries.iter().all(|d| d.id() == tries[0].id()),
        "every attempt carries the same webhook-id"
    );
    let g = gaps(&tries);
    // Equal-jitter windows of 0.4, 0.8 and 1.6 s: each wait at least about the last one.
    let slack = Duration::from_millis(120);
    assert!(
        g[1] + slack >= g[0] && g[2] + slack >= g[1] && g[2] > g[0],
        "gaps {g:?}"
    );
    assert!(g[0] >= Duration::from_millis(150), "gaps {g:?}");
    let dispatcher = new_staff(&gw, "dispatcher", None).await;
    let status = comms_status(&gw, &dispatcher, &alert_id).await;
    let outcomes: Vec<&str> = status["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter(|a| a["channel"] == "webhook")
        .map(|a| a["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["http_500", "http_500", "http_500", "delivered"]);
    let retried = status["attempts"][0]["next_retry_at"].as_str().is_some()
        || status["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .any(|a| a["outcome"] == "http_500" && a["next_retry_at"].is_string());
    assert!(retried, "failed attempts name their next retry: {status}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        of_alert(&receiver.accepted(), &alert_id, "alert.created").len(),
        1,
        "delivered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_hospital_is_escalated_to_the_next_hospital_and_to_sms() {
    let gw = gateway::embedded_with(Options::pipeline(settings(Duration::from_secs(2)))).await;
    let healthy = Receiver::start().await;
    webhooks_to(&gw, &healthy).await;
    let (patient, _) = new_patient(&gw, "Chebet Kiprop").await;
    // Find the hospital this alert goes to first, then take its receiver down.
    let dispatcher = new_staff(&gw, "dispatcher", None).await;
    let (status, ranked) = call(
        &gw,
        "GET",
        &format!(
            "/api/v1/hospitals/nearby?lat={}&lng={}&specialty=respiratory&limit=1",
            CBD.0, CBD.1
        ),
        Some(&patient),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ranked}");
    let down = Receiver::start().await;
    down.answer_by_default(Reply::Status(503));
    let admin = admin(&gw).await;
    let mut first = String::new();
    // The first hospital (whichever the alert picks) must be the broken one: give every
    // Nairobi hospital the broken receiver and a desk number, then mend all but the first.
    for h in NAIROBI {
        let (s, b) = call(
            &gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}/webhook"),
            Some(&admin),
            Some(json!({"url": down.url})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = call(
            &gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}"),
            Some(&admin),
            Some(json!({"channels": ["webhook", "sms"], "sms_numbers": ["+254700000111"]})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (status, alert) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&patient),
        Some(json!({
            "latitude": CBD.0, "longitude": CBD.1, "emergency_type": "respiratory",
            "symptoms": ["difficulty_breathing"],
            "note": "asthma attack near Kencom bus stop",
        })),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    first.push_str(alert["hospital"]["hospital_id"].as_str().expect("hospital"));
    for h in NAIROBI.iter().filter(|h| **h != first) {
        let (s, _) = call(
            &gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}/webhook"),
            Some(&admin),
            Some(json!({"url": healthy.url})),
        )
        .await;
        assert_eq!(s, 200);
    }
    // The deadline passes: the next hospital is offered the alert...
    let deliveries = healthy
        .wait_until(Duration::from_secs(30), "the escalated offer", |d| {
            !of_alert(d, &alert_id, "alert.escalated").is_empty()
        })
        .await;
    let escalated = of_alert(&deliveries, &alert_id, "alert.escalated");
    let second = escalated[0].json["hospital_id"]
        .as_str()
        .expect("hospital")
        .to_owned();
    assert_ne!(second, first);
    assert!(
        !down.deliveries().is_empty(),
        "the first hospital was tried"
    );
    // ...and the silent one is texted, with a link to answer.
    let text = wait_for_text(&gw, &admin, &alert_id).await;
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/hospital/comms/ack/"))
        .expect("a link in the text");
    assert!(text.chars().count() <= 160, "{text}");
    // A text can be read over a shoulder or forwarded: no clinical detail in it.
    for clinical in ["asthma", "Kencom", "difficulty", "breathing"] {
        assert!(
            !text.to_lowercase().contains(&clinical.to_lowercase()),
            "{text}"
        );
    }
    let status = comms_status(&gw, &dispatcher, &alert_id).await;
    assert_eq!(status["offers"][0]["hospital_id"], first.as_str());
    assert!(status["offers"][0]["expired_at"].is_string(), "{status}");
    assert_eq!(
        status["offers"][0]["channels"],
        json!(["webhook", "hospital-api", "sms"])
    );
    assert_eq!(status["offers"][1]["hospital_id"], second.as_str());
    // The first hospital answers late, by the link in its SMS: it gets the patient, and the
    // second is told to stand down.
    let path = link.trim_start_matches(gw.base_url.as_str());
    let (s, answer) = call(&gw, "POST", path, None, Some(json!({"decision": "accept"}))).await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(answer["hospital_id"], first.as_str());
    assert_eq!(answer["status"], "acknowledged");
    healthy
        .wait_until(Duration::from_secs(15), "the stand-down", |d| {
            of_alert(d, &alert_id, "alert.cancelled")
                .iter()
                .any(|c| c.json["hospital_id"] == second.as_str())
        })
        .await;
    let (s, _) = call(&gw, "POST", path, None, Some(json!({"decision": "accept"}))).await;
    assert_eq!(s, 409);
    let (s, _) = call(
        &gw,
        "GET",
        "/api/v1/hospital/comms/ack/AAAAAAAAAAAAAAAAAAAAAA",
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

/// The first text with an answer link (each test gateway has its own outbox).
async fn wait_for_text(gw: &RunningGateway, admin: &str, alert_id: &str) -> String {
    for _ in 0..200 {
        let (s, outbox) = call(gw, "GET", "/local/sms-outbox", Some(admin), None).await;
        assert_eq!(s, 200, "{outbox}");
        if let Some(m) = outbox["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["text"].as_str().is_some_and(|t| t.contains("Answer:")))
        {
            return m["text"].as_str().expect("text").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no SMS for alert {alert_id}");
}

/// A form post to an answer link, as a page without JavaScript sends it.
async fn post_form(link: &str, form: &str) -> (u16, String, String) {
    let r = haven_tests::http::client()
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("form post");
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_answers_from_the_sms_link_in_a_real_browser() {
    let gw = gateway::embedded_with(Options::pipeline(settings(Duration::from_secs(60)))).await;
    let admin = admin(&gw).await;
    // Every Nairobi hospital is told by SMS: the link in the text is how it answers.
    for h in NAIROBI {
        let (s, b) = call(
            &gw,
            "PUT",
            &format!("/api/v1/hospitals/{h}"),
            Some(&admin),
            Some(json!({"channels": ["sms"], "sms_numbers": ["+254700000222"]})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (patient, _) = new_patient(&gw, "Otieno Ouma").await;
    let (status, alert) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&patient),
        Some(json!({
            "latitude": CBD.0, "longitude": CBD.1, "emergency_type": "trauma",
            "symptoms": ["severe_bleeding"],
            "note": "boda boda crash on Ngong Road",
        })),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let hospital_name = alert["hospital"]["name"].as_str().expect("name").to_owned();
    let text = wait_for_text(&gw, &admin, &alert_id).await;
    assert!(
        !text.contains("Ngong"),
        "no clinical detail in a text: {text}"
    );
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/hospital/comms/ack/"))
        .expect("a link in the text")
        .to_owned();

    // A program opening the link gets the same facts as JSON.
    let (s, shown) = call(
        &gw,
        "GET",
        link.trim_start_matches(gw.base_url.as_str()),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["hospital_name"], hospital_name.as_str());
    assert_eq!(shown["state"], "awaiting");
    assert_eq!(shown["clinical"]["note"], "boda boda crash on Ngong Road");
    assert!(
        shown["seconds_left"]
            .as_i64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{shown}"
    );

    // A browser at a cheap phone's size, JavaScript off.
    let screenshot = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/answer-page.png");
    let seen: Value = serde_json::from_str(&haven_tests::independent::run_script(
        "browser.py",
        &["answer", &link, screenshot],
        "",
    ))
    .expect("json from the browser");
    assert_eq!(seen["status"], 200, "{seen}");
    assert!(
        seen["content_type"]
            .as_str()
            .expect("type")
            .starts_with("text/html")
    );
    assert!(seen["bytes"].as_u64().expect("bytes") < 30 * 1024, "{seen}");
    let before = seen["before"].as_str().expect("before");
    for words in [
        hospital_name.as_str(),
        "CRITICAL",
        "Trauma emergency",
        "severe bleeding",
        "boda boda crash on Ngong Road",
        "km",
        "Time left to answer",
        "Kubali",
    ] {
        assert!(
            before.contains(words),
            "{words} missing from the page: {before}"
        );
    }
    assert_eq!(
        seen["declined_without_reason_sent"], false,
        "decline asks for a reason before it sends"
    );
    let after = seen["after"].as_str().expect("after");
    assert!(after.contains("Accepted"), "{after}");
    assert!(after.contains("You accepted at"), "{after}");
    assert_eq!(seen["forms_after"], 0, "nothing left to press");
    for request in seen["requests"].as_array().expect("requests") {
        let r = request.as_str().expect("request");
        assert!(r.contains(&gw.base_url), "the page loaded {r}");
    }
    // The alert is acknowledged by that hospital.
    let (s, status) = call(
        &gw,
        "GET",
        &format!("/api/v1/emergency/{alert_id}/status"),
        Some(&patient),
        None,
    )
    .await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["status"], "acknowledged", "{status}");
    // A second answer says so plainly, as a page.
    let (s, kind, page) = post_form(&link, "decision=decline&reason=No+free+beds").await;
    assert_eq!(
        (s, kind.as_str()),
        (409, "text/html; charset=utf-8"),
        "{page}"
    );
    assert!(page.contains("Your answer was not recorded"), "{page}");
    assert!(page.contains("already accepted by"), "{page}");
    // An unknown link is a page too, not a JSON error.
    let forged = format!(
        "{}/api/v1/hospital/comms/ack/AAAAAAAAAAAAAAAAAAAAAA",
        gw.base_url
    );
    let (s, kind, page) = post_form(&forged, "decision=accept").await;
    assert_eq!((s, kind.as_str()), (404, "text/html; charset=utf-8"));
    assert!(page.contains("expired or is not valid"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_stored_just_before_a_crash_is_published_by_the_relay_once() {
    let mut comms = settings(Duration::from_secs(60));
    comms.relay_after = Duration::from_millis(500);
    let gw = gateway::embedded_with(Options::pipeline(comms.clone())).await;
    let receiver = Receiver::start().await;
    webhooks_to(&gw, &receiver).await;
    let (_, patient_id) = new_patient(&gw, "Dalmas Ouma").await;
    // Another process stores the alert and dies before publishing: its topic is down.
    let crashed = haven_platform::faults::PublisherDown(second_process(&gw, comms));
    let reporter = haven_alerts::emergencies::trigger::Reporter {
        user_id: patient_id,
        bypass: None,
    };
    let request = haven_alerts::emergencies::trigger::TriggerRequest {
        latitude: CBD.0,
        longitude: CBD.1,
        accuracy_m: Some(10.0),
        emergency_type: "burn".into(),
        note: None,
        symptoms: vec![],
        vitals: None,
    };
    let stored = haven_alerts::emergencies::trigger::trigger(&crashed, &reporter, request, None)
        .await
        .expect("stored although it could not be published");
    let alert_id = stored.alert.alert_id.clone();
    let deliveries = receiver
        .wait_until(Duration::from_secs(20), "the relayed alert", |d| {
            !of_alert(d, &alert_id, "alert.created").is_empty()
        })
        .await;
    assert_eq!(of_alert(&deliveries, &alert_id, "alert.created").len(), 1);
    // The relay runs on; nothing is sent again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        of_alert(&receiver.deliveries(), &alert_id, "alert.created").len(),
        1
    );
    let ports = second_process(&gw, settings(Duration::from_secs(60)));
    assert!(
        haven_alerts::emergencies::handoff::pending(&ports, 10)
            .await
            .expect("outbox")
            .is_empty()
    );
}

/// One batch from `queue`, handed to the webhook worker in a task the test can kill.
async fn receive_batch(
    ports: &haven_platform::EmbeddedPorts,
    queue: &str,
    visibility: Duration,
) -> aws_lambda_events::sqs::SqsEvent {
    use haven_kernel::ports::{Queue, ReceiveOptions};
    let messages = ports
        .backend
        .queue
        .receive(
            queue,
            ReceiveOptions {
                max_messages: 10,
                wait: Duration::from_secs(2),
                visibility: Some(visibility),
            },
        )
        .await
        .expect("receive");
    serde_json::from_value(haven_local::events::sqs_event(queue, &messages)).expect("event")
}

fn invocation(
    event: aws_lambda_events::sqs::SqsEvent,
) -> lambda_runtime::LambdaEvent<aws_lambda_events::sqs::SqsEvent> {
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_delivers_once_under_one_id() {
    let gw = gateway::embedded().await;
    let receiver = Receiver::start().await;
    webhooks_to(&gw, &receiver).await;
    let (patient, _) = new_patient(&gw, "Esther Njeri").await;
    let mut alerts = Vec::new();
    for (i, kind) in ["cardiac", "trauma", "burn"].iter().enumerate() {
        let at = (CBD.0 + 0.01 * i as f64, CBD.1);
        let alert = trigger(&gw, &patient, kind, at).await;
        alerts.push(alert["alert_id"].as_str().expect("id").to_owned());
    }
    let mut comms = settings(Duration::from_secs(60));
    comms.attempt_timeout = Duration::from_secs(2);
    let ports = std::sync::Arc::new(second_process(&gw, comms));
    // The second delivery hangs; the worker is killed while it waits.
    receiver.script(&[Reply::Status(200), Reply::Hang(Duration::from_secs(3))]);
    let event = receive_batch(&ports, "webhook", Duration::from_secs(1)).await;
    assert_eq!(event.records.len(), 3);
    let worker_ports = ports.clone();
    let worker = tokio::spawn(async move {
        haven_comms::webhook_worker(worker_ports.as_ref(), invocation(event)).await
    });
    receiver
        .wait_until(Duration::from_secs(10), "two requests in flight", |d| {
            d.len() >= 2
        })
        .await;
    worker.abort();
    let _ = worker.await;
    // The event source comes back to the batch after its visibility timeout.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let outcome = haven_local::workers::poll_once(
            &ports,
            "webhook",
            10,
            Duration::from_secs(1),
            |p, e| Box::pin(async move { haven_comms::webhook_worker(p.as_ref(), e).await }),
        )
        .await
        .expect("poll");
        let done = alerts
            .iter()
            .all(|a| !of_alert(&receiver.accepted(), a, "alert.created").is_empty());
        if done && outcome.received == 0 {
            break;
        }
    }
    let deliveries = receiver.deliveries();
    for a in &alerts {
        let tries = of_alert(&deliveries, a, "alert.created");
        assert!(!tries.is_empty(), "alert {a} was delivered");
        let ids: BTreeSet<&str> = tries.iter().map(|d| d.id()).collect();
        assert_eq!(ids.len(), 1, "alert {a}: one webhook-id for every attempt");
    }
    // The first request of the killed batch had been answered and recorded: not sent again.
    let sent_twice = alerts
        .iter()
        .filter(|a| of_alert(&deliveries, a, "alert.created").len() > 1)
        .count();
    assert!(sent_twice <= 2, "only what was in flight is sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_parked_and_the_rest_of_the_batch_is_delivered() {
    use haven_kernel::ports::{OutgoingMessage, Queue, ReceiveOptions};
    let gw = gateway::embedded().await;
    let receiver = Receiver::start().await;
    webhooks_to(&gw, &receiver).await;
    let (patient, _) = new_patient(&gw, "Faith Akinyi").await;
    let alert = trigger(&gw, &patient, "trauma", CBD).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let ports = std::sync::Arc::new(second_process(&gw, settings(Duration::from_secs(60))));
    for poison in ["{\"event\": 42", "not json at all"] {
        ports
            .backend
            .queue
            .send("webhook", OutgoingMessage::new(poison))
            .await
            .expect("send");
    }
    let outcome =
        haven_local::workers::poll_once(&ports, "webhook", 10, Duration::from_secs(1), |p, e| {
            Box::pin(async move { haven_comms::webhook_worker(p.as_ref(), e).await })
        })
        .await
        .expect("poll");
    assert_eq!(
        (outcome.received, outcome.deleted, outcome.failed),
        (3, 3, 0)
    );
    assert_eq!(
        of_alert(&receiver.accepted(), &alert_id, "alert.created").len(),
        1
    );
    let parked = ports
        .backend
        .queue
        .receive("webhook-dlq", ReceiveOptions::default())
        .await
        .expect("dlq");
    let bodies: BTreeSet<&str> = parked.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        BTreeSet::from(["{\"event\": 42", "not json at all"])
    );
    assert!(parked.iter().all(|m| {
        m.attributes
            .get("haven_reason")
            .is_some_and(|r| r.contains("not an alert event"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_alerts_is_delivered_exactly_once() {
    let report = haven_tests::burst::run(120, 8, Duration::from_secs(120)).await;
    assert_eq!(report.alerts, 120);
    assert_eq!(report.missing, 0, "every alert is delivered");
    assert_eq!(report.duplicated, 0, "no alert arrives twice");
}

fn verifies(secret: &str, d: &Delivery) -> bool {
    haven_alerts::comms::signing::verify(
        &haven_alerts::comms::signing::Secret::parse(secret).expect("secret"),
        d.id(),
        d.header("webhook-timestamp").parse().expect("timestamp"),
        &d.body,
        d.header("webhook-signature"),
        chrono::Utc::now().timestamp(),
    )
    .is_ok()
}

async fn a_dispatcher_sends_again_and_moves_an_alert_on(
    make: impl AsyncFnOnce(Options) -> RunningGateway,
) {
    let gw = make(Options::pipeline(settings(Duration::from_secs(60)))).await;
    let receiver = Receiver::start().await;
    let secrets = webhooks_to(&gw, &receiver).await;
    let (patient, _) = new_patient(&gw, "Grace Wambui").await;
    let alert = trigger(&gw, &patient, "trauma", CBD).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let first = alert["hospital"]["hospital_id"]
        .as_str()
        .expect("hospital")
        .to_owned();
    receiver
        .wait_until(Duration::from_secs(30), "the first delivery", |d| {
            !of_alert(d, &alert_id, "alert.created").is_empty()
        })
        .await;
    // The hospital rotates its secret; the old one keeps signing alongside the new.
    let admin = admin(&gw).await;
    let (s, rotated) = call(
        &gw,
        "POST",
        &format!("/api/v1/hospitals/{first}/webhook/rotate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secrets[&first]);

    let dispatcher = new_staff(&gw, "dispatcher", None).await;
    let nurse = new_staff(&gw, "nurse", Some(&first)).await;
    let again = json!({"alert_id": alert_id, "reason": "the desk says nothing arrived"});
    // Who may, and what is refused.
    let (s, _) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/alert",
        Some(&nurse),
        Some(again.clone()),
    )
    .await;
    assert_eq!(s, 403);
    let (s, p) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/alert",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id, "bogus": 1})),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    let (s, p) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/fallback",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id, "reason": "x".repeat(201)})),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (422, Some("reason")), "{p}");
    let (s, _) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/fallback",
        Some(&dispatcher),
        Some(json!({"alert_id": "0193f0c1-0000-7000-8000-00000000dead"})),
    )
    .await;
    assert_eq!(s, 404);

    // Sent again: a new delivery with a new id, signed with both secrets.
    let (s, status) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/alert",
        Some(&dispatcher),
        Some(again),
    )
    .await;
    assert_eq!(s, 200, "{status}");
    let deliveries = receiver
        .wait_until(Duration::from_secs(30), "the second sending", |d| {
            of_alert(d, &alert_id, "alert.created").len() >= 2
        })
        .await;
    let created = of_alert(&deliveries, &alert_id, "alert.created");
    assert_ne!(created[0].id(), created[1].id());
    assert_eq!(created[1].header("webhook-signature").split(' ').count(), 2);
    assert!(verifies(&new_secret, created[1]) && verifies(&secrets[&first], created[1]));
    assert!(
        !verifies(&new_secret, created[0]),
        "the first delivery predates the new secret"
    );

    // Moved on: the next hospital is asked at once.
    let (s, status) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/fallback",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id, "reason": "phone lines down"})),
    )
    .await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["status"], "escalated");
    let second = status["hospital_id"]
        .as_str()
        .expect("next hospital")
        .to_owned();
    assert_ne!(second, first);
    receiver
        .wait_until(Duration::from_secs(30), "the escalated offer", |d| {
            of_alert(d, &alert_id, "alert.escalated")
                .iter()
                .any(|e| e.json["hospital_id"] == second.as_str())
        })
        .await;
    let accepting = new_staff(&gw, "doctor", Some(&second)).await;
    let (s, answer) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&accepting),
        Some(json!({"alert_id": alert_id, "decision": "accept"})),
    )
    .await;
    assert_eq!(
        (s, answer["status"].as_str()),
        (200, Some("acknowledged")),
        "{answer}"
    );
    let (s, p) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/fallback",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id})),
    )
    .await;
    assert_eq!(s, 409, "{p}");
}
