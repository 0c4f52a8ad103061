//! The comms handlers on the sample events of `events/`, and the escalation rules on the
//! embedded backend with a clock the test moves.

use std::sync::Arc;

use haven_alerts::comms::escalation::{self, DeadlineOutcome, Responder};
use haven_alerts::comms::{DeadlineMessage, Decision};
use haven_alerts::emergencies::trigger::{self, Reporter, TriggerRequest};
use haven_alerts::hospitals::{import, manage};
use haven_edge::Caller;
use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::ports::{Ports, Queue, ReceiveOptions};
use haven_kernel::{ManualClock, RandomIds, Role, Timestamp};
use haven_platform::EmbeddedPorts;

fn ports() -> (EmbeddedPorts, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = ManualClock::at(Timestamp::from_millis(1_795_000_000_000));
    let ports = EmbeddedPorts::open(
        dir.path().to_path_buf(),
        Arc::new(clock.clone()),
        Arc::new(RandomIds),
    )
    .expect("ports");
    (ports, clock, dir)
}

async fn with_hospitals(ports: &EmbeddedPorts) {
    let json = r#"[
      {"hospital_id": "demo-knh", "name": "Kenyatta National Hospital", "latitude": -1.3009, "longitude": 36.8073, "level": 6, "specialties": ["emergency", "trauma", "cardiac", "icu"], "beds_total": 1800, "beds_available": 35, "icu_beds_available": 4, "ed_status": "open"},
      {"hospital_id": "demo-mbagathi", "name": "Mbagathi County Hospital", "latitude": -1.3105, "longitude": 36.8050, "level": 4, "specialties": ["emergency"], "beds_total": 170, "beds_available": 6, "ed_status": "open"}
    ]"#;
    let parsed = import::parse_json(json.as_bytes()).expect("json");
    import::import(ports, parsed.hospitals, false)
        .await
        .expect("import");
}

fn claims(role: Role, hospital: Option<&str>) -> Claims {
    Claims {
        iss: "haven".into(),
        aud: "haven".into(),
        sub: format!("{}-1", role.as_str()),
        exp: 1_795_000_900,
        iat: 1_795_000_000,
        jti: "j1".into(),
        kind: TokenKind::Access,
        role,
        hospital_id: hospital.map(str::to_owned),
        fam: None,
        alert_id: None,
    }
}

fn text(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event")
}

fn http(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&text(name)).expect("an HTTP API event")
}

fn invocation<T: serde::de::DeserializeOwned>(name: &str) -> lambda_runtime::LambdaEvent<T> {
    lambda_runtime::LambdaEvent::new(
        serde_json::from_str(&text(name)).expect("event"),
        lambda_runtime::Context::default(),
    )
}

async fn body(response: lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("json")
}

