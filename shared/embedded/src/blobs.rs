//! The BlobStore port on local files: each blob is one file under `data_dir/blobs`, sealed
//! with an envelope (a fresh data key from the master key file, AES-256-GCM), so what is on
//! disk is never the document. Clients reach it through the local gateway's
//! `/local/blobs/{key}` with an HMAC-signed query (method, content type, size, expiry), the
//! local counterpart of an S3 presigned URL.
//!
//! File format: `HVB1 ‖ wrapped key length (u16, big-endian) ‖ wrapped key ‖ nonce (12) ‖
//! ciphertext and tag`.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use haven_kernel::Timestamp;
use haven_kernel::envelope::{self, ENVELOPE_VERSION, Envelope};
use haven_kernel::ports::{
    BlobError, BlobStore, EncryptionContext, HEAD_BYTES, SignedRequest, StoredBlob, UploadTerms,
    is_valid_key,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::FileKeyRing;

const MAGIC: &[u8; 4] = b"HVB1";

/// The local gateway's route for blobs.
pub const ROUTE_PREFIX: &str = "/local/blobs/";

/// Blobs in files, behind signed local URLs.
#[derive(Clone)]
pub struct FileBlobs {
    dir: PathBuf,
    key_ring: FileKeyRing,
    url_key: Arc<zeroize::Zeroizing<[u8; 32]>>,
    base_url: Arc<RwLock<String>>,
}

impl std::fmt::Debug for FileBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBlobs").field("dir", &self.dir).finish()
    }
}

/// What a verified signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalGrant {
    Upload { content_type: String, size: u64 },
    Download { content_type: String, name: String },
}

/// Why a local blob URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalUrlError {
    #[error("the link is not signed for this request")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

fn failed(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |e| BlobError::Failed(format!("{}: {e}", path.display()))
}

