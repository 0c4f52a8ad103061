//! End to end through the local gateway over real HTTP and WebSocket, on both backends.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use haven_tests::gateway::RunningGateway;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

haven_tests::on_both_backends!(
    readiness_reports_every_dependency,
    liveness_and_summary_answer,
    unknown_route_is_a_problem_404,
    wrong_method_is_a_problem_405,
    oversized_body_is_a_problem_413,
    cors_preflight_is_answered,
    socket_messages_route_by_action,
);

fn client() -> reqwest::Client {
    haven_tests::http::client()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert!(
        response.headers().contains_key("x-request-id"),
        "every answer names its request"
    );
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"))
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

async fn readiness_reports_every_dependency(gw: RunningGateway) {
    let r = client()
        .get(gw.url("/api/v1/health/ready"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["ready"], true);
    let names: Vec<&str> = body["dependencies"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(names.contains(&"table"));
    for q in ["webhook", "sms", "hospital-api", "deadlines"] {
        assert!(
            names.contains(&format!("queue:{q}").as_str()),
            "{q} missing from {names:?}"
        );
    }
}

async fn liveness_and_summary_answer(gw: RunningGateway) {
    let live: Value = client()
        .get(gw.url("/api/v1/health/live"))
        .send()
        .await
        .expect("live")
        .json()
        .await
        .expect("json");
    assert_eq!(live["status"], "live");
    let r = client()
        .get(gw.url("/api/v1/health"))
        .send()
        .await
        .expect("summary");
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.expect("json");
    assert_eq!(summary["status"], "ok");
    assert!(summary["backend"].as_str().is_some());
}

async fn unknown_route_is_a_problem_404(gw: RunningGateway) {
    let r = client()
        .get(gw.url("/api/v1/no-such-thing"))
        .send()
        .await
        .expect("request");
    let body = problem(r, 404).await;
    assert_eq!(body["type"], "/problems/route-not-found");
}

async fn wrong_method_is_a_problem_405(gw: RunningGateway) {
    let r = client()
        .delete(gw.url("/api/v1/health/ready"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    let body = problem(r, 405).await;
    assert_eq!(body["allowed"], serde_json::json!(["GET"]));
}

async fn oversized_body_is_a_problem_413(gw: RunningGateway) {
    let huge = vec![b'x'; haven_local::MAX_REQUEST_BYTES + 1];
    let r = client()
        .post(gw.url("/api/v1/health"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");
    problem(r, 413).await;
    // The gateway is still fine afterwards.
    let r = client()
        .get(gw.url("/api/v1/health/live"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

async fn cors_preflight_is_answered(gw: RunningGateway) {
    let r = client()
        .request(reqwest::Method::OPTIONS, gw.url("/api/v1/health"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("access-control-allow-methods"));
    let r = client()
        .get(gw.url("/api/v1/health/live"))
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("get");
    assert!(r.headers().contains_key("access-control-allow-origin"));
}

async fn next_json(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a message within 10 s")
        .expect("socket open")
        .expect("frame");
    serde_json::from_str(frame.to_text().expect("text frame")).expect("JSON message")
}

async fn socket_messages_route_by_action(gw: RunningGateway) {
    // No token, no socket.
    assert!(
        tokio_tungstenite::connect_async(format!("{}/ws", gw.ws_url))
            .await
            .is_err()
    );
    let (token, _) = haven_tests::http::new_patient(&gw, "Socket Tester").await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}/ws?token={token}", gw.ws_url))
            .await
            .expect("connect");
    socket
        .send(Message::Text(
            r#"{"action":"teleport","alert_id":"a1"}"#.into(),
        ))
        .await
        .expect("send");
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "unknown-action");
    assert!(
        reply["detail"]
            .as_str()
            .is_some_and(|d| d.contains("teleport"))
    );
    socket
        .send(Message::Text("not json".into()))
        .await
        .expect("send");
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["code"], "bad-json");
    socket.close(None).await.expect("close");
}
