//! Alert use cases where time, the SMS outbox or the sample events matter: on the embedded
//! ports with a clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use haven_alerts::emergencies::lifecycle;
use haven_alerts::emergencies::trigger::{self, Outcome, Reporter, TriggerRequest};
use haven_alerts::emergencies::view::Viewer;
use haven_alerts::hospitals::import;
use haven_edge::Caller;
use haven_identity_core::accounts::{self, NewAccount};
use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::ports::{Ports, Queue};
use haven_kernel::{DomainError, ManualClock, RandomIds, Role, Timestamp};
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
      {"hospital_id": "knh", "name": "Kenyatta National Hospital", "latitude": -1.3009, "longitude": 36.8073, "level": 6, "specialties": ["emergency", "trauma", "cardiac", "icu"], "beds_total": 1800, "beds_available": 35, "icu_beds_available": 4, "ed_status": "open"},
      {"hospital_id": "mbagathi", "name": "Mbagathi County Hospital", "latitude": -1.3105, "longitude": 36.8050, "level": 4, "specialties": ["emergency"], "beds_total": 170, "beds_available": 6, "ed_status": "open"}
    ]"#;
    let parsed = import::parse_json(json.as_bytes()).expect("json");
    import::import(ports, parsed.hospitals, false)
        .await
        .expect("import");
}

fn request(lat: f64, lng: f64, kind: &str) -> TriggerRequest {
    TriggerRequest {
        latitude: lat,
        longitude: lng,
        accuracy_m: Some(10.0),
        emergency_type: kind.into(),
        note: None,
        symptoms: vec![],
        vitals: None,
    }
}

/// A signed-in patient's alert.
async fn tap(
    ports: &EmbeddedPorts,
    user: &str,
    (lat, lng, kind): (f64, f64, &str),
    key: Option<&str>,
) -> Result<trigger::Triggered, DomainError> {
    trigger::trigger(ports, &app(user), request(lat, lng, kind), key).await
}

fn app(user: &str) -> Reporter {
    Reporter {
        user_id: user.into(),
        bypass: None,
    }
}

#[tokio::test]
async fn a_second_tap_joins_within_five_minutes_and_not_after() {
    let (ports, clock, _dir) = ports();
    with_hospitals(&ports).await;
    let first = tap(&ports, "p1", (-1.29, 36.82, "trauma"), None)
        .await
        .expect("first");
    assert_eq!(first.outcome, Outcome::Created);
    clock.advance(Duration::from_secs(4 * 60));
    let second = tap(&ports, "p1", (-1.2905, 36.82, "trauma"), None)
        .await
        .expect("second");
    assert_eq!(
        (second.outcome, &second.alert.alert_id),
        (Outcome::Joined, &first.alert.alert_id)
    );
    // Someone else at the same spot has their own emergency.
    let other = tap(&ports, "p2", (-1.29, 36.82, "trauma"), None)
        .await
        .expect("other");
    assert_eq!(other.outcome, Outcome::Created);
    clock.advance(Duration::from_secs(2 * 60));
    let later = tap(&ports, "p1", (-1.29, 36.82, "trauma"), None)
        .await
        .expect("later");
    assert_eq!(later.outcome, Outcome::Created, "the window has passed");
    assert_ne!(later.alert.alert_id, first.alert.alert_id);
}

#[tokio::test]
async fn an_idempotency_key_outlives_the_join_window_but_not_a_day() {
    let (ports, clock, _dir) = ports();
    with_hospitals(&ports).await;
    let first = tap(&ports, "p1", (-1.29, 36.82, "burn"), Some("k-1"))
        .await
        .expect("first");
    clock.advance(Duration::from_secs(3 * 3600));
    let retry = tap(&ports, "p1", (-1.29, 36.82, "burn"), Some("k-1"))
        .await
        .expect("retry");
    assert_eq!(
        (retry.outcome, &retry.alert.alert_id),
        (Outcome::Replayed, &first.alert.alert_id)
    );
    clock.advance(Duration::from_secs(24 * 3600));
    let fresh = tap(&ports, "p1", (-1.29, 36.82, "burn"), Some("k-1"))
        .await
        .expect("fresh");
    assert_eq!(fresh.outcome, Outcome::Created);
}

