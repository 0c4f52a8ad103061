//! The `comms-webhook-rotate` Lambda function.
haven_platform::http_function!(haven_comms::webhook_rotate);
