//! A patient's documents: scans, PDFs and images up to 20 MB. The bytes never pass through
//! a function (Lambda's synchronous payload stops at 6 MB): staff ask for an upload, get a
//! short-lived signed URL, and PUT the file to the blob store themselves.
//!
//! A document is `pending` until its bytes are checked: the stored size must be the declared
//! one and the file's signature (its first bytes) must be of the declared type. Checked, it
//! is `available`, and only then does a list hand out a download URL; otherwise it is
//! `rejected` and the bytes are deleted, or `expired` when nothing came before the upload URL
//! ran out. The check runs when the local upload lands and whenever a list meets a pending
//! document, so bytes are never served unchecked. Upload URLs allow one write: a second PUT
//! over checked bytes is refused by the store (`If-None-Match: *` on S3).
//!
//! | item | pk | sk | what |
//! | --- | --- | --- | --- |
//! | document | `PATIENT#{id}` | `DOCUMENT#{document id}` | type, size, status, uploader; title and file name sealed as `about_*` |
//!
//! Blob keys are `documents/{hospital}/{patient}/{document}`: ids only, as keys show in URLs.

use std::time::Duration;

use haven_kernel::envelope::{self, Envelope};
use haven_kernel::error::optional_text;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{
    BlobStore, Condition, Cursor, EncryptionContext, Ports, Query, SignedRequest, SortKey, Table,
    TransactOp, Update, UploadTerms,
};
use haven_kernel::{DomainError, Timestamp};
use serde::{Deserialize, Serialize};

use crate::access::{Purpose, Staff, View};
use crate::registry::{self, audit_access};
use crate::store;

/// The largest file a document may be.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;
/// How long an upload URL works: long enough for a 20 MB file on a slow phone connection.
pub const UPLOAD_VALID_FOR: Duration = Duration::from_secs(15 * 60);
/// How long a download URL works: enough to open it, too short to be worth passing around.
pub const DOWNLOAD_VALID_FOR: Duration = Duration::from_secs(5 * 60);
const TITLE_MAX: usize = 200;
const FILENAME_MAX: usize = 255;
const SEALED: &str = "about";

/// What a document is, in the hospital's words.
pub const DOCUMENT_TYPES: &[&str] = &[
    "scan",
    "lab_report",
    "imaging",
    "referral",
    "consent",
    "discharge_summary",
    "prescription",
    "identification",
    "other",
];

/// The file types a document may be, each known by the signature its files start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
    Tiff,
    Webp,
}

impl FileType {
    pub const ALL: [FileType; 5] = [
        FileType::Pdf,
        FileType::Jpeg,
        FileType::Png,
        FileType::Tiff,
        FileType::Webp,
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Tiff => "image/tiff",
            FileType::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpeg => "jpg",
            FileType::Png => "png",
            FileType::Tiff => "tif",
            FileType::Webp => "webp",
        }
    }

    pub fn from_content_type(text: &str) -> Option<FileType> {
        let essence = text
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let essence = match essence.as_str() {
            "image/jpg" | "image/pjpeg" => "image/jpeg",
            other => other,
        };
        FileType::ALL
            .into_iter()
            .find(|t| t.content_type() == essence)
    }

    /// The type a file's first bytes say it is.
    pub fn sniff(head: &[u8]) -> Option<FileType> {
        if head.starts_with(b"%PDF-") {
            Some(FileType::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileType::Jpeg)
        } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(FileType::Png)
        } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
            Some(FileType::Tiff)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(FileType::Webp)
        } else {
            None
        }
    }
}

/// `POST /patients/{id}/documents`: what is about to be uploaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    pub document_type: String,
    pub content_type: String,
    pub size: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

/// The personal parts of a document's description: sealed, as a record is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct About {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
}

struct Checked {
    document_type: &'static str,
    file_type: FileType,
    size: u64,
    about: About,
}

