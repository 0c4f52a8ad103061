//! The first system admin of a deployment, from `HAVEN_ADMIN_EMAIL` / `HAVEN_ADMIN_PASSWORD`
//! (or a generated password, printed once). Used by the local gateway on start and by the
//! `haven-admin` command against AWS.

use haven_domain::DomainError;
use haven_domain::identity::{accounts, codes};
use haven_domain::ports::Ports;

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
