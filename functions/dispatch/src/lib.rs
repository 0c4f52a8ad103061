//! dispatch: the ambulance fleet over HTTP. Handlers are thin: parse, take the caller from
//! the edge (roles are checked from the catalogue), call `haven_alerts::dispatch` (and
//! `tracking::positions` for position reports), shape JSON.

use haven_alerts::dispatch::UnitStatus;
use haven_alerts::dispatch::fleet::{self, NewAmbulance};
use haven_alerts::emergencies::view::Viewer;
use haven_alerts::tracking::positions::{self, PositionReport};
use haven_edge::{
    ApiError, Caller, HandlerResult, json_response, page_cursor, page_limit, parse_json,
    path_param, query_param,
};
use haven_kernel::ports::Ports;
use http::{HeaderValue, StatusCode};
use lambda_http::Request;
use serde::Deserialize;

const BODY_LIMIT: usize = 8 * 1024;

fn viewer(caller: &Caller) -> Result<Viewer, ApiError> {
    Ok(Viewer::of(caller.claims()?))
}

/// `POST /ambulances` → 201 with the unit.
pub async fn create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: NewAmbulance = parse_json(&req, BODY_LIMIT)?;
    let unit = fleet::register(ports, &viewer(&caller)?, body).await?;
    let mut response = json_response(StatusCode::CREATED, &unit)?;
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/ambulances/{}", unit.ambulance_id))
    {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /ambulances?status=&limit=&cursor=`.
pub async fn list<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let status = query_param(&req, "status")
        .map(UnitStatus::parse)
        .transpose()?;
    let page = fleet::list(
        ports,
        &viewer(&caller)?,
        status,
        page_limit(&req, 50, 200)?,
        page_cursor(&req)?,
    )
    .await?;
    json_response(StatusCode::OK, &page)
}

/// `GET /ambulances/{ambulance_id}`.
pub async fn get<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "ambulance_id")?;
    let unit = fleet::get(ports, &viewer(&caller)?, id).await?;
    json_response(StatusCode::OK, &unit)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    alert_id: String,
}

/// `POST /ambulances/{ambulance_id}/assign` `{alert_id}`.
pub async fn assign<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "ambulance_id")?;
    let body: AssignBody = parse_json(&req, BODY_LIMIT)?;
    let assignment = fleet::assign(ports, &viewer(&caller)?, id, &body.alert_id).await?;
    json_response(StatusCode::OK, &assignment)
}

/// `POST /ambulances/{ambulance_id}/position` `{latitude, longitude, speed_kmh?, heading?,
/// accuracy_m?}`.
pub async fn position<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "ambulance_id")?;
    let body: PositionReport = parse_json(&req, BODY_LIMIT)?;
    let update = positions::report_unit(ports, &viewer(&caller)?, id, body).await?;
    json_response(StatusCode::OK, &update)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

/// `POST /ambulances/{ambulance_id}/status` `{status}`.
pub async fn status<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "ambulance_id")?;
    let body: StatusBody = parse_json(&req, BODY_LIMIT)?;
    let to = UnitStatus::parse(&body.status)?;
    let changed = fleet::set_status(ports, &viewer(&caller)?, id, to).await?;
    json_response(StatusCode::OK, &changed)
}

/// `GET /emergency/{alert_id}/ambulances`: the nearest suitable available units.
pub async fn propose<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let proposals = fleet::propose(ports, &viewer(&caller)?, alert_id).await?;
    json_response(StatusCode::OK, &proposals)
}

#[cfg(test)]
mod handler_tests;