impl NewDocument {
    fn check(self) -> Result<Checked, DomainError> {
        let document_type = DOCUMENT_TYPES
            .iter()
            .copied()
            .find(|t| *t == self.document_type.trim())
            .ok_or_else(|| {
                DomainError::invalid(
                    "document_type",
                    format!("one of {}", DOCUMENT_TYPES.join(", ")),
                )
            })?;
        let file_type = FileType::from_content_type(&self.content_type).ok_or_else(|| {
            DomainError::invalid(
                "content_type",
                "a PDF or an image: application/pdf, image/jpeg, image/png, image/tiff or image/webp",
            )
        })?;
        if self.size == 0 {
            return Err(DomainError::invalid("size", "the file is empty"));
        }
        if self.size > MAX_BYTES {
            return Err(DomainError::invalid(
                "size",
                format!("at most {} MB", MAX_BYTES / (1024 * 1024)),
            ));
        }
        Ok(Checked {
            document_type,
            file_type,
            size: self.size,
            about: About {
                title: optional_text(self.title, "title", TITLE_MAX)?,
                filename: optional_text(self.filename, "filename", FILENAME_MAX)?,
            },
        })
    }
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Available,
    Rejected,
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Available => "available",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }
    fn parse(text: &str) -> Status {
        match text {
            "available" => Status::Available,
            "rejected" => Status::Rejected,
            "expired" => Status::Expired,
            _ => Status::Pending,
        }
    }
}

/// A document as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentView {
    pub document_id: String,
    pub patient_id: String,
    pub document_type: String,
    pub content_type: String,
    pub size: u64,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub uploaded_by: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Why the bytes were refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
    /// A short-lived link to the bytes, once they are checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<SignedRequest>,
}

/// The answer to a request for an upload: the document, and where to PUT its bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uploading {
    pub document: DocumentView,
    pub upload: SignedRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentPage {
    pub patient_id: String,
    pub documents: Vec<DocumentView>,
    pub next_cursor: Option<String>,
}

pub fn key(patient_id: &str, document_id: &str) -> Key {
    Key::new(store::key(patient_id).pk, format!("DOCUMENT#{document_id}"))
}

/// Where a document's bytes are in the blob store.
pub fn blob_key(hospital_id: &str, patient_id: &str, document_id: &str) -> String {
    format!("documents/{hospital_id}/{patient_id}/{document_id}")
}

/// The parts of a blob key, for the store's own upload route.
pub fn parse_blob_key(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.strip_prefix("documents/")?.split('/');
    let (h, p, d) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = |id: &str| haven_kernel::ids::is_valid_id(id);
    (parts.next().is_none() && valid(h) && valid(p) && valid(d)).then_some((h, p, d))
}

fn context(patient_id: &str, hospital_id: &str, document_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("record_kind", "patient_document")
        .with("patient_id", patient_id)
        .with("hospital_id", hospital_id)
        .with("document_id", document_id)
}

async fn open_about<P: Ports>(ports: &P, item: &Item) -> Result<About, DomainError> {
    let (Some(patient_id), Some(hospital_id), Some(document_id)) = (
        item.s("patient_id"),
        item.s("hospital_id"),
        item.s("document_id"),
    ) else {
        return Err(DomainError::Unreadable);
    };
    let Some(sealed) = Envelope::read_from(item, SEALED) else {
        return Ok(About::default());
    };
    let plain = envelope::open(
        ports.key_ring(),
        &context(patient_id, hospital_id, document_id),
        &sealed,
    )
    .await?;
    serde_json::from_slice(&plain).map_err(|_| DomainError::Unreadable)
}

fn download_name(item: &Item) -> String {
    let id = item.s("document_id").unwrap_or("document");
    let ext = item
        .s("content_type")
        .and_then(FileType::from_content_type)
        .map_or("bin", FileType::extension);
    format!("{id}.{ext}")
}

