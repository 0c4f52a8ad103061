//! The `comms-ack` Lambda function.
haven_platform::http_function!(haven_comms::ack);
