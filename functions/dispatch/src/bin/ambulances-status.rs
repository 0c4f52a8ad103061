//! The `ambulances-status` Lambda function.
haven_platform::http_function!(haven_dispatch::status);
