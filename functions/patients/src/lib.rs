//! patients: a hospital's patient register. Handlers are thin: parse, take the caller from
//! the edge, call `haven_patients_core::registry` or `haven_patients_core::search`, shape JSON. Nothing
//! here is cacheable, and every answer names the record's version in its ETag.

use haven_edge::{
    ApiError, Caller, HandlerResult, if_match, json_response, no_store, page_cursor, page_limit,
    parse_json, path_param, query_param, raw_body, with_etag,
};
use haven_kernel::ports::Ports;
use haven_patients_core::documents;
use haven_patients_core::fhir as patient_fhir;
use haven_patients_core::registry::{self, PatientView};
use haven_patients_core::{PatientInput, Purpose, Staff, View, search};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

/// A record is a few kilobytes; 32 KiB is generous.
const BODY_LIMIT: usize = 32 * 1024;

fn staff(caller: &Caller) -> Result<Staff, ApiError> {
    let claims = caller.claims()?;
    Ok(Staff {
        user_id: claims.sub.clone(),
        role: claims.role,
        hospital_id: claims.hospital_id.clone(),
    })
}

/// Why the record is opened: `?purpose=` or the `X-Purpose` header, `treatment` by default.
fn purpose(req: &Request) -> Result<Purpose, ApiError> {
    let header = req.headers().get("x-purpose").and_then(|v| v.to_str().ok());
    Ok(Purpose::parse(query_param(req, "purpose").or(header))?)
}

fn one(status: StatusCode, patient: &PatientView) -> HandlerResult {
    Ok(no_store(with_etag(
        json_response(status, patient)?,
        patient.version,
    )))
}

/// `POST /patients` → 201 with the record, its MRN and its ETag.
pub async fn create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let input: PatientInput = parse_json(&req, BODY_LIMIT)?;
    let opened = registry::create(ports, &staff, input, purpose(&req)?).await?;
    let view = staff.view_of(opened.hospital_id())?;
    let mut response = one(StatusCode::CREATED, &opened.view(view))?;
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/patients/{}", opened.id)) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /patients?status=active|deleted&hospital_id=&limit=&cursor=`, newest first.
pub async fn list<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let deleted = match query_param(&req, "status") {
        None | Some("active") => false,
        Some("deleted") => true,
        Some(_) => return Err(ApiError::invalid("status", "status is active or deleted")),
    };
    let page = registry::list(
        ports,
        &staff,
        query_param(&req, "hospital_id"),
        deleted,
        page_limit(&req, 20, 100)?,
        page_cursor(&req)?,
        purpose(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &page)?))
}

/// `GET /patients/{patient_id}`; a merged record answers with the one it joined.
pub async fn get<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let view = registry::read(ports, &staff, id, purpose(&req)?).await?;
    one(StatusCode::OK, &view)
}

/// `PUT /patients/{patient_id}` with `If-Match`: 428 without it, 412 when stale.
pub async fn update<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let expected = if_match(&req)?;
    let input: PatientInput = parse_json(&req, BODY_LIMIT)?;
    let opened = registry::replace(ports, &staff, id, input, expected, purpose(&req)?).await?;
    let view = staff.view_of(opened.hospital_id())?;
    one(StatusCode::OK, &opened.view(view))
}

/// `DELETE /patients/{patient_id}` → 200 with the deleted record and until when it can be
/// restored.
pub async fn delete<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let view = registry::remove(ports, &staff, id, purpose(&req)?).await?;
    one(StatusCode::OK, &view)
}

/// `POST /patients/{patient_id}/restore`: an admin undoes a delete within 30 days.
pub async fn restore<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let view = registry::restore(ports, &staff, id, purpose(&req)?).await?;
    one(StatusCode::OK, &view)
}

/// `GET /patients/search?q=&limit=&cursor=`: exact matches first.
pub async fn search<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let q = query_param(&req, "q").ok_or_else(|| {
        ApiError::invalid(
            "q",
            "search with ?q=: a name, MRN, phone, email or identifier",
        )
    })?;
    let page = search::search(
        ports,
        &staff,
        query_param(&req, "hospital_id"),
        q,
        page_limit(&req, 20, 50)?,
        page_cursor(&req)?,
        purpose(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &page)?))
}

/// `GET /patients/{patient_id}/medical-history?limit=&cursor=`, newest first.
pub async fn history<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let page = registry::history(
        ports,
        &staff,
        id,
        page_limit(&req, 50, 100)?,
        page_cursor(&req)?,
        purpose(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &page)?))
}

