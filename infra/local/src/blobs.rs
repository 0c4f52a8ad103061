//! `PUT|GET /local/blobs/{key}`: the embedded backend's stand-in for S3's presigned URLs.
//! The signed query is the whole authority (no bearer token, as with S3); an upload must be
//! the signed content type and exactly the signed size, lands once, and is checked at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use haven_embedded::{LocalGrant, LocalUrlError};
use haven_kernel::ports::{BlobError, BlobStore, Ports};
use http::{HeaderMap, StatusCode, header};

use crate::Gateway;

/// The largest upload the route takes: a document's limit and a little room.
pub const MAX_UPLOAD_BYTES: usize = 21 * 1024 * 1024;

/// S3's way of answering: a status and a short plain reason.
fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        reason.to_owned(),
    )
        .into_response()
}

fn grant<P: Ports>(
    gw: &Gateway<P>,
    method: &str,
    key: &str,
    query: &BTreeMap<String, String>,
) -> Result<(haven_embedded::FileBlobs, LocalGrant), (StatusCode, &'static str)> {
    let Some(blobs) = gw.blobs.clone() else {
        return Err((StatusCode::NOT_FOUND, "no local blob store"));
    };
    match blobs.verify(method, key, query, gw.ports.clock().now()) {
        Ok(g) => Ok((blobs, g)),
        Err(LocalUrlError::Expired) => Err((StatusCode::FORBIDDEN, "the link has expired")),
        Err(LocalUrlError::BadSignature) => Err((
            StatusCode::FORBIDDEN,
            "the link is not signed for this request",
        )),
    }
}

pub async fn put<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (blobs, granted) = match grant(&gw, "PUT", &key, &query) {
        Ok(g) => g,
        Err((status, reason)) => return refuse(status, reason),
    };
    let LocalGrant::Upload { content_type, size } = granted else {
        return refuse(StatusCode::FORBIDDEN, "not an upload link");
    };
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent_type != content_type {
        return refuse(
            StatusCode::FORBIDDEN,
            "the Content-Type is not the one the link was signed for",
        );
    }
    if body.len() as u64 != size {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body is not the size the link was signed for",
        );
    }
    match blobs.put(&key, &content_type, &body).await {
        Ok(()) => {}
        Err(BlobError::Exists) => {
            return refuse(
                StatusCode::PRECONDITION_FAILED,
                "the file was uploaded already",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "storing an upload failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable");
        }
    }
    // Checked now, as S3's event would have it checked; a failure here leaves the document
    // pending, and the next list checks it.
    if let Err(e) = haven_patients_core::documents::uploaded(gw.ports.as_ref(), &key).await {
        tracing::warn!(error = %e, "checking an upload failed; the next list checks it");
    }
    StatusCode::OK.into_response()
}

pub async fn get<P: Ports>(
    State(gw): State<Arc<Gateway<P>>>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let (blobs, granted) = match grant(&gw, "GET", &key, &query) {
        Ok(g) => g,
        Err((status, reason)) => return refuse(status, reason),
    };
    let LocalGrant::Download { content_type, name } = granted else {
        return refuse(StatusCode::FORBIDDEN, "not a download link");
    };
    match blobs.get(&key).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => refuse(StatusCode::NOT_FOUND, "no such file"),
        Err(e) => {
            tracing::error!(error = %e, "reading a blob failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable")
        }
    }
}
