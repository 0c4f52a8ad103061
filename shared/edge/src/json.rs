//! JSON request bodies with a size limit and field-level errors, and JSON responses.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// The default limit for a JSON request body. Routes that need more say so.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses the body as `T`: 415 unless it is JSON, 413 over `limit`, 400 for malformed JSON,
/// 422 naming the field for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson {
            detail: "the body is empty".into(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Validation {
                field: (path != ".").then_some(path),
                detail: strip_position(&inner.to_string()),
            },
            _ => ApiError::InvalidJson {
                detail: inner.to_string(),
            },
        }
    })?;
    de.end().map_err(|e| ApiError::InvalidJson {
        detail: e.to_string(),
    })?;
    Ok(value)
}

/// serde's messages end in "at line 1 column 42", which means nothing for a shape error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

pub fn json_response<T: Serialize>(
    status: StatusCode,
    value: &T,
) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value)
        .map_err(|e| ApiError::Internal(format!("serialising a response: {e}")))?;
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// A path parameter the route template guarantees; 404 if it is missing or malformed.
pub fn path_param<'a>(req: &'a Request, name: &str) -> Result<&'a str, ApiError> {
    use lambda_http::RequestExt;
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| haven_domain::ids::is_valid_id(v))
        .ok_or_else(|| ApiError::NotFound(name.trim_end_matches("_id").to_owned()))
}

/// An optional query parameter.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    use lambda_http::RequestExt;
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// `?limit=` as a page size: 1 to `max`, `default` when absent.
pub fn page_limit(req: &Request, default: u32, max: u32) -> Result<u32, ApiError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "limit",
                format!("limit is a whole number from 1 to {max}"),
            )),
        },
    }
}

/// `?cursor=` as a table cursor; a cursor we did not issue is a 422 on `cursor`.
pub fn page_cursor(req: &Request) -> Result<Option<haven_domain::ports::Cursor>, ApiError> {
    query_param(req, "cursor")
        .map(|c| {
            haven_domain::ports::Cursor::parse(c)
                .map_err(|_| ApiError::invalid("cursor", "the cursor is not valid"))
        })
        .transpose()
}

/// 204 with no body.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Alert {
        latitude: f64,
        location: Location,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Location {
        accuracy_m: u32,
    }

    fn request(content_type: &str, body: &str) -> Request {
        let mut r = http::Request::builder()
            .method("POST")
            .uri("/x")
            .header("content-type", content_type)
            .body(Body::Text(body.to_owned()))
            .expect("request");
        r.headers_mut();
        r
    }

    #[test]
    fn malformed_json_is_400() {
        let e = parse_json::<Alert>(&request("application/json", "{\"latitude\": "), 1024)
            .expect_err("bad");
        assert!(matches!(e, ApiError::InvalidJson { .. }), "{e:?}");
    }

    #[test]
    fn wrong_shape_is_422_with_the_field_path() {
        let e = parse_json::<Alert>(
            &request(
                "application/json",
                r#"{"latitude": 1, "location": {"accuracy_m": "x"}}"#,
            ),
            1024,
        )
        .expect_err("bad");
        match e {
            ApiError::Validation { field, .. } => {
                assert_eq!(field.as_deref(), Some("location.accuracy_m"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_and_non_json_bodies_are_refused() {
        let big = format!("{{\"latitude\": {}}}", "1".repeat(100));
        assert_eq!(
            parse_json::<Alert>(&request("application/json", &big), 50).expect_err("big"),
            ApiError::PayloadTooLarge { limit: 50 }
        );
        assert_eq!(
            parse_json::<Alert>(&request("text/plain", "{}"), 50).expect_err("type"),
            ApiError::UnsupportedMediaType
        );
        assert!(
            parse_json::<Alert>(
                &request(
                    "application/json; charset=utf-8",
                    r#"{"latitude": 1, "location": {"accuracy_m": 5}}"#
                ),
                1024
            )
            .is_ok()
        );
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        let e =
            parse_json::<Location>(&request("application/json", r#"{"accuracy_m": 5} x"#), 1024)
                .expect_err("bad");
        assert!(matches!(e, ApiError::InvalidJson { .. }), "{e:?}");
    }
}
