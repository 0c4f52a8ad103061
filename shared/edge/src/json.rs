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

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

fn content_type(req: &Request) -> &str {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A body that is not JSON (an HL7 message, say): its bytes, when its content type's essence
/// is one of `accepted` (415 otherwise) and it fits `limit` (413 otherwise).
pub fn raw_body<'a>(
    req: &'a Request,
    accepted: &[&str],
    limit: usize,
) -> Result<&'a [u8], ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let essence = content_type(req).split(';').next().unwrap_or("").trim();
    if !accepted.iter().any(|a| a.eq_ignore_ascii_case(essence)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(bytes)
}

/// Whether the body is an HTML form's (`application/x-www-form-urlencoded`).
pub fn is_form(req: &Request) -> bool {
    content_type(req).split(';').next().is_some_and(|e| {
        e.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// Parses a JSON body, or a plain HTML form's (`application/x-www-form-urlencoded`, what a
/// page works with when JavaScript is off): each field a string, an empty one absent, then
/// the same shape checks and field-named 422s as JSON.
pub fn parse_json_or_form<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    if !is_form(req) {
        return parse_json(req, limit);
    }
    let bytes = body_bytes(req);
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut fields = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(bytes) {
        let value = value.trim();
        if !value.is_empty() {
            fields.insert(
                name.into_owned(),
                serde_json::Value::String(value.to_owned()),
            );
        }
    }
    serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        shape_error(&path, &e.into_inner().to_string())
    })
}

/// Parses the body as `T`: 415 unless it is JSON, 413 over `limit`, 400 for malformed JSON,
/// 422 naming the field for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if !is_json(content_type(req)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson {
            detail: "the body is empty".into(),
        });
    }
    // Every Haven body is an object. A list would otherwise fill a struct field by field
    // ("[0] must be a string"), which tells the client nothing.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::Validation {
                    field: None,
                    detail: "the body must be a JSON object".into(),
                },
                Err(e) => ApiError::InvalidJson {
                    detail: e.to_string(),
                },
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => shape_error(&path, &inner.to_string()),
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
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// `path` joined with a field name inside it (`.` is the body itself).
fn join(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The words between the first pair of backticks.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find('`')? + 1;
    let len = text[start..].find('`')?;
    Some(&text[start..start + len])
}

/// Every backticked word, in order (the choices serde lists).
fn all_quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// What serde expected, in a client's words rather than Rust's (`f64`, `struct NewAccount`).
fn expected_in_words(expected: &str) -> &'static str {
    let e = expected.trim();
    match e {
        "f32" | "f64" => "a number",
        "u8" => "a whole number from 0 to 255",
        "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "a string" | "a borrowed string" | "string" | "a character" | "char" => "a string",
        "a boolean" | "bool" => "true or false",
        "a sequence" | "a tuple" => "a list",
        "unit" | "null" => "null",
        _ if e.starts_with("struct ") || e.starts_with("a map") || e.starts_with("map") => {
            "an object"
        }
        _ if e.starts_with("tuple") => "a list",
        _ if e.starts_with("enum ") || e.starts_with("variant") => "one of the listed values",
        _ => "a value of another type",
    }
}

/// What was sent, as serde names it (`string "x"`, `integer `1``, `sequence`).
fn given_in_words(given: &str) -> &'static str {
    let g = given.trim();
    match g.split([' ', '`']).next().unwrap_or("") {
        "string" => "text",
        "integer" | "floating" => "a number",
        "boolean" => "true or false",
        "sequence" => "a list",
        "map" => "an object",
        "null" | "unit" => "null",
        "character" => "text",
        _ => "another type",
    }
}

