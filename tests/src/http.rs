//! What end-to-end tests say to a running gateway most often.

use std::time::Duration;

use serde_json::{Value, json};

use crate::gateway::RunningGateway;

pub fn client() -> reqwest::Client {
    haven_webhooks::install_default_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// `tag-<random>`: unique across tests sharing one backend.
pub fn unique(tag: &str) -> String {
    format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub fn unique_email(tag: &str) -> String {
    format!("{}@example.org", unique(tag))
}

/// Signs in and returns the access token.
pub async fn login(gw: &RunningGateway, email: &str, password: &str) -> String {
    let response = client()
        .post(gw.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "login as {email}");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

/// A password the tests' accounts share.
pub const PASSWORD: &str = "amber falcon river quartz 42";

/// Any request; returns the status and the JSON body (null when there is none).
pub async fn call(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = client().request(method.parse().expect("method"), gw.url(path));
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An alert raised by `token` at `at` (latitude, longitude); asserts 201 and returns the alert.
pub async fn trigger(gw: &RunningGateway, token: &str, kind: &str, at: (f64, f64)) -> Value {
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

/// A newly registered patient, signed in: (access token, user id).
pub async fn new_patient(gw: &RunningGateway, full_name: &str) -> (String, String) {
    let email = unique_email("patient");
    let (status, created) = call(
        gw,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(json!({"email": email, "password": PASSWORD, "full_name": full_name})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let token = login(gw, &email, PASSWORD).await;
    let (_, me) = call(gw, "GET", "/api/v1/auth/me", Some(&token), None).await;
    let id = me["user_id"].as_str().expect("user_id").to_owned();
    (token, id)
}

/// A staff account (`role`, at `hospital`) made by the system admin, signed in.
pub async fn new_staff(gw: &RunningGateway, role: &str, hospital: Option<&str>) -> String {
    let email = unique_email(role);
    let mut body =
        json!({"email": email, "password": PASSWORD, "full_name": "Staff Member", "role": role});
    if let Some(h) = hospital {
        body["hospital_id"] = json!(h);
    }
    let admin = login(
        gw,
        crate::gateway::ADMIN_EMAIL,
        crate::gateway::ADMIN_PASSWORD,
    )
    .await;
    let (status, created) = call(gw, "POST", "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    login(gw, &email, PASSWORD).await
}
