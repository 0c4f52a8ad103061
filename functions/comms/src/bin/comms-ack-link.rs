//! The `comms-ack-link` Lambda function.
haven_platform::http_function!(haven_comms::ack_link);
