//! What end-to-end tests say to a running gateway most often.

use std::time::Duration;

use serde_json::{Value, json};

use crate::gateway::RunningGateway;

pub fn client() -> reqwest::Client {
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
