//! emergencies: the alert lifecycle. Handlers are thin: parse, take the caller from the
//! edge (roles are checked from the catalogue), call `haven_alerts::emergencies`, shape JSON.

use haven_alerts::emergencies::alert::Location;
use haven_alerts::emergencies::lifecycle;
use haven_alerts::emergencies::trigger::{self, Outcome, Reporter, TriggerRequest};
use haven_alerts::emergencies::view::Viewer;
use haven_edge::{
    ApiError, Caller, HandlerResult, json_response, page_cursor, page_limit, parse_json, path_param,
};
use haven_kernel::ports::Ports;
use http::{HeaderValue, StatusCode};
use lambda_http::Request;
use serde::Deserialize;

/// An alert is a few hundred bytes; 16 KiB leaves room for a long note and vitals.
const ALERT_BODY_LIMIT: usize = 16 * 1024;
const SMALL_BODY_LIMIT: usize = 4 * 1024;

/// The caller as the alert rules see them.
pub fn viewer(caller: &Caller) -> Result<Viewer, ApiError> {
    Ok(Viewer::of(caller.claims()?))
}

fn idempotency_key(req: &Request) -> Result<Option<&str>, ApiError> {
    req.headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::invalid(
                    "idempotency_key",
                    "an Idempotency-Key is 1 to 255 visible ASCII characters",
                )
            })
        })
        .transpose()
}

/// `POST /emergency/alert` → 201 with the new alert, or 200 with the alert a retry or a
/// second tap nearby resolves to (`outcome` says which).
pub async fn alert<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: TriggerRequest = parse_json(&req, ALERT_BODY_LIMIT)?;
    let claims = caller.claims()?;
    let reporter = Reporter {
        user_id: claims.sub.clone(),
        bypass: caller.is_bypass().then(|| (claims.jti.clone(), claims.exp)),
    };
    let triggered = trigger::trigger(ports, &reporter, body, idempotency_key(&req)?).await?;
    let status = match triggered.outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Joined | Outcome::Replayed => StatusCode::OK,
    };
    let mut response = json_response(status, &triggered)?;
    if let Ok(location) = HeaderValue::from_str(&format!(
        "/api/v1/emergency/{}/status",
        triggered.alert.alert_id
    )) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /emergency/{alert_id}/status`.
pub async fn status<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let view = lifecycle::status(ports, &viewer(&caller)?, alert_id).await?;
    json_response(StatusCode::OK, &view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLocation {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    accuracy_m: Option<f64>,
}

/// `PUT /emergency/{alert_id}/location` `{latitude, longitude, accuracy_m?}`.
pub async fn location<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let body: NewLocation = parse_json(&req, SMALL_BODY_LIMIT)?;
    let location = Location::new(body.latitude, body.longitude, body.accuracy_m)?;
    let view = lifecycle::update_location(ports, &viewer(&caller)?, alert_id, location).await?;
    json_response(StatusCode::OK, &view)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

/// A body that may be absent: `{}` is assumed.
fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    let empty = match req.body() {
        lambda_http::Body::Empty => true,
        lambda_http::Body::Text(t) => t.trim().is_empty(),
        lambda_http::Body::Binary(b) => b.is_empty(),
        _ => true,
    };
    if empty {
        Ok(T::default())
    } else {
        parse_json(req, SMALL_BODY_LIMIT)
    }
}

/// `POST /emergency/{alert_id}/cancel` `{reason?}`.
pub async fn cancel<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let body: Reason = optional_body(&req)?;
    let view =
        lifecycle::cancel(ports, &viewer(&caller)?, alert_id, body.reason.as_deref()).await?;
    json_response(StatusCode::OK, &view)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Verification {
    #[serde(default)]
    code: Option<String>,
}

/// `POST /emergency/{alert_id}/verify` `{code?}`.
pub async fn verify<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let body: Verification = optional_body(&req)?;
    let view = lifecycle::verify(ports, &viewer(&caller)?, alert_id, body.code.as_deref()).await?;
    json_response(StatusCode::OK, &view)
}

/// `GET /emergency/history?limit=&cursor=`.
pub async fn history<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let page = lifecycle::history(
        ports,
        &viewer(&caller)?,
        page_limit(&req, 20, 100)?,
        page_cursor(&req)?,
    )
    .await?;
    json_response(StatusCode::OK, &page)
}

#[cfg(test)]
mod use_case_tests;
