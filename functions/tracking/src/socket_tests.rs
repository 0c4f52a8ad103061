//! The tracking handlers on the sample events of `events/`: the WebSocket routes with real
//! tokens, and the HTTP routes, on the embedded backend.

use crate::connection_key;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use haven_alerts::emergencies::trigger::{self, Reporter, TriggerRequest};
use haven_alerts::hospitals::import;
use haven_alerts::tracking::watchers;
use haven_identity_core::accounts::{self, Admin, NewAccount};
use haven_identity_core::sessions::{self, Credentials, LoginOutcome};
use haven_kernel::Role;
use haven_kernel::ports::{Ports, Table};
use haven_platform::EmbeddedPorts;
use lambda_runtime::{Context, LambdaEvent};

type Event = LambdaEvent<ApiGatewayWebsocketProxyRequest>;

fn event(name: &str) -> Event {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    LambdaEvent::new(
        serde_json::from_str(&text).expect("WebSocket event"),
        Context::default(),
    )
}

fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    (ports, dir)
}

const SAMPLE_CONNECTION: &str = "L0SM9cOFvHcCIhw=";
const PASSWORD: &str = "amber falcon river quartz 42";

/// A new account of `role`, signed in: (user id, access token).
async fn account(ports: &EmbeddedPorts, role: Role) -> (String, String) {
    account_at(ports, role, None).await
}

