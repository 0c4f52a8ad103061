//! Live tracking end to end: real WebSocket clients on the local gateway (both backends),
//! an ambulance driving to the patient and on to the hospital, the geofences moving the
//! alert, ETAs, route choice, and bad clients that disturb nobody. Then the same flow through
//! the Lambda handlers on the AWS adapters, with moto recording the `@connections` posts.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use haven_tests::gateway::RunningGateway;
use haven_tests::http::{call, new_patient, new_staff, trigger};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where the person is: central Nairobi, a few kilometres from the demo hospitals.
const PATIENT: (f64, f64) = (-1.2864, 36.8172);
/// The unit's base, about 4 km east.
const BASE: (f64, f64) = (-1.2864, 36.8532);

async fn user_id(gw: &RunningGateway, token: &str) -> String {
    let (_, me) = call(gw, "GET", "/api/v1/auth/me", Some(token), None).await;
    me["user_id"].as_str().expect("user_id").to_owned()
}

async fn watch(gw: &RunningGateway, alert_id: &str, token: &str) -> Result<Socket, String> {
    let url = format!(
        "{}/ws/emergency/{alert_id}/tracking?token={token}",
        gw.ws_url
    );
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(s, _)| s)
        .map_err(|e| e.to_string())
}

async fn next_json(socket: &mut Socket) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
        .await
        .expect("a message within 15 s")
        .expect("socket open")
        .expect("frame");
    serde_json::from_str(frame.to_text().expect("text frame")).expect("JSON message")
}

/// The next message of `kind`, skipping others.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let m = next_json(socket).await;
        if m["type"] == kind {
            return m;
        }
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// An alert, accepted by its hospital, with a unit registered by a dispatcher (crewed by the
/// returned responder) and sent to it.
struct Scene {
    alert_id: String,
    hospital: (f64, f64),
    patient_token: String,
    dispatcher: String,
    responder: String,
    ambulance_id: String,
}