async fn view_of<P: Ports>(ports: &P, item: &Item) -> Result<DocumentView, DomainError> {
    let about = open_about(ports, item).await?;
    let status = Status::parse(item.s("status").unwrap_or_default());
    let content_type = item.s("content_type").unwrap_or_default().to_owned();
    let download = if status == Status::Available {
        let (h, p, d) = (
            item.s("hospital_id").unwrap_or_default(),
            item.s("patient_id").unwrap_or_default(),
            item.s("document_id").unwrap_or_default(),
        );
        Some(
            ports
                .blobs()
                .download_url(
                    &blob_key(h, p, d),
                    &content_type,
                    &download_name(item),
                    ports.clock().now(),
                    DOWNLOAD_VALID_FOR,
                )
                .await?,
        )
    } else {
        None
    };
    Ok(DocumentView {
        document_id: item.s("document_id").unwrap_or_default().to_owned(),
        patient_id: item.s("patient_id").unwrap_or_default().to_owned(),
        document_type: item.s("document_type").unwrap_or_default().to_owned(),
        content_type,
        size: item.i64("size").unwrap_or_default().max(0) as u64,
        status,
        title: about.title,
        filename: about.filename,
        uploaded_by: item.s("uploaded_by").unwrap_or_default().to_owned(),
        created_at: item.s("created_at").unwrap_or_default().to_owned(),
        checked_at: item.s("checked_at").map(str::to_owned),
        rejection: item.s("rejection").map(str::to_owned),
        download,
    })
}

/// The patient, for a caller who may see the whole record.
async fn full_record<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
) -> Result<registry::Opened, DomainError> {
    let (opened, view) = registry::read_scoped(ports, staff, patient_id, false).await?;
    if view != View::Full {
        return Err(DomainError::Forbidden);
    }
    Ok(opened)
}

/// `POST /patients/{id}/documents`: records a pending document and signs its upload.
pub async fn request_upload<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    input: NewDocument,
    purpose: Purpose,
) -> Result<Uploading, DomainError> {
    let opened = full_record(ports, staff, patient_id).await?;
    staff.may_write()?;
    let checked = input.check()?;
    let hospital_id = opened.hospital_id().to_owned();
    let document_id = ports.ids().next_id();
    let now = ports.clock().now();
    let mut item = Item::new(&key(patient_id, &document_id))
        .with("kind", Value::s("patient_document"))
        .with("document_id", Value::s(&document_id))
        .with("patient_id", Value::s(patient_id))
        .with("hospital_id", Value::s(&hospital_id))
        .with("document_type", Value::s(checked.document_type))
        .with("content_type", Value::s(checked.file_type.content_type()))
        .with("size", Value::n(checked.size))
        .with("status", Value::s(Status::Pending.as_str()))
        .with("uploaded_by", Value::s(&staff.user_id))
        .with("created_at", Value::s(now.to_rfc3339()))
        .with(
            "upload_expires_at",
            Value::s(now.plus(UPLOAD_VALID_FOR).to_rfc3339()),
        );
    if checked.about != About::default() {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&checked.about).unwrap_or_default());
        envelope::seal(
            ports.key_ring(),
            &context(patient_id, &hospital_id, &document_id),
            &plain,
        )
        .await?
        .write_to(&mut item, SEALED);
    }
    let upload = ports
        .blobs()
        .upload_url(
            &blob_key(&hospital_id, patient_id, &document_id),
            &UploadTerms {
                content_type: checked.file_type.content_type(),
                size: checked.size,
                now,
                valid_for: UPLOAD_VALID_FOR,
            },
        )
        .await?;
    ports
        .table()
        .put(item.clone(), Some(Condition::item_absent()))
        .await?;
    audit_access(
        ports,
        staff,
        "patient.document_requested",
        purpose,
        &[(patient_id, &hospital_id)],
    )
    .await?;
    Ok(Uploading {
        document: view_of(ports, &item).await?,
        upload,
    })
}

