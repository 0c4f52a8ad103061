//! The `comms-alert` Lambda function.
haven_platform::http_function!(haven_comms::send_again);