async fn scene(gw: &RunningGateway) -> Scene {
    let (patient_token, _) = new_patient(gw, "Wanjiru Kamau").await;
    let (status, alert) = call(
        gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&patient_token),
        Some(json!({"latitude": PATIENT.0, "longitude": PATIENT.1, "accuracy_m": 10.0, "emergency_type": "trauma"})),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let hospital = &alert["hospital"];
    let hospital_id = hospital["hospital_id"]
        .as_str()
        .expect("matched")
        .to_owned();
    let hospital_at = (
        hospital["latitude"].as_f64().expect("lat"),
        hospital["longitude"].as_f64().expect("lng"),
    );
    let dispatcher = new_staff(gw, "dispatcher", None).await;
    let responder = new_staff(gw, "responder", None).await;
    let crew = user_id(gw, &responder).await;
    let (status, unit) = call(
        gw,
        "POST",
        "/api/v1/ambulances",
        Some(&dispatcher),
        Some(json!({"call_sign": format!("KBX {}", &alert_id[..6]), "latitude": BASE.0, "longitude": BASE.1,
                    "capabilities": ["als"], "crew": [crew]})),
    )
    .await;
    assert_eq!(status, 201, "{unit}");
    assert_eq!(unit["status"], "available");
    let ambulance_id = unit["ambulance_id"].as_str().expect("id").to_owned();

    // The dispatcher is offered it, and route choice picks it with a hospital.
    let (status, proposals) = call(
        gw,
        "GET",
        &format!("/api/v1/emergency/{alert_id}/ambulances"),
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(status, 200, "{proposals}");
    assert!(
        proposals["ambulances"]
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p["ambulance_id"] == ambulance_id.as_str()),
        "{proposals}"
    );
    let (status, plan) = call(
        gw,
        "POST",
        "/api/v1/route/optimize",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id, "ambulance_id": ambulance_id})),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        plan["best"]["ambulance"]["ambulance_id"],
        ambulance_id.as_str()
    );
    let legs = plan["best"]["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2, "{plan}");
    let sum: f64 = legs
        .iter()
        .map(|l| l["minutes"].as_f64().expect("minutes"))
        .sum();
    let total = plan["best"]["total_minutes"].as_f64().expect("total");
    assert!((sum - total).abs() < 0.02, "{plan}");
    assert!(
        !plan["alternatives"]
            .as_array()
            .expect("alternatives")
            .is_empty(),
        "{plan}"
    );
    let (status, refused) = call(
        gw,
        "POST",
        "/api/v1/route/optimize",
        Some(&patient_token),
        Some(json!({"alert_id": alert_id})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");

    // The hospital accepts, then the unit is sent: the alert is en route.
    let nurse = new_staff(gw, "nurse", Some(&hospital_id)).await;
    let (status, ack) = call(
        gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&nurse),
        Some(json!({"alert_id": alert_id, "decision": "accept"})),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    let (status, refused) = call(
        gw,
        "POST",
        &format!("/api/v1/ambulances/{ambulance_id}/assign"),
        Some(&responder),
        Some(json!({"alert_id": alert_id})),
    )
    .await;
    assert_eq!(status, 403, "crews do not assign themselves: {refused}");
    let (status, assigned) = call(
        gw,
        "POST",
        &format!("/api/v1/ambulances/{ambulance_id}/assign"),
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id})),
    )
    .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["alert_status"], "en_route");
    assert_eq!(assigned["ambulance"]["status"], "dispatched");
    // The fleet as dispatch and the crew see it.
    let (status, busy) = call(
        gw,
        "GET",
        "/api/v1/ambulances?status=dispatched",
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(status, 200, "{busy}");
    assert!(
        busy["ambulances"]
            .as_array()
            .expect("list")
            .iter()
            .any(|u| u["ambulance_id"] == ambulance_id.as_str()),
        "{busy}"
    );
    let (_, free) = call(
        gw,
        "GET",
        "/api/v1/ambulances?status=available",
        Some(&dispatcher),
        None,
    )
    .await;
    assert!(
        free["ambulances"]
            .as_array()
            .expect("list")
            .iter()
            .all(|u| u["status"] == "available"),
        "{free}"
    );
    let (status, own) = call(
        gw,
        "GET",
        &format!("/api/v1/ambulances/{ambulance_id}"),
        Some(&responder),
        None,
    )
    .await;
    assert_eq!(
        (status, own["alert_id"].as_str()),
        (200, Some(alert_id.as_str())),
        "{own}"
    );
    let (status, problem) = call(
        gw,
        "GET",
        "/api/v1/ambulances?status=flying",
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("status")),
        "{problem}"
    );
    let (status, _) = call(gw, "GET", "/api/v1/ambulances", Some(&patient_token), None).await;
    assert_eq!(status, 403);
    let other_crew = new_staff(gw, "responder", None).await;
    let (status, _) = call(
        gw,
        "GET",
        &format!("/api/v1/ambulances/{ambulance_id}"),
        Some(&other_crew),
        None,
    )
    .await;
    assert_eq!(status, 404, "another crew's unit is not theirs to see");
    Scene {
        alert_id,
        hospital: hospital_at,
        patient_token,
        dispatcher,
        responder,
        ambulance_id,
    }
}

