//! The `health` Lambda function.
haven_platform::http_function!(haven_ops::health);
