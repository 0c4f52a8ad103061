//! The `comms-status` Lambda function.
haven_platform::http_function!(haven_comms::status);
