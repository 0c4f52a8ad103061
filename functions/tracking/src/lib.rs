//! tracking: the WebSocket API (connect, subscribe, live positions) and the HTTP routes for
//! ETAs, route choice and an alert's track. Socket handlers answer on the socket (`{type:
//! "error", code, detail}`) and never fail the invocation for a client's mistake, so one bad
//! client cannot disturb anyone else's stream. The protocol is in docs/tracking.md.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use haven_alerts::emergencies::view::Viewer;
use haven_alerts::tracking::optimize::{self, OptimizeRequest};
use haven_alerts::tracking::positions::{self, SocketLocation};
use haven_alerts::tracking::{Outgoing, eta, track, watchers};
use haven_edge::catalogue::ALERT_VIEWERS;
use haven_edge::{ApiError, Caller, HandlerResult, json_response, parse_json, path_param};
use haven_kernel::DomainError;
use haven_kernel::ports::Ports;
use http::StatusCode;
use lambda_http::Request;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

pub use haven_alerts::tracking::watchers::{connection_key, is_valid_connection_id};

/// The largest message a tracking client has reason to send; API Gateway allows 128 KiB.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// The subprotocol a browser client names next to its token (`Sec-WebSocket-Protocol:
/// haven, <token>`), since browsers cannot set an Authorization header on a WebSocket.
pub const SUBPROTOCOL: &str = "haven";

type SocketEvent = LambdaEvent<ApiGatewayWebsocketProxyRequest>;
type SocketResult = Result<ApiGatewayProxyResponse, lambda_runtime::Error>;

fn reply(status: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event
        .request_context
        .connection_id
        .as_deref()
        .filter(|id| is_valid_connection_id(id))
}

/// The token: `?token=`, else the subprotocol entry that is not `haven`.
fn token_of(event: &ApiGatewayWebsocketProxyRequest) -> (Option<String>, bool) {
    let offered: Vec<String> = event
        .headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
        .unwrap_or_default();
    let names_haven = offered.iter().any(|p| p == SUBPROTOCOL);
    let from_query = event
        .query_string_parameters
        .first("token")
        .map(str::to_owned);
    let from_protocol = offered
        .into_iter()
        .find(|p| p != SUBPROTOCOL && !p.is_empty());
    (from_query.or(from_protocol), names_haven)
}

/// `$connect`: the token says who is connecting; only those who may watch some alert get a
/// connection. With `?alert_id=` (the local gateway's `/ws/emergency/{alert_id}/tracking`)
/// the connection is subscribed at once, and refused if that alert is not theirs to watch.
pub async fn ws_connect<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    let Some(id) = connection_id(&event.payload) else {
        return Ok(reply(400));
    };
    let (token, names_haven) = token_of(&event.payload);
    let Some(token) = token else {
        return Ok(reply(401));
    };
    let claims = match haven_identity_core::sessions::authenticate(ports, &token, true).await {
        Ok(c) => c,
        Err(DomainError::Unavailable(_)) => return Ok(reply(503)),
        Err(_) => return Ok(reply(401)),
    };
    if !ALERT_VIEWERS.contains(&claims.role) {
        return Ok(reply(403));
    }
    let viewer = Viewer::of(&claims);
    if let Err(e) = watchers::connect(ports, id, &viewer).await {
        tracing::error!(connection_id = id, error = %e, "cannot record connection");
        return Ok(reply(503));
    }
    if let Some(alert_id) = event.payload.query_string_parameters.first("alert_id") {
        match watchers::subscribe(ports, id, alert_id).await {
            Ok(_) => {}
            Err(e) => {
                watchers::disconnect(ports, id).await;
                tracing::info!(connection_id = id, error = %e, "watch refused at connect");
                return Ok(reply(match e {
                    DomainError::Unavailable(_) => 503,
                    DomainError::TooManyRequests { .. } => 429,
                    _ => 403,
                }));
            }
        }
    }
    tracing::info!(connection_id = id, role = claims.role.as_str(), "connected");
    let mut response = reply(200);
    if names_haven {
        // API Gateway (and browsers) need the chosen subprotocol echoed.
        response.headers.insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(response)
}

/// `$disconnect`: forgets the connection and its subscriptions. Best effort: API Gateway does
/// not retry it, and the TTL catches what this misses.
pub async fn ws_disconnect<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    if let Some(id) = connection_id(&event.payload) {
        watchers::disconnect(ports, id).await;
        tracing::info!(connection_id = id, "disconnected");
    }
    Ok(reply(200))
}