/// Checks a pending document's stored bytes and settles its status (conditionally: of
/// several checkers at once, one writes). Returns the item as it now stands.
pub async fn check_upload<P: Ports>(ports: &P, item: Item) -> Result<Item, DomainError> {
    if Status::parse(item.s("status").unwrap_or_default()) != Status::Pending {
        return Ok(item);
    }
    let (Some(h), Some(p), Some(d)) = (
        item.s("hospital_id"),
        item.s("patient_id"),
        item.s("document_id"),
    ) else {
        return Err(DomainError::Unreadable);
    };
    let blob = blob_key(h, p, d);
    let now = ports.clock().now();
    let declared_size = item.i64("size").unwrap_or_default().max(0) as u64;
    let declared = item.s("content_type").and_then(FileType::from_content_type);
    let (status, rejection) = match ports.blobs().inspect(&blob).await? {
        None => {
            let expired = item
                .s("upload_expires_at")
                .and_then(Timestamp::parse_rfc3339)
                .is_some_and(|t| now.millis() >= t.millis());
            if !expired {
                return Ok(item);
            }
            (Status::Expired, None)
        }
        Some(stored) if stored.size != declared_size => (
            Status::Rejected,
            Some(format!(
                "the file is {} bytes, not the {declared_size} declared",
                stored.size
            )),
        ),
        Some(stored) if FileType::sniff(&stored.head) != declared || declared.is_none() => (
            Status::Rejected,
            Some(format!(
                "the file is not a {}",
                item.s("content_type")
                    .unwrap_or("file of the declared type")
            )),
        ),
        Some(_) => (Status::Available, None),
    };
    let mut update = Update::new()
        .set("status", Value::s(status.as_str()))
        .set("checked_at", Value::s(now.to_rfc3339()));
    if let Some(r) = &rejection {
        update = update.set("rejection", Value::s(r));
    }
    let doc_key = key(p, d);
    let pending = Condition::equals("status", Value::s(Status::Pending.as_str()));
    let mut ops = vec![TransactOp::Update {
        key: doc_key.clone(),
        update,
        condition: Some(pending),
    }];
    if status == Status::Available {
        let uploader = item.s("uploaded_by").unwrap_or_default().to_owned();
        let detail = format!(
            "{} {}",
            item.s("document_type").unwrap_or_default(),
            item.s("content_type").unwrap_or_default()
        );
        ops.push(registry::history_op(ports, p, "document.added", &uploader, Some(&detail)).await);
    }
    match ports.table().transact_write(ops).await {
        Ok(()) => {
            if status == Status::Rejected {
                // The bytes are not what was declared: nothing keeps them.
                ports.blobs().delete(&blob).await?;
            }
        }
        // Another checker settled it first; its answer stands.
        Err(haven_kernel::ports::TableError::TransactionCanceled(_))
        | Err(haven_kernel::ports::TableError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    ports
        .table()
        .get(&doc_key)
        .await?
        .ok_or_else(|| DomainError::NotFound("document".into()))
}

/// Checks the document a blob key names, after its bytes landed (the local upload route).
pub async fn uploaded<P: Ports>(ports: &P, blob: &str) -> Result<Status, DomainError> {
    let (_, patient_id, document_id) =
        parse_blob_key(blob).ok_or_else(|| DomainError::NotFound("document".into()))?;
    let item = ports
        .table()
        .get(&key(patient_id, document_id))
        .await?
        .ok_or_else(|| DomainError::NotFound("document".into()))?;
    let item = check_upload(ports, item).await?;
    Ok(Status::parse(item.s("status").unwrap_or_default()))
}

/// `GET /patients/{id}/documents`: newest first, pending ones checked on the way, each
/// available one with a short-lived download URL.
pub async fn list<P: Ports>(
    ports: &P,
    staff: &Staff,
    patient_id: &str,
    limit: u32,
    cursor: Option<Cursor>,
    purpose: Purpose,
) -> Result<DocumentPage, DomainError> {
    let opened = full_record(ports, staff, patient_id).await?;
    let page = ports
        .table()
        .query(
            Query::partition(store::key(patient_id).pk)
                .sort(SortKey::BeginsWith("DOCUMENT#".into()))
                .backward()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let mut documents = Vec::with_capacity(page.items.len());
    for item in page.items {
        let item = check_upload(ports, item).await?;
        documents.push(view_of(ports, &item).await?);
    }
    audit_access(
        ports,
        staff,
        "patient.documents_listed",
        purpose,
        &[(patient_id, opened.hospital_id())],
    )
    .await?;
    Ok(DocumentPage {
        patient_id: patient_id.to_owned(),
        documents,
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> Result<Checked, DomainError> {
        serde_json::from_value::<NewDocument>(json)
            .expect("shape")
            .check()
    }

    fn field(r: Result<Checked, DomainError>) -> Option<String> {
        r.err().and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn files_are_known_by_their_first_bytes() {
        assert_eq!(FileType::sniff(b"%PDF-1.7\n"), Some(FileType::Pdf));
        assert_eq!(
            FileType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileType::Jpeg)
        );
        assert_eq!(
            FileType::sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(FileType::Png)
        );
        assert_eq!(FileType::sniff(b"II*\0...."), Some(FileType::Tiff));
        assert_eq!(
            FileType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(FileType::Webp)
        );
        assert_eq!(FileType::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(FileType::sniff(b"<html>"), None);
        assert_eq!(FileType::sniff(b""), None);
    }

    #[test]
    fn content_types_are_read_as_people_send_them() {
        assert_eq!(
            FileType::from_content_type("Application/PDF; charset=binary"),
            Some(FileType::Pdf)
        );
        assert_eq!(
            FileType::from_content_type("image/jpg"),
            Some(FileType::Jpeg)
        );
        assert_eq!(FileType::from_content_type("text/html"), None);
    }

    #[test]
    fn a_new_document_names_the_field_it_breaks() {
        let ok = serde_json::json!({"document_type": "scan", "content_type": "application/pdf", "size": 12});
        assert!(input(ok.clone()).is_ok());
        let with = |k: &str, v: serde_json::Value| {
            let mut j = ok.clone();
            j[k] = v;
            j
        };
        assert_eq!(
            field(input(with("document_type", "selfie".into()))).as_deref(),
            Some("document_type")
        );
        assert_eq!(
            field(input(with("content_type", "text/html".into()))).as_deref(),
            Some("content_type")
        );
        assert_eq!(
            field(input(with("size", 0.into()))).as_deref(),
            Some("size")
        );
        assert_eq!(
            field(input(with("size", (MAX_BYTES + 1).into()))).as_deref(),
            Some("size")
        );
        assert!(input(with("size", MAX_BYTES.into())).is_ok());
        assert_eq!(
            field(input(with("title", "x".repeat(201).into()))).as_deref(),
            Some("title")
        );
        assert_eq!(
            field(input(with("filename", "a\u{0}b".into()))).as_deref(),
            Some("filename")
        );
        let blank = input(with("title", "   ".into())).expect("blank is absent");
        assert_eq!(blank.about.title, None);
    }

    #[test]
    fn blob_keys_are_ids_and_parse_back() {
        let k = blob_key("h1", "p2", "d3");
        assert!(haven_kernel::ports::is_valid_key(&k));
        assert_eq!(parse_blob_key(&k), Some(("h1", "p2", "d3")));
        assert_eq!(parse_blob_key("documents/h1/p2"), None);
        assert_eq!(parse_blob_key("documents/h1/p2/d3/x"), None);
        assert_eq!(parse_blob_key("other/h1/p2/d3"), None);
        assert_eq!(parse_blob_key("documents/h#/p2/d3"), None);
    }
}
