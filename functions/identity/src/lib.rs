//! identity: accounts, sign-in, tokens, MFA, the emergency bypass, and account admin.
//! Handlers are thin: parse, authorise (done by the edge from the catalogue), call the
//! domain (`haven_identity_core`), shape JSON.

use haven_edge::json::DEFAULT_BODY_LIMIT;
use haven_edge::{
    ApiError, Caller, HandlerResult, json_response, no_content, page_cursor, page_limit,
    parse_json, path_param,
};
use haven_identity_core::accounts::{self, AccountChanges, Admin, NewAccount};
use haven_identity_core::sessions::{
    self, BypassOutcome, BypassRequest, Credentials, MfaAnswer, MfaMethod,
};
use haven_identity_core::{keys, tokens};
use haven_kernel::ports::Ports;
use http::{HeaderValue, StatusCode};
use lambda_http::Request;
use serde::Deserialize;

/// Auth bodies are small; a larger one is not a login.
const AUTH_BODY_LIMIT: usize = 8 * 1024;

fn admin(caller: &Caller) -> Result<Admin, ApiError> {
    let claims = caller.claims()?;
    Ok(Admin {
        user_id: claims.sub.clone(),
        role: claims.role,
        hospital_id: claims.hospital_id.clone(),
    })
}

/// `POST /auth/register` → 201 `{user_id, role, emergency_credential}`.
pub async fn register<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let input: NewAccount = parse_json(&req, AUTH_BODY_LIMIT)?;
    let created = accounts::register(ports, input).await?;
    json_response(StatusCode::CREATED, &created)
}

/// `POST /auth/login` → the token pair, or `{mfa_required, mfa_token}`.
pub async fn login<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let credentials: Credentials = parse_json(&req, AUTH_BODY_LIMIT)?;
    json_response(StatusCode::OK, &sessions::login(ports, credentials).await?)
}

/// `POST /auth/verify` `{mfa_token, code}` → the token pair.
pub async fn verify<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let answer: MfaAnswer = parse_json(&req, AUTH_BODY_LIMIT)?;
    json_response(StatusCode::OK, &sessions::verify_mfa(ports, answer).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    refresh_token: String,
}

/// `POST /auth/refresh` `{refresh_token}` → a new pair; the old token is spent.
pub async fn refresh<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let body: RefreshToken = parse_json(&req, AUTH_BODY_LIMIT)?;
    json_response(
        StatusCode::OK,
        &sessions::refresh(ports, &body.refresh_token).await?,
    )
}

/// `POST /auth/logout` `{refresh_token}` → 204.
pub async fn logout<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let body: RefreshToken = parse_json(&req, AUTH_BODY_LIMIT)?;
    sessions::logout(ports, &body.refresh_token).await?;
    Ok(no_content())
}

/// `GET /auth/me`.
pub async fn me<P: Ports>(ports: &P, caller: Caller, _req: Request) -> HandlerResult {
    let claims = caller.claims()?;
    let user = accounts::find_by_id(ports, &claims.sub)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    json_response(StatusCode::OK, &user.view())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableMfa {
    method: MfaMethod,
}

/// `POST /auth/mfa/enable` `{method: "totp" | "sms"}`.
pub async fn mfa_enable<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: EnableMfa = parse_json(&req, AUTH_BODY_LIMIT)?;
    let enrolment = sessions::enable_mfa(ports, &caller.claims()?.sub, body.method).await?;
    json_response(StatusCode::OK, &enrolment)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

/// `POST /auth/mfa/verify` `{code}` → 200; MFA is on from the next login.
pub async fn mfa_verify<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: Code = parse_json(&req, AUTH_BODY_LIMIT)?;
    sessions::confirm_mfa(ports, &caller.claims()?.sub, &body.code).await?;
    json_response(StatusCode::OK, &serde_json::json!({ "mfa_enabled": true }))
}

/// `POST /auth/emergency-bypass` → 200 with a bypass token, or 202 when a code was sent.
pub async fn emergency_bypass<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let body: BypassRequest = parse_json(&req, AUTH_BODY_LIMIT)?;
    let outcome = sessions::emergency_bypass(ports, body).await?;
    let status = match outcome {
        BypassOutcome::Token { .. } => StatusCode::OK,
        BypassOutcome::CodeSent { .. } => StatusCode::ACCEPTED,
    };
    json_response(status, &outcome)
}

/// `GET /users?limit=&cursor=`.
pub async fn users_list<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let page = accounts::list_users(
        ports,
        &admin(&caller)?,
        page_limit(&req, 50, 100)?,
        page_cursor(&req)?,
    )
    .await?;
    json_response(StatusCode::OK, &page)
}

/// `POST /users` → 201 `{user_id, role}`.
pub async fn users_create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let input: NewAccount = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let created = accounts::create_user(ports, &admin(&caller)?, input).await?;
    json_response(StatusCode::CREATED, &created)
}

/// `GET /users/{id}`.
pub async fn users_get<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let user = accounts::managed_user(ports, &admin(&caller)?, path_param(&req, "id")?).await?;
    json_response(StatusCode::OK, &user.view())
}

/// `PUT /users/{id}` `{full_name?, role?, status?}`.
pub async fn users_update<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let changes: AccountChanges = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let view =
        accounts::update_user(ports, &admin(&caller)?, path_param(&req, "id")?, changes).await?;
    json_response(StatusCode::OK, &view)
}

/// `DELETE /users/{id}` → 204.
pub async fn users_delete<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    accounts::delete_user(ports, &admin(&caller)?, path_param(&req, "id")?).await?;
    Ok(no_content())
}

/// `GET /.well-known/jwks.json`: the current key and retired keys whose tokens may still be
/// alive. Cacheable briefly, so a rotation is visible within minutes.
pub async fn jwks<P: Ports>(ports: &P, _caller: Caller, _req: Request) -> HandlerResult {
    // A fresh deployment publishes its first key before anyone has signed in.
    keys::signing_key(ports).await?;
    let keys = keys::verifying_keys(ports, false).await?;
    let mut response = json_response(StatusCode::OK, &tokens::jwks(&keys))?;
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[cfg(test)]
mod use_case_tests;
