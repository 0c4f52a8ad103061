//! Emergencies and hospitals end to end through the local gateway, on both backends: the
//! alert lifecycle, idempotency under concurrent retries, history paging, who sees what,
//! low-trust verification, the nearby search, capacity reports and a dispatcher's routing.

use std::collections::HashSet;

use haven_tests::gateway::{ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway};
use haven_tests::http::{client, login, unique_email};
use serde_json::{Value, json};

haven_tests::on_both_backends!(
    a_patient_alert_in_nairobi_is_matched_moved_and_cancelled_once,
    retries_with_one_idempotency_key_create_one_alert,
    history_pages_newest_first,
    a_second_tap_nearby_joins_the_open_alert,
    bad_alerts_get_field_problems_and_write_nothing,
    alerts_are_visible_only_to_those_who_work_on_them,
    a_bypass_alert_waits_for_verification_unless_critical,
    hospitals_search_capacity_and_dispatcher_routing,
);

use haven_tests::http::PASSWORD;
/// Nairobi's central business district.
const CBD: (f64, f64) = (-1.2864, 36.8172);

async fn call(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut r = client().request(method.parse().expect("method"), gw.url(path));
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(gw: &RunningGateway, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(gw, "POST", path, Some(token), Some(body), &[]).await
}

async fn get(gw: &RunningGateway, path: &str, token: &str) -> (u16, Value) {
    call(gw, "GET", path, Some(token), None, &[]).await
}

/// A registered, signed-in patient: (access token, emergency credential).
async fn patient(gw: &RunningGateway) -> (String, String) {
    let email = unique_email("patient");
    let (status, created) = call(
        gw,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(json!({"email": email, "password": PASSWORD, "full_name": "Achieng Otieno"})),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let credential = created["emergency_credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    (login(gw, &email, PASSWORD).await, credential)
}

async fn admin(gw: &RunningGateway) -> String {
    login(gw, ADMIN_EMAIL, ADMIN_PASSWORD).await
}

/// A staff account made by the system admin, signed in.
async fn staff(gw: &RunningGateway, role: &str, hospital: Option<&str>) -> String {
    haven_tests::http::new_staff(gw, role, hospital).await
}

fn alert_body(lat: f64, lng: f64, kind: &str) -> Value {
    json!({"latitude": lat, "longitude": lng, "accuracy_m": 12.0, "emergency_type": kind})
}

/// Events the notification pipeline received, as JSON.
async fn events(gw: &RunningGateway) -> Vec<Value> {
    (gw.drain_queue)("hospital-api")
        .await
        .iter()
        .map(|b| serde_json::from_str(b).expect("event JSON"))
        .collect()
}

async fn a_patient_alert_in_nairobi_is_matched_moved_and_cancelled_once(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    let mut body = alert_body(CBD.0, CBD.1, "cardiac");
    body["symptoms"] = json!(["chest_pain"]);
    body["note"] = json!("Collapsed at the bus stop");
    let (status, alert) = post(&gw, "/api/v1/emergency/alert", &token, body).await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["outcome"], "created");
    assert_eq!(alert["status"], "matched");
    assert_eq!(alert["priority"], "critical");
    assert_eq!(alert["priority_rule"], "type.cardiac_chest_pain");
    assert!(
        alert["priority_reason"]
            .as_str()
            .expect("reason")
            .contains("chest pain")
    );
    let hospital = &alert["hospital"];
    assert!(
        hospital["hospital_id"]
            .as_str()
            .expect("id")
            .starts_with("demo-"),
        "{alert}"
    );
    assert!(hospital["distance_km"].as_f64().expect("distance") < 10.0);
    for part in [
        "travel",
        "specialty",
        "capacity",
        "ed_status",
        "level",
        "performance",
    ] {
        let v = hospital["score_parts"][part].as_f64().expect(part);
        assert!((0.0..=1.0).contains(&v), "{part} = {v}");
    }
    let fallbacks = alert["fallbacks"].as_array().expect("fallbacks");
    assert!(!fallbacks.is_empty(), "{alert}");
    let mut previous = hospital["score"].as_f64().expect("score");
    for f in fallbacks {
        let s = f["score"].as_f64().expect("score");
        assert!(s <= previous, "fallbacks are in order: {alert}");
        assert_ne!(f["hospital_id"], hospital["hospital_id"]);
        previous = s;
    }
    // The diverting MP Shah is never chosen while open hospitals are in reach.
    assert_ne!(hospital["hospital_id"], "demo-mp-shah");

    let id = alert["alert_id"].as_str().expect("id").to_owned();
    let (status, seen) = get(&gw, &format!("/api/v1/emergency/{id}/status"), &token).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["hospital"], alert["hospital"]);
    assert_eq!(seen["fallbacks"], alert["fallbacks"]);
    assert_eq!(seen["clinical"]["note"], "Collapsed at the bus stop");
    let statuses: Vec<&str> = seen["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|t| t["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["triggered", "matched"]);

    // The pipeline got one event naming the alert and the hospital, and nothing clinical.
    let sent = events(&gw).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"], "alert.created");
    assert_eq!(sent[0]["alert_id"], id.as_str());
    assert_eq!(sent[0]["hospital_id"], hospital["hospital_id"]);
    assert!(!sent[0].to_string().contains("bus stop"));

    let (status, moved) = call(
        &gw,
        "PUT",
        &format!("/api/v1/emergency/{id}/location"),
        Some(&token),
        Some(json!({"latitude": -1.2900, "longitude": 36.8200, "accuracy_m": 5.0})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    let (_, seen) = get(&gw, &format!("/api/v1/emergency/{id}/status"), &token).await;
    assert_eq!(seen["location"]["latitude"], -1.29);
    assert_eq!(seen["location"]["accuracy_m"], 5.0);

    let cancel = format!("/api/v1/emergency/{id}/cancel");
    let (status, cancelled) = post(&gw, &cancel, &token, json!({"reason": "feeling better"})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (status, again) = post(&gw, &cancel, &token, json!({})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["current_state"], "cancelled");
    let sent = events(&gw).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"], "alert.cancelled");
    // A cancelled alert takes no more positions.
    let (status, _) = call(
        &gw,
        "PUT",
        &format!("/api/v1/emergency/{id}/location"),
        Some(&token),
        Some(json!({"latitude": -1.29, "longitude": 36.82})),
        &[],
    )
    .await;
    assert_eq!(status, 409);
}

async fn retries_with_one_idempotency_key_create_one_alert(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    let body = alert_body(CBD.0, CBD.1, "trauma");
    let key = uuid::Uuid::new_v4().to_string();
    let headers = [("idempotency-key", key.as_str())];
    let tries = (0..20).map(|_| {
        call(
            &gw,
            "POST",
            "/api/v1/emergency/alert",
            Some(&token),
            Some(body.clone()),
            &headers,
        )
    });
    let answers = futures::future::join_all(tries).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    let ids: HashSet<&str> = answers
        .iter()
        .map(|(s, a)| {
            assert!(*s == 200 || *s == 201, "{s} {a}");
            a["alert_id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry names the same alert");
    let (status, replay) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&token),
        Some(body.clone()),
        &[("idempotency-key", key.as_str())],
    )
    .await;
    assert_eq!(
        (status, replay["outcome"].as_str()),
        (200, Some("replayed"))
    );
    let (_, history) = get(&gw, "/api/v1/emergency/history", &token).await;
    assert_eq!(history["alerts"].as_array().expect("alerts").len(), 1);
    assert_eq!(events(&gw).await.len(), 1, "one alert, one hand-off");
    // The same key for a different alert is a mistake, said so.
    let (status, problem) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&token),
        Some(alert_body(CBD.0, CBD.1, "burn")),
        &[("idempotency-key", key.as_str())],
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "idempotency_key");
}

async fn history_pages_newest_first(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    let mut created = Vec::new();
    for i in 0..5 {
        // A kilometre apart, so none joins another.
        let (status, a) = post(
            &gw,
            "/api/v1/emergency/alert",
            &token,
            alert_body(CBD.0 - 0.01 * f64::from(i), CBD.1, "other"),
        )
        .await;
        assert_eq!(status, 201, "{a}");
        assert_eq!(a["priority"], "medium");
        created.push(a["alert_id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/api/v1/emergency/history?limit=2".to_owned(),
            Some(c) => format!("/api/v1/emergency/history?limit=2&cursor={c}"),
        };
        let (status, page) = get(&gw, &path, &token).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for a in page["alerts"].as_array().expect("alerts") {
            seen.push(a["alert_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each once");
    assert_eq!(pages, 3);
    let (status, problem) = get(&gw, "/api/v1/emergency/history?cursor=garbage", &token).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("cursor")));
}

async fn a_second_tap_nearby_joins_the_open_alert(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    let (status, first) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        alert_body(CBD.0, CBD.1, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    // About 110 m away: the same emergency.
    let (status, second) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        alert_body(CBD.0 + 0.001, CBD.1, "trauma"),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["outcome"], "joined");
    assert_eq!(second["alert_id"], first["alert_id"]);
    // About 5 km away: another one.
    let (status, third) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        alert_body(CBD.0 - 0.045, CBD.1, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{third}");
    assert_ne!(third["alert_id"], first["alert_id"]);
}

async fn bad_alerts_get_field_problems_and_write_nothing(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    let long_note = "x".repeat(501);
    let cases = [
        (
            json!({"latitude": 91.0, "longitude": 36.8, "emergency_type": "trauma"}),
            "latitude",
        ),
        (
            json!({"latitude": -1.3, "longitude": 181.0, "emergency_type": "trauma"}),
            "longitude",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "alien"}),
            "emergency_type",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "accuracy_m": -3}),
            "accuracy_m",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "note": long_note}),
            "note",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "symptoms": ["Chest Pain!"]}),
            "symptoms[0]",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "vitals": {"spo2": 180}}),
            "vitals.spo2",
        ),
        (
            json!({"latitude": "north", "longitude": 36.8, "emergency_type": "trauma"}),
            "latitude",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "colour": "red"}),
            "colour",
        ),
        // A code the rules do not know is refused, not silently ignored: `heavy_bleeding`
        // would otherwise leave an obstetric alert at `high`.
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "obstetric", "symptoms": ["vaginal_bleeding", "heavy_bleeding"]}),
            "symptoms[1]",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8}),
            "emergency_type",
        ),
        (
            json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "trauma", "vitals": {"heart_rate": "fast"}}),
            "vitals.heart_rate",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = post(&gw, "/api/v1/emergency/alert", &token, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert_eq!(
            problem["type"], "/problems/validation-failed",
            "{body} -> {problem}"
        );
        assert_eq!(problem["field"], field, "{body} -> {problem}");
        // Plain words: no Rust type names in what a client reads.
        let detail = problem["detail"].as_str().expect("detail");
        for rust in ["f64", "struct ", "TriggerRequest", "expected "] {
            assert!(!detail.contains(rust), "{body} -> {detail}");
        }
    }
    let (_, problem) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        json!({"latitude": -1.3, "longitude": 36.8, "emergency_type": "obstetric", "symptoms": ["heavy_bleeding"]}),
    )
    .await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("heavy_bleeding") && detail.contains("vaginal_bleeding"),
        "the refusal lists the known symptoms: {detail}"
    );
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        Some(&token),
        Some(alert_body(CBD.0, CBD.1, "trauma")),
        &[("idempotency-key", "has space")],
    )
    .await;
    assert_eq!(status, 422);
    let (_, history) = get(&gw, "/api/v1/emergency/history", &token).await;
    assert_eq!(history["alerts"], json!([]), "nothing was written");
    assert!(events(&gw).await.is_empty());
    let (status, problem) = get(
        &gw,
        "/api/v1/emergency/0192f3a4b5c67d8e9f00112233445566/status",
        &token,
    )
    .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("/problems/not-found"))
    );
}

