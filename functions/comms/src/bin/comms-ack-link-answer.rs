//! The `comms-ack-link-answer` Lambda function.
haven_platform::http_function!(haven_comms::ack_link_answer);
