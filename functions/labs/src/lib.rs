//! labs: a hospital's lab orders. Handlers are thin: parse, take the caller from the edge,
//! call `haven_labs_core::orders`, shape JSON. Nothing here is cacheable.

use haven_edge::{
    ApiError, Caller, HandlerResult, json_response, no_store, page_cursor, page_limit, parse_json,
    path_param, query_param,
};
use haven_kernel::ports::Ports;
use haven_labs_core::orders::{self, Filter, NewOrder, Staff};
use haven_labs_core::status::{OrderStatus, Priority};
use http::{HeaderValue, StatusCode};
use lambda_http::Request;

/// An order is a few kilobytes.
const BODY_LIMIT: usize = 32 * 1024;

fn staff(caller: &Caller) -> Result<Staff, ApiError> {
    let claims = caller.claims()?;
    Ok(Staff {
        user_id: claims.sub.clone(),
        role: claims.role,
        hospital_id: claims.hospital_id.clone(),
    })
}

/// `POST /lab-orders` → 201 with the order.
pub async fn order_create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let input: NewOrder = parse_json(&req, BODY_LIMIT)?;
    let order = orders::create(ports, &staff, input).await?;
    let mut response = no_store(json_response(StatusCode::CREATED, &order)?);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/lab-orders/{}", order.order_id)) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

fn parsed<T: serde::de::DeserializeOwned>(
    req: &Request,
    name: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    query_param(req, name)
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned()))
                .map_err(|_| ApiError::invalid(name, what))
        })
        .transpose()
}

/// `GET /lab-orders?patient_id=&status=&priority=&ordered_by=&limit=&cursor=`, newest first.
pub async fn order_list<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let status = query_param(&req, "status")
        .map(|s| {
            OrderStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "ordered, in_progress, completed, reviewed, cancelled or corrected",
                )
            })
        })
        .transpose()?;
    let filter = Filter {
        patient_id: query_param(&req, "patient_id").map(str::to_owned),
        status,
        priority: parsed::<Priority>(&req, "priority", "stat, urgent or routine")?,
        ordered_by: query_param(&req, "ordered_by").map(str::to_owned),
    };
    let page = orders::list(
        ports,
        &staff,
        &filter,
        page_limit(&req, 20, 100)?,
        page_cursor(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &page)?))
}

/// `GET /lab-orders/{order_id}`.
pub async fn order_get<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let order = orders::read(ports, &staff, path_param(&req, "order_id")?).await?;
    Ok(no_store(json_response(StatusCode::OK, &order)?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

/// `PUT /lab-orders/{order_id}/status {status}`: 409 with the current state when the order
/// cannot move there.
pub async fn order_status<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let change: StatusChange = parse_json(&req, BODY_LIMIT)?;
    let to = OrderStatus::parse(change.status.trim()).ok_or_else(|| {
        ApiError::invalid(
            "status",
            "in_progress, completed, reviewed, cancelled or corrected",
        )
    })?;
    let order = orders::move_to(ports, &staff, path_param(&req, "order_id")?, to).await?;
    Ok(no_store(json_response(StatusCode::OK, &order)?))
}

#[cfg(test)]
mod handler_tests;
