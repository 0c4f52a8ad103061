//! Which handler serves which function name: the local stand-in for "one Lambda function per
//! route". A test checks that every function of the route catalogue is here.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use haven_kernel::ports::Ports;
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
    ($function:literal, $handler:path) => {
        |ports, req| {
            Box::pin(async move {
                let ports = &*ports;
                haven_edge::respond(ports, $function, req, |caller, req| {
                    $handler(ports, caller, req)
                })
                .await
            })
        }
    };
}

/// Any event function: the handler takes the ports and the event.
macro_rules! socket {
    ($handler:path) => {
        |ports, event| Box::pin(async move { $handler(&*ports, event).await })
    };
}

pub fn http_function<P: Ports>(function: &str) -> Option<HttpFunction<P>> {
    let f: HttpFunction<P> = match function {
        "health" => http!("health", haven_ops::health),
        "health-live" => http!("health-live", haven_ops::health_live),
        "health-ready" => http!("health-ready", haven_ops::health_ready),
        "route-not-found" => http!("route-not-found", haven_ops::route_not_found),
        "auth-register" => http!("auth-register", haven_identity::register),
        "auth-login" => http!("auth-login", haven_identity::login),
        "auth-verify" => http!("auth-verify", haven_identity::verify),
        "auth-refresh" => http!("auth-refresh", haven_identity::refresh),
        "auth-logout" => http!("auth-logout", haven_identity::logout),
        "auth-me" => http!("auth-me", haven_identity::me),
        "auth-mfa-enable" => http!("auth-mfa-enable", haven_identity::mfa_enable),
        "auth-mfa-verify" => http!("auth-mfa-verify", haven_identity::mfa_verify),
        "auth-emergency-bypass" => http!("auth-emergency-bypass", haven_identity::emergency_bypass),
        "users-list" => http!("users-list", haven_identity::users_list),
        "users-create" => http!("users-create", haven_identity::users_create),
        "users-get" => http!("users-get", haven_identity::users_get),
        "users-update" => http!("users-update", haven_identity::users_update),
        "users-delete" => http!("users-delete", haven_identity::users_delete),
        "jwks" => http!("jwks", haven_identity::jwks),
        "emergency-alert" => http!("emergency-alert", haven_emergencies::alert),
        "emergency-status" => http!("emergency-status", haven_emergencies::status),
        "emergency-location" => http!("emergency-location", haven_emergencies::location),
        "emergency-cancel" => http!("emergency-cancel", haven_emergencies::cancel),
        "emergency-verify" => http!("emergency-verify", haven_emergencies::verify),
        "emergency-history" => http!("emergency-history", haven_emergencies::history),
        "medical-profile-create" => http!("medical-profile-create", haven_medical::create),
        "medical-profile-get" => http!("medical-profile-get", haven_medical::get),
        "medical-profile-update" => http!("medical-profile-update", haven_medical::update),
        "medical-profile-delete" => http!("medical-profile-delete", haven_medical::delete),
        "medical-profile-fhir" => http!("medical-profile-fhir", haven_medical::fhir),
        "medical-profile-access-log" => {
            http!("medical-profile-access-log", haven_medical::access_log)
        }
        "patients-create" => http!("patients-create", haven_patients::create),
        "patients-list" => http!("patients-list", haven_patients::list),
        "patients-search" => http!("patients-search", haven_patients::search),
        "patients-get" => http!("patients-get", haven_patients::get),
        "patients-update" => http!("patients-update", haven_patients::update),
        "patients-delete" => http!("patients-delete", haven_patients::delete),
        "patients-restore" => http!("patients-restore", haven_patients::restore),
        "patients-history" => http!("patients-history", haven_patients::history),
        "patients-fhir" => http!("patients-fhir", haven_patients::fhir),
        "patients-hl7-import" => http!("patients-hl7-import", haven_patients::hl7_import),
        "labs-orders-create" => http!("labs-orders-create", haven_labs::order_create),
        "labs-orders-list" => http!("labs-orders-list", haven_labs::order_list),
        "labs-orders-get" => http!("labs-orders-get", haven_labs::order_get),
        "labs-orders-status" => http!("labs-orders-status", haven_labs::order_status),
        "patients-documents-create" => {
            http!(
                "patients-documents-create",
                haven_patients::documents_create
            )
        }
        "patients-documents-list" => {
            http!("patients-documents-list", haven_patients::documents_list)
        }
        "emergency-medical-profile" => {
            http!("emergency-medical-profile", haven_medical::break_glass)
        }
        "hospitals-nearby" => http!("hospitals-nearby", haven_hospitals::nearby),
        "hospitals-create" => http!("hospitals-create", haven_hospitals::create),
        "hospitals-update" => http!("hospitals-update", haven_hospitals::update),
        "hospitals-capabilities" => http!("hospitals-capabilities", haven_hospitals::capabilities),
        "hospitals-availability" => http!("hospitals-availability", haven_hospitals::availability),
        "hospitals-route-alert" => http!("hospitals-route-alert", haven_hospitals::route_alert),
        "comms-webhook-configure" => {
            http!("comms-webhook-configure", haven_comms::webhook_configure)
        }
        "comms-webhook-rotate" => http!("comms-webhook-rotate", haven_comms::webhook_rotate),
        "comms-ack" => http!("comms-ack", haven_comms::ack),
        "comms-ack-link" => http!("comms-ack-link", haven_comms::ack_link),
        "comms-ack-link-answer" => http!("comms-ack-link-answer", haven_comms::ack_link_answer),
        "comms-alert" => http!("comms-alert", haven_comms::send_again),
        "comms-fallback" => http!("comms-fallback", haven_comms::fallback),
        "comms-status" => http!("comms-status", haven_comms::status),
        "ambulances-create" => http!("ambulances-create", haven_dispatch::create),
        "ambulances-list" => http!("ambulances-list", haven_dispatch::list),
        "ambulances-get" => http!("ambulances-get", haven_dispatch::get),
        "ambulances-assign" => http!("ambulances-assign", haven_dispatch::assign),
        "ambulances-position" => http!("ambulances-position", haven_dispatch::position),
        "ambulances-status" => http!("ambulances-status", haven_dispatch::status),
        "ambulances-propose" => http!("ambulances-propose", haven_dispatch::propose),
        "tracking-eta" => http!("tracking-eta", haven_tracking::eta),
        "tracking-route-optimize" => {
            http!("tracking-route-optimize", haven_tracking::route_optimize)
        }
        "tracking-track" => http!("tracking-track", haven_tracking::track),
        _ => return None,
    };
    Some(f)
}

