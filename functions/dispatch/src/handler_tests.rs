//! The dispatch handlers on the sample events of `events/`, on the embedded backend.

use haven_alerts::hospitals::import;
use haven_edge::Caller;
use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::Role;
use haven_platform::EmbeddedPorts;

fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    (ports, dir)
}

fn caller(role: Role, hospital: Option<&str>) -> Caller {
    Caller::Signed(Claims {
        iss: "haven".into(),
        aud: "haven".into(),
        sub: format!("{}-1", role.as_str()),
        exp: 4_000_000_000,
        iat: 1_795_000_000,
        jti: "j1".into(),
        kind: TokenKind::Access,
        role,
        hospital_id: hospital.map(str::to_owned),
        fam: None,
        alert_id: None,
    })
}

fn request(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> lambda_http::Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json");
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

fn sample(name: &str) -> lambda_http::Request {
    request(name, |_| {})
}

fn status(
    r: Result<lambda_http::Response<lambda_http::Body>, haven_edge::ApiError>,
) -> (u16, serde_json::Value) {
    let response = r.unwrap_or_else(|e| e.into_response(None));
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn the_fleet_handlers_answer_their_sample_events() {
    let (ports, _dir) = ports();
    let json = r#"[{"hospital_id": "demo-knh", "name": "Kenyatta National Hospital", "latitude": -1.3009, "longitude": 36.8073, "level": 6, "specialties": ["emergency"], "beds_total": 10, "beds_available": 5, "ed_status": "open"}]"#;
    let parsed = import::parse_json(json.as_bytes()).expect("json");
    import::import(&ports, parsed.hospitals, false)
        .await
        .expect("import");
    let dispatcher = || caller(Role::Dispatcher, None);

    // A hospital's admin registers for their own hospital only.
    let (code, _) = status(
        crate::create(
            &ports,
            caller(Role::HospitalAdmin, Some("other")),
            sample("ambulances-create"),
        )
        .await,
    );
    assert_eq!(code, 403);
    let (code, unit) = status(
        crate::create(
            &ports,
            caller(Role::HospitalAdmin, Some("demo-knh")),
            sample("ambulances-create"),
        )
        .await,
    );
    assert_eq!(code, 201, "{unit}");
    assert_eq!(unit["status"], "available");
    assert_eq!(unit["capabilities"], serde_json::json!(["als"]));
    // The same call sign twice is a conflict (spacing and case do not matter).
    let (code, _) = status(crate::create(&ports, dispatcher(), request("ambulances-create", |e| {
        e["body"] = serde_json::json!(r#"{"call_sign": "kbx-101a", "latitude": -1.29, "longitude": 36.82, "capabilities": ["bls"]}"#);
    })).await);
    assert_eq!(code, 409);
    // Crew must be responders' accounts.
    let (code, problem) = status(crate::create(&ports, dispatcher(), request("ambulances-create", |e| {
        e["body"] = serde_json::json!(r#"{"call_sign": "KBX 202", "latitude": -1.29, "longitude": 36.82, "capabilities": ["bls"], "crew": ["nobody"]}"#);
    })).await);
    assert_eq!(
        (code, problem["field"].as_str()),
        (422, Some("crew")),
        "{problem}"
    );

    let (code, page) = status(crate::list(&ports, dispatcher(), sample("ambulances-list")).await);
    assert_eq!(code, 200);
    assert_eq!(page["ambulances"].as_array().map(Vec::len), Some(1));
    let (_, page) = status(
        crate::list(
            &ports,
            caller(Role::Responder, None),
            sample("ambulances-list"),
        )
        .await,
    );
    assert_eq!(
        page["ambulances"].as_array().map(Vec::len),
        Some(0),
        "a responder sees the units they crew"
    );

    let id = unit["ambulance_id"].as_str().expect("id").to_owned();
    let with_id = |name: &str| {
        let id = id.clone();
        request(name, move |e| {
            e["pathParameters"]["ambulance_id"] = serde_json::json!(id);
        })
    };
    let (code, got) = status(crate::get(&ports, dispatcher(), with_id("ambulances-get")).await);
    assert_eq!((code, got["call_sign"].as_str()), (200, Some("KBX 101A")));
    // The samples name an alert that does not exist, and a unit that does not.
    let (code, _) = status(crate::assign(&ports, dispatcher(), with_id("ambulances-assign")).await);
    assert_eq!(code, 404);
    let (code, _) = status(crate::get(&ports, dispatcher(), sample("ambulances-get")).await);
    assert_eq!(code, 404);
    let (code, _) =
        status(crate::propose(&ports, dispatcher(), sample("ambulances-propose")).await);
    assert_eq!(code, 404);
    // A position from a dispatcher moves a free unit; from someone not its crew it is refused.
    let (code, moved) =
        status(crate::position(&ports, dispatcher(), with_id("ambulances-position")).await);
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["ambulance"]["position"]["speed_kmh"], 42.0);
    let (code, _) = status(
        crate::position(
            &ports,
            caller(Role::Responder, None),
            with_id("ambulances-position"),
        )
        .await,
    );
    assert_eq!(code, 403);
    // A free unit cannot start transporting.
    let (code, problem) =
        status(crate::status(&ports, dispatcher(), with_id("ambulances-status")).await);
    assert_eq!(code, 409, "{problem}");
    let (code, _) = status(
        crate::status(
            &ports,
            dispatcher(),
            request("ambulances-status", |e| {
                e["pathParameters"]["ambulance_id"] = serde_json::json!(id);
                e["body"] = serde_json::json!(r#"{"status": "dispatched"}"#);
            }),
        )
        .await,
    );
    assert_eq!(code, 422, "dispatched only by assignment");
}
