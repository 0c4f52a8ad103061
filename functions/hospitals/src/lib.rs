//! hospitals: discovery, profiles and capacity, and a dispatcher's routing of an alert.
//! Handlers are thin: parse, take the caller from the edge, call
//! `haven_alerts::hospitals` (or the alert lifecycle for routing), shape JSON.

use haven_alerts::emergencies::lifecycle;
use haven_alerts::hospitals::manage::{
    self, Actor, CapacityReport, NearbyRequest, NewHospital, ProfileChanges,
};
use haven_edge::json::DEFAULT_BODY_LIMIT;
use haven_edge::{
    ApiError, Caller, HandlerResult, json_response, parse_json, path_param, query_param,
};
use haven_kernel::ports::Ports;
use http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

fn actor(caller: &Caller) -> Result<Actor, ApiError> {
    Ok(Actor::of(caller.claims()?))
}

/// A numeric query parameter, 422 naming it when it is not a number.
fn number<T: std::str::FromStr>(req: &Request, name: &str) -> Result<Option<T>, ApiError> {
    query_param(req, name)
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| ApiError::invalid(name, format!("{name} must be a number")))
        })
        .transpose()
}

/// `GET /hospitals/nearby?lat=&lng=&radius_km=&specialty=&min_beds=&min_level=&limit=&care=`.
pub async fn nearby<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let request = NearbyRequest {
        latitude: number(&req, "lat")?,
        longitude: number(&req, "lng")?,
        radius_km: number(&req, "radius_km")?,
        specialty: query_param(&req, "specialty").map(str::to_owned),
        min_beds: number(&req, "min_beds")?,
        min_level: number(&req, "min_level")?,
        limit: number(&req, "limit")?,
        care: query_param(&req, "care").map(str::to_owned),
    };
    json_response(StatusCode::OK, &manage::nearby(ports, request).await?)
}

/// `POST /hospitals` → 201 `{hospital_id}`.
pub async fn create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let input: NewHospital = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let created = manage::create(ports, &actor(&caller)?, input).await?;
    json_response(StatusCode::CREATED, &created)
}

/// `PUT /hospitals/{id}` → the hospital's capabilities as they now are.
pub async fn update<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    let changes: ProfileChanges = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let view = manage::update_profile(ports, &actor(&caller)?, id, changes).await?;
    json_response(StatusCode::OK, &view)
}

/// `GET /hospitals/{id}/capabilities`.
pub async fn capabilities<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    json_response(StatusCode::OK, &manage::capabilities(ports, id).await?)
}

/// `POST /hospitals/{id}/availability` → the capacity snapshot after the report.
pub async fn availability<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    let report: CapacityReport = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let snapshot = manage::report_capacity(ports, &actor(&caller)?, id, report).await?;
    json_response(StatusCode::OK, &snapshot)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteAlert {
    alert_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /hospitals/{id}/alert` `{alert_id, reason?}` → the alert, now matched to this hospital.
pub async fn route_alert<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    let body: RouteAlert = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let viewer = haven_alerts::emergencies::view::Viewer::of(caller.claims()?);
    let view =
        lifecycle::route_to_hospital(ports, &viewer, id, &body.alert_id, body.reason.as_deref())
            .await?;
    json_response(StatusCode::OK, &view)
}
