//! Emergencies and hospitals end to end through the local gateway, on both backends: the
//! alert lifecycle, idempotency under concurrent retries, history paging, who sees what,
//! low-trust verification, the nearby search (what it lists and passes over, unreported
//! capacity, `care`, the nearest hospitals beyond reach), capacity reports and a dispatcher's
//! routing.

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
    nearby_answers_never_contradict_themselves_and_say_what_is_unknown,
    care_any_lists_every_facility_and_emergency_only_those_that_treat,
    with_nothing_in_reach_the_answer_names_the_nearest_hospitals_beyond,
    an_alert_goes_to_a_facility_that_can_only_stabilise_when_nothing_else_is_in_reach,
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

/// Registers a facility as a system admin would; its id.
async fn register(gw: &RunningGateway, body: Value) -> String {
    let (status, created) = post(gw, "/api/v1/hospitals", &admin(gw).await, body).await;
    assert_eq!(status, 201, "{created}");
    created["hospital_id"].as_str().expect("id").to_owned()
}

fn ids(answer: &Value, list: &str) -> Vec<String> {
    answer[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list}: {answer}"))
        .iter()
        .map(|h| h["hospital_id"].as_str().expect("id").to_owned())
        .collect()
}

/// Nothing in `hospitals` is also in `passed_over`, and `beyond_limit` means the limit cut it.
fn consistent(answer: &Value, limit: usize) {
    let listed = ids(answer, "hospitals");
    for p in answer["passed_over"].as_array().expect("passed over") {
        let id = p["hospital_id"].as_str().expect("id");
        assert!(
            !listed.iter().any(|l| l == id),
            "{id} is listed and passed over: {answer}"
        );
        if p["reason"] == "beyond_limit" {
            assert_eq!(listed.len(), limit, "{answer}");
        }
    }
}

