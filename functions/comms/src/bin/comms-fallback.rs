//! The `comms-fallback` Lambda function.
haven_platform::http_function!(haven_comms::fallback);
