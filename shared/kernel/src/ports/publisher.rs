//! The Publisher port: SNS topics (fan-out to subscribed queues by filter policy) and SMS.

use std::collections::BTreeMap;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    #[error("no topic named {0}")]
    UnknownTopic(String),
    #[error("invalid publish: {0}")]
    Invalid(String),
    #[error("the publisher is unavailable: {0}")]
    Unavailable(String),
}

/// One SMS is 160 GSM-7 characters; longer texts are split and cost more per message.
pub const SMS_MAX_CHARS: usize = 160;

pub trait Publisher: Send + Sync {
    /// Publishes to a topic; every subscribed queue whose filter policy matches the
    /// attributes receives the message body as sent (raw delivery). Returns the message id.
    fn publish(
        &self,
        topic: &str,
        message: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;

    /// Sends a transactional SMS to an E.164 phone number. Returns the message id.
    fn send_sms(
        &self,
        phone_number: &str,
        text: &str,
    ) -> impl Future<Output = Result<String, PublishError>> + Send;
}

/// Accepts E.164 numbers only (`+` and 8 to 15 digits), so a typo never reaches the network.
pub fn validate_phone_number(phone: &str) -> Result<(), PublishError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(())
    } else {
        Err(PublishError::Invalid(
            "a phone number must be in E.164 form, like +254712345678".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(validate_phone_number("+254712345678").is_ok());
        assert!(validate_phone_number("0712345678").is_err());
        assert!(validate_phone_number("+25471234567a").is_err());
        assert!(validate_phone_number("+0254712345678").is_err());
    }
}
