//! medical: the patient's own emergency profile, sealed; its FHIR export and access log;
//! the treating hospital's break-glass read. Handlers are thin: parse, take the caller from
//! the edge, call `haven_alerts::medical::records`, shape JSON. Nothing here is cacheable.

use haven_alerts::medical::MedicalProfile;
use haven_alerts::medical::fhir;
use haven_alerts::medical::records::{self, Reader, StoredProfile};
use haven_edge::{
    ApiError, Caller, HandlerResult, if_match, json_response, no_content, no_store, page_cursor,
    page_limit, parse_json, path_param, with_etag as tagged,
};
use haven_kernel::ports::Ports;
use http::{HeaderValue, StatusCode};
use lambda_http::Request;

/// A profile is a few kilobytes; 32 KiB is generous.
const PROFILE_BODY_LIMIT: usize = 32 * 1024;

fn with_etag(status: StatusCode, stored: &StoredProfile) -> HandlerResult {
    Ok(no_store(tagged(
        json_response(status, stored)?,
        stored.version,
    )))
}

fn owner(caller: &Caller) -> Result<&str, ApiError> {
    Ok(&caller.claims()?.sub)
}

/// `POST /medical-profile` → 201 with the profile and its ETag.
pub async fn create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let profile: MedicalProfile = parse_json(&req, PROFILE_BODY_LIMIT)?;
    let stored = records::create(ports, owner(&caller)?, profile).await?;
    with_etag(StatusCode::CREATED, &stored)
}

/// `GET /medical-profile`.
pub async fn get<P: Ports>(ports: &P, caller: Caller, _req: Request) -> HandlerResult {
    let stored = records::read(ports, owner(&caller)?).await?;
    with_etag(StatusCode::OK, &stored)
}

/// `PUT /medical-profile` with `If-Match: "<version>"`: 428 without it, 412 when stale.
pub async fn update<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let expected = if_match(&req)?;
    let profile: MedicalProfile = parse_json(&req, PROFILE_BODY_LIMIT)?;
    let stored = records::replace(ports, owner(&caller)?, profile, expected).await?;
    with_etag(StatusCode::OK, &stored)
}

/// `DELETE /medical-profile` → 204; a later GET is 404.
pub async fn delete<P: Ports>(ports: &P, caller: Caller, _req: Request) -> HandlerResult {
    records::erase(ports, owner(&caller)?).await?;
    Ok(no_store(no_content()))
}

/// `GET /medical-profile/fhir` → a FHIR R4 Bundle as `application/fhir+json`.
pub async fn fhir<P: Ports>(ports: &P, caller: Caller, _req: Request) -> HandlerResult {
    let bundle = records::fhir_export(ports, owner(&caller)?).await?;
    let mut response = json_response(StatusCode::OK, &bundle)?;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(fhir::CONTENT_TYPE),
    );
    Ok(no_store(response))
}

/// `GET /medical-profile/access-log?limit=&cursor=`.
pub async fn access_log<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let log = records::access_log(
        ports,
        owner(&caller)?,
        page_limit(&req, 50, 100)?,
        page_cursor(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &log)?))
}

/// `GET /emergency/{alert_id}/medical-profile`: break-glass, audited either way.
pub async fn break_glass<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    let reader = Reader::of(caller.claims()?);
    let stored = records::break_glass(ports, &reader, alert_id).await?;
    Ok(no_store(json_response(StatusCode::OK, &stored)?))
}

#[cfg(test)]
mod record_tests;
