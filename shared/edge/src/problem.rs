//! RFC 9457 problem details. Every error leaves Haven through [`ApiError::into_response`], so
//! each kind has one status and one stable `type` (documented in docs/errors.md).

use haven_kernel::{DomainError, TokenRejection};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {detail}")]
    InvalidJson { detail: String },
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{detail}")]
    Validation {
        field: Option<String>,
        detail: String,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("no route matches {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{method} is not allowed here; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        method: String,
        allowed: Vec<String>,
    },
    /// Credentials (a password, a code) that were not accepted.
    #[error("authentication required")]
    Unauthenticated,
    /// No token at all on a route that needs one (RFC 6750 §3.1: the challenge carries no
    /// error code).
    #[error("authentication required: send `Authorization: Bearer <access token>`")]
    MissingToken,
    /// A token was sent and refused: RFC 6750 `invalid_token`, with the reason.
    #[error("{0}")]
    InvalidToken(TokenRejection),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{detail}")]
    Conflict {
        detail: String,
        current: Option<String>,
    },
    #[error("too many requests; retry in {retry_after_seconds} s")]
    TooManyRequests { retry_after_seconds: u64 },
    /// `If-Match` named another version than the stored one.
    #[error("{detail}")]
    PreconditionFailed {
        detail: String,
        current: Option<String>,
    },
    #[error("send If-Match with the ETag you last read, so changes cannot overwrite each other")]
    PreconditionRequired,
    /// A sealed record failed its integrity check: never answered with wrong data.
    #[error("the stored record failed its integrity check and cannot be read")]
    RecordUnreadable,
    #[error("{0}")]
    Unavailable(String),
    /// A bug. The detail stays in the log; the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl ApiError {
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        ApiError::Validation {
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }

    /// Status, stable slug of the `type` URI, and title.
    pub fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            InvalidJson { .. } => (StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON"),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Validation { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
            ),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route-not-found", "No such route"),
            MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            MissingToken => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid-token", "Invalid token"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Conflict { .. } => (StatusCode::CONFLICT, "conflict", "Conflict"),
            TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            PreconditionFailed { .. } => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "Precondition required",
            ),
            RecordUnreadable => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "record-unreadable",
                "Record unreadable",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    pub fn into_response(self, request_id: Option<&str>) -> Response<Body> {
        let (status, slug, title) = self.kind();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let (field, current_state, allowed) = match &self {
            ApiError::Validation { field, .. } => (field.as_deref(), None, None),
            ApiError::Conflict { current, .. } | ApiError::PreconditionFailed { current, .. } => {
                (None, current.as_deref(), None)
            }
            ApiError::MethodNotAllowed { allowed, .. } => (None, None, Some(allowed.as_slice())),
            _ => (None, None, None),
        };
        let problem = Problem {
            type_uri: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            field,
            current_state,
            allowed,
            request_id,
        };
        let body = serde_json::to_string(&problem).unwrap_or_else(|_| "{}".to_owned());
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        match &self {
            ApiError::TooManyRequests {
                retry_after_seconds,
            } => {
                headers.insert(
                    http::header::RETRY_AFTER,
                    HeaderValue::from(*retry_after_seconds),
                );
            }
            ApiError::Unauthenticated | ApiError::MissingToken => {
                headers.insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"haven\""),
                );
            }
            ApiError::InvalidToken(why) => {
                let challenge = format!(
                    "Bearer realm=\"haven\", error=\"invalid_token\", error_description=\"{}\"",
                    why.description()
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    headers.insert(http::header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                    headers.insert(http::header::ALLOW, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => ApiError::Validation {
                field,
                detail: message,
            },
            DomainError::NotFound(what) => ApiError::NotFound(what),
            DomainError::Conflict { message, current } => ApiError::Conflict {
                detail: message,
                current,
            },
            DomainError::Unauthenticated => ApiError::Unauthenticated,
            DomainError::TokenRejected(why) => ApiError::InvalidToken(why),
            DomainError::Forbidden => ApiError::Forbidden,
            DomainError::TooManyRequests {
                retry_after_seconds,
            } => ApiError::TooManyRequests {
                retry_after_seconds,
            },
            DomainError::Unavailable(m) => ApiError::Unavailable(m),
            DomainError::Stale { message, current } => ApiError::PreconditionFailed {
                detail: message,
                current,
            },
            DomainError::VersionRequired => ApiError::PreconditionRequired,
            DomainError::Unreadable => ApiError::RecordUnreadable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Body>) -> serde_json::Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => panic!("text body expected"),
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let r = ApiError::invalid("latitude", "latitude must be between -90 and 90")
            .into_response(Some("req-1"));
        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], PROBLEM_CONTENT_TYPE);
        let b = body(&r);
        assert_eq!(b["type"], "/problems/validation-failed");
        assert_eq!(b["field"], "latitude");
        assert_eq!(b["status"], 422);
        assert_eq!(b["request_id"], "req-1");
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let r = ApiError::Internal("db password is hunter2".into()).into_response(None);
        assert_eq!(r.status(), 500);
        assert!(!body(&r).to_string().contains("hunter2"));
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let r = ApiError::MethodNotAllowed {
            method: "DELETE".into(),
            allowed: vec!["GET".into()],
        }
        .into_response(None);
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET");
        assert_eq!(body(&r)["allowed"], serde_json::json!(["GET"]));
    }

    #[test]
    fn a_refused_token_says_why_in_rfc_6750_terms() {
        for (why, words) in [
            (TokenRejection::Expired, "expired"),
            (TokenRejection::Invalid, "not valid"),
            (TokenRejection::SessionEnded, "session"),
        ] {
            let r = ApiError::from(DomainError::TokenRejected(why)).into_response(None);
            assert_eq!(r.status(), 401);
            let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
            assert!(
                challenge.starts_with(
                    "Bearer realm=\"haven\", error=\"invalid_token\", error_description=\""
                ),
                "{challenge}"
            );
            assert!(challenge.contains(words), "{challenge}");
            let b = body(&r);
            assert_eq!(b["type"], "/problems/invalid-token");
            assert!(b["detail"].as_str().expect("detail").contains(words));
        }
        // No token at all: a bare challenge, as RFC 6750 asks.
        let r = ApiError::MissingToken.into_response(None);
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"haven\"");
    }

    #[test]
    fn domain_conflicts_carry_the_current_state() {
        let e: ApiError = haven_kernel::DomainError::Conflict {
            message: "already cancelled".into(),
            current: Some("cancelled".into()),
        }
        .into();
        let r = e.into_response(None);
        assert_eq!(r.status(), 409);
        assert_eq!(body(&r)["current_state"], "cancelled");
    }
}
