//! Authentication and the role half of authorisation, from each route's declaration in the
//! catalogue. Object scope (ownership, hospital) is the handler's and the domain's job.

use haven_identity_core::sessions;
use haven_identity_core::tokens::{Claims, TokenKind};
use haven_kernel::ports::Ports;
use haven_kernel::{DomainError, Role};
use lambda_http::Request;

use crate::catalogue::Access;
use crate::problem::ApiError;

/// Who is calling: nobody in particular, or the holder of a verified token.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    Anonymous,
    Signed(Claims),
}

impl Caller {
    pub fn claims(&self) -> Result<&Claims, ApiError> {
        match self {
            Caller::Signed(c) => Ok(c),
            Caller::Anonymous => Err(ApiError::MissingToken),
        }
    }
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Caller::Signed(c) => Some(&c.sub),
            Caller::Anonymous => None,
        }
    }
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Signed(c) => Some(c.role),
            Caller::Anonymous => None,
        }
    }
    pub fn is_bypass(&self) -> bool {
        matches!(self, Caller::Signed(c) if c.kind == TokenKind::Bypass)
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Checks the caller against the route's declaration: 401 without a valid token, 403 when
/// the token's role is not one the route admits.
pub async fn authorize<P: Ports>(
    ports: &P,
    req: &Request,
    access: Access,
) -> Result<Caller, ApiError> {
    let (roles, accept_bypass) = match access {
        Access::Public => return Ok(Caller::Anonymous),
        Access::Roles(roles) => (roles, false),
        Access::RolesOrBypass(roles) => (roles, true),
    };
    let token = bearer(req).ok_or(ApiError::MissingToken)?;
    let claims = sessions::authenticate(ports, token, accept_bypass)
        .await
        .map_err(|e| match e {
            DomainError::Unavailable(m) => ApiError::Unavailable(m),
            DomainError::TokenRejected(why) => ApiError::InvalidToken(why),
            _ => ApiError::InvalidToken(haven_kernel::TokenRejection::Invalid),
        })?;
    if !roles.contains(&claims.role) {
        return Err(ApiError::Forbidden);
    }
    Ok(Caller::Signed(claims))
}
