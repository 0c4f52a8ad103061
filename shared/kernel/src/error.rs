//! The errors the domain reports to its callers. `haven-edge` maps each kind once to an
//! RFC 9457 problem document with a stable `type`.

use crate::ports::{BlobError, KeyRingError, PublishError, QueueError, TableError};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule; `field` names the offending field when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (a stale version, an illegal transition).
    #[error("{message}")]
    Conflict {
        message: String,
        current: Option<String>,
    },
    #[error("authentication required")]
    Unauthenticated,
    /// A bearer token was presented and refused (RFC 6750 `invalid_token`), and why.
    #[error("{0}")]
    TokenRejected(TokenRejection),
    #[error("not allowed")]
    Forbidden,
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: u64 },
    /// The caller's version of a record is not the stored one (HTTP 412).
    #[error("{message}")]
    Stale {
        message: String,
        current: Option<String>,
    },
    /// A change to a versioned record came without the version it was based on (HTTP 428).
    #[error("the version read last is required")]
    VersionRequired,
    /// A sealed record failed its integrity check (tampered, moved, or its key refused).
    #[error("the record cannot be opened")]
    Unreadable,
    /// A dependency failed; the request may succeed if retried.
    #[error("{0}")]
    Unavailable(String),
}

/// Why a presented token was refused. The edge turns it into RFC 6750's `invalid_token` with
/// a description, so a client can tell "refresh now" from "this was never a token of ours".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Past its expiry (and the clock leeway).
    Expired,
    /// Malformed, signed by a key we do not know, of the wrong kind, or not yet valid.
    Invalid,
    /// Well signed and in date, but its session was closed: signed out, revoked, or the
    /// account removed.
    SessionEnded,
}

impl TokenRejection {
    /// One sentence for the problem document and `error_description` (no quotes or
    /// backslashes, which the header value cannot carry unescaped).
    pub fn description(self) -> &'static str {
        match self {
            TokenRejection::Expired => {
                "the token has expired; refresh it (POST /api/v1/auth/refresh) or sign in again"
            }
            TokenRejection::Invalid => {
                "the token is not valid: malformed, not issued by this Haven, or not this kind of token"
            }
            TokenRejection::SessionEnded => {
                "the session of this token has ended (signed out, revoked or the account removed); sign in again"
            }
        }
    }
}

impl std::fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        DomainError::Conflict {
            message: message.into(),
            current: None,
        }
    }
    /// The caller's version is not the stored one; `current` is named as its ETag (`"3"`).
    pub fn stale(message: impl Into<String>, current_version: i64) -> Self {
        DomainError::Stale {
            message: message.into(),
            current: Some(format!("\"{current_version}\"")),
        }
    }
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// An optional free-text field as people fill it in: trimmed, blank as absent, at most `max`
/// characters, and no control characters but line breaks and tabs (a field error otherwise).
pub fn optional_text(
    value: Option<String>,
    field: &str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    let Some(text) = value.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::invalid(field, "no control characters"));
    }
    Ok(Some(text))
}

impl From<TableError> for DomainError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::ConditionFailed | TableError::TransactionCanceled(_) => {
                DomainError::conflict("the record was changed by someone else; read it again")
            }
            TableError::InvalidCursor => DomainError::invalid("cursor", "the cursor is not valid"),
            TableError::Throttled => DomainError::Unavailable("the table is busy".into()),
            // An invalid table request is our bug, not the caller's: report it as unavailable
            // without echoing internals.
            TableError::Invalid(_) | TableError::Unavailable(_) => {
                DomainError::Unavailable("storage is unavailable".into())
            }
        }
    }
}

impl From<QueueError> for DomainError {
    fn from(_: QueueError) -> Self {
        DomainError::Unavailable("the message queue is unavailable".into())
    }
}

impl From<PublishError> for DomainError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Invalid(m) => DomainError::Invalid {
                field: None,
                message: m,
            },
            _ => DomainError::Unavailable("notifications are unavailable".into()),
        }
    }
}

impl From<BlobError> for DomainError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Exists => DomainError::conflict("the file was uploaded already"),
            BlobError::Failed(_) => DomainError::Unavailable("file storage is unavailable".into()),
        }
    }
}

impl From<KeyRingError> for DomainError {
    fn from(_: KeyRingError) -> Self {
        DomainError::Unavailable("encryption keys are unavailable".into())
    }
}

impl From<crate::envelope::EnvelopeError> for DomainError {
    /// A key ring that cannot be reached may recover; anything else about an envelope
    /// (damaged, moved, another context) is the record being unreadable.
    fn from(e: crate::envelope::EnvelopeError) -> Self {
        match e {
            crate::envelope::EnvelopeError::KeyRing(KeyRingError::Unavailable(_)) => {
                DomainError::Unavailable("encryption keys are unavailable".into())
            }
            _ => DomainError::Unreadable,
        }
    }
}
