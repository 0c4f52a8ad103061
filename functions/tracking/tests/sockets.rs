//! The WebSocket route handlers, fed the sample events in events/.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use haven_domain::ports::{Ports, Table};
use haven_platform::EmbeddedPorts;
use haven_tracking::connection_key;
use lambda_runtime::{Context, LambdaEvent};

fn event(name: &str) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
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

#[tokio::test]
async fn connect_records_the_connection_with_a_ttl_and_disconnect_forgets_it() {
    let (ports, _dir) = ports();
    let r = haven_tracking::ws_connect(&ports, event("ws-connect"))
        .await
        .expect("connect");
    assert_eq!(r.status_code, 200);
    let stored = ports
        .table()
        .get(&connection_key(SAMPLE_CONNECTION))
        .await
        .expect("get")
        .expect("recorded");
    let expires = stored.i64("expires_at").expect("TTL set");
    let now = chrono::Utc::now().timestamp();
    assert!(
        expires > now && expires <= now + 2 * 3600 + 5,
        "expires within API Gateway's 2 h limit"
    );
    let r = haven_tracking::ws_disconnect(&ports, event("ws-disconnect"))
        .await
        .expect("disconnect");
    assert_eq!(r.status_code, 200);
    assert_eq!(
        ports
            .table()
            .get(&connection_key(SAMPLE_CONNECTION))
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn unknown_actions_are_answered_on_the_socket() {
    let (ports, _dir) = ports();
    let mut socket = ports.backend.connections.register(SAMPLE_CONNECTION);
    let r = haven_tracking::ws_default(&ports, event("ws-default"))
        .await
        .expect("default");
    assert_eq!(r.status_code, 200);
    let bytes = socket.try_recv().expect("a message was posted");
    let message: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(message["type"], "error");
    assert!(
        message["detail"]
            .as_str()
            .is_some_and(|d| d.contains("teleport"))
    );
}

#[tokio::test]
async fn a_malformed_connection_id_is_refused() {
    let (ports, _dir) = ports();
    let mut e = event("ws-connect");
    e.payload.request_context.connection_id = Some("CONNECTION#x".into());
    let r = haven_tracking::ws_connect(&ports, e)
        .await
        .expect("connect");
    assert_eq!(r.status_code, 400);
}
