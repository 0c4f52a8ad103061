//! The ops handlers, fed the sample events in events/ exactly as Lambda would deliver them.

use haven_platform::EmbeddedPorts;
use lambda_http::{Body, Request};
use serde_json::Value;

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    (ports, dir)
}

fn json(response: &lambda_http::Response<Body>) -> Value {
    match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

async fn call<F, Fut>(
    ports: &EmbeddedPorts,
    function: &str,
    req: Request,
    handler: F,
) -> lambda_http::Response<Body>
where
    F: FnOnce(haven_edge::Caller, Request) -> Fut,
    Fut: std::future::Future<Output = haven_edge::HandlerResult>,
{
    haven_edge::respond(ports, function, req, handler)
        .await
        .expect("respond never fails")
}

#[tokio::test]
async fn live_answers_without_touching_dependencies() {
    let (ports, _dir) = ports();
    let r = call(&ports, "health-live", event("health-live"), |c, req| {
        crate::health_live(&ports, c, req)
    })
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(&r)["status"], "live");
    assert_eq!(
        r.headers()["x-request-id"],
        "sample-request-0001",
        "API Gateway's request id is echoed"
    );
}

#[tokio::test]
async fn ready_checks_the_table_and_every_channel_queue() {
    let (ports, _dir) = ports();
    let r = call(&ports, "health-ready", event("health-ready"), |c, req| {
        crate::health_ready(&ports, c, req)
    })
    .await;
    assert_eq!(r.status(), 200);
    let body = json(&r);
    assert_eq!(body["ready"], true);
    assert_eq!(body["backend"], "embedded");
    assert_eq!(
        body["dependencies"].as_array().map(Vec::len),
        Some(5),
        "{body}"
    );
}

#[tokio::test]
async fn summary_reports_ok_and_version() {
    let (ports, _dir) = ports();
    let r = call(&ports, "health", event("health"), |c, req| {
        crate::health(&ports, c, req)
    })
    .await;
    assert_eq!(r.status(), 200);
    let body = json(&r);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], crate::VERSION);
}

#[tokio::test]
async fn the_fallback_tells_wrong_methods_from_unknown_paths() {
    let (ports, _dir) = ports();
    // The sample is `DELETE /api/v1/health/ready`, a path that exists with another method.
    let r = call(
        &ports,
        "route-not-found",
        event("route-not-found"),
        |c, req| crate::route_not_found(&ports, c, req),
    )
    .await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.headers()["allow"], "GET");
    let unknown = http::Request::builder()
        .method("GET")
        .uri("https://example.org/api/v1/nowhere")
        .body(Body::Empty)
        .expect("request");
    let r = call(&ports, "route-not-found", unknown, |c, req| {
        crate::route_not_found(&ports, c, req)
    })
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(json(&r)["type"], "/problems/route-not-found");
}
