//! The Queue port: SQS semantics. Delays double as timers (acknowledgement deadlines,
//! retries); a message received too often moves to its dead-letter queue.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// SQS's limits, which the embedded queue enforces too.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
pub const MAX_WAIT: Duration = Duration::from_secs(20);
pub const MAX_BATCH: u32 = 10;
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingMessage {
    pub body: String,
    pub delay: Duration,
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        OutgoingMessage {
            body: body.into(),
            ..Default::default()
        }
    }
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.insert(name.to_owned(), value.to_owned());
        self
    }
    pub fn validate(&self) -> Result<(), QueueError> {
        if self.delay > MAX_DELAY {
            return Err(QueueError::Invalid(format!(
                "a delay is at most {} s",
                MAX_DELAY.as_secs()
            )));
        }
        if self.body.is_empty() || self.body.len() > MAX_BODY_BYTES {
            return Err(QueueError::Invalid(
                "a message body holds 1 byte to 256 KiB".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveOptions {
    /// 1 to 10 messages.
    pub max_messages: u32,
    /// Long poll: wait up to this long for the first message (at most 20 s).
    pub wait: Duration,
    /// Overrides the queue's visibility timeout for these messages.
    pub visibility: Option<Duration>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max_messages: MAX_BATCH,
            wait: Duration::ZERO,
            visibility: None,
        }
    }
}

impl ReceiveOptions {
    pub fn validate(&self) -> Result<(), QueueError> {
        if !(1..=MAX_BATCH).contains(&self.max_messages) || self.wait > MAX_WAIT {
            return Err(QueueError::Invalid(
                "receive takes 1 to 10 messages and waits at most 20 s".into(),
            ));
        }
        if matches!(self.visibility, Some(v) if v > MAX_VISIBILITY) {
            return Err(QueueError::Invalid("visibility is at most 12 hours".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Names this delivery; needed to delete the message or change its visibility.
    pub receipt_handle: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// Approximate counts, as SQS reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueueError {
    #[error("no queue named {0}")]
    UnknownQueue(String),
    #[error("the receipt handle is not valid (the message may have been received again)")]
    InvalidReceipt,
    #[error("invalid request to the queue: {0}")]
    Invalid(String),
    #[error("the queue is unavailable: {0}")]
    Unavailable(String),
}

/// The Queue port. Queues are named by their logical name (see `catalogue`).
pub trait Queue: Send + Sync {
    fn send(
        &self,
        queue: &str,
        message: OutgoingMessage,
    ) -> impl Future<Output = Result<String, QueueError>> + Send;

    fn receive(
        &self,
        queue: &str,
        options: ReceiveOptions,
    ) -> impl Future<Output = Result<Vec<ReceivedMessage>, QueueError>> + Send;

    fn delete(
        &self,
        queue: &str,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes a received message visible again after `timeout` (zero: at once).
    fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    fn depth(&self, queue: &str) -> impl Future<Output = Result<QueueDepth, QueueError>> + Send;
}
