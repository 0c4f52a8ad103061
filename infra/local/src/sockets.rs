//! The WebSocket API: a socket per client at `/ws…`, `$connect` / `$disconnect` / action
//! routes selected by the `action` field as API Gateway does, and the Management API's
//! `POST /@connections/{id}` so the AWS adapter can post here too.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use haven_domain::ports::{ConnectionError, Connections, Ports};
use haven_edge::catalogue::SOCKET_ROUTES;
use http::{HeaderMap, StatusCode};
use lambda_runtime::{Context, LambdaEvent};

use crate::events::{SocketEventKind, socket_event};
use crate::{Gateway, functions, new_request_id};

/// API Gateway's limit on one WebSocket frame.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

fn new_connection_id() -> String {
    use base64::Engine;
    let id = uuid::Uuid::new_v4();
    // API Gateway ids are 12 random bytes in base64 ("L0SM9cOFvHcCIhw="): same shape here.
    base64::engine::general_purpose::STANDARD.encode(&id.as_bytes()[..11])
}

fn route_function(route_key: &str) -> Option<&'static str> {
    SOCKET_ROUTES
        .iter()
        .find(|r| r.route_key == route_key)
        .map(|r| r.function)
}

/// Calls the function of `route_key` with a socket event; its status decides a handshake.
async fn invoke<P: Ports>(
    gw: &Arc<Gateway<P>>,
    route_key: &str,
    event: serde_json::Value,
) -> Option<i64> {
    let function = route_function(route_key)?;
    let handler = functions::socket_function::<P>(function)?;
    let payload = match serde_json::from_value(event) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "socket event conversion");
            return Some(500);
        }
    };
    let mut context = Context::default();
    context.request_id = new_request_id();
    match handler(gw.ports.clone(), LambdaEvent::new(payload, context)).await {
        Ok(r) => Some(r.status_code),
        Err(e) => {
            tracing::error!(function, error = %e, "socket function failed");
            Some(500)
        }
    }
}

pub async fn upgrade<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> axum::response::Response {
    let Ok(ws) = ws else {
        let e = haven_edge::ApiError::Validation {
            field: None,
            detail: "this path takes a WebSocket upgrade".into(),
        };
        return crate::to_axum(e.into_response(None));
    };
    let connection_id = new_connection_id();
    let connected_at = chrono::Utc::now().timestamp_millis();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let query = query.unwrap_or_default();
    let event = socket_event(
        SocketEventKind::Connect {
            headers: &headers,
            raw_query: &query,
        },
        &connection_id,
        connected_at,
        &new_request_id(),
        &host,
    );
    // API Gateway refuses the handshake unless `$connect` answers 2xx.
    let status = invoke(&gw, "$connect", event).await.unwrap_or(200);
    if !(200..300).contains(&status) {
        let code = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::FORBIDDEN);
        return (code, "connection refused").into_response();
    }
    let outbound = gw.sockets.register(&connection_id);
    ws.max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(gw, socket, connection_id, connected_at, host, outbound))
}

async fn run<P: Ports>(
    gw: Arc<Gateway<P>>,
    socket: WebSocket,
    connection_id: String,
    connected_at: i64,
    host: String,
    mut outbound: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = outbound.recv().await {
            let frame = match String::from_utf8(bytes) {
                Ok(text) => Message::Text(text.into()),
                Err(e) => Message::Binary(e.into_bytes().into()),
            };
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        // Route selection expression `$request.body.action`, falling back to `$default`.
        let action = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned));
        let route_key = match action {
            Some(a) if route_function(&a).is_some() && !a.starts_with('$') => a,
            _ => "$default".to_owned(),
        };
        let event = socket_event(
            SocketEventKind::Message {
                route_key: &route_key,
                body: &text,
            },
            &connection_id,
            connected_at,
            &new_request_id(),
            &host,
        );
        invoke(&gw, &route_key, event).await;
    }
    gw.sockets.unregister(&connection_id);
    let event = socket_event(
        SocketEventKind::Disconnect,
        &connection_id,
        connected_at,
        &new_request_id(),
        &host,
    );
    invoke(&gw, "$disconnect", event).await;
    writer.abort();
}

/// `POST /@connections/{id}` of the API Gateway Management API: 200, or 410 `GoneException`.
pub async fn post_to_connection<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    Path(connection_id): Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    match gw.sockets.post(&connection_id, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(ConnectionError::Gone) => (
            StatusCode::GONE,
            [
                ("x-amzn-errortype", "GoneException"),
                ("content-type", "application/json"),
            ],
            r#"{"message":"the connection is gone"}"#,
        )
            .into_response(),
        Err(ConnectionError::Failed(m)) => (StatusCode::INTERNAL_SERVER_ERROR, m).into_response(),
    }
}