pub fn socket_function<P: Ports>(function: &str) -> Option<SocketFunction<P>> {
    let f: SocketFunction<P> = match function {
        "ws-connect" => socket!(haven_tracking::ws_connect),
        "ws-disconnect" => socket!(haven_tracking::ws_disconnect),
        "ws-default" => socket!(haven_tracking::ws_default),
        "ws-subscribe" => socket!(haven_tracking::ws_subscribe),
        "ws-unsubscribe" => socket!(haven_tracking::ws_unsubscribe),
        "ws-location" => socket!(haven_tracking::ws_location),
        _ => return None,
    };
    Some(f)
}

pub fn worker_function<P: Ports>(function: &str) -> Option<WorkerFunction<P>> {
    let f: WorkerFunction<P> = match function {
        "comms-webhook-worker" => socket!(haven_comms::webhook_worker),
        "comms-sms-worker" => socket!(haven_comms::sms_worker),
        "comms-hospital-api-worker" => socket!(haven_comms::hospital_api_worker),
        "comms-deadline-worker" => socket!(haven_comms::deadline_worker),
        _ => return None,
    };
    Some(f)
}

pub type ScheduledFunction<P> =
    fn(
        Arc<P>,
        LambdaEvent<serde_json::Value>,
    ) -> BoxFuture<'static, Result<serde_json::Value, lambda_runtime::Error>>;

pub fn scheduled_function<P: Ports>(function: &str) -> Option<ScheduledFunction<P>> {
    let f: ScheduledFunction<P> = match function {
        "comms-outbox-relay" => socket!(haven_comms::outbox_relay),
        _ => return None,
    };
    Some(f)
}