/// The i-th of n points from `a` to `b` (i = n-1 is `b`).
fn along(a: (f64, f64), b: (f64, f64), i: usize, n: usize) -> (f64, f64) {
    let t = (i + 1) as f64 / n as f64;
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

async fn an_ambulance_is_tracked_to_the_patient_and_on_to_the_hospital(gw: RunningGateway) {
    let s = scene(&gw).await;
    // Someone else's socket is refused at the handshake; the patient's is let in.
    let (stranger, _) = new_patient(&gw, "Someone Else").await;
    let refused = watch(&gw, &s.alert_id, &stranger)
        .await
        .expect_err("refused");
    assert!(refused.contains("403"), "{refused}");
    let mut patient = watch(&gw, &s.alert_id, &s.patient_token)
        .await
        .expect("patient");
    let mut crew = watch(&gw, &s.alert_id, &s.responder).await.expect("crew");
    let mut dispatch = watch(&gw, &s.alert_id, &s.dispatcher)
        .await
        .expect("dispatcher");

    // Twenty positions from the base to the patient's door, from the crew's device.
    let n = 20;
    let mut sent = Vec::new();
    for i in 0..n {
        // The last fix is 30 m from the patient: inside the fence; the one before is not.
        let (lat, lng) = along(BASE, (PATIENT.0, PATIENT.1 + 0.00027), i, n);
        sent.push((lat, lng));
        send(
            &mut crew,
            json!({"action": "location", "latitude": lat, "longitude": lng, "heading": 270.0}),
        )
        .await;
    }
    let mut etas = Vec::new();
    for (i, (lat, lng)) in sent.iter().enumerate() {
        let m = next_of(&mut patient, "location").await;
        assert_eq!(m["source"], "ambulance", "{m}");
        assert_eq!(m["alert_id"], s.alert_id.as_str());
        assert_eq!(m["ambulance_id"], s.ambulance_id.as_str());
        assert!(
            (m["latitude"].as_f64().expect("lat") - lat).abs() < 1e-9,
            "position {i} in order: {m}"
        );
        assert!(
            (m["longitude"].as_f64().expect("lng") - lng).abs() < 1e-9,
            "position {i} in order: {m}"
        );
        if let Some(eta) = m["eta_minutes"].as_f64() {
            etas.push(eta);
        }
    }
    // While driving (the last fix is inside the fence, where the ETA turns to the hospital).
    let driving = &etas[..n - 1];
    assert_eq!(driving.len(), n - 1, "an ETA with every position: {etas:?}");
    for w in driving.windows(2) {
        assert!(w[1] <= w[0] + 0.05, "ETA falls: {etas:?}");
    }
    assert!(driving[0] > 5.0 * driving[n - 2], "{etas:?}");
    let arrived = next_of(&mut patient, "status").await;
    assert_eq!(arrived["status"], "arrived", "{arrived}");
    assert_eq!(arrived["ambulance_status"], "on_scene");
    // The dispatcher saw the same stream.
    for _ in 0..n {
        next_of(&mut dispatch, "location").await;
    }
    assert_eq!(next_of(&mut dispatch, "status").await["status"], "arrived");
    let (_, status) = call(
        &gw,
        "GET",
        &format!("/api/v1/emergency/{}/status", s.alert_id),
        Some(&s.patient_token),
        None,
    )
    .await;
    assert_eq!(status["status"], "arrived", "{status}");
    assert!(status["dispatch"]["on_scene_at"].is_string(), "{status}");
    let timeline: Vec<&str> = status["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert!(
        timeline.ends_with(&["acknowledged", "en_route", "arrived"]),
        "{timeline:?}"
    );

    // With the patient aboard, the ETA is the unit to the hospital.
    let (status, eta) = call(
        &gw,
        "GET",
        &format!("/api/v1/eta/{}", s.alert_id),
        Some(&s.patient_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{eta}");
    assert_eq!(eta["legs"][0]["from"], "ambulance", "{eta}");
    assert_eq!(eta["legs"][0]["to"], "hospital", "{eta}");

    // Over HTTP: away from the scene (transporting), then at the hospital's door.
    let position = |at: (f64, f64)| json!({"latitude": at.0, "longitude": at.1, "speed_kmh": 45.0});
    let mid = (
        (PATIENT.0 + s.hospital.0) / 2.0,
        (PATIENT.1 + s.hospital.1) / 2.0,
    );
    let (status, moved) = call(
        &gw,
        "POST",
        &format!("/api/v1/ambulances/{}/position", s.ambulance_id),
        Some(&s.responder),
        Some(position(mid)),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["ambulance"]["status"], "transporting", "{moved}");
    let (status, moved) = call(
        &gw,
        "POST",
        &format!("/api/v1/ambulances/{}/position", s.ambulance_id),
        Some(&s.responder),
        Some(position((s.hospital.0 + 0.0005, s.hospital.1))),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["alert_status"], "at_hospital", "{moved}");
    assert_eq!(
        next_of(&mut patient, "status").await["status"],
        "at_hospital"
    );

    // The track has every position, patient's and unit's, oldest first.
    let (_, track) = call(
        &gw,
        "GET",
        &format!("/api/v1/emergency/{}/track", s.alert_id),
        Some(&s.dispatcher),
        None,
    )
    .await;
    let positions = track["positions"].as_array().expect("positions");
    assert_eq!(
        positions
            .iter()
            .filter(|p| p["source"] == "ambulance")
            .count(),
        n + 2,
        "{track}"
    );
    // The crew frees the unit.
    let (status, freed) = call(
        &gw,
        "POST",
        &format!("/api/v1/ambulances/{}/status", s.ambulance_id),
        Some(&s.responder),
        Some(json!({"status": "available"})),
    )
    .await;
    assert_eq!(status, 200, "{freed}");
    assert_eq!(freed["ambulance"]["status"], "available");

    // Bad input on the HTTP routes is a clear 4xx.
    let path = format!("/api/v1/ambulances/{}/position", s.ambulance_id);
    for (token, body, want) in [
        (
            &s.responder,
            json!({"latitude": 91.0, "longitude": 0.0}),
            422,
        ),
        (
            &s.responder,
            json!({"latitude": 1.0, "longitude": 1.0, "speed_kmh": -3.0}),
            422,
        ),
        (
            &s.responder,
            json!({"latitude": 1.0, "longitude": 1.0, "altitude": 3.0}),
            422,
        ),
        (
            &s.patient_token,
            json!({"latitude": 1.0, "longitude": 1.0}),
            403,
        ),
        (&stranger, json!({"latitude": 1.0, "longitude": 1.0}), 403),
    ] {
        let (status, problem) = call(&gw, "POST", &path, Some(token), Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {problem}");
    }
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/ambulances/nope/position",
        Some(&s.dispatcher),
        Some(position(PATIENT)),
    )
    .await;
    assert_eq!(status, 404);
    let (status, problem) = call(
        &gw,
        "POST",
        "/api/v1/ambulances",
        Some(&s.dispatcher),
        Some(json!({"call_sign": "X", "latitude": 0, "longitude": 0, "capabilities": ["jetpack"]})),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("capabilities")),
        "{problem}"
    );
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/ambulances",
        Some(&s.responder),
        Some(json!({"call_sign": "Y", "latitude": 0, "longitude": 0, "capabilities": ["bls"]})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &gw,
        "GET",
        &format!("/api/v1/eta/{}", s.alert_id),
        Some(&stranger),
        None,
    )
    .await;
    assert_eq!(status, 404, "strangers learn nothing of the alert");
}

async fn bad_messages_get_errors_and_disturb_no_one(gw: RunningGateway) {
    let s = scene(&gw).await;
    let mut patient = watch(&gw, &s.alert_id, &s.patient_token)
        .await
        .expect("patient");
    let mut crew = watch(&gw, &s.alert_id, &s.responder).await.expect("crew");
    let huge = format!(
        r#"{{"action":"location","latitude":1,"longitude":1,"pad":"{}"}}"#,
        "x".repeat(200 * 1024)
    );
    let bad: [(String, &str); 6] = [
        ("{not json".into(), "bad-json"),
        (r#"{"action":"teleport"}"#.into(), "unknown-action"),
        (
            r#"{"action":"location","latitude":95,"longitude":36.8}"#.into(),
            "invalid",
        ),
        (
            r#"{"action":"location","latitude":-1.3,"longitude":200}"#.into(),
            "invalid",
        ),
        (r#"{"action":"subscribe"}"#.into(), "bad-message"),
        (huge, "too-large"),
    ];
    for (text, code) in bad {
        crew.send(Message::Text(text.into())).await.expect("send");
        let e = next_of(&mut crew, "error").await;
        assert_eq!(e["code"], code, "{e}");
        assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Everyone is still connected and the stream goes on.
    send(
        &mut crew,
        json!({"action": "location", "latitude": BASE.0, "longitude": BASE.1}),
    )
    .await;
    let m = next_of(&mut patient, "location").await;
    assert_eq!(m["source"], "ambulance");
    assert_eq!(m["latitude"], BASE.0);
    // The patient's own position reaches the crew.
    send(&mut patient, json!({"action": "location", "latitude": PATIENT.0, "longitude": PATIENT.1, "accuracy_m": 6.0})).await;
    let m = loop {
        // The crew hears its own position too; wait for the patient's.
        let m = next_of(&mut crew, "location").await;
        if m["source"] == "patient" {
            break m;
        }
    };
    assert!(
        m["eta_minutes"].as_f64().is_some_and(|e| e > 0.0),
        "the unit's ETA to them: {m}"
    );
    // A second subscription over the socket answers with the status.
    send(
        &mut crew,
        json!({"action": "subscribe", "alert_id": s.alert_id}),
    )
    .await;
    assert_eq!(next_of(&mut crew, "subscribed").await["status"], "en_route");
}

/// The statuses pushed to a socket until `last`, in order (the notification workers may add
/// `notified` at any point, so it is not counted on).
async fn statuses_until(socket: &mut Socket, last: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let m = next_of(socket, "status").await;
        let done = m["status"] == last;
        seen.push(m);
        if done {
            return seen;
        }
    }
}

async fn the_patient_hears_hospitals_move_accept_and_stand_down(gw: RunningGateway) {
    let (patient_token, _) = new_patient(&gw, "Achieng Otieno").await;
    let alert = trigger(&gw, &patient_token, "cardiac", PATIENT).await;
    let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
    let first = alert["hospital"]["hospital_id"]
        .as_str()
        .expect("matched")
        .to_owned();
    let mut patient = watch(&gw, &alert_id, &patient_token)
        .await
        .expect("patient");
    let dispatcher = new_staff(&gw, "dispatcher", None).await;

    // Dispatch moves the alert on: the patient hears which hospital is asked now.
    let (status, moved) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/fallback",
        Some(&dispatcher),
        Some(json!({"alert_id": alert_id, "reason": "phone line down"})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    let heard = statuses_until(&mut patient, "escalated").await;
    let escalated = heard.last().expect("one");
    let second = escalated["hospital_id"]
        .as_str()
        .expect("the next hospital")
        .to_owned();
    assert_ne!(second, first, "{escalated}");
    assert!(
        escalated["hospital_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );

    // The second hospital accepts; its nurse watches too.
    let nurse = new_staff(&gw, "nurse", Some(&second)).await;
    let mut ward = watch(&gw, &alert_id, &nurse).await.expect("nurse");
    let (status, ack) = call(
        &gw,
        "POST",
        "/api/v1/hospital/comms/ack",
        Some(&nurse),
        Some(json!({"alert_id": alert_id, "decision": "accept"})),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    let heard = statuses_until(&mut patient, "acknowledged").await;
    let accepted = heard.last().expect("one");
    assert_eq!(accepted["hospital_id"], second.as_str(), "{accepted}");
    assert_eq!(accepted["alert_id"], alert_id.as_str());
    assert!(accepted["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(accepted.get("ambulance_status").is_none(), "{accepted}");
    assert_eq!(
        statuses_until(&mut ward, "acknowledged").await.len(),
        1,
        "the ward hears its own acceptance once"
    );

    // The person stands everyone down: both sockets hear it.
    let (status, cancelled) = call(
        &gw,
        "POST",
        &format!("/api/v1/emergency/{alert_id}/cancel"),
        Some(&patient_token),
        Some(json!({"reason": "feeling better"})),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    for socket in [&mut patient, &mut ward] {
        let last = statuses_until(socket, "cancelled").await;
        assert_eq!(
            last.len(),
            1,
            "nothing between acceptance and cancellation: {last:?}"
        );
    }
    // What was pushed is what the timeline says.
    let (_, now) = call(
        &gw,
        "GET",
        &format!("/api/v1/emergency/{alert_id}/status"),
        Some(&patient_token),
        None,
    )
    .await;
    let timeline: Vec<&str> = now["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert!(
        timeline.ends_with(&["escalated", "acknowledged", "cancelled"])
            || timeline.ends_with(&["escalated", "notified", "acknowledged", "cancelled"]),
        "{timeline:?}"
    );
}

haven_tests::on_both_backends!(
    an_ambulance_is_tracked_to_the_patient_and_on_to_the_hospital,
    bad_messages_get_errors_and_disturb_no_one,
    the_patient_hears_hospitals_move_accept_and_stand_down,
);

mod lambda_on_moto {
    //! The flow through the Lambda handlers themselves, on the AWS adapters against moto: its
    //! recorder shows every `POST @connections/{id}` the handlers made, in order.

    use std::sync::Arc;

    use haven_identity_core::accounts::{self, Admin, NewAccount};
    use haven_identity_core::sessions::{self, Credentials, LoginOutcome};
    use haven_kernel::ports::Ports;
    use haven_kernel::{RandomIds, Role, SystemClock};
    use haven_platform::AwsPorts;
    use serde_json::{Value, json};

    use super::{BASE, PATIENT, along};

    const PASSWORD: &str = "amber falcon river quartz 42";

    fn sample(name: &str) -> Value {
        let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json")
    }

    async fn account(ports: &AwsPorts, role: Role, hospital: Option<&str>) -> (String, String) {
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
        let Ok(LoginOutcome::Tokens(t)) = sessions::login(
            ports,
            Credentials {
                email,
                password: PASSWORD.into(),
            },
        )
        .await
        else {
            panic!("login")
        };
        (created.user_id, t.access_token)
    }

    /// An HTTP API event from `events/`, with this caller, path and body.
    fn request(
        name: &str,
        token: &str,
        params: &[(&str, &str)],
        body: Option<Value>,
    ) -> lambda_http::Request {
        let mut e = sample(name);
        e["headers"]["authorization"] = json!(format!("Bearer {token}"));
        let mut path = e["routeKey"]
            .as_str()
            .expect("route")
            .split_once(' ')
            .expect("route")
            .1
            .to_owned();
        for (k, v) in params {
            e["pathParameters"][*k] = json!(v);
            path = path.replace(&format!("{{{k}}}"), v);
        }
        e["rawPath"] = json!(path);
        e["requestContext"]["http"]["path"] = json!(path);
        if let Some(b) = body {
            e["body"] = json!(b.to_string());
        }
        lambda_http::request::from_str(&e.to_string()).expect("request")
    }

    async fn body_of(r: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
        (
            r.status().as_u16(),
            serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null),
        )
    }

    fn socket(
        name: &str,
        connection: &str,
        body: Option<Value>,
        query: &[(&str, &str)],
    ) -> lambda_runtime::LambdaEvent<aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest>
    {
        let mut e = sample(name);
        e["requestContext"]["connectionId"] = json!(connection);
        if let Some(b) = body {
            e["body"] = json!(b.to_string());
        }
        if !query.is_empty() {
            e["headers"]
                .as_object_mut()
                .expect("headers")
                .remove("Sec-WebSocket-Protocol");
            e["queryStringParameters"] = json!(
                query
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect::<serde_json::Map<_, _>>()
            );
        }
        lambda_runtime::LambdaEvent::new(
            serde_json::from_value(e).expect("socket event"),
            lambda_runtime::Context::default(),
        )
    }

    async fn recorder(action: &str) -> reqwest::Response {
        let url = format!(
            "{}/moto-api/recorder/{action}",
            haven_tests::backends::aws_endpoint()
        );
        let r = haven_tests::http::client().post(&url).send().await;
        match r {
            Ok(r) if r.status().is_success() => r,
            _ => haven_tests::http::client()
                .get(&url)
                .send()
                .await
                .expect("recorder"),
        }
    }

    /// Every body posted to `@connections/{connection}` since recording started, in order.
    async fn posts_to(connection: &str) -> Vec<Value> {
        let log = recorder("download-recording")
            .await
            .text()
            .await
            .expect("recording");
        let suffix = format!("/@connections/{}", urlencode(connection));
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                e["method"] == "POST" && e["url"].as_str().is_some_and(|u| u.ends_with(&suffix))
            })
            .map(|e| {
                use base64::Engine;
                let body = e["body"].as_str().unwrap_or_default();
                let bytes = if e["body_encoded"] == true {
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .expect("base64")
                } else {
                    body.as_bytes().to_vec()
                };
                serde_json::from_slice(&bytes).expect("a JSON message")
            })
            .collect()
    }

    fn urlencode(id: &str) -> String {
        id.replace('=', "%3D")
            .replace('+', "%2B")
            .replace('/', "%2F")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_handlers_post_every_position_to_connections_on_moto() {
        let aws = haven_tests::backends::aws().await;
        let ports = AwsPorts::new(aws.backend, Arc::new(SystemClock), Arc::new(RandomIds));
        haven_local::seed::load_demo(ports.table(), ports.clock().now())
            .await
            .expect("demo");
        let (patient, patient_token) = account(&ports, Role::Patient, None).await;
        let (crew, crew_token) = account(&ports, Role::Responder, None).await;
        let (_, dispatcher) = account(&ports, Role::Dispatcher, None).await;
        let _ = patient;
        recorder("start-recording").await;

        let respond = |function: &'static str, req| {
            let ports = &ports;
            async move {
                match function {
                    "emergency-alert" => {
                        haven_edge::respond(ports, function, req, |c, r| {
                            haven_emergencies::alert(ports, c, r)
                        })
                        .await
                    }
                    "ambulances-create" => {
                        haven_edge::respond(ports, function, req, |c, r| {
                            haven_dispatch::create(ports, c, r)
                        })
                        .await
                    }
                    "ambulances-assign" => {
                        haven_edge::respond(ports, function, req, |c, r| {
                            haven_dispatch::assign(ports, c, r)
                        })
                        .await
                    }
                    "comms-ack" => {
                        haven_edge::respond(ports, function, req, |c, r| {
                            haven_comms::ack(ports, c, r)
                        })
                        .await
                    }
                    _ => unreachable!(),
                }
                .expect("a response")
            }
        };
        let (status, alert) = body_of(respond("emergency-alert", request("emergency-alert", &patient_token, &[], Some(json!({"latitude": PATIENT.0, "longitude": PATIENT.1, "emergency_type": "trauma"}))) ).await).await;
        assert_eq!(status, 201, "{alert}");
        let alert_id = alert["alert_id"].as_str().expect("id").to_owned();
        let hospital = alert["hospital"]["hospital_id"]
            .as_str()
            .expect("hospital")
            .to_owned();

        // Connections: the patient's (watching from $connect) and the crew's.
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let (patient_c, crew_c) = (format!("P{suffix}="), format!("C{suffix}="));
        let r = haven_tracking::ws_connect(
            &ports,
            socket(
                "ws-connect",
                &patient_c,
                None,
                &[("token", &patient_token), ("alert_id", &alert_id)],
            ),
        )
        .await
        .expect("connect");
        assert_eq!(r.status_code, 200);

        let (status, unit) = body_of(respond("ambulances-create", request("ambulances-create", &dispatcher, &[], Some(json!({"call_sign": format!("MOTO {suffix}"), "latitude": BASE.0, "longitude": BASE.1, "capabilities": ["als"], "crew": [crew]})))).await).await;
        assert_eq!(status, 201, "{unit}");
        let unit_id = unit["ambulance_id"].as_str().expect("id").to_owned();
        let (_, nurse) = account(&ports, Role::Nurse, Some(&hospital)).await;
        let (status, ack) = body_of(
            respond(
                "comms-ack",
                request(
                    "comms-ack",
                    &nurse,
                    &[],
                    Some(json!({"alert_id": alert_id, "decision": "accept"})),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{ack}");
        let (status, assigned) = body_of(
            respond(
                "ambulances-assign",
                request(
                    "ambulances-assign",
                    &dispatcher,
                    &[("ambulance_id", &unit_id)],
                    Some(json!({"alert_id": alert_id})),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{assigned}");

        let r = haven_tracking::ws_connect(
            &ports,
            socket("ws-connect", &crew_c, None, &[("token", &crew_token)]),
        )
        .await
        .expect("connect");
        assert_eq!(r.status_code, 200);
        haven_tracking::ws_subscribe(
            &ports,
            socket(
                "ws-subscribe",
                &crew_c,
                Some(json!({"action": "subscribe", "alert_id": alert_id})),
                &[],
            ),
        )
        .await
        .expect("subscribe");
        let n = 20;
        let mut sent = Vec::new();
        for i in 0..n {
            let (lat, lng) = along(BASE, (PATIENT.0, PATIENT.1 + 0.00027), i, n);
            sent.push(lat);
            haven_tracking::ws_location(
                &ports,
                socket(
                    "ws-location",
                    &crew_c,
                    Some(json!({"action": "location", "latitude": lat, "longitude": lng})),
                    &[],
                ),
            )
            .await
            .expect("location");
        }
        recorder("stop-recording").await;

        let to_patient = posts_to(&patient_c).await;
        let locations: Vec<f64> = to_patient
            .iter()
            .filter(|m| m["type"] == "location")
            .map(|m| m["latitude"].as_f64().expect("lat"))
            .collect();
        assert_eq!(
            locations, sent,
            "all 20, in order, posted through moto's @connections"
        );
        let statuses: Vec<&str> = to_patient
            .iter()
            .filter(|m| m["type"] == "status")
            .filter_map(|m| m["status"].as_str())
            .collect();
        assert_eq!(
            statuses,
            vec!["acknowledged", "en_route", "arrived"],
            "the hospital's acceptance, then the unit's progress: {to_patient:?}"
        );
        let accepted = to_patient
            .iter()
            .find(|m| m["status"] == "acknowledged")
            .expect("pushed");
        assert_eq!(accepted["hospital_id"], hospital.as_str(), "{accepted}");
        let to_crew = posts_to(&crew_c).await;
        assert_eq!(to_crew[0]["type"], "subscribed", "{to_crew:?}");
        assert_eq!(
            to_crew.iter().filter(|m| m["type"] == "location").count(),
            n
        );
    }
}