/// `POST /patients/{patient_id}/documents {document_type, content_type, size, title?,
/// filename?}` → 201 with the pending document and the signed upload (`PUT` the bytes to
/// `upload.url` with `upload.headers`).
pub async fn documents_create<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let input: documents::NewDocument = parse_json(&req, BODY_LIMIT)?;
    let uploading = documents::request_upload(ports, &staff, id, input, purpose(&req)?).await?;
    Ok(no_store(json_response(StatusCode::CREATED, &uploading)?))
}

/// `GET /patients/{patient_id}/documents?limit=&cursor=`: newest first, each checked one
/// with a download URL valid for five minutes.
pub async fn documents_list<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let page = documents::list(
        ports,
        &staff,
        id,
        page_limit(&req, 20, 50)?,
        page_cursor(&req)?,
        purpose(&req)?,
    )
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &page)?))
}

/// The FHIR identifier systems: the defaults, with `HAVEN_FHIR_IDENTIFIER_SYSTEMS` (a JSON
/// object) over them. Read once per process; a setting that does not parse is logged and
/// the defaults are used.
fn fhir_systems() -> &'static patient_fhir::IdentifierSystems {
    static SYSTEMS: std::sync::OnceLock<patient_fhir::IdentifierSystems> =
        std::sync::OnceLock::new();
    SYSTEMS.get_or_init(|| match std::env::var("HAVEN_FHIR_IDENTIFIER_SYSTEMS") {
        Ok(json) if !json.trim().is_empty() => patient_fhir::IdentifierSystems::with_overrides(&json)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "HAVEN_FHIR_IDENTIFIER_SYSTEMS is not valid; using the defaults");
                patient_fhir::IdentifierSystems::default()
            }),
        _ => patient_fhir::IdentifierSystems::default(),
    })
}

/// `GET /patients/{patient_id}/fhir[?_include=everything]`: a FHIR R4 Patient, or a Bundle
/// with what Haven holds of them.
pub async fn fhir<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let id = path_param(&req, "patient_id")?;
    let everything = match query_param(&req, "_include") {
        None => false,
        Some("everything") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "_include",
                "_include is everything, or absent",
            ));
        }
    };
    let (opened, view) =
        registry::read_record(ports, &staff, id, "patient.exported", purpose(&req)?).await?;
    if view != View::Full {
        return Err(ApiError::from(haven_kernel::DomainError::Forbidden));
    }
    let patient = patient_fhir::patient(&opened, fhir_systems());
    let body = if everything {
        patient_fhir::everything(patient, "urn:haven")
    } else {
        patient
    };
    let mut response = with_etag(json_response(StatusCode::OK, &body)?, opened.version());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(patient_fhir::CONTENT_TYPE),
    );
    Ok(no_store(response))
}

/// What an HL7 v2 message may arrive as: the HL7-over-HTTP type, and plain text.
const HL7_TYPES: &[&str] = &[
    "application/hl7-v2",
    "x-application/hl7-v2+er7",
    "text/plain",
];
/// An ADT message is a few kilobytes; 1 MiB is generous.
const HL7_LIMIT: usize = 1024 * 1024;

/// `POST /patients/hl7/import`: ADT^A04 (register), A08 (update), A40 (merge). Answers 200
/// with the HL7 ACK (`AA`, `AE` or `AR` with `ERR`), or the same outcome as JSON when the
/// client asks for `application/json`: the outcome is the ACK's to tell, not HTTP's, so an
/// interface engine does not resend a message that was read and refused.
pub async fn hl7_import<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let staff = staff(&caller)?;
    let bytes = raw_body(&req, HL7_TYPES, HL7_LIMIT)?;
    let now = chrono::DateTime::from_timestamp_millis(ports.clock().now().millis())
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S+0000")
        .to_string();
    // MSH-10 holds at most 20 characters in v2.5.
    let ack_id: String = ports.ids().next_id().chars().take(20).collect();
    let outcome = haven_patients_core::adt::import(
        ports,
        &staff,
        bytes,
        query_param(&req, "hospital_id"),
        &now,
        &ack_id,
    )
    .await?;
    let wants_json = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(no_store(json_response(StatusCode::OK, &outcome)?));
    }
    let mut response = Response::new(Body::Text(outcome.ack));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/hl7-v2; charset=utf-8"),
    );
    Ok(no_store(response))
}

#[cfg(test)]
mod handler_tests;