async fn alerts_are_visible_only_to_those_who_work_on_them(gw: RunningGateway) {
    let (owner, _) = patient(&gw).await;
    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &owner,
        alert_body(CBD.0, CBD.1, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    let id = alert["alert_id"].as_str().expect("id");
    let matched = alert["hospital"]["hospital_id"].as_str().expect("hospital");
    let other_hospital = if matched == "demo-cgtrh" {
        "demo-knh"
    } else {
        "demo-cgtrh"
    };
    let path = format!("/api/v1/emergency/{id}/status");

    let (stranger, _) = patient(&gw).await;
    assert_eq!(get(&gw, &path, &stranger).await.0, 404, "another patient");
    let dispatcher = staff(&gw, "dispatcher", None).await;
    assert_eq!(get(&gw, &path, &dispatcher).await.0, 200, "a dispatcher");
    let nurse_here = staff(&gw, "nurse", Some(matched)).await;
    assert_eq!(
        get(&gw, &path, &nurse_here).await.0,
        200,
        "the matched hospital"
    );
    let nurse_elsewhere = staff(&gw, "nurse", Some(other_hospital)).await;
    assert_eq!(
        get(&gw, &path, &nurse_elsewhere).await.0,
        404,
        "another hospital"
    );
    let responder = staff(&gw, "responder", None).await;
    assert_eq!(
        get(&gw, &path, &responder).await.0,
        404,
        "an unassigned crew"
    );
    let lab = staff(&gw, "lab_tech", Some(matched)).await;
    assert_eq!(
        get(&gw, &path, &lab).await.0,
        403,
        "lab staff work on no alerts"
    );
    assert_eq!(
        get(&gw, &path, &admin(&gw).await).await.0,
        403,
        "system admins neither"
    );

    let (_, routed) = get(&gw, "/api/v1/emergency/history", &nurse_here).await;
    assert!(
        routed["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .any(|a| a["alert_id"] == id),
        "{routed}"
    );
    let (_, elsewhere) = get(&gw, "/api/v1/emergency/history", &nurse_elsewhere).await;
    assert!(
        elsewhere["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .all(|a| a["alert_id"] != id)
    );
    // Only the person (or a dispatcher) cancels; others are refused or see nothing.
    let cancel = format!("/api/v1/emergency/{id}/cancel");
    assert_eq!(post(&gw, &cancel, &stranger, json!({})).await.0, 404);
    assert_eq!(post(&gw, &cancel, &nurse_here, json!({})).await.0, 403);
    let (status, by_dispatcher) = post(&gw, &cancel, &dispatcher, json!({})).await;
    assert_eq!(
        (status, by_dispatcher["status"].as_str()),
        (200, Some("cancelled"))
    );
}

async fn bypass_token(gw: &RunningGateway, credential: &str) -> String {
    let (status, body) = call(
        gw,
        "POST",
        "/api/v1/auth/emergency-bypass",
        None,
        Some(json!({"emergency_credential": credential})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

async fn a_bypass_alert_waits_for_verification_unless_critical(gw: RunningGateway) {
    let (_, credential) = patient(&gw).await;
    let bypass = bypass_token(&gw, &credential).await;
    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &bypass,
        alert_body(CBD.0, CBD.1, "other"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["status"], "unverified");
    assert_eq!(alert["verification_required"], true);
    assert!(
        alert["hospital"]["hospital_id"].is_string(),
        "best hospital kept"
    );
    assert!(
        events(&gw).await.is_empty(),
        "nobody is told before verification"
    );
    let id = alert["alert_id"].as_str().expect("id").to_owned();

    // The token raises one alert: a second tap gets the same one back.
    let (status, again) = post(
        &gw,
        "/api/v1/emergency/alert",
        &bypass,
        alert_body(CBD.0 + 0.05, CBD.1, "other"),
    )
    .await;
    assert_eq!(
        (status, again["alert_id"].as_str()),
        (200, Some(id.as_str()))
    );
    // A bypass token reads its own alert, and not the history.
    assert_eq!(
        get(&gw, &format!("/api/v1/emergency/{id}/status"), &bypass)
            .await
            .0,
        200
    );
    assert_eq!(get(&gw, "/api/v1/emergency/history", &bypass).await.0, 401);

    // A wrong code is a field problem; a dispatcher's call-back verifies.
    let verify = format!("/api/v1/emergency/{id}/verify");
    let (status, problem) = post(&gw, &verify, &bypass, json!({"code": "000000"})).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("code")),
        "{problem}"
    );
    let dispatcher = staff(&gw, "dispatcher", None).await;
    let (status, verified) = post(&gw, &verify, &dispatcher, json!({})).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["status"], "matched");
    assert_eq!(verified["verification_required"], false);
    let sent = events(&gw).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["alert_id"], id.as_str());
    let (status, twice) = post(&gw, &verify, &dispatcher, json!({})).await;
    assert_eq!(
        (status, twice["current_state"].as_str()),
        (409, Some("matched"))
    );

    // Critical alerts from a bypass token go ahead at once, flagged for review.
    let (_, credential) = patient(&gw).await;
    let bypass = bypass_token(&gw, &credential).await;
    let mut body = alert_body(CBD.0, CBD.1, "respiratory");
    body["symptoms"] = json!(["not_breathing"]);
    let (status, critical) = post(&gw, "/api/v1/emergency/alert", &bypass, body).await;
    assert_eq!(status, 201, "{critical}");
    assert_eq!(critical["priority"], "critical");
    assert_eq!(critical["status"], "matched");
    assert_eq!(critical["review_required"], true);
    assert_eq!(events(&gw).await.len(), 1);
}

async fn hospitals_search_capacity_and_dispatcher_routing(gw: RunningGateway) {
    let (patient_token, _) = patient(&gw).await;
    let nearby = format!(
        "/api/v1/hospitals/nearby?lat={}&lng={}&radius_km=15&limit=5",
        CBD.0, CBD.1
    );
    let (status, found) = get(&gw, &nearby, &patient_token).await;
    assert_eq!(status, 200, "{found}");
    let hospitals = found["hospitals"].as_array().expect("hospitals");
    assert!(!hospitals.is_empty() && hospitals.len() <= 5, "{found}");
    for pair in hospitals.windows(2) {
        assert!(pair[0]["score"].as_f64() >= pair[1]["score"].as_f64());
    }
    for h in hospitals {
        assert!(h["distance_km"].as_f64().expect("distance") <= 15.0);
        assert_eq!(h["ed_status"], "open", "{found}");
    }
    // MP Shah is diverting: if it is nearer than the top hospital, the answer says why.
    let top_distance = hospitals[0]["distance_km"].as_f64().expect("distance");
    let mp_shah_km = 2.79;
    if mp_shah_km < top_distance {
        assert!(
            found["passed_over"]
                .as_array()
                .expect("passed over")
                .iter()
                .any(|p| p["hospital_id"] == "demo-mp-shah" && p["reason"] == "ed_diverting"),
            "{found}"
        );
    }
    let (_, maternity) = get(
        &gw,
        &format!("{nearby}&specialty=maternity"),
        &patient_token,
    )
    .await;
    for h in maternity["hospitals"].as_array().expect("hospitals") {
        assert!(
            h["specialties"]
                .as_array()
                .expect("specialties")
                .contains(&json!("maternity")),
            "{maternity}"
        );
    }
    for (query, field) in [
        ("lat=95&lng=36.8", "lat"),
        ("lng=36.8", "lat"),
        ("lat=-1.3&lng=36.8&radius_km=0", "radius_km"),
        ("lat=-1.3&lng=36.8&radius_km=many", "radius_km"),
        ("lat=-1.3&lng=36.8&specialty=astrology", "specialty"),
        ("lat=-1.3&lng=36.8&limit=500", "limit"),
    ] {
        let (status, problem) = get(
            &gw,
            &format!("/api/v1/hospitals/nearby?{query}"),
            &patient_token,
        )
        .await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some(field)),
            "{query}: {problem}"
        );
    }

    // KNH staff report their ED diverting: the next search passes KNH over, and says why.
    let knh_nurse = staff(&gw, "nurse", Some("demo-knh")).await;
    let (status, snapshot) = post(
        &gw,
        "/api/v1/hospitals/demo-knh/availability",
        &knh_nurse,
        json!({"beds": {"general": {"available": 12, "total": 1500}, "icu": {"available": 1, "total": 40}}, "ed_status": "diverting"}),
    )
    .await;
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(
        (
            snapshot["beds_available"].as_u64(),
            snapshot["icu_beds_available"].as_u64()
        ),
        (Some(13), Some(1))
    );
    let knh_query = "/api/v1/hospitals/nearby?lat=-1.3009&lng=36.8073&radius_km=10";
    let (_, after) = get(&gw, knh_query, &patient_token).await;
    assert!(
        after["hospitals"]
            .as_array()
            .expect("hospitals")
            .iter()
            .all(|h| h["hospital_id"] != "demo-knh"),
        "{after}"
    );
    assert!(
        after["passed_over"]
            .as_array()
            .expect("passed")
            .iter()
            .any(|p| p["hospital_id"] == "demo-knh" && p["reason"] == "ed_diverting"),
        "{after}"
    );
    let (status, caps) = get(
        &gw,
        "/api/v1/hospitals/demo-knh/capabilities",
        &patient_token,
    )
    .await;
    assert_eq!(
        (status, caps["ed_status"].as_str()),
        (200, Some("diverting"))
    );
    assert_eq!(caps["beds"]["icu"]["total"], 40);
    let elsewhere = staff(&gw, "nurse", Some("demo-cgtrh")).await;
    let (status, _) = post(
        &gw,
        "/api/v1/hospitals/demo-knh/availability",
        &elsewhere,
        json!({"ed_status": "open"}),
    )
    .await;
    assert_eq!(status, 403, "staff report their own hospital only");
    let (status, problem) = post(
        &gw,
        "/api/v1/hospitals/demo-knh/availability",
        &knh_nurse,
        json!({"beds": {"icu": {"available": 50, "total": 40}}}),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("beds.icu.available"))
    );

    // A system admin registers a hospital; its admin keeps the profile; a dispatcher routes.
    let admin_token = admin(&gw).await;
    let (status, created) = post(
        &gw,
        "/api/v1/hospitals",
        &admin_token,
        json!({"name": "Nairobi West Hospital", "latitude": -1.3106, "longitude": 36.8153, "level": 4, "specialties": ["emergency", "maternity"], "beds_total": 120}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let new_id = created["hospital_id"].as_str().expect("id").to_owned();
    let (status, problem) = post(
        &gw,
        "/api/v1/hospitals",
        &admin_token,
        json!({"name": "Nowhere", "latitude": -1.3, "longitude": 36.8, "level": 9}),
    )
    .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("level")));
    let new_admin = staff(&gw, "hospital_admin", Some(&new_id)).await;
    let (status, updated) = call(
        &gw,
        "PUT",
        &format!("/api/v1/hospitals/{new_id}"),
        Some(&new_admin),
        Some(json!({"departments": [{"name": "Casualty"}], "equipment": ["X-ray"], "channels": ["sms"]})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["departments"][0]["name"], "Casualty");
    assert_eq!(updated["channels"], json!(["sms", "hospital-api"]));
    let (status, _) = call(
        &gw,
        "PUT",
        "/api/v1/hospitals/demo-knh",
        Some(&new_admin),
        Some(json!({"equipment": []})),
        &[],
    )
    .await;
    assert_eq!(status, 403, "another hospital's admin");
    let (status, _) = call(
        &gw,
        "PUT",
        &format!("/api/v1/hospitals/{new_id}"),
        Some(&new_admin),
        Some(json!({"latitude": -1.0})),
        &[],
    )
    .await;
    assert_eq!(status, 403, "only system admins move a hospital");

    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &patient_token,
        alert_body(CBD.0, CBD.1, "obstetric"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    events(&gw).await;
    let id = alert["alert_id"].as_str().expect("id");
    let dispatcher = staff(&gw, "dispatcher", None).await;
    let (status, routed) = post(
        &gw,
        &format!("/api/v1/hospitals/{new_id}/alert"),
        &dispatcher,
        json!({"alert_id": id, "reason": "closest theatre free"}),
    )
    .await;
    assert_eq!(status, 200, "{routed}");
    assert_eq!(routed["hospital"]["hospital_id"], new_id.as_str());
    assert!(
        routed["fallbacks"]
            .as_array()
            .expect("fallbacks")
            .iter()
            .any(|f| f["hospital_id"] == alert["hospital"]["hospital_id"]),
        "the earlier choice stays as a fallback: {routed}"
    );
    let sent = (gw.drain_queue)("sms").await;
    assert_eq!(
        sent.len(),
        1,
        "the new hospital is told by SMS too: {sent:?}"
    );
    assert!(sent[0].contains(&new_id));
    let (status, _) = post(
        &gw,
        &format!("/api/v1/hospitals/{new_id}/alert"),
        &patient_token,
        json!({"alert_id": id}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, problem) = post(
        &gw,
        "/api/v1/hospitals/0192f3a4b5c67d8e9f00112233445566/alert",
        &dispatcher,
        json!({"alert_id": id}),
    )
    .await;
    assert_eq!(
        (status, problem["detail"].as_str()),
        (404, Some("hospital not found"))
    );
}
