//! Fixtures for handler tests built from the sample events of `events/` (feature `testing`,
//! for the function crates' dev-dependencies only).

use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::Role;
use lambda_http::Request;

use crate::{Caller, HandlerResult};

/// A signed-in caller of `role` at `hospital`, whose user id is `<role>-<hospital>`.
pub fn signed(role: Role, hospital: Option<&str>) -> Caller {
    Caller::Signed(Claims {
        iss: "haven".into(),
        aud: "haven".into(),
        sub: format!("{}-{}", role.as_str(), hospital.unwrap_or("none")),
        exp: 4_000_000_000,
        iat: 1_795_000_000,
        jti: "j1".into(),
        kind: TokenKind::Access,
        role,
        hospital_id: hospital.map(str::to_owned),
        fam: None,
        alert_id: None,
    })
}

/// `events/<name>.json`, edited, as the request API Gateway would hand the function.
pub fn sample_event(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string())
        .unwrap_or_else(|e| panic!("{path} is not an HTTP API event: {e}"))
}

/// A handler's answer as its status and JSON body (problem+json for an error).
pub fn answer(result: HandlerResult) -> (u16, serde_json::Value) {
    let response = result.unwrap_or_else(|e| e.into_response(None));
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    (response.status().as_u16(), body)
}