/// The error a client gets on its socket for a domain refusal.
fn socket_error(e: &DomainError) -> Outgoing {
    match e {
        DomainError::Invalid { message, .. } => Outgoing::error("invalid", message.clone()),
        DomainError::NotFound(what) if what == "connection" => Outgoing::error(
            "not-connected",
            "this connection is not known; connect again",
        ),
        DomainError::NotFound(what) => Outgoing::error(
            "not-found",
            format!("no such {what}, or not yours to watch"),
        ),
        DomainError::Forbidden | DomainError::Unauthenticated | DomainError::TokenRejected(_) => {
            Outgoing::error("forbidden", "not yours to report")
        }
        DomainError::Conflict { message, .. } | DomainError::Stale { message, .. } => {
            Outgoing::error("conflict", message.clone())
        }
        DomainError::TooManyRequests { .. } => {
            Outgoing::error("too-many", "too many watchers; try again later")
        }
        _ => Outgoing::error("unavailable", "try again shortly"),
    }
}

/// The message body, parsed, or the error to send back.
fn message<T: serde::de::DeserializeOwned>(
    event: &ApiGatewayWebsocketProxyRequest,
) -> Result<T, Box<Outgoing>> {
    let body = event.body.as_deref().unwrap_or("");
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(Box::new(Outgoing::error(
            "too-large",
            format!("messages are at most {MAX_MESSAGE_BYTES} bytes"),
        )));
    }
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| Box::new(Outgoing::error("bad-json", "messages are JSON objects")))?;
    serde_json::from_value(value)
        .map_err(|e| Box::new(Outgoing::error("bad-message", e.to_string())))
}

/// Runs a socket action and answers on the socket: its own reply, or the error.
async fn act<P, T, F, Fut>(ports: &P, event: SocketEvent, action: F) -> SocketResult
where
    P: Ports,
    T: serde::de::DeserializeOwned,
    F: FnOnce(String, T) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Outgoing>, DomainError>>,
{
    let Some(id) = connection_id(&event.payload) else {
        return Ok(reply(400));
    };
    let answer = match message::<T>(&event.payload) {
        Err(error) => Some(*error),
        Ok(parsed) => match action(id.to_owned(), parsed).await {
            Ok(answer) => answer,
            Err(e) => Some(socket_error(&e)),
        },
    };
    if let Some(answer) = answer {
        watchers::tell(ports, id, &answer).await;
    }
    Ok(reply(200))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Watch {
    #[serde(default)]
    #[allow(dead_code)]
    action: Option<String>,
    alert_id: String,
}

/// `subscribe` `{alert_id}` → `{type: "subscribed", alert_id, status}`.
pub async fn ws_subscribe<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    act(ports, event, |id, m: Watch| async move {
        let status = watchers::subscribe(ports, &id, &m.alert_id).await?;
        Ok(Some(Outgoing::Subscribed {
            alert_id: m.alert_id,
            status,
        }))
    })
    .await
}

/// `unsubscribe` `{alert_id}` → `{type: "unsubscribed", alert_id}`.
pub async fn ws_unsubscribe<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    act(ports, event, |id, m: Watch| async move {
        watchers::unsubscribe(ports, &id, &m.alert_id).await;
        Ok(Some(Outgoing::Unsubscribed {
            alert_id: m.alert_id,
        }))
    })
    .await
}

/// `location` `{latitude, longitude, accuracy_m?, speed_kmh?, heading?, alert_id?,
/// ambulance_id?}`: pushed to every watcher, the sender included; nothing else comes back.
pub async fn ws_location<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    act(ports, event, |id, m: SocketLocation| async move {
        positions::report_from_connection(ports, &id, m).await?;
        Ok(None)
    })
    .await
}

/// `$default`: a message whose `action` no route handles (or that is not JSON).
pub async fn ws_default<P: Ports>(ports: &P, event: SocketEvent) -> SocketResult {
    act(ports, event, |_, v: serde_json::Value| async move {
        let detail = match v.get("action").and_then(|a| a.as_str()) {
            Some(action) => format!(
                "unknown action `{}`; actions are subscribe, unsubscribe, location",
                action.chars().take(64).collect::<String>()
            ),
            None => "messages need an `action` field".to_owned(),
        };
        Ok(Some(Outgoing::error("unknown-action", detail)))
    })
    .await
}

fn viewer(caller: &Caller) -> Result<Viewer, ApiError> {
    Ok(Viewer::of(caller.claims()?))
}

/// `GET /eta/{alert_id}`.
pub async fn eta<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let estimate = eta::eta(ports, &viewer(&caller)?, alert_id).await?;
    json_response(StatusCode::OK, &estimate)
}

/// `POST /route/optimize` `{alert_id, ambulance_id?}`.
pub async fn route_optimize<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: OptimizeRequest = parse_json(&req, MAX_MESSAGE_BYTES)?;
    let plan = optimize::optimize(ports, &viewer(&caller)?, body).await?;
    json_response(StatusCode::OK, &plan)
}

/// `GET /emergency/{alert_id}/track`.
pub async fn track<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let positions = track::read(ports, &viewer(&caller)?, alert_id).await?;
    json_response(StatusCode::OK, &positions)
}

#[cfg(test)]
mod socket_tests;