#[tokio::test]
async fn a_bypass_alert_is_verified_by_the_code_texted_to_the_phone() {
    let (ports, _clock, _dir) = ports();
    with_hospitals(&ports).await;
    let created = accounts::register(
        &ports,
        NewAccount {
            email: "wanjiru@example.org".into(),
            password: "amber falcon river quartz 42".into(),
            full_name: "Wanjiru Mwangi".into(),
            phone: Some("+254712345678".into()),
            role: None,
            hospital_id: None,
        },
    )
    .await
    .expect("register");
    let reporter = Reporter {
        user_id: created.user_id.clone(),
        bypass: Some(("jti-1".into(), 1_795_000_900)),
    };
    let alert = trigger::trigger(&ports, &reporter, request(-1.29, 36.82, "other"), None)
        .await
        .expect("trigger");
    assert_eq!(alert.alert.status.as_str(), "unverified");
    let id = alert.alert.alert_id.clone();
    let outbox = ports.backend.publisher.sms_outbox().expect("outbox");
    let sms = outbox.last().expect("a code was texted");
    assert_eq!(sms.phone_number, "+254712345678");
    let code: String = sms
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();

    let holder = Viewer {
        user_id: created.user_id.clone(),
        role: Role::Patient,
        hospital_id: None,
        bypass_jti: Some("jti-1".into()),
    };
    // Another bypass token of the same person does not reach this alert.
    let other_token = Viewer {
        bypass_jti: Some("jti-2".into()),
        ..holder.clone()
    };
    assert_eq!(
        lifecycle::status(&ports, &other_token, &id).await,
        Err(DomainError::NotFound("alert".into()))
    );
    let wrong = lifecycle::verify(&ports, &holder, &id, Some("999999x")).await;
    assert_eq!(wrong.expect_err("wrong code").field(), Some("code"));
    assert_eq!(
        ports
            .queue()
            .depth("hospital-api")
            .await
            .expect("depth")
            .visible,
        0,
        "nobody told yet"
    );
    let verified = lifecycle::verify(&ports, &holder, &id, Some(&code))
        .await
        .expect("verified");
    assert_eq!(verified.status.as_str(), "matched");
    assert_eq!(verified.timeline.len(), 4, "{:?}", verified.timeline);
    assert_eq!(
        ports
            .queue()
            .depth("hospital-api")
            .await
            .expect("depth")
            .visible,
        1
    );
    // The code worked once.
    let again = lifecycle::verify(&ports, &holder, &id, Some(&code)).await;
    assert!(
        matches!(again, Err(DomainError::Conflict { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn handlers_answer_the_sample_events() {
    let (ports, _clock, _dir) = ports();
    with_hospitals(&ports).await;
    let claims = Claims {
        iss: "haven".into(),
        aud: "haven".into(),
        sub: "patient-1".into(),
        exp: 1_795_000_900,
        iat: 1_795_000_000,
        jti: "j1".into(),
        kind: TokenKind::Access,
        role: Role::Patient,
        hospital_id: None,
        fam: None,
        alert_id: None,
    };
    let event = |name: &str| {
        let text = std::fs::read_to_string(format!(
            "{}/../../events/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("event");
        lambda_http::request::from_str(&text).expect("an HTTP API event")
    };
    let caller = || Caller::Signed(claims.clone());
    let first = crate::alert(&ports, caller(), event("emergency-alert"))
        .await
        .expect("created");
    assert_eq!(first.status(), 201);
    assert!(first.headers().contains_key("location"));
    let retried = crate::alert(&ports, caller(), event("emergency-alert"))
        .await
        .expect("replayed");
    assert_eq!(
        retried.status(),
        200,
        "the sample carries an Idempotency-Key"
    );
    let body: serde_json::Value = match retried.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(body["priority"], "critical");
    assert_eq!(
        body["hospital"]["hospital_id"], "knh",
        "cardiac care: {body}"
    );
    // The sample status event names an alert this patient does not have.
    let missing = crate::status(&ports, caller(), event("emergency-status")).await;
    assert_eq!(
        missing.expect_err("not found").into_response(None).status(),
        404
    );
    let history = crate::history(&ports, caller(), event("emergency-history"))
        .await
        .expect("history");
    assert_eq!(history.status(), 200);
}

#[tokio::test]
async fn a_stored_alert_keeps_its_event_when_publishing_fails() {
    use haven_alerts::emergencies::handoff;
    let (ports, _clock, _dir) = ports();
    with_hospitals(&ports).await;
    let down = haven_platform::faults::PublisherDown(ports);
    let alert = trigger::trigger(&down, &app("p1"), request(-1.29, 36.82, "trauma"), None)
        .await
        .expect("stored and answered although nobody could be told yet");
    assert_eq!(alert.outcome, Outcome::Created);
    assert_eq!(alert.alert.status.as_str(), "matched");
    let ports = down.0;
    let pending = handoff::pending(&ports, 10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    let event = handoff::message_of(&pending[0]).expect("event");
    assert_eq!(event["alert_id"], alert.alert.alert_id.as_str());
    assert_eq!(event["event"], "alert.created");
    assert_eq!(
        ports
            .queue()
            .depth("hospital-api")
            .await
            .expect("depth")
            .visible,
        0
    );
    // Once the publisher is back, the relay's step delivers it and clears the outbox.
    assert_eq!(handoff::deliver(&ports, &pending).await, 1);
    assert!(
        handoff::pending(&ports, 10)
            .await
            .expect("outbox")
            .is_empty()
    );
    assert_eq!(
        ports
            .queue()
            .depth("hospital-api")
            .await
            .expect("depth")
            .visible,
        1
    );
}