fn context(key: &str) -> EncryptionContext {
    EncryptionContext::new().with("blob", key)
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl FileBlobs {
    /// Blobs in `dir`, sealed under `key_ring`, with URLs signed by a key derived from it.
    pub fn open(dir: PathBuf, key_ring: FileKeyRing) -> Result<Self, crate::EmbeddedError> {
        std::fs::create_dir_all(&dir).map_err(|source| crate::EmbeddedError::Io {
            path: dir.clone(),
            source,
        })?;
        let base = std::env::var("HAVEN_PUBLIC_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
                format!("http://127.0.0.1:{port}")
            });
        Ok(FileBlobs {
            url_key: Arc::new(key_ring.derive(b"haven-blob-urls-v1")),
            dir,
            key_ring,
            base_url: Arc::new(RwLock::new(base)),
        })
    }

    /// Where clients reach the local gateway (set when it binds its port).
    pub fn set_base_url(&self, url: &str) {
        if let Ok(mut base) = self.base_url.write() {
            *base = url.trim_end_matches('/').to_owned();
        }
    }

    fn base(&self) -> String {
        self.base_url.read().map(|b| b.clone()).unwrap_or_default()
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        if !is_valid_key(key) {
            return Err(BlobError::Failed(format!("not a blob key: {key:?}")));
        }
        Ok(self.dir.join(key))
    }

    fn signature(&self, fields: &[&str]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.url_key[..]).expect("any key length");
        for f in fields {
            mac.update(f.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn signed(&self, key: &str, fields: &[(&str, String)], expires: i64) -> String {
        let mut signed: Vec<&str> = vec![key];
        signed.extend(fields.iter().map(|(_, v)| v.as_str()));
        let expires_text = expires.to_string();
        signed.push(&expires_text);
        let sig = self.signature(&signed);
        let mut url = format!("{}{ROUTE_PREFIX}{key}?", self.base());
        for (name, value) in fields {
            url.push_str(&format!("{name}={}&", encode(value)));
        }
        url.push_str(&format!("expires={expires}&sig={sig}"));
        url
    }

    /// Checks a request to `/local/blobs/{key}` against its signed query.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        query: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<LocalGrant, LocalUrlError> {
        let q = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
        let expires: i64 = q("expires")
            .parse()
            .map_err(|_| LocalUrlError::BadSignature)?;
        let (fields, grant) = match method {
            "PUT" => {
                let size = q("size").parse().map_err(|_| LocalUrlError::BadSignature)?;
                (
                    vec!["PUT", q("type"), q("size")],
                    LocalGrant::Upload {
                        content_type: q("type").to_owned(),
                        size,
                    },
                )
            }
            "GET" => (
                vec!["GET", q("type"), q("name")],
                LocalGrant::Download {
                    content_type: q("type").to_owned(),
                    name: q("name").to_owned(),
                },
            ),
            _ => return Err(LocalUrlError::BadSignature),
        };
        let expires_text = expires.to_string();
        let mut signed = vec![key];
        signed.extend(fields);
        signed.push(&expires_text);
        let want = self.signature(&signed);
        // Compared in constant time: the signature is the whole of the link's authority.
        let got = q("sig").as_bytes();
        if got.len() != want.len()
            || got
                .iter()
                .zip(want.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(LocalUrlError::BadSignature);
        }
        if now.epoch_seconds() >= expires {
            return Err(LocalUrlError::Expired);
        }
        Ok(grant)
    }

    fn read_file(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path(key)?;
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed(&path)(e)),
        };
        let mut raw = Vec::new();
        file.read_to_end(&mut raw).map_err(failed(&path))?;
        Ok(Some(raw))
    }

    async fn open_file(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(raw) = self.read_file(key)? else {
            return Ok(None);
        };
        let damaged = || BlobError::Failed(format!("blob {key} is damaged"));
        let rest = raw.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
        if rest.len() < 2 {
            return Err(damaged());
        }
        let key_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let rest = &rest[2..];
        if rest.len() < key_len + 12 {
            return Err(damaged());
        }
        let (wrapped_key, rest) = rest.split_at(key_len);
        let (nonce, ciphertext) = rest.split_at(12);
        let sealed = Envelope {
            version: ENVELOPE_VERSION,
            wrapped_key: wrapped_key.to_vec(),
            nonce: nonce.try_into().map_err(|_| damaged())?,
            ciphertext: ciphertext.to_vec(),
        };
        let opened = envelope::open(&self.key_ring, &context(key), &sealed)
            .await
            .map_err(|_| damaged())?;
        Ok(Some(opened.to_vec()))
    }
}

impl BlobStore for FileBlobs {
    async fn upload_url(
        &self,
        key: &str,
        terms: &UploadTerms<'_>,
    ) -> Result<SignedRequest, BlobError> {
        self.path(key)?;
        let expires_at = terms.now.plus(terms.valid_for);
        let url = self.signed(
            key,
            &[
                ("method", "PUT".into()),
                ("type", terms.content_type.to_owned()),
                ("size", terms.size.to_string()),
            ],
            expires_at.epoch_seconds(),
        );
        Ok(SignedRequest {
            method: "PUT",
            url,
            headers: BTreeMap::from([("content-type".into(), terms.content_type.to_owned())]),
            expires_at,
        })
    }

    async fn download_url(
        &self,
        key: &str,
        content_type: &str,
        download_name: &str,
        now: Timestamp,
        valid_for: Duration,
    ) -> Result<SignedRequest, BlobError> {
        self.path(key)?;
        let expires_at = now.plus(valid_for);
        let url = self.signed(
            key,
            &[
                ("method", "GET".into()),
                ("type", content_type.to_owned()),
                ("name", download_name.to_owned()),
            ],
            expires_at.epoch_seconds(),
        );
        Ok(SignedRequest {
            method: "GET",
            url,
            headers: BTreeMap::new(),
            expires_at,
        })
    }

    async fn inspect(&self, key: &str) -> Result<Option<StoredBlob>, BlobError> {
        Ok(self.open_file(key).await?.map(|bytes| StoredBlob {
            size: bytes.len() as u64,
            head: bytes[..bytes.len().min(HEAD_BYTES)].to_vec(),
        }))
    }