async fn account_at(ports: &EmbeddedPorts, role: Role, hospital: Option<&str>) -> (String, String) {
    let email = format!("{}-{}@example.org", role.as_str(), ports.ids().next_id());
    let admin = Admin {
        user_id: "root".into(),
        role: Role::SystemAdmin,
        hospital_id: None,
    };
    let created = accounts::create_user(
        ports,
        &admin,
        NewAccount {
            email: email.clone(),
            password: PASSWORD.into(),
            full_name: "Test Person".into(),
            phone: None,
            role: Some(role),
            hospital_id: hospital.map(str::to_owned),
        },
    )
    .await
    .expect("account");
    let outcome = sessions::login(
        ports,
        Credentials {
            email,
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("login");
    let LoginOutcome::Tokens(tokens) = outcome else {
        panic!("no MFA here")
    };
    (created.user_id, tokens.access_token)
}

async fn alert_of(ports: &EmbeddedPorts, patient: &str) -> String {
    let json = r#"[{"hospital_id": "demo-knh", "name": "Kenyatta National Hospital", "latitude": -1.3009, "longitude": 36.8073, "level": 6, "specialties": ["emergency", "trauma"], "beds_total": 1800, "beds_available": 35, "ed_status": "open"}]"#;
    let parsed = import::parse_json(json.as_bytes()).expect("json");
    import::import(ports, parsed.hospitals, false)
        .await
        .expect("import");
    let request: TriggerRequest = serde_json::from_value(serde_json::json!({
        "latitude": -1.2921, "longitude": 36.8219, "emergency_type": "trauma"
    }))
    .expect("request");
    let reporter = Reporter {
        user_id: patient.into(),
        bypass: None,
    };
    trigger::trigger(ports, &reporter, request, None)
        .await
        .expect("alert")
        .alert
        .alert_id
}

fn connect_event(connection: &str, token: Option<&str>, alert: Option<&str>) -> Event {
    let mut e = event("ws-connect");
    e.payload.request_context.connection_id = Some(connection.into());
    e.payload.headers.remove("sec-websocket-protocol");
    let mut query = std::collections::HashMap::new();
    if let Some(t) = token {
        query.insert("token".to_owned(), vec![t.to_owned()]);
    }
    if let Some(a) = alert {
        query.insert("alert_id".to_owned(), vec![a.to_owned()]);
    }
    e.payload.query_string_parameters = query.into();
    e
}

fn message(name: &str, connection: &str, body: serde_json::Value) -> Event {
    let mut e = event(name);
    e.payload.request_context.connection_id = Some(connection.into());
    e.payload.body = Some(body.to_string());
    e
}

fn received(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    while let Ok(bytes) = rx.try_recv() {
        all.push(serde_json::from_slice(&bytes).expect("JSON"));
    }
    all
}

#[tokio::test]
async fn connect_needs_a_token_and_a_watcher_s_role_and_refuses_others_alerts() {
    let (ports, _dir) = ports();
    let (patient, patient_token) = account(&ports, Role::Patient).await;
    let (_, other_token) = account(&ports, Role::Patient).await;
    let alert = alert_of(&ports, &patient).await;
    let (_, pharmacist_token) = account_at(&ports, Role::Pharmacist, Some("demo-knh")).await;

    let status = |e| async {
        crate::ws_connect(&ports, e)
            .await
            .expect("connect")
            .status_code
    };
    assert_eq!(
        status(event("ws-connect")).await,
        401,
        "the sample's placeholder token"
    );
    assert_eq!(status(connect_event("c1", None, None)).await, 401);
    assert_eq!(
        status(connect_event("c1", Some("not-a-jwt"), None)).await,
        401
    );
    assert_eq!(
        status(connect_event("c1", Some(&pharmacist_token), None)).await,
        403
    );
    assert_eq!(
        status(connect_event("CONNECTION#x", Some(&patient_token), None)).await,
        400
    );
    // Another patient cannot watch this alert, and leaves nothing behind.
    assert_eq!(
        status(connect_event("c2", Some(&other_token), Some(&alert))).await,
        403
    );
    assert_eq!(
        ports.table().get(&connection_key("c2")).await.expect("get"),
        None
    );
    // Its patient can, from the first moment.
    assert_eq!(
        status(connect_event("c3", Some(&patient_token), Some(&alert))).await,
        200
    );
    let stored = ports
        .table()
        .get(&connection_key("c3"))
        .await
        .expect("get")
        .expect("recorded");
    let expires = stored.i64("expires_at").expect("TTL");
    assert!(
        expires <= chrono_now() + 2 * 3600 + 5,
        "within API Gateway's 2 h"
    );
    assert_eq!(
        watchers::subscriptions(&ports, "c3").await.expect("subs"),
        vec![alert.clone()]
    );

    // The token may come as a subprotocol, which is echoed.
    let mut e = connect_event(SAMPLE_CONNECTION, None, None);
    e.payload.headers.insert(
        "sec-websocket-protocol",
        format!("haven, {patient_token}").parse().expect("header"),
    );
    let r = crate::ws_connect(&ports, e).await.expect("connect");
    assert_eq!(r.status_code, 200);
    assert_eq!(
        r.headers
            .get("sec-websocket-protocol")
            .map(|v| v.as_bytes()),
        Some(&b"haven"[..])
    );

    // Disconnect forgets the connection and what it watched.
    let mut d = event("ws-disconnect");
    d.payload.request_context.connection_id = Some("c3".into());
    crate::ws_disconnect(&ports, d).await.expect("disconnect");
    assert_eq!(
        ports.table().get(&connection_key("c3")).await.expect("get"),
        None
    );
    assert_eq!(
        ports
            .table()
            .get(&watchers::watch_item_key(&alert, "c3"))
            .await
            .expect("get"),
        None
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn messages_are_answered_on_the_socket_and_positions_reach_every_watcher() {
    let (ports, _dir) = ports();
    let (patient, patient_token) = account(&ports, Role::Patient).await;
    let (_, dispatcher_token) = account(&ports, Role::Dispatcher).await;
    let (_, other_token) = account(&ports, Role::Patient).await;
    let alert = alert_of(&ports, &patient).await;
    let mut rx_patient = ports.backend.connections.register("p1");
    let mut rx_dispatch = ports.backend.connections.register("d1");
    let mut rx_other = ports.backend.connections.register("o1");
    for (c, t) in [
        ("p1", &patient_token),
        ("d1", &dispatcher_token),
        ("o1", &other_token),
    ] {
        let r = crate::ws_connect(&ports, connect_event(c, Some(t), None))
            .await
            .expect("connect");
        assert_eq!(r.status_code, 200);
    }
    // The sample subscribe names an alert nobody has: not found, on the socket.
    crate::ws_subscribe(
        &ports,
        message(
            "ws-subscribe",
            "d1",
            serde_json::json!({"action": "subscribe", "alert_id": "nope"}),
        ),
    )
    .await
    .expect("subscribe");
    assert_eq!(received(&mut rx_dispatch)[0]["code"], "not-found");
    for c in ["p1", "d1", "o1"] {
        crate::ws_subscribe(
            &ports,
            message(
                "ws-subscribe",
                c,
                serde_json::json!({"action": "subscribe", "alert_id": alert}),
            ),
        )
        .await
        .expect("subscribe");
    }
    assert_eq!(received(&mut rx_patient)[0]["type"], "subscribed");
    assert_eq!(received(&mut rx_dispatch)[0]["status"], "matched");
    let refused = received(&mut rx_other);
    assert_eq!(refused[0]["type"], "error");
    assert_eq!(
        refused[0]["code"], "not-found",
        "another patient's alert does not exist for them"
    );

    // The patient moves: both watchers hear it; the track has it.
    let r = crate::ws_location(&ports, message("ws-location", "p1", serde_json::json!({"action": "location", "latitude": -1.2925, "longitude": 36.8215, "accuracy_m": 8.0}))).await.expect("location");
    assert_eq!(r.status_code, 200);
    let heard = received(&mut rx_dispatch);
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0]["type"], "location");
    assert_eq!(heard[0]["source"], "patient");
    assert_eq!(heard[0]["latitude"], -1.2925);
    assert_eq!(received(&mut rx_patient).len(), 1);
    assert!(received(&mut rx_other).is_empty());

    // Bad messages: each gets its own error, and nothing is stored.
    let bad = [
        ("ws-location", "{not json".to_owned(), "bad-json"),
        (
            "ws-location",
            r#"{"action":"location","latitude":91,"longitude":0}"#.to_owned(),
            "invalid",
        ),
        (
            "ws-location",
            r#"{"action":"location","latitude":1}"#.to_owned(),
            "bad-message",
        ),
        (
            "ws-location",
            format!(
                r#"{{"action":"location","latitude":1,"longitude":1,"pad":"{}"}}"#,
                "x".repeat(8000)
            ),
            "too-large",
        ),
        (
            "ws-default",
            r#"{"action":"teleport"}"#.to_owned(),
            "unknown-action",
        ),
        (
            "ws-location",
            r#"{"action":"location","latitude":-1.29,"longitude":36.82}"#.to_owned(),
            "invalid",
        ),
    ];
    for (name, body, code) in bad {
        // The dispatcher's position needs a unit: an error, not a patient position.
        let mut e = event(name);
        e.payload.request_context.connection_id = Some("d1".into());
        e.payload.body = Some(body.clone());
        let handler = if name == "ws-default" {
            crate::ws_default(&ports, e).await
        } else {
            crate::ws_location(&ports, e).await
        };
        assert_eq!(handler.expect("answered").status_code, 200);
        let answer = received(&mut rx_dispatch);
        assert_eq!(answer.len(), 1, "{body}: {answer:?}");
        assert_eq!(answer[0]["code"], code, "{body}: {answer:?}");
    }
    assert!(
        received(&mut rx_patient).is_empty(),
        "others' streams are untouched"
    );

    // A watcher that has gone is forgotten at the next fan-out.
    drop(rx_patient);
    crate::ws_location(&ports, message("ws-location", "d1", serde_json::json!({"action": "location", "latitude": -1.2925, "longitude": 36.8215, "alert_id": alert, "ambulance_id": "none"}))).await.expect("location");
    assert_eq!(received(&mut rx_dispatch)[0]["code"], "not-found");
    crate::ws_unsubscribe(
        &ports,
        message(
            "ws-unsubscribe",
            "d1",
            serde_json::json!({"action": "unsubscribe", "alert_id": alert}),
        ),
    )
    .await
    .expect("unsubscribe");
    assert_eq!(received(&mut rx_dispatch)[0]["type"], "unsubscribed");
    assert!(
        watchers::subscriptions(&ports, "d1")
            .await
            .expect("subs")
            .is_empty()
    );
    let fanned = watchers::broadcast(
        &ports,
        &alert,
        &haven_alerts::tracking::Outgoing::error("x", "y"),
    )
    .await;
    assert_eq!((fanned.sent, fanned.gone), (0, 1), "p1 had gone");
    assert_eq!(
        ports.table().get(&connection_key("p1")).await.expect("get"),
        None
    );
}
