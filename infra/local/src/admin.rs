//! The first system admin of a deployment, from `HAVEN_ADMIN_EMAIL` / `HAVEN_ADMIN_PASSWORD`
//! (or a generated password, printed once). Used by the local gateway on start and by the
//! `haven-admin` command against AWS.

use haven_identity_core::{accounts, codes};
use haven_kernel::DomainError;
use haven_kernel::ports::Ports;

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@haven.local";

/// Creates the admin unless it exists. Returns the email, and the password when this call
/// generated it.
pub async fn bootstrap_from_env<P: Ports>(
    ports: &P,
) -> Result<Option<(String, Option<String>)>, DomainError> {
    let email =
        std::env::var("HAVEN_ADMIN_EMAIL").unwrap_or_else(|_| DEFAULT_ADMIN_EMAIL.to_owned());
    let given = std::env::var("HAVEN_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = given.clone().unwrap_or_else(codes::opaque_token);
    match accounts::bootstrap_admin(ports, &email, &password).await? {
        Some(_) => Ok(Some((email, given.is_none().then_some(password)))),
        None => Ok(Some((email, None))),
    }
}

/// `GET /local/sms-outbox`: the texts the embedded backend "sent", newest last, for a system
/// admin (they hold acknowledgement links). Only the local gateway has this route.
pub async fn sms_outbox<P: Ports>(
    axum::extract::State(gw): axum::extract::State<std::sync::Arc<crate::Gateway<P>>>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let request_id = crate::new_request_id();
    let claims = haven_identity_core::sessions::authenticate(gw.ports.as_ref(), token, false).await;
    let error = match claims {
        Err(_) if token.is_empty() => Some(haven_edge::ApiError::MissingToken),
        Err(e) => Some(e.into()),
        Ok(c) if c.role != haven_kernel::Role::SystemAdmin => Some(haven_edge::ApiError::Forbidden),
        Ok(_) => None,
    };
    if let Some(e) = error {
        return crate::to_axum(e.into_response(Some(&request_id)));
    }
    let Some(outbox) = &gw.sms_outbox else {
        return crate::to_axum(
            haven_edge::ApiError::NotFound(
                "the SMS outbox (this backend sends through SNS)".into(),
            )
            .into_response(Some(&request_id)),
        );
    };
    match outbox.sms_outbox() {
        Ok(records) => crate::to_axum(
            haven_edge::json_response(
                http::StatusCode::OK,
                &serde_json::json!({
                    "messages": records.iter().map(|r| serde_json::json!({
                        "message_id": r.message_id,
                        "phone_number": r.phone_number,
                        "text": r.text,
                        "sent_at": r.sent_at.to_rfc3339(),
                    })).collect::<Vec<_>>()
                }),
            )
            .unwrap_or_else(|e| e.into_response(Some(&request_id))),
        ),
        Err(e) => crate::to_axum(
            haven_edge::ApiError::Unavailable(e.to_string()).into_response(Some(&request_id)),
        ),
    }
}
