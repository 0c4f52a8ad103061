//! The `comms-webhook-configure` Lambda function.
haven_platform::http_function!(haven_comms::webhook_configure);