    async fn put(&self, key: &str, _content_type: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let path = self.path(key)?;
        if path.exists() {
            return Err(BlobError::Exists);
        }
        let sealed = envelope::seal(&self.key_ring, &context(key), bytes)
            .await
            .map_err(|e| BlobError::Failed(e.to_string()))?;
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(failed(parent))?;
        let mut out = Vec::with_capacity(sealed.ciphertext.len() + 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(sealed.wrapped_key.len() as u16).to_be_bytes());
        out.extend_from_slice(&sealed.wrapped_key);
        out.extend_from_slice(&sealed.nonce);
        out.extend_from_slice(&sealed.ciphertext);
        // Written under a temporary name and published with a hard link, which fails when the
        // key exists: a reader never sees half a blob, and two uploads cannot both win.
        let temp = parent.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&out)?;
            file.sync_all()
        };
        let written = write();
        let linked = written.and_then(|()| fs::hard_link(&temp, &path));
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(BlobError::Exists),
            Err(e) => Err(failed(&path)(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        self.open_file(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(&path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (FileBlobs, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let ring = FileKeyRing::open(&dir.path().join("master.key")).expect("key");
        let blobs = FileBlobs::open(dir.path().join("blobs"), ring).expect("blobs");
        blobs.set_base_url("http://127.0.0.1:9");
        (blobs, dir)
    }

    fn query(url: &str) -> (String, BTreeMap<String, String>) {
        let (path, q) = url.split_once('?').expect("query");
        let key = path.split_once(ROUTE_PREFIX).expect("route").1.to_owned();
        (
            key,
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        )
    }

    #[tokio::test]
    async fn signed_urls_allow_what_they_name_until_they_expire() {
        let (blobs, _dir) = blobs();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let terms = UploadTerms {
            content_type: "application/pdf",
            size: 10,
            now,
            valid_for: Duration::from_secs(600),
        };
        let up = blobs
            .upload_url("documents/h/p/d", &terms)
            .await
            .expect("url");
        let (key, q) = query(&up.url);
        assert_eq!(
            blobs.verify("PUT", &key, &q, now),
            Ok(LocalGrant::Upload {
                content_type: "application/pdf".into(),
                size: 10
            })
        );
        assert_eq!(
            blobs.verify("GET", &key, &q, now),
            Err(LocalUrlError::BadSignature),
            "an upload link does not download"
        );
        assert_eq!(
            blobs.verify("PUT", "documents/h/p/other", &q, now),
            Err(LocalUrlError::BadSignature)
        );
        let mut bigger = q.clone();
        bigger.insert("size".into(), "11".into());
        assert_eq!(
            blobs.verify("PUT", &key, &bigger, now),
            Err(LocalUrlError::BadSignature)
        );
        assert_eq!(
            blobs.verify("PUT", &key, &q, now.plus(Duration::from_secs(600))),
            Err(LocalUrlError::Expired)
        );
    }

    #[tokio::test]
    async fn blobs_are_sealed_on_disk_written_once_and_read_back() {
        let (blobs, dir) = blobs();
        let bytes = b"%PDF-1.7 a marker MARKER-4242 inside".repeat(100);
        blobs
            .put("documents/h/p/d", "application/pdf", &bytes)
            .await
            .expect("put");
        let raw = fs::read(dir.path().join("blobs/documents/h/p/d")).expect("file");
        assert!(!raw.windows(11).any(|w| w == b"MARKER-4242"));
        assert_eq!(
            blobs.get("documents/h/p/d").await.expect("get"),
            Some(bytes.clone())
        );
        let seen = blobs.inspect("documents/h/p/d").await.expect("inspect");
        assert_eq!(seen.as_ref().map(|s| s.size), Some(bytes.len() as u64));
        assert_eq!(seen.map(|s| s.head), Some(bytes[..HEAD_BYTES].to_vec()));
        assert_eq!(
            blobs.put("documents/h/p/d", "application/pdf", b"x").await,
            Err(BlobError::Exists)
        );
        blobs.delete("documents/h/p/d").await.expect("delete");
        assert_eq!(blobs.get("documents/h/p/d").await.expect("get"), None);
        blobs
            .delete("documents/h/p/d")
            .await
            .expect("twice is fine");
    }
}
