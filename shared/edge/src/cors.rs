//! CORS for browser clients. On AWS the HTTP API's CorsConfiguration answers preflights; the
//! local gateway uses these same settings so the two behave alike.

use http::HeaderValue;
use lambda_http::{Body, Response};

pub const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
pub const ALLOWED_HEADERS: &str =
    "authorization, content-type, idempotency-key, if-match, x-request-id";
pub const MAX_AGE_SECONDS: u32 = 600;

/// Allowed origins from `HAVEN_CORS_ORIGINS` (comma-separated); `*` when unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn from_env() -> Self {
        let origins = std::env::var("HAVEN_CORS_ORIGINS").unwrap_or_else(|_| "*".into());
        CorsPolicy {
            origins: origins
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// The value for `Access-Control-Allow-Origin`, if this origin may call.
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<HeaderValue> {
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        self.origins
            .iter()
            .any(|o| o == origin)
            .then(|| HeaderValue::from_str(origin).ok())
            .flatten()
    }

    pub fn apply(&self, origin: Option<&str>, response: &mut Response<Body>) {
        if let Some(value) = self.allow_origin(origin) {
            let headers = response.headers_mut();
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(http::header::VARY, HeaderValue::from_static("origin"));
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("x-request-id, retry-after, etag"),
            );
        }
    }

    /// A 204 answer to a preflight `OPTIONS`.
    pub fn preflight(&self, origin: Option<&str>) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        if self.allow_origin(origin).is_some() {
            let headers = response.headers_mut();
            headers.insert(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            headers.insert(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                http::header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(MAX_AGE_SECONDS),
            );
        }
        self.apply(origin, &mut response);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_origins_only() {
        let p = CorsPolicy {
            origins: vec!["https://app.haven.example".into()],
        };
        assert!(p.allow_origin(Some("https://evil.example")).is_none());
        assert_eq!(
            p.allow_origin(Some("https://app.haven.example"))
                .expect("allowed"),
            "https://app.haven.example"
        );
        let r = p.preflight(Some("https://app.haven.example"));
        assert_eq!(r.status(), 204);
        assert!(r.headers().contains_key("access-control-allow-methods"));
    }
}
