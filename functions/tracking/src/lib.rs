//! tracking: the WebSocket API's connection lifecycle. Connections are kept in the table with
//! a TTL (API Gateway closes a socket after two hours at most), so a lost `$disconnect`
//! never leaves a connection forever.

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use haven_domain::item::EXPIRES_AT;
use haven_domain::ports::{Condition, Connections, Ports, Table};
use haven_domain::{Item, Key, Value};
use lambda_runtime::LambdaEvent;
use serde::Serialize;

/// API Gateway's limit on one WebSocket connection.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

pub fn connection_key(connection_id: &str) -> Key {
    Key::new(format!("CONNECTION#{connection_id}"), "CONNECTION")
}

fn reply(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(aws_lambda_events::encodings::Body::Text);
    response
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event
        .request_context
        .connection_id
        .as_deref()
        .filter(|id| is_valid_connection_id(id))
}

/// API Gateway connection ids are short base64 text (`L0SM9cOFvHcCIhw=`); anything else
/// (key syntax such as `#` in particular) never reaches the table.
pub fn is_valid_connection_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=-_+/".contains(&b))
}

/// `$connect`: records the connection. Authorisation of who may watch what arrives with the
/// `subscribe` route, which checks the alert's audience.
pub async fn ws_connect<P: Ports>(
    ports: &P,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    let Some(id) = connection_id(&event.payload) else {
        return Ok(reply(400, Some("missing connection id".into())));
    };
    let now = ports.clock().now();
    let item = Item::new(&connection_key(id))
        .with("connected_at", Value::s(now.to_rfc3339()))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(CONNECTION_LIFETIME).epoch_seconds()),
        );
    match ports.table().put(item, None).await {
        Ok(()) => {
            tracing::info!(connection_id = id, "connected");
            Ok(reply(200, None))
        }
        Err(e) => {
            tracing::error!(connection_id = id, error = %e, "cannot record connection");
            Ok(reply(503, None))
        }
    }
}

/// `$disconnect`: forgets the connection. Best effort: API Gateway does not retry it.
pub async fn ws_disconnect<P: Ports>(
    ports: &P,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    if let Some(id) = connection_id(&event.payload) {
        if let Err(e) = ports.table().delete(&connection_key(id), None).await {
            tracing::warn!(connection_id = id, error = %e, "cannot forget connection; its TTL will");
        }
        tracing::info!(connection_id = id, "disconnected");
    }
    Ok(reply(200, None))
}

#[derive(Serialize)]
struct SocketError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    detail: &'a str,
}

/// `$default`: a message whose `action` no route handles. The client is told so on its socket.
pub async fn ws_default<P: Ports>(
    ports: &P,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
    let Some(id) = connection_id(&event.payload) else {
        return Ok(reply(400, None));
    };
    let body = event.payload.body.as_deref().unwrap_or("");
    let detail = match serde_json::from_str::<serde_json::Value>(body) {
        Err(_) => "messages are JSON objects with an `action` field".to_owned(),
        Ok(v) => match v.get("action").and_then(|a| a.as_str()) {
            Some(action) => format!(
                "unknown action `{}`",
                action.chars().take(64).collect::<String>()
            ),
            None => "messages need an `action` field".to_owned(),
        },
    };
    let message = SocketError {
        kind: "error",
        code: "unknown-action",
        detail: &detail,
    };
    let payload = serde_json::to_vec(&message)?;
    match ports.connections().post(id, &payload).await {
        Ok(()) => {}
        Err(haven_domain::ports::ConnectionError::Gone) => {
            let _ = ports
                .table()
                .delete(&connection_key(id), Some(Condition::item_present()))
                .await;
        }
        Err(e) => tracing::warn!(connection_id = id, error = %e, "cannot answer on socket"),
    }
    Ok(reply(200, None))
}