async fn nearby_answers_never_contradict_themselves_and_say_what_is_unknown(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    // Observation 6: in central Nairobi The Nairobi Hospital (1.7 km) ranked second after
    // KNH (1.95 km) and was passed over as `ranked_lower` in the same answer.
    let query = |limit: usize| {
        format!(
            "/api/v1/hospitals/nearby?lat={}&lng={}&radius_km=15&limit={limit}",
            CBD.0, CBD.1
        )
    };
    let (status, full) = get(&gw, &query(10), &token).await;
    assert_eq!(status, 200, "{full}");
    consistent(&full, 10);
    let everyone = full["hospitals"].as_array().expect("hospitals").clone();
    assert!(everyone.len() >= 5, "{full}");
    for h in &everyone {
        // The demo hospitals report their beds.
        assert_eq!(h["capacity"], "reported", "{h}");
        assert!(h["beds_available"].is_u64(), "{h}");
        assert_eq!(h["emergency_care"], "capable");
    }
    assert!(
        full["nearest_beyond"]
            .as_array()
            .expect("beyond")
            .is_empty()
    );
    let mut cut_any = false;
    for limit in [1, 2, 3, 5] {
        let (status, found) = get(&gw, &query(limit), &token).await;
        assert_eq!(status, 200, "{found}");
        consistent(&found, limit);
        let listed = ids(&found, "hospitals");
        let first: Vec<String> = everyone[..limit]
            .iter()
            .map(|h| h["hospital_id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(listed, first, "the same order whatever the limit");
        // Each hospital nearer than the first that the limit cut is said to be cut.
        let top_km = everyone[0]["distance_km"].as_f64().expect("distance");
        for h in &everyone[limit..] {
            if h["distance_km"].as_f64().expect("distance") < top_km {
                cut_any = true;
                assert!(
                    found["passed_over"]
                        .as_array()
                        .expect("passed")
                        .iter()
                        .any(|p| p["hospital_id"] == h["hospital_id"]
                            && p["reason"] == "beyond_limit"),
                    "limit {limit}: {} is not said to be cut: {found}",
                    h["name"]
                );
            }
        }
    }
    assert!(cut_any, "a nearer hospital ranks below the first: {full}");

    // Observation 2: a hospital registered with its beds has not said how many are free.
    let id = register(
        &gw,
        json!({"name": "Upper Hill Medical Centre", "latitude": -1.2990, "longitude": 36.8130, "level": 4, "facility_type": "medical_centre", "mfl_code": "19999", "specialties": ["emergency"], "beds_total": 40}),
    )
    .await;
    let near_it = "/api/v1/hospitals/nearby?lat=-1.2990&lng=36.8130&radius_km=3&limit=10";
    let (_, found) = get(&gw, near_it, &token).await;
    consistent(&found, 10);
    let listed = found["hospitals"]
        .as_array()
        .expect("hospitals")
        .iter()
        .find(|h| h["hospital_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{found}"))
        .clone();
    assert_eq!(listed["capacity"], "unreported");
    assert!(listed["beds_available"].is_null(), "{listed}");
    assert_eq!(listed["beds_total"], 40);
    assert_eq!(listed["score_parts"]["capacity"], 0.5);
    assert_eq!(listed["facility_type"], "medical_centre");
    let (status, caps) = get(&gw, &format!("/api/v1/hospitals/{id}/capabilities"), &token).await;
    assert_eq!(status, 200, "{caps}");
    assert_eq!(
        (
            caps["capacity"].as_str(),
            caps["mfl_code"].as_str(),
            caps["emergency_care"].as_str()
        ),
        (Some("unreported"), Some("19999"), Some("capable"))
    );
    assert!(caps["beds_available"].is_null() && caps["icu_beds_available"].is_null());
    // Asked for free beds, it is passed over for not having said.
    let (_, roomy) = get(&gw, &format!("{near_it}&min_beds=1"), &token).await;
    consistent(&roomy, 10);
    assert!(!ids(&roomy, "hospitals").contains(&id), "{roomy}");
    assert!(
        roomy["passed_over"]
            .as_array()
            .expect("passed")
            .iter()
            .any(|p| p["hospital_id"] == id.as_str() && p["reason"] == "capacity_unreported"),
        "{roomy}"
    );
    // Its staff report: now it is known.
    let nurse = staff(&gw, "nurse", Some(&id)).await;
    let (status, snapshot) = post(
        &gw,
        &format!("/api/v1/hospitals/{id}/availability"),
        &nurse,
        json!({"beds_available": 6}),
    )
    .await;
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(
        (
            snapshot["capacity"].as_str(),
            snapshot["beds_available"].as_u64()
        ),
        (Some("reported"), Some(6))
    );
    let (_, roomy) = get(&gw, &format!("{near_it}&min_beds=1"), &token).await;
    assert!(ids(&roomy, "hospitals").contains(&id), "{roomy}");
}

async fn care_any_lists_every_facility_and_emergency_only_those_that_treat(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    // A dispensary and a dental clinic next to the point, and a specialist hospital without
    // an emergency service (observations 4 and 5).
    let dispensary = register(
        &gw,
        json!({"name": "Kenyatta Road Dispensary", "latitude": -1.2866, "longitude": 36.8174, "level": 2, "facility_type": "dispensary"}),
    )
    .await;
    let dental = register(
        &gw,
        json!({"name": "City Dental Clinic", "latitude": -1.2862, "longitude": 36.8170, "level": 2, "facility_type": "stand_alone", "beds_total": 0}),
    )
    .await;
    let spinal = register(
        &gw,
        json!({"name": "National Spinal Injury Hospital", "latitude": -1.2857, "longitude": 36.7934, "level": 6, "facility_type": "specialist_hospital", "specialties": ["orthopaedics", "icu"], "beds_total": 30}),
    )
    .await;
    let base = format!(
        "/api/v1/hospitals/nearby?lat={}&lng={}&radius_km=10&limit=10",
        CBD.0, CBD.1
    );
    let (status, emergency) = get(&gw, &base, &token).await;
    assert_eq!(status, 200, "{emergency}");
    consistent(&emergency, 10);
    let listed = ids(&emergency, "hospitals");
    for id in [&dispensary, &dental, &spinal] {
        assert!(!listed.contains(id), "{id}: {emergency}");
    }
    let passed: Vec<(String, String)> = emergency["passed_over"]
        .as_array()
        .expect("passed")
        .iter()
        .map(|p| {
            (
                p["hospital_id"].as_str().expect("id").to_owned(),
                p["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    for id in [&dispensary, &dental] {
        assert!(
            passed.contains(&(id.clone(), "no_emergency_care".into())),
            "{id}: {emergency}"
        );
    }
    // `care=emergency` is the default, said or not.
    let (_, said) = get(&gw, &format!("{base}&care=emergency"), &token).await;
    assert_eq!(ids(&said, "hospitals"), listed);
    // `care=any` lists them all, as before, for finding a clinic.
    let (status, any) = get(&gw, &format!("{base}&care=any"), &token).await;
    assert_eq!(status, 200, "{any}");
    consistent(&any, 10);
    let everything = ids(&any, "hospitals");
    for id in [&dispensary, &dental, &spinal] {
        assert!(everything.contains(id), "{id}: {any}");
    }
    let kinds: Vec<&str> = any["hospitals"]
        .as_array()
        .expect("hospitals")
        .iter()
        .filter(|h| h["hospital_id"] == dispensary.as_str())
        .map(|h| h["emergency_care"].as_str().expect("care"))
        .collect();
    assert_eq!(kinds, ["none"]);
    // Asked for its specialty, the specialist hospital qualifies.
    let (_, ortho) = get(&gw, &format!("{base}&specialty=orthopaedics"), &token).await;
    assert_eq!(
        ids(&ortho, "hospitals"),
        std::slice::from_ref(&spinal),
        "{ortho}"
    );
    // A care that is neither is refused, naming the field.
    for bad in ["urgent", "EMERGENCY", "all"] {
        let (status, problem) = get(&gw, &format!("{base}&care={bad}"), &token).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (422, Some("care")),
            "care={bad}: {problem}"
        );
    }
}

async fn with_nothing_in_reach_the_answer_names_the_nearest_hospitals_beyond(gw: RunningGateway) {
    let (token, _) = patient(&gw).await;
    // Observation 7: out at sea off the south coast nothing is within reach, and the answer
    // said nothing more. Coast General is 104 km away (The Mombasa Hospital, 103 km, has no
    // free beds).
    let (status, found) = get(&gw, "/api/v1/hospitals/nearby?lat=-4.5&lng=40.5", &token).await;
    assert_eq!(status, 200, "{found}");
    assert!(ids(&found, "hospitals").is_empty(), "{found}");
    let beyond = found["nearest_beyond"].as_array().expect("beyond");
    assert!(!beyond.is_empty() && beyond.len() <= 3, "{found}");
    assert_eq!(beyond[0]["hospital_id"], "demo-cgtrh", "{found}");
    assert_eq!(beyond[0]["level"], 5);
    let km = beyond[0]["distance_km"].as_f64().expect("distance");
    assert!((100.0..110.0).contains(&km), "{found}");
    assert!(
        beyond
            .iter()
            .all(|b| b["hospital_id"] != "demo-mombasa-hospital")
    );
    assert!(
        beyond[0]["name"]
            .as_str()
            .expect("name")
            .contains("Coast General")
    );

    // An alert there is escalated to a dispatcher with the same hint, kept on the alert.
    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        alert_body(-4.5, 40.5, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["status"], "escalated");
    assert!(alert["hospital"].is_null());
    assert_eq!(
        alert["nearest_beyond"][0]["hospital_id"], "demo-cgtrh",
        "{alert}"
    );
    let note = alert["timeline"]
        .as_array()
        .expect("timeline")
        .last()
        .and_then(|t| t["note"].as_str())
        .expect("note");
    assert!(note.contains("Coast General"), "{note}");
    let id = alert["alert_id"].as_str().expect("id");
    let dispatcher = staff(&gw, "dispatcher", None).await;
    let (_, seen) = get(&gw, &format!("/api/v1/emergency/{id}/status"), &dispatcher).await;
    assert_eq!(seen["nearest_beyond"], alert["nearest_beyond"]);
    // A point with hospitals in reach has no such list.
    let (_, found) = get(
        &gw,
        &format!("/api/v1/hospitals/nearby?lat={}&lng={}", CBD.0, CBD.1),
        &token,
    )
    .await;
    assert!(
        found["nearest_beyond"]
            .as_array()
            .expect("beyond")
            .is_empty()
    );
}

async fn an_alert_goes_to_a_facility_that_can_only_stabilise_when_nothing_else_is_in_reach(
    gw: RunningGateway,
) {
    // Central Nakuru: no demo hospital within 100 km; a level-3 health centre there.
    let centre = register(
        &gw,
        json!({"name": "Nakuru West Health Centre", "latitude": -0.2900, "longitude": 36.0600, "level": 3, "facility_type": "health_centre", "specialties": ["emergency"], "beds_total": 12}),
    )
    .await;
    let (token, _) = patient(&gw).await;
    // A search for emergency care lists nothing there, and says why.
    let (_, found) = get(
        &gw,
        "/api/v1/hospitals/nearby?lat=-0.2850&lng=36.0690&radius_km=10",
        &token,
    )
    .await;
    assert!(ids(&found, "hospitals").is_empty(), "{found}");
    assert_eq!(found["passed_over"][0]["hospital_id"], centre.as_str());
    assert_eq!(found["passed_over"][0]["reason"], "stabilisation_only");
    assert_eq!(
        found["nearest_beyond"][0]["hospital_id"], "demo-knh",
        "{found}"
    );

    // An alert goes there, as the best there is, and says so.
    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &token,
        alert_body(-0.2850, 36.0690, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["status"], "matched");
    let hospital = &alert["hospital"];
    assert_eq!(hospital["hospital_id"], centre.as_str(), "{alert}");
    assert_eq!(hospital["last_resort"], "stabilisation_only");
    let detail = hospital["last_resort_detail"].as_str().expect("detail");
    assert!(detail.contains("stabilise"), "{detail}");
    let matched = alert["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|t| t["status"] == "matched")
        .expect("matched");
    assert_eq!(matched["note"].as_str(), Some(detail));
    // Where a hospital that can treat is, for the transfer.
    assert_eq!(
        alert["nearest_beyond"][0]["hospital_id"], "demo-knh",
        "{alert}"
    );
    let sent = events(&gw).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["hospital_id"], centre.as_str());

    // In Nairobi the same kind of centre next door is passed over for a hospital.
    let nairobi_centre = register(
        &gw,
        json!({"name": "Kenyatta Market Health Centre", "latitude": -1.2866, "longitude": 36.8170, "level": 3, "facility_type": "health_centre", "specialties": ["emergency", "trauma"]}),
    )
    .await;
    let (other, _) = patient(&gw).await;
    let (status, alert) = post(
        &gw,
        "/api/v1/emergency/alert",
        &other,
        alert_body(CBD.0, CBD.1, "trauma"),
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert!(
        alert["hospital"]["hospital_id"]
            .as_str()
            .expect("id")
            .starts_with("demo-"),
        "{alert}"
    );
    assert!(alert["hospital"]["last_resort"].is_null(), "{alert}");
    let chosen: Vec<&Value> = std::iter::once(&alert["hospital"])
        .chain(alert["fallbacks"].as_array().expect("fallbacks"))
        .collect();
    assert!(
        chosen
            .iter()
            .all(|h| h["hospital_id"] != nairobi_centre.as_str())
    );
    assert!(alert.get("nearest_beyond").is_none(), "{alert}");
}