/// A JSON body of the wrong shape as a 422 that names the field and says what it must be,
/// without Rust's type names (`expected struct NewAccount with 6 elements`, `expected u32`).
fn shape_error(path: &str, message: &str) -> ApiError {
    let message = strip_position(message);
    let at_body = path == "." || path.is_empty();
    let leaf = |p: &str| -> String {
        if at_body {
            "the body".to_owned()
        } else {
            p.to_owned()
        }
    };
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = join(path, quoted(rest).unwrap_or(rest));
        return ApiError::Validation {
            detail: format!("{field} is required"),
            field: Some(field),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, choices) = rest.split_once(", ").unwrap_or((rest, ""));
        let name = quoted(name).unwrap_or(name);
        // serde_path_to_error's path already ends at the unknown field.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            join(path, name)
        };
        let known = all_quoted(choices);
        let detail = if known.is_empty() {
            format!("{field} is not a field this request takes")
        } else {
            format!(
                "{field} is not a field this request takes; the fields are {}",
                known.join(", ")
            )
        };
        return ApiError::Validation {
            field: Some(field),
            detail,
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (given, choices) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let known = all_quoted(choices);
        return ApiError::Validation {
            field: (!at_body).then(|| path.to_owned()),
            detail: format!(
                "{} must be one of {}, not {}",
                leaf(path),
                known.join(", "),
                quoted(given).unwrap_or(given)
            ),
        };
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (given, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            let expected = expected_in_words(expected);
            let detail = if prefix == "invalid value: " {
                format!("{} must be {expected}", leaf(path))
            } else if prefix == "invalid length " {
                format!("{} must be {expected} of the documented shape", leaf(path))
            } else {
                format!(
                    "{} must be {expected}, not {}",
                    leaf(path),
                    given_in_words(given)
                )
            };
            return ApiError::Validation {
                field: (!at_body).then(|| path.to_owned()),
                detail,
            };
        }
    }
    // A domain type's own message (its `Deserialize` says what is wrong): kept as written.
    ApiError::Validation {
        field: (!at_body).then(|| path.to_owned()),
        detail: message.to_owned(),
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
        .filter(|v| haven_kernel::ids::is_valid_id(v))
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
pub fn page_cursor(req: &Request) -> Result<Option<haven_kernel::ports::Cursor>, ApiError> {
    query_param(req, "cursor")
        .map(|c| {
            haven_kernel::ports::Cursor::parse(c)
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

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Account {
        email: String,
        role: Role,
        age: Option<u32>,
        vitals: Option<Location>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Role {
        Nurse,
        Doctor,
    }

    fn problem(body: &str) -> (Option<String>, String) {
        match parse_json::<Account>(&request("application/json", body), 1024).expect_err("bad") {
            ApiError::Validation { field, detail } => (field, detail),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field_in_plain_words() {
        let rust = ["struct", "Account", "u32", "f64", "elements", "variant"];
        let cases = [
            (r#"{"role": "nurse"}"#, Some("email"), "email is required"),
            (
                r#"{"email": "a", "role": "nurse", "vitals": {}}"#,
                Some("vitals.accuracy_m"),
                "vitals.accuracy_m is required",
            ),
            (
                r#"{"email": "a", "role": "cook"}"#,
                Some("role"),
                "role must be one of nurse, doctor, not cook",
            ),
            (
                r#"{"email": 5, "role": "nurse"}"#,
                Some("email"),
                "email must be a string, not a number",
            ),
            (
                r#"{"email": "a", "role": "nurse", "age": -1}"#,
                Some("age"),
                "age must be a whole number, 0 or more",
            ),
            (
                r#"{"email": "a", "role": "nurse", "vitals": {"accuracy_m": "x"}}"#,
                Some("vitals.accuracy_m"),
                "vitals.accuracy_m must be a whole number, 0 or more, not text",
            ),
            (
                r#"{"email": "a", "role": "nurse", "colour": 1}"#,
                Some("colour"),
                "colour is not a field this request takes; the fields are email, role, age, vitals",
            ),
            ("[1, 2]", None, "the body must be a JSON object"),
            ("\"text\"", None, "the body must be a JSON object"),
        ];
        for (body, field, detail) in cases {
            let (f, d) = problem(body);
            assert_eq!((f.as_deref(), d.as_str()), (field, detail), "{body}");
            for word in rust {
                assert!(!d.contains(word), "{d} shows Rust's {word}");
            }
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Answer {
        decision: Role,
        #[serde(default)]
        reason: Option<String>,
    }

    #[test]
    fn a_plain_form_parses_like_json_with_the_same_field_errors() {
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            parse_json_or_form::<Answer>(&request(form, "decision=nurse&reason=no+beds%21"), 1024),
            Ok(Answer {
                decision: Role::Nurse,
                reason: Some("no beds!".into())
            })
        );
        assert_eq!(
            parse_json_or_form::<Answer>(&request(form, "decision=doctor&reason="), 1024),
            Ok(Answer {
                decision: Role::Doctor,
                reason: None
            }),
            "an empty field is absent"
        );
        match parse_json_or_form::<Answer>(&request(form, "reason=x"), 1024) {
            Err(ApiError::Validation { field, detail }) => {
                assert_eq!(field.as_deref(), Some("decision"));
                assert_eq!(detail, "decision is required");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse_json_or_form::<Answer>(
                &request("application/json", r#"{"decision":"nurse"}"#),
                1024
            )
            .is_ok()
        );
        assert_eq!(
            parse_json_or_form::<Answer>(&request("text/plain", "decision=nurse"), 1024),
            Err(ApiError::UnsupportedMediaType)
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
