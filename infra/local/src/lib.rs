//! The local gateway: one process that serves every route of the catalogue, hosts the
//! WebSocket API and runs the queue workers, on either backend. It plays API Gateway and the
//! Lambda event sources; the handlers are the very ones the Lambda binaries run.

pub mod admin;
pub mod blobs;
pub mod events;
pub mod functions;
pub mod running;
pub mod seed;
pub mod sockets;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use haven_edge::catalogue::FALLBACK_FUNCTION;
use haven_edge::cors::CorsPolicy;
use haven_edge::{ApiError, RouteMatch, match_route};
use haven_embedded::LocalSockets;
use haven_kernel::ports::Ports;
use lambda_http::Body;

/// API Gateway's HTTP API refuses larger requests; Lambda's own limit is 6 MB.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

pub struct Gateway<P> {
    pub ports: Arc<P>,
    /// The sockets of the WebSocket API. On the embedded backend this is the same registry
    /// the ports post to; on the AWS backend the adapter posts to `/@connections` here.
    pub sockets: LocalSockets,
    pub cors: CorsPolicy,
    /// The embedded backend's SMS outbox, shown at `GET /local/sms-outbox` (on AWS, texts go
    /// to SNS instead).
    pub sms_outbox: Option<haven_embedded::SqlitePublisher>,
    /// The embedded backend's blob files, behind `/local/blobs/...` (on AWS, clients go to
    /// S3 with presigned URLs instead).
    pub blobs: Option<haven_embedded::FileBlobs>,
}

impl<P: Ports> Gateway<P> {
    pub fn new(
        ports: Arc<P>,
        sockets: LocalSockets,
        sms_outbox: Option<haven_embedded::SqlitePublisher>,
        blobs: Option<haven_embedded::FileBlobs>,
    ) -> Arc<Self> {
        Arc::new(Gateway {
            ports,
            sockets,
            cors: CorsPolicy::from_env(),
            sms_outbox,
            blobs,
        })
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/ws", any(sockets::upgrade::<P>))
            .route("/ws/{*rest}", any(sockets::upgrade::<P>))
            .route(
                "/@connections/{connection_id}",
                post(sockets::post_to_connection::<P>),
            )
            .route("/local/sms-outbox", get(admin::sms_outbox::<P>))
            .route(
                "/local/blobs/{*key}",
                axum::routing::put(blobs::put::<P>)
                    .get(blobs::get::<P>)
                    .layer(axum::extract::DefaultBodyLimit::max(
                        blobs::MAX_UPLOAD_BYTES,
                    )),
            )
            .fallback(dispatch::<P>)
            .with_state(self.clone())
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn to_axum(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// An error the gateway itself answers (as API Gateway would), stamped like a function's.
fn problem(error: ApiError, request_id: &str) -> axum::response::Response {
    let mut response = error.into_response(Some(request_id));
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    to_axum(response)
}

/// Every HTTP request: CORS preflight, route selection as API Gateway does it (an unmatched
/// request goes to the `$default` route's function), event conversion, the handler.
async fn dispatch<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let origin = parts
        .headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();

    if parts.method == http::Method::OPTIONS
        && parts
            .headers
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return to_axum(gw.cors.preflight(origin.as_deref()));
    }
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return problem(
                ApiError::PayloadTooLarge {
                    limit: MAX_REQUEST_BYTES,
                },
                &request_id,
            );
        }
    };
    let (route_key, function, path_parameters) = match match_route(&method, &path) {
        RouteMatch::Found {
            route,
            path_parameters,
        } => (
            format!("{} {}", route.method, route.path),
            route.function,
            path_parameters,
        ),
        RouteMatch::MethodNotAllowed { .. } | RouteMatch::NotFound => {
            ("$default".to_owned(), FALLBACK_FUNCTION, Default::default())
        }
    };
    let Some(handler) = functions::http_function::<P>(function) else {
        return problem(
            ApiError::Internal(format!("no handler for function {function}")),
            &request_id,
        );
    };
    let source_ip = peer.ip().to_string();
    let event = events::http_api_event(&events::HttpRequestParts {
        method: &method,
        raw_path: &path,
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
        route_key,
        path_parameters,
        request_id: &request_id,
        source_ip: &source_ip,
    });
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                ApiError::Internal(format!("event conversion: {e}")),
                &request_id,
            );
        }
    };
    let mut response = match handler(gw.ports.clone(), request).await {
        Ok(r) => r,
        // On AWS a function error becomes API Gateway's 500; say so in problem+json here.
        Err(e) => ApiError::Internal(format!("function {function} failed: {e}"))
            .into_response(Some(&request_id)),
    };
    gw.cors.apply(origin.as_deref(), &mut response);
    to_axum(response).into_response()
}
