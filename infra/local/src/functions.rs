//! Which handler serves which function name: the local stand-in for "one Lambda function per
//! route". A test checks that every function of the route catalogue is here.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use haven_domain::ports::Ports;
use lambda_http::{Body, Request, Response};
use lambda_runtime::LambdaEvent;

pub type HttpFunction<P> =
    fn(Arc<P>, Request) -> BoxFuture<'static, Result<Response<Body>, lambda_http::Error>>;
pub type SocketFunction<P> =
    fn(
        Arc<P>,
        LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> BoxFuture<'static, Result<ApiGatewayProxyResponse, lambda_runtime::Error>>;
pub type WorkerFunction<P> =
    fn(
        Arc<P>,
        LambdaEvent<SqsEvent>,
    ) -> BoxFuture<'static, Result<SqsBatchResponse, lambda_runtime::Error>>;

/// Wraps a handler exactly as `haven_platform::http_function!` does in a Lambda binary.
macro_rules! http {
    ($handler:path) => {
        |ports, req| {
            Box::pin(async move { haven_edge::respond(req, |req| $handler(&*ports, req)).await })
        }
    };
}

macro_rules! socket {
    ($handler:path) => {
        |ports, event| Box::pin(async move { $handler(&*ports, event).await })
    };
}

pub fn http_function<P: Ports>(function: &str) -> Option<HttpFunction<P>> {
    let f: HttpFunction<P> = match function {
        "health" => http!(haven_ops::health),
        "health-live" => http!(haven_ops::health_live),
        "health-ready" => http!(haven_ops::health_ready),
        "route-not-found" => http!(haven_ops::route_not_found),
        _ => return None,
    };
    Some(f)
}

pub fn socket_function<P: Ports>(function: &str) -> Option<SocketFunction<P>> {
    let f: SocketFunction<P> = match function {
        "ws-connect" => socket!(haven_tracking::ws_connect),
        "ws-disconnect" => socket!(haven_tracking::ws_disconnect),
        "ws-default" => socket!(haven_tracking::ws_default),
        _ => return None,
    };
    Some(f)
}

pub fn worker_function<P: Ports>(function: &str) -> Option<WorkerFunction<P>> {
    // No queue workers yet: the notification pipeline adds them.
    let _ = function;
    None
}
