//! The wrapper every HTTP handler runs in: request id, access log line, errors mapped once
//! to problem+json. A handler returns `HandlerResult`; Lambda sees a response every time.

use std::future::Future;
use std::time::Instant;

use http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use haven_kernel::ports::Ports;
use tracing::Instrument;

use crate::auth::{Caller, authorize};
use crate::catalogue::access_of;
use crate::problem::ApiError;

pub type HandlerResult = Result<Response<Body>, ApiError>;

/// The request id API Gateway assigned (the same one the local gateway fabricates).
pub fn request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::WebSocket(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| {
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// Runs the handler of `function`: authorises the caller as the catalogue declares, maps any
/// error to problem+json, stamps `x-request-id`, and logs one line.
pub async fn respond<P, F, Fut>(
    ports: &P,
    function: &str,
    req: Request,
    handler: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    P: Ports,
    F: FnOnce(Caller, Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .request_context_ref()
        .and_then(|c| match c {
            RequestContext::ApiGatewayV2(ctx) => ctx.route_key.clone(),
            _ => None,
        })
        .unwrap_or_else(|| req.uri().path().to_owned());
    // Every line logged while the request is handled carries these ids.
    let params = req.path_parameters();
    let span = tracing::info_span!(
        "request",
        request_id = id.as_deref(),
        function,
        alert_id = params.first("alert_id"),
        hospital_id = route
            .contains("/hospitals/{id}")
            .then(|| params.first("id"))
            .flatten(),
    );
    let result = async {
        match authorize(ports, &req, access_of(function)).await {
            Ok(caller) => handler(caller, req).await,
            Err(e) => Err(e),
        }
    }
    .instrument(span.clone())
    .await;
    let _in_request = span.enter();
    let mut response = match result {
        Ok(r) => r,
        Err(e) => e.into_response(id.as_deref()),
    };
    if let Some(value) = id.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert("x-request-id", value);
    }
    tracing::info!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(response)
}

/// Marks an answer as never to be stored by a browser or proxy (records, orders, results).
pub fn no_store(
    mut response: lambda_http::Response<lambda_http::Body>,
) -> lambda_http::Response<lambda_http::Body> {
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}