#[tokio::test]
async fn handlers_answer_the_sample_events() {
    let (mut ports, _clock, _dir) = ports();
    ports.comms.allow_private_webhooks = false;
    with_hospitals(&ports).await;
    let admin = || Caller::Signed(claims(Role::SystemAdmin, None));
    let configured = crate::webhook_configure(&ports, admin(), http("comms-webhook-configure"))
        .await
        .expect("configured");
    assert_eq!(configured.status(), 200);
    let configured = body(configured).await;
    assert!(
        configured["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );
    assert_eq!(configured["formats"], serde_json::json!(["fhir", "hl7v2"]));
    let hospital = manage::load(&ports, "demo-knh").await.expect("hospital");
    assert!(
        hospital
            .channels
            .contains(&haven_alerts::hospitals::Channel::Webhook)
    );
    let rotated = body(
        crate::webhook_rotate(&ports, admin(), http("comms-webhook-rotate"))
            .await
            .expect("rotated"),
    )
    .await;
    assert_ne!(rotated["secret"], configured["secret"]);
    // Another hospital's admin may not touch this one's endpoint.
    let other = Caller::Signed(claims(Role::HospitalAdmin, Some("demo-mbagathi")));
    let refused = crate::webhook_rotate(&ports, other, http("comms-webhook-rotate")).await;
    assert_eq!(
        refused.expect_err("forbidden").into_response(None).status(),
        403
    );
    // Unknown alerts and links are 404s.
    let dispatcher = Caller::Signed(claims(Role::Dispatcher, None));
    let missing = crate::status(&ports, dispatcher, http("comms-status")).await;
    assert_eq!(missing.expect_err("404").into_response(None).status(), 404);
    let link = crate::ack_link(&ports, Caller::Anonymous, http("comms-ack-link")).await;
    assert_eq!(link.expect_err("404").into_response(None).status(), 404);
    // A browser opening it, or the answer page's form, gets a page saying so, not JSON.
    let mut opened = http("comms-ack-link");
    opened.headers_mut().insert(
        "accept",
        "text/html,application/xhtml+xml,*/*;q=0.8"
            .parse()
            .expect("header"),
    );
    let mut answered = http("comms-ack-link-answer");
    answered.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    *answered.body_mut() = lambda_http::Body::Text("decision=accept".into());
    for page in [
        crate::ack_link(&ports, Caller::Anonymous, opened).await,
        crate::ack_link_answer(&ports, Caller::Anonymous, answered).await,
    ] {
        let page = page.expect("a page");
        assert_eq!(page.status(), 404);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let text = String::from_utf8_lossy(page.body().as_ref()).into_owned();
        assert!(text.contains("expired or is not valid"), "{text}");
    }
    // The webhook worker parks a message about an alert that does not exist...
    let batch = crate::webhook_worker(&ports, invocation("comms-webhook-worker"))
        .await
        .expect("batch");
    assert!(batch.batch_item_failures.is_empty());
    let parked = ports
        .queue()
        .receive("webhook-dlq", ReceiveOptions::default())
        .await
        .expect("dlq");
    assert_eq!(parked.len(), 1);
    assert_eq!(
        parked[0].attributes.get("haven_reason").map(String::as_str),
        Some("no such alert")
    );
    // ...a deadline for it is simply stale, and the relay finds nothing stranded.
    let batch = crate::deadline_worker(&ports, invocation("comms-deadline-worker"))
        .await
        .expect("batch");
    assert!(batch.batch_item_failures.is_empty());
    let relayed = crate::outbox_relay(&ports, invocation("comms-outbox-relay"))
        .await
        .expect("relay");
    assert_eq!(relayed, serde_json::json!({"found": 0, "published": 0}));
}

#[tokio::test]
async fn silence_then_a_decline_leaves_the_alert_to_a_dispatcher_and_counts_both() {
    let (ports, clock, _dir) = ports();
    with_hospitals(&ports).await;
    let reporter = Reporter {
        user_id: "patient-1".into(),
        bypass: None,
    };
    let request = TriggerRequest {
        latitude: -1.2864,
        longitude: 36.8172,
        accuracy_m: Some(10.0),
        emergency_type: "trauma".into(),
        note: None,
        symptoms: vec![],
        vitals: None,
    };
    let alert = trigger::trigger(&ports, &reporter, request, None)
        .await
        .expect("alert")
        .alert;
    let first = alert
        .hospital
        .as_ref()
        .expect("matched")
        .hospital_id
        .clone();
    assert_eq!(first, "demo-knh");
    // The timer fires after the deadline: Mbagathi is asked next.
    clock.advance(ports.comms().ack_deadline);
    let deadline = DeadlineMessage {
        alert_id: alert.alert_id.clone(),
        hospital_id: first.clone(),
        offer: 1,
        round: 0,
    };
    // Nothing reached KNH (no worker ran here): it is sent again once, not passed over.
    let outcome = escalation::on_deadline(&ports, &deadline)
        .await
        .expect("redriven");
    assert_eq!(outcome, DeadlineOutcome::Redriven);
    // A second copy of that first timer (a crash hands messages over again) is stale: the
    // new deadline runs from the redrive.
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        escalation::on_deadline(&ports, &deadline)
            .await
            .expect("stale"),
        DeadlineOutcome::Stale
    );
    clock.advance(ports.comms().ack_deadline - std::time::Duration::from_secs(1));
    let outcome = escalation::on_deadline(&ports, &deadline)
        .await
        .expect("escalated");
    assert_eq!(
        outcome,
        DeadlineOutcome::Escalated {
            status: haven_alerts::emergencies::Status::Escalated
        }
    );
    // The same timer again (SQS delivers at least once) changes nothing.
    assert_eq!(
        escalation::on_deadline(&ports, &deadline)
            .await
            .expect("stale"),
        DeadlineOutcome::Stale
    );
    // A nurse at KNH cannot decline for Mbagathi; Mbagathi's can.
    let mbagathi = Responder::Staff {
        user_id: "nurse-2".into(),
        role: Role::Nurse,
        hospital_id: Some("demo-mbagathi".into()),
    };
    clock.advance(std::time::Duration::from_secs(20));
    let declined = escalation::answer(
        &ports,
        &mbagathi,
        &alert.alert_id,
        Decision::Decline,
        Some("no theatre"),
    )
    .await
    .expect("declined");
    assert_eq!(
        declined.status,
        haven_alerts::emergencies::Status::Escalated
    );
    // KNH answers late and takes it after all.
    let knh = Responder::Staff {
        user_id: "nurse-1".into(),
        role: Role::Nurse,
        hospital_id: Some("demo-knh".into()),
    };
    let accepted = escalation::answer(&ports, &knh, &alert.alert_id, Decision::Accept, None)
        .await
        .expect("accepted");
    assert_eq!(
        accepted.status,
        haven_alerts::emergencies::Status::Acknowledged
    );
    let knh = manage::load(&ports, "demo-knh").await.expect("knh");
    // One offer: counted when it expired, not again when it was accepted late.
    let p = knh.performance;
    assert_eq!((p.offered, p.accepted, p.acknowledged), (1, 1, 1));
    // Two deadlines (the first sent it again) and 20 s more.
    let waited = 2 * ports.comms().ack_deadline.as_secs() + 20;
    assert_eq!(knh.performance.ack_seconds_total, waited);
    let mbagathi = manage::load(&ports, "demo-mbagathi")
        .await
        .expect("mbagathi");
    assert_eq!(
        (mbagathi.performance.offered, mbagathi.performance.accepted),
        (1, 0)
    );
}
