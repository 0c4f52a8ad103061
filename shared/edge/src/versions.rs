//! Versioned records over HTTP: the `ETag` a version is sent as, and the version an
//! `If-Match` names (RFC 9110 §13.1.1).

use http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::problem::ApiError;

/// The strong ETag of a version: `"3"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` value names (`"3"`, `W/"3"` or `3`); `None` if it names none.
pub fn version_of_etag(value: &str) -> Option<i64> {
    value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// The version the request's `If-Match` names: `None` when it has none (the domain answers
/// 428), 412 when it names no version.
pub fn if_match(req: &Request) -> Result<Option<i64>, ApiError> {
    match req.headers().get(http::header::IF_MATCH) {
        None => Ok(None),
        Some(v) => Some(v.to_str().ok().and_then(version_of_etag).ok_or_else(|| {
            ApiError::PreconditionFailed {
                detail: "If-Match names no version of this record".into(),
                current: None,
            }
        }))
        .transpose(),
    }
}

/// Sets the response's `ETag` to `version`.
pub fn with_etag(mut response: Response<Body>, version: i64) -> Response<Body> {
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(http::header::ETAG, tag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(version_of_etag(&etag(3)), Some(3));
        assert_eq!(version_of_etag("W/\"7\""), Some(7));
        assert_eq!(version_of_etag("12"), Some(12));
        assert_eq!(version_of_etag("\"x\""), None);
        let req = http::Request::builder()
            .header("if-match", "\"x\"")
            .body(Body::Empty)
            .expect("request");
        assert!(if_match(&Request::from(req)).is_err());
    }
}
