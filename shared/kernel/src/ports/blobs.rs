//! The BlobStore port: files too big for the table or for a Lambda payload (a patient's
//! scans and PDFs, up to 20 MB). Clients move the bytes themselves, through short-lived
//! signed URLs, so no function ever carries them: S3's presigned URLs on AWS, the local
//! gateway's signed `/local/blobs/...` URLs on the embedded backend. Both keep the bytes
//! encrypted at rest (SSE-KMS under its own key; AES-256-GCM envelopes on disk).
//!
//! Keys are opaque paths made of ids (`documents/{hospital}/{patient}/{document}`): never a
//! file name or anything a person typed, because object keys show in URLs and access logs.

use std::future::Future;
use std::time::Duration;

use crate::clock::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// An upload that would replace bytes already stored: blobs are written once.
    #[error("the blob already exists")]
    Exists,
    /// The store could not be reached or refused the call.
    #[error("the blob store failed: {0}")]
    Failed(String),
}

/// A signed request a client makes itself: the method, the URL and the headers it must send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignedRequest {
    pub method: &'static str,
    pub url: String,
    /// Headers the signature covers: a request without them is refused.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

/// What is stored under a key: its size, and its first bytes (enough to tell a PDF from a
/// JPEG by its signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub size: u64,
    pub head: Vec<u8>,
}

/// Keys are paths of ids: letters, digits, `-`, `_` and `.` in non-empty segments
/// between `/`, never `.` or `..`. Such a key needs no escaping in a URL or a file path.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_paths_of_ids() {
        assert!(super::is_valid_key("documents/h1/p1/d1.pdf"));
        for bad in [
            "", "a//b", "../x", "a/../b", "a b", "/a", "a/", "a?b", "a%2f",
        ] {
            assert!(!super::is_valid_key(bad), "{bad:?}");
        }
    }
}

/// How many leading bytes [`BlobStore::inspect`] returns.
pub const HEAD_BYTES: usize = 64;

/// What an upload URL allows: exactly this content type and size, once, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTerms<'a> {
    pub content_type: &'a str,
    pub size: u64,
    pub now: Timestamp,
    pub valid_for: Duration,
}

pub trait BlobStore: Send + Sync {
    /// A URL the client PUTs the bytes to. It refuses another content type and, where the
    /// store can tell, another size or a second upload to the same key.
    fn upload_url(
        &self,
        key: &str,
        terms: &UploadTerms<'_>,
    ) -> impl Future<Output = Result<SignedRequest, BlobError>> + Send;

    /// A URL the client GETs the bytes from, served as `content_type` with a neutral file
    /// name (`download_name`, made of ids).
    fn download_url(
        &self,
        key: &str,
        content_type: &str,
        download_name: &str,
        now: Timestamp,
        valid_for: Duration,
    ) -> impl Future<Output = Result<SignedRequest, BlobError>> + Send;

    /// The size and first [`HEAD_BYTES`] bytes of what is stored, or `None` before an upload.
    fn inspect(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredBlob>, BlobError>> + Send;

    /// Stores bytes from the server side (the local gateway's upload route, tests).
    fn put(
        &self,
        key: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), BlobError>> + Send;

    /// The whole stored bytes, or `None`.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, BlobError>> + Send;

    /// Removes what is stored (nothing stored is not an error).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BlobError>> + Send;
}
