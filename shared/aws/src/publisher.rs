//! The Publisher port on SNS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use haven_kernel::ports::publisher::validate_phone_number;
use haven_kernel::ports::{PublishError, Publisher};
use tokio::sync::RwLock;

use crate::error::Failure;

const NO_SUCH_TOPIC: &[&str] = &["NotFound", "NotFoundException"];
const INVALID: &[&str] = &[
    "InvalidParameter",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
];

/// The environment variable that pins a topic's ARN: `HAVEN_TOPIC_ARN_ALERTS` for `alerts`.
pub(crate) fn arn_variable(name: &str) -> String {
    format!(
        "HAVEN_TOPIC_ARN_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// The SNS data type of an attribute: `String.Array` when the text is a JSON array, so
/// filter policies match its elements (`{"channels":["sms"]}` matches `["webhook","sms"]`).
pub(crate) fn data_type(value: &str) -> &'static str {
    let looks_like_array = value.trim_start().starts_with('[');
    if looks_like_array && matches!(serde_json::from_str(value), Ok(serde_json::Value::Array(_))) {
        "String.Array"
    } else {
        "String"
    }
}

fn publish_error(topic: &str, failure: &Failure) -> PublishError {
    if failure.code_is(NO_SUCH_TOPIC) {
        PublishError::UnknownTopic(topic.to_owned())
    } else if failure.code_is(INVALID) {
        PublishError::Invalid(failure.message_or_summary())
    } else {
        tracing::warn!(topic, error = %failure.summary, "SNS request failed");
        PublishError::Unavailable(failure.summary.clone())
    }
}

fn attribute(data_type: &str, value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|e| PublishError::Invalid(format!("message attribute: {e}")))
}

#[derive(Clone)]
pub struct SnsPublisher {
    client: Client,
    prefix: String,
    arns: Arc<RwLock<HashMap<String, String>>>,
}

impl std::fmt::Debug for SnsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsPublisher")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SnsPublisher {
    pub fn new(client: Client, resource_prefix: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            prefix: resource_prefix.into(),
            arns: Arc::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The ARN of a logical topic: `HAVEN_TOPIC_ARN_<NAME>` if set, else the topic named
    /// prefix + name among ListTopics. Looked up rather than created (CreateTopic would be
    /// idempotent, but would turn a misspelt name into a silent drop). Cached once found.
    pub async fn topic_arn(&self, topic: &str) -> Result<String, PublishError> {
        if let Some(arn) = self.arns.read().await.get(topic) {
            return Ok(arn.clone());
        }
        let arn = match std::env::var(arn_variable(topic)) {
            Ok(arn) if !arn.is_empty() => arn,
            _ => self.find_topic(topic).await?,
        };
        self.arns
            .write()
            .await
            .insert(topic.to_owned(), arn.clone());
        Ok(arn)
    }

    async fn find_topic(&self, topic: &str) -> Result<String, PublishError> {
        let suffix = format!(":{}{topic}", self.prefix);
        let mut next_token = None;
        loop {
            let page = self
                .client
                .list_topics()
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| publish_error(topic, &Failure::of(&e)))?;
            let found = page
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .find(|arn| arn.ends_with(&suffix));
            if let Some(arn) = found {
                return Ok(arn.to_owned());
            }
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Err(PublishError::UnknownTopic(topic.to_owned())),
            }
        }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(
        &self,
        topic: &str,
        message: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PublishError> {
        let arn = self.topic_arn(topic).await?;
        let mut request = self.client.publish().topic_arn(arn).message(message);
        for (name, value) in attributes {
            request = request.message_attributes(name, attribute(data_type(value), value)?);
        }
        match request.send().await {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => {
                let error = publish_error(topic, &Failure::of(&e));
                if matches!(error, PublishError::UnknownTopic(_)) {
                    self.arns.write().await.remove(topic);
                }
                Err(error)
            }
        }
    }

    async fn send_sms(&self, phone_number: &str, text: &str) -> Result<String, PublishError> {
        validate_phone_number(phone_number)?;
        if text.is_empty() {
            return Err(PublishError::Invalid("an SMS needs a text".into()));
        }
        self.client
            .publish()
            .phone_number(phone_number)
            .message(text)
            // Alerts are time-critical: transactional routing, never promotional.
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("String", "Transactional")?)
            .send()
            .await
            .map(|out| out.message_id.unwrap_or_default())
            // The number is personal data: errors name the operation, not the recipient.
            .map_err(|e| publish_error("sms", &Failure::of(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_are_string_arrays() {
        assert_eq!(data_type(r#"["webhook","sms"]"#), "String.Array");
        assert_eq!(data_type(r#" ["sms"]"#), "String.Array");
        assert_eq!(data_type("critical"), "String");
        assert_eq!(data_type("[not json"), "String");
        assert_eq!(data_type(r#"{"a":1}"#), "String");
    }

    #[test]
    fn arn_variables_are_upper_snake_case() {
        assert_eq!(arn_variable("alerts"), "HAVEN_TOPIC_ARN_ALERTS");
        assert_eq!(
            arn_variable("status-changes"),
            "HAVEN_TOPIC_ARN_STATUS_CHANGES"
        );
    }

    #[test]
    fn codes_map_to_publish_errors() {
        let f = |code: &str| Failure {
            code: Some(code.to_owned()),
            message: Some("m".to_owned()),
            summary: code.to_owned(),
        };
        assert_eq!(
            publish_error("t", &f("NotFound")),
            PublishError::UnknownTopic("t".into())
        );
        assert_eq!(
            publish_error("t", &f("InvalidParameter")),
            PublishError::Invalid("m".into())
        );
        assert!(matches!(
            publish_error("t", &f("Throttled")),
            PublishError::Unavailable(_)
        ));
    }
}
