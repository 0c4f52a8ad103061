//! The WebSocket API: a socket per client at `/ws…`, `$connect` / `$disconnect` / action
//! routes selected by the `action` field as API Gateway does, and the Management API's
//! `POST /@connections/{id}` so the AWS adapter can post here too.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use haven_edge::catalogue::SOCKET_ROUTES;
use haven_kernel::ports::{ConnectionError, Connections, Ports};
use http::{HeaderMap, StatusCode};
use lambda_runtime::{Context, LambdaEvent};

use crate::events::{SocketEventKind, socket_event};
use crate::{Gateway, functions, new_request_id};

/// API Gateway's limit on one WebSocket message; a larger one gets an error on its socket.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// What the gateway reads at all: a client sending more is cut off (only that client).
const HARD_LIMIT_BYTES: usize = 1024 * 1024;

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

/// Calls the function of `route_key` with a socket event; its status (and the subprotocol it
/// chose) decide a handshake.
async fn invoke<P: Ports>(
    gw: &Arc<Gateway<P>>,
    route_key: &str,
    event: serde_json::Value,
) -> Option<(i64, Option<String>)> {
    let function = route_function(route_key)?;
    let handler = functions::socket_function::<P>(function)?;
    let payload = match serde_json::from_value(event) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "socket event conversion");
            return Some((500, None));
        }
    };
    let mut context = Context::default();
    context.request_id = new_request_id();
    match handler(gw.ports.clone(), LambdaEvent::new(payload, context)).await {
        Ok(r) => {
            let protocol = r
                .headers
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Some((r.status_code, protocol))
        }
        Err(e) => {
            tracing::error!(function, error = %e, "socket function failed");
            Some((500, None))
        }
    }
}

/// `/ws/emergency/{alert_id}/tracking` watches that alert from the start: the same as
/// `?alert_id=` on API Gateway's `$connect`.
fn with_alert_from_path(path: &str, query: String) -> String {
    let alert = path
        .strip_prefix("/ws/emergency/")
        .and_then(|rest| rest.strip_suffix("/tracking"))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    match alert {
        Some(id) => {
            let pair: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("alert_id", id)
                .finish();
            if query.is_empty() {
                pair
            } else {
                format!("{query}&{pair}")
            }
        }
        None => query,
    }
}

pub async fn upgrade<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    uri: http::Uri,
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
    let query = with_alert_from_path(uri.path(), query.unwrap_or_default());
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
    let (status, protocol) = invoke(&gw, "$connect", event).await.unwrap_or((200, None));
    if !(200..300).contains(&status) {
        let code = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::FORBIDDEN);
        return (code, "connection refused").into_response();
    }
    let outbound = gw.sockets.register(&connection_id);
    let ws = match protocol {
        // The subprotocol `$connect` chose, as API Gateway echoes it.
        Some(p) => ws.protocols([p]),
        None => ws,
    };
    ws.max_message_size(HARD_LIMIT_BYTES)
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
        if text.len() > MAX_MESSAGE_BYTES {
            // API Gateway would refuse it too; the client hears why and stays connected.
            let error = haven_alerts::tracking::Outgoing::error(
                "too-large",
                format!("messages are at most {MAX_MESSAGE_BYTES} bytes"),
            );
            let _ = gw.sockets.post(&connection_id, &error.to_bytes()).await;
            continue;
        }
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
