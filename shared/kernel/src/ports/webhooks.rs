//! The Webhooks port: one HTTP POST to a hospital's endpoint, with a time limit. The domain
//! decides what a status code means (success, retry, disable); the adapter only carries it.

use std::future::Future;
use std::time::Duration;

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    /// `Retry-After`, in seconds or as an HTTP date, already turned into a wait.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the request failed: {0}")]
    Other(String),
}

impl WebhookError {
    /// A short stable code for delivery records.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::Timeout(_) => "timeout",
            WebhookError::Connect(_) => "connection_failed",
            WebhookError::Other(_) => "request_failed",
        }
    }
}

pub trait Webhooks: Send + Sync {
    fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<WebhookResponse, WebhookError>> + Send;
}
