//! What the adapters keep of an SDK error: its code, for mapping to a port error, and a
//! short summary, for `Unavailable` messages and logs. Service errors are summarised by code
//! and message only, so request contents never reach an error text.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error summaries are cut to this many characters.
const MAX_SUMMARY: usize = 240;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The service's error code (`ConditionalCheckFailedException`, ...); `None` when the
    /// request never got a service answer (network, timeout, unparsable response).
    pub code: Option<String>,
    pub message: Option<String>,
    pub summary: String,
}

impl Failure {
    pub fn of<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: Debug,
    {
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        let summary = match (&code, &message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            // No service answer: the error chain names the transport problem.
            _ => DisplayErrorContext(err).to_string(),
        };
        Failure {
            code,
            message,
            summary: truncate(&summary),
        }
    }

    pub fn code_is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// The service's message (or the summary), cut short.
    pub fn message_or_summary(&self) -> String {
        self.message
            .as_deref()
            .map(truncate)
            .unwrap_or_else(|| self.summary.clone())
    }
}

pub(crate) fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_SUMMARY) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_SUMMARY + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_SUMMARY + 1);
        assert_eq!(truncate("short"), "short");
    }
}
