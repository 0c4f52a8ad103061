//! The events API Gateway and the SQS event source would send, built from what the local
//! gateway received. Handlers receive them through the same `lambda_http` conversion as on
//! AWS, so a handler cannot tell the two apart.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use haven_kernel::ports::ReceivedMessage;
use http::HeaderMap;
use serde_json::{Value, json};

pub const ACCOUNT_ID: &str = "000000000000";
pub const API_ID: &str = "haven-local";
pub const REGION: &str = "local";

pub struct HttpRequestParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// `"GET /api/v1/health"` or `"$default"`.
    pub route_key: String,
    pub path_parameters: HashMap<String, String>,
    pub request_id: &'a str,
    pub source_ip: &'a str,
}

fn header_map(headers: &HeaderMap) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        // API Gateway v2 joins repeated headers with commas.
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    (out, cookies)
}

/// Query parameters as API Gateway v2 gives them: decoded, repeated keys joined by commas.
pub fn query_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        out.entry(k.into_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    out
}

fn now_parts() -> (String, i64) {
    let now = chrono::Utc::now();
    (
        now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        now.timestamp_millis(),
    )
}

/// An API Gateway HTTP API (payload format 2.0) event.
pub fn http_api_event(p: &HttpRequestParts<'_>) -> Value {
    let (headers, cookies) = header_map(p.headers);
    let (time, epoch) = now_parts();
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "127.0.0.1".into());
    let (body, is_base64) = match std::str::from_utf8(p.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (STANDARD.encode(p.body), true),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": p.route_key,
        "rawPath": p.raw_path,
        "rawQueryString": p.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "http": {
                "method": p.method,
                "path": p.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": p.source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": p.request_id,
            "routeKey": p.route_key,
            "stage": "$default",
            "time": time,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    let query = query_parameters(p.raw_query);
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !p.path_parameters.is_empty() {
        event["pathParameters"] = json!(p.path_parameters);
    }
    if !p.body.is_empty() {
        event["body"] = json!(body);
    }
    event
}

pub enum SocketEventKind<'a> {
    Connect {
        headers: &'a HeaderMap,
        raw_query: &'a str,
    },
    Message {
        route_key: &'a str,
        body: &'a str,
    },
    Disconnect,
}

/// An API Gateway WebSocket API event for one connection.
pub fn socket_event(
    kind: SocketEventKind<'_>,
    connection_id: &str,
    connected_at: i64,
    request_id: &str,
    host: &str,
) -> Value {
    let (_, epoch) = now_parts();
    let (route_key, event_type) = match &kind {
        SocketEventKind::Connect { .. } => ("$connect", "CONNECT"),
        SocketEventKind::Message { route_key, .. } => (*route_key, "MESSAGE"),
        SocketEventKind::Disconnect => ("$disconnect", "DISCONNECT"),
    };
    let mut event = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": now_parts().0,
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": connected_at,
            "requestTimeEpoch": epoch,
            "identity": { "sourceIp": "127.0.0.1" },
            "requestId": request_id,
            "domainName": host,
            "connectionId": connection_id,
            "apiId": API_ID,
        },
        "isBase64Encoded": false,
    });
    match kind {
        SocketEventKind::Connect { headers, raw_query } => {
            let (headers, _) = header_map(headers);
            event["headers"] = json!(headers);
            let query = query_parameters(raw_query);
            if !query.is_empty() {
                event["queryStringParameters"] = json!(query);
            }
        }
        SocketEventKind::Message { body, .. } => {
            event["body"] = json!(body);
            event["requestContext"]["messageId"] = json!(request_id);
        }
        SocketEventKind::Disconnect => {}
    }
    event
}

/// An SQS event source batch, as Lambda delivers it.
pub fn sqs_event(queue: &str, messages: &[ReceivedMessage]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: BTreeMap<&str, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), json!({"stringValue": v, "dataType": "String"})))
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": { "ApproximateReceiveCount": m.receive_count.to_string() },
                "messageAttributes": attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"),
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_events_convert_like_api_gateway_v2() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:3000".parse().expect("header"));
        headers.insert("content-type", "application/json".parse().expect("header"));
        let parts = HttpRequestParts {
            method: "POST",
            raw_path: "/api/v1/emergency/a1/location",
            raw_query: "x=1&x=2&q=a%20b",
            headers: &headers,
            body: br#"{"latitude":1}"#,
            route_key: "POST /api/v1/emergency/{alert_id}/location".into(),
            path_parameters: HashMap::from([("alert_id".to_owned(), "a1".to_owned())]),
            request_id: "req-1",
            source_ip: "127.0.0.1",
        };
        let event = http_api_event(&parts);
        let req = lambda_http::request::from_str(&event.to_string())
            .expect("lambda_http accepts the event");
        use lambda_http::RequestExt;
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().path(), "/api/v1/emergency/a1/location");
        assert_eq!(
            req.path_parameters_ref().and_then(|p| p.first("alert_id")),
            Some("a1")
        );
        assert_eq!(
            req.query_string_parameters_ref().and_then(|q| q.first("q")),
            Some("a b")
        );
        assert_eq!(haven_edge::request_id(&req).as_deref(), Some("req-1"));
        assert!(matches!(req.body(), lambda_http::Body::Text(t) if t.contains("latitude")));
    }

    #[test]
    fn sqs_events_parse_as_the_lambda_type() {
        let m = ReceivedMessage {
            message_id: "m1".into(),
            receipt_handle: "r1".into(),
            body: "{}".into(),
            attributes: [("kind".to_owned(), "alert".to_owned())].into(),
            receive_count: 2,
        };
        let event: aws_lambda_events::sqs::SqsEvent =
            serde_json::from_value(sqs_event("webhook", &[m])).expect("parses");
        assert_eq!(event.records[0].message_id.as_deref(), Some("m1"));
        assert_eq!(
            event.records[0]
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str),
            Some("2")
        );
    }
}
