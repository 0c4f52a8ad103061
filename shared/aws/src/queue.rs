//! The Queue port on SQS. Logical queue names resolve to URLs once per process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use haven_kernel::ports::queue::MAX_VISIBILITY;
use haven_kernel::ports::{
    OutgoingMessage, Queue, QueueDepth, QueueError, ReceiveOptions, ReceivedMessage,
};
use tokio::sync::RwLock;

use crate::error::Failure;

const NO_SUCH_QUEUE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];
const BAD_RECEIPT: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "AWS.SimpleQueueService.MessageNotInflight",
    "MessageNotInflight",
    "InvalidIdFormat",
];
const INVALID: &[&str] = &[
    "InvalidParameterValue",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidMessageContents",
    "MissingParameter",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "UnsupportedOperation",
];

/// SQS takes whole seconds. Durations round up, so a delay or visibility never ends early
/// (a timer firing slightly late is harmless; a message redelivered early is a duplicate).
pub(crate) fn whole_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// The environment variable that pins a queue's URL: `HAVEN_QUEUE_URL_HOSPITAL_API` for
/// `hospital-api` (`template.yaml` sets one per queue).
pub(crate) fn url_variable(name: &str) -> String {
    format!(
        "HAVEN_QUEUE_URL_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

fn queue_error(queue: &str, failure: &Failure) -> QueueError {
    if failure.code_is(NO_SUCH_QUEUE) {
        QueueError::UnknownQueue(queue.to_owned())
    } else if failure.code_is(BAD_RECEIPT) {
        QueueError::InvalidReceipt
    } else if failure.code_is(INVALID) {
        QueueError::Invalid(failure.message_or_summary())
    } else {
        tracing::warn!(queue, error = %failure.summary, "SQS request failed");
        QueueError::Unavailable(failure.summary.clone())
    }
}

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    prefix: String,
    urls: Arc<RwLock<HashMap<String, String>>>,
}

impl std::fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsQueue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SqsQueue {
    pub fn new(client: Client, resource_prefix: impl Into<String>) -> Self {
        SqsQueue {
            client,
            prefix: resource_prefix.into(),
            urls: Arc::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The URL of a logical queue: `HAVEN_QUEUE_URL_<NAME>` if set, else GetQueueUrl of
    /// the prefixed name. Cached; a queue that turns out missing is forgotten again.
    pub async fn url(&self, queue: &str) -> Result<String, QueueError> {
        if let Some(url) = self.urls.read().await.get(queue) {
            return Ok(url.clone());
        }
        let url = match std::env::var(url_variable(queue)) {
            Ok(url) if !url.is_empty() => url,
            _ => self
                .client
                .get_queue_url()
                .queue_name(format!("{}{queue}", self.prefix))
                .send()
                .await
                .map_err(|e| queue_error(queue, &Failure::of(&e)))?
                .queue_url
                .ok_or_else(|| QueueError::Unavailable("GetQueueUrl returned no URL".into()))?,
        };
        self.urls
            .write()
            .await
            .insert(queue.to_owned(), url.clone());
        Ok(url)
    }

    /// Maps a failure; a missing queue also leaves the cache, in case it was deleted.
    async fn failed(&self, queue: &str, failure: Failure) -> QueueError {
        let error = queue_error(queue, &failure);
        if matches!(error, QueueError::UnknownQueue(_)) {
            self.urls.write().await.remove(queue);
        }
        error
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Invalid(format!("message attribute: {e}")))
}

fn received(message: aws_sdk_sqs::types::Message) -> ReceivedMessage {
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    // Haven sends string attributes only; SNS's String.Array arrives as its JSON text.
    let attributes: BTreeMap<String, String> = message
        .message_attributes()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_owned())))
        .collect();
    ReceivedMessage {
        message_id: message.message_id.unwrap_or_default(),
        receipt_handle: message.receipt_handle.unwrap_or_default(),
        body: message.body.unwrap_or_default(),
        attributes,
        receive_count,
    }
}

impl Queue for SqsQueue {
    async fn send(&self, queue: &str, message: OutgoingMessage) -> Result<String, QueueError> {
        message.validate()?;
        let url = self.url(queue).await?;
        let mut request = self
            .client
            .send_message()
            .queue_url(url)
            .delay_seconds(whole_seconds(message.delay));
        for (name, value) in &message.attributes {
            request = request.message_attributes(name, string_attribute(value)?);
        }
        match request.message_body(message.body).send().await {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => Err(self.failed(queue, Failure::of(&e)).await),
        }
    }

    async fn receive(
        &self,
        queue: &str,
        options: ReceiveOptions,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        options.validate()?;
        let url = self.url(queue).await?;
        let result = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(options.max_messages).unwrap_or(10))
            .wait_time_seconds(whole_seconds(options.wait))
            .set_visibility_timeout(options.visibility.map(whole_seconds))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await;
        match result {
            Ok(out) => Ok(out
                .messages
                .unwrap_or_default()
                .into_iter()
                .map(received)
                .collect()),
            Err(e) => Err(self.failed(queue, Failure::of(&e)).await),
        }
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        if receipt_handle.is_empty() {
            return Err(QueueError::InvalidReceipt);
        }
        let url = self.url(queue).await?;
        match self
            .client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed(queue, Failure::of(&e)).await),
        }
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        if timeout > MAX_VISIBILITY {
            return Err(QueueError::Invalid("visibility is at most 12 hours".into()));
        }
        if receipt_handle.is_empty() {
            return Err(QueueError::InvalidReceipt);
        }
        let url = self.url(queue).await?;
        match self
            .client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(whole_seconds(timeout))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed(queue, Failure::of(&e)).await),
        }
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth, QueueError> {
        let url = self.url(queue).await?;
        let result = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => return Err(self.failed(queue, Failure::of(&e)).await),
        };
        let count = |name: QueueAttributeName| -> u64 {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(900)), 900);
    }

    #[test]
    fn url_variables_are_upper_snake_case() {
        assert_eq!(url_variable("hospital-api"), "HAVEN_QUEUE_URL_HOSPITAL_API");
        assert_eq!(url_variable("sms"), "HAVEN_QUEUE_URL_SMS");
    }

    #[test]
    fn both_spellings_of_sqs_codes_map() {
        let f = |code: &str| Failure {
            code: Some(code.to_owned()),
            message: Some("m".to_owned()),
            summary: code.to_owned(),
        };
        for code in NO_SUCH_QUEUE {
            assert_eq!(
                queue_error("q", &f(code)),
                QueueError::UnknownQueue("q".into())
            );
        }
        for code in BAD_RECEIPT {
            assert_eq!(queue_error("q", &f(code)), QueueError::InvalidReceipt);
        }
        assert_eq!(
            queue_error("q", &f("InvalidParameterValue")),
            QueueError::Invalid("m".into())
        );
        assert!(matches!(
            queue_error("q", &f("RequestThrottled")),
            QueueError::Unavailable(_)
        ));
    }
}
