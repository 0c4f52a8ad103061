//! ops: health and the catch-all route. Handlers are thin: parse, call the domain, shape JSON.

use haven_edge::{ApiError, Caller, HandlerResult, RouteMatch, json_response, match_route};
use haven_kernel::health;
use haven_kernel::ports::Ports;
use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
struct Live {
    status: &'static str,
    version: &'static str,
}

/// `GET /api/v1/health/live`: answers while the process can serve; touches nothing else, so
/// a slow dependency never gets a healthy process restarted.
pub async fn health_live<P: Ports>(_ports: &P, _caller: Caller, _req: Request) -> HandlerResult {
    json_response(
        StatusCode::OK,
        &Live {
            status: "live",
            version: VERSION,
        },
    )
}

/// `GET /api/v1/health/ready`: 200 when the table and the queues answer, else 503 with the
/// failing dependency named.
pub async fn health_ready<P: Ports>(ports: &P, _caller: Caller, _req: Request) -> HandlerResult {
    let readiness = health::readiness(ports).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &readiness)
}

#[derive(Serialize)]
struct Summary {
    status: &'static str,
    version: &'static str,
    #[serde(flatten)]
    readiness: health::Readiness,
}

/// `GET /api/v1/health`: liveness and readiness in one report for people and dashboards.
pub async fn health<P: Ports>(ports: &P, _caller: Caller, _req: Request) -> HandlerResult {
    let readiness = health::readiness(ports).await;
    let (code, status) = if readiness.ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    json_response(
        code,
        &Summary {
            status,
            version: VERSION,
            readiness,
        },
    )
}

/// API Gateway's `$default` route: whatever no route matched. Tells a wrong method (405,
/// with `Allow`) from an unknown path (404), in problem+json like every other error.
pub async fn route_not_found<P: Ports>(_ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    Err(match match_route(&method, &path) {
        RouteMatch::MethodNotAllowed { allowed } => ApiError::MethodNotAllowed {
            method,
            allowed: allowed.into_iter().map(str::to_owned).collect(),
        },
        // A matching route that still reached `$default` means the deployment is missing it.
        RouteMatch::Found { .. } => ApiError::Unavailable("this route is not deployed".into()),
        RouteMatch::NotFound => ApiError::RouteNotFound { method, path },
    })
}

#[cfg(test)]
mod handler_tests;
